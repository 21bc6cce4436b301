//! `create`: a container record composed from the image's config and the flags exactly as Docker composes
//! them (entrypoint and command, environment, working directory, user, hostname), its writable snapshot
//! and the files the runtime mounts. Everything the user can get wrong is checked before anything is made,
//! and a failure afterwards removes what was made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hoist_spec::ContainerConfig;
use hoist_store::ContainerRecord;
use serde_json::Value;

use super::{ContainerSetup, DeviceMapping, HostSetup, RunState, container_dir, remove_tree};
use crate::{Hoist, OpsError};

/// `create`/`run` flags that shape the container.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The image as the user typed it.
    pub image: String,
    /// Arguments after the image name (the command).
    pub command: Vec<String>,
    pub name: Option<String>,
    /// `-e KEY=VALUE` or `-e KEY` (taken from `host_env`).
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// `--entrypoint`; an empty string clears the image's.
    pub entrypoint: Option<String>,
    /// `-v SRC:DST[:ro|rw]`.
    pub volumes: Vec<String>,
    /// `--network none|host`.
    pub network: Option<String>,
    pub hostname: Option<String>,
    pub labels: Vec<String>,
    pub tty: bool,
    pub interactive: bool,
    /// Whether a client stays attached (run without -d): Docker's AttachStdout/AttachStderr.
    pub attach: bool,
    /// `--rm`.
    pub auto_remove: bool,
    /// `-m`, as typed (`64m`).
    pub memory: Option<String>,
    /// `--cpus`, as typed (`1.5`).
    pub cpus: Option<String>,
    /// The caller's environment, for `-e KEY` and env-file lines without a value.
    pub host_env: BTreeMap<String, String>,
    /// `--stop-signal`, over the image's STOPSIGNAL.
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds, over Docker's 10.
    pub stop_timeout: Option<i64>,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--security-opt` as typed (`seccomp=PATH` names a file, read here).
    pub security_opt: Vec<String>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--pids-limit`.
    pub pids_limit: Option<i64>,
    /// `--ulimit`.
    pub ulimits: Vec<String>,
    /// `--shm-size` as typed (`128m`).
    pub shm_size: Option<String>,
    /// `--device`.
    pub devices: Vec<String>,
    /// `--tmpfs PATH[:OPTIONS]`.
    pub tmpfs: Vec<String>,
    /// `-c/--cpu-shares`.
    pub cpu_shares: Option<i64>,
    /// `--cpu-period`.
    pub cpu_period: Option<i64>,
    /// `--cpu-quota`.
    pub cpu_quota: Option<i64>,
    /// `-p/--publish` specs.
    pub publish: Vec<String>,
    /// `-P/--publish-all`.
    pub publish_all: bool,
    /// `--expose` ports (`80`, `53/udp`, `8000-8010`).
    pub expose: Vec<String>,
    /// `--group-add`.
    pub group_add: Vec<String>,
    /// `--ipc`.
    pub ipc: Option<String>,
    /// `--pid`.
    pub pid: Option<String>,
    /// `--uts`.
    pub uts: Option<String>,
}

/// Docker's default `PATH`, used when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Creates the container and returns its ID.
pub fn create(hoist: &Hoist, opts: &CreateOptions) -> Result<String, OpsError> {
    let found = crate::lookup::find_image(&hoist.store, &opts.image)?;
    let image = hoist
        .store
        .image(&found.id)?
        .ok_or_else(|| OpsError::NoSuchImage(opts.image.clone()))?;
    let image_config = crate::inspect::image_config(hoist, &found.id)?;
    let id = new_container_id()?;
    let name = match &opts.name {
        Some(name) => {
            let name = name.strip_prefix('/').unwrap_or(name);
            check_name(name)?;
            name.to_owned()
        }
        None => generate_name(&id),
    };
    if let Some(holder) = hoist.store.container_by_name(&name)? {
        return Err(hoist_store::StoreError::ContainerNameInUse {
            name,
            id: holder.id,
        }
        .into());
    }
    let driver = super::storage_driver(hoist)?;
    let mut setup = compose(
        opts,
        image_config.config.config.clone().unwrap_or_default(),
        &id,
    )?;
    setup.driver = driver.to_string();

    let dir = container_dir(hoist, &id);
    let made = (|| -> Result<(), OpsError> {
        std::fs::create_dir_all(dir.join("rootfs")).map_err(io_error(&dir))?;
        write_etc_files(&dir, &setup)?;
        hoist.store.create_container_snapshot(&id, &image, driver)?;
        let record = ContainerRecord {
            id: id.clone(),
            name,
            image: found.id.clone(),
            created: crate::now_nanos(),
            // Serialising plain data cannot fail.
            config: serde_json::to_string(&setup).unwrap_or_default(),
            state: serde_json::to_string(&RunState::default()).unwrap_or_default(),
        };
        hoist.store.insert_container(&record)?;
        Ok(())
    })();
    if let Err(e) = made {
        let _ = hoist.store.remove_container_snapshot(&id);
        let _ = remove_tree(&dir);
        return Err(e);
    }
    Ok(id)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> OpsError + '_ {
    move |error| OpsError::Input {
        source_name: path.display().to_string(),
        error,
    }
}

