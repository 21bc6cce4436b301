//! Directory trees on disk written as tars, and the changes between trees: a plain tree (a `vfs` container's
//! root), an overlayfs upper directory as a layer diff, the union of an upper directory over lower layer
//! directories as the merged filesystem (`export` without mounting anything), and the comparison of a full
//! copy against the union of its image layers (`vfs` diff).
//!
//! Layer directories here are in overlayfs format (see [`crate::WhiteoutMode::Overlay`]): a character device
//! 0/0 is a whiteout, a directory with the xattr `trusted.overlay.opaque=y` hides what lower layers have
//! under it. Output is deterministic: entries in path order (children sorted by their bytes, each directory
//! before its children), no root entry, hardlinks detected by `(dev, ino)` and written as links to the first
//! path, xattrs as PAX `SCHILY.xattr.*` records except overlayfs' own. File contents are streamed; memory
//! grows with the entries of one directory per level, never with file sizes. Sockets are skipped, as Docker
//! skips them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::apply::{OVERLAY_OPAQUE_XATTR, OVERLAY_XATTR_PREFIX};
use crate::builder::{EntryBody, EntryMeta, LayerEntry, StreamingLayerWriter};

/// Why a tree could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    /// A filesystem operation on `path` failed.
    #[error("cannot {operation} {}", path.display())]
    Io {
        operation: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Writing the tar to its destination failed.
    #[error("cannot write the tar")]
    Write(#[source] io::Error),
    /// An extended attribute whose name is not UTF-8 cannot be written as a PAX record faithfully.
    #[error("extended attribute {name:?} of {} has a name that is not UTF-8", path.display())]
    XattrName { path: PathBuf, name: OsString },
}

fn io_error<'a>(
    operation: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> TreeError + 'a {
    move |source| TreeError::Io {
        operation,
        path: path.to_path_buf(),
        source,
    }
}

/// What happened to a path, as `docker diff` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Added,
    Changed,
    Deleted,
}

impl ChangeKind {
    /// Docker's letter: `A`, `C` or `D`.
    pub fn letter(self) -> char {
        match self {
            Self::Added => 'A',
            Self::Changed => 'C',
            Self::Deleted => 'D',
        }
    }
}

/// One changed path of a container's filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Change {
    pub kind: ChangeKind,
    /// Absolute inside the container (`/etc/passwd`), exactly as on disk (not necessarily UTF-8).
    pub path: PathBuf,
}

impl Change {
    fn new(kind: ChangeKind, relative: &Path) -> Self {
        Self {
            kind,
            path: Path::new("/").join(relative),
        }
    }

    /// The path relative to the root (`etc/passwd`).
    pub fn relative_path(&self) -> &Path {
        self.path.strip_prefix("/").unwrap_or(&self.path)
    }
}

impl fmt::Display for Change {
    /// `C /etc/passwd`, as `docker diff` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.letter(), self.path.display())
    }
}

/// Writes the directory `root` as a tar, taking every entry as it is (no whiteout interpretation).
pub fn write_tree<W: Write>(root: &Path, out: W) -> Result<W, TreeError> {
    let mut emitter = Emitter::new(out);
    walk(&[root.to_path_buf()], false, |rel, node| {
        emitter.emit(rel, &node.host, &node.meta)
    })?;
    emitter.finish()
}

/// Writes an overlayfs upper directory as a layer diff: a character device 0/0 becomes the whiteout file
/// `.wh.NAME`, an opaque directory is written followed by its `DIR/.wh..wh..opq` marker.
pub fn write_overlay_diff<W: Write>(upper: &Path, out: W) -> Result<W, TreeError> {
    let mut emitter = Emitter::new(out);
    walk(&[upper.to_path_buf()], false, |rel, node| {
        if is_whiteout(&node.meta) {
            let mut whiteout = LayerEntry::whiteout(rel);
            whiteout.meta.uid = node.meta.uid().into();
            whiteout.meta.gid = node.meta.gid().into();
            whiteout.meta.mtime = unix_seconds(&node.meta);
            return emitter.append(&whiteout);
        }
        emitter.emit(rel, &node.host, &node.meta)?;
        if node.meta.is_dir() && is_opaque(&node.host)? {
            // As Docker writes it: a regular file with the directory's permissions and owner.
            let mut marker = LayerEntry::opaque(rel);
            marker.meta.mode = node.meta.mode() & 0o777;
            marker.meta.uid = node.meta.uid().into();
            marker.meta.gid = node.meta.gid().into();
            emitter.append(&marker)?;
        }
        Ok(())
    })?;
    emitter.finish()
}

