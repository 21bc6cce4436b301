//! Streaming safety checks for layer tars: which entry paths, link targets and whiteouts are acceptable, and a
//! validator that reads a whole layer (content included, so truncation is caught) without writing anything.
//!
//! The rules: no absolute paths, no `..` above the root, no path through a symlink the same layer created,
//! hardlink targets under the same rules; symlink targets are free (absolute ones are normal in images and
//! are resolved inside the root when applied). [`crate::apply`] runs the same checker on every entry.

use std::cell::Cell;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::rc::Rc;

use crate::compression::BUFFER_SIZE;
use crate::entry::{EntryInfo, EntryKind};
use crate::error::{LayerError, PathProblem};
use crate::path::LayerPath;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const HEADER_BUFFER_SIZE: usize = 64 * 1024;
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// What an entry asks for, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckedEntry {
    /// Create (or replace) `path` as the entry's kind; for a hardlink, `hardlink_target` is the path linked to.
    Create {
        path: LayerPath,
        hardlink_target: Option<LayerPath>,
    },
    /// `.wh.<name>`: remove `target` as the lower layers have it.
    Whiteout { target: LayerPath },
    /// `.wh..wh..opq`: hide everything the lower layers have under `dir`.
    Opaque { dir: LayerPath },
    /// Nothing to do: a PAX global header or AUFS bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`).
    Skip,
}

/// Checks entries one at a time, in archive order, remembering the symlinks the layer created so far.
#[derive(Debug, Default)]
pub struct EntryChecker {
    symlinks: HashSet<PathBuf>,
}

impl EntryChecker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks one entry and classifies it. Call it for every entry in order: a symlink entry changes what
    /// later entries may do.
    pub fn check(&mut self, info: &EntryInfo) -> Result<CheckedEntry, LayerError> {
        if info.kind == EntryKind::GlobalHeader {
            return Ok(CheckedEntry::Skip);
        }
        let unsafe_path = |problem| LayerError::UnsafePath {
            path: info.display_path(),
            problem,
        };
        let path = LayerPath::parse(&info.path).map_err(unsafe_path)?;
        if let Some(symlink) = self.symlink_above(&path) {
            return Err(unsafe_path(PathProblem::ThroughSymlink { symlink }));
        }

        if let Some(name) = path.file_name().map(OsStr::as_bytes)
            && let Some(rest) = name.strip_prefix(WHITEOUT_PREFIX)
        {
            return self.check_whiteout(info, &path, name, rest);
        }

        if path.is_root() && info.kind != EntryKind::Dir {
            return Err(unsafe_path(PathProblem::IsRoot));
        }
        let hardlink_target = match info.kind {
            EntryKind::Symlink => {
                if info
                    .link_name
                    .as_ref()
                    .is_none_or(|t| t.as_os_str().is_empty())
                {
                    return Err(LayerError::MissingLinkTarget {
                        path: info.display_path(),
                        kind: "symlink",
                    });
                }
                None
            }
            EntryKind::Hardlink => Some(self.check_hardlink_target(info)?),
            _ => None,
        };

        if info.kind == EntryKind::Symlink {
            self.symlinks.insert(path.as_path().to_path_buf());
        } else if !self.symlinks.is_empty() {
            // Anything else at this path replaces the symlink.
            self.symlinks.remove(path.as_path());
        }
        Ok(CheckedEntry::Create {
            path,
            hardlink_target,
        })
    }

    fn check_whiteout(
        &self,
        info: &EntryInfo,
        path: &LayerPath,
        name: &[u8],
        rest: &[u8],
    ) -> Result<CheckedEntry, LayerError> {
        let invalid = |reason| LayerError::InvalidWhiteout {
            path: info.display_path(),
            reason,
        };
        if name == OPAQUE_MARKER {
            return Ok(CheckedEntry::Opaque { dir: path.parent() });
        }
        if rest.starts_with(WHITEOUT_PREFIX) {
            return Ok(CheckedEntry::Skip);
        }
        match rest {
            b"" => Err(invalid("it names no file")),
            b"." | b".." => Err(invalid("it names \".\" or \"..\"")),
            _ => Ok(CheckedEntry::Whiteout {
                target: path.parent().child(OsStr::from_bytes(rest)),
            }),
        }
    }

    fn check_hardlink_target(&self, info: &EntryInfo) -> Result<LayerPath, LayerError> {
        let Some(raw) = info
            .link_name
            .as_ref()
            .filter(|t| !t.as_os_str().is_empty())
        else {
            return Err(LayerError::MissingLinkTarget {
                path: info.display_path(),
                kind: "hardlink",
            });
        };
        let unsafe_target = |problem| LayerError::UnsafeHardlink {
            path: info.display_path(),
            target: raw.to_string_lossy().into_owned(),
            problem,
        };
        let target = LayerPath::parse(raw).map_err(unsafe_target)?;
        if target.is_root() {
            return Err(unsafe_target(PathProblem::IsRoot));
        }
        if let Some(symlink) = self.symlink_above(&target) {
            return Err(unsafe_target(PathProblem::ThroughSymlink { symlink }));
        }
        Ok(target)
    }

    /// The nearest proper ancestor of `path` that this layer made a symlink.
    fn symlink_above(&self, path: &LayerPath) -> Option<String> {
        if self.symlinks.is_empty() {
            return None;
        }
        path.proper_ancestors()
            .find(|a| self.symlinks.contains(*a))
            .map(|a| a.to_string_lossy().into_owned())
    }
}