/// Docker's `Config`, `Path`/`Args` and `HostConfig` from the image's config and the flags.
pub(crate) fn compose(
    opts: &CreateOptions,
    image: ContainerConfig,
    id: &str,
) -> Result<ContainerSetup, OpsError> {
    let mut exposed: Vec<String> = image
        .exposed_ports
        .as_ref()
        .map(|ports| ports.keys().cloned().collect())
        .unwrap_or_default();
    for spec in &opts.expose {
        for port in super::ports::parse_expose(spec)? {
            if !exposed.contains(&port) {
                exposed.push(port);
            }
        }
    }
    let host = host_setup(opts, &exposed)?;
    // An explicit entrypoint drops the image's command too, unless one is given (Docker does the same).
    let (entrypoint, cmd) = match &opts.entrypoint {
        Some(e) => {
            let entrypoint = if e.is_empty() {
                vec![]
            } else {
                vec![e.clone()]
            };
            (entrypoint, opts.command.clone())
        }
        None => {
            let cmd = if opts.command.is_empty() {
                image.cmd.clone().unwrap_or_default()
            } else {
                opts.command.clone()
            };
            (image.entrypoint.clone().unwrap_or_default(), cmd)
        }
    };
    let argv: Vec<String> = entrypoint.iter().chain(&cmd).cloned().collect();
    let Some((path, args)) = argv.split_first() else {
        return Err(OpsError::NoCommand);
    };
    if let Some(dir) = &opts.workdir
        && !dir.starts_with('/')
    {
        return Err(OpsError::InvalidOption(format!(
            "the working directory '{dir}' is invalid, it needs to be an absolute path"
        )));
    }

    let mut user_env = Vec::new();
    for file in &opts.env_files {
        user_env.extend(read_env_file(file, &opts.host_env)?);
    }
    for entry in &opts.env {
        user_env.extend(env_entry(entry, &opts.host_env)?);
    }
    let env = merge_env(image.env.clone().unwrap_or_default(), user_env);

    let mut labels = image.labels.clone().unwrap_or_default();
    for label in &opts.labels {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        labels.insert(key.to_owned(), value.to_owned());
    }

    let hostname = match &opts.hostname {
        Some(h) => h.clone(),
        None if host.network_mode == "host" => host_hostname(),
        None => id.get(..12).unwrap_or(id).to_owned(),
    };
    let mut config = image;
    config.entrypoint = (!entrypoint.is_empty()).then_some(entrypoint);
    config.cmd = (!cmd.is_empty()).then_some(cmd);
    config.env = (!env.is_empty()).then_some(env);
    if let Some(user) = &opts.user {
        config.user = Some(user.clone());
    }
    if let Some(dir) = &opts.workdir {
        config.working_dir = Some(dir.clone());
    }
    config.labels = Some(labels);
    // Exposed and published ports are the container's ExposedPorts, as in Docker.
    let ports = config.exposed_ports.get_or_insert_with(Default::default);
    for port in exposed.iter().chain(host.port_bindings.keys()) {
        ports
            .entry(port.clone())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    if ports.is_empty() {
        config.exposed_ports = None;
    }
    if let Some(signal) = &opts.stop_signal {
        crate::container::manage::parse_signal(signal)?;
        config.stop_signal = Some(signal.clone());
    }
    if let Some(timeout) = opts.stop_timeout {
        config.stop_timeout = Some(timeout);
    }
    // Build-time fields of the image config are not a container's.
    config.on_build = None;
    let extra = &mut config.extra;
    extra.insert("Hostname".into(), Value::from(hostname));
    extra.insert("Domainname".into(), Value::from(""));
    extra.insert(
        "AttachStdin".into(),
        Value::from(opts.interactive && opts.attach),
    );
    extra.insert("AttachStdout".into(), Value::from(opts.attach));
    extra.insert("AttachStderr".into(), Value::from(opts.attach));
    extra.insert("Tty".into(), Value::from(opts.tty));
    extra.insert("OpenStdin".into(), Value::from(opts.interactive));
    extra.insert(
        "StdinOnce".into(),
        Value::from(opts.interactive && opts.attach),
    );
    extra.insert("Image".into(), Value::from(opts.image.clone()));
    Ok(ContainerSetup {
        config,
        path: path.clone(),
        args: args.to_vec(),
        host,
        driver: String::new(),
    })
}

fn host_setup(opts: &CreateOptions, exposed: &[String]) -> Result<HostSetup, OpsError> {
    let publishing = !opts.publish.is_empty() || opts.publish_all;
    let network_mode = match opts.network.as_deref() {
        // Publishing a port needs a way in: the bridge network (slirp4netns), as Docker's default.
        None if publishing => "bridge",
        None | Some("none") => "none",
        Some("bridge" | "default") => "bridge",
        Some("host") => "host",
        Some(other) => {
            return Err(OpsError::InvalidOption(format!(
                "network {other} not found: hoist has the bridge network (slirp4netns), none (loopback only, the default) and host"
            )));
        }
    };
    if publishing && network_mode != "bridge" {
        return Err(OpsError::InvalidOption(format!(
            "conflicting options: port publishing and the container type network mode ({network_mode})"
        )));
    }
    let mut port_bindings: std::collections::BTreeMap<String, Vec<super::PortBinding>> =
        std::collections::BTreeMap::new();
    for spec in &opts.publish {
        for (port, binding) in super::ports::parse_publish(spec)? {
            port_bindings.entry(port).or_default().push(binding);
        }
    }
    if opts.publish_all {
        for port in exposed {
            if !port_bindings.contains_key(port) {
                let protocol = port.rsplit('/').next().unwrap_or("tcp");
                port_bindings.insert(
                    port.clone(),
                    vec![super::PortBinding {
                        host_ip: "0.0.0.0".to_owned(),
                        host_port: super::ports::free_port("0.0.0.0", protocol)?.to_string(),
                    }],
                );
            }
        }
    }
    super::ports::allocate(&mut port_bindings)?;
    for bind in &opts.volumes {
        parse_bind(bind)?;
    }
    let memory = match &opts.memory {
        None => 0,
        Some(text) => {
            let bytes = hoist_render::units::parse_ram_size(text).map_err(|_| {
                OpsError::InvalidOption(format!(
                    "invalid argument \"{text}\" for \"-m, --memory\" flag: invalid size: '{text}'"
                ))
            })?;
            if bytes > 0 && bytes < 6 * 1024 * 1024 {
                return Err(OpsError::InvalidOption(
                    "Minimum memory limit allowed is 6MB".to_owned(),
                ));
            }
            bytes
        }
    };
    let nano_cpus = match &opts.cpus {
        None => 0,
        Some(text) => {
            let invalid = || {
                OpsError::InvalidOption(format!(
                    "invalid argument \"{text}\" for \"--cpus\" flag: failed to parse {text} as a rational number"
                ))
            };
            let cpus: f64 = text.parse().map_err(|_| invalid())?;
            if !cpus.is_finite() || cpus < 0.0 {
                return Err(invalid());
            }
            let online = std::thread::available_parallelism().map_or(1, usize::from);
            if cpus > online as f64 {
                return Err(OpsError::InvalidOption(format!(
                    "Range of CPUs is from 0.01 to {online}.00, as there are only {online} CPUs available"
                )));
            }
            (cpus * 1e9).round() as i64
        }
    };
    let normalize = |caps: &[String]| -> Result<Vec<String>, OpsError> {
        // Validated against the full set the runtime will compute.
        hoist_runtime::capabilities::with_changes(caps, &[]).map_err(OpsError::InvalidOption)?;
        Ok(caps
            .iter()
            .map(|c| {
                let upper = c.trim().to_ascii_uppercase();
                if upper == "ALL" || upper.starts_with("CAP_") {
                    upper
                } else {
                    format!("CAP_{upper}")
                }
            })
            .collect())
    };
    let cap_add = normalize(&opts.cap_add)?;
    let cap_drop = normalize(&opts.cap_drop)?;
    let mut security_opt = Vec::new();
    for option in &opts.security_opt {
        security_opt.push(security_option(option)?);
    }
    for ulimit in &opts.ulimits {
        hoist_runtime::Ulimit::parse(ulimit).map_err(OpsError::InvalidOption)?;
    }
    let shm_size = match &opts.shm_size {
        None => 0,
        Some(text) => {
            let bytes = hoist_render::units::parse_ram_size(text).map_err(|_| {
                OpsError::InvalidOption(format!(
                    "invalid argument \"{text}\" for \"--shm-size\" flag: invalid size: '{text}'"
                ))
            })?;
            if bytes <= 0 {
                return Err(OpsError::InvalidOption(
                    "SHM size can not be less than 0".to_owned(),
                ));
            }
            bytes
        }
    };
    let devices = opts
        .devices
        .iter()
        .map(|d| device_mapping(d))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tmpfs = std::collections::BTreeMap::new();
    for spec in &opts.tmpfs {
        let (path, options) = spec.split_once(':').unwrap_or((spec.as_str(), ""));
        if !path.starts_with('/') {
            return Err(OpsError::InvalidOption(format!(
                "invalid mount config for type \"tmpfs\": invalid mount path: '{path}' mount path must be absolute"
            )));
        }
        tmpfs_mount(path, options)?;
        tmpfs.insert(path.to_owned(), options.to_owned());
    }
    if opts.cpus.is_some() {
        for (set, what) in [
            (opts.cpu_quota.is_some_and(|q| q > 0), "CPU Quota"),
            (opts.cpu_period.is_some_and(|p| p > 0), "CPU Period"),
        ] {
            if set {
                return Err(OpsError::InvalidOption(format!(
                    "Conflicting options: Nano CPUs and {what} cannot both be set"
                )));
            }
        }
    }
    if opts.cpu_quota.is_some_and(|q| q > 0 && q < 1000) {
        return Err(OpsError::InvalidOption(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)".to_owned(),
        ));
    }
    if opts
        .cpu_period
        .is_some_and(|p| p != 0 && !(1000..=1_000_000).contains(&p))
    {
        return Err(OpsError::InvalidOption(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .to_owned(),
        ));
    }
    let mode = |flag: &str, value: &Option<String>, allowed: &[&str]| -> Result<String, OpsError> {
        match value.as_deref() {
            None | Some("") => Ok(String::new()),
            Some(v) if allowed.contains(&v) => Ok(v.to_owned()),
            Some(v) => Err(OpsError::InvalidOption(format!(
                "--{flag}: invalid {} mode {v:?}: hoist has {}",
                flag.to_uppercase(),
                allowed.join(", ")
            ))),
        }
    };
    let ipc_mode = mode("ipc", &opts.ipc, &["private", "shareable", "host"])?;
    let pid_mode = mode("pid", &opts.pid, &["host"])?;
    let uts_mode = mode("uts", &opts.uts, &["host"])?;
    Ok(HostSetup {
        binds: opts.volumes.clone(),
        network_mode: network_mode.to_owned(),
        auto_remove: opts.auto_remove,
        memory,
        nano_cpus,
        cap_add,
        cap_drop,
        privileged: opts.privileged,
        security_opt,
        readonly_rootfs: opts.read_only,
        pids_limit: opts.pids_limit,
        ulimits: opts.ulimits.clone(),
        shm_size,
        devices,
        tmpfs,
        cpu_shares: opts.cpu_shares.unwrap_or(0),
        cpu_period: opts.cpu_period.unwrap_or(0),
        cpu_quota: opts.cpu_quota.unwrap_or(0),
        port_bindings,
        publish_all_ports: opts.publish_all,
        group_add: opts.group_add.clone(),
        ipc_mode,
        pid_mode,
        uts_mode,
    })
}

