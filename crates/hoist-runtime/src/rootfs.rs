//! The container's filesystem view, built inside its mount namespace: the root (overlay or bind), /proc,
//! a read-only /sys, a minimal /dev, the bind mounts, then pivot_root so the host's tree is gone.

use std::ffi::OsString;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::unistd::{chdir, pivot_root};

use crate::error::StartFailure;
use crate::spec::{BindMount, ContainerSpec, Device, NetworkMode, Rootfs};

const NONE: Option<&str> = None;

fn mount_failure(what: &str, target: &Path, errno: nix::errno::Errno) -> StartFailure {
    StartFailure::setup(format!("mounting {what} on {}", target.display()), errno)
}

fn create_dir_all(path: &Path) -> Result<(), StartFailure> {
    std::fs::create_dir_all(path)
        .map_err(|error| StartFailure::setup(format!("creating {}", path.display()), error))
}

/// The deepest directory containing every path (all absolute).
fn common_parent(paths: &[&Path]) -> PathBuf {
    let mut common: Vec<Component<'_>> = match paths.first() {
        Some(first) => first.parent().unwrap_or(first).components().collect(),
        None => return PathBuf::from("/"),
    };
    for path in paths.iter().skip(1) {
        let shared = common
            .iter()
            .zip(path.components())
            .take_while(|(a, b)| *a == b)
            .count();
        common.truncate(shared);
    }
    common.iter().collect()
}

/// overlayfs splits its options at `,` and lowerdir at `:`, with `\` as escape.
fn escape_overlay_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, ',' | ':' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Mount data is limited to one page.
const MOUNT_DATA_LIMIT: usize = 4095;

fn mount_overlay(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), StartFailure> {
    // Relative paths keep the option string short (it is limited to a page); overlayfs resolves them
    // against the mounting process's working directory, so mount from the layers' common parent.
    let mut all: Vec<&Path> = lowers.iter().map(PathBuf::as_path).collect();
    all.push(upper);
    all.push(work);
    let base = common_parent(&all);
    let relative = |path: &Path| -> PathBuf {
        match path.strip_prefix(&base) {
            Ok(rest) if !rest.as_os_str().is_empty() => rest.to_path_buf(),
            _ => path.to_path_buf(),
        }
    };
    let lowerdir: Vec<String> = lowers
        .iter()
        .map(|l| escape_overlay_path(&relative(l)))
        .collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowerdir.join(":"),
        escape_overlay_path(&relative(upper)),
        escape_overlay_path(&relative(work))
    );
    if data.len() > MOUNT_DATA_LIMIT {
        // The new mount API takes each lower layer as its own `lowerdir+` value (Linux 6.8+), with no
        // page limit on the whole: Docker allows 125 layers, a Dockerfile with many RUNs needs it.
        if mount_overlay_per_layer(lowers, upper, work, target).is_ok() {
            return Ok(());
        }
        return Err(StartFailure::setup(
            format!("mounting overlay on {}", target.display()),
            format!(
                "the options for {} layers take {} bytes, more than the {MOUNT_DATA_LIMIT} a mount accepts",
                lowers.len(),
                data.len()
            ),
        ));
    }
    chdir(&base).map_err(|errno| {
        StartFailure::setup(format!("changing directory to {}", base.display()), errno)
    })?;
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(|errno| mount_failure(&format!("overlay ({data})"), target, errno))
}

/// Mounts the overlay through fsopen/fsconfig/fsmount, passing every lower layer separately.
fn mount_overlay_per_layer(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> rustix::io::Result<()> {
    use rustix::mount::{
        FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, fsconfig_create,
        fsconfig_set_string, fsmount, fsopen, move_mount,
    };
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    for lower in lowers {
        fsconfig_set_string(&fs, "lowerdir+", lower)?;
    }
    fsconfig_set_string(&fs, "upperdir", upper)?;
    fsconfig_set_string(&fs, "workdir", work)?;
    fsconfig_create(&fs)?;
    let mounted = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())?;
    move_mount(
        &mounted,
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
}

/// `path` (absolute, inside the container) resolved below `root` with every symlink followed as if
/// `root` were `/`, so a link in the image cannot point a mount outside the container.
pub(crate) fn resolve_in_root(root: &Path, path: &str) -> Result<PathBuf, StartFailure> {
    const MAX_LINKS: usize = 40;
    let mut resolved = PathBuf::new();
    let mut pending: Vec<OsString> = Path::new(path)
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    let mut links = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            resolved.pop();
            continue;
        }
        let candidate = root.join(&resolved).join(&name);
        match std::fs::read_link(&candidate) {
            Ok(target) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(StartFailure::setup(
                        format!("resolving {path} in the container"),
                        "too many levels of symbolic links",
                    ));
                }
                if target.is_absolute() {
                    resolved.clear();
                }
                for component in target.components().rev() {
                    match component {
                        Component::Normal(part) => pending.push(part.to_os_string()),
                        Component::ParentDir => pending.push(OsString::from("..")),
                        _ => {}
                    }
                }
            }
            Err(_) => resolved.push(name),
        }
    }
    Ok(root.join(resolved))
}

