//! The crate's error type: each variant names the layer entry it is about and what is wrong with it.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a path inside a layer (an entry's own path or a hardlink's target) is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathProblem {
    /// It starts with `/`. Tar writers strip the leading slash, so a layer holding one was made to attack.
    Absolute,
    /// After resolving `.` and `..` lexically it lands above the layer root.
    EscapesRoot,
    /// It names the layer root itself where only a directory may (a file, link or whiteout cannot replace `/`).
    IsRoot,
    /// One of its parents is a symlink that an earlier entry of the same layer created: following it could
    /// lead anywhere (the classic `a -> /etc` then `a/passwd`).
    ThroughSymlink { symlink: String },
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Absolute => f.write_str("is absolute"),
            Self::EscapesRoot => f.write_str("escapes the layer root"),
            Self::IsRoot => f.write_str("names the layer root"),
            Self::ThroughSymlink { symlink } => {
                write!(
                    f,
                    "goes through symlink {symlink:?} created earlier in the same layer"
                )
            }
        }
    }
}

/// Everything that can go wrong reading, checking or applying a layer tar.
///
/// `path` fields hold the entry path as written in the tar (lossily decoded when not UTF-8).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// The entry's own path is unsafe.
    #[error("layer entry {path:?}: path {problem}")]
    UnsafePath { path: String, problem: PathProblem },

    /// A hardlink's target is unsafe.
    #[error("layer entry {path:?}: hardlink target {target:?} {problem}")]
    UnsafeHardlink {
        path: String,
        target: String,
        problem: PathProblem,
    },

    /// A whiteout file whose name does not designate a single sibling (`.wh.`, `.wh..`, `.wh...`).
    #[error("layer entry {path:?}: invalid whiteout: {reason}")]
    InvalidWhiteout { path: String, reason: &'static str },

    /// A symlink or hardlink entry without a target.
    #[error("layer entry {path:?}: {kind} has no target")]
    MissingLinkTarget { path: String, kind: &'static str },

    /// An entry type a layer cannot hold (e.g. a tape volume header) or that we cannot read faithfully.
    #[error("layer entry {path:?}: unsupported tar entry type {entry_type}")]
    UnsupportedEntry { path: String, entry_type: String },

    /// A PAX `path`/`linkpath` record contradicts the name another header (GNU long name) gives the same entry.
    /// Tar readers disagree on which one wins, so such an entry could mean different files to different tools.
    #[error(
        "layer entry {path:?}: the PAX {field} record {pax:?} contradicts the entry's other name"
    )]
    AmbiguousName {
        path: String,
        field: &'static str,
        pax: String,
    },

    /// A header field that does not parse (mode, uid, device numbers, PAX times).
    #[error("layer entry {path:?}: invalid {field}: {detail}")]
    InvalidHeader {
        path: String,
        field: &'static str,
        detail: String,
    },

    /// The stream ended inside an entry's content.
    #[error(
        "layer entry {path:?}: content truncated: the header declares {expected} bytes but the stream ended after {found}"
    )]
    Truncated {
        path: String,
        expected: u64,
        found: u64,
    },

    /// Reading an entry's content failed (a decompression error, a short read, an I/O error).
    #[error("layer entry {path:?}: reading its content: {source}")]
    ReadContent {
        path: String,
        #[source]
        source: io::Error,
    },

    /// The tar structure itself is broken: a bad checksum, a partial header, an unexpected end of stream.
    #[error("layer tar is corrupt or truncated {}: {source}", position(*entries, last_entry.as_deref()))]
    Corrupt {
        /// Entries read successfully before the failure.
        entries: u64,
        last_entry: Option<String>,
        #[source]
        source: io::Error,
    },

    /// The stream ended cleanly between two entries but without the end-of-archive blocks, which is what a
    /// tar cut off at an entry boundary looks like.
    #[error("layer tar ends without an end-of-archive marker {} (truncated?)", position(*entries, last_entry.as_deref()))]
    MissingEndOfArchive {
        entries: u64,
        last_entry: Option<String>,
    },

    /// The directory to apply onto is unusable.
    #[error("layer root {}: {source}", root.display())]
    Root {
        root: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A parent of the entry exists in the target tree but is not a directory.
    #[error("layer entry {path:?}: {} exists and is not a directory", component.display())]
    NotADirectory { path: String, component: PathBuf },

    /// Resolving the entry's parents inside the root went through too many symlinks.
    #[error("layer entry {path:?}: too many levels of symbolic links")]
    SymlinkLoop { path: String },

    /// A hardlink whose target does not exist in the tree (or is a directory, which cannot be linked).
    #[error("layer entry {path:?}: hardlink target {target:?} {reason}")]
    BadHardlinkTarget {
        path: String,
        target: String,
        reason: &'static str,
    },

    /// A filesystem operation failed while applying the entry.
    #[error("layer entry {path:?}: {operation} {}: {source}", target.display())]
    Apply {
        path: String,
        operation: &'static str,
        target: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn position(entries: u64, last_entry: Option<&str>) -> String {
    match last_entry {
        Some(last) => format!("after {entries} entries (the last one {last:?})"),
        None => format!("after {entries} entries"),
    }
}
