//! The container's cgroup for memory, CPU and process-count limits and Docker's device rules, on cgroup
//! v1 (one directory per controller hierarchy, below this process's own cgroup) or v2 (the unified
//! hierarchy), detected from /proc/self/mountinfo and /proc/self/cgroup. Device rules need v1's devices
//! controller; v2 enforces them with an eBPF program, which hoist does not load: there the runtime takes
//! CAP_MKNOD away instead (see [`device_rules_enforced`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::StartFailure;
use crate::spec::ContainerSpec;

/// A cgroup v1 or v2 mount.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CgroupMount {
    mount_point: PathBuf,
    /// The cgroup path shown as this mount's root (not `/` inside a cgroup namespace or bind mount).
    root: String,
    /// v1: the controllers of the hierarchy; empty for v2.
    controllers: Vec<String>,
    unified: bool,
}

/// The cgroup filesystems listed in a mountinfo text.
fn cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let fields: Vec<&str> = before.split(' ').collect();
            let mut after = after.split(' ');
            let fstype = after.next()?;
            let _source = after.next()?;
            let super_options = after.next().unwrap_or("");
            let unified = match fstype {
                "cgroup" => false,
                "cgroup2" => true,
                _ => return None,
            };
            Some(CgroupMount {
                mount_point: PathBuf::from(unescape_mountinfo(fields.get(4)?)),
                root: unescape_mountinfo(fields.get(3)?),
                controllers: if unified {
                    Vec::new()
                } else {
                    super_options.split(',').map(str::to_string).collect()
                },
                unified,
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as octal `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|digits| {
            let text = std::str::from_utf8(digits).ok()?;
            u8::from_str_radix(text, 8).ok()
        });
        match (bytes.get(i), octal) {
            (Some(b'\\'), Some(value)) => {
                out.push(value);
                i += 4;
            }
            (Some(&byte), _) => {
                out.push(byte);
                i += 1;
            }
            (None, _) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's cgroup path in the hierarchy with `controller` (v1), or in the unified one (`None`).
fn own_cgroup_path(proc_cgroup: &str, controller: Option<&str>) -> Option<String> {
    proc_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let _id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        let matches = match controller {
            Some(wanted) => controllers.split(',').any(|c| c == wanted),
            None => controllers.is_empty(),
        };
        matches.then(|| path.to_string())
    })
}

/// A path below `mount` for the cgroup `path` as /proc/self/cgroup shows it.
fn path_in_mount(mount: &CgroupMount, path: &str) -> PathBuf {
    let relative = path
        .strip_prefix(mount.root.as_str())
        .filter(|_| mount.root != "/")
        .unwrap_or(path);
    mount.mount_point.join(relative.trim_start_matches('/'))
}

fn write_file(path: &Path, value: &str) -> Result<(), StartFailure> {
    std::fs::write(path, value).map_err(|error| {
        StartFailure::setup(format!("writing {value:?} to {}", path.display()), error)
    })
}

/// Creates `dir`, replacing an empty one left behind by a container that was not cleaned up.
fn create_dir(dir: &Path) -> Result<(), StartFailure> {
    match std::fs::create_dir(dir) {
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => std::fs::remove_dir(dir)
            .and_then(|()| std::fs::create_dir(dir))
            .map_err(|error| {
                StartFailure::setup(format!("creating cgroup {}", dir.display()), error)
            }),
        other => other.map_err(|error| {
            StartFailure::setup(format!("creating cgroup {}", dir.display()), error)
        }),
    }
}

/// The container's cgroup directories (one per v1 hierarchy used, or one v2 directory).
#[derive(Debug)]
pub(crate) struct Cgroup {
    dirs: Vec<PathBuf>,
}

/// The parent of containers' cgroups on v2. v2 forbids processes in a non-root cgroup that hands
/// controllers to its children, and this process sits in its own cgroup, so containers cannot nest
/// below it as they do on v1; they go below this directory at the hierarchy's root instead (as Docker's
/// cgroupfs driver uses `/docker`).
const V2_PARENT: &str = "hoist";

impl Cgroup {
    /// Creates the cgroup for `spec`'s limits and device rules and sets them; `None` when there is
    /// nothing to set.
    pub(crate) fn create(spec: &ContainerSpec) -> Result<Option<Cgroup>, StartFailure> {
        let pids_limit = spec.confinement.pids_limit.filter(|l| *l > 0);
        let devices = !spec.confinement.privileged;
        if spec.memory_limit.is_none()
            && spec.cpu_quota.is_none()
            && spec.cpu_shares.is_none()
            && pids_limit.is_none()
            && !devices
        {
            return Ok(None);
        }
        let name = spec.cgroup_name.as_str();
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(StartFailure::setup(
                "creating the container's cgroup",
                format!("invalid cgroup name {name:?}"),
            ));
        }
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map_err(|error| StartFailure::setup(format!("reading {path}"), error))
        };
        let mounts = cgroup_mounts(&read("/proc/self/mountinfo")?);
        let proc_cgroup = read("/proc/self/cgroup")?;
        let mut needed = Vec::new();
        if spec.memory_limit.is_some() {
            needed.push("memory");
        }
        if spec.cpu_quota.is_some() || spec.cpu_shares.is_some() {
            needed.push("cpu");
        }
        if pids_limit.is_some() {
            needed.push("pids");
        }
        // Only v1 has a devices controller to write rules to.
        if devices && v1_has(&mounts, "devices") {
            needed.push("devices");
        }
        // A freezer cgroup of its own, for `pause`.
        if v1_has(&mounts, "freezer") {
            needed.push("freezer");
        }
        if needed.is_empty() {
            return Ok(None);
        }
        let mut cgroup = Cgroup { dirs: Vec::new() };
        let result = cgroup.set_up(spec, name, &mounts, &proc_cgroup, &needed);
        match result {
            Ok(()) => Ok(Some(cgroup)),
            Err(failure) => {
                // Already failing: the removal error would hide the cause.
                let _ = cgroup.remove();
                Err(failure)
            }
        }
    }

    fn set_up(
        &mut self,
        spec: &ContainerSpec,
        name: &str,
        mounts: &[CgroupMount],
        proc_cgroup: &str,
        needed: &[&str],
    ) -> Result<(), StartFailure> {
        let mut v2_controllers = Vec::new();
        for controller in needed {
            let v1 = mounts
                .iter()
                .find(|m| !m.unified && m.controllers.iter().any(|c| c == controller));
            if let Some(mount) = v1 {
                let own =
                    own_cgroup_path(proc_cgroup, Some(controller)).unwrap_or_else(|| "/".into());
                let dir = path_in_mount(mount, &own).join(name);
                if !self.dirs.contains(&dir) {
                    create_dir(&dir)?;
                    self.dirs.push(dir.clone());
                }
                match *controller {
                    "memory" => {
                        if let Some(limit) = spec.memory_limit {
                            write_file(&dir.join("memory.limit_in_bytes"), &limit.to_string())?;
                        }
                    }
                    "pids" => {
                        if let Some(limit) = spec.confinement.pids_limit.filter(|l| *l > 0) {
                            write_file(&dir.join("pids.max"), &limit.to_string())?;
                        }
                    }
                    "freezer" => {}
                    "devices" => {
                        write_file(&dir.join("devices.deny"), "a")?;
                        for rule in device_rules(spec)? {
                            write_file(&dir.join("devices.allow"), &rule)?;
                        }
                    }
                    _ => {
                        if let Some(quota) = spec.cpu_quota {
                            write_file(
                                &dir.join("cpu.cfs_period_us"),
                                &quota.period_us.to_string(),
                            )?;
                            write_file(&dir.join("cpu.cfs_quota_us"), &quota.quota_us.to_string())?;
                        }
                        if let Some(shares) = spec.cpu_shares {
                            write_file(&dir.join("cpu.shares"), &shares.to_string())?;
                        }
                    }
                }
            } else {
                v2_controllers.push(*controller);
            }
        }
        if v2_controllers.is_empty() {
            return Ok(());
        }
        let unified = mounts.iter().find(|m| {
            m.unified
                && std::fs::read_to_string(m.mount_point.join("cgroup.controllers")).is_ok_and(
                    |available| {
                        v2_controllers
                            .iter()
                            .all(|c| available.split_whitespace().any(|a| a == *c))
                    },
                )
        });
        let Some(unified) = unified else {
            return Err(StartFailure::setup(
                "creating the container's cgroup",
                format!(
                    "no cgroup hierarchy offers the {} controller",
                    v2_controllers.join(" and ")
                ),
            ));
        };
        let enable: Vec<String> = v2_controllers.iter().map(|c| format!("+{c}")).collect();
        let enable = enable.join(" ");
        write_file(&unified.mount_point.join("cgroup.subtree_control"), &enable)?;
        let parent = unified.mount_point.join(V2_PARENT);
        match std::fs::create_dir(&parent) {
            Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(StartFailure::setup(
                    format!("creating cgroup {}", parent.display()),
                    error,
                ));
            }
            _ => {}
        }
        write_file(&parent.join("cgroup.subtree_control"), &enable)?;
        let dir = parent.join(name);
        create_dir(&dir)?;
        self.dirs.push(dir.clone());
        if let Some(limit) = spec.memory_limit {
            write_file(&dir.join("memory.max"), &limit.to_string())?;
        }
        if let Some(quota) = spec.cpu_quota {
            write_file(
                &dir.join("cpu.max"),
                &format!("{} {}", quota.quota_us, quota.period_us),
            )?;
        }
        if let Some(shares) = spec.cpu_shares {
            write_file(&dir.join("cpu.weight"), &cpu_weight(shares).to_string())?;
        }
        if let Some(limit) = spec.confinement.pids_limit.filter(|l| *l > 0) {
            write_file(&dir.join("pids.max"), &limit.to_string())?;
        }
        Ok(())
    }

    /// Moves process `pid` into the cgroup.
    pub(crate) fn add(&self, pid: u32) -> Result<(), StartFailure> {
        for dir in &self.dirs {
            write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Removes the cgroup directories; a cgroup whose last process just exited can stay busy for a
    /// moment, so removal is retried for a few seconds.
    pub(crate) fn remove(&self) -> Result<(), String> {
        let mut failures = Vec::new();
        for dir in self.dirs.iter().rev() {
            let mut attempt = 0;
            loop {
                match std::fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => break,
                    Err(error) if attempt >= 100 => {
                        failures.push(format!("removing {}: {error}", dir.display()));
                        break;
                    }
                    Err(_) => {
                        attempt += 1;
                        std::thread::sleep(Duration::from_millis(30));
                    }
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; "))
        }
    }
}

/// Freezes (`pause`) or thaws (`unpause`) the cgroup of process `pid` (a container's init), through
/// v1's freezer or v2's `cgroup.freeze`, and waits until the kernel reports it done.
pub fn freeze(pid: u32, frozen: bool) -> Result<(), String> {
    let read =
        |path: &str| std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"));
    let mounts = cgroup_mounts(&read("/proc/self/mountinfo")?);
    let proc_cgroup = read(&format!("/proc/{pid}/cgroup"))?;
    // The file to write, the value, the file that reports the state, and the line it reports then.
    let (control, value, state, reached) = if let Some(mount) = mounts
        .iter()
        .find(|m| !m.unified && m.controllers.iter().any(|c| c == "freezer"))
    {
        let path = own_cgroup_path(&proc_cgroup, Some("freezer"))
            .ok_or("the container has no freezer cgroup")?;
        let file = path_in_mount(mount, &path).join("freezer.state");
        let want = if frozen { "FROZEN" } else { "THAWED" };
        (file.clone(), want, file, want)
    } else {
        let unified = mounts
            .iter()
            .find(|m| m.unified)
            .ok_or("no cgroup freezer on this host")?;
        let path = own_cgroup_path(&proc_cgroup, None)
            .filter(|p| p != "/")
            .ok_or("the container has no cgroup of its own to freeze")?;
        let dir = path_in_mount(unified, &path);
        let (value, reached) = if frozen {
            ("1", "frozen 1")
        } else {
            ("0", "frozen 0")
        };
        (
            dir.join("cgroup.freeze"),
            value,
            dir.join("cgroup.events"),
            reached,
        )
    };
    std::fs::write(&control, value)
        .map_err(|e| format!("writing {value} to {}: {e}", control.display()))?;
    for _ in 0..250 {
        let now = std::fs::read_to_string(&state).unwrap_or_default();
        if now.lines().any(|line| line.trim() == reached) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("{} did not reach {reached:?}", state.display()))
}

fn v1_has(mounts: &[CgroupMount], controller: &str) -> bool {
    mounts
        .iter()
        .any(|m| !m.unified && m.controllers.iter().any(|c| c == controller))
}

/// Whether this host can hold a container to Docker's device rules (v1's devices controller).
pub(crate) fn device_rules_enforced() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .is_ok_and(|mountinfo| v1_has(&cgroup_mounts(&mountinfo), "devices"))
}

/// Docker's device rules (runc's defaults): any device node may be created, only these may be used,
/// plus the `--device` ones with their permissions.
const DEFAULT_DEVICE_RULES: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
];

fn device_rules(spec: &ContainerSpec) -> Result<Vec<String>, StartFailure> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut rules: Vec<String> = DEFAULT_DEVICE_RULES
        .iter()
        .map(|r| (*r).to_owned())
        .collect();
    for device in &spec.confinement.devices {
        let meta = std::fs::metadata(&device.host_path).map_err(|error| {
            StartFailure::setup(format!("device {}", device.host_path.display()), error)
        })?;
        let kind = if meta.file_type().is_block_device() {
            'b'
        } else if meta.file_type().is_char_device() {
            'c'
        } else {
            return Err(StartFailure::setup(
                format!("device {}", device.host_path.display()),
                "not a device node",
            ));
        };
        let rdev = meta.rdev();
        rules.push(format!(
            "{kind} {}:{} {}",
            nix::sys::stat::major(rdev),
            nix::sys::stat::minor(rdev),
            device.permissions
        ));
    }
    Ok(rules)
}

/// cgroup v1 shares (2..=262144) to v2 weight (1..=10000), the conversion runc and systemd use.
fn cpu_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_shares_map_to_weights_as_runc_does() {
        assert_eq!(cpu_weight(1024), 39);
        assert_eq!(cpu_weight(2), 1);
        assert_eq!(cpu_weight(262_144), 10_000);
    }

    const MOUNTINFO: &str = "\
25 30 0:22 / /sys rw,nosuid - sysfs sysfs rw
31 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
32 31 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
35 31 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
36 31 0:31 /outer /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
";
    const PROC_CGROUP: &str = "5:cpu,cpuacct:/outer/inner\n4:memory:/sandbox/a\n0::/\n";

    #[test]
    fn finds_hierarchies_and_own_paths() {
        let mounts = cgroup_mounts(MOUNTINFO);
        assert_eq!(mounts.len(), 3);
        assert!(mounts[0].unified);
        assert_eq!(
            mounts[2].mount_point,
            Path::new("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(
            own_cgroup_path(PROC_CGROUP, Some("memory")).unwrap(),
            "/sandbox/a"
        );
        assert_eq!(own_cgroup_path(PROC_CGROUP, None).unwrap(), "/");
        assert_eq!(
            path_in_mount(&mounts[1], "/sandbox/a"),
            Path::new("/sys/fs/cgroup/memory/sandbox/a")
        );
        // A mount whose root is a sub-cgroup: the shared prefix is not repeated.
        assert_eq!(
            path_in_mount(&mounts[2], "/outer/inner"),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/inner")
        );
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
    }
}