fn bind_mount(root: &Path, bind: &BindMount) -> Result<(), StartFailure> {
    let source_is_dir = std::fs::metadata(&bind.source)
        .map_err(|error| {
            StartFailure::setup(
                format!("bind mount source {}", bind.source.display()),
                error,
            )
        })?
        .is_dir();
    let target = resolve_in_root(root, &bind.destination)?;
    if bind.copy_up && source_is_dir && target.is_dir() && is_empty_dir(&bind.source) {
        copy_tree(&target, &bind.source).map_err(|error| {
            StartFailure::setup(
                format!("copying {} into the new volume", bind.destination),
                error,
            )
        })?;
    }
    if source_is_dir {
        create_dir_all(&target)?;
    } else {
        if let Some(parent) = target.parent() {
            create_dir_all(parent)?;
        }
        if std::fs::symlink_metadata(&target).is_err() {
            std::fs::File::create(&target).map_err(|error| {
                StartFailure::setup(format!("creating {}", target.display()), error)
            })?;
        }
    }
    let what = format!("bind of {}", bind.source.display());
    mount(
        Some(&bind.source),
        &target,
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .map_err(|errno| mount_failure(&what, &target, errno))?;
    if bind.read_only {
        mount(
            NONE,
            &target,
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            NONE,
        )
        .map_err(|errno| mount_failure(&format!("read-only {what}"), &target, errno))?;
    }
    Ok(())
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

/// Copies the tree at `from` into the existing directory `to`, keeping modes and owners (Docker's
/// copy-up of the image's content into a new volume). Device nodes and sockets are skipped.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, chown, lchown};
    let meta = std::fs::symlink_metadata(from)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    chown(to, Some(meta.uid()), Some(meta.gid()))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&source)?;
        let kind = meta.file_type();
        if kind.is_dir() {
            std::fs::create_dir(&target)?;
            copy_tree(&source, &target)?;
        } else if kind.is_symlink() {
            symlink(std::fs::read_link(&source)?, &target)?;
            lchown(&target, Some(meta.uid()), Some(meta.gid()))?;
        } else if kind.is_file() {
            std::fs::copy(&source, &target)?;
            chown(&target, Some(meta.uid()), Some(meta.gid()))?;
            std::fs::set_permissions(
                &target,
                std::fs::Permissions::from_mode(meta.mode() & 0o7777),
            )?;
        }
    }
    Ok(())
}

/// Host device nodes bind-mounted into the container's /dev (binding works where mknod is not allowed).
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// What Docker hides from a container: files get /dev/null over them, directories an empty read-only
/// tmpfs (a missing path is skipped).
const MASKED_PATHS: &[&str] = &[
    "proc/asound",
    "proc/acpi",
    "proc/kcore",
    "proc/keys",
    "proc/latency_stats",
    "proc/timer_list",
    "proc/timer_stats",
    "proc/sched_debug",
    "proc/scsi",
    "sys/firmware",
    "sys/devices/virtual/powercap",
];

/// What Docker leaves readable but not writable.
const READ_ONLY_PATHS: &[&str] = &[
    "proc/bus",
    "proc/fs",
    "proc/irq",
    "proc/sys",
    "proc/sysrq-trigger",
];

fn mask_paths(root: &Path) -> Result<(), StartFailure> {
    for path in MASKED_PATHS {
        let target = root.join(path);
        let Ok(meta) = std::fs::symlink_metadata(&target) else {
            continue;
        };
        let result = if meta.is_dir() {
            mount(
                Some("tmpfs"),
                &target,
                Some("tmpfs"),
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                NONE,
            )
        } else {
            mount(Some("/dev/null"), &target, NONE, MsFlags::MS_BIND, NONE)
        };
        result.map_err(|errno| mount_failure("a mask", &target, errno))?;
    }
    for path in READ_ONLY_PATHS {
        let target = root.join(path);
        if std::fs::symlink_metadata(&target).is_err() {
            continue;
        }
        mount(
            Some(&target),
            &target,
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            NONE,
        )
        .and_then(|()| {
            mount(
                NONE,
                &target,
                NONE,
                MsFlags::MS_BIND
                    | MsFlags::MS_REMOUNT
                    | MsFlags::MS_RDONLY
                    | MsFlags::MS_NOSUID
                    | MsFlags::MS_NODEV
                    | MsFlags::MS_NOEXEC,
                NONE,
            )
        })
        .map_err(|errno| mount_failure("read-only bind", &target, errno))?;
    }
    Ok(())
}

