//! Container commands: `run`, `create`, `start`, `stop`, `kill`, `logs`, `ps`, `rm`, `container prune`,
//! `commit`, `export`, `diff`, and the hidden `__monitor` that waits for a detached container.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};
use hoist_ops::container::create::CreateOptions;
use hoist_ops::container::list::{PsOptions, PsRow};
use hoist_ops::container::run::Attach;
use hoist_ops::container::{Container, Status};
use hoist_ops::filters::Filters;
use hoist_ops::{Hoist, OpsError};
use hoist_render::TableSpec;
use serde::Serialize;

use crate::cli::{
    CommitArgs, ContainerFlags, ContainerPruneArgs, CreateArgs, DiffArgs, ExecArgs, ExportArgs,
    KillArgs, LogsArgs, MonitorArgs, PortArgs, PsArgs, PullArgs, RenameArgs, RmArgs, RunArgs,
    StartArgs, StopArgs, TopArgs, WaitArgs,
};
use crate::output;

/// Docker's exit status when the container could not be created or started for a reason of its own.
const RUN_ERROR: u8 = 125;

fn create_options(flags: &ContainerFlags, attach: bool) -> Result<CreateOptions> {
    let mut labels = Vec::new();
    for file in &flags.label_file {
        labels.extend(read_label_file(file)?);
    }
    labels.extend(flags.label.iter().cloned());
    if let Some(isolation) = flags.isolation.as_deref()
        && !matches!(isolation, "" | "default" | "process")
    {
        bail!("invalid isolation: {isolation:?} (only \"default\" on Linux)");
    }
    Ok(CreateOptions {
        image: flags.image().to_owned(),
        command: flags.command().to_vec(),
        name: flags.name.clone(),
        env: flags.env.clone(),
        env_files: flags.env_file.clone(),
        workdir: flags.workdir.clone(),
        user: flags.user.clone(),
        entrypoint: flags.entrypoint.clone(),
        volumes: flags.volume.clone(),
        network: flags.network.clone(),
        hostname: flags.hostname.clone(),
        labels,
        tty: flags.tty,
        interactive: flags.interactive,
        attach,
        auto_remove: flags.rm,
        memory: flags.memory.clone(),
        cpus: flags.cpus.clone(),
        host_env: std::env::vars().collect::<BTreeMap<_, _>>(),
        stop_signal: flags.stop_signal.clone(),
        stop_timeout: flags.stop_timeout,
        cap_add: flags.cap_add.clone(),
        cap_drop: flags.cap_drop.clone(),
        privileged: flags.privileged,
        security_opt: flags.security_opt.clone(),
        read_only: flags.read_only,
        pids_limit: flags.pids_limit,
        ulimits: flags.ulimit.clone(),
        shm_size: flags.shm_size.clone(),
        devices: flags.device.clone(),
        tmpfs: flags.tmpfs.clone(),
        publish: flags.publish.clone(),
        publish_all: flags.publish_all,
        expose: flags.expose.clone(),
        group_add: flags.group_add.clone(),
        ipc: flags.ipc.clone(),
        pid: flags.pid.clone(),
        uts: flags.uts.clone(),
        cpu_shares: flags.cpu_shares,
        cpu_period: flags.cpu_period,
        cpu_quota: flags.cpu_quota,
    })
}

