//! `exec`: a command in a running container, in its namespaces and root, confined as the container is
//! (or as `--privileged` says), with the container's environment under `-e`/`--env-file`.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::run::{Attach, ContainerIo, runtime_spec};
use super::{container_dir, find};
use crate::{Hoist, OpsError};

/// What `exec` runs and how.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// `-e KEY=VALUE` or `-e KEY` (from `host_env`).
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    /// `-u`, over the container's user.
    pub user: Option<String>,
    /// `-w`, over the container's working directory.
    pub workdir: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    /// `-d`: start it and return.
    pub detach: bool,
    pub privileged: bool,
    /// The caller's environment, for `-e KEY`.
    pub host_env: BTreeMap<String, String>,
}

/// Runs `opts.command` in the running container `input`; returns its exit code (0 at once with
/// `detach`).
pub fn exec(hoist: &Hoist, input: &str, opts: &ExecOptions) -> Result<i32, OpsError> {
    let container = find(hoist, input)?;
    container.ensure_running()?;
    if container.state.paused {
        return Err(OpsError::InvalidOption(format!(
            "Container {} is paused, unpause the container before exec",
            container.id
        )));
    }
    if opts.command.is_empty() {
        return Err(OpsError::InvalidOption(
            "No exec command specified".to_owned(),
        ));
    }
    if let Some(dir) = opts.workdir.as_deref().filter(|d| !d.starts_with('/')) {
        return Err(OpsError::InvalidOption(format!(
            "the working directory '{dir}' is invalid, it needs to be an absolute path"
        )));
    }
    let mut spec = runtime_spec(hoist, &container)?;
    let mut extra = Vec::new();
    for file in &opts.env_files {
        extra.extend(super::create::read_env_file(file, &opts.host_env)?);
    }
    for entry in &opts.env {
        extra.extend(super::create::env_entry(entry, &opts.host_env)?);
    }
    if opts.tty {
        extra.push("TERM=xterm".to_owned());
    }
    spec.env = super::create::merge_env(spec.env, extra);
    spec.args = opts.command.clone();
    if let Some(user) = &opts.user {
        spec.user = user.clone();
    }
    if let Some(dir) = &opts.workdir {
        spec.cwd = dir.clone();
    }
    spec.tty = opts.tty;
    spec.join = Some(container.state.pid);
    spec.slirp = None;
    if opts.privileged {
        spec.confinement = hoist_runtime::Confinement::privileged();
    }
    let spec_file = container_dir(hoist, &container.id).join(format!(
        "exec-{}-{}.json",
        std::process::id(),
        crate::now_nanos()
    ));
    // Serialising plain data cannot fail.
    std::fs::write(&spec_file, serde_json::to_vec(&spec).unwrap_or_default()).map_err(|error| {
        OpsError::Input {
            source_name: spec_file.display().to_string(),
            error,
        }
    })?;
    let result = run(hoist, &spec_file, opts);
    let _ = std::fs::remove_file(&spec_file);
    result
}

fn run(hoist: &Hoist, spec_file: &std::path::Path, opts: &ExecOptions) -> Result<i32, OpsError> {
    let attach = if opts.detach {
        Attach::LogOnly
    } else {
        Attach::Terminal
    };
    let mut io = ContainerIo::new(opts.tty, opts.interactive && !opts.detach, attach)?;
    let running = hoist_runtime::start(&hoist.settings.self_exe, spec_file, io.child_stdio()?)?;
    // An exec's output is not the container's log.
    let log = File::options()
        .write(true)
        .open("/dev/null")
        .map_err(|error| OpsError::Input {
            source_name: "/dev/null".to_owned(),
            error,
        })?;
    let copiers = io.start_copying(attach, &Arc::new(Mutex::new(log)));
    if opts.detach {
        return Ok(0);
    }
    let status = running.wait();
    for copier in copiers {
        let _ = copier.join();
    }
    Ok(status.map_or(255, |s| s.code))
}
