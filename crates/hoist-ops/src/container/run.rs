//! Starting a container and watching it: the runtime spec from the record and the snapshot, the process
//! that waits for the container (the CLI itself when attached, `hoist __monitor` when detached), Docker's
//! json-file log, and the state written at start and exit.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hoist_store::RootfsLayout;
use serde_json::Value;

use super::create::{parse_bind, process_env};
use super::{Container, RunState, Status, container_dir, find, load, log_path, save_state};
use crate::{Hoist, OpsError};

/// Where an attached container's output goes besides the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// Output to this process's stdout/stderr; stdin forwarded when the container has `-i`.
    Terminal,
    /// Output to the log only (a detached container's monitor).
    LogOnly,
}

/// Starts `container` and waits for it in this process; returns its exit code. With `Attach::Terminal`,
/// this is `run` without `-d` and `start -a`. `on_started` gets the container's PID 1 (a host PID) once
/// the command was exec'd.
pub fn run_and_wait(
    hoist: &Hoist,
    id: &str,
    attach: Attach,
    on_started: &mut dyn FnMut(u32),
) -> Result<i32, OpsError> {
    let container = load(hoist, id)?;
    if container.is_running() {
        return Err(OpsError::AlreadyRunning {
            id: container.id.clone(),
        });
    }
    let dir = container_dir(hoist, &container.id);
    let spec = runtime_spec(hoist, &container)?;
    let spec_file = dir.join("runtime.json");
    // Serialising plain data cannot fail.
    std::fs::write(&spec_file, serde_json::to_vec(&spec).unwrap_or_default()).map_err(|error| {
        OpsError::Input {
            source_name: spec_file.display().to_string(),
            error,
        }
    })?;
    let log = Arc::new(Mutex::new(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path(hoist, &container.id))
            .map_err(|error| OpsError::Input {
                source_name: log_path(hoist, &container.id).display().to_string(),
                error,
            })?,
    ));
    let interactive = matches!(
        container.setup.config.extra.get("OpenStdin"),
        Some(Value::Bool(true))
    ) && attach == Attach::Terminal;

    let mut io = ContainerIo::new(spec.tty, interactive, attach)?;
    let started = hoist_runtime::start(&hoist.settings.self_exe, &spec_file, io.child_stdio()?);
    let running = match started {
        Ok(running) => running,
        Err(e) => {
            let mut state = container.state.clone();
            state.error = e.to_string();
            state.exit_code = e.exit_code();
            state.status = if state.start_count == 0 {
                Status::Created
            } else {
                Status::Exited
            };
            save_state(&hoist.store, &container.id, &state)?;
            return Err(e.into());
        }
    };
    let copiers = io.start_copying(attach, &log);
    let mut state = RunState {
        status: Status::Running,
        pid: running.pid,
        exit_code: 0,
        error: String::new(),
        started_at: Some(crate::now_nanos()),
        finished_at: None,
        monitor_pid: std::process::id(),
        start_count: container.state.start_count + 1,
        paused: false,
    };
    save_state(&hoist.store, &container.id, &state)?;
    on_started(state.pid);

    let status = running.wait();
    for copier in copiers {
        let _ = copier.join();
    }
    let code = match status {
        Ok(status) => status.code,
        Err(e) => {
            state.error = e.to_string();
            255
        }
    };
    state.status = Status::Exited;
    state.exit_code = code;
    state.pid = 0;
    state.monitor_pid = 0;
    state.finished_at = Some(crate::now_nanos());
    // The container may have been removed (`rm -f`) while it ran.
    match save_state(&hoist.store, &container.id, &state) {
        Ok(()) | Err(OpsError::Store(hoist_store::StoreError::ContainerNotFound { .. })) => {}
        Err(e) => return Err(e),
    }
    if container.setup.host.auto_remove {
        super::manage::remove_files(hoist, &container.id)?;
    }
    Ok(code)
}