/// The runtime's tmpfs mount for `--tmpfs PATH:OPTIONS` (`size=64m`, `mode=755`, `ro`, `noexec`, ...).
pub(crate) fn tmpfs_mount(
    path: &str,
    options: &str,
) -> Result<hoist_runtime::TmpfsMount, OpsError> {
    let mut mount = hoist_runtime::TmpfsMount {
        destination: path.to_owned(),
        size: None,
        options: Vec::new(),
    };
    for option in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let invalid = || {
            OpsError::InvalidOption(format!(
                "invalid mount config for type \"tmpfs\": invalid tmpfs option {option:?}"
            ))
        };
        match option.split_once('=') {
            Some(("size", value)) => {
                let bytes = hoist_render::units::parse_ram_size(value).map_err(|_| invalid())?;
                mount.size = u64::try_from(bytes).ok();
            }
            Some(("mode", value)) if u32::from_str_radix(value, 8).is_ok() => {
                mount.options.push(option.to_owned());
            }
            Some(("uid" | "gid" | "nr_inodes", value)) if value.parse::<u64>().is_ok() => {
                mount.options.push(option.to_owned());
            }
            None if matches!(
                option,
                "ro" | "rw" | "noexec" | "exec" | "nosuid" | "suid" | "nodev" | "dev"
            ) =>
            {
                mount.options.push(option.to_owned());
            }
            _ => return Err(invalid()),
        }
    }
    // Docker's defaults for --tmpfs: noexec, nosuid, nodev unless the options say otherwise.
    if !mount.options.iter().any(|o| o == "exec") {
        mount.options.insert(0, "noexec".to_owned());
    }
    Ok(mount)
}

