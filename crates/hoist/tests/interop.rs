//! Interop with the real peers from Debian: images hoist saves load and run in the Docker Engine; archives
//! made by `docker save` and by skopeo (`docker-archive:`, `oci:`, `oci-archive:`) load into hoist with the
//! image IDs Docker reports. A test is skipped, with the reason printed, only when its peer cannot run.

mod common;

use common::hoist;
use hoist_test_support::cli::path_str;
use hoist_test_support::fixtures::{ImageFixture, busybox_layer, docker_archive};
use hoist_test_support::peers::{docker_available, run, skip, skopeo_available};

/// A busybox image made in code with a unique tag per test (tests share one Docker Engine).
fn busybox_image(tag: &str) -> Option<ImageFixture> {
    let mut img = ImageFixture::new(vec![busybox_layer()?]).tag(tag);
    img.cmd = vec![
        "/bin/sh".into(),
        "-c".into(),
        "echo hello from hoist; cat /etc/hello".into(),
    ];
    Some(img)
}

fn docker(args: &[&str]) -> String {
    let (status, out, err) = run("docker", args);
    assert_eq!(status, 0, "docker {args:?} failed: {err}");
    out
}

#[test]
fn image_saved_by_hoist_loads_and_runs_in_docker() {
    if !docker_available() {
        return skip(
            "image_saved_by_hoist_loads_and_runs_in_docker",
            "no Docker Engine (run scripts/peers.sh start)",
        );
    }
    let tag = format!("hoist-interop-save:{}", std::process::id());
    let Some(img) = busybox_image(&tag) else {
        return skip(
            "image_saved_by_hoist_loads_and_runs_in_docker",
            "busybox-static not installed",
        );
    };
    let h = hoist();
    h.load(&docker_archive(std::slice::from_ref(&img)));
    // Tag a second name to check that shared layers and several names survive.
    let tag2 = format!("{tag}-b");
    h.ok(&["tag", &tag, &tag2]);
    let archive = h.path("to-docker.tar");
    h.ok(&["save", "-o", path_str(&archive), &tag, &tag2]);
    let out = docker(&["load", "-i", path_str(&archive)]);
    assert!(out.contains(&format!("Loaded image: {tag}")), "{out}");
    let id = docker(&["image", "inspect", "-f", "{{.Id}}", &tag]);
    assert_eq!(id.trim(), img.id().to_string());
    let ran = docker(&["run", "--rm", "--network", "none", &tag]);
    assert_eq!(ran, "hello from hoist\nhello from a layer made in code\n");
    // Docker's own view of the image matches hoist's.
    let theirs = docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Size}} {{.Config.Cmd}} {{.RootFS.Layers}} {{.Created}}",
        &tag,
    ]);
    let ours = h.ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Size}} {{.Config.Cmd}} {{.RootFS.Layers}} {{.Created}}",
        &tag,
    ]);
    assert_eq!(ours, theirs);
    let _ = run("docker", &["rmi", &tag, &tag2]);
}

#[test]
fn docker_save_loads_into_hoist_with_dockers_ids() {
    if !docker_available() {
        return skip(
            "docker_save_loads_into_hoist_with_dockers_ids",
            "no Docker Engine (run scripts/peers.sh start)",
        );
    }
    let tag = format!("hoist-interop-docker-save:{}", std::process::id());
    let Some(img) = busybox_image(&tag) else {
        return skip(
            "docker_save_loads_into_hoist_with_dockers_ids",
            "busybox-static not installed",
        );
    };
    let h = hoist();
    // Get the image into Docker by a route that does not involve hoist: docker import of the rootfs.
    let rootfs = h.write("rootfs.tar", &img.layers[0]);
    docker(&[
        "import",
        "-c",
        "CMD [\"/bin/sh\"]",
        "-c",
        "LABEL made=docker",
        path_str(&rootfs),
        &tag,
    ]);
    let docker_id = docker(&["image", "inspect", "-f", "{{.Id}}", &tag])
        .trim()
        .to_owned();
    let archive = h.path("from-docker.tar");
    docker(&["save", "-o", path_str(&archive), &tag]);
    let out = h.ok(&["load", "-i", path_str(&archive)]);
    assert_eq!(out, format!("Loaded image: {tag}\n"));
    assert_eq!(h.ok(&["inspect", "-f", "{{.Id}}", &tag]).trim(), docker_id);
    let fields = "{{.Size}} {{.Config.Labels}} {{.Comment}} {{.RootFS.Layers}} {{.Created}} {{.Architecture}}";
    assert_eq!(
        h.ok(&["inspect", "-f", fields, &tag]),
        docker(&["image", "inspect", "-f", fields, &tag])
    );
    // The listing agrees too (size column and ID).
    let fmt = "{{.Repository}} {{.Tag}} {{.ID}} {{.Size}}";
    assert_eq!(
        h.ok(&["images", "--format", fmt, &tag]),
        docker(&["images", "--format", fmt, &tag])
    );
    // Docker's `save | gzip` as the seeds do it.
    let gz = h.path("from-docker.tar.gz");
    let (status, _, err) = run(
        "sh",
        &[
            "-c",
            &format!("docker save {tag} | gzip > {}", gz.display()),
        ],
    );
    assert_eq!(status, 0, "{err}");
    let h2 = hoist();
    let r = h2.run_stdin(&["load"], &std::fs::read(&gz).unwrap());
    assert_eq!(r.stdout, format!("Loaded image: {tag}\n"), "{}", r.stderr);
    let _ = run("docker", &["rmi", &tag]);
}

