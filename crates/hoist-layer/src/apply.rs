//! Applying a layer tar onto a directory tree: regular files, directories, symlinks, hardlinks, device nodes,
//! fifos, OCI whiteouts and opaque directories, with modes, owners, times and xattrs.
//!
//! It never writes outside the root. Every entry first passes the [`crate::safety::EntryChecker`]; then its
//! parent directories are resolved one component at a time with `lstat`, and a symlink met on the way (one a
//! lower layer left) is resolved *inside* the root, as if the root were `/` (what Docker achieves by
//! extracting in a chroot). The entry's own last component is never followed: whatever is there is removed
//! and replaced (`O_EXCL` create, `symlink`, `linkat` without `AT_SYMLINK_FOLLOW`, `mknodat`), except that
//! a directory over a directory merges. Directory modes and times are set at the end, through directory
//! file descriptors opened component by component with `O_NOFOLLOW`, so a later entry that swapped a
//! directory for a symlink cannot redirect them.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, Timespec, Timestamps, XattrFlags};

use crate::entry::{EntryInfo, EntryKind, Timestamp};
use crate::error::LayerError;
use crate::path::LayerPath;
use crate::safety::{CheckedEntry, walk_layer};

/// Symlinks followed while resolving one path, as Linux's `MAXSYMLINKS`.
const MAX_SYMLINK_HOPS: u32 = 40;

/// What the applier may do beyond creating files with the caller's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Give entries the uid/gid from their headers (needs `CAP_CHOWN`). Otherwise they belong to the caller.
    pub preserve_owners: bool,
    /// Create character and block devices (needs `CAP_MKNOD`). Otherwise, or when the kernel refuses, they are
    /// skipped and counted in [`ApplyStats::skipped_devices`]. Fifos are always created.
    pub create_devices: bool,
    /// Set extended attributes from PAX `SCHILY.xattr.*` records. Best effort: failures (an unprivileged
    /// `security.*` attribute, a filesystem without xattrs) are counted, not fatal.
    pub apply_xattrs: bool,
    /// What whiteouts and opaque markers do.
    pub whiteouts: WhiteoutMode,
}

/// How [`apply_layer`] treats whiteouts (`.wh.NAME`) and opaque markers (`.wh..wh..opq`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WhiteoutMode {
    /// Remove what lower layers left in the tree: the layer is applied onto the union of the layers below.
    #[default]
    Remove,
    /// Write the layer into its own (empty) directory as an overlayfs lower or upper directory: a whiteout
    /// becomes a character device 0/0 named NAME, an opaque marker sets the xattr `trusted.overlay.opaque`
    /// to `y` on its directory. Both need privileges (`mknod` of a whiteout needs Linux 5.8 or
    /// `CAP_MKNOD`, `trusted.*` xattrs need `CAP_SYS_ADMIN`); failures are errors, since a lower directory
    /// without them would show deleted files.
    Overlay,
}

/// The xattr overlayfs reads to tell an opaque directory.
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// The namespace of every xattr overlayfs interprets.
pub const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";

impl Default for ApplyOptions {
    /// What an unprivileged process can do.
    fn default() -> Self {
        Self {
            preserve_owners: false,
            create_devices: false,
            apply_xattrs: true,
            whiteouts: WhiteoutMode::Remove,
        }
    }
}

impl ApplyOptions {
    /// Everything when the effective uid is 0, otherwise the [`Default`].
    pub fn for_current_process() -> Self {
        let root = rustix::process::geteuid().is_root();
        Self {
            preserve_owners: root,
            create_devices: root,
            apply_xattrs: true,
            whiteouts: WhiteoutMode::Remove,
        }
    }
}

/// What applying a layer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// All entries read, including skipped ones.
    pub entries: u64,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    /// Device nodes created.
    pub devices: u64,
    pub fifos: u64,
    /// Whiteout entries (whether or not the lower layers had the file).
    pub whiteouts: u64,
    pub opaque_dirs: u64,
    /// PAX global headers and AUFS bookkeeping entries.
    pub skipped: u64,
    /// Device nodes not created for lack of privilege.
    pub skipped_devices: u64,
    pub xattrs_applied: u64,
    pub xattrs_failed: u64,
    /// Bytes of regular-file content written.
    pub content_bytes: u64,
    /// Whether the tar ended with its end-of-archive marker. Docker accepts tars without one, so applying
    /// does too; [`crate::validate_layer`] does not.
    pub end_of_archive_marker: bool,
}

