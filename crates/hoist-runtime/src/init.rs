//! The two re-executed init stages. Stage 1 (`__init`, the monitor) creates the cgroup, unshares the PID,
//! UTS, IPC and network namespaces, spawns stage 2, forwards signals to it, reaps it and removes the
//! cgroup. Stage 2 (`__init-child`, PID 1 of the new PID namespace) takes a mount namespace of its own,
//! builds the filesystem, sets hostname, loopback and identity, and execs the command.
//!
//! Stage 1 answers the caller on the report fd with one line, `started <pid>` or `failed <json>`, and
//! later `cleanup-failed <json>` if the cgroup could not be removed. Stage 2 writes its failure as JSON to
//! the error pipe, which is close-on-exec: end of file without data means the command was exec'd.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command};

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::stat::{Mode, umask};
use nix::unistd::{Gid, Pid, Uid, chdir, pipe2, sethostname, setresgid, setresuid, setsid};

use crate::cgroup::Cgroup;
use crate::command::{exec_failure, find_executable, path_variable};
use crate::error::{StartFailure, io_error_text};
use crate::netlink::bring_loopback_up;
use crate::rootfs::set_up_root;
use crate::spec::{ContainerSpec, NetworkMode, SeccompPolicy};
use crate::users::resolve_user;
use crate::{capabilities, seccomp};

/// argv[1] of stage 1: `<exe> __init <spec-file> <report-fd>`.
pub const INIT_SUBCOMMAND: &str = "__init";
/// argv[1] of stage 2: `/proc/self/exe __init-child <spec-file> <error-fd> <sync-fd>`.
pub const INIT_CHILD_SUBCOMMAND: &str = "__init-child";

/// Signals stage 1 passes on to the container's PID 1.
const FORWARDED_SIGNALS: &[Signal] = &[
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Whether `arg` (argv[1]) is one of the runtime's hidden subcommands, which main() must hand to
/// [`init_main`] before starting any thread.
pub fn is_init_subcommand(arg: &OsStr) -> bool {
    arg == INIT_SUBCOMMAND || arg == INIT_CHILD_SUBCOMMAND
}

/// Runs an init stage. `args` are the process arguments after the program name, starting with the
/// subcommand. Returns the process exit code: the container's (128+signal when it was killed) for
/// stage 1, Docker's start-failure code otherwise.
pub fn init_main(args: &[OsString]) -> i32 {
    match args {
        [command, spec, report] if command == INIT_SUBCOMMAND => match inherited_fd(report) {
            Some(report) => monitor_main(Path::new(spec), report),
            None => 125,
        },
        [command, spec, error, sync] if command == INIT_CHILD_SUBCOMMAND => {
            match (inherited_fd(error), inherited_fd(sync)) {
                (Some(error), Some(sync)) => container_main(Path::new(spec), error, sync),
                _ => 125,
            }
        }
        _ => 125,
    }
}

/// An fd number from argv; 0-2 are stdio and never a protocol pipe.
fn inherited_fd(arg: &OsStr) -> Option<i32> {
    arg.to_str()?.parse().ok().filter(|fd| *fd > 2)
}

/// Takes over an inherited pipe end given by number: reopens it through /proc (giving an owned,
/// close-on-exec descriptor without `unsafe`) and closes the inherited number so the container does
/// not inherit it.
fn reopen_inherited(fd: i32, write: bool) -> std::io::Result<File> {
    let path = format!("/proc/self/fd/{fd}");
    let file = if write {
        File::options().write(true).open(&path)?
    } else {
        // Non-blocking so that opening a pipe whose writer is already gone does not wait for a writer.
        let file = File::options()
            .read(true)
            .custom_flags(OFlag::O_NONBLOCK.bits())
            .open(&path)?;
        fcntl(&file, FcntlArg::F_SETFL(OFlag::empty())).map_err(std::io::Error::from)?;
        file
    };
    nix::unistd::close(fd).map_err(std::io::Error::from)?;
    Ok(file)
}

/// Lets `fd` survive the next spawn (the child learns its number from argv).
pub(crate) fn inheritable(fd: &OwnedFd) -> nix::Result<()> {
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty())).map(drop)
}

