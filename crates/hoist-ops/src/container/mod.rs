//! Containers: the records `create` writes, their run state, and finding one by name, ID or ID prefix.
//!
//! A container is a row in the store (its configuration and state as JSON documents owned here), a
//! writable snapshot on its image's layers (the store's snapshotter), and a directory
//! `<root>/containers/<id>/` with the files the runtime bind-mounts (`hosts`, `hostname`, `resolv.conf`),
//! the runtime's spec and the json-file log. Every command works from those three; no daemon holds state.

pub mod commit;
pub mod create;
pub mod exec;
pub mod inspect;
pub mod list;
pub mod manage;
pub mod ports;
pub mod run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hoist_spec::ContainerConfig;
use hoist_store::{ContainerRecord, Store};
use serde::{Deserialize, Serialize};

use crate::{Hoist, OpsError};

/// What `create` fixed about a container: Docker's `Config` and `HostConfig` and the resolved process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSetup {
    /// Docker's container `Config` (Hostname, Tty, Image and friends live in `extra`).
    pub config: ContainerConfig,
    /// The executable and its arguments (`Path` and `Args` in inspect).
    pub path: String,
    pub args: Vec<String>,
    pub host: HostSetup,
    /// The storage driver the snapshot was made with.
    pub driver: String,
}

/// The subset of Docker's `HostConfig` hoist honours.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostSetup {
    /// `-v SRC:DST[:ro]` as given.
    pub binds: Vec<String>,
    /// `none` (a network namespace with only loopback) or `host`.
    pub network_mode: String,
    pub auto_remove: bool,
    /// `-m`, bytes (0: no limit).
    pub memory: i64,
    /// `--cpus` times 10^9 (0: no limit).
    pub nano_cpus: i64,
    /// `--cap-add`, normalized (`CAP_NET_ADMIN`, `ALL`).
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// `--cap-drop`, normalized.
    #[serde(default)]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub privileged: bool,
    /// `--security-opt` as Docker records it (`seccomp=<the profile's JSON>`, `no-new-privileges`).
    #[serde(default)]
    pub security_opt: Vec<String>,
    /// `--read-only`.
    #[serde(default)]
    pub readonly_rootfs: bool,
    #[serde(default)]
    pub pids_limit: Option<i64>,
    /// `--ulimit NAME=SOFT[:HARD]`, as given.
    #[serde(default)]
    pub ulimits: Vec<String>,
    /// `--shm-size` in bytes (0: Docker's 64 MiB).
    #[serde(default)]
    pub shm_size: i64,
    /// `--device HOST[:CONTAINER[:PERMISSIONS]]`, resolved.
    #[serde(default)]
    pub devices: Vec<DeviceMapping>,
    /// `--tmpfs PATH[:OPTIONS]`: path to its options, as Docker's `HostConfig.Tmpfs`.
    #[serde(default)]
    pub tmpfs: std::collections::BTreeMap<String, String>,
    /// `-c/--cpu-shares` (0: the default weight).
    #[serde(default)]
    pub cpu_shares: i64,
    /// `--cpu-period` in microseconds (0: 100000 when a quota is set).
    #[serde(default)]
    pub cpu_period: i64,
    /// `--cpu-quota` in microseconds per period (0: none).
    #[serde(default)]
    pub cpu_quota: i64,
    /// `-p`/`-P`: container port (`80/tcp`) to the host addresses published for it, resolved at
    /// create (a random host port is chosen then), as Docker's `HostConfig.PortBindings`.
    #[serde(default)]
    pub port_bindings: std::collections::BTreeMap<String, Vec<PortBinding>>,
    /// `-P`.
    #[serde(default)]
    pub publish_all_ports: bool,
    /// `--group-add`.
    #[serde(default)]
    pub group_add: Vec<String>,
    /// `--ipc`: `private`, `shareable` (both a namespace of its own) or `host`.
    #[serde(default)]
    pub ipc_mode: String,
    /// `--pid`: empty or `host`.
    #[serde(default)]
    pub pid_mode: String,
    /// `--uts`: empty or `host`.
    #[serde(default)]
    pub uts_mode: String,
}

/// One host address a container port is published on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// One `--device`, as Docker's `HostConfig.Devices` holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

/// Where a container is in its life. Docker's `State.Status` words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Exited => "exited",
            Self::Dead => "dead",
        }
    }
}

/// The run state, rewritten by whoever starts the container and by its monitor when it ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunState {
    pub status: Status,
    /// Host PID of the container's PID 1 while running.
    pub pid: u32,
    pub exit_code: i32,
    /// Why the last start failed, if it did.
    pub error: String,
    /// Unix nanoseconds.
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// The process waiting for the container (the foreground CLI or `hoist __monitor`): while it lives,
    /// it will record the exit.
    pub monitor_pid: u32,
    /// Times the container was started, for `ps` ordering of restarts and for logs.
    pub start_count: u32,
    /// `pause`d (its cgroup frozen) and not yet `unpause`d.
    #[serde(default)]
    pub paused: bool,
}

