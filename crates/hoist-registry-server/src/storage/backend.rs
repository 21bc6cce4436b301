//! The storage backend trait: the few object operations the registry needs, with typed errors and
//! path validation shared by every backend.

use std::future::Future;
use std::path::PathBuf;
use std::time::SystemTime;

use tokio::io::AsyncRead;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage object {path:?} not found")]
    NotFound { path: String },
    #[error("invalid storage path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("range {offset}+{len} is outside object {path:?} of {size} bytes")]
    InvalidRange {
        path: String,
        offset: u64,
        len: u64,
        size: u64,
    },
    #[error("storage I/O on {path:?}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A byte range `offset..offset + len` of an object, as HTTP Range asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub offset: u64,
    pub len: u64,
}

/// What `stat` reports about an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub modified: SystemTime,
}

/// Object storage addressed by `/`-separated relative keys (`blobs/sha256/ab/abcd…/data`).
///
/// Writes through [`put`](Self::put) and [`put_reader`](Self::put_reader) become visible atomically:
/// a reader sees the old object or the new one, never part of either. [`append`](Self::append) is for
/// private upload files only and promises no such thing. Keys are checked with [`validate_path`]; an
/// invalid key is [`StorageError::InvalidPath`].
pub trait StorageBackend: Send + Sync + 'static {
    /// A stream over an object's bytes (or a range of them).
    type Reader: AsyncRead + Send + Unpin + 'static;

    /// The whole object.
    fn get(&self, path: &str) -> impl Future<Output = Result<Vec<u8>, StorageError>> + Send;

    /// Several whole objects, each with its own outcome, in the order asked. Backends that pay per call
    /// (a thread hop, a network round trip) fetch them together; the default asks one at a time.
    fn get_many(
        &self,
        paths: &[&str],
    ) -> impl Future<Output = Vec<Result<Vec<u8>, StorageError>>> + Send {
        async move {
            let mut results = Vec::with_capacity(paths.len());
            for path in paths {
                results.push(self.get(path).await);
            }
            results
        }
    }

    /// A stream over the object, or over `range` of it; a range reaching past the end is
    /// [`StorageError::InvalidRange`].
    fn reader(
        &self,
        path: &str,
        range: Option<ByteRange>,
    ) -> impl Future<Output = Result<Self::Reader, StorageError>> + Send;

    /// Writes `bytes` as the object, replacing any previous one atomically.
    fn put(
        &self,
        path: &str,
        bytes: &[u8],
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Writes everything `source` yields as the object, replacing any previous one atomically; returns
    /// the number of bytes written.
    fn put_reader<R: AsyncRead + Send + Unpin>(
        &self,
        path: &str,
        source: R,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// Appends everything `source` yields to the object, creating it when missing; returns the object's
    /// new size. Not atomic: meant for upload files nobody else reads.
    fn append<R: AsyncRead + Send + Unpin>(
        &self,
        path: &str,
        source: R,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// Size and modification time of an object.
    fn stat(&self, path: &str) -> impl Future<Output = Result<ObjectInfo, StorageError>> + Send;

    /// Names of the direct children of `prefix` (objects and sub-prefixes), sorted; the empty string
    /// lists the root. A missing prefix is [`StorageError::NotFound`].
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StorageError>> + Send;

    /// Deletes one object.
    fn delete(&self, path: &str) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Deletes a prefix and everything under it.
    fn delete_prefix(&self, prefix: &str) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Moves an object to `to`, replacing any object there atomically.
    fn rename(&self, from: &str, to: &str)
    -> impl Future<Output = Result<(), StorageError>> + Send;
}

/// Checks a storage key: relative, `/`-separated, no empty, `.` or `..` components, no NUL or
/// backslash. The empty key is the root and is only valid where a prefix is expected.
pub fn validate_path(path: &str) -> Result<(), StorageError> {
    let invalid = |reason| {
        Err(StorageError::InvalidPath {
            path: path.to_owned(),
            reason,
        })
    };
    if path.is_empty() {
        return invalid("empty path");
    }
    if path.starts_with('/') {
        return invalid("absolute path");
    }
    if path.contains(['\0', '\\']) {
        return invalid("NUL or backslash in path");
    }
    for component in path.split('/') {
        match component {
            "" => return invalid("empty path component"),
            "." | ".." => return invalid("dot component"),
            _ => {}
        }
    }
    Ok(())
}