/// Writes the union of `layers` (top first: an upper directory, then lower layer directories) as the one
/// filesystem overlayfs would show: whiteouts hide lower entries and are not written, an opaque directory
/// stops the lookup in lower layers.
pub fn write_union<W: Write>(layers: &[PathBuf], out: W) -> Result<W, TreeError> {
    let mut emitter = Emitter::new(out);
    walk(layers, true, |rel, node| {
        emitter.emit(rel, &node.host, &node.meta)
    })?;
    emitter.finish()
}

/// What the union of `layers` (top first) has at `rel` (relative, no `..`; symlinks are not followed):
/// the host path in the topmost layer holding it and its metadata, or `None` when absent or whited out.
pub fn union_entry(
    layers: &[PathBuf],
    rel: &Path,
) -> Result<Option<(PathBuf, Metadata)>, TreeError> {
    if rel.as_os_str().is_empty() {
        let Some(top) = layers.first() else {
            return Ok(None);
        };
        let meta = fs::symlink_metadata(top).map_err(io_error("inspect", top))?;
        return Ok(Some((top.clone(), meta)));
    }
    let Some(meta) = union_lookup(layers, rel)? else {
        return Ok(None);
    };
    for layer in layers {
        let host = layer.join(rel);
        if let Some(found) = lstat_if_exists(&host)?
            && found.file_type() == meta.file_type()
            && !is_whiteout(&found)
        {
            return Ok(Some((host, meta)));
        }
    }
    Ok(None)
}

/// Visits the union of `layers` (top first) below the directory `rel`, depth first, each directory before
/// its children, children sorted: the path relative to `rel`, the host path and the metadata of each.
pub fn walk_union_under(
    layers: &[PathBuf],
    rel: &Path,
    mut visit: impl FnMut(&Path, &Path, &Metadata) -> Result<(), TreeError>,
) -> Result<(), TreeError> {
    let sources = lower_directory(layers, rel)?;
    if sources.is_empty() {
        return Ok(());
    }
    walk(&sources, true, |child, node| {
        visit(child, &node.host, &node.meta)
    })
}

/// Bytes of content under `root`: sizes of everything but directories, each hardlinked inode once (what
/// Docker reports as a layer's size).
pub fn content_size(root: &Path) -> Result<u64, TreeError> {
    let mut seen = HashSet::new();
    let mut total = 0u64;
    walk(&[root.to_path_buf()], false, |_, node| {
        if !node.meta.is_dir() && (node.meta.nlink() < 2 || seen.insert(inode(&node.meta))) {
            total = total.saturating_add(node.meta.len());
        }
        Ok(())
    })?;
    Ok(total)
}