/// Binds a host device node at `container_path` (inside `root`).
fn bind_device(root: &Path, host: &Path, container_path: &str) -> Result<(), StartFailure> {
    let target = resolve_in_root(root, container_path)?;
    if let Some(parent) = target.parent() {
        create_dir_all(parent)?;
    }
    if std::fs::symlink_metadata(&target).is_err() {
        std::fs::File::create(&target).map_err(|error| {
            StartFailure::setup(format!("creating {}", target.display()), error)
        })?;
    }
    mount(Some(host), &target, NONE, MsFlags::MS_BIND, NONE)
        .map_err(|errno| mount_failure(&format!("bind of {}", host.display()), &target, errno))
}

/// Every character and block device directly in the host's /dev, for `--privileged`.
fn host_devices() -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(entries) = std::fs::read_dir("/dev") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_type()
                .is_ok_and(|t| t.is_char_device() || t.is_block_device())
        })
        .map(|entry| entry.path())
        .filter(|path| !path.ends_with("ptmx") && !path.ends_with("console"))
        .collect()
}

fn mount_dev(root: &Path, shm_size: Option<u64>) -> Result<(), StartFailure> {
    let dev = root.join("dev");
    create_dir_all(&dev)?;
    mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )
    .map_err(|errno| mount_failure("tmpfs", &dev, errno))?;
    for device in DEVICES {
        let target = dev.join(device);
        std::fs::File::create(&target).map_err(|error| {
            StartFailure::setup(format!("creating {}", target.display()), error)
        })?;
        let source = Path::new("/dev").join(device);
        mount(Some(&source), &target, NONE, MsFlags::MS_BIND, NONE).map_err(|errno| {
            mount_failure(&format!("bind of {}", source.display()), &target, errno)
        })?;
    }
    let pts = dev.join("pts");
    create_dir_all(&pts)?;
    mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
    )
    .map_err(|errno| mount_failure("devpts", &pts, errno))?;
    let shm = dev.join("shm");
    create_dir_all(&shm)?;
    let shm_options = format!("mode=1777,size={}", shm_size.unwrap_or(64 << 20));
    mount(
        Some("shm"),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(shm_options.as_str()),
    )
    .map_err(|errno| mount_failure("tmpfs", &shm, errno))?;
    let mqueue = dev.join("mqueue");
    create_dir_all(&mqueue)?;
    mount(
        Some("mqueue"),
        &mqueue,
        Some("mqueue"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        NONE,
    )
    .map_err(|errno| mount_failure("mqueue", &mqueue, errno))?;
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
    ] {
        symlink(target, dev.join(link)).map_err(|error| {
            StartFailure::setup(format!("creating /dev/{link} -> {target}"), error)
        })?;
    }
    Ok(())
}

