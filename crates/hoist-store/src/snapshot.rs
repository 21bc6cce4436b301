//! Snapshots: image layers unpacked once each and shared, and the writable snapshots containers run on.
//!
//! ```text
//! snapshots/driver                          the probed storage driver ("overlay2" or "vfs")
//! snapshots/layers/<chain-id-hex>/fs/       one layer in overlayfs format (whiteouts are 0/0 devices)
//! snapshots/layers/<chain-id-hex>/size      bytes of content in fs/, for `ps -s`
//! snapshots/containers/<id>/snapshot        driver and layer chain IDs (base first), which GC keeps
//! snapshots/containers/<id>/init/           the runtime's mount targets (/proc, /etc/hosts, ...), as
//!                                           Docker's init layer: below the writable layer, so they
//!                                           never show up in `diff` or a commit
//! snapshots/containers/<id>/upper/, work/   overlay2: the writable layer and overlayfs' work directory
//! snapshots/containers/<id>/rootfs/         vfs: a full private copy of the image's files
//! ```
//!
//! Layers are named by chain ID (OCI image spec): the same diff on a different base is a different
//! snapshot. Everything is built in a `.tmp-*` directory next to its final place and renamed into it, so a
//! snapshot directory either is complete or does not exist; a concurrent unpacker of the same layer loses
//! the rename race harmlessly. Builders hold the store's shared lock, so GC (exclusive) never sees a
//! half-made snapshot, and removes the `.tmp-*` leftovers of crashed ones.

use std::fmt;
use std::fs;
use std::io::{self, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use hoist_layer::tree::{self, TreeError};
use hoist_layer::{ApplyOptions, LayerDigestReader, LayerError, WhiteoutMode, apply_layer};
use hoist_spec::Digest;

pub use hoist_layer::tree::{Change, ChangeKind};

use crate::Store;
use crate::error::{Result, StoreError, io_error};
use crate::model::{ImageRecord, LayerRecord};

/// Prefix of directories being built (or removed); never a valid name of a finished snapshot.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// Prefix of the container snapshots a build's RUN steps use. They live only while the step runs, under
/// the store's shared lock, so GC removes any it finds (an interrupted build's).
pub const BUILD_SNAPSHOT_PREFIX: &str = "build-";
const SNAPSHOT_FILE: &str = "snapshot";

/// How container root filesystems are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageDriver {
    /// An overlayfs mount of the shared layers plus a writable upper directory.
    Overlay2,
    /// A full copy of the image's files per container, where overlayfs cannot be mounted.
    Vfs,
}

impl StorageDriver {
    pub fn name(self) -> &'static str {
        match self {
            Self::Overlay2 => "overlay2",
            Self::Vfs => "vfs",
        }
    }
}

impl fmt::Display for StorageDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A storage driver name other than `overlay2` and `vfs`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown storage driver {0:?} (known: overlay2, vfs)")]
pub struct UnknownStorageDriver(pub String);

impl FromStr for StorageDriver {
    type Err = UnknownStorageDriver;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "overlay2" => Ok(Self::Overlay2),
            "vfs" => Ok(Self::Vfs),
            other => Err(UnknownStorageDriver(other.to_owned())),
        }
    }
}

/// Where a container's root filesystem comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootfsLayout {
    /// lowers: top layer first, as overlayfs' lowerdir wants them.
    Overlay {
        lowers: Vec<PathBuf>,
        upper: PathBuf,
        work: PathBuf,
    },
    /// vfs: a full private copy of the image's files.
    Directory(PathBuf),
}

/// The chain IDs of a stack of layers given by their DiffIDs, base first: `chain(0) = diff_id(0)`,
/// `chain(n) = sha256("<chain(n-1)> <diff_id(n)>")`.
pub fn chain_ids<'a>(diff_ids: impl IntoIterator<Item = &'a Digest>) -> Vec<Digest> {
    let mut chains: Vec<Digest> = Vec::new();
    for diff_id in diff_ids {
        let chain = match chains.last() {
            None => diff_id.clone(),
            Some(previous) => Digest::of(format!("{previous} {diff_id}").as_bytes()),
        };
        chains.push(chain);
    }
    chains
}

/// What `snapshots/containers/<id>/snapshot` records.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SnapshotInfo {
    driver: StorageDriver,
    /// Chain IDs of the image's layers, base first.
    layers: Vec<Digest>,
}

impl SnapshotInfo {
    fn render(&self) -> String {
        let mut text = format!("driver {}\n", self.driver);
        for layer in &self.layers {
            text.push_str(&format!("layer {layer}\n"));
        }
        text
    }

    fn parse(text: &str) -> Option<Self> {
        let mut driver = None;
        let mut layers = Vec::new();
        for line in text.lines() {
            match line.split_once(' ')? {
                ("driver", name) => driver = Some(name.parse().ok()?),
                ("layer", chain) => layers.push(chain.parse().ok()?),
                _ => return None,
            }
        }
        Some(Self {
            driver: driver?,
            layers,
        })
    }
}