fn write_line(report: &mut File, kind: &str, payload: &str) {
    // The caller may be gone; then nobody is left to tell.
    let _ = writeln!(report, "{kind} {payload}");
}

fn encode(failure: &StartFailure) -> String {
    serde_json::to_string(failure).unwrap_or_else(|_| "null".into())
}

// ---- stage 1 -------------------------------------------------------------------------------------

fn monitor_main(spec_path: &Path, report_fd: i32) -> i32 {
    let Ok(mut report) = reopen_inherited(report_fd, true) else {
        return 125;
    };
    let started = match start_container(spec_path) {
        Ok(started) => started,
        Err(failure) => {
            write_line(&mut report, "failed", &encode(&failure));
            return failure.exit_code();
        }
    };
    let Started {
        mut child,
        signals,
        cgroup,
        slirp,
    } = started;
    write_line(&mut report, "started", &child.id().to_string());
    let code = forward_signals_until_exit(&mut child, &signals);
    drop(slirp);
    if let Some(Err(detail)) = cgroup.map(|cgroup| cgroup.remove()) {
        let detail = serde_json::to_string(&detail).unwrap_or_else(|_| "null".into());
        write_line(&mut report, "cleanup-failed", &detail);
    }
    code
}

struct Started {
    child: Child,
    signals: SignalFd,
    cgroup: Option<Cgroup>,
    /// Lives as long as the container: dropping it ends slirp4netns.
    slirp: Option<crate::slirp::Slirp>,
}

fn start_container(spec_path: &Path) -> Result<Started, StartFailure> {
    let spec = ContainerSpec::load(spec_path)
        .map_err(|error| StartFailure::setup("loading the container spec", error))?;
    let mut mask = SigSet::empty();
    for signal in FORWARDED_SIGNALS {
        mask.add(*signal);
    }
    mask.add(Signal::SIGCHLD);
    mask.thread_block()
        .map_err(|errno| StartFailure::setup("blocking signals", errno))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC)
        .map_err(|errno| StartFailure::setup("creating a signalfd", errno))?;
    let cgroup = match spec.join {
        Some(_) => None,
        None => Cgroup::create(&spec)?,
    };
    match spawn_container(&spec, spec_path, cgroup.as_ref()) {
        Ok((child, slirp)) => Ok(Started {
            child,
            signals,
            cgroup,
            slirp,
        }),
        Err(failure) => {
            if let Some(cgroup) = &cgroup {
                // Already failing: the removal error would hide the cause.
                let _ = cgroup.remove();
            }
            Err(failure)
        }
    }
}