/// `--label-file`: one `key=value` label per line; blank lines and `#` comments skipped, as Docker reads it.
fn read_label_file(path: &std::path::Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("open {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// The exit status Docker's CLI gives for an error of `run`/`create`/`start`.
fn run_error_code(e: &OpsError) -> u8 {
    match e {
        OpsError::Runtime(e) => u8::try_from(e.exit_code()).unwrap_or(RUN_ERROR),
        OpsError::StartFailed { exit_code, .. } => u8::try_from(*exit_code).unwrap_or(RUN_ERROR),
        _ => RUN_ERROR,
    }
}

fn report_run_error(e: &OpsError) -> u8 {
    let message = e.to_string();
    let stop = if message.ends_with('.') { "" } else { "." };
    eprintln!("hoist: Error response from daemon: {message}{stop}");
    eprintln!("See 'hoist run --help'.");
    run_error_code(e)
}

/// Creates the container, pulling the image first when it is missing (`--pull missing`, Docker's default).
fn create_pulling(hoist: &Hoist, flags: &ContainerFlags, attach: bool) -> Result<String, u8> {
    let fail = |message: String| {
        let stop = if message.ends_with('.') { "" } else { "." };
        eprintln!("hoist: {message}{stop}");
        eprintln!("See 'hoist run --help'.");
        RUN_ERROR
    };
    let opts = create_options(flags, attach).map_err(|e| fail(format!("{e:#}")))?;
    crate::cli::refuse_content_trust(flags.disable_content_trust)
        .map_err(|e| fail(format!("{e:#}")))?;
    if let Some(path) = &flags.cidfile
        && path.exists()
    {
        return Err(fail(format!(
            "container ID file found, make sure the other container isn't running or delete {}",
            path.display()
        )));
    }
    let pull = |hoist: &Hoist| -> Result<(), u8> {
        let args = PullArgs {
            all_tags: false,
            disable_content_trust: Some(true),
            platform: flags.platform.clone(),
            quiet: true,
            name: flags.image().to_owned(),
        };
        // Quietly: the container's output owns stdout.
        match crate::cmd_transfer::pull_announcing(hoist, &args, false) {
            Ok(0) => {
                if !flags.quiet {
                    eprintln!("Status: Downloaded image for {}", flags.image());
                }
                Ok(())
            }
            Ok(_) => Err(RUN_ERROR),
            Err(e) => {
                let message = format!("{e:#}");
                let stop = if message.ends_with('.') { "" } else { "." };
                eprintln!("hoist: {message}{stop}");
                eprintln!("See 'hoist run --help'.");
                Err(RUN_ERROR)
            }
        }
    };
    match flags.pull.as_str() {
        "always" => pull(hoist)?,
        "missing" | "never" => {}
        other => {
            eprintln!(
                "hoist: invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\"."
            );
            return Err(RUN_ERROR);
        }
    }
    let id = match hoist_ops::container::create::create(hoist, &opts) {
        Ok(id) => Ok(id),
        Err(OpsError::NoSuchImage(_)) if flags.pull == "missing" => {
            let shown = hoist_spec::Reference::parse_normalized(flags.image())
                .map(|r| r.with_default_tag().familiar())
                .unwrap_or_else(|_| flags.image().to_owned());
            if !flags.quiet {
                eprintln!("Unable to find image '{shown}' locally");
            }
            pull(hoist)?;
            hoist_ops::container::create::create(hoist, &opts).map_err(|e| report_run_error(&e))
        }
        Err(e) => Err(report_run_error(&e)),
    }?;
    if let Some(path) = &flags.cidfile {
        // create_new: a file that appeared meanwhile is another container's.
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut file| file.write_all(id.as_bytes()));
        if let Err(e) = written {
            let _ = hoist_ops::container::manage::remove(hoist, &id, true);
            return Err(fail(format!(
                "failed to write the container ID to {}: {e}",
                path.display()
            )));
        }
    }
    Ok(id)
}

pub(crate) fn create(hoist: &Hoist, a: &CreateArgs) -> Result<u8> {
    match create_pulling(hoist, &a.flags, false) {
        Ok(id) => {
            println!("{id}");
            Ok(0)
        }
        Err(code) => Ok(code),
    }
}

pub(crate) fn run(hoist: &Hoist, a: &RunArgs) -> Result<u8> {
    // Before any thread exists, so every thread inherits the mask: the terminal's signals are forwarded
    // to the container instead of ending this process.
    let forwarded = forwarded_signals();
    if !a.detach {
        let _ = forwarded.thread_block();
    }
    let id = match create_pulling(hoist, &a.flags, !a.detach) {
        Ok(id) => id,
        Err(code) => return Ok(code),
    };
    if a.detach {
        return match hoist_ops::container::run::start_detached(hoist, &id) {
            Ok(()) => {
                println!("{id}");
                Ok(0)
            }
            Err(e) => {
                // Docker leaves a container that failed to start, except with --rm.
                if a.flags.rm {
                    let _ = hoist_ops::container::manage::remove(hoist, &id, true);
                }
                Ok(report_run_error(&e))
            }
        };
    }
    attached(hoist, &id, a.flags.rm, a.flags.tty, forwarded)
}

/// Runs a created container in the foreground and returns its exit code.
fn attached(
    hoist: &Hoist,
    id: &str,
    auto_remove: bool,
    tty: bool,
    forwarded: nix::sys::signal::SigSet,
) -> Result<u8> {
    let container_pid = Arc::new(AtomicU32::new(0));
    spawn_signal_proxy(forwarded, Arc::clone(&container_pid));
    let raw = RawTerminal::enter_if(tty);
    let result = hoist_ops::container::run::run_and_wait(hoist, id, Attach::Terminal, &mut |pid| {
        container_pid.store(pid, Ordering::SeqCst);
    });
    drop(raw);
    match result {
        Ok(code) => Ok(u8::try_from(code & 0xff).unwrap_or(255)),
        Err(e) => {
            if auto_remove {
                let _ = hoist_ops::container::manage::remove(hoist, id, true);
            }
            Ok(report_run_error(&e))
        }
    }
}

fn forwarded_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        set.add(sig);
    }
    set
}