/// One `--security-opt`, checked and in the form Docker records: a seccomp profile file is read and its
/// JSON kept (`seccomp=<json>`), so the container does not depend on the file later.
fn security_option(option: &str) -> Result<String, OpsError> {
    let invalid = || OpsError::InvalidOption(format!("Invalid --security-opt: {option:?}"));
    // Docker still accepts the old `key:value` spelling.
    let (key, value) = option
        .split_once('=')
        .or_else(|| option.split_once(':'))
        .map_or((option, None), |(k, v)| (k, Some(v)));
    match (key, value) {
        ("no-new-privileges", None) => Ok("no-new-privileges".to_owned()),
        ("no-new-privileges", Some(v)) => match v {
            "true" => Ok("no-new-privileges".to_owned()),
            "false" => Ok("no-new-privileges=false".to_owned()),
            _ => Err(OpsError::InvalidOption(format!(
                "invalid --security-opt 2: {option:?}"
            ))),
        },
        ("seccomp", Some("unconfined")) => Ok("seccomp=unconfined".to_owned()),
        ("seccomp", Some(path)) => {
            let json = std::fs::read_to_string(path).map_err(|error| {
                OpsError::InvalidOption(format!(
                    "opening seccomp profile ({path}) failed: {}",
                    hoist_runtime::io_error_text(&error)
                ))
            })?;
            hoist_runtime::seccomp::Profile::parse(&json)
                .map_err(|error| OpsError::InvalidOption(error.to_string()))?;
            Ok(format!("seccomp={json}"))
        }
        ("apparmor", Some("unconfined")) | ("label", Some("disable")) => Ok(option.to_owned()),
        ("apparmor" | "label", Some(_)) => Err(OpsError::InvalidOption(format!(
            "--security-opt {option}: hoist confines containers with capabilities and seccomp, not \
             AppArmor or SELinux profiles"
        ))),
        _ => Err(invalid()),
    }
}

