//! Runs the `hoist` binary against a private store in a temp dir, with a fixed environment (UTC, an empty
//! daemon.json) so outputs are comparable across machines.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A private hoist root plus the binary under test.
#[derive(Debug)]
pub struct TestHoist {
    pub dir: tempfile::TempDir,
    pub binary: PathBuf,
}

/// What a run printed.
#[derive(Debug, Clone)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            status: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl TestHoist {
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("creating a temp dir: {e}"),
        };
        if let Err(e) = std::fs::write(dir.path().join("daemon.json"), "{}") {
            panic!("writing daemon.json: {e}");
        }
        Self {
            dir,
            binary: binary.into(),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A command with the test environment set.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.binary);
        c.env("HOIST_ROOT", self.root())
            .env("HOIST_CONFIG", self.dir.path().join("daemon.json"))
            .env("TZ", "UTC")
            .env_remove("RUST_LOG")
            // The caller's Docker settings must not reach the hoist under test.
            .env_remove("DOCKER_CONTENT_TRUST")
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        match self.command().args(args).output() {
            Ok(o) => o.into(),
            Err(e) => panic!("running hoist {args:?}: {e}"),
        }
    }

    /// Runs with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        let mut child = match self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!("running hoist {args:?}: {e}"),
        };
        if let Some(mut stdin) = child.stdin.take() {
            // The command may stop reading early (an error); that is for the test to judge.
            let _ = stdin.write_all(input);
        }
        match child.wait_with_output() {
            Ok(o) => o.into(),
            Err(e) => panic!("waiting for hoist {args:?}: {e}"),
        }
    }

    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(
            r.status, 0,
            "hoist {args:?} failed:\nstdout: {}\nstderr: {}",
            r.stdout, r.stderr
        );
        r.stdout
    }

    /// Writes bytes to a file in the test dir and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        if let Err(e) = std::fs::write(&p, bytes) {
            panic!("writing {}: {e}", p.display());
        }
        p
    }

    /// Loads a docker-archive of `images` and returns stdout.
    pub fn load(&self, archive: &[u8]) -> String {
        let p = self.write("fixture.tar", archive);
        self.ok(&["load", "-i", path_str(&p)])
    }
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}