/// Docker's sig-proxy: signals sent to this process go to the container's PID 1.
fn spawn_signal_proxy(set: nix::sys::signal::SigSet, pid: Arc<AtomicU32>) {
    std::thread::spawn(move || {
        while let Ok(sig) = set.wait() {
            let target = pid.load(Ordering::SeqCst);
            if let Ok(target) = i32::try_from(target)
                && target > 0
            {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(target), sig);
            }
        }
    });
}

/// This terminal in raw mode while a `-t` container is attached, restored on drop.
struct RawTerminal {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawTerminal {
    fn enter_if(tty: bool) -> Self {
        let stdin = std::io::stdin();
        if !tty || !stdin.is_terminal() {
            return Self { saved: None };
        }
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let Ok(saved) = tcgetattr(&stdin) else {
            return Self { saved: None };
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
        Self { saved: Some(saved) }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                saved,
            );
        }
    }
}

pub(crate) fn start(hoist: &Hoist, a: &StartArgs) -> Result<u8> {
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            bail!("you cannot start and attach multiple containers at once");
        }
        let forwarded = forwarded_signals();
        let _ = forwarded.thread_block();
        let container = match hoist_ops::container::find(hoist, &a.containers[0]) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                eprintln!("Error: failed to start containers: {}", a.containers[0]);
                return Ok(1);
            }
        };
        if container.is_running() {
            bail!("container {} is already running", container.id);
        }
        let tty = matches!(
            container.setup.config.extra.get("Tty"),
            Some(serde_json::Value::Bool(true))
        );
        return attached(
            hoist,
            &container.id,
            container.setup.host.auto_remove,
            tty,
            forwarded,
        );
    }
    let mut failed = Vec::new();
    for name in &a.containers {
        match hoist_ops::container::run::start(hoist, name) {
            Ok(_) => println!("{name}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed.push(name.clone());
            }
        }
    }
    if failed.is_empty() {
        Ok(0)
    } else {
        eprintln!("Error: failed to start containers: {}", failed.join(", "));
        Ok(1)
    }
}

/// Runs `action` for each named container, printing the name on success and Docker's error otherwise.
fn for_each(names: &[String], mut action: impl FnMut(&str) -> Result<(), OpsError>) -> u8 {
    let mut status = 0;
    for name in names {
        match action(name) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                status = 1;
            }
        }
    }
    status
}

/// `-s` and `-t` of `stop` and `restart`.
fn stop_signal_and_timeout(
    a: &StopArgs,
) -> Result<(Option<nix::sys::signal::Signal>, Option<Duration>)> {
    let signal = a
        .signal
        .as_deref()
        .map(hoist_ops::container::manage::parse_signal)
        .transpose()?;
    Ok((signal, a.time.map(Duration::from_secs)))
}

pub(crate) fn stop(hoist: &Hoist, a: &StopArgs) -> Result<u8> {
    let (signal, timeout) = stop_signal_and_timeout(a)?;
    Ok(for_each(&a.containers, |name| {
        hoist_ops::container::manage::stop(hoist, name, signal, timeout)
    }))
}

pub(crate) fn restart(hoist: &Hoist, a: &StopArgs) -> Result<u8> {
    let (signal, timeout) = stop_signal_and_timeout(a)?;
    Ok(for_each(&a.containers, |name| {
        hoist_ops::container::manage::restart(hoist, name, signal, timeout)
    }))
}

pub(crate) fn pause(hoist: &Hoist, a: &WaitArgs) -> Result<u8> {
    Ok(for_each(&a.containers, |name| {
        hoist_ops::container::manage::pause(hoist, name)
    }))
}

pub(crate) fn unpause(hoist: &Hoist, a: &WaitArgs) -> Result<u8> {
    Ok(for_each(&a.containers, |name| {
        hoist_ops::container::manage::unpause(hoist, name)
    }))
}

