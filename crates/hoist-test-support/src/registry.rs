//! Registries for CLI tests: `hoist registry serve` and Debian's `docker-registry` (distribution 2.8)
//! on a free 127.0.0.1 port, each killed by pid when its handle drops.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::TestHoist;

/// A running registry process, killed on drop.
#[derive(Debug)]
pub struct Served {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Served {
    /// The process id (for tests that stop or signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(15000)
}

fn wait_listening(child: Child, addr: String, what: &str) -> Served {
    let served = Served { child, addr };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(&served.addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {}",
            served.addr
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    served
}

/// `hoist registry serve` with its data under `h`'s directory (`data_dir` names it, so two
/// registries of one test stay apart) and extra REGISTRY_* variables from `env`.
pub fn serve_hoist(h: &TestHoist, data_dir: &str, env: &[(&str, String)]) -> Served {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = h.command();
    cmd.args(["registry", "serve"])
        .env("REGISTRY_HTTP_ADDR", &addr)
        .env(
            "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY",
            h.path(data_dir),
        )
        .env("REGISTRY_STORAGE_DELETE_ENABLED", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting hoist registry serve: {e}"));
    wait_listening(child, addr, "hoist registry serve")
}

/// Whether Debian's distribution registry is installed.
pub fn distribution_available() -> bool {
    Command::new("docker-registry")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// distribution 2.8 (`docker-registry serve`) with its data in `dir` and `extra_yaml` appended to its
/// configuration (e.g. an `auth:` or `http.tls` section, at top level). `None` when not installed.
pub fn serve_distribution(dir: &Path, extra_yaml: &str) -> Option<Served> {
    if !distribution_available() {
        return None;
    }
    let addr = format!("127.0.0.1:{}", free_port());
    std::fs::create_dir_all(dir).ok()?;
    let config = dir.join("config.yml");
    let yaml = format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{extra_yaml}",
        dir.join("data").display()
    );
    std::fs::write(&config, yaml).ok()?;
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(wait_listening(child, addr, "docker-registry"))
}