/// Docker's `overlay2` changes: every entry of the upper directory against the union of `lowers` (top
/// first). A whiteout is `D`; an opaque directory that the lower layers have is `C`, and what it hid
/// below is `D` (it was deleted and made anew; its own entries follow as `A`); an entry the lower layers have is `C` (directories too: one
/// is in the upper directory only when something in it changed); anything else is `A`. The parent of an `A` or `D` is reported `C` unless it already was. Sorted
/// by path, component by component (each directory before its children).
pub fn overlay_changes(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>, TreeError> {
    let mut changes = Vec::new();
    let mut changed_dirs: HashSet<PathBuf> = HashSet::new();
    walk(&[upper.to_path_buf()], false, |rel, node| {
        let below = union_lookup(lowers, rel)?;
        if node.meta.is_dir()
            && below.as_ref().is_some_and(Metadata::is_dir)
            && is_opaque(&node.host)?
        {
            // Deleted and made anew: Docker lists the directory as changed and each entry it hid below
            // as deleted (the new entries follow from the walk).
            changed_dirs.insert(rel.to_path_buf());
            changes.push(Change::new(ChangeKind::Changed, rel));
            let kept: HashSet<OsString> = list_dir(&node.host)?.into_iter().collect();
            for hidden in merged_children(&lower_directory(lowers, rel)?, true)? {
                if !kept.contains(&hidden.name) {
                    changes.push(Change::new(ChangeKind::Deleted, &rel.join(&hidden.name)));
                }
            }
            return Ok(());
        }
        let deleted = is_whiteout(&node.meta);
        let kind = if deleted {
            ChangeKind::Deleted
        } else if below.is_some() {
            // Docker's code skips a copied-up directory whose size, mode and mtime match; in practice
            // Docker 20.10 on overlay2 lists it (`C /etc` for a changed /etc/group), and so does hoist.
            ChangeKind::Changed
        } else {
            ChangeKind::Added
        };
        if node.meta.is_dir() {
            changed_dirs.insert(rel.to_path_buf());
        }
        if kind != ChangeKind::Changed
            && let Some(parent) = rel.parent()
            && !parent.as_os_str().is_empty()
            && changed_dirs.insert(parent.to_path_buf())
        {
            changes.push(Change::new(ChangeKind::Changed, parent));
        }
        changes.push(Change::new(kind, rel));
        Ok(())
    })?;
    // Docker lists a parent reported for its children's sake after the children seen before; sort it back.
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

/// Docker's changes between a full copy (`root`, a `vfs` container) and the union of its image's layer
/// directories (`layers`, top first). An entry only in the copy is `A` (its descendants too), one only in
/// the layers is `D` (once, not its descendants), one in both is `C` when its type, mode, owner, device
/// number, symlink target or xattrs differ, or for a non-directory its size or mtime. A directory holding
/// changes is reported `C` before them. Sorted by path, like [`overlay_changes`].
pub fn compare_with_layers(root: &Path, layers: &[PathBuf]) -> Result<Vec<Change>, TreeError> {
    struct Frame {
        rel: PathBuf,
        pairs: std::vec::IntoIter<NodePair>,
        changes_at_entry: usize,
        reported: bool,
    }
    let mut changes = Vec::new();
    let mut stack = vec![Frame {
        rel: PathBuf::new(),
        pairs: pair_children(&[root.to_path_buf()], layers)?.into_iter(),
        changes_at_entry: 0,
        // The root itself is never reported.
        reported: true,
    }];
    while let Some(frame) = stack.last_mut() {
        let Some((new, old)) = frame.pairs.next() else {
            let Some(done) = stack.pop() else { break };
            if changes.len() > done.changes_at_entry && !done.reported {
                changes.insert(
                    done.changes_at_entry,
                    Change::new(ChangeKind::Changed, &done.rel),
                );
            }
            continue;
        };
        let rel = match (&new, &old) {
            (Some(node), _) | (None, Some(node)) => frame.rel.join(&node.name),
            (None, None) => continue,
        };
        let Some(new) = new else {
            changes.push(Change::new(ChangeKind::Deleted, &rel));
            continue;
        };
        let reported = match &old {
            None => {
                changes.push(Change::new(ChangeKind::Added, &rel));
                true
            }
            Some(old) if differs(&new, old)? => {
                changes.push(Change::new(ChangeKind::Changed, &rel));
                true
            }
            Some(_) => false,
        };
        if new.meta.is_dir() {
            let old_sources = match &old {
                Some(old) if old.meta.is_dir() => old.sources.clone(),
                _ => Vec::new(),
            };
            let pairs = pair_children(&new.sources, &old_sources)?;
            stack.push(Frame {
                rel,
                pairs: pairs.into_iter(),
                changes_at_entry: changes.len(),
                reported,
            });
        }
    }
    Ok(changes)
}

/// Writes `changes` of the tree at `root` as a layer tar, as Docker exports changes: a `D` becomes the
/// whiteout `.wh.NAME`, an `A` or `C` the entry itself (a directory without its content: its changed
/// children are changes of their own).
pub fn write_changes<W: Write>(root: &Path, changes: &[Change], out: W) -> Result<W, TreeError> {
    let mut emitter = Emitter::new(out);
    for change in changes {
        let rel = change.relative_path();
        if change.kind == ChangeKind::Deleted {
            emitter.append(&LayerEntry::whiteout(rel))?;
            continue;
        }
        let host = root.join(rel);
        let meta = fs::symlink_metadata(&host).map_err(io_error("inspect", &host))?;
        emitter.emit(rel, &host, &meta)?;
    }
    emitter.finish()
}

/// Bytes of content the `A` and `C` changes hold in `root` (each hardlinked inode once): Docker's size of
/// a `vfs` container's writable layer.
pub fn changes_size(root: &Path, changes: &[Change]) -> Result<u64, TreeError> {
    let mut seen = HashSet::new();
    let mut total = 0u64;
    for change in changes.iter().filter(|c| c.kind != ChangeKind::Deleted) {
        let host = root.join(change.relative_path());
        let meta = fs::symlink_metadata(&host).map_err(io_error("inspect", &host))?;
        if !meta.is_dir() && (meta.nlink() < 2 || seen.insert(inode(&meta))) {
            total = total.saturating_add(meta.len());
        }
    }
    Ok(total)
}

/// True for an overlayfs whiteout: a character device 0/0.
pub fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// True if the directory `path` carries `trusted.overlay.opaque=y` (read without following a symlink).
pub fn is_opaque(path: &Path) -> Result<bool, TreeError> {
    let mut value = [0u8; 4];
    match rustix::fs::lgetxattr(path, OVERLAY_OPAQUE_XATTR, &mut value) {
        Ok(n) => Ok(&value[..n] == b"y"),
        // Absent, unsupported, or a longer value (which overlayfs does not take for "y").
        Err(rustix::io::Errno::NODATA | rustix::io::Errno::NOTSUP | rustix::io::Errno::RANGE) => {
            Ok(false)
        }
        Err(e) => Err(io_error("read the opaque xattr of", path)(e.into())),
    }
}

/// One entry of a (possibly merged) directory.
#[derive(Debug)]
struct Node {
    name: OsString,
    /// Where the entry itself lives (in the topmost layer that has it).
    host: PathBuf,
    meta: Metadata,
    /// For a directory: the layer directories whose children make up its content, top first.
    sources: Vec<PathBuf>,
}

/// Visits every entry below the union of `roots` (or the single root, when `union` is false and whiteouts
/// and opaque markers are ordinary entries), depth first, each directory before its children.
fn walk(
    roots: &[PathBuf],
    union: bool,
    mut visit: impl FnMut(&Path, &Node) -> Result<(), TreeError>,
) -> Result<(), TreeError> {
    let mut stack = vec![(PathBuf::new(), merged_children(roots, union)?.into_iter())];
    while let Some((dir, children)) = stack.last_mut() {
        let Some(node) = children.next() else {
            stack.pop();
            continue;
        };
        let rel = dir.join(&node.name);
        visit(&rel, &node)?;
        if node.meta.is_dir() {
            let children = merged_children(&node.sources, union)?;
            stack.push((rel, children.into_iter()));
        }
    }
    Ok(())
}

/// The sorted names of the directory at `path`.
fn list_dir(path: &Path) -> Result<Vec<OsString>, TreeError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(path).map_err(io_error("list", path))? {
        names.push(entry.map_err(io_error("list", path))?.file_name());
    }
    names.sort();
    Ok(names)
}

fn lstat_if_exists(path: &Path) -> Result<Option<Metadata>, TreeError> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error("inspect", path)(e)),
    }
}

