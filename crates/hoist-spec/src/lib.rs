//! hoist's image vocabulary: references, digests, descriptors, manifests, image configs and platforms.
//!
//! Pure data and parsing: this crate does no I/O and knows nothing of tokio (ARCHITECTURE.md, invariant 1).
//! Every parsed document keeps its raw bytes, because digests are computed over bytes, never re-serialised structs.

pub mod config;
pub mod descriptor;
pub mod digest;
pub mod manifest;
pub mod media_type;
pub mod platform;
pub mod reference;

pub use config::{ContainerConfig, History, ImageConfig, RawConfig, RootFs};
pub use descriptor::Descriptor;
pub use digest::{Digest, DigestError, Hasher};
pub use manifest::{ImageIndex, ImageManifest, Manifest, RawManifest};
pub use platform::Platform;
pub use reference::{Reference, ReferenceError};