fn spawn_container(
    spec: &ContainerSpec,
    spec_path: &Path,
    cgroup: Option<&Cgroup>,
) -> Result<(Child, Option<crate::slirp::Slirp>), StartFailure> {
    // The mount namespace is stage 2's own (see `try_set_up_and_exec`): pivot_root moves the root of
    // every process of a mount namespace, and stage 1 must keep the host's view to clean up.
    // A mount namespace of stage 1's own too, only for the read-only view of this binary below.
    let mut flags = CloneFlags::CLONE_NEWNS;
    for (name, flag) in [
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("pid", CloneFlags::CLONE_NEWPID),
    ] {
        if !spec.host_namespaces.iter().any(|n| n == name) {
            flags |= flag;
        }
    }
    let slirp = match spec.join {
        // exec: the container's namespaces but the mount one, which stage 2 joins (this process
        // must still see the read-only copy of itself to start stage 2 from it).
        Some(pid) => {
            unshare(CloneFlags::CLONE_NEWNS)
                .map_err(|errno| StartFailure::setup("creating a mount namespace", errno))?;
            let exe = read_only_self()?;
            join_namespaces(pid)?;
            return finish_spawn(spec_path, cgroup, exe, None);
        }
        // With slirp4netns the network namespace is made first, and slirp4netns started in the
        // host's, before the PID namespace exists: started after, it would be a process of the
        // container's.
        None => match (&spec.slirp, spec.network) {
            (Some(network), NetworkMode::Isolated) => {
                Some(crate::slirp::network_namespace(network)?)
            }
            _ => None,
        },
    };
    if spec.network == NetworkMode::Isolated && slirp.is_none() {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    unshare(flags).map_err(|errno| StartFailure::setup("creating namespaces", errno))?;
    let exe = read_only_self()?;
    finish_spawn(spec_path, cgroup, exe, slirp)
}

/// Enters the IPC, UTS, network and PID namespaces of the container whose init is `pid` (the PID
/// namespace for the children this process starts next).
fn join_namespaces(pid: u32) -> Result<(), StartFailure> {
    for (name, kind) in [
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("net", CloneFlags::CLONE_NEWNET),
        ("pid", CloneFlags::CLONE_NEWPID),
    ] {
        let path = format!("/proc/{pid}/ns/{name}");
        let namespace = File::open(&path).map_err(|error| {
            StartFailure::setup(format!("opening the container's {name} namespace"), error)
        })?;
        nix::sched::setns(&namespace, kind).map_err(|errno| {
            StartFailure::setup(format!("joining the container's {name} namespace"), errno)
        })?;
    }
    Ok(())
}

/// Starts stage 2 from `exe` in the namespaces this process has made or joined, puts it in the cgroup
/// and lets it run; returns once its command was exec'd, or its failure.
fn finish_spawn(
    spec_path: &Path,
    cgroup: Option<&Cgroup>,
    exe: std::path::PathBuf,
    slirp: Option<crate::slirp::Slirp>,
) -> Result<(Child, Option<crate::slirp::Slirp>), StartFailure> {
    let pipe = |what: &str| {
        pipe2(OFlag::O_CLOEXEC)
            .map_err(|errno| StartFailure::setup(format!("creating the {what} pipe"), errno))
    };
    let (error_read, error_write) = pipe("error")?;
    let (sync_read, sync_write) = pipe("sync")?;
    inheritable(&error_write)
        .and_then(|()| inheritable(&sync_read))
        .map_err(|errno| StartFailure::setup("passing pipes to the container init", errno))?;
    let spawned = Command::new(&exe)
        .arg(INIT_CHILD_SUBCOMMAND)
        .arg(spec_path)
        .arg(error_write.as_raw_fd().to_string())
        .arg(sync_read.as_raw_fd().to_string())
        .spawn();
    drop(error_write);
    drop(sync_read);
    let mut child =
        spawned.map_err(|error| StartFailure::setup("starting the container init", error))?;
    let mut error_read = File::from(error_read);
    let mut error_text = Vec::new();
    if let Some(Err(failure)) = cgroup.map(|cgroup| cgroup.add(child.id())) {
        // Dropping the sync pipe lets it run, so kill it first; it has not touched anything yet.
        let _ = child.kill();
        let _ = child.wait();
        return Err(failure);
    }
    drop(sync_write);
    let read = error_read.read_to_end(&mut error_text);
    if let Err(error) = read {
        let _ = child.kill();
        let _ = child.wait();
        return Err(StartFailure::setup(
            "reading the container init's error pipe",
            error,
        ));
    }
    if error_text.is_empty() {
        return Ok((child, slirp));
    }
    let _ = child.wait();
    Err(serde_json::from_slice(&error_text).unwrap_or_else(|_| {
        StartFailure::setup(
            "starting the container",
            String::from_utf8_lossy(&error_text).into_owned(),
        )
    }))
}

/// This binary, seen through a read-only bind mount of itself in stage 1's private mount namespace;
/// stage 2 is started from it. Until its exec, stage 2 runs this binary inside the container, and a
/// command of `/proc/self/exe` (or a `#!/proc/self/exe` script) would run it there for good: a process
/// of the container could then reopen it for writing through /proc and replace the host's runtime
/// (CVE-2019-5736). Through this mount every such open fails with EROFS.
fn read_only_self() -> Result<std::path::PathBuf, StartFailure> {
    let exe = std::fs::read_link("/proc/self/exe")
        .map_err(|error| StartFailure::setup("reading /proc/self/exe", error))?;
    if exe.to_string_lossy().ends_with(" (deleted)") || !exe.is_file() {
        return Err(StartFailure::setup(
            "protecting the runtime binary",
            format!(
                "{} was replaced or removed while hoist ran; run the new hoist",
                exe.display()
            ),
        ));
    }
    let failed =
        |what: &str, errno| StartFailure::setup(format!("{what} {}", exe.display()), errno);
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|errno| StartFailure::setup("making / private", errno))?;
    mount(
        Some(&exe),
        &exe,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|errno| failed("bind-mounting", errno))?;
    mount(
        None::<&str>,
        &exe,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .map_err(|errno| failed("making read-only", errno))?;
    Ok(exe)
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 125,
    }
}