/// The children of the directory made of `sources` (top first). With `union`, the topmost layer having a
/// name decides what it is, a whiteout hides it, and a directory merges with the same directory of the
/// layers below until one of them is opaque or something else than a directory.
fn merged_children(sources: &[PathBuf], union: bool) -> Result<Vec<Node>, TreeError> {
    let mut decided: BTreeMap<OsString, Option<Node>> = BTreeMap::new();
    for (index, source) in sources.iter().enumerate() {
        for name in list_dir(source)? {
            if decided.contains_key(&name) {
                continue;
            }
            let host = source.join(&name);
            // Gone since the listing (a live container): nothing to report.
            let Some(meta) = lstat_if_exists(&host)? else {
                continue;
            };
            if union && is_whiteout(&meta) {
                decided.insert(name, None);
                continue;
            }
            let child_sources = if meta.is_dir() {
                if union {
                    directory_sources(&sources[index + 1..], &name, host.clone())?
                } else {
                    vec![host.clone()]
                }
            } else {
                Vec::new()
            };
            decided.insert(
                name.clone(),
                Some(Node {
                    name,
                    host,
                    meta,
                    sources: child_sources,
                }),
            );
        }
        if !union {
            break;
        }
    }
    Ok(decided.into_values().flatten().collect())
}

/// The layer directories making up the merged directory `name`, whose topmost part is `top` and whose
/// parent's lower parts are `lowers`.
fn directory_sources(
    lowers: &[PathBuf],
    name: &OsStr,
    top: PathBuf,
) -> Result<Vec<PathBuf>, TreeError> {
    let mut stop = is_opaque(&top)?;
    let mut sources = vec![top];
    for lower in lowers {
        if stop {
            break;
        }
        let host = lower.join(name);
        match lstat_if_exists(&host)? {
            None => continue,
            Some(meta) if meta.is_dir() => {
                stop = is_opaque(&host)?;
                sources.push(host);
            }
            // A file or whiteout: nothing further down shows through.
            Some(_) => break,
        }
    }
    Ok(sources)
}