fn invalid_data(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn layer_failure(path: &Path) -> impl FnOnce(LayerError) -> StoreError + '_ {
    move |e| StoreError::Io {
        action: "unpack layer into",
        path: path.to_path_buf(),
        source: io::Error::other(e),
    }
}

fn tree_failure<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(TreeError) -> StoreError + 'a {
    move |e| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source: io::Error::other(e),
    }
}

/// A container ID becomes a directory name: one plain component, not one of our temporary names.
fn check_container_id(id: &str) -> Result<()> {
    let plain = !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        Ok(())
    } else {
        Err(StoreError::Io {
            action: "use container ID",
            path: PathBuf::from(id),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                "a container ID is made of ASCII letters, digits, '_' and '-'",
            ),
        })
    }
}

impl Store {
    pub(crate) fn snapshots_dir(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    pub(crate) fn layer_snapshots_dir(&self) -> PathBuf {
        self.snapshots_dir().join("layers")
    }

    pub(crate) fn container_snapshots_dir(&self) -> PathBuf {
        self.snapshots_dir().join("containers")
    }

    fn layer_snapshot_dir(&self, chain: &Digest) -> PathBuf {
        self.layer_snapshots_dir().join(chain.hex())
    }

    fn container_snapshot_dir(&self, id: &str) -> PathBuf {
        self.container_snapshots_dir().join(id)
    }

    /// The driver for this store: `preference` if given, else the one recorded in `snapshots/driver`, else
    /// probed once (mount a tiny overlay under `snapshots/`, unmount, record the answer). Not root: `vfs`,
    /// not recorded (a later run as root probes).
    pub fn storage_driver(&self, preference: Option<StorageDriver>) -> Result<StorageDriver> {
        if let Some(driver) = preference {
            return Ok(driver);
        }
        let record = self.snapshots_dir().join("driver");
        match fs::read_to_string(&record) {
            Ok(text) => {
                return text.trim().parse().map_err(|e: UnknownStorageDriver| {
                    io_error("read the storage driver from", &record)(invalid_data(e.to_string()))
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("read", &record)(e)),
        }
        if !rustix::process::geteuid().is_root() {
            return Ok(StorageDriver::Vfs);
        }
        // Keeps GC away from the probe's directories.
        let _guard = self.write_guard()?;
        let snapshots = self.snapshots_dir();
        fs::create_dir_all(&snapshots).map_err(io_error("create directory", &snapshots))?;
        let driver = if probe_overlay(&snapshots)? {
            StorageDriver::Overlay2
        } else {
            StorageDriver::Vfs
        };
        let mut temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&snapshots)
            .map_err(io_error("create a temporary file in", &snapshots))?;
        writeln!(temp, "{driver}").map_err(io_error("write", temp.path()))?;
        temp.persist(&record)
            .map_err(|e| io_error("write", &record)(e.error))?;
        Ok(driver)
    }

    /// Unpacks every layer of `image` not yet unpacked into `snapshots/layers/<chain-id-hex>/fs`, in
    /// overlayfs format (whiteouts as char 0/0 devices, opaque dirs with `trusted.overlay.opaque=y`),
    /// atomically. Checks each layer's DiffID while unpacking. Returns the `fs` directories, base layer
    /// first.
    pub fn unpack_image_layers(&self, image: &ImageRecord) -> Result<Vec<PathBuf>> {
        self.unpack_layers(&image.layers)
    }

    /// [`Store::unpack_image_layers`] for a stack of stored layers, base first (a build's state).
    pub fn unpack_layers(&self, layers: &[LayerRecord]) -> Result<Vec<PathBuf>> {
        let _guard = self.write_guard()?;
        let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
        let mut dirs = Vec::with_capacity(layers.len());
        for (layer, chain) in layers.iter().zip(chain_ids(&diff_ids)) {
            let dir = self.layer_snapshot_dir(&chain);
            if !dir.exists() {
                self.unpack_layer(layer, &dir)?;
            }
            dirs.push(dir.join("fs"));
        }
        Ok(dirs)
    }

    fn unpack_layer(&self, layer: &LayerRecord, dir: &Path) -> Result<()> {
        let parent = self.layer_snapshots_dir();
        fs::create_dir_all(&parent).map_err(io_error("create directory", &parent))?;
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempdir_in(&parent)
            .map_err(io_error("create a temporary directory in", &parent))?;
        let fs_dir = temp.path().join("fs");
        fs::create_dir(&fs_dir).map_err(io_error("create directory", &fs_dir))?;
        let options = ApplyOptions {
            whiteouts: WhiteoutMode::Overlay,
            ..ApplyOptions::for_current_process()
        };
        self.apply_blob(layer, &fs_dir, &options)?;
        let size = tree::content_size(&fs_dir).map_err(tree_failure("measure layer", &fs_dir))?;
        let size_file = temp.path().join("size");
        fs::write(&size_file, format!("{size}\n")).map_err(io_error("write", &size_file))?;
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o700))
            .map_err(io_error("set mode of", temp.path()))?;
        match fs::rename(temp.path(), dir) {
            Ok(()) => {
                // Renamed away already: only stop the guard from trying to remove it.
                let _renamed = temp.keep();
                Ok(())
            }
            // Another unpacker finished first; its copy is as good as ours, which `temp` removes.
            Err(_) if dir.join("fs").is_dir() => Ok(()),
            Err(e) => Err(io_error("move unpacked layer to", dir)(e)),
        }
    }