/// Forwards signals until the child exits; returns its exit code (128+signal when killed).
fn forward_signals_until_exit(child: &mut Child, signals: &SignalFd) -> i32 {
    let pid = i32::try_from(child.id()).map(Pid::from_raw);
    loop {
        match signals.read_signal() {
            Ok(Some(info)) => {
                let number = i32::try_from(info.ssi_signo).unwrap_or(0);
                if number == Signal::SIGCHLD as i32 {
                    match child.try_wait() {
                        Ok(Some(status)) => return exit_code(status),
                        Ok(None) => continue,
                        Err(_) => break,
                    }
                }
                if let (Ok(pid), Ok(signal)) = (pid, Signal::try_from(number)) {
                    // The container may be exiting; a signal that finds nobody is harmless.
                    let _ = kill(pid, signal);
                }
            }
            Ok(None) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    // The signalfd failed: stop forwarding but still report the exit.
    child.wait().map(exit_code).unwrap_or(125)
}

// ---- stage 2 -------------------------------------------------------------------------------------

fn container_main(spec_path: &Path, error_fd: i32, sync_fd: i32) -> i32 {
    let Ok(mut errors) = reopen_inherited(error_fd, true) else {
        return 125;
    };
    let failure = match reopen_inherited(sync_fd, false) {
        // Wait until stage 1 has put this process in the cgroup (it closes its end then).
        Ok(mut sync) => {
            let mut byte = [0u8; 1];
            let _ = sync.read(&mut byte);
            drop(sync);
            set_up_and_exec(spec_path, errors.as_raw_fd())
        }
        Err(error) => StartFailure::setup("opening the sync pipe", error),
    };
    let _ = errors.write_all(encode(&failure).as_bytes());
    failure.exit_code()
}

/// Builds the container around this process and execs its command; returns only on failure.
/// `error_fd` is the (close-on-exec) pipe that reports a failure; every other descriptor above stdio
/// is closed before the command can see it.
fn set_up_and_exec(spec_path: &Path, error_fd: i32) -> StartFailure {
    match try_set_up_and_exec(spec_path, error_fd) {
        Ok(never) => match never {},
        Err(failure) => failure,
    }
}

/// Closes every descriptor above stdio but `keep`: a descriptor of the host's (a directory above all)
/// left open would let the container reach the host through /proc/self/fd (CVE-2024-21626).
fn close_inherited_fds(keep: i32) -> Result<(), StartFailure> {
    let open: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map_err(|error| StartFailure::setup("listing open descriptors", error))?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open.into_iter().filter(|fd| *fd > 2 && *fd != keep) {
        // The directory listing's own descriptor is already gone: EBADF is expected for it.
        match nix::unistd::close(fd) {
            Ok(()) | Err(nix::errno::Errno::EBADF) => {}
            Err(errno) => {
                return Err(StartFailure::setup(
                    format!("closing descriptor {fd}"),
                    errno,
                ));
            }
        }
    }
    Ok(())
}

/// The seccomp filter the spec asks for, compiled for the capabilities the container keeps.
fn seccomp_filter(spec: &ContainerSpec) -> Result<Option<seccomp::Filter>, StartFailure> {
    let confinement = &spec.confinement;
    let profile = match &confinement.seccomp {
        SeccompPolicy::Unconfined => return Ok(None),
        _ if confinement.privileged => return Ok(None),
        SeccompPolicy::Default => seccomp::Profile::docker_default(),
        SeccompPolicy::Profile(json) => seccomp::Profile::parse(json)
            .map_err(|error| StartFailure::setup("reading the seccomp profile", error))?,
    };
    let capabilities: Vec<&str> = confinement
        .capabilities
        .iter()
        .map(String::as_str)
        .collect();
    seccomp::compile(&profile, &capabilities)
        .map(Some)
        .map_err(|error| StartFailure::setup("compiling the seccomp profile", error))
}

fn install_seccomp(filter: Option<&seccomp::Filter>) -> Result<(), StartFailure> {
    match filter {
        Some(filter) => seccomp::install(filter)
            .map_err(|error| StartFailure::setup("installing the seccomp filter", error)),
        None => Ok(()),
    }
}

fn try_set_up_and_exec(
    spec_path: &Path,
    error_fd: i32,
) -> Result<std::convert::Infallible, StartFailure> {
    // If stage 1 dies, so does the container, instead of running on unmonitored.
    let die_with_parent = || {
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
            .map_err(|errno| StartFailure::setup("setting the parent-death signal", errno))
    };
    die_with_parent()?;
    // Stage 1 blocked the forwarded signals and spawning does not unblock them: the container
    // starts with none blocked, as under Docker.
    SigSet::all()
        .thread_unblock()
        .map_err(|errno| StartFailure::setup("unblocking signals", errno))?;
    umask(Mode::from_bits_truncate(0o022));
    let spec = ContainerSpec::load(spec_path)
        .map_err(|error| StartFailure::setup("loading the container spec", error))?;
    let Some(command) = spec.args.first() else {
        return Err(StartFailure::NoCommand);
    };
    // Read while the host's cgroup mounts are still in view.
    let device_rules_enforced = crate::cgroup::device_rules_enforced();
    if let Some(pid) = spec.join {
        // exec: the container's filesystem as its init sees it; joining a mount namespace also
        // makes its root this process's root and working directory.
        let path = format!("/proc/{pid}/ns/mnt");
        let namespace = File::open(&path).map_err(|error| {
            StartFailure::setup("opening the container's mount namespace", error)
        })?;
        nix::sched::setns(&namespace, CloneFlags::CLONE_NEWNS).map_err(|errno| {
            StartFailure::setup("joining the container's mount namespace", errno)
        })?;
    } else {
        unshare(CloneFlags::CLONE_NEWNS)
            .map_err(|errno| StartFailure::setup("creating the mount namespace", errno))?;
        // Nothing mounted from here on may propagate back to the host.
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(|errno| StartFailure::setup("making / private", errno))?;
        set_up_root(&spec)?;
        if !spec.hostname.is_empty() && !spec.host_namespaces.iter().any(|n| n == "uts") {
            sethostname(&spec.hostname).map_err(|errno| {
                StartFailure::setup(format!("setting hostname {:?}", spec.hostname), errno)
            })?;
        }
        if spec.network == NetworkMode::Isolated {
            bring_loopback_up()?;
        }
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok();
    let group = std::fs::read_to_string("/etc/group").ok();
    let user = resolve_user(&spec.user, passwd.as_deref(), group.as_deref())?;
    let mut env = spec.env.clone();
    if !env.iter().any(|entry| entry.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    let cwd = if spec.cwd.is_empty() {
        "/"
    } else {
        spec.cwd.as_str()
    };
    // Docker creates a missing working directory owned by root, mode 0755, before switching user.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(cwd)
        .map_err(|error| StartFailure::WorkingDirectory {
            cwd: cwd.into(),
            reason: io_error_text(&error),
        })?;
    // A session of its own: job control signals from the caller's terminal do not reach it directly.
    setsid().map_err(|errno| StartFailure::setup("setsid", errno))?;
    if spec.tty {
        rustix::process::ioctl_tiocsctty(std::io::stdin().as_fd())
            .map_err(|errno| StartFailure::setup("making stdin the controlling terminal", errno))?;
    }
    for limit in &spec.ulimits {
        let Some(resource) = crate::spec::resource(&limit.name) else {
            continue;
        };
        let value = |v: i64| u64::try_from(v).ok();
        rustix::process::setrlimit(
            resource,
            rustix::process::Rlimit {
                current: value(limit.soft),
                maximum: value(limit.hard),
            },
        )
        .map_err(|errno| StartFailure::setup(format!("setting ulimit {}", limit.name), errno))?;
    }
    close_inherited_fds(error_fd)?;
    let confinement = &spec.confinement;
    let filter = seccomp_filter(&spec)?;
    if !confinement.privileged {
        let mut keep = confinement.capabilities.clone();
        if !device_rules_enforced {
            // Nothing would stop a device node made in the container from being opened.
            keep.retain(|c| c != "CAP_MKNOD");
        }
        capabilities::restrict_to(&keep)?;
    }
    if confinement.no_new_privileges {
        rustix::thread::set_no_new_privs(true)
            .map_err(|errno| StartFailure::setup("setting no_new_privs", errno))?;
    } else {
        // Without no_new_privs a filter needs CAP_SYS_ADMIN, which the user switch takes away: install
        // it now (Docker's profile allows what is left to do), as runc does.
        install_seccomp(filter.as_ref())?;
    }
    let mut gids: Vec<Gid> = user
        .supplementary_gids
        .iter()
        .copied()
        .map(Gid::from_raw)
        .collect();
    for extra in &spec.extra_groups {
        let gid = crate::users::group_id(extra, group.as_deref())?;
        if !gids.contains(&Gid::from_raw(gid)) {
            gids.push(Gid::from_raw(gid));
        }
    }
    nix::unistd::setgroups(&gids)
        .map_err(|errno| StartFailure::setup("setting supplementary groups", errno))?;
    let gid = Gid::from_raw(user.gid);
    setresgid(gid, gid, gid)
        .map_err(|errno| StartFailure::setup(format!("setting gid {}", user.gid), errno))?;
    let uid = Uid::from_raw(user.uid);
    setresuid(uid, uid, uid)
        .map_err(|errno| StartFailure::setup(format!("setting uid {}", user.uid), errno))?;
    // Changing credentials cleared the parent-death signal.
    die_with_parent()?;
    chdir(cwd).map_err(|errno| StartFailure::WorkingDirectory {
        cwd: cwd.into(),
        reason: crate::error::errno_text(errno),
    })?;
    // A working directory outside the root (reached through a descriptor or a mount) reads back as
    // "(unreachable)/...": refuse it rather than start the command there.
    match nix::unistd::getcwd() {
        Ok(dir) if dir.is_absolute() => {}
        _ => {
            return Err(StartFailure::WorkingDirectory {
                cwd: cwd.into(),
                reason: "the working directory is outside the container".into(),
            });
        }
    }
    let program = find_executable(command, path_variable(&env))?;
    if confinement.no_new_privileges {
        install_seccomp(filter.as_ref())?;
    }
    let variables = env.iter().filter_map(|entry| entry.split_once('='));
    // std's exec resets the signal mask and SIGPIPE (which the Rust runtime ignores) to their defaults.
    let error = Command::new(&program)
        .arg0(command)
        .args(spec.args.iter().skip(1))
        .env_clear()
        .envs(variables)
        .exec();
    Err(exec_failure(&program, &error))
}
