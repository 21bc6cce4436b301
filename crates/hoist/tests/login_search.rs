//! `hoist login`, `logout` and `search` against real registries (`hoist registry serve` and distribution
//! with htpasswd), a stand-in for Docker Hub's index and token service, and the Docker CLI's own
//! config.json. Every hoist and docker run gets a private DOCKER_CONFIG; servers listen on 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::hoist;
use hoist_test_support::cli::{Run, TestHoist, path_str};
use hoist_test_support::peers::{docker_available, run, skip};
use hoist_test_support::registry::{Served, free_port, serve_distribution, serve_hoist};

const USER: &str = "alice";
const PASSWORD: &str = "wonderland";
/// base64 of `alice:wonderland`, as Docker writes it in config.json.
const ALICE_AUTH: &str = "YWxpY2U6d29uZGVybGFuZA==";
const INSECURE_WARNING: &str =
    "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n";

/// hoist with `DOCKER_CONFIG` set to `config_dir` and `input` on stdin (none: /dev/null).
fn hoist_in(h: &TestHoist, config_dir: &Path, args: &[&str], input: Option<&[u8]>) -> Run {
    let mut command = h.command();
    command
        .args(args)
        .env("DOCKER_CONFIG", config_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if input.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("running hoist {args:?}: {e}"));
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        // The command may stop reading early (an error); the test judges its output.
        let _ = stdin.write_all(input);
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for hoist {args:?}: {e}"))
        .into()
}