    /// Applies the layer blob onto `target`, checking that its content hashes to the layer's DiffID.
    fn apply_blob(&self, layer: &LayerRecord, target: &Path, options: &ApplyOptions) -> Result<()> {
        let blob = self.open_blob(&layer.blob)?;
        let blob_path = self.blob_path(&layer.blob);
        let mut reader = LayerDigestReader::new(BufReader::new(blob))
            .map_err(io_error("read layer blob", &blob_path))?;
        apply_layer(&mut reader, target, options).map_err(layer_failure(target))?;
        let stats = reader
            .finish()
            .map_err(io_error("read layer blob", &blob_path))?;
        if stats.diff_id != layer.diff_id {
            return Err(StoreError::DigestMismatch {
                expected: layer.diff_id.clone(),
                found: stats.diff_id,
            });
        }
        Ok(())
    }

    /// Creates the container's writable snapshot `snapshots/containers/<id>/` on the image's layers
    /// (unpacking them first if needed). `id` must be a plain name (ASCII letters, digits, `_`, `-`); an
    /// existing snapshot of that ID is an error. Nothing is left behind on failure.
    pub fn create_container_snapshot(
        &self,
        id: &str,
        image: &ImageRecord,
        driver: StorageDriver,
    ) -> Result<RootfsLayout> {
        self.create_snapshot_on_layers(id, &image.layers, driver)
    }

    /// [`Store::create_container_snapshot`] on a stack of stored layers, base first (a build step's
    /// root).
    pub fn create_snapshot_on_layers(
        &self,
        id: &str,
        layers: &[LayerRecord],
        driver: StorageDriver,
    ) -> Result<RootfsLayout> {
        check_container_id(id)?;
        let _guard = self.write_guard()?;
        let layer_dirs = self.unpack_layers(layers)?;
        let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
        let info = SnapshotInfo {
            driver,
            layers: chain_ids(&diff_ids),
        };
        let parent = self.container_snapshots_dir();
        fs::create_dir_all(&parent).map_err(io_error("create directory", &parent))?;
        let final_dir = self.container_snapshot_dir(id);
        if final_dir.exists() {
            return Err(io_error("create container snapshot", &final_dir)(
                io::ErrorKind::AlreadyExists.into(),
            ));
        }
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempdir_in(&parent)
            .map_err(io_error("create a temporary directory in", &parent))?;
        let image_top_first: Vec<PathBuf> = layer_dirs.iter().rev().cloned().collect();
        let init = temp.path().join(INIT_DIR);
        fs::create_dir(&init).map_err(io_error("create directory", &init))?;
        write_init_layer(&init, &image_top_first)?;
        match driver {
            StorageDriver::Overlay2 => {
                let upper = temp.path().join("upper");
                let work = temp.path().join("work");
                for dir in [&upper, &work] {
                    fs::create_dir(dir).map_err(io_error("create directory", dir))?;
                }
                // The merged root takes the upper directory's attributes: give it the image's.
                if let Some(top) = layer_dirs.last() {
                    copy_root_attributes(top, &upper)?;
                }
            }
            StorageDriver::Vfs => {
                let rootfs = temp.path().join("rootfs");
                fs::create_dir(&rootfs).map_err(io_error("create directory", &rootfs))?;
                fs::set_permissions(&rootfs, fs::Permissions::from_mode(0o755))
                    .map_err(io_error("set mode of", &rootfs))?;
                let options = ApplyOptions::for_current_process();
                for layer in layers {
                    self.apply_blob(layer, &rootfs, &options)?;
                }
                write_init_layer(&rootfs, &image_top_first)?;
            }
        }
        let info_path = temp.path().join(SNAPSHOT_FILE);
        fs::write(&info_path, info.render()).map_err(io_error("write", &info_path))?;
        fs::rename(temp.path(), &final_dir)
            .map_err(io_error("move container snapshot to", &final_dir))?;
        // Renamed away already: only stop the guard from trying to remove it.
        let _renamed = temp.keep();
        self.layout(&final_dir, &info)
    }