/// `wait`: each container's exit code on its own line, as it stops.
pub(crate) fn wait(hoist: &Hoist, a: &WaitArgs) -> Result<u8> {
    let mut status = 0;
    for name in &a.containers {
        match hoist_ops::container::manage::wait(hoist, name) {
            Ok(code) => println!("{code}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                status = 1;
            }
        }
    }
    Ok(status)
}

/// `exec`: the command's exit code (126 when it cannot start, as Docker's).
pub(crate) fn exec(hoist: &Hoist, a: &ExecArgs) -> Result<u8> {
    let (container, command) = a
        .container_and_command
        .split_first()
        .map_or(("", &[][..]), |(c, rest)| (c.as_str(), rest));
    let opts = hoist_ops::container::exec::ExecOptions {
        command: command.to_vec(),
        env: a.env.clone(),
        env_files: a.env_file.clone(),
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
        privileged: a.privileged,
        host_env: std::env::vars().collect::<BTreeMap<_, _>>(),
    };
    let forwarded = forwarded_signals();
    if !a.detach {
        let _ = forwarded.thread_block();
    }
    match hoist_ops::container::exec::exec(hoist, container, &opts) {
        Ok(code) => Ok(u8::try_from(code & 0xff).unwrap_or(255)),
        // Docker reports every failure to start the command so, with 126.
        Err(OpsError::Runtime(e)) => {
            eprintln!(
                "OCI runtime exec failed: exec failed: unable to start container process: {e}: unknown"
            );
            Ok(126)
        }
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(1)
        }
    }
}

/// `port`: `80/tcp -> 0.0.0.0:8080` lines, or the host addresses of one port.
pub(crate) fn port(hoist: &Hoist, a: &PortArgs) -> Result<u8> {
    let mappings = hoist_ops::container::ports::port(hoist, &a.container, a.private.as_deref())?;
    for (private, host) in mappings {
        if a.private.is_some() {
            println!("{host}");
        } else {
            println!("{private} -> {host}");
        }
    }
    Ok(0)
}

pub(crate) fn rename(hoist: &Hoist, a: &RenameArgs) -> Result<u8> {
    hoist_ops::container::manage::rename(hoist, &a.container, &a.new_name)?;
    Ok(0)
}

/// `top`: the host's `ps` (with Docker's default `-ef`), keeping the header and the container's rows.
pub(crate) fn top(hoist: &Hoist, a: &TopArgs) -> Result<u8> {
    let (_, pids) = hoist_ops::container::manage::processes(hoist, &a.container)?;
    let args: Vec<String> = if a.ps_args.is_empty() {
        vec!["-ef".to_owned()]
    } else {
        a.ps_args.clone()
    };
    let output = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| anyhow::anyhow!("running ps: {e}"))?;
    if !output.status.success() {
        bail!("ps: {}", String::from_utf8_lossy(&output.stderr).trim_end());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let Some(pid_column) = header.split_whitespace().position(|c| c == "PID") else {
        bail!("Couldn't find PID field in ps output");
    };
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(pid_column)
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| pids.contains(&pid)) {
            println!("{line}");
        }
    }
    Ok(0)
}

pub(crate) fn kill(hoist: &Hoist, a: &KillArgs) -> Result<u8> {
    let sig = hoist_ops::container::manage::parse_signal(&a.signal)?;
    Ok(for_each(&a.containers, |name| {
        hoist_ops::container::manage::kill_container(hoist, name, sig)
    }))
}

pub(crate) fn rm(hoist: &Hoist, a: &RmArgs) -> Result<u8> {
    Ok(for_each(&a.containers, |name| {
        hoist_ops::container::manage::remove(hoist, name, a.force)
    }))
}

pub(crate) fn logs(hoist: &Hoist, a: &LogsArgs) -> Result<u8> {
    let tail = match a.tail.as_str() {
        "all" | "" => None,
        n => Some(n.parse::<i64>().map_or(None, |n| usize::try_from(n).ok())),
    }
    .flatten();
    let now = hoist_ops::now_nanos();
    let time = |value: &Option<String>| -> Result<Option<i64>> {
        value
            .as_deref()
            .map(|v| hoist_ops::filters::parse_timestamp(v, now))
            .transpose()
            .map_err(anyhow::Error::from)
    };
    let opts = hoist_ops::container::manage::LogsOptions {
        follow: a.follow,
        timestamps: a.timestamps,
        tail,
        since: time(&a.since)?,
        until: time(&a.until)?,
    };
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    hoist_ops::container::manage::logs(hoist, &a.container, &opts, &mut out, &mut err)?;
    Ok(0)
}

