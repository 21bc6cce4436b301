//! `hoist pull`, `hoist push` and `hoist manifest inspect` end to end: Docker's output against
//! `hoist registry serve` and distribution 2.8, interop with the Docker Engine, htpasswd logins from
//! config.json, TLS trusted through certs.d, mirrors with fallback, and recovery from stalled, cut and
//! rate-limited connections (through the fault proxy of hoist-test-support), plus multi-platform lists.
//! Servers listen on 127.0.0.1 and are stopped by pid; DOCKER_CONFIG and certs.d are temp dirs.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use hoist_layer::builder::LayerBuilder;
use hoist_spec::Digest;
use hoist_test_support::cli::{Run, TestHoist, path_str};
use hoist_test_support::faults::{CannedResponse, Direction, FaultProxy, SeenRequest};
use hoist_test_support::fixtures::{ImageFixture, busybox_layer, docker_archive, layer};
use hoist_test_support::peers::{docker_available, docker_in, run, skip};
use hoist_test_support::registry::{
    Served, distribution_available, free_port, serve_distribution, serve_hoist,
};
use serde_json::{Value, json};

const MIB: u64 = 1024 * 1024;

/// A hoist root with its own (empty) Docker config and certs.d directories.
fn fresh() -> TestHoist {
    let h = common::hoist();
    for dir in ["docker-config", "certs.d"] {
        std::fs::create_dir_all(h.path(dir)).unwrap();
    }
    h
}

/// `hoist` with the test environment, a private DOCKER_CONFIG and certs.d, and no proxy variables.
fn command(h: &TestHoist) -> Command {
    let mut c = h.command();
    c.env("DOCKER_CONFIG", h.path("docker-config"))
        .env("HOIST_CERTS_D", h.path("certs.d"));
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
    ] {
        c.env_remove(var);
    }
    c
}

fn exec(h: &TestHoist, args: &[&str]) -> Run {
    match command(h).args(args).output() {
        Ok(o) => o.into(),
        Err(e) => panic!("running hoist {args:?}: {e}"),
    }
}