/// Starts a container in the background under `hoist __monitor` and returns once it runs (or failed to).
pub fn start_detached(hoist: &Hoist, id: &str) -> Result<(), OpsError> {
    let container = load(hoist, id)?;
    if container.is_running() {
        return Ok(());
    }
    let mut child = Command::new(&hoist.settings.self_exe)
        .arg("--root")
        .arg(hoist.store.root())
        .arg("__monitor")
        .arg(&container.id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| OpsError::Input {
            source_name: hoist.settings.self_exe.display().to_string(),
            error,
        })?;
    // The monitor prints one line once the command runs, then keeps quiet; if it exits first, its
    // stderr says why.
    let mut first = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = io::BufReader::new(stdout).read_line(&mut first);
    }
    if first.trim() == "started" {
        return Ok(());
    }
    let mut why = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut why);
    }
    let _ = child.wait();
    // The monitor recorded the failure; report it as the runtime worded it.
    let state = load(hoist, id)?.state;
    Err(OpsError::StartFailed {
        message: if state.error.is_empty() {
            why.trim().trim_start_matches("Error: ").to_owned()
        } else {
            state.error
        },
        exit_code: if state.exit_code == 0 {
            125
        } else {
            state.exit_code
        },
    })
}

/// The body of `hoist __monitor ID`: detaches from the caller's session, starts the container with its
/// output going to the log, tells the caller on stdout, and waits to record the exit.
pub fn monitor(hoist: &Hoist, id: &str) -> Result<i32, OpsError> {
    let _ = rustix::process::setsid();
    run_and_wait(hoist, id, Attach::LogOnly, &mut |_| {
        let mut out = io::stdout();
        let _ = out.write_all(b"started\n");
        let _ = out.flush();
    })
}