const PS_HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

/// Every field of a `ps` row, as Docker's container formatter names them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct PsContext {
    command: String,
    created_at: String,
    #[serde(rename = "ID")]
    id: String,
    image: String,
    labels: String,
    local_volumes: String,
    mounts: String,
    names: String,
    networks: String,
    ports: String,
    running_for: String,
    size: String,
    state: String,
    status: String,
}

struct PsView<'a> {
    row: &'a PsRow,
    no_trunc: bool,
    now: chrono::DateTime<chrono::Utc>,
}

impl PsView<'_> {
    fn context(&self) -> PsContext {
        let c = &self.row.container;
        let field = |name: &str| hoist_render::RowFields::field(self, name).unwrap_or_default();
        PsContext {
            command: field("Command"),
            created_at: field("CreatedAt"),
            id: field("ID"),
            image: c.image_name(),
            labels: field("Labels"),
            local_volumes: "0".to_owned(),
            mounts: field("Mounts"),
            names: c.name.clone(),
            networks: c.setup.host.network_mode.clone(),
            ports: field("Ports"),
            running_for: field("RunningFor"),
            size: field("Size"),
            state: c.state.status.as_str().to_owned(),
            status: field("Status"),
        }
    }
}

impl Serialize for PsView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.context().serialize(s)
    }
}

/// Go's `strconv.Quote` for the printable strings commands are.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn since(nanos: i64, now: chrono::DateTime<chrono::Utc>) -> String {
    let then = output::utc(nanos);
    let elapsed = (now - then).to_std().unwrap_or_default();
    hoist_render::units::human_duration(elapsed)
}

/// `ps`'s STATUS: `Created`, `Up 5 minutes`, `Exited (0) 2 seconds ago`.
fn status_text(c: &Container, now: chrono::DateTime<chrono::Utc>) -> String {
    match c.state.status {
        Status::Created => "Created".to_owned(),
        Status::Running if c.state.paused => format!(
            "Up {} (Paused)",
            since(c.state.started_at.unwrap_or(c.created), now)
        ),
        Status::Running => format!("Up {}", since(c.state.started_at.unwrap_or(c.created), now)),
        Status::Exited => match c.state.finished_at {
            Some(t) => format!("Exited ({}) {} ago", c.state.exit_code, since(t, now)),
            None => format!("Exited ({})", c.state.exit_code),
        },
        Status::Dead => "Dead".to_owned(),
    }
}

impl hoist_render::RowFields for PsView<'_> {
    fn field(&self, name: &str) -> Option<String> {
        let c = &self.row.container;
        Some(match name {
            "ID" => {
                if self.no_trunc {
                    c.id.clone()
                } else {
                    c.short_id().to_owned()
                }
            }
            "Image" => c.image_name(),
            "Command" => {
                // Docker's daemon quotes arguments with spaces in single quotes.
                let command = std::iter::once(c.setup.path.clone())
                    .chain(c.setup.args.iter().map(|arg| {
                        if arg.contains(' ') {
                            format!("'{arg}'")
                        } else {
                            arg.clone()
                        }
                    }))
                    .collect::<Vec<_>>()
                    .join(" ");
                if self.no_trunc {
                    go_quote(&command)
                } else {
                    go_quote(&output::ellipsis(&command, 20))
                }
            }
            "CreatedAt" => output::created_at(Some(c.created)),
            "RunningFor" => format!("{} ago", since(c.created, self.now)),
            // Docker lists a container's published ports while it runs.
            "Ports" if c.is_running() => hoist_ops::container::ports::ps_text(c),
            "Ports" => String::new(),
            "State" => c.state.status.as_str().to_owned(),
            "Status" => status_text(c, self.now),
            "Size" => match self.row.sizes {
                Some((rw, root)) => {
                    format!("{} (virtual {})", output::size3(rw), output::size3(root))
                }
                None => String::new(),
            },
            "Names" => c.name.clone(),
            "Labels" => c
                .labels()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            "Mounts" => c
                .setup
                .host
                .binds
                .iter()
                .filter_map(|b| b.split(':').nth(1).map(str::to_owned))
                .collect::<Vec<_>>()
                .join(","),
            "Networks" => c.setup.host.network_mode.clone(),
            "LocalVolumes" => "0".to_owned(),
            _ => return None,
        })
    }
}

