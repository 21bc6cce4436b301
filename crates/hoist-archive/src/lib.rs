//! Image archives: `save` writes a docker-archive that also holds an OCI layout (Docker 25+'s format, which
//! Docker 20.10 loads too); `load` reads docker-archive (legacy and 25+), OCI layout tars and OCI archives,
//! gzip, zstd, xz or bzip2 compressed or not, streaming, into the store.

mod read;
pub mod record;
mod write;

use hoist_spec::Digest;

pub use read::{LoadEvent, LoadedImage, load};
pub use write::{SaveEvent, SaveImage, save};

/// Why an archive could not be loaded or saved. Each names the file, blob or digest concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    #[error("reading archive: {0}")]
    Read(#[source] std::io::Error),
    #[error("writing: {0}")]
    Write(#[source] std::io::Error),
    #[error("invalid tar archive: {0}")]
    Tar(#[source] std::io::Error),
    #[error("archive is truncated: it ends inside {entry:?}")]
    Truncated { entry: String },
    #[error(
        "invalid archive: it holds neither manifest.json (docker-archive) nor index.json (OCI layout)"
    )]
    NotAnArchive,
    #[error("archive holds no images")]
    Empty,
    #[error("archive entry {path:?} is missing")]
    MissingFile { path: String },
    #[error("archive lacks blob {digest}")]
    MissingBlob { digest: Digest },
    #[error("archive entry {path:?} is too large for a JSON document")]
    TooLarge { path: String },
    #[error("{path}: malformed JSON: {message}")]
    BadJson { path: String, message: String },
    #[error("invalid layer {path}: {problem}")]
    BadLayer { path: String, problem: String },
    #[error("invalid tag {tag:?} in archive: {message}")]
    BadTag { tag: String, message: String },
    #[error("{path}: digest mismatch: expected {expected}, content is {found}")]
    DigestMismatch {
        path: String,
        expected: Digest,
        found: Digest,
    },
    #[error("blob {digest}: size mismatch: expected {expected} bytes, found {found}")]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        found: u64,
    },
    #[error("blob {digest} has unknown media type {media_type:?}")]
    UnknownMediaType { digest: Digest, media_type: String },
    #[error(
        "invalid manifest, layers length mismatch: config {config} lists {expected} layers, archive has {found}"
    )]
    LayerCount {
        config: Digest,
        expected: usize,
        found: usize,
    },
    #[error("invalid diffID for layer {index} ({path}): expected {expected}, got {found}")]
    DiffIdMismatch {
        index: usize,
        path: String,
        expected: Digest,
        found: Digest,
    },
    #[error("image index {index} has no image for platform {platform}")]
    NoMatchingPlatform { index: Digest, platform: String },
    #[error(transparent)]
    Store(#[from] hoist_store::StoreError),
}

/// Now, in Unix nanoseconds.
pub(crate) fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}