    fn layout(&self, dir: &Path, info: &SnapshotInfo) -> Result<RootfsLayout> {
        Ok(match info.driver {
            StorageDriver::Overlay2 => RootfsLayout::Overlay {
                lowers: self.lower_dirs(dir, info),
                upper: dir.join("upper"),
                work: dir.join("work"),
            },
            StorageDriver::Vfs => RootfsLayout::Directory(dir.join("rootfs")),
        })
    }

    /// The read-only directories of a snapshot, top first: its init layer, then the image's layers.
    fn lower_dirs(&self, dir: &Path, info: &SnapshotInfo) -> Vec<PathBuf> {
        let init = dir.join(INIT_DIR);
        let init = fs::symlink_metadata(&init).is_ok().then_some(init);
        init.into_iter()
            .chain(
                info.layers
                    .iter()
                    .rev()
                    .map(|chain| self.layer_snapshot_dir(chain).join("fs")),
            )
            .collect()
    }

    fn snapshot_info(&self, id: &str) -> Result<(PathBuf, SnapshotInfo)> {
        check_container_id(id)?;
        let dir = self.container_snapshot_dir(id);
        let path = dir.join(SNAPSHOT_FILE);
        let text = fs::read_to_string(&path).map_err(io_error("read", &path))?;
        let info = SnapshotInfo::parse(&text).ok_or_else(|| {
            io_error("read", &path)(invalid_data(format!(
                "not a snapshot description: {text:?}"
            )))
        })?;
        Ok((dir, info))
    }

    /// The container's snapshot as created (for start). A missing snapshot is an `Io` error of kind
    /// `NotFound`.
    pub fn container_snapshot(&self, id: &str) -> Result<RootfsLayout> {
        let (dir, info) = self.snapshot_info(id)?;
        self.layout(&dir, &info)
    }

    /// Removes the container's snapshot; nothing to do if there is none.
    pub fn remove_container_snapshot(&self, id: &str) -> Result<()> {
        check_container_id(id)?;
        let dir = self.container_snapshot_dir(id);
        if fs::symlink_metadata(&dir).is_err() {
            return Ok(());
        }
        // Renamed first, so a removal cut short never leaves something that looks like a snapshot.
        let doomed = self
            .container_snapshots_dir()
            .join(format!("{TEMP_PREFIX}removing-{id}"));
        if fs::symlink_metadata(&doomed).is_ok() {
            fs::remove_dir_all(&doomed).map_err(io_error("remove", &doomed))?;
        }
        fs::rename(&dir, &doomed).map_err(io_error("move aside", &dir))?;
        fs::remove_dir_all(&doomed).map_err(io_error("remove", &doomed))
    }

    /// `docker diff`: the changes of the container against its image, in path order (each directory
    /// before its children, siblings sorted), with Docker's rules for each driver.
    pub fn container_changes(&self, id: &str) -> Result<Vec<Change>> {
        let (dir, info) = self.snapshot_info(id)?;
        let lowers = self.lower_dirs(&dir, &info);
        match info.driver {
            StorageDriver::Overlay2 => {
                let upper = dir.join("upper");
                tree::overlay_changes(&upper, &lowers)
                    .map_err(tree_failure("compute the changes of", &upper))
            }
            StorageDriver::Vfs => {
                let rootfs = dir.join("rootfs");
                tree::compare_with_layers(&rootfs, &lowers)
                    .map_err(tree_failure("compute the changes of", &rootfs))
            }
        }
    }

    /// The container's changes as an uncompressed layer tar (`.wh.` whiteouts, `.wh..wh..opq` opaque
    /// directories), written to `out`, which is returned.
    pub fn write_container_diff<W: Write>(&self, id: &str, out: W) -> Result<W> {
        let (dir, info) = self.snapshot_info(id)?;
        match info.driver {
            StorageDriver::Overlay2 => {
                let upper = dir.join("upper");
                tree::write_overlay_diff(&upper, out).map_err(tree_failure("archive", &upper))
            }
            StorageDriver::Vfs => {
                let rootfs = dir.join("rootfs");
                let changes = tree::compare_with_layers(&rootfs, &self.lower_dirs(&dir, &info))
                    .map_err(tree_failure("compute the changes of", &rootfs))?;
                tree::write_changes(&rootfs, &changes, out)
                    .map_err(tree_failure("archive", &rootfs))
            }
        }
    }

    /// The container's whole filesystem (image layers and changes) as one tar, for `export`. Mounts
    /// nothing: an overlay2 container's union is computed from its directories.
    pub fn write_container_export<W: Write>(&self, id: &str, out: W) -> Result<W> {
        let (dir, info) = self.snapshot_info(id)?;
        match info.driver {
            StorageDriver::Overlay2 => {
                let upper = dir.join("upper");
                let mut layers = vec![upper.clone()];
                layers.extend(self.lower_dirs(&dir, &info));
                tree::write_union(&layers, out).map_err(tree_failure("archive", &upper))
            }
            StorageDriver::Vfs => {
                let rootfs = dir.join("rootfs");
                tree::write_tree(&rootfs, out).map_err(tree_failure("archive", &rootfs))
            }
        }
    }