/// `--device HOST[:CONTAINER[:PERMISSIONS]]` as Docker reads it.
fn device_mapping(text: &str) -> Result<DeviceMapping, OpsError> {
    let parts: Vec<&str> = text.split(':').collect();
    let valid_permissions =
        |p: &str| !p.is_empty() && p.chars().all(|c| matches!(c, 'r' | 'w' | 'm'));
    let (host, container, permissions) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, third] if valid_permissions(third) => (*host, *host, *third),
        [host, container] => (*host, *container, "rwm"),
        [host, container, permissions] if valid_permissions(permissions) => {
            (*host, *container, *permissions)
        }
        _ => {
            return Err(OpsError::InvalidOption(format!(
                "invalid device specification: {text}"
            )));
        }
    };
    if !container.starts_with('/') {
        return Err(OpsError::InvalidOption(format!(
            "invalid device specification: {text}: the container path must be absolute"
        )));
    }
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(host) {
        Ok(meta) if meta.file_type().is_char_device() || meta.file_type().is_block_device() => {}
        Ok(_) => {
            return Err(OpsError::InvalidOption(format!(
                "error gathering device information while adding custom device \"{host}\": not a device node"
            )));
        }
        Err(error) => {
            return Err(OpsError::InvalidOption(format!(
                "error gathering device information while adding custom device \"{host}\": {}",
                hoist_runtime::io_error_text(&error)
            )));
        }
    }
    Ok(DeviceMapping {
        path_on_host: host.to_owned(),
        path_in_container: container.to_owned(),
        cgroup_permissions: permissions.to_owned(),
    })
}

