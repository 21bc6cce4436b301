//! The container specification the caller writes to a file and both init stages read back.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::RuntimeError;

/// Everything the runtime needs to start one container process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// Where the root filesystem comes from.
    pub rootfs: Rootfs,
    /// An existing empty directory the root is mounted on, inside the container's own mount namespace
    /// (the host never sees the mount).
    pub mount_point: PathBuf,
    /// argv; `args[0]` without a `/` is searched in `PATH` from `env`, inside the root.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries, final except `HOME`, which is added from the user's passwd entry when absent.
    pub env: Vec<String>,
    /// Absolute working directory inside the root; created (root-owned, 0755) when missing, as Docker does.
    pub cwd: String,
    /// `""`, `name`, `uid`, `name:group`, `uid:gid`; names are looked up in the root's /etc/passwd and
    /// /etc/group with runc's rules (an empty user means uid 0).
    pub user: String,
    /// Hostname set in the container's UTS namespace.
    pub hostname: String,
    /// Network namespace choice.
    pub network: NetworkMode,
    /// Bind mounts, applied in order after /proc, /sys and /dev.
    pub mounts: Vec<BindMount>,
    /// tmpfs mounts, applied after the bind mounts.
    #[serde(default)]
    pub tmpfs: Vec<TmpfsMount>,
    /// Size of /dev/shm in bytes (64 MiB, Docker's default, when `None`).
    #[serde(default)]
    pub shm_size: Option<u64>,
    /// CPU shares (`--cpu-shares`, relative weight; 1024 is the default), as cgroup v1's cpu.shares or
    /// v2's cpu.weight.
    #[serde(default)]
    pub cpu_shares: Option<u64>,
    /// Resource limits (`--ulimit`), set before the command runs.
    #[serde(default)]
    pub ulimits: Vec<Ulimit>,
    /// stdin is a pty slave: the process becomes a session leader with it as controlling terminal.
    pub tty: bool,
    /// Memory limit in bytes.
    pub memory_limit: Option<u64>,
    /// CPU bandwidth limit.
    pub cpu_quota: Option<CpuQuota>,
    /// Name of the cgroup created under the runtime's parent cgroup and removed after the container
    /// exits, e.g. `hoist-<id>`.
    pub cgroup_name: String,
    /// What the container may do: Docker's default confinement unless loosened.
    #[serde(default)]
    pub confinement: Confinement,
    /// With [`NetworkMode::Isolated`]: reach the outside and publish ports through slirp4netns (a
    /// user-mode TCP/IP stack on the host's side, so no bridge, veth or firewall rule is made).
    #[serde(default)]
    pub slirp: Option<SlirpNetwork>,
    /// `exec`: the host PID of a running container's init, whose namespaces (and root) the command
    /// joins instead of getting its own; nothing is mounted and no cgroup is made.
    #[serde(default)]
    pub join: Option<u32>,
    /// `--group-add`: more supplementary groups, by name (from the root's /etc/group) or number.
    #[serde(default)]
    pub extra_groups: Vec<String>,
    /// Namespaces shared with the host instead of made: `uts`, `ipc`, `pid` (`--uts/--ipc/--pid host`).
    #[serde(default)]
    pub host_namespaces: Vec<String>,
}

/// A container network through slirp4netns: `tap0` at 10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlirpNetwork {
    /// Where slirp4netns's API socket goes (a path that does not exist yet).
    pub api_socket: PathBuf,
    /// Host ports forwarded to the container.
    pub ports: Vec<PortForward>,
}

/// One published port (`-p HOST_IP:HOST_PORT:CONTAINER_PORT/PROTO`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortForward {
    /// `tcp` or `udp`.
    pub protocol: String,
    /// The host address to listen on (`0.0.0.0` for all).
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
}

/// Docker's default confinement and the ways `--privileged`, `--cap-add/--cap-drop`, `--security-opt`,
/// `--read-only`, `--device` and `--pids-limit` change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confinement {
    /// Capabilities kept (Docker's names, `CAP_CHOWN`); everything else leaves the bounding set, so a
    /// root process has exactly these and any other user none.
    pub capabilities: Vec<String>,
    /// `--privileged`: every capability, every host device, no seccomp filter, nothing masked.
    pub privileged: bool,
    pub seccomp: SeccompPolicy,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// `--read-only`: the root filesystem is mounted read-only.
    pub read_only_rootfs: bool,
    /// `--pids-limit` (none when `None` or not positive).
    pub pids_limit: Option<i64>,
    /// `--device` entries, added to Docker's default devices.
    pub devices: Vec<Device>,
}

impl Default for Confinement {
    fn default() -> Self {
        Self {
            capabilities: crate::capabilities::DOCKER_DEFAULT
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            privileged: false,
            seccomp: SeccompPolicy::Default,
            no_new_privileges: false,
            read_only_rootfs: false,
            pids_limit: None,
            devices: Vec::new(),
        }
    }
}