    /// Bytes in the writable layer, and in the whole root (writable layer plus the image's layers), as
    /// `ps -s` shows them: "2B (virtual 1.2MB)".
    pub fn container_sizes(&self, id: &str) -> Result<(u64, u64)> {
        let (dir, info) = self.snapshot_info(id)?;
        let writable = match info.driver {
            StorageDriver::Overlay2 => {
                let upper = dir.join("upper");
                tree::content_size(&upper).map_err(tree_failure("measure", &upper))?
            }
            StorageDriver::Vfs => {
                let rootfs = dir.join("rootfs");
                let changes = tree::compare_with_layers(&rootfs, &self.lower_dirs(&dir, &info))
                    .map_err(tree_failure("compute the changes of", &rootfs))?;
                tree::changes_size(&rootfs, &changes).map_err(tree_failure("measure", &rootfs))?
            }
        };
        let mut total = writable;
        for chain in &info.layers {
            let path = self.layer_snapshot_dir(chain).join("size");
            let text = fs::read_to_string(&path).map_err(io_error("read", &path))?;
            let size: u64 = text.trim().parse().map_err(|_| {
                io_error("read", &path)(invalid_data(format!("not a size: {text:?}")))
            })?;
            total = total.saturating_add(size);
        }
        Ok((writable, total))
    }

    /// Chain IDs (hex) of the layer snapshots some container snapshot lists. Unreadable descriptions
    /// (a snapshot being removed) list nothing.
    pub(crate) fn layers_listed_by_containers(&self) -> Result<Vec<String>> {
        let dir = self.container_snapshots_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("list", &dir)(e)),
        };
        let mut listed = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_error("list", &dir))?;
            let path = entry.path().join(SNAPSHOT_FILE);
            let Ok(text) = fs::read_to_string(&path) else {
                continue;
            };
            let info = SnapshotInfo::parse(&text).ok_or_else(|| {
                io_error("read", &path)(invalid_data(format!(
                    "not a snapshot description: {text:?}"
                )))
            })?;
            listed.extend(info.layers.iter().map(|chain| chain.hex().to_owned()));
        }
        Ok(listed)
    }
}

/// Gives `target` the mode and (when root) owner of `source`.
/// Name of a container snapshot's init layer directory.
const INIT_DIR: &str = "init";
/// Directories and empty files the runtime mounts over, as Docker's init layer has them.
const INIT_DIRS: &[&str] = &["dev", "dev/pts", "dev/shm", "etc", "proc", "sys"];
const INIT_FILES: &[&str] = &["etc/hostname", "etc/hosts", "etc/resolv.conf"];

/// Creates the runtime's mount targets under `root` where they are missing. A directory the image has
/// gets the image's mode, owner and mtime, so that in the merged view the init layer changes nothing
/// but the existence of the targets.
fn write_init_layer(root: &Path, image_top_first: &[PathBuf]) -> Result<()> {
    let in_image = |relative: &str| {
        image_top_first
            .iter()
            .map(|layer| layer.join(relative))
            .find_map(|path| fs::symlink_metadata(&path).ok())
    };
    for relative in INIT_DIRS {
        let path = root.join(relative);
        if fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        fs::create_dir(&path).map_err(io_error("create directory", &path))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .map_err(io_error("set mode of", &path))?;
    }
    for relative in INIT_FILES {
        let path = root.join(relative);
        if fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        fs::write(&path, b"").map_err(io_error("create", &path))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))
            .map_err(io_error("set mode of", &path))?;
        // A fixed time: the vfs driver compares its copy with the init layer, made a moment apart.
        fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_modified(std::time::SystemTime::UNIX_EPOCH))
            .map_err(io_error("set the time of", &path))?;
    }
    // Attributes last, deepest first, so creating children does not move a parent's mtime again.
    for relative in INIT_DIRS.iter().rev() {
        let path = root.join(relative);
        if let Some(meta) = in_image(relative).filter(fs::Metadata::is_dir) {
            if rustix::process::geteuid().is_root() {
                std::os::unix::fs::lchown(&path, Some(meta.uid()), Some(meta.gid()))
                    .map_err(io_error("change owner of", &path))?;
            }
            fs::set_permissions(&path, fs::Permissions::from_mode(meta.mode() & 0o7777))
                .map_err(io_error("set mode of", &path))?;
            if let Ok(modified) = meta.modified() {
                fs::File::open(&path)
                    .and_then(|dir| dir.set_modified(modified))
                    .map_err(io_error("set the time of", &path))?;
            }
        }
    }
    Ok(())
}

fn copy_root_attributes(source: &Path, target: &Path) -> Result<()> {
    let meta = fs::metadata(source).map_err(io_error("inspect", source))?;
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(target, Some(meta.uid()), Some(meta.gid()))
            .map_err(io_error("change owner of", target))?;
    }
    fs::set_permissions(target, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(io_error("set mode of", target))
}