/// The Docker CLI with its config in `config_dir`, `input` on stdin.
fn docker_in(config_dir: &Path, args: &[&str], input: &[u8]) -> Run {
    let mut child = Command::new("docker")
        .args(args)
        .env("DOCKER_CONFIG", config_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running docker {args:?}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for docker {args:?}: {e}"))
        .into()
}

fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A private Docker config directory inside the test's temp dir.
fn config_dir(h: &TestHoist, name: &str) -> PathBuf {
    let dir = h.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An htpasswd file for alice (bcrypt, which both registries require). `None` without `htpasswd`.
fn htpasswd(h: &TestHoist) -> Option<PathBuf> {
    let (status, line, _) = run("htpasswd", &["-nbB", USER, PASSWORD]);
    if status != 0 {
        return None;
    }
    let path = h.path("htpasswd");
    std::fs::write(&path, line.trim().to_owned() + "\n").unwrap();
    Some(path)
}

fn hoist_registry_with_auth(h: &TestHoist, htpasswd: &Path) -> Served {
    serve_hoist(
        h,
        "auth-registry",
        &[
            ("REGISTRY_AUTH", "htpasswd".to_owned()),
            ("REGISTRY_AUTH_HTPASSWD_REALM", "Registry Realm".to_owned()),
            (
                "REGISTRY_AUTH_HTPASSWD_PATH",
                htpasswd.display().to_string(),
            ),
        ],
    )
}

/// The config.json Docker writes for one plain-text login.
fn docker_config_with(server: &str, auth: &str) -> String {
    format!(
        "{{\n\t\"auths\": {{\n\t\t\"{server}\": {{\n\t\t\t\"auth\": \"{auth}\"\n\t\t}}\n\t}}\n}}"
    )
}

fn unencrypted_warning(config_dir: &Path) -> String {
    format!(
        "\nWARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n",
        config_dir.join("config.json").display()
    )
}

fn config_json(config_dir: &Path) -> String {
    std::fs::read_to_string(config_dir.join("config.json")).unwrap_or_default()
}

/// Checks what `login` and `logout` print and store against a registry that wants alice's password.
fn check_login_cycle(h: &TestHoist, config_dir: &Path, addr: &str) {
    let wrong = hoist_in(
        h,
        config_dir,
        &["login", "-u", USER, "-p", "wrong", addr],
        None,
    );
    assert_eq!(wrong.status, 1, "{wrong:?}");
    assert_eq!(
        wrong.stderr,
        format!(
            "{INSECURE_WARNING}Error: login to {addr} failed: unauthorized: incorrect username or password\n"
        )
    );
    assert_eq!(wrong.stdout, "");
    assert!(!config_json(config_dir).contains(addr), "nothing stored");

    let stdin_login = ["login", "-u", USER, "--password-stdin", addr];
    let ok = hoist_in(h, config_dir, &stdin_login, Some(b"wonderland\r\n"));
    assert_eq!(ok.status, 0, "{ok:?}");
    assert_eq!(ok.stdout, "Login Succeeded\n");
    assert_eq!(ok.stderr, unencrypted_warning(config_dir));
    assert_eq!(
        config_json(config_dir),
        docker_config_with(addr, ALICE_AUTH)
    );

    // The same login again changes nothing, so there is nothing to warn about.
    let again = hoist_in(h, config_dir, &stdin_login, Some(b"wonderland\n"));
    assert_eq!((again.status, again.stderr.as_str()), (0, ""), "{again:?}");

    // Without -u/-p the stored login is checked again.
    let stored = hoist_in(h, config_dir, &["login", addr], None);
    assert_eq!(stored.status, 0, "{stored:?}");
    assert_eq!(stored.stdout, "Login Succeeded\n");
    assert_eq!(
        stored.stderr,
        "Authenticating with existing credentials... [Username: alice]\n\n Info -> To login with a different account, run 'hoist logout' followed by 'hoist login'\n\n\n"
    );

    let out = hoist_in(h, config_dir, &["logout", addr], None);
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (
            0,
            format!("Removing login credentials for {addr}\n").as_str()
        )
    );
    assert!(!config_json(config_dir).contains(addr));
    let again = hoist_in(h, config_dir, &["logout", addr], None);
    assert_eq!(
        (again.status, again.stdout.as_str()),
        (0, format!("Not logged in to {addr}\n").as_str())
    );

    let no_tty = hoist_in(h, config_dir, &["login", addr], None);
    assert_eq!(no_tty.status, 1);
    assert_eq!(
        no_tty.stderr,
        "Error: Cannot perform an interactive login from a non TTY device\n"
    );
}

#[test]
fn login_and_logout_with_hoist_registry() {
    let h = hoist();
    let Some(htpasswd) = htpasswd(&h) else {
        return skip(
            "login_and_logout_with_hoist_registry",
            "htpasswd not installed",
        );
    };
    let reg = hoist_registry_with_auth(&h, &htpasswd);
    let dcfg = config_dir(&h, "docker-config");
    check_login_cycle(&h, &dcfg, &reg.addr);

    // A stored login the registry no longer accepts: said so, then the user would be asked.
    std::fs::write(
        dcfg.join("config.json"),
        docker_config_with(&reg.addr, "YWxpY2U6b2xk"), // alice:old
    )
    .unwrap();
    let stale = hoist_in(&h, &dcfg, &["login", &reg.addr], None);
    assert_eq!(stale.status, 1);
    assert!(
        stale
            .stderr
            .ends_with("Stored credentials invalid or expired\nError: Cannot perform an interactive login from a non TTY device\n"),
        "{}",
        stale.stderr
    );
    // A server given as a URL is stored under its host, as Docker does.
    let url = format!("http://{}/v2/", reg.addr);
    let by_url = hoist_in(
        &h,
        &dcfg,
        &["login", "-u", USER, "--password-stdin", &url],
        Some(b"wonderland"),
    );
    assert_eq!(by_url.status, 0, "{by_url:?}");
    assert_eq!(
        config_json(&dcfg),
        docker_config_with(&reg.addr, ALICE_AUTH)
    );
}

#[test]
fn login_flags_are_checked_as_docker_checks_them() {
    let h = hoist();
    let dcfg = config_dir(&h, "docker-config");
    for (args, message) in [
        (
            &[
                "login",
                "--password-stdin",
                "-u",
                USER,
                "-p",
                "x",
                "localhost:1",
            ][..],
            "conflicting options: cannot specify both --password and --password-stdin",
        ),
        (
            &["login", "--password-stdin", "localhost:1"][..],
            "the --password-stdin option requires --username to be set",
        ),
        (&["login", "-u", "", "localhost:1"][..], "username is empty"),
    ] {
        let r = hoist_in(&h, &dcfg, args, Some(b""));
        assert_eq!(r.status, 1, "{args:?}");
        assert_eq!(r.stderr, format!("Error: {message}\n"), "{args:?}");
    }
    assert!(!dcfg.join("config.json").exists());
}

#[test]
fn login_and_logout_with_distribution() {
    let h = hoist();
    let Some(htpasswd) = htpasswd(&h) else {
        return skip(
            "login_and_logout_with_distribution",
            "htpasswd not installed",
        );
    };
    let auth = format!(
        "auth:\n  htpasswd:\n    realm: Registry Realm\n    path: {}\n",
        htpasswd.display()
    );
    let Some(reg) = serve_distribution(&h.path("distribution"), &auth) else {
        return skip(
            "login_and_logout_with_distribution",
            "docker-registry (distribution) not installed",
        );
    };
    let dcfg = config_dir(&h, "docker-config");
    check_login_cycle(&h, &dcfg, &reg.addr);
}

#[test]
fn hoist_and_docker_share_logins() {
    if !runs("docker") {
        return skip("hoist_and_docker_share_logins", "docker CLI not installed");
    }
    let h = hoist();
    let Some(htpasswd) = htpasswd(&h) else {
        return skip("hoist_and_docker_share_logins", "htpasswd not installed");
    };
    let reg = hoist_registry_with_auth(&h, &htpasswd);
    // The Docker CLI logs in client-side when no engine runs, so only the CLI is needed.
    let by_docker = config_dir(&h, "docker-wrote");
    let login = docker_in(
        &by_docker,
        &["login", "-u", USER, "--password-stdin", &reg.addr],
        b"wonderland\n",
    );
    assert!(login.stdout.contains("Login Succeeded"), "{login:?}");
    let stored = hoist_in(&h, &by_docker, &["login", &reg.addr], None);
    assert_eq!(stored.status, 0, "{stored:?}");
    assert!(
        stored
            .stderr
            .starts_with("Authenticating with existing credentials... [Username: alice]\n"),
        "{}",
        stored.stderr
    );
    assert_eq!(stored.stdout, "Login Succeeded\n");

    // hoist writes the very bytes Docker writes.
    let by_hoist = config_dir(&h, "hoist-wrote");
    let ours = hoist_in(
        &h,
        &by_hoist,
        &["login", "-u", USER, "--password-stdin", &reg.addr],
        Some(b"wonderland\n"),
    );
    assert_eq!(ours.status, 0, "{ours:?}");
    assert_eq!(config_json(&by_hoist), config_json(&by_docker));

    // And Docker uses what hoist wrote (search through the engine needs the login).
    if docker_available() {
        let found = docker_in(&by_hoist, &["search", &format!("{}/x", reg.addr)], b"");
        assert_eq!(
            found.status, 0,
            "docker search with hoist's login: {found:?}"
        );
        assert_eq!(found.stdout, "NAME      DESCRIPTION   STARS     OFFICIAL\n");
        let out = hoist_in(&h, &by_hoist, &["logout", &reg.addr], None);
        assert_eq!(out.status, 0);
        let denied = docker_in(&by_hoist, &["search", &format!("{}/x", reg.addr)], b"");
        assert_ne!(denied.status, 0, "logged out: {denied:?}");
    }
}

/// Pushes a tiny image (an empty config, no layers) as `repo:1` with curl. False without curl.
fn push_repo(addr: &str, repo: &str, credentials: Option<&str>) -> bool {
    if !runs("curl") {
        return false;
    }
    let curl = |args: &[&str], body: Option<&[u8]>| -> String {
        let mut command = Command::new("curl");
        command.args(["-sS", "--fail-with-body"]);
        if let Some(user) = credentials {
            command.args(["-u", user]);
        }
        command.args(args);
        if body.is_some() {
            command.args(["--data-binary", "@-"]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(body.unwrap_or_default()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "curl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let config = b"{}";
    let digest = hoist_spec::Digest::of(config);
    let headers = curl(
        &[
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            &format!("http://{addr}/v2/{repo}/blobs/uploads/"),
        ],
        None,
    );
    let location = headers
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(name, _)| name.eq_ignore_ascii_case("location"))
        })
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_else(|| panic!("no Location in {headers}"));
    let location = if location.starts_with('/') {
        format!("http://{addr}{location}")
    } else {
        location
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
            &format!("{location}{separator}digest={digest}"),
        ],
        Some(config),
    );
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"{digest}"}},"layers":[]}}"#
    );
    curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.docker.distribution.manifest.v2+json",
            &format!("http://{addr}/v2/{repo}/manifests/1"),
        ],
        Some(manifest.as_bytes()),
    );
    true
}