/// Counts of what a layer holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationReport {
    /// All entries, including skipped ones.
    pub entries: u64,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    /// Character and block devices.
    pub devices: u64,
    pub fifos: u64,
    pub whiteouts: u64,
    pub opaque_dirs: u64,
    /// PAX global headers and AUFS bookkeeping entries.
    pub skipped: u64,
    /// Bytes of regular-file content.
    pub content_bytes: u64,
}

impl ValidationReport {
    pub(crate) fn count(&mut self, info: &EntryInfo, checked: &CheckedEntry) {
        self.entries += 1;
        match checked {
            CheckedEntry::Whiteout { .. } => self.whiteouts += 1,
            CheckedEntry::Opaque { .. } => self.opaque_dirs += 1,
            CheckedEntry::Skip => self.skipped += 1,
            CheckedEntry::Create { .. } => match info.kind {
                EntryKind::File => {
                    self.files += 1;
                    self.content_bytes += info.size;
                }
                EntryKind::Dir => self.dirs += 1,
                EntryKind::Symlink => self.symlinks += 1,
                EntryKind::Hardlink => self.hardlinks += 1,
                EntryKind::CharDevice | EntryKind::BlockDevice => self.devices += 1,
                EntryKind::Fifo => self.fifos += 1,
                EntryKind::GlobalHeader => self.skipped += 1,
            },
        }
    }
}

/// Reads a whole (uncompressed) layer tar, checking every entry and that no content is cut short, and requiring
/// the end-of-archive marker. Decompress first (see [`crate::compression::auto_decompress`]).
pub fn validate_layer<R: Read>(reader: R) -> Result<ValidationReport, LayerError> {
    let mut report = ValidationReport::default();
    let end = walk_layer(reader, |info, checked, _content, _buf| {
        report.count(info, &checked);
        // The walker reads and counts the content itself.
        Ok(0)
    })?;
    if !end.end_marker {
        return Err(LayerError::MissingEndOfArchive {
            entries: end.entries,
            last_entry: end.last_entry,
        });
    }
    Ok(report)
}

/// How a walk over a layer ended.
#[derive(Debug)]
pub(crate) struct WalkEnd {
    pub(crate) entries: u64,
    pub(crate) last_entry: Option<String>,
    /// Whether the archive ended with the zero block that marks its end, rather than just stopping.
    pub(crate) end_marker: bool,
}