pub(crate) fn ps(hoist: &Hoist, a: &PsArgs) -> Result<u8> {
    let filters = Filters::parse(&a.filter, hoist_ops::container::list::PS_FILTERS)?;
    let format = match (&a.format, a.quiet) {
        (Some(f), _) if !f.is_empty() => f.clone(),
        (_, true) => "{{.ID}}".to_owned(),
        _ => String::new(),
    };
    let wants_size = a.size || format.contains(".Size");
    let opts = PsOptions {
        all: a.all,
        filters,
        last: if a.latest { Some(1) } else { a.last },
        size: wants_size && !a.quiet,
    };
    let rows = hoist_ops::container::list::list(hoist, &opts)?;
    let now = chrono::Utc::now();
    let views: Vec<PsView<'_>> = rows
        .iter()
        .map(|row| PsView {
            row,
            no_trunc: a.no_trunc,
            now,
        })
        .collect();
    let default_template = if a.size {
        "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
    } else {
        "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    let spec = TableSpec {
        default_template,
        headers: PS_HEADERS,
    };
    output::render_rows(Some(&format), &views, &spec)?;
    Ok(0)
}

pub(crate) fn prune(hoist: &Hoist, a: &ContainerPruneArgs) -> Result<u8> {
    let filters = Filters::parse(&a.filter, hoist_ops::container::manage::PRUNE_FILTERS)?;
    if !a.force && !crate::cmd_images::confirm("WARNING! This will remove all stopped containers.")?
    {
        return Ok(0);
    }
    let report = hoist_ops::container::manage::prune(hoist, &filters)?;
    print!("{}", prune_text(&report));
    Ok(0)
}

/// `Deleted Containers:` with the IDs and a blank line, or nothing; `container prune` and `system prune`
/// both print it.
pub(crate) fn deleted_containers(removed: &[String]) -> String {
    if removed.is_empty() {
        return String::new();
    }
    let mut s = String::from("Deleted Containers:\n");
    for id in removed {
        s.push_str(id);
        s.push('\n');
    }
    s.push('\n');
    s
}

/// The deleted containers and the reclaimed total, as `container prune` prints them.
fn prune_text(report: &hoist_ops::container::manage::PruneReport) -> String {
    let mut s = deleted_containers(&report.removed);
    s.push_str(&format!(
        "Total reclaimed space: {}\n",
        output::size4(report.reclaimed)
    ));
    s
}

pub(crate) fn commit(hoist: &Hoist, a: &CommitArgs) -> Result<u8> {
    let opts = hoist_ops::container::commit::CommitOptions {
        container: a.container.clone(),
        reference: a.reference.clone(),
        message: a.message.clone(),
        author: a.author.clone(),
        changes: a.change.clone(),
        pause: a.pause,
    };
    let id = hoist_ops::container::commit::commit(hoist, &opts)?;
    println!("{id}");
    Ok(0)
}

pub(crate) fn export(hoist: &Hoist, a: &ExportArgs) -> Result<u8> {
    match &a.output {
        Some(path) => {
            // Written beside the target and renamed into place, so a failed export leaves nothing.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut temp = tempfile::NamedTempFile::new_in(dir)?;
            {
                let mut out = std::io::BufWriter::with_capacity(1 << 20, temp.as_file_mut());
                hoist_ops::container::commit::export(hoist, &a.container, &mut out)?;
                out.flush()?;
            }
            temp.persist(path)?;
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            hoist_ops::container::commit::export(hoist, &a.container, &mut out)?;
            out.flush()?;
        }
    }
    Ok(0)
}

pub(crate) fn diff(hoist: &Hoist, a: &DiffArgs) -> Result<u8> {
    let changes = hoist_ops::container::commit::diff(hoist, &a.container)?;
    let mut s = String::new();
    for change in changes {
        let letter = match change.kind {
            hoist_store::ChangeKind::Added => 'A',
            hoist_store::ChangeKind::Changed => 'C',
            hoist_store::ChangeKind::Deleted => 'D',
        };
        s.push_str(&format!("{letter} {}\n", change.path.display()));
    }
    output::write_stdout(s.as_bytes())?;
    Ok(0)
}

pub(crate) fn monitor(hoist: &Hoist, a: &MonitorArgs) -> Result<u8> {
    let code = hoist_ops::container::run::monitor(hoist, &a.id)?;
    Ok(u8::try_from(code & 0xff).unwrap_or(255))
}