/// A container as the commands see it.
#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: hoist_spec::Digest,
    pub created: i64,
    pub setup: ContainerSetup,
    pub state: RunState,
}

impl Container {
    pub(crate) fn from_record(record: ContainerRecord) -> Result<Self, OpsError> {
        let damaged = |what: &str, e: serde_json::Error| OpsError::ContainerDamaged {
            id: record.id.clone(),
            message: format!("{what}: {e}"),
        };
        let setup = serde_json::from_str(&record.config).map_err(|e| damaged("config", e))?;
        let mut state: RunState =
            serde_json::from_str(&record.state).map_err(|e| damaged("state", e))?;
        settle_orphan(&mut state);
        Ok(Self {
            id: record.id,
            name: record.name,
            image: record.image,
            created: record.created,
            setup,
            state,
        })
    }

    /// The first 12 hex characters, as lists show IDs.
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }

    pub fn is_running(&self) -> bool {
        self.state.status == Status::Running
    }

    /// Docker's error for commands that need a running container (`exec`, `pause`, `top`).
    pub(crate) fn ensure_running(&self) -> Result<(), OpsError> {
        if self.is_running() {
            Ok(())
        } else {
            Err(OpsError::InvalidOption(format!(
                "Container {} is not running",
                self.id
            )))
        }
    }

    /// `Config.Image`: the image as the user named it at creation.
    pub fn image_name(&self) -> String {
        match self.setup.config.extra.get("Image") {
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => self.image.to_string(),
        }
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        self.setup.config.labels.clone().unwrap_or_default()
    }
}

/// A state that says running although the process that would record its end is gone (killed, or the
/// machine rebooted) is reported as exited, as Docker reports containers after a daemon crash.
fn settle_orphan(state: &mut RunState) {
    if state.status == Status::Running && !process_alive(state.monitor_pid) {
        state.status = Status::Exited;
        if state.exit_code == 0 {
            state.exit_code = 255;
        }
        state.pid = 0;
    }
}

/// Whether a process with this PID exists (a zombie counts as gone).
pub(crate) fn process_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// `<root>/containers/<id>/`.
pub(crate) fn container_dir(hoist: &Hoist, id: &str) -> PathBuf {
    hoist.store.root().join("containers").join(id)
}

/// The json-file log of a container.
pub fn log_path(hoist: &Hoist, id: &str) -> PathBuf {
    container_dir(hoist, id).join(format!("{id}-json.log"))
}

pub(crate) fn save_state(store: &Store, id: &str, state: &RunState) -> Result<(), OpsError> {
    // Serialising plain data cannot fail.
    let json = serde_json::to_string(state).unwrap_or_default();
    store.set_container_state(id, &json)?;
    Ok(())
}

/// Re-reads a container from the store.
pub fn load(hoist: &Hoist, id: &str) -> Result<Container, OpsError> {
    match hoist.store.container(id)? {
        Some(record) => Container::from_record(record),
        None => Err(OpsError::NoSuchContainer(id.to_owned())),
    }
}

/// Finds a container by full ID, name (with or without Docker's leading `/`) or unique ID prefix, in
/// Docker's order.
pub fn find(hoist: &Hoist, input: &str) -> Result<Container, OpsError> {
    let not_found = || OpsError::NoSuchContainer(input.to_owned());
    if input.is_empty() {
        return Err(not_found());
    }
    if input.len() == 64
        && let Some(record) = hoist.store.container(input)?
    {
        return Container::from_record(record);
    }
    let name = input.strip_prefix('/').unwrap_or(input);
    if let Some(record) = hoist.store.container_by_name(name)? {
        return Container::from_record(record);
    }
    if !crate::lookup::is_hex(input) {
        return Err(not_found());
    }
    let ids = hoist.store.container_ids_with_prefix(input)?;
    match ids.as_slice() {
        [id] => load(hoist, id),
        [] => Err(not_found()),
        _ => Err(OpsError::AmbiguousContainer(input.to_owned())),
    }
}

/// Container totals for `info`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub running: usize,
}

pub fn counts(hoist: &Hoist) -> Result<Counts, OpsError> {
    let mut counts = Counts::default();
    for record in hoist.store.list_containers()? {
        counts.total += 1;
        if Container::from_record(record)?.is_running() {
            counts.running += 1;
        }
    }
    Ok(counts)
}

/// The storage driver containers get: daemon.json's or `HOIST_STORAGE_DRIVER`'s choice, else probed.
pub fn storage_driver(hoist: &Hoist) -> Result<hoist_store::StorageDriver, OpsError> {
    let preference = hoist
        .settings
        .storage_driver
        .as_deref()
        .map(|name| {
            name.parse().map_err(|_| {
                OpsError::InvalidOption(format!(
                    "unknown storage driver {name:?}: hoist has overlay2 and vfs"
                ))
            })
        })
        .transpose()?;
    Ok(hoist.store.storage_driver(preference)?)
}

/// Removes a path if it exists (a container's files on the way out).
pub(crate) fn remove_tree(path: &Path) -> Result<(), OpsError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(OpsError::Input {
            source_name: path.display().to_string(),
            error,
        }),
    }
}