/// Waits until the container is no longer running (its monitor recorded the exit), up to `timeout`.
pub fn wait_stopped(hoist: &Hoist, id: &str, timeout: Duration) -> Result<Container, OpsError> {
    let deadline = Instant::now() + timeout;
    loop {
        let container = load(hoist, id)?;
        if !container.is_running() || Instant::now() >= deadline {
            return Ok(container);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Finds and starts a container for `start` without `-a`; returns the container.
pub fn start(hoist: &Hoist, input: &str) -> Result<Container, OpsError> {
    let container = find(hoist, input)?;
    start_detached(hoist, &container.id)?;
    Ok(container)
}

/// The runtime's view of the container.
pub(crate) fn runtime_spec(
    hoist: &Hoist,
    container: &Container,
) -> Result<hoist_runtime::ContainerSpec, OpsError> {
    let setup = &container.setup;
    let dir = container_dir(hoist, &container.id);
    let rootfs = match hoist.store.container_snapshot(&container.id)? {
        RootfsLayout::Overlay {
            lowers,
            upper,
            work,
        } => hoist_runtime::Rootfs::Overlay {
            lowers,
            upper,
            work,
        },
        RootfsLayout::Directory(path) => hoist_runtime::Rootfs::Directory(path),
    };
    let mut mounts = Vec::new();
    for (file, target) in [
        ("resolv.conf", "/etc/resolv.conf"),
        ("hostname", "/etc/hostname"),
        ("hosts", "/etc/hosts"),
    ] {
        mounts.push(hoist_runtime::BindMount {
            source: dir.join(file),
            destination: target.to_owned(),
            read_only: false,
            copy_up: false,
        });
    }
    for bind in &setup.host.binds {
        let bind = parse_bind(bind)?;
        if let Some(name) = &bind.volume {
            // Created on first use, as Docker does; the runtime fills a new one from the image.
            crate::volume::create(
                hoist,
                Some(name),
                "local",
                Default::default(),
                Default::default(),
            )?;
            mounts.push(hoist_runtime::BindMount {
                source: crate::volume::data_dir(hoist, name),
                destination: bind.destination,
                read_only: bind.read_only,
                copy_up: true,
            });
            continue;
        }
        // Docker creates a missing host directory for -v.
        if !bind.source.exists() {
            std::fs::create_dir_all(&bind.source).map_err(|error| OpsError::Input {
                source_name: bind.source.display().to_string(),
                error,
            })?;
        }
        mounts.push(hoist_runtime::BindMount {
            source: bind.source,
            destination: bind.destination,
            read_only: bind.read_only,
            copy_up: false,
        });
    }
    let string = |key: &str| match setup.config.extra.get(key) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let cpu_quota = if setup.host.nano_cpus > 0 {
        Some(hoist_runtime::CpuQuota {
            period_us: 100_000,
            quota_us: setup.host.nano_cpus / 10_000,
        })
    } else if setup.host.cpu_quota > 0 {
        Some(hoist_runtime::CpuQuota {
            period_us: u64::try_from(setup.host.cpu_period)
                .ok()
                .filter(|p| *p > 0)
                .unwrap_or(100_000),
            quota_us: setup.host.cpu_quota,
        })
    } else {
        None
    };
    let tmpfs = setup
        .host
        .tmpfs
        .iter()
        .map(|(path, options)| super::create::tmpfs_mount(path, options))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(hoist_runtime::ContainerSpec {
        rootfs,
        mount_point: dir.join("rootfs"),
        args: std::iter::once(setup.path.clone())
            .chain(setup.args.iter().cloned())
            .collect(),
        env: process_env(setup),
        cwd: setup
            .config
            .working_dir
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "/".to_owned()),
        user: setup.config.user.clone().unwrap_or_default(),
        hostname: string("Hostname"),
        network: if setup.host.network_mode == "host" {
            hoist_runtime::NetworkMode::Host
        } else {
            hoist_runtime::NetworkMode::Isolated
        },
        mounts,
        tmpfs,
        shm_size: u64::try_from(setup.host.shm_size).ok().filter(|s| *s > 0),
        ulimits: setup
            .host
            .ulimits
            .iter()
            .map(|u| hoist_runtime::Ulimit::parse(u).map_err(OpsError::InvalidOption))
            .collect::<Result<_, _>>()?,
        cpu_shares: u64::try_from(setup.host.cpu_shares).ok().filter(|s| *s > 0),
        tty: matches!(setup.config.extra.get("Tty"), Some(Value::Bool(true))),
        memory_limit: u64::try_from(setup.host.memory).ok().filter(|m| *m > 0),
        cpu_quota,
        cgroup_name: format!("hoist-{}", container.short_id()),
        confinement: confinement(&setup.host)?,
        join: None,
        extra_groups: setup.host.group_add.clone(),
        host_namespaces: [
            ("uts", &setup.host.uts_mode),
            ("ipc", &setup.host.ipc_mode),
            ("pid", &setup.host.pid_mode),
        ]
        .into_iter()
        .filter(|(_, mode)| *mode == "host")
        .map(|(name, _)| name.to_owned())
        .collect(),
        slirp: if setup.host.network_mode == "bridge" {
            Some(hoist_runtime::SlirpNetwork {
                // A socket path must stay under 108 bytes, which a store deep in /tmp can pass.
                api_socket: std::env::temp_dir()
                    .join(format!("hoist-slirp-{}.sock", container.short_id())),
                ports: super::ports::forwards(&setup.host.port_bindings)?,
            })
        } else {
            None
        },
    })
}

/// The runtime's confinement for what `create` recorded (Docker's defaults unless loosened).
pub(crate) fn confinement(host: &super::HostSetup) -> Result<hoist_runtime::Confinement, OpsError> {
    let mut confinement = if host.privileged {
        hoist_runtime::Confinement::privileged()
    } else {
        hoist_runtime::Confinement {
            capabilities: hoist_runtime::capabilities::with_changes(&host.cap_add, &host.cap_drop)
                .map_err(OpsError::InvalidOption)?,
            ..hoist_runtime::Confinement::default()
        }
    };
    for option in &host.security_opt {
        match option.split_once('=') {
            Some(("seccomp", "unconfined")) => {
                confinement.seccomp = hoist_runtime::SeccompPolicy::Unconfined;
            }
            Some(("seccomp", json)) if !host.privileged => {
                confinement.seccomp = hoist_runtime::SeccompPolicy::Profile(json.to_owned());
            }
            None if option == "no-new-privileges" => confinement.no_new_privileges = true,
            _ => {}
        }
    }
    confinement.read_only_rootfs = host.readonly_rootfs;
    confinement.pids_limit = host.pids_limit;
    confinement.devices = host
        .devices
        .iter()
        .map(|d| hoist_runtime::Device {
            host_path: d.path_on_host.clone().into(),
            container_path: d.path_in_container.clone(),
            permissions: d.cgroup_permissions.clone(),
        })
        .collect();
    Ok(confinement)
}

/// The container's stdio: a pty, or pipes for stdout and stderr (and stdin with `-i`).
pub(crate) struct ContainerIo {
    tty: Option<hoist_runtime::Pty>,
    stdout: Option<(File, File)>,
    stderr: Option<(File, File)>,
    interactive: bool,
}

impl ContainerIo {
    /// With `attach` and a terminal on stdin, the container's terminal starts at the same size.
    pub(crate) fn new(tty: bool, interactive: bool, attach: Attach) -> Result<Self, OpsError> {
        if tty {
            let pty = hoist_runtime::open_pty()?;
            if attach == Attach::Terminal
                && let Ok(size) = rustix::termios::tcgetwinsize(io::stdin())
            {
                let _ = rustix::termios::tcsetwinsize(&pty.master, size);
            }
            return Ok(Self {
                tty: Some(pty),
                stdout: None,
                stderr: None,
                interactive,
            });
        }
        Ok(Self {
            tty: None,
            stdout: Some(pipe()?),
            stderr: Some(pipe()?),
            interactive,
        })
    }

    /// The three streams the runtime hands to the container.
    pub(crate) fn child_stdio(&mut self) -> Result<hoist_runtime::Stdio3, OpsError> {
        let clone = |f: &File| {
            f.try_clone().map_err(|error| OpsError::Input {
                source_name: "container stdio".to_owned(),
                error,
            })
        };
        if let Some(pty) = &self.tty {
            return hoist_runtime::Stdio3::from_fd(&pty.slave).map_err(|error| OpsError::Input {
                source_name: "container terminal".to_owned(),
                error,
            });
        }
        let write_end = |p: &Option<(File, File)>| -> Result<Stdio, OpsError> {
            match p {
                Some((_, w)) => Ok(Stdio::from(clone(w)?)),
                None => Ok(Stdio::null()),
            }
        };
        Ok(hoist_runtime::Stdio3 {
            stdin: if self.interactive {
                Stdio::inherit()
            } else {
                Stdio::null()
            },
            stdout: write_end(&self.stdout)?,
            stderr: write_end(&self.stderr)?,
        })
    }

    /// Threads that copy the container's output to the log (and the terminal when attached). The
    /// write ends are dropped here so the threads see EOF when the container's last process exits.
    pub(crate) fn start_copying(
        &mut self,
        attach: Attach,
        log: &Arc<Mutex<File>>,
    ) -> Vec<JoinHandle<()>> {
        let mut threads = Vec::new();
        if let Some(pty) = self.tty.take() {
            let hoist_runtime::Pty { master, slave } = pty;
            drop(slave);
            let master = File::from(master);
            if self.interactive
                && let Ok(mut to_container) = master.try_clone()
            {
                // Detached on purpose: stdin may never reach EOF.
                std::thread::spawn(move || {
                    let _ = io::copy(&mut io::stdin(), &mut to_container);
                });
            }
            let log = Arc::clone(log);
            threads.push(std::thread::spawn(move || {
                copy_stream(master, "stdout", attach, &log);
            }));
            return threads;
        }
        for (pipe, stream) in [
            (self.stdout.take(), "stdout"),
            (self.stderr.take(), "stderr"),
        ] {
            if let Some((read, write)) = pipe {
                drop(write);
                let log = Arc::clone(log);
                threads.push(std::thread::spawn(move || {
                    copy_stream(read, stream, attach, &log);
                }));
            }
        }
        threads
    }
}

fn pipe() -> Result<(File, File), OpsError> {
    let (read, write) = io::pipe().map_err(|error| OpsError::Input {
        source_name: "pipe".to_owned(),
        error,
    })?;
    Ok((
        File::from(std::os::fd::OwnedFd::from(read)),
        File::from(std::os::fd::OwnedFd::from(write)),
    ))
}

/// Copies one output stream: to the terminal as it comes, to the log a line at a time.
fn copy_stream(mut from: File, stream: &'static str, attach: Attach, log: &Mutex<File>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut line = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A pty master reads EIO once the last slave closed.
            Err(_) => break,
        };
        let data = &buf[..n];
        if attach == Attach::Terminal {
            let _ = if stream == "stderr" {
                let mut err = io::stderr().lock();
                err.write_all(data).and_then(|()| err.flush())
            } else {
                let mut out = io::stdout().lock();
                out.write_all(data).and_then(|()| out.flush())
            };
        }
        let mut rest = data;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            line.extend_from_slice(&rest[..=end]);
            write_log_line(log, stream, &line);
            line.clear();
            rest = &rest[end + 1..];
        }
        line.extend_from_slice(rest);
    }
    if !line.is_empty() {
        write_log_line(log, stream, &line);
    }
}

/// One json-file log record, as Docker's json-file driver writes it.
fn write_log_line(log: &Mutex<File>, stream: &str, bytes: &[u8]) {
    let record = serde_json::json!({
        "log": String::from_utf8_lossy(bytes),
        "stream": stream,
        "time": hoist_render::gotime::rfc3339_nano(&chrono::Utc::now()),
    });
    let mut text = record.to_string();
    text.push('\n');
    let mut file = log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = file.write_all(text.as_bytes());
}