/// The layer directories (top first) that make up the union's directory at `rel`, which the caller knows
/// is a directory: each layer's `rel` while it is a directory, down to the first opaque one.
fn lower_directory(layers: &[PathBuf], rel: &Path) -> Result<Vec<PathBuf>, TreeError> {
    let mut sources = Vec::new();
    for layer in layers {
        let host = layer.join(rel);
        match lstat_if_exists(&host)? {
            None => continue,
            Some(meta) if meta.is_dir() => {
                let opaque = is_opaque(&host)?;
                sources.push(host);
                if opaque {
                    break;
                }
            }
            Some(_) => break,
        }
    }
    Ok(sources)
}

/// What the union of `layers` (top first) has at `rel`, if anything.
fn union_lookup(layers: &[PathBuf], rel: &Path) -> Result<Option<Metadata>, TreeError> {
    let mut sources = layers.to_vec();
    let mut components = rel.iter().peekable();
    while let Some(name) = components.next() {
        let last = components.peek().is_none();
        let mut next = None;
        for (index, source) in sources.iter().enumerate() {
            let host = source.join(name);
            let Some(meta) = lstat_if_exists(&host)? else {
                continue;
            };
            if is_whiteout(&meta) {
                return Ok(None);
            }
            if last {
                return Ok(Some(meta));
            }
            if !meta.is_dir() {
                return Ok(None);
            }
            next = Some(directory_sources(&sources[index + 1..], name, host)?);
            break;
        }
        match next {
            Some(found) => sources = found,
            None => return Ok(None),
        }
    }
    Ok(None)
}

/// The same name in the new tree and in the old one, either possibly absent.
type NodePair = (Option<Node>, Option<Node>);

/// The children of the new directory (`new_sources`, a plain tree) and of the old one (`old_sources`, a
/// union of layers), paired by name in sorted order.
fn pair_children(
    new_sources: &[PathBuf],
    old_sources: &[PathBuf],
) -> Result<Vec<NodePair>, TreeError> {
    let mut pairs: BTreeMap<OsString, NodePair> = BTreeMap::new();
    if !new_sources.is_empty() {
        for node in merged_children(new_sources, false)? {
            let name = node.name.clone();
            pairs.entry(name).or_default().0 = Some(node);
        }
    }
    if !old_sources.is_empty() {
        for node in merged_children(old_sources, true)? {
            let name = node.name.clone();
            pairs.entry(name).or_default().1 = Some(node);
        }
    }
    Ok(pairs.into_values().collect())
}

/// Whether an entry present in both trees changed (Docker's `statDifferent`, plus symlink targets and all
/// xattrs).
fn differs(new: &Node, old: &Node) -> Result<bool, TreeError> {
    let (a, b) = (&new.meta, &old.meta);
    if a.mode() != b.mode() || a.uid() != b.uid() || a.gid() != b.gid() || a.rdev() != b.rdev() {
        return Ok(true);
    }
    // A directory's size and mtime say little: creating and removing children changes them.
    if !a.is_dir() && (a.len() != b.len() || !same_mtime(a, b)) {
        return Ok(true);
    }
    if a.file_type().is_symlink() {
        let targets = (
            fs::read_link(&new.host).map_err(io_error("read symlink", &new.host))?,
            fs::read_link(&old.host).map_err(io_error("read symlink", &old.host))?,
        );
        if targets.0 != targets.1 {
            return Ok(true);
        }
    }
    Ok(read_xattrs(&new.host)? != read_xattrs(&old.host)?)
}

/// Equal mtimes, or the same second with one side lacking nanoseconds (tar keeps whole seconds).
fn same_mtime(a: &Metadata, b: &Metadata) -> bool {
    a.mtime() == b.mtime()
        && (a.mtime_nsec() == b.mtime_nsec() || a.mtime_nsec() == 0 || b.mtime_nsec() == 0)
}

