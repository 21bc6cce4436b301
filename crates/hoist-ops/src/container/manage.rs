//! Managing containers that exist: `stop`, `kill`, `pause`, `unpause`, `restart`, `wait`, `rename`,
//! `rm`, `container prune`,
//! their processes for `top`, and reading `logs`.
//!
//! Signals go straight to the container's PID 1 (its host PID is in the state); the process that
//! waits for the container records the exit, so these commands wait for that record rather than for
//! the process.

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use super::run::wait_stopped;
use super::{Container, container_dir, find, load, log_path, remove_tree};
use crate::filters::{Filters, parse_timestamp};
use crate::{Hoist, OpsError};

/// How long `stop` waits after SIGTERM before SIGKILL, as Docker's default.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait for a killed container's monitor to record the exit.
const RECORD_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses a signal name or number as Docker's `kill -s` and `STOPSIGNAL` accept them (`KILL`, `SIGKILL`, `9`),
/// with the runtime's parser.
pub fn parse_signal(text: &str) -> Result<Signal, OpsError> {
    hoist_runtime::parse_signal(text)
        .ok()
        .and_then(|number| Signal::try_from(number).ok())
        .ok_or_else(|| OpsError::InvalidOption(format!("Invalid signal: {text}")))
}

fn signal(container: &Container, sig: Signal) -> Result<(), OpsError> {
    let pid = i32::try_from(container.state.pid).unwrap_or(0);
    if pid <= 0 {
        return Err(OpsError::NotRunning {
            name: container.name.clone(),
            id: container.id.clone(),
        });
    }
    match kill(Pid::from_raw(pid), sig) {
        // Gone already: its monitor is recording the exit.
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(OpsError::InvalidOption(format!(
            "Cannot kill container: {}: {e}",
            container.name
        ))),
    }
}

/// `stop [-s SIGNAL] [-t N]`: `stop_signal` (else the image's, else SIGTERM), then SIGKILL after `timeout`.
/// A container that is not running is left as it is (Docker prints its name all the same).
pub fn stop(
    hoist: &Hoist,
    input: &str,
    stop_signal: Option<Signal>,
    timeout: Option<Duration>,
) -> Result<(), OpsError> {
    let mut container = find(hoist, input)?;
    if !container.is_running() {
        return Ok(());
    }
    thaw(hoist, &mut container)?;
    let stop_signal = match (stop_signal, container.setup.config.stop_signal.as_deref()) {
        (Some(signal), _) => signal,
        (None, Some(s)) if !s.is_empty() => parse_signal(s)?,
        _ => Signal::SIGTERM,
    };
    let timeout = timeout
        .or_else(|| {
            container
                .setup
                .config
                .stop_timeout
                .and_then(|t| u64::try_from(t).ok())
                .map(Duration::from_secs)
        })
        .unwrap_or(DEFAULT_STOP_TIMEOUT);
    signal(&container, stop_signal)?;
    if !wait_stopped(hoist, &container.id, timeout)?.is_running() {
        return Ok(());
    }
    let container = load(hoist, &container.id)?;
    if container.is_running() {
        signal(&container, Signal::SIGKILL)?;
        wait_stopped(hoist, &container.id, RECORD_TIMEOUT)?;
    }
    Ok(())
}

/// `kill [-s SIGNAL]`.
pub fn kill_container(hoist: &Hoist, input: &str, sig: Signal) -> Result<(), OpsError> {
    let mut container = find(hoist, input)?;
    if !container.is_running() {
        return Err(OpsError::NotRunning {
            name: input.to_owned(),
            id: container.id,
        });
    }
    if container.state.paused && sig != Signal::SIGKILL {
        return Err(OpsError::InvalidOption(format!(
            "Container {} is paused. Unpause the container before stopping or killing",
            container.id
        )));
    }
    thaw(hoist, &mut container)?;
    signal(&container, sig)?;
    if sig == Signal::SIGKILL {
        wait_stopped(hoist, &container.id, RECORD_TIMEOUT)?;
    }
    Ok(())
}