/// A mount from `-v SRC:DST[:ro|rw]`: a host path, or a named volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// The host path (empty for a volume, whose directory the store decides).
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
    /// `-v NAME:/path`: the named volume.
    pub volume: Option<String>,
}

pub fn parse_bind(spec: &str) -> Result<Bind, OpsError> {
    let invalid = || OpsError::InvalidOption(format!("invalid volume specification: '{spec}'"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, destination, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        [_] => {
            return Err(OpsError::InvalidOption(format!(
                "anonymous volumes are not supported: '{spec}' needs a host path (-v /host/dir:{spec})"
            )));
        }
        _ => return Err(invalid()),
    };
    let volume = if source.starts_with('/') {
        None
    } else {
        crate::volume::check_name(source)?;
        Some(source.to_owned())
    };
    if !destination.starts_with('/') {
        return Err(OpsError::InvalidOption(format!(
            "invalid mount config for type \"bind\": invalid mount path: '{destination}' mount path must be absolute"
        )));
    }
    let read_only = match mode {
        "" | "rw" => false,
        "ro" => true,
        _ => return Err(invalid()),
    };
    Ok(Bind {
        source: if volume.is_some() {
            PathBuf::new()
        } else {
            PathBuf::from(source)
        },
        destination: destination.to_owned(),
        read_only,
        volume,
    })
}

/// One `-e` value: `KEY=VALUE` as is, `KEY` from the caller's environment or nothing if unset.
pub(crate) fn env_entry(
    entry: &str,
    host: &BTreeMap<String, String>,
) -> Result<Option<String>, OpsError> {
    if entry.starts_with('=') || entry.is_empty() {
        return Err(OpsError::InvalidOption(format!(
            "invalid environment variable: {entry}"
        )));
    }
    if entry.contains('=') {
        return Ok(Some(entry.to_owned()));
    }
    Ok(host.get(entry).map(|value| format!("{entry}={value}")))
}

/// Docker's env-file format: `KEY=VALUE` or `KEY` lines, `#` comments and blank lines skipped.
pub(crate) fn read_env_file(
    path: &Path,
    host: &BTreeMap<String, String>,
) -> Result<Vec<String>, OpsError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    let mut out = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line.split_once('=').map_or(line, |(k, _)| k);
        if key.contains(char::is_whitespace) {
            return Err(OpsError::InvalidOption(format!(
                "{}:{}: variable '{}' contains whitespaces",
                path.display(),
                number + 1,
                key.trim_start()
            )));
        }
        out.extend(env_entry(line, host)?);
    }
    Ok(out)
}

/// The image's environment with the user's entries replacing those of the same key, new ones appended.
pub(crate) fn merge_env(mut base: Vec<String>, overrides: Vec<String>) -> Vec<String> {
    let key = |entry: &str| entry.split_once('=').map_or(entry, |(k, _)| k).to_owned();
    for entry in overrides {
        let k = key(&entry);
        match base.iter_mut().find(|existing| key(existing) == k) {
            Some(slot) => *slot = entry,
            None => base.push(entry),
        }
    }
    base
}

/// The environment the process gets: Docker's PATH and HOSTNAME (and TERM with a tty) under the
/// container's own entries.
pub fn process_env(setup: &ContainerSetup) -> Vec<String> {
    let hostname = match setup.config.extra.get("Hostname") {
        Some(Value::String(h)) => h.clone(),
        _ => String::new(),
    };
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if matches!(setup.config.extra.get("Tty"), Some(Value::Bool(true))) {
        env.push("TERM=xterm".to_owned());
    }
    merge_env(env, setup.config.env.clone().unwrap_or_default())
}