fn inode(meta: &Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

fn unix_seconds(meta: &Metadata) -> u64 {
    u64::try_from(meta.mtime()).unwrap_or(0)
}

/// The xattrs of `path` (not following a symlink), sorted by name, without overlayfs' own.
fn read_xattrs(path: &Path) -> Result<Vec<(OsString, Vec<u8>)>, TreeError> {
    let error = |e: rustix::io::Errno| io_error("read the xattrs of", path)(e.into());
    let mut names = Vec::new();
    loop {
        let size = match rustix::fs::llistxattr(path, &mut [0u8; 0][..]) {
            Ok(size) => size,
            Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(error(e)),
        };
        if size == 0 {
            return Ok(Vec::new());
        }
        names.resize(size, 0);
        match rustix::fs::llistxattr(path, &mut names) {
            Ok(n) => {
                names.truncate(n);
                break;
            }
            // Grew between the two calls: ask again.
            Err(rustix::io::Errno::RANGE) => continue,
            Err(e) => return Err(error(e)),
        }
    }
    let mut xattrs = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if name.starts_with(OVERLAY_XATTR_PREFIX.as_bytes()) {
            continue;
        }
        let name = OsStr::from_bytes(name);
        let value = loop {
            let size = match rustix::fs::lgetxattr(path, name, &mut [0u8; 0][..]) {
                Ok(size) => size,
                // Removed since the listing.
                Err(rustix::io::Errno::NODATA) => break None,
                Err(e) => return Err(error(e)),
            };
            let mut value = vec![0u8; size];
            match rustix::fs::lgetxattr(path, name, &mut value) {
                Ok(n) => {
                    value.truncate(n);
                    break Some(value);
                }
                Err(rustix::io::Errno::RANGE) => continue,
                Err(rustix::io::Errno::NODATA) => break None,
                Err(e) => return Err(error(e)),
            }
        };
        if let Some(value) = value {
            xattrs.push((name.to_owned(), value));
        }
    }
    xattrs.sort();
    Ok(xattrs)
}

/// Turns files on disk into tar entries, remembering inodes already written to make hardlinks.
struct Emitter<W: Write> {
    writer: StreamingLayerWriter<W>,
    /// First path written for each multiply-linked inode.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> Emitter<W> {
    fn new(out: W) -> Self {
        Self {
            writer: StreamingLayerWriter::new(out),
            links: HashMap::new(),
        }
    }

    fn append(&mut self, entry: &LayerEntry) -> Result<(), TreeError> {
        self.writer.append(entry).map_err(TreeError::Write)
    }

    /// Writes the entry at `host` (described by `meta`) under the name `rel`.
    fn emit(&mut self, rel: &Path, host: &Path, meta: &Metadata) -> Result<(), TreeError> {
        let mut entry_meta = EntryMeta::new(rel, meta.mode() & 0o7777);
        entry_meta.uid = meta.uid().into();
        entry_meta.gid = meta.gid().into();
        entry_meta.mtime = unix_seconds(meta);
        for (name, value) in read_xattrs(host)? {
            let Some(text) = name.to_str() else {
                return Err(TreeError::XattrName {
                    path: host.to_path_buf(),
                    name,
                });
            };
            entry_meta.xattrs.push((text.to_owned(), value));
        }
        let file_type = meta.file_type();
        if !file_type.is_dir() && meta.nlink() > 1 {
            match self.links.get(&inode(meta)) {
                Some(first) => {
                    entry_meta.xattrs.clear();
                    let body = EntryBody::Hardlink(first.clone());
                    return self.append(&LayerEntry {
                        meta: entry_meta,
                        body,
                    });
                }
                None => {
                    self.links.insert(inode(meta), rel.to_path_buf());
                }
            }
        }
        let body = if file_type.is_dir() {
            EntryBody::Dir
        } else if file_type.is_file() {
            let file = OpenOptions::new()
                .read(true)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(host)
                .map_err(io_error("open", host))?;
            return self.append_file(&entry_meta, meta.len(), file, host);
        } else if file_type.is_symlink() {
            EntryBody::Symlink(fs::read_link(host).map_err(io_error("read symlink", host))?)
        } else if file_type.is_char_device() || file_type.is_block_device() {
            let (major, minor) = (
                rustix::fs::major(meta.rdev()),
                rustix::fs::minor(meta.rdev()),
            );
            if file_type.is_char_device() {
                EntryBody::CharDevice { major, minor }
            } else {
                EntryBody::BlockDevice { major, minor }
            }
        } else if file_type.is_fifo() {
            EntryBody::Fifo
        } else {
            // A socket: tar cannot hold one.
            return Ok(());
        };
        self.append(&LayerEntry {
            meta: entry_meta,
            body,
        })
    }

    fn append_file(
        &mut self,
        meta: &EntryMeta,
        size: u64,
        file: File,
        host: &Path,
    ) -> Result<(), TreeError> {
        // Reading errors and writing errors come back alike; tell them apart by which side failed.
        let mut reader = FailureNotingReader {
            inner: file.take(size),
            failed: false,
        };
        match self.writer.append_file_from_reader(meta, size, &mut reader) {
            Ok(()) => Ok(()),
            Err(e) if reader.failed || e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(io_error("read", host)(e))
            }
            Err(e) => Err(TreeError::Write(e)),
        }
    }

    fn finish(self) -> Result<W, TreeError> {
        self.writer.finish().map_err(TreeError::Write)
    }
}

/// Remembers whether reading failed, so a caller can tell a source error from a destination error.
struct FailureNotingReader<R> {
    inner: R,
    failed: bool,
}