#[test]
fn skopeo_archives_load_with_the_same_id() {
    if !skopeo_available() {
        return skip(
            "skopeo_archives_load_with_the_same_id",
            "skopeo not installed (run scripts/peers.sh install)",
        );
    }
    let tag = "skopeo/test:1";
    let Some(img) = busybox_image(tag) else {
        return skip(
            "skopeo_archives_load_with_the_same_id",
            "busybox-static not installed",
        );
    };
    let h = hoist();
    let src = h.write("src.tar", &docker_archive(std::slice::from_ref(&img)));
    let dir = h.path("oci-dir");
    let oci_tar = h.path("oci-dir.tar");
    let oci_archive = h.path("skopeo.oci.tar");
    let docker_arch = h.path("skopeo.docker.tar");
    let copies = [
        format!("oci:{}:{}", dir.display(), "1"),
        format!(
            "oci-archive:{}:docker.io/skopeo/test:1",
            oci_archive.display()
        ),
        format!("docker-archive:{}:skopeo/test:1", docker_arch.display()),
    ];
    for dest in &copies {
        let (status, _, err) = run(
            "skopeo",
            &[
                "copy",
                "-q",
                &format!("docker-archive:{}", src.display()),
                dest,
            ],
        );
        assert_eq!(status, 0, "skopeo copy to {dest}: {err}");
    }
    let (status, _, err) = run(
        "tar",
        &["-C", path_str(&dir), "-cf", path_str(&oci_tar), "."],
    );
    assert_eq!(status, 0, "{err}");
    // skopeo rewrites the config when it converts to OCI, so the expected ID is the config digest that
    // skopeo's own manifest names for each copy.
    let config_digest = |transport: &str| -> String {
        let (status, out, err) = run("skopeo", &["inspect", "--raw", transport]);
        assert_eq!(status, 0, "skopeo inspect {transport}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["config"]["digest"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    for ((name, path, expect_tag), dest) in [
        ("oci: dir", &oci_tar, false),
        ("oci-archive:", &oci_archive, true),
        ("docker-archive:", &docker_arch, true),
    ]
    .into_iter()
    .zip(&copies)
    {
        let expected_id = config_digest(dest);
        let target = hoist();
        let out = target.ok(&["load", "-i", path_str(path)]);
        if expect_tag {
            assert_eq!(out, "Loaded image: skopeo/test:1\n", "{name}");
        } else {
            assert_eq!(out, format!("Loaded image ID: {expected_id}\n"), "{name}");
        }
        assert_eq!(
            target.ok(&["images", "-q", "--no-trunc"]),
            format!("{expected_id}\n"),
            "{name}"
        );
        target.ok(&["system", "check"]);
    }
    assert_eq!(
        config_digest(&copies[2]),
        img.id().to_string(),
        "docker-archive keeps Docker's ID"
    );
    // And the other way: skopeo reads what hoist saves, as a docker-archive and as an OCI layout.
    h.load(&docker_archive(std::slice::from_ref(&img)));
    let saved = h.path("hoist-saved.tar");
    h.ok(&["save", "-o", path_str(&saved), tag]);
    let (status, out, err) = run(
        "skopeo",
        &[
            "inspect",
            "--config",
            &format!("docker-archive:{}", saved.display()),
        ],
    );
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("\"architecture\""), "{out}");
    let (status, _, err) = run(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("docker-archive:{}", saved.display()),
            &format!("oci:{}:again", h.path("again").display()),
        ],
    );
    assert_eq!(status, 0, "{err}");
}