const APP_TABLE: &str = "NAME         DESCRIPTION   STARS     OFFICIAL\nteam/app                   0         \nteam/apple                 0         \n";

/// What every registry search shows for the repositories `team/app`, `team/apple` and `other`.
fn check_registry_search(h: &TestHoist, dcfg: &Path, addr: &str) {
    let term = format!("{addr}/app");
    let search = |args: &[&str]| -> Run {
        let mut all = vec!["search"];
        all.extend_from_slice(args);
        all.push(&term);
        let r = hoist_in(h, dcfg, &all, None);
        assert_eq!(r.status, 0, "search {args:?}: {r:?}");
        r
    };
    assert_eq!(search(&[]).stdout, APP_TABLE);
    assert_eq!(search(&["--limit", "1"]).stdout.lines().count(), 2);
    assert_eq!(
        search(&["--format", "{{.Name}}"]).stdout,
        "team/app\nteam/apple\n"
    );
    assert_eq!(
        search(&["--filter", "stars=1"]).stdout,
        "NAME      DESCRIPTION   STARS     OFFICIAL\n"
    );
    assert_eq!(
        search(&["--filter", "stars=0", "--filter", "is-official=false"]).stdout,
        APP_TABLE
    );
    assert_eq!(
        search(&["--format", "json", "--limit", "1"]).stdout,
        "{\"Description\":\"\",\"IsOfficial\":\"false\",\"Name\":\"team/app\",\"StarCount\":\"0\"}\n"
    );
    let everything = hoist_in(
        h,
        dcfg,
        &["search", "--format", "{{.Name}}", &format!("{addr}/")],
        None,
    );
    assert_eq!(
        everything.stdout, "other\nteam/app\nteam/apple\n",
        "{everything:?}"
    );
}