/// Drives a tar stream entry by entry: reads each entry's headers, runs the [`EntryChecker`], hands the entry
/// to `visit` with its content reader and a 1 MiB scratch buffer, then reads whatever content `visit` left and
/// fails if the content ends before the size its header declares. `visit` returns how many content bytes it
/// read. After the last entry it reads the stream to its end.
pub(crate) fn walk_layer<R: Read>(
    reader: R,
    mut visit: impl FnMut(&EntryInfo, CheckedEntry, &mut dyn Read, &mut [u8]) -> Result<u64, LayerError>,
) -> Result<WalkEnd, LayerError> {
    let consumed = Rc::new(Cell::new(0u64));
    // Headers are read 512 bytes at a time: buffer them, so a plain file does not cost a syscall each. Content
    // reads are 1 MiB, larger than this buffer, and bypass it.
    let reader = io::BufReader::with_capacity(HEADER_BUFFER_SIZE, reader);
    let mut archive = tar::Archive::new(CountingReader {
        inner: reader,
        consumed: Rc::clone(&consumed),
    });
    let mut entries_seen = 0u64;
    let mut last_entry: Option<String> = None;
    let mut entries = archive.entries().map_err(|source| LayerError::Corrupt {
        entries: 0,
        last_entry: None,
        source,
    })?;
    let mut checker = EntryChecker::new();
    let mut buf = vec![0u8; BUFFER_SIZE];
    let end_marker = loop {
        let before = consumed.get();
        let Some(entry) = entries.next() else {
            // The tar crate stops either at EOF or after reading one all-zero block; only the latter is a
            // proper end. Padding left after the last entry is under 512 bytes, so 512 more means the block.
            break consumed.get() - before >= 512;
        };
        let mut entry = entry.map_err(|source| LayerError::Corrupt {
            entries: entries_seen,
            last_entry: last_entry.clone(),
            source,
        })?;
        let info = EntryInfo::read(&mut entry)?;
        let checked = checker.check(&info)?;
        let read_by_visitor = visit(&info, checked, &mut entry, &mut buf)?;
        let rest = drain(&mut entry, &mut buf).map_err(|source| LayerError::ReadContent {
            path: info.display_path(),
            source,
        })?;
        let found = read_by_visitor + rest;
        if found != info.size {
            return Err(LayerError::Truncated {
                path: info.display_path(),
                expected: info.size,
                found,
            });
        }
        entries_seen += 1;
        last_entry = Some(info.display_path());
    };
    // The layer is the whole stream: read the record padding after the end blocks too, so a decoder gets to
    // check its trailer (a gzip stream cut inside its CRC still yields the complete tar).
    drain(&mut archive.into_inner(), &mut buf).map_err(|source| LayerError::Corrupt {
        entries: entries_seen,
        last_entry: last_entry.clone(),
        source,
    })?;
    Ok(WalkEnd {
        entries: entries_seen,
        last_entry,
        end_marker,
    })
}

