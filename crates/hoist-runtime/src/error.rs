//! The runtime's errors: [`StartFailure`] for what goes wrong inside the init stages (sent back to the
//! caller over a pipe, so it is plain data), [`RuntimeError`] for everything the caller sees.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Why the container's command did not start. The messages are runc's and Docker's, word for word where
/// Docker has one, because scripts match on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum StartFailure {
    #[error("exec: \"{command}\": executable file not found in $PATH")]
    CommandNotFound { command: String },
    #[error("exec: \"{path}\": stat {path}: {reason}")]
    CommandStat { path: String, reason: String },
    #[error("exec: \"{path}\": permission denied")]
    NotExecutable { path: String },
    #[error("exec: \"{path}\": is a directory")]
    IsDirectory { path: String },
    /// execve itself failed (for example a missing script interpreter or an unknown binary format).
    #[error("exec {path}: {reason}")]
    Exec { path: String, reason: String },
    #[error("no command specified")]
    NoCommand,
    #[error("unable to find user {user}: no matching entries in passwd file")]
    UnknownUser { user: String },
    #[error("unable to find group {group}: no matching entries in group file")]
    UnknownGroup { group: String },
    #[error("invalid user {user:?}: uids and gids must be in range 0-2147483647")]
    IdOutOfRange { user: String },
    #[error("chdir to cwd (\"{cwd}\") set in config.json failed: {reason}")]
    WorkingDirectory { cwd: String, reason: String },
    /// Any other step of setting the container up; `step` names it with its paths.
    #[error("{step}: {reason}")]
    Setup { step: String, reason: String },
}

impl StartFailure {
    /// The exit code `docker run` gives for this failure: the Docker CLI classifies the daemon's message
    /// text, so this does the same (127 not found, 126 cannot be invoked, 125 anything else).
    pub fn exit_code(&self) -> i32 {
        docker_start_exit_code(&self.to_string())
    }

    pub(crate) fn setup(step: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        StartFailure::Setup {
            step: step.into(),
            reason: reason.to_string(),
        }
    }
}

/// Docker CLI's `runStartContainerErr`: the exit code is derived from the error's text.
fn docker_start_exit_code(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
        || message.contains("system cannot find the file specified")
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

/// An errno's text as Go (and so runc and Docker) prints it: libc's wording with a lower-case first letter.
pub(crate) fn errno_text(errno: nix::errno::Errno) -> String {
    let text = errno.desc();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An I/O error's text in Go's wording when it carries an errno.
pub fn io_error_text(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => errno_text(nix::errno::Errno::from_raw(code)),
        None => error.to_string(),
    }
}

/// Errors of the runtime API.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The container was set up but its command could not be started, or setting it up failed.
    #[error(transparent)]
    Start(#[from] StartFailure),
    #[error("reading container spec {path}: {source}")]
    SpecRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing container spec {path}: {source}")]
    SpecParse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("encoding container spec for {path}: {source}")]
    SpecEncode {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("writing container spec {path}: {source}")]
    SpecWrite {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("creating the report pipe: {0}")]
    Pipe(nix::errno::Errno),
    #[error("starting container init {exe}: {source}")]
    Spawn {
        exe: PathBuf,
        source: std::io::Error,
    },
    #[error("reading the report of container init (pid {pid}): {source}")]
    Report { pid: u32, source: std::io::Error },
    #[error("container init (pid {pid}) sent a malformed report: {line:?}")]
    MalformedReport { pid: u32, line: String },
    #[error("container init (pid {pid}) exited with code {code} before the command started")]
    InitExited { pid: u32, code: i32 },
    #[error("waiting for container init (pid {pid}): {source}")]
    Wait { pid: u32, source: std::io::Error },
    /// The container exited with `exit_code`, but its cgroup could not be removed afterwards.
    #[error("container exited with code {exit_code}, but removing its cgroup failed: {detail}")]
    CgroupCleanup { exit_code: i32, detail: String },
    #[error("unknown signal {0:?}")]
    UnknownSignal(String),
    #[error("sending signal {signal} to process {pid}: {errno}")]
    Signal {
        pid: u32,
        signal: i32,
        errno: nix::errno::Errno,
    },
    #[error("opening a pseudo-terminal: {0}")]
    Pty(nix::errno::Errno),
}

impl RuntimeError {
    /// The exit code Docker uses when a container fails this way: 127 or 126 for commands that cannot be
    /// found or run, 125 for any other failure to start.
    pub fn exit_code(&self) -> i32 {
        match self {
            RuntimeError::Start(failure) => failure.exit_code(),
            _ => 125,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_docker() {
        let not_found = StartFailure::CommandNotFound {
            command: "nosuch".into(),
        };
        assert_eq!(
            not_found.to_string(),
            "exec: \"nosuch\": executable file not found in $PATH"
        );
        assert_eq!(not_found.exit_code(), 127);
        let missing = StartFailure::CommandStat {
            path: "/x".into(),
            reason: errno_text(nix::errno::Errno::ENOENT),
        };
        assert_eq!(
            missing.to_string(),
            "exec: \"/x\": stat /x: no such file or directory"
        );
        assert_eq!(missing.exit_code(), 127);
        let denied = StartFailure::NotExecutable {
            path: "/etc/passwd".into(),
        };
        assert_eq!(
            denied.to_string(),
            "exec: \"/etc/passwd\": permission denied"
        );
        assert_eq!(RuntimeError::from(denied).exit_code(), 126);
        let user = StartFailure::UnknownUser { user: "bob".into() };
        assert_eq!(
            user.to_string(),
            "unable to find user bob: no matching entries in passwd file"
        );
        assert_eq!(user.exit_code(), 125);
    }
}
