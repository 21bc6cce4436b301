//! The real peers on this machine: a running Docker Engine and skopeo. Tests that need one call these and
//! skip with a printed reason when it truly cannot run.

use std::process::{Command, Stdio};

/// True when a Docker Engine answers.
pub fn docker_available() -> bool {
    Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// True when the skopeo binary runs.
pub fn skopeo_available() -> bool {
    Command::new("skopeo")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Prints why a test is skipped (shown with `--nocapture` and in CI logs of failing runs).
pub fn skip(test: &str, reason: &str) {
    eprintln!("SKIPPED {test}: {reason}");
}

/// Runs a peer command and returns (status, stdout, stderr).
pub fn run(program: &str, args: &[&str]) -> (i32, String, String) {
    output(Command::new(program).args(args))
}

/// Runs the Docker CLI with its config in `config` (so `docker login` leaves ~/.docker alone) and
/// returns (status, stdout, stderr).
pub fn docker_in(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    output(
        Command::new("docker")
            .args(args)
            .env("DOCKER_CONFIG", config),
    )
}

fn output(command: &mut Command) -> (i32, String, String) {
    match command.stdin(Stdio::null()).output() {
        Ok(o) => (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ),
        Err(e) => (-1, String::new(), e.to_string()),
    }
}