/// Reads `content` to its end, returning the byte count.
pub(crate) fn drain(content: &mut dyn Read, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        match content.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Counts bytes taken from the stream, so the walk can tell an end-of-archive block from a bare EOF.
struct CountingReader<R> {
    inner: R,
    consumed: Rc<Cell<u64>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.set(self.consumed.get() + n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::{LayerBuilder, LayerEntry, StreamingLayerWriter};
    use crate::entry::Timestamp;

    fn info(path: &str, kind: EntryKind, link: Option<&str>) -> EntryInfo {
        EntryInfo {
            path: PathBuf::from(path),
            kind,
            link_name: link.map(PathBuf::from),
            size: 0,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: Timestamp::default(),
            atime: None,
            device: None,
            xattrs: Vec::new(),
        }
    }

    fn lp(path: &str) -> LayerPath {
        LayerPath::parse(std::path::Path::new(path)).unwrap()
    }

    #[test]
    fn checker_classifies_whiteouts() {
        let mut checker = EntryChecker::new();
        assert_eq!(
            checker
                .check(&info("etc/.wh.old", EntryKind::File, None))
                .unwrap(),
            CheckedEntry::Whiteout {
                target: lp("etc/old")
            }
        );
        assert_eq!(
            checker
                .check(&info("./var/cache/.wh..wh..opq", EntryKind::File, None))
                .unwrap(),
            CheckedEntry::Opaque {
                dir: lp("var/cache")
            }
        );
        assert_eq!(
            checker
                .check(&info(".wh..wh.plnk", EntryKind::Dir, None))
                .unwrap(),
            CheckedEntry::Skip
        );
        assert!(matches!(
            checker.check(&info("etc/.wh.", EntryKind::File, None)),
            Err(LayerError::InvalidWhiteout { .. })
        ));
        assert!(matches!(
            checker.check(&info("etc/.wh..", EntryKind::File, None)),
            Err(LayerError::InvalidWhiteout { .. })
        ));
    }

    #[test]
    fn checker_refuses_paths_through_a_symlink_of_the_same_layer() {
        let mut checker = EntryChecker::new();
        checker
            .check(&info("a", EntryKind::Symlink, Some("/etc")))
            .unwrap();
        let err = checker
            .check(&info("a/passwd", EntryKind::File, None))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer entry \"a/passwd\": path goes through symlink \"a\" created earlier in the same layer"
        );
        // Whiteouts and hardlink targets through it are refused too.
        assert!(
            checker
                .check(&info("a/.wh.passwd", EntryKind::File, None))
                .is_err()
        );
        assert!(matches!(
            checker.check(&info("h", EntryKind::Hardlink, Some("a/passwd"))),
            Err(LayerError::UnsafeHardlink {
                problem: PathProblem::ThroughSymlink { .. },
                ..
            })
        ));
        // Once a directory replaces the symlink, paths below it are fine again.
        checker.check(&info("a/", EntryKind::Dir, None)).unwrap();
        checker
            .check(&info("a/passwd", EntryKind::File, None))
            .unwrap();
    }

    #[test]
    fn checker_lets_symlinks_point_anywhere() {
        let mut checker = EntryChecker::new();
        for target in ["/bin/busybox", "../../../../etc", "/"] {
            checker
                .check(&info("bin/sh", EntryKind::Symlink, Some(target)))
                .unwrap();
        }
        assert!(matches!(
            checker.check(&info("bin/x", EntryKind::Symlink, Some(""))),
            Err(LayerError::MissingLinkTarget { .. })
        ));
    }

    #[test]
    fn checker_refuses_bad_hardlinks_and_root_replacement() {
        let mut checker = EntryChecker::new();
        let err = checker
            .check(&info("h", EntryKind::Hardlink, Some("../../etc/shadow")))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer entry \"h\": hardlink target \"../../etc/shadow\" escapes the layer root"
        );
        assert!(matches!(
            checker.check(&info("h", EntryKind::Hardlink, Some("/etc/shadow"))),
            Err(LayerError::UnsafeHardlink {
                problem: PathProblem::Absolute,
                ..
            })
        ));
        assert!(matches!(
            checker.check(&info("h", EntryKind::Hardlink, Some("./"))),
            Err(LayerError::UnsafeHardlink {
                problem: PathProblem::IsRoot,
                ..
            })
        ));
        assert!(matches!(
            checker.check(&info("./", EntryKind::File, None)),
            Err(LayerError::UnsafePath {
                problem: PathProblem::IsRoot,
                ..
            })
        ));
        assert_eq!(
            checker.check(&info("./", EntryKind::Dir, None)).unwrap(),
            CheckedEntry::Create {
                path: LayerPath::root(),
                hardlink_target: None
            }
        );
    }

    #[test]
    fn escaping_entry_is_reported_with_its_path() {
        let mut w = StreamingLayerWriter::new(Vec::new());
        w.append(&LayerEntry::file(
            "../etc/passwd",
            b"root::0:0::/:/bin/sh\n".to_vec(),
            0o644,
        ))
        .unwrap();
        let tar = w.finish().unwrap();
        let err = validate_layer(&tar[..]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer entry \"../etc/passwd\": path escapes the layer root"
        );
    }

    #[test]
    fn absolute_entry_is_refused() {
        let mut w = StreamingLayerWriter::new(Vec::new());
        w.append(&LayerEntry::file("/etc/passwd", Vec::new(), 0o644))
            .unwrap();
        let tar = w.finish().unwrap();
        assert!(matches!(
            validate_layer(&tar[..]),
            Err(LayerError::UnsafePath {
                problem: PathProblem::Absolute,
                ..
            })
        ));
    }

    #[test]
    fn report_counts_each_kind() {
        let tar = LayerBuilder::from_text(
            "d etc 755\nf etc/os-release 644 ID=test\nl bin/sh busybox\nh bin/ls etc/os-release\nw etc/old\no var/cache\n",
        )
        .unwrap()
        .build();
        let report = validate_layer(&tar[..]).unwrap();
        assert_eq!(
            report,
            ValidationReport {
                entries: 6,
                files: 1,
                dirs: 1,
                symlinks: 1,
                hardlinks: 1,
                whiteouts: 1,
                opaque_dirs: 1,
                content_bytes: 7,
                ..ValidationReport::default()
            }
        );
    }

    /// A layer with one 2048-byte file, and where its content starts in the stream.
    fn one_big_file() -> (Vec<u8>, usize) {
        let tar = LayerBuilder::new()
            .file("big", vec![7u8; 2048], 0o644)
            .build();
        (tar, 512)
    }

    #[test]
    fn content_cut_at_a_block_boundary_is_truncation() {
        let (tar, content_start) = one_big_file();
        // Cut after 1024 of the 2048 content bytes: the tar crate alone would just see the stream end.
        let cut = &tar[..content_start + 1024];
        match validate_layer(cut) {
            Err(LayerError::Truncated {
                path,
                expected,
                found,
            }) => {
                assert_eq!((path.as_str(), expected, found), ("big", 2048, 1024));
            }
            other => panic!("expected truncation, got {other:?}"),
        }
    }

    #[test]
    fn content_cut_mid_block_is_truncation() {
        let (tar, content_start) = one_big_file();
        let cut = &tar[..content_start + 1000];
        assert!(matches!(
            validate_layer(cut),
            Err(LayerError::Truncated { found: 1000, .. })
        ));
    }

    #[test]
    fn header_cut_in_half_is_corruption() {
        let tar = LayerBuilder::new()
            .file("a", b"x".to_vec(), 0o644)
            .file("b", b"y".to_vec(), 0o644)
            .build();
        // First entry: header + one content block; then cut the second header in half.
        let cut = &tar[..1024 + 256];
        let err = validate_layer(cut).unwrap_err();
        assert!(
            matches!(err, LayerError::Corrupt { entries: 1, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("after 1 entries (the last one \"a\")"),
            "{err}"
        );
    }

    #[test]
    fn stream_ending_between_entries_lacks_the_end_marker() {
        let tar = LayerBuilder::new()
            .file("a", b"x".to_vec(), 0o644)
            .file("b", b"y".to_vec(), 0o644)
            .build();
        let cut = &tar[..1024];
        assert!(matches!(
            validate_layer(cut),
            Err(LayerError::MissingEndOfArchive { entries: 1, .. })
        ));
        // The empty stream is not a layer either; the empty layer is 1024 zero bytes.
        assert!(matches!(
            validate_layer(&[][..]),
            Err(LayerError::MissingEndOfArchive { entries: 0, .. })
        ));
        assert_eq!(
            validate_layer(&[0u8; 1024][..]).unwrap(),
            ValidationReport::default()
        );
    }

    #[test]
    fn bad_header_checksum_is_corruption() {
        let mut tar = LayerBuilder::new().file("a", b"x".to_vec(), 0o644).build();
        tar[0] ^= 1;
        assert!(matches!(
            validate_layer(&tar[..]),
            Err(LayerError::Corrupt { entries: 0, .. })
        ));
    }

    #[test]
    fn pax_path_contradicting_a_gnu_long_name_is_refused() {
        // A PAX header says "innocent", a GNU long name says something else: readers disagree on which wins.
        let long = format!("{}/passwd", "d".repeat(120));
        let mut w = StreamingLayerWriter::new(Vec::new());
        w.append_raw_pax(&[("path", b"innocent".as_slice())])
            .unwrap();
        w.append(&LayerEntry::file(&long, Vec::new(), 0o644))
            .unwrap();
        let tar = w.finish().unwrap();
        assert!(matches!(
            validate_layer(&tar[..]),
            Err(LayerError::AmbiguousName { field: "path", .. })
        ));
    }

    #[test]
    fn unsupported_entry_types_are_refused() {
        let mut header = tar::Header::new_gnu();
        header.as_gnu_mut().unwrap().name[..3].copy_from_slice(b"vol");
        header.set_entry_type(tar::EntryType::new(b'V'));
        header.set_size(0);
        header.set_cksum();
        let mut tar = header.as_bytes().to_vec();
        tar.extend_from_slice(&[0u8; 1024]);
        assert!(matches!(
            validate_layer(&tar[..]),
            Err(LayerError::UnsupportedEntry { .. })
        ));
    }

    #[test]
    fn global_pax_headers_are_skipped() {
        let mut w = StreamingLayerWriter::new(Vec::new());
        w.append_raw_global_pax(&[("comment", b"made by a test".as_slice())])
            .unwrap();
        w.append(&LayerEntry::dir("etc", 0o755)).unwrap();
        let tar = w.finish().unwrap();
        let report = validate_layer(&tar[..]).unwrap();
        assert_eq!((report.entries, report.skipped, report.dirs), (2, 1, 1));
    }
}