fn host_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` for the container, written to its directory.
fn write_etc_files(dir: &Path, setup: &ContainerSetup) -> Result<(), OpsError> {
    let hostname = match setup.config.extra.get("Hostname") {
        Some(Value::String(h)) => h.clone(),
        _ => String::new(),
    };
    let host_network = setup.host.network_mode == "host";
    let hosts = if host_network {
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n".to_owned()
    };
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = if host_network {
        host_resolv
    } else if setup.host.network_mode == "bridge" {
        // slirp4netns answers DNS at 10.0.2.3 with the host's resolvers.
        let mut resolv: String = host_resolv
            .lines()
            .filter(|l| l.starts_with("search") || l.starts_with("options"))
            .map(|l| format!("{l}\n"))
            .collect();
        resolv.push_str("nameserver 10.0.2.3\n");
        resolv
    } else {
        resolv_without_loopback(&host_resolv)
    };
    for (name, content) in [
        ("hostname", format!("{hostname}\n")),
        ("hosts", hosts),
        ("resolv.conf", resolv),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content).map_err(io_error(&path))?;
    }
    Ok(())
}

/// The host's resolv.conf without loopback nameservers (unreachable from the container's own network
/// namespace); Google's public servers when none remain, as Docker does.
fn resolv_without_loopback(host: &str) -> String {
    let mut out = String::new();
    let mut nameservers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let address = words.next().unwrap_or("");
            if address.starts_with("127.") || address == "::1" {
                continue;
            }
            nameservers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if nameservers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// Docker's rule for container and volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub(crate) fn is_docker_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.len() >= 2
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Docker's rule for container names, in its words.
pub(crate) fn check_name(name: &str) -> Result<(), OpsError> {
    if is_docker_name(name) {
        Ok(())
    } else {
        Err(OpsError::InvalidOption(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )))
    }
}

/// 64 random hex characters from the kernel's generator (container IDs, anonymous volume names).
pub(crate) fn new_container_id() -> Result<String, OpsError> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io_error(Path::new("/dev/urandom")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

const ADJECTIVES: &[&str] = &[
    "amber", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp", "daring", "eager",
    "fancy", "gentle", "glad", "happy", "jolly", "keen", "kind", "lively", "lucid", "merry",
    "nimble", "noble", "patient", "plucky", "proud", "quiet", "rapid", "serene", "sharp", "sleek",
    "steady", "sunny", "swift", "tidy", "vivid", "warm", "wise", "witty", "zealous", "zen",
];
const NOUNS: &[&str] = &[
    "anchor", "badger", "beacon", "birch", "canyon", "cedar", "comet", "coral", "crane", "delta",
    "ember", "falcon", "fjord", "glacier", "harbor", "heron", "island", "juniper", "kestrel",
    "lagoon", "lantern", "maple", "meadow", "nebula", "orbit", "otter", "pebble", "pine", "quartz",
    "raven", "reef", "river", "sparrow", "summit", "tide", "tundra", "valley", "willow", "wren",
    "zephyr",
];

/// A readable name (`adjective_noun`) derived from the random ID, as Docker names unnamed containers.
fn generate_name(id: &str) -> String {
    let number = |range: std::ops::Range<usize>| {
        id.get(range)
            .and_then(|hex| usize::from_str_radix(hex, 16).ok())
            .unwrap_or(0)
    };
    format!(
        "{}_{}",
        ADJECTIVES[number(0..4) % ADJECTIVES.len()],
        NOUNS[number(4..8) % NOUNS.len()]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> ContainerConfig {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        ContainerConfig {
            entrypoint: entrypoint.map(list),
            cmd: cmd.map(list),
            env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
            ..ContainerConfig::default()
        }
    }

    fn argv(setup: &ContainerSetup) -> Vec<String> {
        std::iter::once(setup.path.clone())
            .chain(setup.args.clone())
            .collect()
    }

    fn opts(command: &[&str], entrypoint: Option<&str>) -> CreateOptions {
        CreateOptions {
            image: "img".into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            entrypoint: entrypoint.map(str::to_owned),
            ..CreateOptions::default()
        }
    }

    #[test]
    fn entrypoint_and_command_compose_as_docker_does() {
        let id = "0123456789abcdef".repeat(4);
        let img = image(Some(&["/entry", "-x"]), Some(&["default"]));
        let s = compose(&opts(&[], None), img.clone(), &id).unwrap();
        assert_eq!(argv(&s), ["/entry", "-x", "default"]);
        let s = compose(&opts(&["mine"], None), img.clone(), &id).unwrap();
        assert_eq!(argv(&s), ["/entry", "-x", "mine"]);
        // --entrypoint drops the image's command.
        let s = compose(&opts(&[], Some("/bin/sh")), img.clone(), &id).unwrap();
        assert_eq!(argv(&s), ["/bin/sh"]);
        assert_eq!(s.config.cmd, None);
        let s = compose(&opts(&["-c", "true"], Some("/bin/sh")), img.clone(), &id).unwrap();
        assert_eq!(argv(&s), ["/bin/sh", "-c", "true"]);
        // --entrypoint "" clears it; with no command left there is nothing to run.
        let err = compose(&opts(&[], Some("")), img, &id).unwrap_err();
        assert_eq!(err.to_string(), "No command specified");
        let s = compose(&opts(&[], None), image(None, Some(&["sh"])), &id).unwrap();
        assert_eq!(argv(&s), ["sh"]);
        assert_eq!(
            s.config.extra.get("Hostname"),
            Some(&Value::from("0123456789ab"))
        );
    }

    #[test]
    fn environment_overrides_by_key_and_process_env_adds_docker_defaults() {
        let id = "a".repeat(64);
        let mut o = opts(&["sh"], None);
        o.env = vec![
            "A=2".into(),
            "B=3".into(),
            "FROM_HOST".into(),
            "UNSET".into(),
        ];
        o.host_env.insert("FROM_HOST".into(), "x".into());
        o.tty = true;
        let s = compose(&o, image(None, None), &id).unwrap();
        assert_eq!(
            s.config.env.clone().unwrap(),
            ["PATH=/bin", "A=2", "B=3", "FROM_HOST=x"]
        );
        assert_eq!(
            process_env(&s),
            [
                "PATH=/bin",
                &format!("HOSTNAME={}", &id[..12]),
                "TERM=xterm",
                "A=2",
                "B=3",
                "FROM_HOST=x"
            ]
        );
    }

    #[test]
    fn env_files_follow_dockers_format() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("env");
        std::fs::write(&file, "# comment\n\nA=1\n  B= spaced \nHOSTVAR\n").unwrap();
        let host = BTreeMap::from([("HOSTVAR".to_owned(), "h".to_owned())]);
        assert_eq!(
            read_env_file(&file, &host).unwrap(),
            ["A=1", "B= spaced ", "HOSTVAR=h"]
        );
        std::fs::write(&file, "A=1\nBAD KEY=2\n").unwrap();
        let err = read_env_file(&file, &host).unwrap_err().to_string();
        assert!(
            err.ends_with(":2: variable 'BAD KEY' contains whitespaces"),
            "{err}"
        );
    }

    #[test]
    fn flags_docker_refuses_are_refused() {
        let id = "a".repeat(64);
        let bad = |f: fn(&mut CreateOptions)| {
            let mut o = opts(&["sh"], None);
            f(&mut o);
            compose(&o, image(None, None), &id).unwrap_err().to_string()
        };
        assert!(bad(|o| o.workdir = Some("rel".into())).contains("needs to be an absolute path"));
        assert!(bad(|o| o.network = Some("mynet".into())).contains("network mynet not found"));
        assert!(bad(|o| o.volumes = vec!["d@ta:/data".into()]).contains("invalid characters"));
        assert!(
            bad(|o| o.volumes = vec!["/a:/b:zz".into()]).contains("invalid volume specification")
        );
        assert_eq!(
            bad(|o| o.memory = Some("1k".into())),
            "Minimum memory limit allowed is 6MB"
        );
        assert!(bad(|o| o.cpus = Some("lots".into())).contains("rational number"));
        assert!(check_name("ok_name.1-2").is_ok());
        assert!(check_name("-bad").is_err());
        assert!(check_name("a b").is_err());
    }

    #[test]
    fn resolv_conf_drops_loopback_nameservers() {
        assert_eq!(
            resolv_without_loopback("search x\nnameserver 127.0.0.53\n"),
            "search x\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(
            resolv_without_loopback("nameserver 10.0.0.1\nnameserver ::1\n"),
            "nameserver 10.0.0.1\n"
        );
    }
}