#[test]
fn search_a_hoist_registry() {
    let h = hoist();
    let reg = serve_hoist(&h, "registry-data", &[]);
    for repo in ["team/app", "team/apple", "other"] {
        if !push_repo(&reg.addr, repo, None) {
            return skip("search_a_hoist_registry", "curl not installed");
        }
    }
    let dcfg = config_dir(&h, "docker-config");
    check_registry_search(&h, &dcfg, &reg.addr);
    if docker_available() {
        let term = format!("{}/app", reg.addr);
        let docker = docker_in(&dcfg, &["search", &term], b"");
        assert_eq!(docker.status, 0, "{docker:?}");
        assert_eq!(docker.stdout, APP_TABLE, "hoist prints what docker prints");
    }
}

#[test]
fn search_behind_a_login() {
    let h = hoist();
    let Some(htpasswd) = htpasswd(&h) else {
        return skip("search_behind_a_login", "htpasswd not installed");
    };
    let reg = hoist_registry_with_auth(&h, &htpasswd);
    let alice = format!("{USER}:{PASSWORD}");
    for repo in ["team/app", "team/apple", "other"] {
        if !push_repo(&reg.addr, repo, Some(&alice)) {
            return skip("search_behind_a_login", "curl not installed");
        }
    }
    let dcfg = config_dir(&h, "docker-config");
    let denied = hoist_in(&h, &dcfg, &["search", &format!("{}/app", reg.addr)], None);
    assert_eq!(denied.status, 1);
    assert!(denied.stderr.contains("unauthorized"), "{denied:?}");
    let login = hoist_in(
        &h,
        &dcfg,
        &["login", "-u", USER, "--password-stdin", &reg.addr],
        Some(PASSWORD.as_bytes()),
    );
    assert_eq!(login.status, 0, "{login:?}");
    check_registry_search(&h, &dcfg, &reg.addr);
}

#[test]
fn search_distribution_through_its_catalog() {
    let h = hoist();
    let Some(reg) = serve_distribution(&h.path("distribution"), "") else {
        return skip(
            "search_distribution_through_its_catalog",
            "docker-registry (distribution) not installed",
        );
    };
    for repo in ["team/app", "team/apple", "other"] {
        if !push_repo(&reg.addr, repo, None) {
            return skip(
                "search_distribution_through_its_catalog",
                "curl not installed",
            );
        }
    }
    let dcfg = config_dir(&h, "docker-config");
    check_registry_search(&h, &dcfg, &reg.addr);
}