/// `rm [-f]`: refuses a running container unless forced (then kills it first).
pub fn remove(hoist: &Hoist, input: &str, force: bool) -> Result<(), OpsError> {
    let mut container = find(hoist, input)?;
    if container.is_running() {
        if !force {
            return Err(OpsError::ContainerRunning { id: container.id });
        }
        thaw(hoist, &mut container)?;
        signal(&container, Signal::SIGKILL)?;
        wait_stopped(hoist, &container.id, RECORD_TIMEOUT)?;
    }
    remove_files(hoist, &container.id)
}

/// Deletes the container's snapshot, its directory and its record, in that order so that a failure
/// leaves a record `rm` can retry.
pub(crate) fn remove_files(hoist: &Hoist, id: &str) -> Result<(), OpsError> {
    hoist.store.remove_container_snapshot(id)?;
    remove_tree(&container_dir(hoist, id))?;
    hoist.store.remove_container(id)?;
    Ok(())
}

/// Filter keys `container prune` accepts.
pub const PRUNE_FILTERS: &[&str] = &["until", "label", "label!"];

/// What `container prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub removed: Vec<String>,
    /// Bytes of the removed containers' writable layers.
    pub reclaimed: u64,
}

/// `container prune`: every stopped container matching the filters.
pub fn prune(hoist: &Hoist, filters: &Filters) -> Result<PruneReport, OpsError> {
    let now = crate::now_nanos();
    let until = filters
        .get("until")
        .iter()
        .map(|v| parse_timestamp(v, now))
        .collect::<Result<Vec<_>, _>>()?;
    let mut report = PruneReport::default();
    for record in hoist.store.list_containers()? {
        let container = Container::from_record(record)?;
        if container.is_running()
            || until.iter().any(|u| container.created >= *u)
            || !filters.labels_match(&container.labels())
        {
            continue;
        }
        let (rw, _) = hoist.store.container_sizes(&container.id).unwrap_or((0, 0));
        remove_files(hoist, &container.id)?;
        report.reclaimed += rw;
        report.removed.push(container.id);
    }
    Ok(report)
}

/// `logs` options.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    pub follow: bool,
    pub timestamps: bool,
    /// `--tail N`: only the last N lines (`all` is `None`).
    pub tail: Option<usize>,
    /// `--since`: only lines logged at or after this time (Unix nanoseconds).
    pub since: Option<i64>,
    /// `--until`: only lines logged before this time (Unix nanoseconds).
    pub until: Option<i64>,
}