/// Applies the (uncompressed) layer tar read from `reader` onto the directory `root`, which must exist.
///
/// On error the tree is left part-applied; callers apply into a fresh snapshot and discard it on failure.
pub fn apply_layer<R: Read>(
    reader: R,
    root: &Path,
    options: &ApplyOptions,
) -> Result<ApplyStats, LayerError> {
    let root_error = |source| LayerError::Root {
        root: root.to_path_buf(),
        source,
    };
    let canonical = fs::canonicalize(root).map_err(root_error)?;
    if !fs::metadata(&canonical).map_err(root_error)?.is_dir() {
        return Err(root_error(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }
    let mut applier = Applier {
        root: canonical,
        options,
        stats: ApplyStats::default(),
        touched: HashSet::new(),
        deferred_dirs: Vec::new(),
        resolved_dirs: HashMap::new(),
    };
    let end = walk_layer(reader, |info, checked, content, buf| {
        applier.apply(info, checked, content, buf)
    })?;
    applier.finish_dirs()?;
    let mut stats = applier.stats;
    stats.entries = end.entries;
    stats.end_of_archive_marker = end.end_marker;
    Ok(stats)
}

/// Directory metadata applied once the whole layer is in place: creating children changes a directory's
/// mtime, and a read-only mode would stop an unprivileged applier from creating them.
#[derive(Debug)]
struct DeferredDir {
    /// Real path below the root, as resolved when the entry was applied.
    real: PathBuf,
    display: String,
    mode: u32,
    times: Timestamps,
}

struct Applier<'o> {
    root: PathBuf,
    options: &'o ApplyOptions,
    stats: ApplyStats,
    /// Real paths (below the root) this layer created or merged into. Whiteouts and opaque markers remove
    /// what lower layers have, never what the same layer added.
    touched: HashSet<PathBuf>,
    deferred_dirs: Vec<DeferredDir>,
    /// Parent directories already resolved (layer path to real path), so most entries cost no `lstat` before
    /// their creation. Emptied whenever anything is removed: only a removal can turn a real directory on one of
    /// these paths into something else.
    resolved_dirs: HashMap<PathBuf, PathBuf>,
}

impl Applier<'_> {
    fn apply(
        &mut self,
        info: &EntryInfo,
        checked: CheckedEntry,
        content: &mut dyn Read,
        buf: &mut [u8],
    ) -> Result<u64, LayerError> {
        match checked {
            CheckedEntry::Skip => {
                self.stats.skipped += 1;
                Ok(0)
            }
            CheckedEntry::Whiteout { target } => {
                self.whiteout(info, &target)?;
                Ok(0)
            }
            CheckedEntry::Opaque { dir } => {
                self.opaque(info, &dir)?;
                Ok(0)
            }
            CheckedEntry::Create {
                path,
                hardlink_target,
            } => {
                let Some(name) = path.file_name() else {
                    // The checker lets only a directory name the root.
                    self.directory(info, PathBuf::new())?;
                    return Ok(0);
                };
                let real = self.resolve_parent(info, &path.parent())?.join(name);
                match (info.kind, hardlink_target) {
                    (EntryKind::File, _) => return self.file(info, &real, content, buf),
                    (EntryKind::Dir, _) => self.directory(info, real)?,
                    (EntryKind::Symlink, _) => self.symlink(info, &real)?,
                    (EntryKind::Hardlink, Some(target)) => self.hardlink(info, &real, &target)?,
                    (EntryKind::CharDevice | EntryKind::BlockDevice | EntryKind::Fifo, _) => {
                        self.node(info, &real)?
                    }
                    (EntryKind::Hardlink, None) | (EntryKind::GlobalHeader, _) => {
                        self.stats.skipped += 1
                    }
                }
                Ok(0)
            }
        }
    }

    fn host(&self, real: &Path) -> PathBuf {
        if real.as_os_str().is_empty() {
            self.root.clone()
        } else {
            self.root.join(real)
        }
    }

    /// Resolves `dir` to a real directory below the root, creating missing components.
    fn resolve_parent(&mut self, info: &EntryInfo, dir: &LayerPath) -> Result<PathBuf, LayerError> {
        if let Some(real) = self.resolved_dirs.get(dir.as_path()) {
            return Ok(real.clone());
        }
        let real = self.resolve(info, dir, true)?.unwrap_or_default();
        self.resolved_dirs
            .insert(dir.as_path().to_path_buf(), real.clone());
        Ok(real)
    }

    /// Resolves `dir` inside the root, component by component, never leaving it: a symlink is replaced by its
    /// target read relative to the root (absolute) or to the directory holding it (relative), and `..` stops
    /// at the root. Missing components are created when `create` is set; otherwise the answer is `None`.
    fn resolve(
        &mut self,
        info: &EntryInfo,
        dir: &LayerPath,
        create: bool,
    ) -> Result<Option<PathBuf>, LayerError> {
        let mut real = PathBuf::new();
        let mut pending: Vec<OsString> = dir
            .as_path()
            .components()
            .rev()
            .map(|c| c.as_os_str().to_owned())
            .collect();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            if part == "." {
                continue;
            }
            if part == ".." {
                real.pop();
                continue;
            }
            let candidate = real.join(&part);
            let host = self.root.join(&candidate);
            match fs::symlink_metadata(&host) {
                Ok(meta) if meta.is_dir() => real = candidate,
                Ok(meta) if meta.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(LayerError::SymlinkLoop {
                            path: info.display_path(),
                        });
                    }
                    let target = fs::read_link(&host).map_err(apply_error(
                        info,
                        "reading symlink",
                        &host,
                    ))?;
                    if target.has_root() {
                        real = PathBuf::new();
                    }
                    for component in target.components().rev() {
                        match component {
                            Component::Normal(name) => pending.push(name.to_owned()),
                            Component::ParentDir => pending.push(OsString::from("..")),
                            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
                        }
                    }
                }
                Ok(_) => {
                    return Err(LayerError::NotADirectory {
                        path: info.display_path(),
                        component: candidate,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if !create {
                        return Ok(None);
                    }
                    create_dir(&host, 0o755).map_err(apply_error(
                        info,
                        "creating directory",
                        &host,
                    ))?;
                    fs::set_permissions(&host, Permissions::from_mode(0o755))
                        .map_err(apply_error(info, "setting mode of", &host))?;
                    self.touched.insert(candidate.clone());
                    real = candidate;
                }
                Err(e) => return Err(apply_error(info, "inspecting", &host)(e)),
            }
        }
        Ok(Some(real))
    }

    /// Empties the place an entry goes to, without following a symlink there. Returns `true` when a directory
    /// is there and `keep_dir` asked to merge into it.
    fn clear_slot(
        &mut self,
        info: &EntryInfo,
        host: &Path,
        keep_dir: bool,
    ) -> Result<bool, LayerError> {
        let meta = match fs::symlink_metadata(host) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(apply_error(info, "inspecting", host)(e)),
        };
        if meta.is_dir() {
            if keep_dir {
                return Ok(true);
            }
            self.resolved_dirs.clear();
            fs::remove_dir_all(host).map_err(apply_error(info, "removing directory", host))?;
        } else {
            self.resolved_dirs.clear();
            fs::remove_file(host).map_err(apply_error(info, "removing", host))?;
        }
        Ok(false)
    }

    /// Creates an entry at `host` with `create`. When something is already there, clears the place (keeping a
    /// directory if `keep_dir`) and tries once more. Every `create` used here fails with `EEXIST` on an
    /// existing path, symlinks included, so nothing is ever created through one. `None`: a directory was kept.
    fn create_replacing<T>(
        &mut self,
        info: &EntryInfo,
        host: &Path,
        keep_dir: bool,
        operation: &'static str,
        mut create: impl FnMut() -> io::Result<T>,
    ) -> Result<Option<T>, LayerError> {
        match create() {
            Ok(created) => return Ok(Some(created)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(apply_error(info, operation, host)(e)),
        }
        if self.clear_slot(info, host, keep_dir)? {
            return Ok(None);
        }
        create()
            .map(Some)
            .map_err(apply_error(info, operation, host))
    }

    fn file(
        &mut self,
        info: &EntryInfo,
        real: &Path,
        content: &mut dyn Read,
        buf: &mut [u8],
    ) -> Result<u64, LayerError> {
        let host = self.host(real);
        // O_EXCL: creation fails rather than follow anything at the path.
        let created = self.create_replacing(info, &host, false, "creating file", || {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&host)
        })?;
        let Some(mut file) = created else {
            return Err(apply_error(info, "creating file", &host)(
                io::ErrorKind::AlreadyExists.into(),
            ));
        };
        self.touched.insert(real.to_path_buf());
        let mut written = 0u64;
        loop {
            let n = match content.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(LayerError::ReadContent {
                        path: info.display_path(),
                        source,
                    });
                }
            };
            file.write_all(&buf[..n])
                .map_err(apply_error(info, "writing", &host))?;
            written += n as u64;
        }
        if self.options.preserve_owners {
            let (uid, gid) = owner(info)?;
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid)).map_err(apply_error(
                info,
                "changing owner of",
                &host,
            ))?;
        }
        // After chown, which clears setuid and setgid bits.
        file.set_permissions(Permissions::from_mode(info.mode))
            .map_err(apply_error(info, "setting mode of", &host))?;
        self.set_xattrs(info, XattrTarget::File(&file));
        rustix::fs::futimens(&file, &timestamps(info))
            .map_err(|e| apply_error(info, "setting times of", &host)(e.into()))?;
        self.stats.files += 1;
        self.stats.content_bytes += written;
        Ok(written)
    }

    fn directory(&mut self, info: &EntryInfo, real: PathBuf) -> Result<(), LayerError> {
        let host = self.host(&real);
        // Owner-writable until the end, when the real mode is set.
        self.create_replacing(info, &host, true, "creating directory", || {
            create_dir(&host, 0o700)
        })?;
        if self.options.preserve_owners {
            let (uid, gid) = owner(info)?;
            std::os::unix::fs::lchown(&host, Some(uid), Some(gid)).map_err(apply_error(
                info,
                "changing owner of",
                &host,
            ))?;
        }
        self.set_xattrs(info, XattrTarget::Path(&host));
        self.touched.insert(real.clone());
        self.deferred_dirs.push(DeferredDir {
            real,
            display: info.display_path(),
            mode: info.mode,
            times: timestamps(info),
        });
        self.stats.dirs += 1;
        Ok(())
    }

    fn symlink(&mut self, info: &EntryInfo, real: &Path) -> Result<(), LayerError> {
        let host = self.host(real);
        let target = info.link_name.as_deref().unwrap_or(Path::new(""));
        self.create_replacing(info, &host, false, "creating symlink", || {
            std::os::unix::fs::symlink(target, &host)
        })?;
        self.touched.insert(real.to_path_buf());
        self.set_link_metadata(info, &host)?;
        self.stats.symlinks += 1;
        Ok(())
    }

    fn hardlink(
        &mut self,
        info: &EntryInfo,
        real: &Path,
        target: &LayerPath,
    ) -> Result<(), LayerError> {
        let bad_target = |reason| LayerError::BadHardlinkTarget {
            path: info.display_path(),
            target: target.to_string(),
            reason,
        };
        let Some(target_name) = target.file_name() else {
            return Err(bad_target("names the layer root"));
        };
        let Some(target_parent) = self.resolve(info, &target.parent(), false)? else {
            return Err(bad_target("does not exist"));
        };
        let target_real = target_parent.join(target_name);
        let target_host = self.host(&target_real);
        match fs::symlink_metadata(&target_host) {
            Ok(meta) if meta.is_dir() => return Err(bad_target("is a directory")),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(bad_target("does not exist"));
            }
            Err(e) => return Err(apply_error(info, "inspecting", &target_host)(e)),
        }
        if target_real != real {
            let host = self.host(real);
            // No AT_SYMLINK_FOLLOW: a symlink target is linked as the symlink itself, never what it points at.
            self.create_replacing(info, &host, false, "creating hardlink", || {
                Ok(rustix::fs::linkat(
                    CWD,
                    &target_host,
                    CWD,
                    &host,
                    AtFlags::empty(),
                )?)
            })?;
            self.touched.insert(real.to_path_buf());
        }
        self.stats.hardlinks += 1;
        Ok(())
    }

    fn node(&mut self, info: &EntryInfo, real: &Path) -> Result<(), LayerError> {
        let is_device = info.kind != EntryKind::Fifo;
        if is_device && !self.options.create_devices {
            self.stats.skipped_devices += 1;
            return Ok(());
        }
        let host = self.host(real);
        let (file_type, dev) = match (info.kind, info.device) {
            (EntryKind::CharDevice, Some((major, minor))) => {
                (FileType::CharacterDevice, rustix::fs::makedev(major, minor))
            }
            (EntryKind::BlockDevice, Some((major, minor))) => {
                (FileType::BlockDevice, rustix::fs::makedev(major, minor))
            }
            _ => (FileType::Fifo, 0),
        };
        let created = self.create_replacing(info, &host, false, "creating node", || {
            match rustix::fs::mknodat(CWD, &host, file_type, Mode::from_raw_mode(0o600), dev) {
                Ok(()) => Ok(true),
                // Root in a user namespace may not create devices; Docker skips them there too.
                Err(rustix::io::Errno::PERM) if is_device => Ok(false),
                Err(e) => Err(e.into()),
            }
        })?;
        if created != Some(true) {
            self.stats.skipped_devices += 1;
            return Ok(());
        }
        self.touched.insert(real.to_path_buf());
        if self.options.preserve_owners {
            let (uid, gid) = owner(info)?;
            std::os::unix::fs::lchown(&host, Some(uid), Some(gid)).map_err(apply_error(
                info,
                "changing owner of",
                &host,
            ))?;
        }
        // The node was just created at this path, so chmod (which follows symlinks) reaches it.
        fs::set_permissions(&host, Permissions::from_mode(info.mode)).map_err(apply_error(
            info,
            "setting mode of",
            &host,
        ))?;
        self.set_xattrs(info, XattrTarget::Path(&host));
        rustix::fs::utimensat(CWD, &host, &timestamps(info), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| apply_error(info, "setting times of", &host)(e.into()))?;
        if is_device {
            self.stats.devices += 1;
        } else {
            self.stats.fifos += 1;
        }
        Ok(())
    }

    fn set_link_metadata(&mut self, info: &EntryInfo, host: &Path) -> Result<(), LayerError> {
        if self.options.preserve_owners {
            let (uid, gid) = owner(info)?;
            std::os::unix::fs::lchown(host, Some(uid), Some(gid)).map_err(apply_error(
                info,
                "changing owner of",
                host,
            ))?;
        }
        self.set_xattrs(info, XattrTarget::Path(host));
        rustix::fs::utimensat(CWD, host, &timestamps(info), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| apply_error(info, "setting times of", host)(e.into()))?;
        Ok(())
    }

    fn whiteout(&mut self, info: &EntryInfo, target: &LayerPath) -> Result<(), LayerError> {
        self.stats.whiteouts += 1;
        let Some(name) = target.file_name() else {
            return Ok(());
        };
        let overlay = self.options.whiteouts == WhiteoutMode::Overlay;
        // In overlay format the whiteout device must exist even where this layer has no parent entry.
        let Some(parent) = self.resolve(info, &target.parent(), overlay)? else {
            return Ok(());
        };
        let real = parent.join(name);
        // A whiteout hides what lower layers have, never what this layer added.
        if self.touched.contains(&real) {
            return Ok(());
        }
        let host = self.host(&real);
        self.clear_slot(info, &host, false)?;
        if overlay {
            rustix::fs::mknodat(
                CWD,
                &host,
                FileType::CharacterDevice,
                Mode::empty(),
                rustix::fs::makedev(0, 0),
            )
            .map_err(|e| apply_error(info, "creating whiteout device", &host)(e.into()))?;
            if self.options.preserve_owners {
                let (uid, gid) = owner(info)?;
                std::os::unix::fs::lchown(&host, Some(uid), Some(gid)).map_err(apply_error(
                    info,
                    "changing owner of",
                    &host,
                ))?;
            }
            self.touched.insert(real);
        }
        Ok(())
    }

    fn opaque(&mut self, info: &EntryInfo, dir: &LayerPath) -> Result<(), LayerError> {
        self.stats.opaque_dirs += 1;
        if self.options.whiteouts == WhiteoutMode::Overlay {
            return self.mark_opaque(info, dir);
        }
        let real = match dir.file_name() {
            None => PathBuf::new(),
            Some(name) => {
                let real = self.resolve_parent(info, &dir.parent())?.join(name);
                let host = self.host(&real);
                match fs::symlink_metadata(&host) {
                    Ok(meta) if meta.is_dir() => real,
                    // Not a directory (a symlink is not followed): nothing below it to hide.
                    Ok(_) => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        create_dir(&host, 0o755).map_err(apply_error(
                            info,
                            "creating directory",
                            &host,
                        ))?;
                        self.touched.insert(real);
                        return Ok(());
                    }
                    Err(e) => return Err(apply_error(info, "inspecting", &host)(e)),
                }
            }
        };
        self.touched.insert(real.clone());
        self.resolved_dirs.clear();
        let mut stack = vec![real];
        while let Some(dir_real) = stack.pop() {
            let dir_host = self.host(&dir_real);
            let listing =
                fs::read_dir(&dir_host).map_err(apply_error(info, "listing", &dir_host))?;
            for child in listing {
                let child = child.map_err(apply_error(info, "listing", &dir_host))?;
                let child_real = dir_real.join(child.file_name());
                // DirEntry::file_type does not follow symlinks.
                let is_dir = child
                    .file_type()
                    .map_err(apply_error(info, "inspecting", &child.path()))?
                    .is_dir();
                if self.touched.contains(&child_real) {
                    if is_dir {
                        stack.push(child_real);
                    }
                } else if is_dir {
                    fs::remove_dir_all(child.path()).map_err(apply_error(
                        info,
                        "removing directory",
                        &child.path(),
                    ))?;
                } else {
                    fs::remove_file(child.path()).map_err(apply_error(
                        info,
                        "removing",
                        &child.path(),
                    ))?;
                }
            }
        }
        Ok(())
    }

    /// Overlay format: the directory keeps this layer's content and says "hide the lower ones" by xattr.
    fn mark_opaque(&mut self, info: &EntryInfo, dir: &LayerPath) -> Result<(), LayerError> {
        let real = match dir.file_name() {
            None => PathBuf::new(),
            Some(name) => self.resolve_parent(info, &dir.parent())?.join(name),
        };
        let host = self.host(&real);
        match fs::symlink_metadata(&host) {
            Ok(meta) if meta.is_dir() => {}
            // Not a directory (a symlink is not followed): nothing below it to hide.
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_dir(&host, 0o755).map_err(apply_error(info, "creating directory", &host))?;
                self.touched.insert(real);
            }
            Err(e) => return Err(apply_error(info, "inspecting", &host)(e)),
        }
        rustix::fs::lsetxattr(&host, OVERLAY_OPAQUE_XATTR, b"y", XattrFlags::empty())
            .map_err(|e| apply_error(info, "marking opaque", &host)(e.into()))
    }

    fn set_xattrs(&mut self, info: &EntryInfo, target: XattrTarget<'_>) {
        if !self.options.apply_xattrs {
            return;
        }
        let overlay = self.options.whiteouts == WhiteoutMode::Overlay;
        for (name, value) in &info.xattrs {
            // In overlay format these would be read by the kernel as overlayfs metadata (redirects,
            // metacopy, opacity): a layer states opacity only with its `.wh..wh..opq` marker.
            if overlay && name.as_bytes().starts_with(OVERLAY_XATTR_PREFIX.as_bytes()) {
                continue;
            }
            let result = match target {
                XattrTarget::File(file) => {
                    rustix::fs::fsetxattr(file, name.as_os_str(), value, XattrFlags::empty())
                }
                XattrTarget::Path(path) => {
                    rustix::fs::lsetxattr(path, name.as_os_str(), value, XattrFlags::empty())
                }
            };
            if result.is_ok() {
                self.stats.xattrs_applied += 1;
            } else {
                self.stats.xattrs_failed += 1;
            }
        }
    }

    /// Sets the deferred directory modes and times. Each directory is reached from the root one component
    /// at a time with `O_NOFOLLOW`; one that is no longer a directory reached that way (a later entry
    /// replaced it or a parent) is skipped.
    fn finish_dirs(&mut self) -> Result<(), LayerError> {
        let dirs = std::mem::take(&mut self.deferred_dirs);
        if dirs.is_empty() {
            return Ok(());
        }
        let root_fd = rustix::fs::open(
            &self.root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| LayerError::Root {
            root: self.root.clone(),
            source: e.into(),
        })?;
        for dir in dirs {
            let host = self.host(&dir.real);
            let error = |operation: &'static str| {
                let (path, target) = (dir.display.clone(), host.clone());
                move |e: rustix::io::Errno| LayerError::Apply {
                    path,
                    operation,
                    target,
                    source: e.into(),
                }
            };
            let Some(fd) =
                open_dir_beneath(&root_fd, &dir.real).map_err(error("opening directory"))?
            else {
                continue;
            };
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(dir.mode))
                .map_err(error("setting mode of"))?;
            rustix::fs::futimens(&fd, &dir.times).map_err(error("setting times of"))?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum XattrTarget<'a> {
    File(&'a File),
    /// Set without following a symlink at the path.
    Path(&'a Path),
}

/// Opens `real` below `root_fd` without following any symlink; `None` when a component is missing, a symlink
/// or not a directory.
fn open_dir_beneath(root_fd: &OwnedFd, real: &Path) -> Result<Option<OwnedFd>, rustix::io::Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut current = rustix::fs::openat(root_fd, ".", flags, Mode::empty())?;
    for component in real.components() {
        let Component::Normal(name) = component else {
            continue;
        };
        current = match rustix::fs::openat(&current, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR | rustix::io::Errno::NOENT) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
    }
    Ok(Some(current))
}

