//! Registry storage: a narrow backend trait with its filesystem backend and conformance suite, and the
//! registry layout (blobs stored once, linked into repositories; uploads; manifests; garbage collection)
//! built over any backend.

mod backend;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod fs;
mod gc;
mod registry;

pub use backend::{ByteRange, ObjectInfo, StorageBackend, StorageError, validate_path};
pub use fs::FsBackend;
pub use gc::{GcOptions, GcReport};
pub use registry::{ManifestContent, ManifestReference, RegistryError, RegistryStorage, UploadId};

#[cfg(test)]
mod tests;
