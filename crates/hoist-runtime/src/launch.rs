//! The caller's side: starting stage 1 of the container init, learning whether the command started,
//! waiting for its exit, signalling it, and opening a pty for `-t`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::str::FromStr;

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, pipe2};

use crate::error::{RuntimeError, StartFailure};
use crate::init::{INIT_SUBCOMMAND, inheritable};

/// The container's standard streams (passed through stage 1 to the command).
#[derive(Debug)]
pub struct Stdio3 {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

impl Stdio3 {
    /// The caller's own streams.
    pub fn inherit() -> Self {
        Stdio3 {
            stdin: Stdio::inherit(),
            stdout: Stdio::inherit(),
            stderr: Stdio::inherit(),
        }
    }

    /// All three on one pty slave (or any other file), for `-t`.
    pub fn from_fd(fd: &OwnedFd) -> std::io::Result<Self> {
        Ok(Stdio3 {
            stdin: Stdio::from(fd.try_clone()?),
            stdout: Stdio::from(fd.try_clone()?),
            stderr: Stdio::from(fd.try_clone()?),
        })
    }
}

/// How the container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// The command's exit code, or 128+signal when a signal ended it (as Docker reports it).
    pub code: i32,
}

/// A started container: its command has been exec'd.
#[derive(Debug)]
pub struct RunningContainer {
    /// Host PID of the container's PID 1 (the command); signal this to reach the container.
    pub pid: u32,
    /// Host PID of stage 1 (the monitor that forwards signals and reaps the container).
    pub init_pid: u32,
    child: Child,
    report: BufReader<File>,
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 125,
    }
}

/// Starts the container described by `spec_file` (see [`crate::ContainerSpec::save`]): spawns
/// `exe __init <spec_file> <report-fd>` with `stdio` and returns once the command was exec'd, or with the
/// reason it was not (Docker's wording; [`RuntimeError::exit_code`] gives Docker's exit code).
///
/// The report pipe's write end is inheritable only for the spawn; a child another thread forks in that
/// moment may hold it too, which can only delay noticing an init that died without reporting.
pub fn start(
    exe: &Path,
    spec_file: &Path,
    stdio: Stdio3,
) -> Result<RunningContainer, RuntimeError> {
    let (report_read, report_write) = pipe2(OFlag::O_CLOEXEC).map_err(RuntimeError::Pipe)?;
    inheritable(&report_write).map_err(RuntimeError::Pipe)?;
    let spawned = Command::new(exe)
        .arg(INIT_SUBCOMMAND)
        .arg(spec_file)
        .arg(report_write.as_raw_fd().to_string())
        .stdin(stdio.stdin)
        .stdout(stdio.stdout)
        .stderr(stdio.stderr)
        .spawn();
    drop(report_write);
    let mut child = spawned.map_err(|source| RuntimeError::Spawn {
        exe: exe.to_path_buf(),
        source,
    })?;
    let init_pid = child.id();
    let mut report = BufReader::new(File::from(report_read));
    let mut line = String::new();
    if let Err(source) = report.read_line(&mut line) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(RuntimeError::Report {
            pid: init_pid,
            source,
        });
    }
    let line = line.trim_end();
    let (kind, payload) = line.split_once(' ').unwrap_or((line, ""));
    match kind {
        "started" => match payload.parse() {
            Ok(pid) => Ok(RunningContainer {
                pid,
                init_pid,
                child,
                report,
            }),
            Err(_) => Err(malformed(child, line)),
        },
        "failed" => match serde_json::from_str::<StartFailure>(payload) {
            Ok(failure) => {
                // Stage 1 exits right after reporting; reap it.
                let _ = child.wait();
                Err(RuntimeError::Start(failure))
            }
            Err(_) => Err(malformed(child, line)),
        },
        "" => {
            let status = child.wait().map_err(|source| RuntimeError::Wait {
                pid: init_pid,
                source,
            })?;
            Err(RuntimeError::InitExited {
                pid: init_pid,
                code: exit_code(status),
            })
        }
        _ => Err(malformed(child, line)),
    }
}

fn malformed(mut child: Child, line: &str) -> RuntimeError {
    let pid = child.id();
    let _ = child.kill();
    let _ = child.wait();
    RuntimeError::MalformedReport {
        pid,
        line: line.to_string(),
    }
}

impl RunningContainer {
    /// Waits for the container to exit and for stage 1 to clean up after it.
    pub fn wait(mut self) -> Result<ExitStatus, RuntimeError> {
        let status = self.child.wait().map_err(|source| RuntimeError::Wait {
            pid: self.init_pid,
            source,
        })?;
        let code = exit_code(status);
        let mut rest = String::new();
        // Stage 1 has exited, so this reads to end of file at once.
        while matches!(self.report.read_line(&mut rest), Ok(n) if n > 0) {}
        for line in rest.lines() {
            if let Some(detail) = line.strip_prefix("cleanup-failed ") {
                let detail = serde_json::from_str(detail).unwrap_or_else(|_| detail.to_string());
                return Err(RuntimeError::CgroupCleanup {
                    exit_code: code,
                    detail,
                });
            }
        }
        Ok(ExitStatus { code })
    }

    /// The container's stdin when [`Stdio3`] asked for a pipe.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// The container's stdout when [`Stdio3`] asked for a pipe.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// The container's stderr when [`Stdio3`] asked for a pipe.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }
}

/// Sends signal number `signal` to process `pid` (for example a recorded [`RunningContainer::pid`]).
pub fn send_signal(pid: u32, signal: i32) -> Result<(), RuntimeError> {
    let errno = |errno| RuntimeError::Signal { pid, signal, errno };
    let target = i32::try_from(pid)
        .map(Pid::from_raw)
        .map_err(|_| errno(nix::errno::Errno::ESRCH))?;
    let signal_value = Signal::try_from(signal).map_err(errno)?;
    kill(target, signal_value).map_err(errno)
}

/// Parses a signal as `docker kill -s` accepts it: `KILL`, `SIGKILL`, `kill` or `9`.
pub fn parse_signal(name: &str) -> Result<i32, RuntimeError> {
    let unknown = || RuntimeError::UnknownSignal(name.to_string());
    if let Ok(number) = name.parse::<i32>() {
        return Signal::try_from(number)
            .map(|s| s as i32)
            .map_err(|_| unknown());
    }
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&full)
        .map(|s| s as i32)
        .map_err(|_| unknown())
}

/// A pseudo-terminal pair for `-t`: give the slave to [`Stdio3::from_fd`], keep the master.
#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Opens a new pseudo-terminal. Both ends are close-on-exec, so neither leaks into the container except
/// as the stdio it is given.
pub fn open_pty() -> Result<Pty, RuntimeError> {
    let pair = nix::pty::openpty(None, None).map_err(RuntimeError::Pty)?;
    for fd in [&pair.master, &pair.slave] {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(RuntimeError::Pty)?;
    }
    Ok(Pty {
        master: pair.master,
        slave: pair.slave,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("999").is_err());
    }
}