fn create_dir(host: &Path, mode: u32) -> io::Result<()> {
    fs::DirBuilder::new().mode(mode).create(host)
}

fn owner(info: &EntryInfo) -> Result<(u32, u32), LayerError> {
    let convert = |id: u64, field| {
        u32::try_from(id).map_err(|_| LayerError::InvalidHeader {
            path: info.display_path(),
            field,
            detail: format!("{id} does not fit in 32 bits"),
        })
    };
    Ok((convert(info.uid, "uid")?, convert(info.gid, "gid")?))
}

fn timespec(t: Timestamp) -> Timespec {
    Timespec {
        tv_sec: t.secs,
        tv_nsec: t.nanos.into(),
    }
}

fn timestamps(info: &EntryInfo) -> Timestamps {
    let modification = timespec(info.mtime);
    Timestamps {
        last_access: info.atime.map_or(modification, timespec),
        last_modification: modification,
    }
}

fn apply_error<'a>(
    info: &'a EntryInfo,
    operation: &'static str,
    target: &'a Path,
) -> impl FnOnce(io::Error) -> LayerError + 'a {
    move |source| LayerError::Apply {
        path: info.display_path(),
        operation,
        target: target.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// True when running as root; otherwise prints why the calling test is skipped.
    #[allow(clippy::print_stderr)]
    fn root_or_skip(reason: &str) -> bool {
        let root = rustix::process::geteuid().is_root();
        if !root {
            eprintln!("skipped: {reason}");
        }
        root
    }

    #[test]
    fn open_dir_beneath_refuses_symlinked_components() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        std::os::unix::fs::symlink("a", root.join("link")).unwrap();
        fs::write(root.join("file"), "x").unwrap();
        let root_fd =
            rustix::fs::open(root, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        assert!(
            open_dir_beneath(&root_fd, Path::new("a/b"))
                .unwrap()
                .is_some()
        );
        assert!(open_dir_beneath(&root_fd, Path::new("")).unwrap().is_some());
        assert!(
            open_dir_beneath(&root_fd, Path::new("link"))
                .unwrap()
                .is_none()
        );
        assert!(
            open_dir_beneath(&root_fd, Path::new("link/b"))
                .unwrap()
                .is_none()
        );
        assert!(
            open_dir_beneath(&root_fd, Path::new("file"))
                .unwrap()
                .is_none()
        );
        assert!(
            open_dir_beneath(&root_fd, Path::new("missing/x"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn access_time_defaults_to_modification_time() {
        let mut info = EntryInfo {
            path: PathBuf::from("f"),
            kind: EntryKind::File,
            link_name: None,
            size: 0,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: Timestamp { secs: 5, nanos: 7 },
            atime: None,
            device: None,
            xattrs: Vec::new(),
        };
        let times = timestamps(&info);
        assert_eq!(
            (times.last_access.tv_sec, times.last_access.tv_nsec),
            (5, 7)
        );
        info.atime = Some(Timestamp { secs: 1, nanos: 0 });
        assert_eq!(timestamps(&info).last_access.tv_sec, 1);
        assert_eq!(timestamps(&info).last_modification.tv_sec, 5);
    }

    #[test]
    fn owners_beyond_32_bits_are_refused() {
        let info = EntryInfo {
            path: PathBuf::from("f"),
            kind: EntryKind::File,
            link_name: None,
            size: 0,
            mode: 0o644,
            uid: 1 << 40,
            gid: 0,
            mtime: Timestamp::default(),
            atime: None,
            device: None,
            xattrs: Vec::new(),
        };
        assert!(matches!(
            owner(&info),
            Err(LayerError::InvalidHeader { field: "uid", .. })
        ));
    }

    fn overlay_options() -> ApplyOptions {
        ApplyOptions {
            whiteouts: WhiteoutMode::Overlay,
            ..ApplyOptions::for_current_process()
        }
    }

    fn opaque_value(path: &Path) -> Option<Vec<u8>> {
        let mut value = [0u8; 8];
        rustix::fs::lgetxattr(path, OVERLAY_OPAQUE_XATTR, &mut value)
            .ok()
            .map(|n| value[..n].to_vec())
    }

    #[test]
    fn overlay_mode_writes_whiteout_devices_and_opaque_xattrs() {
        if !root_or_skip("overlay format needs root (mknod 0/0, trusted.* xattrs)") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let tar = crate::LayerBuilder::from_text(
            "d etc 755\nf etc/keep 644 k\nw etc/gone\nw deep/er/gone\nd var 755\no var\nf var/new 600 n\no fresh\n\
             f added 644 a\nw added\n",
        )
        .unwrap()
        .entry(
            crate::LayerEntry::file("etc/forged", "f", 0o644)
                .xattr("trusted.overlay.redirect", b"/x".to_vec()),
        )
        .build();
        let stats = apply_layer(&tar[..], root, &overlay_options()).unwrap();
        assert_eq!((stats.whiteouts, stats.opaque_dirs), (3, 2));
        for path in ["etc/gone", "deep/er/gone"] {
            let meta = fs::symlink_metadata(root.join(path)).unwrap();
            assert!(
                std::os::unix::fs::FileTypeExt::is_char_device(&meta.file_type()),
                "{path}"
            );
            assert_eq!(std::os::unix::fs::MetadataExt::rdev(&meta), 0, "{path}");
        }
        // A whiteout never hides what its own layer added.
        assert_eq!(fs::read(root.join("added")).unwrap(), b"a");
        assert_eq!(opaque_value(&root.join("var")).as_deref(), Some(&b"y"[..]));
        assert_eq!(
            opaque_value(&root.join("fresh")).as_deref(),
            Some(&b"y"[..])
        );
        assert!(root.join("fresh").is_dir());
        // The opaque directory keeps its layer's own content.
        assert_eq!(fs::read(root.join("var/new")).unwrap(), b"n");
        assert_eq!(opaque_value(&root.join("etc")), None);
        // Layers cannot smuggle overlayfs metadata through PAX records.
        let mut value = [0u8; 8];
        assert!(
            rustix::fs::lgetxattr(
                root.join("etc/forged"),
                "trusted.overlay.redirect",
                &mut value
            )
            .is_err()
        );
    }

    #[test]
    fn remove_mode_is_the_default_and_still_deletes() {
        assert_eq!(ApplyOptions::default().whiteouts, WhiteoutMode::Remove);
        assert_eq!(
            ApplyOptions::for_current_process().whiteouts,
            WhiteoutMode::Remove
        );
        let dir = tempfile::tempdir().unwrap();
        let lower = crate::LayerBuilder::from_text("d a 755\nf a/x 644 x\nf b 644 b\n")
            .unwrap()
            .build();
        let upper = crate::LayerBuilder::from_text("w b\no a\n")
            .unwrap()
            .build();
        let options = ApplyOptions::default();
        apply_layer(&lower[..], dir.path(), &options).unwrap();
        apply_layer(&upper[..], dir.path(), &options).unwrap();
        assert!(!dir.path().join("b").exists());
        assert!(!dir.path().join("a/x").exists());
        assert!(dir.path().join("a").is_dir());
    }
}