/// One request as the stand-in server saw it.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    target: String,
    authorization: Option<String>,
}

/// A status, extra headers and a JSON body.
type Answer = (u16, Vec<(&'static str, String)>, String);

/// A minimal HTTP/1.1 server on 127.0.0.1 answering with `handler` (one request per connection).
/// It records every request; its thread ends with the test process.
struct StandIn {
    addr: String,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl StandIn {
    fn start(handler: impl Fn(&Request, &str) -> Answer + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let own_addr = addr.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                // A TLS handshake (clients try HTTPS first on loopback): refuse it as Go's server does.
                let mut first = [0u8; 1];
                if stream.peek(&mut first).is_ok_and(|n| n == 1) && first[0] == 0x16 {
                    let _ = stream.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
                    continue;
                }
                let Ok(clone) = stream.try_clone() else {
                    continue;
                };
                let mut reader = BufReader::new(clone);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let mut authorization = None;
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        let value = value.trim().to_owned();
                        if name.eq_ignore_ascii_case("authorization") {
                            authorization = Some(value);
                        } else if name.eq_ignore_ascii_case("content-length") {
                            length = value.parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let mut parts = request_line.split_whitespace();
                let request = Request {
                    method: parts.next().unwrap_or_default().to_owned(),
                    target: parts.next().unwrap_or_default().to_owned(),
                    authorization,
                };
                log.lock().unwrap().push(request.clone());
                let (status, headers, body) = handler(&request, &own_addr);
                let mut response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (name, value) in headers {
                    response.push_str(&format!("{name}: {value}\r\n"));
                }
                response.push_str("\r\n");
                response.push_str(&body);
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Self { addr, seen }
    }

    /// The query strings of the `/v1/search` requests so far.
    fn searches(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|r| r.target.strip_prefix("/v1/search?").map(str::to_owned))
            .collect()
    }
}

const HUB_RESULTS: &str = r#"{"num_results":3,"query":"nginx","results":[
{"name":"nginx","description":"Official build of Nginx, the high-performance web server and reverse proxy","star_count":20000,"is_official":true,"is_automated":false},
{"name":"bitnami/nginx","description":"Bitnami container image for NGINX\nwith a second line","star_count":190,"is_official":false,"is_automated":true},
{"name":"someone/nginx-tiny","description":"","star_count":3,"is_official":false,"is_automated":false}]}"#;

/// Docker Hub's index as far as search needs it.
fn docker_hub_index() -> StandIn {
    StandIn::start(|request, _| match request.target.as_str() {
        "/v2/" => (200, Vec::new(), "{}".to_owned()),
        target if target.starts_with("/v1/search?") => (200, Vec::new(), HUB_RESULTS.to_owned()),
        _ => (
            404,
            Vec::new(),
            r#"{"errors":[{"code":"NOT_FOUND","message":"not here"}]}"#.to_owned(),
        ),
    })
}

fn with_daemon_json(h: &TestHoist, json: &str) {
    h.write("daemon.json", json.as_bytes());
}

#[test]
fn search_docker_hub_through_its_endpoint() {
    let h = hoist();
    let index = docker_hub_index();
    with_daemon_json(
        &h,
        &format!(
            r#"{{"registry-endpoints": {{"docker.io": "http://{}"}}}}"#,
            index.addr
        ),
    );
    let dcfg = config_dir(&h, "docker-config");
    let search = |args: &[&str]| -> String {
        let r = hoist_in(&h, &dcfg, args, None);
        assert_eq!(r.status, 0, "{args:?}: {r:?}");
        r.stdout
    };
    assert_eq!(
        search(&["search", "nginx"]),
        "NAME                 DESCRIPTION                                     STARS     OFFICIAL\n\
         nginx                Official build of Nginx, the high-performanc…   20000     [OK]\n\
         bitnami/nginx        Bitnami container image for NGINX with a sec…   190       \n\
         someone/nginx-tiny                                                   3         \n"
    );
    assert_eq!(
        search(&[
            "search",
            "--no-trunc",
            "--format",
            "{{.Description}}",
            "nginx"
        ]),
        "Official build of Nginx, the high-performance web server and reverse proxy\n\
         Bitnami container image for NGINX with a second line\n\n"
    );
    assert_eq!(
        search(&[
            "search",
            "--filter",
            "stars=100",
            "--format",
            "{{.Name}}",
            "nginx"
        ]),
        "nginx\nbitnami/nginx\n"
    );
    assert_eq!(
        search(&[
            "search",
            "-f",
            "is-official=false",
            "--format",
            "{{.Name}}|{{.IsAutomated}}",
            "nginx"
        ]),
        "bitnami/nginx|\nsomeone/nginx-tiny|\n"
    );
    assert_eq!(
        search(&[
            "search",
            "--format",
            "table {{.Name}}\t{{.StarCount}}",
            "-f",
            "is-official=true",
            "library/nginx"
        ]),
        "NAME      STARS\nnginx     20000\n"
    );
    assert_eq!(
        search(&[
            "search",
            "--limit",
            "3",
            "--format",
            "json",
            "-f",
            "is-official=true",
            "nginx"
        ]),
        "{\"Description\":\"Official build of Nginx, the high-performanc…\",\"IsOfficial\":\"true\",\"Name\":\"nginx\",\"StarCount\":\"20000\"}\n"
    );
    // Docker's deprecated filter: a warning, and `true` finds nothing without asking.
    let automated = hoist_in(
        &h,
        &dcfg,
        &["search", "-f", "is-automated=true", "nginx"],
        None,
    );
    assert_eq!(automated.status, 0);
    assert_eq!(
        automated.stdout,
        "NAME      DESCRIPTION   STARS     OFFICIAL\n"
    );
    assert!(
        automated
            .stderr
            .starts_with("WARNING: the \"is-automated\" filter is deprecated")
    );
    assert_eq!(
        index.searches(),
        [
            "q=nginx&n=25",
            "q=nginx&n=25",
            "q=nginx&n=25",
            "q=nginx&n=25",
            "q=nginx&n=25",
            "q=nginx&n=3"
        ]
    );
}

#[test]
fn search_docker_hub_through_a_mirror() {
    let h = hoist();
    // A hoist registry as the mirror: it has the v1 search.
    let mirror = serve_hoist(&h, "mirror-data", &[]);
    if !push_repo(&mirror.addr, "library/busybox", None) {
        return skip("search_docker_hub_through_a_mirror", "curl not installed");
    }
    with_daemon_json(
        &h,
        &format!(r#"{{"registry-mirrors": ["http://{}"]}}"#, mirror.addr),
    );
    let dcfg = config_dir(&h, "docker-config");
    let found = hoist_in(
        &h,
        &dcfg,
        &["search", "--format", "{{.Name}}", "busy"],
        None,
    );
    assert_eq!(
        (found.status, found.stdout.as_str()),
        (0, "library/busybox\n"),
        "{found:?}"
    );

    // An endpoint for docker.io wins over the mirrors.
    let index = docker_hub_index();
    with_daemon_json(
        &h,
        &format!(
            r#"{{"registry-mirrors": ["http://{}"], "registry-endpoints": {{"docker.io": "http://{}"}}}}"#,
            mirror.addr, index.addr
        ),
    );
    let found = hoist_in(
        &h,
        &dcfg,
        &["search", "--format", "{{.Name}}", "--limit", "1", "nginx"],
        None,
    );
    assert_eq!(
        (found.status, found.stdout.as_str()),
        (0, "nginx\nbitnami/nginx\nsomeone/nginx-tiny\n"),
        "{found:?}"
    );
    assert_eq!(index.searches(), ["q=nginx&n=1"]);
}

#[test]
fn search_follows_every_mirror_in_order() {
    let h = hoist();
    let mirror = serve_hoist(&h, "mirror-data", &[]);
    if !push_repo(&mirror.addr, "library/busybox", None) {
        return skip("search_follows_every_mirror_in_order", "curl not installed");
    }
    let dcfg = config_dir(&h, "docker-config");
    let search = |term: &str| {
        let found = hoist_in(&h, &dcfg, &["search", "--format", "{{.Name}}", term], None);
        assert_eq!(found.status, 0, "{found:?}");
        found.stdout
    };
    // The first mirror is down; the second answers, so Docker Hub's index is never asked.
    with_daemon_json(
        &h,
        &format!(
            r#"{{"registry-mirrors": ["http://127.0.0.1:{}", "http://{}"]}}"#,
            free_port(),
            mirror.addr
        ),
    );
    assert_eq!(search("busy"), "library/busybox\n");

    // hoist's `mirrors` serve other registries' searches the same way; this origin is down.
    let origin = format!("127.0.0.1:{}", free_port());
    with_daemon_json(
        &h,
        &format!(
            r#"{{"mirrors": {{"{origin}": ["http://127.0.0.1:{}", "http://{}"]}}}}"#,
            free_port(),
            mirror.addr
        ),
    );
    assert_eq!(search(&format!("{origin}/busy")), "library/busybox\n");
}

#[test]
fn search_errors_read_as_docker_words_them() {
    let h = hoist();
    let dcfg = config_dir(&h, "docker-config");
    for (args, status, stderr) in [
        (
            &["search", "-f", "color=red", "x"][..],
            1,
            "Error: invalid filter 'color'\n",
        ),
        (
            &["search", "-f", "is-official=maybe", "x"][..],
            1,
            "Error: invalid filter 'is-official=[maybe]'\n",
        ),
        (
            &["search", "-f", "stars=many", "x"][..],
            1,
            "Error: invalid filter 'stars=many': strconv.Atoi: parsing \"many\": invalid syntax\n",
        ),
        (
            &["search", "-f", "stars", "x"][..],
            125,
            "invalid argument \"stars\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\nSee 'hoist search --help'.\n",
        ),
        (
            &["search", "--limit", "101", "x"][..],
            1,
            "Error: limit 101 is outside the range of [1, 100]\n",
        ),
        (
            &["search", "https://example.com/x"][..],
            1,
            "Error: invalid repository name: repository name (https://example.com/x) should not have a scheme\n",
        ),
    ] {
        let r = hoist_in(&h, &dcfg, args, None);
        assert_eq!(
            (r.status, r.stderr.as_str(), r.stdout.as_str()),
            (status, stderr, ""),
            "{args:?}"
        );
    }
}

/// A registry whose token service hands out a refresh token, as Docker Hub's does.
fn token_registry() -> StandIn {
    StandIn::start(|request, addr| {
        let basic_alice = format!("Basic {ALICE_AUTH}");
        if request.target == "/v2/" {
            return if request.authorization.as_deref() == Some("Bearer access-for-alice") {
                (200, Vec::new(), "{}".to_owned())
            } else {
                (
                    401,
                    vec![(
                        "WWW-Authenticate",
                        format!(r#"Bearer realm="http://{addr}/token",service="stand-in""#),
                    )],
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                        .to_owned(),
                )
            };
        }
        if request.method == "GET" && request.target.starts_with("/token?") {
            return if request.authorization.as_deref() == Some(basic_alice.as_str()) {
                (
                    200,
                    Vec::new(),
                    r#"{"token":"access-for-alice","refresh_token":"refresh-for-alice"}"#
                        .to_owned(),
                )
            } else {
                (
                    401,
                    Vec::new(),
                    r#"{"details":"incorrect username or password"}"#.to_owned(),
                )
            };
        }
        (404, Vec::new(), "{}".to_owned())
    })
}

#[test]
fn a_refresh_token_is_stored_as_the_identity_token() {
    let h = hoist();
    let registry = token_registry();
    let dcfg = config_dir(&h, "docker-config");
    let wrong = hoist_in(
        &h,
        &dcfg,
        &["login", "-u", USER, "--password-stdin", &registry.addr],
        Some(b"nope\n"),
    );
    assert_eq!(wrong.status, 1, "{wrong:?}");
    assert!(
        wrong.stderr.contains("incorrect username or password"),
        "{}",
        wrong.stderr
    );
    let ok = hoist_in(
        &h,
        &dcfg,
        &["login", "-u", USER, "--password-stdin", &registry.addr],
        Some(b"wonderland\n"),
    );
    assert_eq!(ok.status, 0, "{ok:?}");
    // No password was written, so no warning about one.
    assert_eq!(
        (ok.stdout.as_str(), ok.stderr.as_str()),
        ("Login Succeeded\n", "")
    );
    let config: serde_json::Value = serde_json::from_str(&config_json(&dcfg)).unwrap();
    assert_eq!(
        config["auths"][&registry.addr],
        serde_json::json!({"auth": "YWxpY2U6", "identitytoken": "refresh-for-alice"})
    );
}

/// Runs `command_line` in a shell on a pseudo-terminal (util-linux `script`), typing each answer when
/// its prompt appears. Returns everything the terminal showed once the shell ends.
fn on_a_terminal(h: &TestHoist, command_line: &str, answers: &[(&str, &str)]) -> String {
    let mut child = Command::new("script")
        .args(["-qec", command_line, "/dev/null"])
        .env("HOIST_ROOT", h.root())
        .env("HOIST_CONFIG", h.path("daemon.json"))
        .env("TZ", "UTC")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting script: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buffer) {
            if n == 0 || sender.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut shown = String::new();
    // Where the text after the last answer starts: each prompt is looked for from there.
    let mut answered = 0;
    for (prompt, answer) in answers {
        while !shown[answered..].contains(prompt) {
            match receiver.recv_timeout(Duration::from_secs(20)) {
                Ok(bytes) => shown.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!("no {prompt:?} on the terminal; it showed {shown:?}"),
            }
        }
        answered = shown.len();
        stdin.write_all(answer.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    while let Ok(bytes) = receiver.recv_timeout(Duration::from_secs(20)) {
        shown.push_str(&String::from_utf8_lossy(&bytes));
    }
    drop(stdin);
    let _ = child.wait();
    shown
}

fn login_command(h: &TestHoist, dcfg: &Path, args: &str) -> String {
    format!(
        "DOCKER_CONFIG='{}' '{}' login {args}",
        path_str(dcfg),
        path_str(&h.binary)
    )
}

#[test]
fn login_prompts_on_a_terminal_without_echoing_the_password() {
    if !runs("script") {
        return skip(
            "login_prompts_on_a_terminal_without_echoing_the_password",
            "util-linux script not installed",
        );
    }
    let h = hoist();
    let Some(htpasswd) = htpasswd(&h) else {
        return skip(
            "login_prompts_on_a_terminal_without_echoing_the_password",
            "htpasswd not installed",
        );
    };
    let reg = hoist_registry_with_auth(&h, &htpasswd);
    let dcfg = config_dir(&h, "docker-config");
    // A typo erased with backspace, as people type.
    let shown = on_a_terminal(
        &h,
        &login_command(&h, &dcfg, &reg.addr),
        &[
            ("Username: ", "alice\n"),
            ("Password: ", "wonderlanX\x7fd\n"),
        ],
    );
    assert!(
        shown.starts_with("Username: alice\r\nPassword: \r\n"),
        "the username is echoed, the password is not: {shown:?}"
    );
    assert!(shown.ends_with("Login Succeeded\r\n"), "{shown:?}");
    assert_eq!(
        config_json(&dcfg),
        docker_config_with(&reg.addr, ALICE_AUTH)
    );

    // The stored login fails now (a changed password), so the stored username is offered.
    std::fs::write(
        dcfg.join("config.json"),
        docker_config_with(&reg.addr, "YWxpY2U6b2xk"), // alice:old
    )
    .unwrap();
    let shown = on_a_terminal(
        &h,
        &login_command(&h, &dcfg, &reg.addr),
        &[("Username (alice): ", "\n"), ("Password: ", "wonderland\n")],
    );
    assert!(shown.contains("Login Succeeded"), "{shown:?}");
    assert_eq!(
        config_json(&dcfg),
        docker_config_with(&reg.addr, ALICE_AUTH)
    );

    // Ctrl-C at the password prompt: nothing stored, exit 130, and the terminal echoes again.
    let dcfg = config_dir(&h, "interrupted");
    let shown = on_a_terminal(
        &h,
        &format!(
            "{}; echo \"status=$?\"; stty -a",
            login_command(&h, &dcfg, &format!("-u alice {}", reg.addr))
        ),
        &[("Password: ", "wond\x03")],
    );
    assert!(shown.contains("status=130"), "{shown:?}");
    assert!(
        shown.split_whitespace().any(|flag| flag == "echo"),
        "echo is back on: {shown:?}"
    );
    assert!(!dcfg.join("config.json").exists());
}