fn exec_ok(h: &TestHoist, args: &[&str]) -> String {
    let r = exec(h, args);
    assert_eq!(
        r.status, 0,
        "hoist {args:?} failed:\nstdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    r.stdout
}

fn exec_fails(h: &TestHoist, args: &[&str]) -> Run {
    let r = exec(h, args);
    assert_ne!(
        r.status, 0,
        "hoist {args:?} should fail:\nstdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    r
}

/// A background hoist, killed (by pid) if the test ends before it does.
struct Background(Child);

impl Background {
    /// SIGKILL, as an interrupted transfer.
    fn kill(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts hoist in the background with its output in files under the test dir.
fn spawn(h: &TestHoist, args: &[&str], log: &str) -> Background {
    let out = std::fs::File::create(h.path(&format!("{log}.out"))).unwrap();
    let err = std::fs::File::create(h.path(&format!("{log}.err"))).unwrap();
    Background(
        command(h)
            .args(args)
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting hoist {args:?}: {e}")),
    )
}

fn image_id(h: &TestHoist, name: &str) -> String {
    exec_ok(h, &["inspect", "--format", "{{.Id}}", name])
        .trim()
        .to_owned()
}

fn serve(h: &TestHoist, env: &[(&str, String)]) -> Served {
    serve_hoist(h, "registry-data", env)
}

/// A layer holding `size` bytes of incompressible noise.
fn random_layer(size: u64, seed: u64) -> Vec<u8> {
    LayerBuilder::new()
        .dir("data", 0o755)
        .random_file("data/blob", size, seed, 0o644)
        .build()
}

fn has_line(out: &str, line: &str) -> bool {
    out.lines().any(|l| l == line)
}

fn assert_line(out: &str, line: &str) {
    assert!(has_line(out, line), "no line {line:?} in:\n{out}");
}

/// Differences from Docker's wording, collected so that one run lists all of them.
#[derive(Debug, Default)]
struct Deviations(Vec<String>);

impl Deviations {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    fn finish(self) {
        assert!(
            self.0.is_empty(),
            "{} difference(s) from Docker:\n\n{}",
            self.0.len(),
            self.0.join("\n\n")
        );
    }
}

/// `<tag>: digest: sha256:… size: N` from push output.
fn pushed_digest(out: &str, tag: &str) -> (Digest, u64) {
    let prefix = format!("{tag}: digest: ");
    let line = out
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{out}"));
    let (digest, size) = line[prefix.len()..]
        .split_once(" size: ")
        .unwrap_or_else(|| panic!("bad digest line {line:?}"));
    (
        digest
            .parse()
            .unwrap_or_else(|e| panic!("bad digest in {line:?}: {e}")),
        size.parse()
            .unwrap_or_else(|e| panic!("bad size in {line:?}: {e}")),
    )
}

// ---------------------------------------------------------------------------------------------------
// Plain HTTP to a registry, to check what it holds independently of hoist.

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = std::str::from_utf8(&body[..eol]).unwrap_or("0");
        let size =
            usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
}

fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut conn = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut all = Vec::new();
    conn.read_to_end(&mut all).unwrap();
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head from {addr}"));
    let text = String::from_utf8_lossy(&all[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut reply = Reply {
        status,
        headers,
        body: all[end + 4..].to_vec(),
    };
    if reply
        .header("transfer-encoding")
        .is_some_and(|te| te.contains("chunked"))
    {
        reply.body = dechunk(&reply.body);
    }
    reply
}

const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json";

/// The manifest a registry holds for `path:reference`, straight from its API.
fn registry_manifest(addr: &str, repository: &str, reference: &str) -> Reply {
    http(
        addr,
        "GET",
        &format!("/v2/{repository}/manifests/{reference}"),
        &[("Accept", MANIFEST_ACCEPT)],
        &[],
    )
}

/// The short IDs pull shows: the manifest's layer blob digests.
fn layer_blob_ids(addr: &str, repository: &str, reference: &str) -> Vec<String> {
    let manifest = registry_manifest(addr, repository, reference);
    assert_eq!(manifest.status, 200, "{manifest:?}");
    manifest.json()["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap()[7..19].to_owned())
        .collect()
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------
// 1, 2: the round trip against hoist's registry and distribution's.

/// Two images in one repository sharing a base layer.
fn two_tags(reg: &str) -> (ImageFixture, ImageFixture) {
    let base =
        layer("d etc 755\nf etc/os-release 644 ID=transfer\nd bin 755\nf bin/tool 755 #!/bin/sh");
    let one = ImageFixture::new(vec![
        base.clone(),
        layer("d app 755\nf app/version 644 one"),
    ])
    .tag(&format!("{reg}/app:1.0"))
    .created("2024-04-01T10:00:00Z");
    let two = ImageFixture::new(vec![base, layer("d app 755\nf app/version 644 two")])
        .tag(&format!("{reg}/app:2.0"))
        .created("2024-04-02T10:00:00Z");
    (one, two)
}

fn round_trip(reg: &str) {
    let (one, two) = two_tags(reg);
    let pusher = fresh();
    pusher.load(&docker_archive(&[one.clone(), two.clone()]));
    let name = format!("{reg}/app:1.0");
    let diff_ids: Vec<String> = one
        .diff_ids()
        .iter()
        .map(|d| d.short().to_owned())
        .collect();

    // First push: every layer goes up.
    let out = exec_ok(&pusher, &["push", &name]);
    assert_eq!(
        out.lines().next(),
        Some(format!("The push refers to repository [{reg}/app]").as_str()),
        "{out}"
    );
    for id in &diff_ids {
        assert_line(&out, &format!("{id}: Preparing"));
        assert_line(&out, &format!("{id}: Pushed"));
    }
    let (digest, size) = pushed_digest(&out, "1.0");
    assert_eq!(
        out.lines().last(),
        Some(format!("1.0: digest: {digest} size: {size}").as_str())
    );
    // The registry holds exactly that manifest under the tag.
    let held = registry_manifest(reg, "app", "1.0");
    assert_eq!(held.status, 200, "{held:?}");
    assert_eq!(Digest::of(&held.body), digest);
    assert_eq!(held.body.len() as u64, size);

    // Second push: nothing to send.
    let again = exec_ok(&pusher, &["push", &name]);
    for id in &diff_ids {
        assert_line(&again, &format!("{id}: Layer already exists"));
    }
    assert_line(&again, &format!("1.0: digest: {digest} size: {size}"));

    // Pull into a fresh root.
    let puller = fresh();
    let pulled = exec_ok(&puller, &["pull", &name]);
    assert_eq!(
        pulled.lines().next(),
        Some("1.0: Pulling from app"),
        "{pulled}"
    );
    for id in layer_blob_ids(reg, "app", "1.0") {
        assert_line(&pulled, &format!("{id}: Pulling fs layer"));
        assert_line(&pulled, &format!("{id}: Download complete"));
        assert_line(&pulled, &format!("{id}: Pull complete"));
    }
    assert_line(&pulled, &format!("Digest: {digest}"));
    assert_line(
        &pulled,
        &format!("Status: Downloaded newer image for {name}"),
    );
    assert_eq!(pulled.lines().last(), Some(name.as_str()));
    assert_eq!(image_id(&puller, &name), one.id().to_string());
    let images = exec_ok(&puller, &["images", "--digests"]);
    assert!(
        images.lines().any(|l| l.starts_with(&format!("{reg}/app "))
            && l.contains(" 1.0 ")
            && l.contains(&digest.to_string())),
        "{images}"
    );
    let up_to_date = exec_ok(&puller, &["pull", &name]);
    assert_line(
        &up_to_date,
        &format!("Status: Image is up to date for {name}"),
    );
    assert_eq!(up_to_date.lines().last(), Some(name.as_str()));

    // The same image in another repository of the registry: its layers are mounted.
    let mounted = format!("{reg}/mounted:1.0");
    exec_ok(&pusher, &["tag", &name, &mounted]);
    let out = exec_ok(&pusher, &["push", &mounted]);
    for id in &diff_ids {
        assert_line(&out, &format!("{id}: Mounted from app"));
    }
    assert_line(&out, &format!("1.0: digest: {digest} size: {size}"));

    // Several names in one call.
    let other = format!("{reg}/other:2.0");
    exec_ok(&pusher, &["tag", &format!("{reg}/app:2.0"), &other]);
    let out = exec_ok(&pusher, &["push", &format!("{reg}/app:2.0"), &other]);
    assert_line(&out, &format!("The push refers to repository [{reg}/app]"));
    assert_line(
        &out,
        &format!("The push refers to repository [{reg}/other]"),
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("2.0: digest: "))
            .count(),
        2,
        "{out}"
    );
    assert_eq!(registry_manifest(reg, "other", "2.0").status, 200);

    // -a: every tag of the repository, announced once.
    let out = exec_ok(&pusher, &["push", "-a", &format!("{reg}/app")]);
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("The push refers to repository"))
            .count(),
        1,
        "{out}"
    );
    assert_eq!(pushed_digest(&out, "1.0").0, digest);
    let (digest_two, _) = pushed_digest(&out, "2.0");

    // pull -a into a fresh root: both tags, Docker's single status line for the repository.
    let all = fresh();
    let out = exec_ok(&all, &["pull", "-a", &format!("{reg}/app")]);
    assert_line(&out, "1.0: Pulling from app");
    assert_line(&out, "2.0: Pulling from app");
    assert_line(&out, &format!("Digest: {digest}"));
    assert_line(&out, &format!("Digest: {digest_two}"));
    assert_eq!(out.lines().last(), Some(format!("{reg}/app").as_str()));
    assert_eq!(
        image_id(&all, &format!("{reg}/app:1.0")),
        one.id().to_string()
    );
    assert_eq!(
        image_id(&all, &format!("{reg}/app:2.0")),
        two.id().to_string()
    );
    let mut docker = Deviations::default();
    let statuses: Vec<&str> = out.lines().filter(|l| l.starts_with("Status: ")).collect();
    docker.check(
        statuses == [format!("Status: Downloaded newer image for {reg}/app").as_str()],
        || format!("pull -a: Docker writes one status, for the repository, after pulling every tag:\n{out}"),
    );

    // A tag the registry does not have.
    let missing = exec_fails(&puller, &["pull", &format!("{reg}/app:nope")]);
    docker.check(
        missing.stderr.contains(&format!(
            "manifest for {reg}/app:nope not found: manifest unknown: manifest unknown"
        )),
        || format!("pull of a missing tag: Docker says `manifest for {reg}/app:nope not found: manifest unknown: manifest unknown`; hoist:\n{}", missing.stderr),
    );
    docker.check(!missing.stdout.contains("Pulling from"), || {
        format!(
            "pull of a missing tag: Docker prints `Pulling from` only once the manifest is found; hoist:\n{}",
            missing.stdout
        )
    });

    // Names with no local image.
    let nothing = exec_fails(&pusher, &["push", &format!("{reg}/nothing:1.0")]);
    docker.check(
        nothing.stderr.trim_end().ends_with(&format!(
            "An image does not exist locally with the tag: {reg}/nothing"
        )),
        || format!("push of a repository with no local tag: Docker names the repository (FamiliarName, no tag): `An image does not exist locally with the tag: {reg}/nothing`; hoist:\n{}", nothing.stderr),
    );
    let no_tag = exec_fails(&pusher, &["push", &format!("{reg}/app:9.9")]);
    docker.check(
        no_tag
            .stderr
            .trim_end()
            .ends_with(&format!("tag does not exist: {reg}/app:9.9")),
        || format!("push of a missing tag of a local repository: Docker says `tag does not exist: {reg}/app:9.9`; hoist:\n{}", no_tag.stderr),
    );
    docker.finish();
}

#[test]
fn push_and_pull_round_trip_with_hoist_registry() {
    let server = fresh();
    let reg = serve(&server, &[]);
    round_trip(&reg.addr);
}

#[test]
fn push_and_pull_round_trip_with_distribution() {
    if !distribution_available() {
        return skip(
            "push_and_pull_round_trip_with_distribution",
            "docker-registry (distribution 2.8) not installed",
        );
    }
    let server = fresh();
    let Some(reg) = serve_distribution(&server.path("distribution"), "") else {
        return skip(
            "push_and_pull_round_trip_with_distribution",
            "docker-registry did not start",
        );
    };
    round_trip(&reg.addr);
}

// ---------------------------------------------------------------------------------------------------
// 3: the Docker Engine pulls what hoist pushed, and hoist pulls what Docker pushed.

fn docker_ok(config: &Path, args: &[&str]) -> String {
    let (status, out, err) = docker_in(config, args);
    assert_eq!(status, 0, "docker {args:?} failed:\n{out}{err}");
    out
}

fn busybox(tag: &str, echo: &str) -> Option<ImageFixture> {
    let mut img = ImageFixture::new(vec![busybox_layer()?]).tag(tag);
    img.cmd = vec!["/bin/sh".into(), "-c".into(), format!("echo {echo}")];
    Some(img)
}

#[test]
fn docker_pulls_what_hoist_pushes_and_hoist_pulls_what_docker_pushes() {
    const TEST: &str = "docker_pulls_what_hoist_pushes_and_hoist_pulls_what_docker_pushes";
    if !docker_available() {
        return skip(TEST, "no Docker Engine (run scripts/peers.sh start)");
    }
    let server = fresh();
    let reg = serve(&server, &[]);
    let Some(ours) = busybox(
        &format!("{}/interop/from-hoist:1", reg.addr),
        "pushed by hoist",
    ) else {
        return skip(TEST, "busybox-static not installed");
    };
    let h = fresh();
    let dcfg = h.path("docker-config");
    h.load(&docker_archive(std::slice::from_ref(&ours)));
    let name = format!("{}/interop/from-hoist:1", reg.addr);
    exec_ok(&h, &["push", &name]);
    docker_ok(&dcfg, &["pull", &name]);
    let id = docker_ok(&dcfg, &["image", "inspect", "-f", "{{.Id}}", &name]);
    assert_eq!(id.trim(), ours.id().to_string());
    let ran = docker_ok(&dcfg, &["run", "--rm", "--network", "none", &name]);
    assert_eq!(ran, "pushed by hoist\n");
    let _ = docker_in(&dcfg, &["rmi", &name]);

    // What Docker pushes, hoist pulls with Docker's image ID.
    let local = format!("hoist-transfer-interop:{}", std::process::id());
    let theirs = busybox(&local, "pushed by docker").unwrap_or_else(|| unreachable!());
    let archive = h.write("theirs.tar", &docker_archive(std::slice::from_ref(&theirs)));
    docker_ok(&dcfg, &["load", "-i", path_str(&archive)]);
    let remote = format!("{}/interop/from-docker:1", reg.addr);
    docker_ok(&dcfg, &["tag", &local, &remote]);
    docker_ok(&dcfg, &["push", &remote]);
    let docker_id = docker_ok(&dcfg, &["image", "inspect", "-f", "{{.Id}}", &remote]);
    let _ = docker_in(&dcfg, &["rmi", &remote, &local]);
    let puller = fresh();
    let out = exec_ok(&puller, &["pull", &remote]);
    assert_line(
        &out,
        &format!("Status: Downloaded newer image for {remote}"),
    );
    assert_eq!(image_id(&puller, &remote), docker_id.trim());
}

// ---------------------------------------------------------------------------------------------------
// 4: htpasswd logins from config.json.

#[test]
fn htpasswd_login_from_docker_config() {
    let server = fresh();
    let (status, line, err) = run("htpasswd", &["-nbB", "alice", "wonderland"]);
    if status != 0 {
        return skip(
            "htpasswd_login_from_docker_config",
            &format!("htpasswd: {err}"),
        );
    }
    let htpasswd = server.write("htpasswd", (line.trim().to_owned() + "\n").as_bytes());
    let reg = serve(
        &server,
        &[
            ("REGISTRY_AUTH", "htpasswd".to_owned()),
            ("REGISTRY_AUTH_HTPASSWD_REALM", "Registry Realm".to_owned()),
            (
                "REGISTRY_AUTH_HTPASSWD_PATH",
                htpasswd.display().to_string(),
            ),
        ],
    );
    let name = format!("{}/private/app:1", reg.addr);
    let img = ImageFixture::from_text("f secret 644 only for alice").tag(&name);

    // No credentials: refused.
    let anonymous = fresh();
    anonymous.load(&docker_archive(std::slice::from_ref(&img)));
    let denied = exec_fails(&anonymous, &["push", &name]);
    assert!(
        denied.stderr.to_lowercase().contains("unauthorized"),
        "{}",
        denied.stderr
    );
    exec_fails(&anonymous, &["pull", &name]);

    // `docker login`'s config.json entry.
    let write_login = |h: &TestHoist| {
        let config = json!({"auths": {reg.addr.clone(): {"auth": base64(b"alice:wonderland")}}});
        std::fs::write(
            h.path("docker-config").join("config.json"),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
    };
    write_login(&anonymous);
    let out = exec_ok(&anonymous, &["push", &name]);
    assert!(out.contains("1: digest: sha256:"), "{out}");
    let puller = fresh();
    write_login(&puller);
    exec_ok(&puller, &["pull", &name]);
    assert_eq!(image_id(&puller, &name), img.id().to_string());
}

// ---------------------------------------------------------------------------------------------------
// 5: TLS with a test CA trusted through certs.d.

/// A CA and a server certificate for 127.0.0.1 and `registry.test`, made with the openssl CLI.
/// Returns (ca.crt, server.crt, server.key), or `None` without openssl.
fn test_ca(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).ok()?;
    let p = |name: &str| dir.join(name).display().to_string();
    let ok = |args: &[&str]| {
        let (status, _, err) = run("openssl", args);
        assert!(status == 0, "openssl {args:?}: {err}");
    };
    if run("openssl", &["version"]).0 != 0 {
        return None;
    }
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    let (ca_key, ca_crt) = (p("ca.key"), p("ca.crt"));
    args.extend([
        "-keyout",
        &ca_key,
        "-out",
        &ca_crt,
        "-days",
        "2",
        "-subj",
        "/CN=hoist transfer test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    ok(&args);
    let (key, csr, crt, ext) = (
        p("server.key"),
        p("server.csr"),
        p("server.crt"),
        p("ext.cnf"),
    );
    let mut args = vec!["req", "-new"];
    args.extend(ec);
    args.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=registry.test"]);
    ok(&args);
    std::fs::write(
        &ext,
        "subjectAltName=DNS:registry.test,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .ok()?;
    ok(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca_crt,
        "-CAkey",
        &ca_key,
        "-set_serial",
        "2",
        "-out",
        &crt,
        "-days",
        "2",
        "-extfile",
        &ext,
    ]);
    Some((ca_crt.into(), crt.into(), key.into()))
}

#[test]
fn tls_registry_trusted_through_certs_d() {
    let server = fresh();
    let Some((ca, cert, key)) = test_ca(&server.path("tls")) else {
        return skip(
            "tls_registry_trusted_through_certs_d",
            "openssl not installed",
        );
    };
    let reg = serve(
        &server,
        &[
            ("REGISTRY_HTTP_TLS_CERTIFICATE", cert.display().to_string()),
            ("REGISTRY_HTTP_TLS_KEY", key.display().to_string()),
        ],
    );
    // 127.0.0.1 is an insecure registry whatever its certificate (Docker's rule), so the registry is
    // named registry.test:PORT and reached at 127.0.0.1 through `registry-endpoints`. The TLS name
    // checked is the endpoint's host (127.0.0.1, in the certificate); certs.d is read under the
    // registry's name.
    let port = reg.addr.rsplit(':').next().unwrap();
    let registry = format!("registry.test:{port}");
    let daemon = json!({"registry-endpoints": {registry.clone(): format!("https://{}", reg.addr)}});
    let trusting = |h: &TestHoist, with_ca: bool| {
        h.write("daemon.json", &serde_json::to_vec(&daemon).unwrap());
        if with_ca {
            let dir = h.path("certs.d").join(&registry);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(&ca, dir.join("ca.crt")).unwrap();
        }
    };
    let name = format!("{registry}/secure/app:1");
    let img = ImageFixture::from_text("f tls 644 over https").tag(&name);

    let untrusting = fresh();
    trusting(&untrusting, false);
    untrusting.load(&docker_archive(std::slice::from_ref(&img)));
    let refused = exec_fails(&untrusting, &["push", &name]);
    assert!(
        refused.stderr.contains("certificate"),
        "expected a certificate error:\n{}",
        refused.stderr
    );

    let pusher = fresh();
    trusting(&pusher, true);
    pusher.load(&docker_archive(std::slice::from_ref(&img)));
    let out = exec_ok(&pusher, &["push", &name]);
    assert!(out.contains("1: digest: sha256:"), "{out}");
    let puller = fresh();
    trusting(&puller, true);
    let out = exec_ok(&puller, &["pull", &name]);
    assert_line(&out, &format!("Status: Downloaded newer image for {name}"));
    assert_eq!(image_id(&puller, &name), img.id().to_string());
}

// ---------------------------------------------------------------------------------------------------
// 6: mirrors.

#[test]
fn docker_hub_pull_through_registry_mirrors() {
    let server = fresh();
    let mirror = serve(&server, &[]);
    let img = ImageFixture::from_text("f etc/mirrored 644 from the mirror")
        .tag(&format!("{}/library/busybox:latest", mirror.addr));
    let seeder = fresh();
    seeder.load(&docker_archive(std::slice::from_ref(&img)));
    exec_ok(
        &seeder,
        &["push", &format!("{}/library/busybox:latest", mirror.addr)],
    );

    // The first mirror is down; Docker Hub itself is replaced by a dead endpoint so it is never contacted.
    let h = fresh();
    let daemon = json!({
        "registry-mirrors": [format!("http://127.0.0.1:{}", free_port()), format!("http://{}", mirror.addr)],
        "registry-endpoints": {"docker.io": format!("http://127.0.0.1:{}", free_port())},
    });
    h.write("daemon.json", &serde_json::to_vec(&daemon).unwrap());
    let out = exec_ok(&h, &["pull", "busybox"]);
    let mut docker = Deviations::default();
    docker.check(
        out.lines().next() == Some("Using default tag: latest"),
        || format!("Docker's CLI starts a pull without a tag with `Using default tag: latest`; hoist:\n{out}"),
    );
    assert_line(&out, "latest: Pulling from library/busybox");
    assert_line(&out, "Status: Downloaded newer image for busybox:latest");
    assert_eq!(out.lines().last(), Some("docker.io/library/busybox:latest"));
    assert_eq!(image_id(&h, "busybox:latest"), img.id().to_string());
    assert_eq!(
        image_id(&h, "docker.io/library/busybox:latest"),
        img.id().to_string()
    );
    let images = exec_ok(&h, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images, "busybox:latest\n");
    docker.finish();
}

#[test]
fn docker_hub_pull_all_tags_through_registry_mirrors() {
    let server = fresh();
    let mirror = serve(&server, &[]);
    let images: Vec<ImageFixture> = ["6", "7"]
        .iter()
        .map(|tag| {
            ImageFixture::from_text(&format!("f etc/redis-version 644 {tag}"))
                .tag(&format!("{}/library/redis:{tag}", mirror.addr))
        })
        .collect();
    let seeder = fresh();
    seeder.load(&docker_archive(&images));
    exec_ok(
        &seeder,
        &["push", "-a", &format!("{}/library/redis", mirror.addr)],
    );

    // As for a single tag: the first mirror is down and Docker Hub is a dead endpoint, so the tag list
    // has to come from the second mirror too.
    let h = fresh();
    let daemon = json!({
        "registry-mirrors": [format!("http://127.0.0.1:{}", free_port()), format!("http://{}", mirror.addr)],
        "registry-endpoints": {"docker.io": format!("http://127.0.0.1:{}", free_port())},
    });
    h.write("daemon.json", &serde_json::to_vec(&daemon).unwrap());
    let out = exec_ok(&h, &["pull", "-a", "redis"]);
    assert_line(&out, "6: Pulling from library/redis");
    assert_line(&out, "7: Pulling from library/redis");
    assert_eq!(out.lines().last(), Some("docker.io/library/redis"), "{out}");
    for (tag, image) in ["6", "7"].iter().zip(&images) {
        assert_eq!(
            image_id(&h, &format!("redis:{tag}")),
            image.id().to_string()
        );
    }
    let images = exec_ok(&h, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut listed: Vec<&str> = images.lines().collect();
    listed.sort_unstable();
    assert_eq!(listed, ["redis:6", "redis:7"]);
}

/// The seeds' `docker pull --disable-content-trust nginx:latest`: the boolean flag never takes the image
/// as its value. Asking for content trust, which hoist cannot verify yet, stops before any pull.
#[test]
fn seed_pull_with_disable_content_trust_and_content_trust_refused() {
    let server = fresh();
    let mirror = serve(&server, &[]);
    let img = ImageFixture::from_text("f etc/nginx 644 trusted enough")
        .tag(&format!("{}/library/nginx:latest", mirror.addr));
    let seeder = fresh();
    seeder.load(&docker_archive(std::slice::from_ref(&img)));
    exec_ok(
        &seeder,
        &["push", &format!("{}/library/nginx:latest", mirror.addr)],
    );
    let h = fresh();
    let daemon = json!({
        "registry-mirrors": [format!("http://{}", mirror.addr)],
        "registry-endpoints": {"docker.io": format!("http://127.0.0.1:{}", free_port())},
    });
    h.write("daemon.json", &serde_json::to_vec(&daemon).unwrap());

    for refused in [
        exec(
            &h,
            &["pull", "--disable-content-trust=false", "nginx:latest"],
        ),
        match command(&h)
            .env("DOCKER_CONTENT_TRUST", "1")
            .args(["pull", "nginx:latest"])
            .output()
        {
            Ok(o) => o.into(),
            Err(e) => panic!("running hoist: {e}"),
        },
    ] {
        assert_eq!(refused.status, 1, "{refused:?}");
        assert!(
            refused
                .stderr
                .contains("content trust is not supported by hoist yet"),
            "{}",
            refused.stderr
        );
        assert_eq!(exec_ok(&h, &["images", "-q"]), "");
    }

    let out = exec_ok(&h, &["pull", "--disable-content-trust", "nginx:latest"]);
    assert_line(&out, "Status: Downloaded newer image for nginx:latest");
    assert_eq!(image_id(&h, "nginx:latest"), img.id().to_string());
    // The flag wins over the environment, as in Docker.
    let trusted_env = command(&h)
        .env("DOCKER_CONTENT_TRUST", "1")
        .args(["pull", "--disable-content-trust=true", "-q", "nginx"])
        .output()
        .unwrap();
    assert!(trusted_env.status.success(), "{trusted_env:?}");
}

#[test]
fn registry_mirrors_for_other_registries_with_fallback() {
    let server = fresh();
    let origin = serve_hoist(&server, "origin-data", &[]);
    let mirror = serve_hoist(&server, "mirror-data", &[]);
    let seeder = fresh();
    let only_mirrored =
        ImageFixture::from_text("f where 644 mirror only").tag(&format!("{}/app:1.0", mirror.addr));
    let only_origin =
        ImageFixture::from_text("f where 644 origin only").tag(&format!("{}/app:2.0", origin.addr));
    seeder.load(&docker_archive(&[
        only_mirrored.clone(),
        only_origin.clone(),
    ]));
    exec_ok(&seeder, &["push", &format!("{}/app:1.0", mirror.addr)]);
    exec_ok(&seeder, &["push", &format!("{}/app:2.0", origin.addr)]);

    let h = fresh();
    let daemon = json!({"mirrors": {origin.addr.clone(): [format!("http://{}", mirror.addr)]}});
    h.write("daemon.json", &serde_json::to_vec(&daemon).unwrap());
    // The origin lacks 1.0; the mirror serves it.
    let name = format!("{}/app:1.0", origin.addr);
    let out = exec_ok(&h, &["pull", &name]);
    assert_line(&out, &format!("Status: Downloaded newer image for {name}"));
    assert_eq!(image_id(&h, &name), only_mirrored.id().to_string());
    // The mirror lacks 2.0; the origin serves it.
    let name = format!("{}/app:2.0", origin.addr);
    let out = exec_ok(&h, &["pull", &name]);
    assert_line(&out, &format!("Status: Downloaded newer image for {name}"));
    assert_eq!(image_id(&h, &name), only_origin.id().to_string());
}

// ---------------------------------------------------------------------------------------------------
// 7-10: interrupted and throttled transfers, through the fault proxy.

/// A registry behind a fault proxy holding `app:1.0`, an image with one 8 MiB random layer.
struct Faulty {
    proxy: FaultProxy,
    _registry: Served,
    image: ImageFixture,
    /// The layer's blob digest at the registry.
    layer_blob: Digest,
    /// Dropped last: the registry's data lives here.
    _server: TestHoist,
}

impl Faulty {
    fn new(seed: u64) -> Self {
        let server = fresh();
        let registry = serve(&server, &[]);
        let proxy = FaultProxy::start(&registry.addr);
        let image = ImageFixture::new(vec![random_layer(8 * MIB, seed)])
            .tag(&format!("{}/app:1.0", registry.addr));
        let seeder = fresh();
        seeder.load(&docker_archive(std::slice::from_ref(&image)));
        exec_ok(&seeder, &["push", &format!("{}/app:1.0", registry.addr)]);
        let manifest = registry_manifest(&registry.addr, "app", "1.0").json();
        let layer_blob = manifest["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        Self {
            proxy,
            _registry: registry,
            image,
            layer_blob,
            _server: server,
        }
    }

    /// The image's name through the proxy.
    fn name(&self) -> String {
        format!("{}/app:1.0", self.proxy.addr())
    }

    fn blob_requests(&self) -> Vec<SeenRequest> {
        self.proxy
            .requests()
            .into_iter()
            .filter(|r| {
                r.method == "GET" && r.target.ends_with(&format!("/blobs/{}", self.layer_blob))
            })
            .collect()
    }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn killed_pull_resumes_from_the_partial_download() {
    let f = Faulty::new(7);
    let h = fresh();
    f.proxy.stall_after(Direction::Downstream, 3 * MIB);
    let mut child = spawn(&h, &["pull", &f.name()], "first-pull");
    assert!(
        f.proxy.wait_stalled(Duration::from_secs(15)),
        "the pull never reached the stall; stderr: {}",
        std::fs::read_to_string(h.path("first-pull.err")).unwrap_or_default()
    );
    let partial = h
        .root()
        .join("ingest")
        .join(format!("partial-{}", f.layer_blob.hex()));
    wait_for("the partial download", Duration::from_secs(10), || {
        std::fs::metadata(&partial).is_ok_and(|m| m.len() > 0)
    });
    child.kill();
    let kept = std::fs::metadata(&partial).unwrap().len();
    assert!(kept > 0 && kept <= 3 * MIB, "{kept} bytes kept");
    f.proxy.release();

    let out = exec_ok(&h, &["pull", &f.name()]);
    assert_line(
        &out,
        &format!("Status: Downloaded newer image for {}", f.name()),
    );
    assert_eq!(image_id(&h, &f.name()), f.image.id().to_string());
    let ranged: Vec<u64> = f
        .blob_requests()
        .iter()
        .filter_map(SeenRequest::range_start)
        .collect();
    assert_eq!(
        ranged,
        [kept],
        "the second pull should ask for the rest, from the {kept} bytes kept, with Range: bytes=N-; blob requests: {:?}",
        f.blob_requests()
    );
    assert!(!partial.exists(), "the partial download is left behind");
}

#[test]
fn pull_survives_a_connection_cut_mid_blob() {
    let f = Faulty::new(8);
    let h = fresh();
    f.proxy.cut_after(Direction::Downstream, 2 * MIB);
    let out = exec_ok(&h, &["pull", &f.name()]);
    assert_eq!(f.proxy.cuts(), 1);
    assert_line(
        &out,
        &format!("Status: Downloaded newer image for {}", f.name()),
    );
    assert_eq!(image_id(&h, &f.name()), f.image.id().to_string());
    assert!(
        f.blob_requests()
            .iter()
            .filter_map(SeenRequest::range_start)
            .any(|n| n > 0),
        "the client should resume the blob with a Range request: {:?}",
        f.blob_requests()
    );
}

#[test]
fn pull_waits_out_too_many_requests() {
    let f = Faulty::new(9);
    let h = fresh();
    f.proxy.answer(
        Some("GET"),
        "/manifests/1.0",
        1,
        CannedResponse::too_many_requests(1),
    );
    let out = exec_ok(&h, &["pull", &f.name()]);
    assert_line(
        &out,
        &format!("Status: Downloaded newer image for {}", f.name()),
    );
    let manifest_gets: Vec<SeenRequest> = f
        .proxy
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.target.ends_with("/manifests/1.0"))
        .collect();
    assert_eq!(manifest_gets.len(), 2, "{manifest_gets:?}");
    assert!(manifest_gets[0].answered_by_proxy && !manifest_gets[1].answered_by_proxy);
}

#[test]
fn pull_retries_a_503_on_a_blob() {
    let f = Faulty::new(10);
    let h = fresh();
    f.proxy.answer(
        Some("GET"),
        &format!("/blobs/{}", f.layer_blob),
        2,
        CannedResponse::service_unavailable(),
    );
    exec_ok(&h, &["pull", &f.name()]);
    assert_eq!(image_id(&h, &f.name()), f.image.id().to_string());
    assert_eq!(f.blob_requests().len(), 3, "{:?}", f.blob_requests());
}

/// A registry behind a proxy, and a root holding an image with one 8 MiB random layer named for it.
struct PushSetup {
    proxy: FaultProxy,
    registry: Served,
    /// The pushing root.
    h: TestHoist,
    name: String,
    _server: TestHoist,
}

fn push_setup(seed: u64) -> PushSetup {
    let server = fresh();
    let registry = serve(&server, &[]);
    let proxy = FaultProxy::start(&registry.addr);
    let name = format!("{}/app:1.0", proxy.addr());
    let h = fresh();
    let image = ImageFixture::new(vec![random_layer(8 * MIB, seed)]).tag(&name);
    h.load(&docker_archive(std::slice::from_ref(&image)));
    PushSetup {
        proxy,
        registry,
        h,
        name,
        _server: server,
    }
}

fn uploads(proxy: &FaultProxy) -> Vec<String> {
    proxy
        .requests()
        .into_iter()
        .filter(|r| r.target.contains("/blobs/uploads/") || r.target.contains("/manifests/"))
        .map(|r| {
            format!(
                "{} {} (Content-Length {:?})",
                r.method,
                r.target.split('?').next().unwrap_or_default(),
                r.content_length
            )
        })
        .collect()
}

#[test]
fn push_recovers_from_a_cut_upload() {
    let PushSetup {
        proxy,
        registry,
        h,
        name,
        _server,
    } = push_setup(11);
    proxy.cut_after(Direction::Upstream, 3 * MIB);
    let out = exec_ok(&h, &["push", &name]);
    assert_eq!(proxy.cuts(), 1);
    let (digest, _) = pushed_digest(&out, "1.0");
    let held = registry_manifest(&registry.addr, "app", "1.0");
    assert_eq!(held.status, 200);
    assert_eq!(Digest::of(&held.body), digest);
    // The cut PUT is followed by a status request and a PUT of the rest, in the same session.
    let blob_puts: Vec<SeenRequest> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.target.contains("/blobs/uploads/"))
        .collect();
    let first = &blob_puts[0];
    let session = first.target.split('?').next().unwrap_or_default();
    let resumed: Vec<&SeenRequest> = blob_puts[1..]
        .iter()
        .filter(|r| r.target.starts_with(session))
        .collect();
    assert_eq!(resumed.len(), 1, "{:?}", uploads(&proxy));
    assert!(
        resumed[0].content_length < first.content_length,
        "the second PUT should send only what the registry lacks: {:?}",
        uploads(&proxy)
    );
}

#[test]
fn killed_push_completes_when_run_again() {
    let PushSetup {
        proxy,
        registry,
        h,
        name,
        _server,
    } = push_setup(12);
    proxy.stall_after(Direction::Upstream, 3 * MIB);
    let mut child = spawn(&h, &["push", &name], "first-push");
    assert!(
        proxy.wait_stalled(Duration::from_secs(15)),
        "the push never reached the stall; stderr: {}",
        std::fs::read_to_string(h.path("first-push.err")).unwrap_or_default()
    );
    child.kill();
    proxy.release();
    assert_eq!(registry_manifest(&registry.addr, "app", "1.0").status, 404);
    let out = exec_ok(&h, &["push", &name]);
    let (digest, _) = pushed_digest(&out, "1.0");
    let held = registry_manifest(&registry.addr, "app", "1.0");
    assert_eq!(held.status, 200, "{:?}", uploads(&proxy));
    assert_eq!(Digest::of(&held.body), digest);
}

// ---------------------------------------------------------------------------------------------------
// 11: a multi-platform index.

fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[test]
fn multi_platform_index_pull_and_manifest_inspect() {
    let server = fresh();
    let reg = serve(&server, &[]);
    let pusher = fresh();
    let shared = layer("d etc 755\nf etc/os-release 644 ID=multi");
    let mut images = Vec::new();
    for arch in ["amd64", "arm64"] {
        let mut img = ImageFixture::new(vec![shared.clone(), layer(&format!("f arch 644 {arch}"))])
            .tag(&format!("{}/app:{arch}", reg.addr));
        img.architecture = arch.to_owned();
        images.push(img);
    }
    pusher.load(&docker_archive(&images));
    let mut entries = Vec::new();
    for img in &images {
        let arch = img.architecture.as_str();
        exec_ok(&pusher, &["push", &format!("{}/app:{arch}", reg.addr)]);
        let held = registry_manifest(&reg.addr, "app", arch);
        assert_eq!(held.status, 200);
        entries.push(json!({
            "mediaType": held.header("content-type").unwrap(),
            "digest": Digest::of(&held.body).to_string(),
            "size": held.body.len(),
            "platform": {"architecture": arch, "os": "linux"},
        }));
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    });
    let index_bytes = serde_json::to_vec(&index).unwrap();
    let put = http(
        &reg.addr,
        "PUT",
        "/v2/app/manifests/multi",
        &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
        &index_bytes,
    );
    assert_eq!(put.status, 201, "{put:?}");
    let name = format!("{}/app:multi", reg.addr);

    let host = fresh();
    let out = exec_ok(&host, &["pull", &name]);
    assert_line(&out, &format!("Digest: {}", Digest::of(&index_bytes)));
    let arch = exec_ok(&host, &["inspect", "--format", "{{.Architecture}}", &name]);
    assert_eq!(arch.trim(), host_architecture());

    let arm = fresh();
    exec_ok(&arm, &["pull", "--platform", "linux/arm64", &name]);
    let arch = exec_ok(&arm, &["inspect", "--format", "{{.Architecture}}", &name]);
    assert_eq!(arch.trim(), "arm64");
    assert_eq!(image_id(&arm, &name), images[1].id().to_string());

    let none = exec_fails(&fresh(), &["pull", "--platform", "linux/s390x", &name]);
    assert!(
        none.stderr
            .contains("no matching manifest for linux/s390x in the manifest list entries"),
        "{}",
        none.stderr
    );

    let ours = exec_ok(&host, &["manifest", "inspect", &name]);
    let parsed: Value = serde_json::from_str(&ours).unwrap_or_else(|e| panic!("{e}: {ours}"));
    assert_eq!(
        parsed["manifests"].as_array().map(Vec::len),
        Some(2),
        "{ours}"
    );
    let ours_verbose = exec_ok(&host, &["manifest", "inspect", "-v", &name]);
    let verbose: Value =
        serde_json::from_str(&ours_verbose).unwrap_or_else(|e| panic!("{e}: {ours_verbose}"));
    assert_eq!(verbose.as_array().map(Vec::len), Some(2), "{ours_verbose}");

    if run("docker", &["--version"]).0 != 0 {
        return skip(
            "multi_platform_index_pull_and_manifest_inspect (docker part)",
            "no Docker CLI",
        );
    }
    let dcfg = host.path("docker-config");
    let mut docker = Deviations::default();
    // A single image manifest, then the list.
    let single = format!("{}/app:amd64", reg.addr);
    for (what, name) in [("an image manifest", &single), ("a list", &name)] {
        for verbose in [false, true] {
            let mut args = vec!["manifest", "inspect"];
            if verbose {
                args.push("-v");
            }
            args.push(name);
            let ours = exec_ok(&host, &args);
            args.insert(2, "--insecure");
            let theirs = docker_ok(&dcfg, &args);
            docker.check(ours == theirs, || {
                format!("{args:?} on {what}: hoist printed\n{ours}\ndocker printed\n{theirs}")
            });
        }
    }
    docker.finish();
}
