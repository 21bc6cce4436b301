//! `hoist registry serve` with real clients: the Docker Engine pushes to and pulls from it, with and without
//! htpasswd auth (`docker login`), skopeo copies to and from it, and `docker search` finds repositories.
//! Servers listen on 127.0.0.1 and are stopped by pid; the Docker CLI uses a private DOCKER_CONFIG.

mod common;

use std::process::{Command, Stdio};

use common::hoist;
use hoist_test_support::cli::{TestHoist, path_str};
use hoist_test_support::fixtures::{ImageFixture, busybox_layer, docker_archive};
use hoist_test_support::peers::{docker_available, docker_in, run, skip, skopeo_available};
use hoist_test_support::registry::{Served, serve_hoist};

fn serve(h: &TestHoist, env: &[(&str, String)]) -> Served {
    serve_hoist(h, "registry-data", env)
}

fn must(r: (i32, String, String), what: &str) -> String {
    assert_eq!(r.0, 0, "{what} failed: {}{}", r.1, r.2);
    r.1
}

fn busybox(tag: &str) -> Option<ImageFixture> {
    let mut img = ImageFixture::new(vec![busybox_layer()?]).tag(tag);
    img.cmd = vec![
        "/bin/sh".into(),
        "-c".into(),
        "echo pushed and pulled".into(),
    ];
    Some(img)
}

#[test]
fn docker_pushes_and_pulls_with_and_without_login() {
    if !docker_available() {
        return skip(
            "docker_pushes_and_pulls_with_and_without_login",
            "no Docker Engine (run scripts/peers.sh start)",
        );
    }
    let local = format!("hoist-registry-interop:{}", std::process::id());
    let Some(img) = busybox(&local) else {
        return skip(
            "docker_pushes_and_pulls_with_and_without_login",
            "busybox-static not installed",
        );
    };
    let h = hoist();
    let dcfg = h.path("docker-config");
    std::fs::create_dir_all(&dcfg).unwrap();
    let archive = h.write("busy.tar", &docker_archive(std::slice::from_ref(&img)));
    must(
        docker_in(&dcfg, &["load", "-i", path_str(&archive)]),
        "docker load",
    );

    // Without auth.
    let reg = serve(&h, &[]);
    let remote = format!("{}/interop/busy:1", reg.addr);
    must(docker_in(&dcfg, &["tag", &local, &remote]), "docker tag");
    let pushed = must(docker_in(&dcfg, &["push", &remote]), "docker push");
    assert!(pushed.contains("1: digest: sha256:"), "{pushed}");
    must(docker_in(&dcfg, &["rmi", &remote]), "docker rmi");
    must(docker_in(&dcfg, &["pull", &remote]), "docker pull");
    let out = must(
        docker_in(&dcfg, &["run", "--rm", "--network", "none", &remote]),
        "docker run",
    );
    assert_eq!(out, "pushed and pulled\n");
    // docker search finds it through the v1 search endpoint.
    let found = must(
        docker_in(&dcfg, &["search", &format!("{}/interop", reg.addr)]),
        "docker search",
    );
    assert!(found.contains("interop/busy"), "{found}");
    let _ = docker_in(&dcfg, &["rmi", &remote]);
    drop(reg);

    // With htpasswd auth, configured through REGISTRY_AUTH_* as the seed documents do.
    let htpasswd = h.path("htpasswd");
    let (status, line, err) = run("htpasswd", &["-nbB", "alice", "wonderland"]);
    assert_eq!(status, 0, "{err}");
    std::fs::write(&htpasswd, line.trim().to_owned() + "\n").unwrap();
    let reg = serve(
        &h,
        &[
            ("REGISTRY_AUTH", "htpasswd".to_owned()),
            ("REGISTRY_AUTH_HTPASSWD_REALM", "Registry Realm".to_owned()),
            (
                "REGISTRY_AUTH_HTPASSWD_PATH",
                htpasswd.display().to_string(),
            ),
        ],
    );
    let remote = format!("{}/private/busy:1", reg.addr);
    must(docker_in(&dcfg, &["tag", &local, &remote]), "docker tag");
    let denied = docker_in(&dcfg, &["push", &remote]);
    assert_ne!(denied.0, 0, "push without login must fail");
    let mut login = Command::new("docker")
        .args(["login", &reg.addr, "-u", "alice", "--password-stdin"])
        .env("DOCKER_CONFIG", &dcfg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    login
        .stdin
        .take()
        .unwrap()
        .write_all(b"wonderland\n")
        .unwrap();
    let out = login.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Login Succeeded"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    must(
        docker_in(&dcfg, &["push", &remote]),
        "docker push with login",
    );
    must(docker_in(&dcfg, &["rmi", &remote]), "docker rmi");
    must(
        docker_in(&dcfg, &["pull", &remote]),
        "docker pull with login",
    );
    let _ = docker_in(&dcfg, &["rmi", &remote, &local]);
    let _ = docker_in(&dcfg, &["logout", &reg.addr]);
}

#[test]
fn skopeo_copies_to_and_from_the_registry() {
    if !skopeo_available() {
        return skip(
            "skopeo_copies_to_and_from_the_registry",
            "skopeo not installed",
        );
    }
    let Some(img) = busybox("skopeo/busy:1") else {
        return skip(
            "skopeo_copies_to_and_from_the_registry",
            "busybox-static not installed",
        );
    };
    let h = hoist();
    let reg = serve(&h, &[]);
    let archive = h.write("busy.tar", &docker_archive(std::slice::from_ref(&img)));
    let dest = format!("docker://{}/skopeo/busy:1", reg.addr);
    let (status, _, err) = run(
        "skopeo",
        &[
            "copy",
            "-q",
            "--dest-tls-verify=false",
            &format!("docker-archive:{}", archive.display()),
            &dest,
        ],
    );
    assert_eq!(status, 0, "skopeo copy to the registry: {err}");
    let (status, out, err) = run(
        "skopeo",
        &["inspect", "--tls-verify=false", "--config", &dest],
    );
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("\"architecture\""), "{out}");
    let back = h.path("back");
    let (status, _, err) = run(
        "skopeo",
        &[
            "copy",
            "-q",
            "--src-tls-verify=false",
            &dest,
            &format!("oci:{}:1", back.display()),
        ],
    );
    assert_eq!(status, 0, "skopeo copy from the registry: {err}");
    let (status, out, err) = run(
        "skopeo",
        &[
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{}/skopeo/busy", reg.addr),
        ],
    );
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("\"1\""), "{out}");
}
