//! The store's error type: every variant carries the evidence (paths, digests, sizes) a user needs.

use std::io;
use std::path::PathBuf;

use hoist_spec::Digest;

/// Why a store operation failed.
///
/// Sources are kept in the error chain rather than repeated in the message, so `{:#}` (anyhow) or a
/// walk over [`std::error::Error::source`] shows each cause once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A filesystem operation on `path` failed.
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The metadata database reported an error.
    #[error("store metadata database error")]
    Sqlite(#[from] rusqlite::Error),
    /// Ingested bytes hash to `found`, not to the digest the caller expected.
    #[error("digest mismatch: expected {expected}, content hashes to {found}")]
    DigestMismatch { expected: Digest, found: Digest },
    /// Ingested content has `found` bytes where the caller expected `expected`.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {found}")]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        found: u64,
    },
    /// No blob with this digest is stored.
    #[error("blob {digest} is not in the store (looked for {path})")]
    BlobNotFound { digest: Digest, path: PathBuf },
    /// A stored blob's content no longer matches its name (disk corruption or tampering).
    #[error("blob {path} is corrupt: named {expected} but its content hashes to {found}")]
    CorruptBlob {
        path: PathBuf,
        expected: Digest,
        found: Digest,
    },
    /// No image with this ID is stored.
    #[error("image {id} is not in the store")]
    ImageNotFound { id: Digest },
    /// The database was written by a newer hoist (or is damaged) and this build cannot read it safely.
    #[error(
        "database {path} has schema version {found}; this hoist understands versions 0 to {supported}"
    )]
    UnsupportedSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// Another container already has this name.
    #[error(
        "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    )]
    ContainerNameInUse { name: String, id: String },
    /// No container with this ID is stored.
    #[error("No such container: {id}")]
    ContainerNotFound { id: String },
    /// A [`crate::WriteGuard`] taken on one store was passed to another.
    #[error("write guard belongs to the store at {guard_root}, not {store_root}")]
    ForeignGuard {
        guard_root: PathBuf,
        store_root: PathBuf,
    },
}

/// Shorthand for results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Attaches the action and path to an `io::Error`.
pub(crate) fn io_error(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> StoreError {
    move |source| StoreError::Io {
        action,
        path: path.into(),
        source,
    }
}