/// Mounts a tiny overlay in a temporary directory under `parent` and unmounts it: whether overlayfs
/// works here (the kernel has it, the filesystem under `parent` can be an upper directory).
fn probe_overlay(parent: &Path) -> Result<bool> {
    let probe = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempdir_in(parent)
        .map_err(io_error("create a temporary directory in", parent))?;
    let [lower, upper, work, merged] = ["lower", "upper", "work", "merged"].map(|name| {
        let dir = probe.path().join(name);
        fs::create_dir(&dir).map(|()| dir)
    });
    let (lower, upper, work, merged) = (
        lower.map_err(io_error("create directory in", probe.path()))?,
        upper.map_err(io_error("create directory in", probe.path()))?,
        work.map_err(io_error("create directory in", probe.path()))?,
        merged.map_err(io_error("create directory in", probe.path()))?,
    );
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    // Paths never hold NUL bytes; if one did, overlayfs could not be given it either.
    let Ok(options) = std::ffi::CString::new(options) else {
        return Ok(false);
    };
    let mounted = rustix::mount::mount(
        "overlay",
        &merged,
        "overlay",
        rustix::mount::MountFlags::empty(),
        options.as_c_str(),
    );
    if mounted.is_err() {
        return Ok(false);
    }
    rustix::mount::unmount(&merged, rustix::mount::UnmountFlags::empty())
        .map_err(|e| io_error("unmount the probe overlay at", &merged)(e.into()))?;
    // `probe` removes the directories when dropped; a removal failure leaves a `.tmp-*` for GC.
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;

    use hoist_layer::{Compression, Compressor, LayerBuilder};

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

    fn is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    /// Stores a layer blob (gzip-compressed) for the tar made from `spec`.
    fn layer(store: &Store, spec: &str) -> LayerRecord {
        let tar = LayerBuilder::from_text(spec).unwrap().build();
        let mut gzip = Compressor::new(Vec::new(), Compression::Gzip).unwrap();
        gzip.write_all(&tar).unwrap();
        let blob = gzip.finish().unwrap();
        LayerRecord {
            diff_id: Digest::of(&tar),
            blob: store.put_blob(&blob).unwrap(),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".to_owned(),
            blob_size: blob.len() as u64,
            size: tar.len() as u64,
        }
    }

    fn image(store: &Store, name: &str, layers: Vec<LayerRecord>) -> ImageRecord {
        let config = store.put_blob(format!("config {name}").as_bytes()).unwrap();
        let manifest = store
            .put_blob(format!("manifest {name}").as_bytes())
            .unwrap();
        let record = ImageRecord {
            id: config,
            manifest,
            manifest_media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
            config_size: 1,
            created: None,
            parent: None,
            size: layers.iter().map(|l| l.size).sum(),
            labels: BTreeMap::new(),
            layers,
            loaded_at: 1,
            last_tag_time: None,
        };
        let guard = store.write_guard().unwrap();
        store.put_image(&guard, &record).unwrap();
        record
    }

    const BASE: &str = "d etc 755\nf etc/passwd 644 root:x:0:0\nf etc/old 644 old\n\
                        d var 755\nd var/cache 755\nf var/cache/a 644 a\nd usr 755\nf usr/tool 755 t\n";
    const TOP: &str = "w etc/old\no var/cache\nf var/cache/b 644 b\nf etc/motd 644 hi\n";

    fn listing(tar: &[u8]) -> Vec<String> {
        let mut archive = hoist_layer::tar::Archive::new(tar);
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut content = String::new();
            entry.read_to_string(&mut content).unwrap();
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            names.push(if content.is_empty() {
                name
            } else {
                format!("{name}={content}")
            });
        }
        names
    }

    #[test]
    fn chain_ids_follow_the_oci_spec() {
        let (a, b, c) = (Digest::of(b"a"), Digest::of(b"b"), Digest::of(b"c"));
        let chains = chain_ids(&[a.clone(), b.clone(), c.clone()]);
        let second = Digest::of(format!("{a} {b}").as_bytes());
        let third = Digest::of(format!("{second} {c}").as_bytes());
        assert_eq!(chains, [a, second, third]);
        assert!(chain_ids(&[]).is_empty());
    }

    #[test]
    fn drivers_parse_and_print() {
        for driver in [StorageDriver::Overlay2, StorageDriver::Vfs] {
            assert_eq!(driver.to_string().parse::<StorageDriver>(), Ok(driver));
        }
        assert!("aufs".parse::<StorageDriver>().is_err());
    }

    #[test]
    #[allow(clippy::print_stderr)]
    fn layers_unpack_in_overlay_format_and_mount() {
        if !root_or_skip("unpacking in overlay format needs root") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let layers = vec![layer(&store, BASE), layer(&store, TOP)];
        let image = image(&store, "one", layers);
        let dirs = store.unpack_image_layers(&image).unwrap();
        let chains = chain_ids(&[
            image.layers[0].diff_id.clone(),
            image.layers[1].diff_id.clone(),
        ]);
        assert_eq!(
            dirs,
            [
                store.layer_snapshot_dir(&chains[0]).join("fs"),
                store.layer_snapshot_dir(&chains[1]).join("fs")
            ]
        );
        let whiteout = fs::symlink_metadata(dirs[1].join("etc/old")).unwrap();
        assert!(whiteout.file_type().is_char_device() && whiteout.rdev() == 0);
        assert!(tree::is_opaque(&dirs[1].join("var/cache")).unwrap());
        assert!(!dirs[1].join("var/cache/a").exists());
        // Unpacking again reuses the snapshots.
        let inode = fs::metadata(&dirs[0]).unwrap().ino();
        assert_eq!(store.unpack_image_layers(&image).unwrap(), dirs);
        assert_eq!(fs::metadata(&dirs[0]).unwrap().ino(), inode);

        // The kernel reads the format as intended.
        let mount = tempfile::tempdir().unwrap();
        let (upper, work, merged) = (
            mount.path().join("upper"),
            mount.path().join("work"),
            mount.path().join("merged"),
        );
        for d in [&upper, &work, &merged] {
            fs::create_dir(d).unwrap();
        }
        let options = std::ffi::CString::new(format!(
            "lowerdir={}:{},upperdir={},workdir={}",
            dirs[1].display(),
            dirs[0].display(),
            upper.display(),
            work.display()
        ))
        .unwrap();
        if rustix::mount::mount(
            "overlay",
            &merged,
            "overlay",
            rustix::mount::MountFlags::empty(),
            options.as_c_str(),
        )
        .is_err()
        {
            eprintln!("overlayfs cannot be mounted here; the on-disk format was checked");
            return;
        }
        let seen = (
            merged.join("etc/old").exists(),
            merged.join("var/cache/a").exists(),
            fs::read_to_string(merged.join("var/cache/b")).ok(),
            fs::read_to_string(merged.join("etc/passwd")).ok(),
        );
        rustix::mount::unmount(&merged, rustix::mount::UnmountFlags::empty()).unwrap();
        assert_eq!(
            seen,
            (
                false,
                false,
                Some("b".to_owned()),
                Some("root:x:0:0".to_owned())
            )
        );
    }

    #[test]
    fn failed_unpack_leaves_no_snapshot() {
        if !root_or_skip("unpacking in overlay format needs root") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let good = layer(&store, BASE);
        // A hardlink to nothing fails half-way through the layer.
        let broken = layer(&store, "f first 644 x\nh link missing\n");
        let mut lying = layer(&store, "f x 644 x\n");
        lying.diff_id = Digest::of(b"not this content");
        for bad in [broken, lying] {
            let image = image(&store, "bad", vec![good.clone(), bad]);
            assert!(store.unpack_image_layers(&image).is_err());
            assert!(
                store
                    .create_container_snapshot("c1", &image, StorageDriver::Overlay2)
                    .is_err()
            );
            let names: Vec<String> = fs::read_dir(store.layer_snapshots_dir())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            // Only the good base layer is there; no temporary directory is left.
            assert_eq!(names, [good.diff_id.hex().to_owned()]);
            assert_eq!(
                fs::read_dir(store.container_snapshots_dir())
                    .map(|d| d.count())
                    .unwrap_or(0),
                0
            );
        }
    }

    /// Runs the container-level operations for one driver, after "changing" the container's files.
    fn container_round_trip(driver: StorageDriver) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let image = image(&store, "one", vec![layer(&store, BASE), layer(&store, TOP)]);
        let layout = store
            .create_container_snapshot("c1", &image, driver)
            .unwrap();
        assert_eq!(store.container_snapshot("c1").unwrap(), layout);
        assert!(
            store
                .create_container_snapshot("c1", &image, driver)
                .is_err()
        );
        // What a process in the container would do: change a file, add one, delete one.
        match &layout {
            RootfsLayout::Overlay { lowers, upper, .. } => {
                assert_eq!(lowers.len(), 3);
                assert!(lowers[0].ends_with("init"));
                assert!(lowers[1].ends_with(format!(
                    "{}/fs",
                    chain_ids(&[image.layers[0].diff_id.clone(), image.layers[1].diff_id.clone()])
                        [1]
                    .hex()
                )));
                fs::create_dir(upper.join("etc")).unwrap();
                fs::write(upper.join("etc/passwd"), "root:x:0:0:changed").unwrap();
                fs::create_dir(upper.join("usr")).unwrap();
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    upper.join("usr/tool"),
                    rustix::fs::FileType::CharacterDevice,
                    rustix::fs::Mode::empty(),
                    0,
                )
                .unwrap();
                fs::write(upper.join("new"), "n").unwrap();
            }
            RootfsLayout::Directory(rootfs) => {
                assert_eq!(fs::read_to_string(rootfs.join("var/cache/b")).unwrap(), "b");
                assert!(!rootfs.join("var/cache/a").exists());
                assert!(!rootfs.join("etc/old").exists());
                fs::write(rootfs.join("etc/passwd"), "root:x:0:0:changed").unwrap();
                fs::remove_file(rootfs.join("usr/tool")).unwrap();
                fs::write(rootfs.join("new"), "n").unwrap();
            }
        }
        let changes: Vec<String> = store
            .container_changes("c1")
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            changes,
            ["C /etc", "C /etc/passwd", "A /new", "C /usr", "D /usr/tool"],
            "{driver}"
        );
        let diff = listing(&store.write_container_diff("c1", Vec::new()).unwrap());
        assert_eq!(
            diff,
            [
                "etc/",
                "etc/passwd=root:x:0:0:changed",
                "new=n",
                "usr/",
                "usr/.wh.tool"
            ],
            "{driver}"
        );
        let export = listing(&store.write_container_export("c1", Vec::new()).unwrap());
        assert_eq!(
            export,
            [
                // The init layer's mount targets are part of the container, as in Docker's export.
                "dev/",
                "dev/pts/",
                "dev/shm/",
                "etc/",
                "etc/hostname",
                "etc/hosts",
                "etc/motd=hi",
                "etc/passwd=root:x:0:0:changed",
                "etc/resolv.conf",
                "new=n",
                "proc/",
                "sys/",
                "usr/",
                "var/",
                "var/cache/",
                "var/cache/b=b",
            ],
            "{driver}"
        );
        let (writable, virtual_size) = store.container_sizes("c1").unwrap();
        assert_eq!(writable, 18 + 1, "{driver}");
        // Layers: base 10 + 3 + 1 + 1 bytes, top 1 + 2 bytes (its whiteout device has no size).
        assert_eq!(virtual_size, writable + 15 + 3, "{driver}");

        // GC keeps what the container lists even when no image uses the layers any more.
        assert!(store.remove_image(&image.id).unwrap());
        let report = store.gc(false).unwrap();
        assert_eq!(report.layer_snapshots_removed, 0);
        assert_eq!(store.container_changes("c1").unwrap().len(), 5);
        store.remove_container_snapshot("c1").unwrap();
        store.remove_container_snapshot("c1").unwrap();
        assert!(store.container_snapshot("c1").is_err());
        let report = store.gc(false).unwrap();
        assert_eq!(report.layer_snapshots_removed, 2);
        assert_eq!(
            fs::read_dir(store.layer_snapshots_dir()).unwrap().count(),
            0
        );
    }

    #[test]
    fn overlay2_containers_diff_export_and_gc() {
        if !root_or_skip("overlay2 snapshots need root") {
            return;
        }
        container_round_trip(StorageDriver::Overlay2);
    }

    #[test]
    fn vfs_containers_diff_export_and_gc() {
        if !root_or_skip("the layers compared against are in overlay format, which needs root") {
            return;
        }
        container_round_trip(StorageDriver::Vfs);
    }

    #[test]
    fn gc_keeps_layers_images_use() {
        if !root_or_skip("unpacking in overlay format needs root") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let image = image(&store, "one", vec![layer(&store, BASE)]);
        store.unpack_image_layers(&image).unwrap();
        let stray = store
            .layer_snapshots_dir()
            .join(format!("{TEMP_PREFIX}crashed"));
        fs::create_dir(&stray).unwrap();
        let report = store.gc(true).unwrap();
        assert_eq!(report.layer_snapshots_removed, 0);
        assert!(stray.exists(), "a dry run removes nothing");
        store.gc(false).unwrap();
        assert!(!stray.exists());
        assert!(store.layer_snapshot_dir(&image.layers[0].diff_id).exists());
    }

    #[test]
    fn container_ids_must_be_plain_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for id in ["", "../x", ".tmp-x", "a/b"] {
            assert!(store.container_snapshot(id).is_err(), "{id:?}");
            assert!(store.remove_container_snapshot(id).is_err(), "{id:?}");
        }
        assert!(store.remove_container_snapshot("absent").is_ok());
    }

    #[test]
    fn the_driver_is_probed_once_and_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.storage_driver(Some(StorageDriver::Vfs)).unwrap(),
            StorageDriver::Vfs
        );
        let probed = store.storage_driver(None).unwrap();
        if !is_root() {
            assert_eq!(probed, StorageDriver::Vfs);
            return;
        }
        let record = store.snapshots_dir().join("driver");
        assert_eq!(fs::read_to_string(&record).unwrap().trim(), probed.name());
        // No probe directory is left, and the recorded answer wins from now on.
        let leftovers: Vec<_> = fs::read_dir(store.snapshots_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["driver"]);
        fs::write(&record, "vfs\n").unwrap();
        assert_eq!(store.storage_driver(None).unwrap(), StorageDriver::Vfs);
    }
}