/// Writes the container's logged output to `stdout`/`stderr` by stream; with `follow`, keeps reading
/// until the container stops.
pub fn logs(
    hoist: &Hoist,
    input: &str,
    opts: &LogsOptions,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<(), OpsError> {
    let container = find(hoist, input)?;
    let path = log_path(hoist, &container.id);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !opts.follow => return Ok(()),
        Err(error) => {
            return Err(OpsError::Input {
                source_name: path.display().to_string(),
                error,
            });
        }
    };
    let mut reader = BufReader::new(file);
    let io_err = |error| OpsError::Input {
        source_name: path.display().to_string(),
        error,
    };
    let mut emit = |line: &str| -> Result<(), OpsError> {
        let Ok(record) = serde_json::from_str::<Value>(line) else {
            return Ok(());
        };
        if opts.since.is_some() || opts.until.is_some() {
            let time = record
                .get("time")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .and_then(|t| t.timestamp_nanos_opt());
            let outside = time.is_some_and(|t| {
                opts.since.is_some_and(|since| t < since)
                    || opts.until.is_some_and(|until| t >= until)
            });
            if outside {
                return Ok(());
            }
        }
        let text = record.get("log").and_then(Value::as_str).unwrap_or("");
        let out: &mut dyn Write = match record.get("stream").and_then(Value::as_str) {
            Some("stderr") => stderr,
            _ => stdout,
        };
        if opts.timestamps {
            let time = record.get("time").and_then(Value::as_str).unwrap_or("");
            write!(out, "{time} ").map_err(io_err)?;
        }
        out.write_all(text.as_bytes()).map_err(io_err)?;
        out.flush().map_err(io_err)
    };
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).map_err(io_err)? > 0 {
        lines.push(std::mem::take(&mut line));
    }
    let skip = opts.tail.map_or(0, |n| lines.len().saturating_sub(n));
    for l in &lines[skip..] {
        emit(l)?;
    }
    if !opts.follow {
        return Ok(());
    }
    loop {
        let read = reader.read_line(&mut line).map_err(io_err)?;
        if read > 0 && line.ends_with('\n') {
            emit(&line)?;
            line.clear();
            continue;
        }
        if !load(hoist, &container.id)?.is_running() {
            // Whatever the monitor wrote before recording the exit.
            while reader.read_line(&mut line).map_err(io_err)? > 0 {
                emit(&line)?;
                line.clear();
            }
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `pause`: freezes every process of a running container (its cgroup's freezer).
pub fn pause(hoist: &Hoist, input: &str) -> Result<(), OpsError> {
    let mut container = find(hoist, input)?;
    container.ensure_running()?;
    if container.state.paused {
        return Err(OpsError::InvalidOption(format!(
            "Container {} is already paused",
            container.id
        )));
    }
    hoist_runtime::freeze(container.state.pid, true).map_err(OpsError::InvalidOption)?;
    container.state.paused = true;
    super::save_state(&hoist.store, &container.id, &container.state)
}

/// `unpause`: thaws a paused container.
pub fn unpause(hoist: &Hoist, input: &str) -> Result<(), OpsError> {
    let mut container = find(hoist, input)?;
    if !container.is_running() || !container.state.paused {
        return Err(OpsError::InvalidOption(format!(
            "Container {} is not paused",
            container.id
        )));
    }
    thaw(hoist, &mut container)
}

/// Thaws a paused container before it is signalled (a frozen process takes no signal, not even KILL).
fn thaw(hoist: &Hoist, container: &mut Container) -> Result<(), OpsError> {
    if container.state.paused && container.is_running() {
        hoist_runtime::freeze(container.state.pid, false).map_err(OpsError::InvalidOption)?;
        container.state.paused = false;
        super::save_state(&hoist.store, &container.id, &container.state)?;
    }
    Ok(())
}

/// `wait`: blocks until the container is not running and returns its exit code.
pub fn wait(hoist: &Hoist, input: &str) -> Result<i32, OpsError> {
    let container = find(hoist, input)?;
    loop {
        let now = wait_stopped(hoist, &container.id, Duration::from_secs(3600))?;
        if !now.is_running() {
            return Ok(now.state.exit_code);
        }
    }
}

/// `rename OLD NEW`, with Docker's checks and wording.
pub fn rename(hoist: &Hoist, input: &str, new_name: &str) -> Result<(), OpsError> {
    let container = find(hoist, input)?;
    let new_name = new_name.strip_prefix('/').unwrap_or(new_name);
    if new_name.is_empty() {
        return Err(OpsError::InvalidOption(
            "Neither old nor new names may be empty".to_owned(),
        ));
    }
    if new_name == container.name {
        return Err(OpsError::InvalidOption(
            "Renaming a container with the same name as its current name".to_owned(),
        ));
    }
    super::create::check_name(new_name)?;
    hoist.store.rename_container(&container.id, new_name)?;
    Ok(())
}

/// `restart [-s SIGNAL] [-t N]`: stops a running container as `stop` does, then starts it detached.
pub fn restart(
    hoist: &Hoist,
    input: &str,
    stop_signal: Option<Signal>,
    timeout: Option<Duration>,
) -> Result<(), OpsError> {
    let container = find(hoist, input)?;
    stop(hoist, &container.id, stop_signal, timeout)?;
    super::run::start_detached(hoist, &container.id)
}

/// The host PIDs of every process in the container (its PID namespace).
pub fn processes(hoist: &Hoist, input: &str) -> Result<(Container, Vec<u32>), OpsError> {
    let container = find(hoist, input)?;
    container.ensure_running()?;
    let namespace = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(own) = namespace(&container.state.pid.to_string()) else {
        return Ok((container, Vec::new()));
    };
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .map_err(|error| OpsError::Input {
            source_name: "/proc".to_owned(),
            error,
        })?
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| namespace(&pid.to_string()).as_ref() == Some(&own))
        .collect();
    pids.sort_unstable();
    Ok((container, pids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_as_docker_accepts_them() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(
            parse_signal("NOPE").unwrap_err().to_string(),
            "Invalid signal: NOPE"
        );
    }
}