impl<R: Read> Read for FailureNotingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|_| self.failed = true)
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

    /// One line per tar entry: kind, path, and what matters for it.
    fn describe(tar: &[u8]) -> Vec<String> {
        let mut archive = tar::Archive::new(tar);
        let mut lines = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let header = entry.header().clone();
            let link = || {
                String::from_utf8_lossy(&entry.link_name_bytes().unwrap_or_default()).into_owned()
            };
            let line = match header.entry_type() {
                tar::EntryType::Directory => {
                    format!("d {path} {:o}", header.mode().unwrap())
                }
                tar::EntryType::Symlink => format!("l {path} -> {}", link()),
                tar::EntryType::Link => format!("h {path} -> {}", link()),
                tar::EntryType::Char => format!(
                    "c {path} {},{}",
                    header.device_major().unwrap().unwrap(),
                    header.device_minor().unwrap().unwrap()
                ),
                tar::EntryType::Fifo => format!("p {path}"),
                _ => {
                    let mut content = String::new();
                    entry.read_to_string(&mut content).unwrap();
                    format!("f {path} {:o} {content}", header.mode().unwrap())
                }
            };
            lines.push(line);
        }
        lines
    }

    fn mkdir(path: &Path) {
        fs::create_dir_all(path).unwrap();
        fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }

    fn write(path: &Path, content: &str) {
        fs::write(path, content).unwrap();
        fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    }

    fn whiteout(path: &Path) {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            0,
        )
        .unwrap();
    }

    fn opaque(path: &Path) {
        rustix::fs::lsetxattr(
            path,
            OVERLAY_OPAQUE_XATTR,
            b"y",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
    }

    /// A lower layer and an upper directory in overlay format, made by hand:
    /// lower: etc/{a,b}, var/cache/{old,older}, usr/bin/tool, usr/lib/
    /// upper: etc/a changed, etc/b deleted, etc/new added, var/cache opaque with fresh, usr/lib deleted.
    fn overlay_fixture(base: &Path) -> (PathBuf, PathBuf) {
        let (lower, upper) = (base.join("lower"), base.join("upper"));
        for dir in ["etc", "var/cache", "usr/bin", "usr/lib"] {
            mkdir(&lower.join(dir));
        }
        write(&lower.join("etc/a"), "a1");
        write(&lower.join("etc/b"), "b");
        write(&lower.join("var/cache/old"), "o");
        write(&lower.join("var/cache/older"), "oo");
        write(&lower.join("usr/bin/tool"), "t");
        for dir in ["etc", "var/cache", "usr"] {
            mkdir(&upper.join(dir));
        }
        write(&upper.join("etc/a"), "a2");
        whiteout(&upper.join("etc/b"));
        write(&upper.join("etc/new"), "n");
        opaque(&upper.join("var/cache"));
        write(&upper.join("var/cache/fresh"), "f");
        whiteout(&upper.join("usr/lib"));
        (lower, upper)
    }

    #[test]
    fn plain_tree_is_sorted_with_hardlinks_symlinks_and_fifos() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        mkdir(&root.join("b"));
        write(&root.join("b/file"), "content");
        fs::hard_link(root.join("b/file"), root.join("a-link")).unwrap();
        std::os::unix::fs::symlink("b/file", root.join("c")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let tar = write_tree(&root, Vec::new()).unwrap();
        assert_eq!(
            describe(&tar),
            [
                "f a-link 644 content",
                "d b/ 755",
                "h b/file -> a-link",
                "l c -> b/file",
                "p fifo",
            ]
        );
        // Deterministic: the same tree gives the same bytes.
        assert_eq!(write_tree(&root, Vec::new()).unwrap(), tar);
        // The file once (7 bytes), the symlink's target length (6), the fifo (0).
        assert_eq!(content_size(&root).unwrap(), 13);
    }

    #[test]
    fn overlay_upper_becomes_a_layer_diff_with_whiteouts() {
        if !root_or_skip("whiteout devices and trusted xattrs need root") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (_, upper) = overlay_fixture(dir.path());
        let tar = write_overlay_diff(&upper, Vec::new()).unwrap();
        assert_eq!(
            describe(&tar),
            [
                "d etc/ 755",
                "f etc/a 644 a2",
                "f etc/.wh.b 600 ",
                "f etc/new 644 n",
                "d usr/ 755",
                "f usr/.wh.lib 600 ",
                "d var/ 755",
                "d var/cache/ 755",
                "f var/cache/.wh..wh..opq 755 ",
                "f var/cache/fresh 644 f",
            ]
        );
        // The opaque xattr itself is not carried over.
        assert!(!tar.windows(16).any(|w| w == b"trusted.overlay."));
        // And the diff applies back onto the lower layer as overlayfs showed it.
        let report = crate::validate_layer(&tar[..]).unwrap();
        assert_eq!(report.whiteouts + report.opaque_dirs, 3);
    }

    #[test]
    fn union_hides_whiteouts_and_stops_at_opaque_directories() {
        if !root_or_skip("whiteout devices and trusted xattrs need root") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (lower, upper) = overlay_fixture(dir.path());
        let tar = write_union(&[upper, lower], Vec::new()).unwrap();
        assert_eq!(
            describe(&tar),
            [
                "d etc/ 755",
                "f etc/a 644 a2",
                "f etc/new 644 n",
                "d usr/ 755",
                "d usr/bin/ 755",
                "f usr/bin/tool 644 t",
                "d var/ 755",
                "d var/cache/ 755",
                "f var/cache/fresh 644 f",
            ]
        );
    }

    #[test]
    fn overlay_changes_follow_docker() {
        if !root_or_skip("whiteout devices and trusted xattrs need root") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (lower, upper) = overlay_fixture(dir.path());
        // Copied up unchanged: same mode, size and mtime as below, so not reported by themselves.
        for path in ["etc", "usr"] {
            let lower_dir = fs::metadata(lower.join(path)).unwrap();
            let stamp = rustix::fs::Timespec {
                tv_sec: lower_dir.mtime(),
                tv_nsec: lower_dir.mtime_nsec(),
            };
            rustix::fs::utimensat(
                rustix::fs::CWD,
                upper.join(path),
                &rustix::fs::Timestamps {
                    last_access: stamp,
                    last_modification: stamp,
                },
                rustix::fs::AtFlags::empty(),
            )
            .unwrap();
        }
        let changes: Vec<String> = overlay_changes(&upper, &[lower])
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            changes,
            [
                "C /etc",
                "C /etc/a",
                "D /etc/b",
                "A /etc/new",
                "C /usr",
                "D /usr/lib",
                "C /var",
                // Opaque: changed, with what it hid below deleted (Docker 20.10's overlay2 output).
                "C /var/cache",
                "A /var/cache/fresh",
                "D /var/cache/old",
                "D /var/cache/older",
            ]
        );
    }

    #[test]
    fn full_copy_compared_with_its_layers() {
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("lower");
        let copy = dir.path().join("copy");
        for root in [&lower, &copy] {
            for sub in ["etc", "gone/deep", "same"] {
                mkdir(&root.join(sub));
            }
            write(&root.join("etc/a"), "a1");
            write(&root.join("etc/b"), "b");
            write(&root.join("gone/deep/x"), "x");
            write(&root.join("same/s"), "s");
        }
        // Make the copy's times equal to the layer's, as applying the same tars does.
        for path in ["etc/a", "etc/b", "same/s"] {
            let meta = fs::metadata(lower.join(path)).unwrap();
            let stamp = rustix::fs::Timespec {
                tv_sec: meta.mtime(),
                tv_nsec: meta.mtime_nsec(),
            };
            rustix::fs::utimensat(
                rustix::fs::CWD,
                copy.join(path),
                &rustix::fs::Timestamps {
                    last_access: stamp,
                    last_modification: stamp,
                },
                rustix::fs::AtFlags::empty(),
            )
            .unwrap();
        }
        write(&copy.join("etc/a"), "a2-longer");
        fs::set_permissions(
            copy.join("etc/b"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        fs::remove_dir_all(copy.join("gone")).unwrap();
        mkdir(&copy.join("new/sub"));
        write(&copy.join("new/sub/file"), "nf");
        let changes = compare_with_layers(&copy, std::slice::from_ref(&lower)).unwrap();
        let printed: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            printed,
            [
                "C /etc",
                "C /etc/a",
                "C /etc/b",
                "D /gone",
                "A /new",
                "A /new/sub",
                "A /new/sub/file",
            ]
        );
        let tar = write_changes(&copy, &changes, Vec::new()).unwrap();
        assert_eq!(
            describe(&tar),
            [
                "d etc/ 755",
                "f etc/a 644 a2-longer",
                "f etc/b 600 b",
                "f .wh.gone 600 ",
                "d new/ 755",
                "d new/sub/ 755",
                "f new/sub/file 644 nf",
            ]
        );
        assert_eq!(changes_size(&copy, &changes).unwrap(), 9 + 1 + 2);
    }
}