/// Builds the container's filesystem on `spec.mount_point` and makes it the root of this (already
/// private) mount namespace. The process's working directory is `/` afterwards.
pub(crate) fn set_up_root(spec: &ContainerSpec) -> Result<(), StartFailure> {
    let root = spec.mount_point.as_path();
    match &spec.rootfs {
        Rootfs::Overlay {
            lowers,
            upper,
            work,
        } => mount_overlay(lowers, upper, work, root)?,
        Rootfs::Directory(dir) => mount(
            Some(dir),
            root,
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            NONE,
        )
        .map_err(|errno| mount_failure(&format!("bind of {}", dir.display()), root, errno))?,
    }
    let proc = root.join("proc");
    create_dir_all(&proc)?;
    mount(
        Some("proc"),
        &proc,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
        NONE,
    )
    .map_err(|errno| mount_failure("proc", &proc, errno))?;
    let sys = root.join("sys");
    create_dir_all(&sys)?;
    let sys_flags =
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV | MsFlags::MS_RDONLY;
    let sys_result = mount(Some("sysfs"), &sys, Some("sysfs"), sys_flags, NONE);
    match (sys_result, spec.network) {
        (Ok(()), _) => {}
        // A sysfs shows the mounter's network namespace; one that is not ours may refuse it: use the
        // host's (as runc does).
        (Err(_), NetworkMode::Host) => mount(
            Some("/sys"),
            &sys,
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY,
            NONE,
        )
        .map_err(|errno| mount_failure("bind of /sys", &sys, errno))?,
        (Err(errno), NetworkMode::Isolated) => return Err(mount_failure("sysfs", &sys, errno)),
    }
    mount_dev(root, spec.shm_size)?;
    let confinement = &spec.confinement;
    if confinement.privileged {
        for host in host_devices() {
            let name = host.to_string_lossy().into_owned();
            if std::fs::symlink_metadata(root.join(name.trim_start_matches('/'))).is_err() {
                bind_device(root, &host, &name)?;
            }
        }
    } else {
        mask_paths(root)?;
    }
    for Device {
        host_path,
        container_path,
        ..
    } in &confinement.devices
    {
        bind_device(root, host_path, container_path)?;
    }
    for bind in &spec.mounts {
        bind_mount(root, bind)?;
    }
    for tmpfs in &spec.tmpfs {
        let target = resolve_in_root(root, &tmpfs.destination)?;
        create_dir_all(&target)?;
        let (flags, data) = tmpfs_options(tmpfs);
        mount(
            Some("tmpfs"),
            &target,
            Some("tmpfs"),
            flags,
            Some(data.as_str()),
        )
        .map_err(|errno| mount_failure("tmpfs", &target, errno))?;
    }
    pivot_into(root)?;
    if confinement.read_only_rootfs {
        // Only the root itself: /proc, /dev, /dev/shm, the binds and tmpfs keep their own modes.
        mount(
            NONE,
            "/",
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            NONE,
        )
        .map_err(|errno| mount_failure("read-only remount", Path::new("/"), errno))?;
    }
    Ok(())
}

/// The mount flags and data of a tmpfs mount: nosuid and nodev unless the options say otherwise, mode
/// 1777 unless given (as Docker mounts `--tmpfs`).
fn tmpfs_options(tmpfs: &crate::spec::TmpfsMount) -> (MsFlags, String) {
    let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    let mut data = Vec::new();
    for option in &tmpfs.options {
        match option.as_str() {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => flags.remove(MsFlags::MS_RDONLY),
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "exec" => flags.remove(MsFlags::MS_NOEXEC),
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "suid" => flags.remove(MsFlags::MS_NOSUID),
            "nodev" => flags |= MsFlags::MS_NODEV,
            "dev" => flags.remove(MsFlags::MS_NODEV),
            other => data.push(other.to_owned()),
        }
    }
    if !data.iter().any(|d| d.starts_with("mode=")) {
        data.insert(0, "mode=1777".to_owned());
    }
    if let Some(size) = tmpfs.size {
        data.push(format!("size={size}"));
    }
    (flags, data.join(","))
}

/// pivot_root with the old root stacked under the new one (runc's `pivot_root(".", ".")`), then
/// detached, so no directory for it is needed in the image.
fn pivot_into(root: &Path) -> Result<(), StartFailure> {
    chdir(root).map_err(|errno| {
        StartFailure::setup(format!("changing directory to {}", root.display()), errno)
    })?;
    pivot_root(".", ".")
        .map_err(|errno| StartFailure::setup(format!("pivot_root to {}", root.display()), errno))?;
    umount2(".", MntFlags::MNT_DETACH)
        .map_err(|errno| StartFailure::setup("detaching the old root", errno))?;
    chdir("/").map_err(|errno| StartFailure::setup("changing directory to /", errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_parent_of_layers() {
        let a = Path::new("/store/snapshots/layers/aa/fs");
        let b = Path::new("/store/snapshots/layers/bb/fs");
        let c = Path::new("/store/snapshots/containers/x/upper");
        assert_eq!(common_parent(&[a, b, c]), Path::new("/store/snapshots"));
        assert_eq!(common_parent(&[a]), Path::new("/store/snapshots/layers/aa"));
        assert_eq!(escape_overlay_path(Path::new("/a:b,c")), "/a\\:b\\,c");
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("real/etc")).unwrap();
        symlink("/real/etc", root.join("etc")).unwrap();
        symlink("../../../../../", root.join("real/escape")).unwrap();
        assert_eq!(
            resolve_in_root(root, "/etc/hosts").unwrap(),
            root.join("real/etc/hosts")
        );
        assert_eq!(
            resolve_in_root(root, "/real/escape/tmp/x").unwrap(),
            root.join("tmp/x")
        );
        symlink("loop", root.join("loop")).unwrap();
        assert!(resolve_in_root(root, "/loop/x").is_err());
    }
}