impl Confinement {
    /// No confinement at all (`--privileged`, a build's `--allow security.insecure`).
    pub fn privileged() -> Self {
        Self {
            capabilities: crate::capabilities::all_names(),
            privileged: true,
            seccomp: SeccompPolicy::Unconfined,
            ..Self::default()
        }
    }
}

/// Which seccomp filter the container gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeccompPolicy {
    /// Docker's default profile.
    Default,
    /// `--security-opt seccomp=unconfined`.
    Unconfined,
    /// `--security-opt seccomp=FILE`: the profile's JSON, in Docker's format.
    Profile(String),
}

/// A host device made available in the container (`--device /dev/fuse[:/dev/fuse][:rwm]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The host's device node.
    pub host_path: PathBuf,
    /// Where it appears in the container.
    pub container_path: String,
    /// Docker's cgroup permissions, some of `rwm`.
    pub permissions: String,
}

/// The container's root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rootfs {
    /// An overlay mount; `lowers` top layer first, as overlayfs' `lowerdir` lists them.
    Overlay {
        lowers: Vec<PathBuf>,
        upper: PathBuf,
        work: PathBuf,
    },
    /// A private directory bind-mounted as the root (the copying "vfs" snapshotter).
    Directory(PathBuf),
}

/// Which network namespace the container uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkMode {
    /// A new network namespace with only the loopback interface, up.
    Isolated,
    /// The caller's network namespace.
    Host,
}

/// A host file or directory mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    /// Absolute host path.
    pub source: PathBuf,
    /// Absolute path inside the container; created (as a file or directory, like the source) if missing.
    pub destination: String,
    pub read_only: bool,
    /// A volume: when its directory is empty, what the image has at the destination is copied in
    /// first (Docker's copy-up of a new volume).
    #[serde(default)]
    pub copy_up: bool,
}

/// One `--ulimit NAME=SOFT[:HARD]`: Docker's names (`nofile`, `nproc`, `core`, ...); -1 is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

impl Ulimit {
    /// Parses Docker's `NAME=SOFT[:HARD]`; an unknown name or a soft limit above the hard one is an
    /// error in Docker's words.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (name, values) = text
            .split_once('=')
            .ok_or_else(|| format!("invalid ulimit argument: {text}"))?;
        if resource(name).is_none() {
            return Err(format!("invalid ulimit type: {name}"));
        }
        let number = |v: &str| {
            v.parse::<i64>()
                .map_err(|_| format!("invalid ulimit argument: {text}"))
        };
        let (soft, hard) = match values.split_once(':') {
            Some((soft, hard)) => (number(soft)?, number(hard)?),
            None => {
                let value = number(values)?;
                (value, value)
            }
        };
        if hard >= 0 && (soft < 0 || soft > hard) {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            soft,
            hard,
        })
    }
}

/// The kernel resource behind a Docker ulimit name.
pub(crate) fn resource(name: &str) -> Option<rustix::process::Resource> {
    use rustix::process::Resource;
    Some(match name {
        "core" => Resource::Core,
        "cpu" => Resource::Cpu,
        "data" => Resource::Data,
        "fsize" => Resource::Fsize,
        "locks" => Resource::Locks,
        "memlock" => Resource::Memlock,
        "msgqueue" => Resource::Msgqueue,
        "nice" => Resource::Nice,
        "nofile" => Resource::Nofile,
        "nproc" => Resource::Nproc,
        "rss" => Resource::Rss,
        "rtprio" => Resource::Rtprio,
        "rttime" => Resource::Rttime,
        "sigpending" => Resource::Sigpending,
        "stack" => Resource::Stack,
        _ => return None,
    })
}

/// A fresh tmpfs mounted in the container (`RUN --mount=type=tmpfs`, `--tmpfs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmpfsMount {
    /// Absolute path inside the container; created if missing.
    pub destination: String,
    /// Size limit in bytes (the kernel's default, half the RAM, when `None`).
    pub size: Option<u64>,
    /// `--tmpfs` options beyond the size: `ro`, `noexec`, `exec`, `nosuid`, `suid`, `nodev`, `dev`,
    /// `mode=`, `uid=`, `gid=`, `nr_inodes=`. Empty: writable, nosuid, nodev, mode 1777.
    #[serde(default)]
    pub options: Vec<String>,
}

/// CFS bandwidth: `quota_us` of CPU time per `period_us` (`--cpus 1.5` is 150000 per 100000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuQuota {
    pub quota_us: i64,
    pub period_us: u64,
}

impl ContainerSpec {
    /// Writes the spec as JSON to `path` (the file [`crate::start`] is given).
    pub fn save(&self, path: &Path) -> Result<(), RuntimeError> {
        let json = serde_json::to_vec_pretty(self).map_err(|source| RuntimeError::SpecEncode {
            path: path.to_path_buf(),
            source,
        })?;
        std::fs::write(path, json).map_err(|source| RuntimeError::SpecWrite {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a spec written by [`ContainerSpec::save`].
    pub fn load(path: &Path) -> Result<Self, RuntimeError> {
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::SpecRead {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| RuntimeError::SpecParse {
            path: path.to_path_buf(),
            source,
        })
    }
}
