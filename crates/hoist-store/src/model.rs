//! The records the metadata database stores and returns: images, their layers, listings and reports.
//!
//! Plain data with public fields. The operations layer builds [`ImageRecord`]s from manifests and configs
//! and gives them Docker meaning; the store only keeps them consistent.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use hoist_spec::Digest;

/// One stored image, keyed by its ID (the digest of its config blob, as in Docker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    /// The config digest, which is the image ID.
    pub id: Digest,
    /// A manifest blob describing the stored layers (the one kept for push and save).
    pub manifest: Digest,
    pub manifest_media_type: String,
    pub config_size: u64,
    /// Creation time from the config, in Unix nanoseconds; `None` if the config has none.
    pub created: Option<i64>,
    /// The local parent image (Docker's build parent), if any.
    pub parent: Option<Digest>,
    /// Sum of the uncompressed sizes of the layers.
    pub size: u64,
    /// Labels from the config.
    pub labels: BTreeMap<String, String>,
    /// Layers, base layer first.
    pub layers: Vec<LayerRecord>,
    /// When the image was first stored, in Unix nanoseconds. Kept from the first `put_image`.
    pub loaded_at: i64,
    /// When a tag was last pointed at this image, in Unix nanoseconds. Maintained by `set_tag`.
    pub last_tag_time: Option<i64>,
}

/// One layer as stored: a compressed blob and the uncompressed content it expands to.
///
/// Layers are shared: a layer row is keyed by `(diff_id, blob)` and referenced by every image that has it.
/// When images disagree on the media type of the same bytes, the first one stored is kept; the manifest
/// blob of each image stays authoritative for its own media types.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LayerRecord {
    /// Digest of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    pub diff_id: Digest,
    /// Digest of the stored (usually compressed) blob.
    pub blob: Digest,
    pub media_type: String,
    pub blob_size: u64,
    /// Uncompressed size.
    pub size: u64,
}

/// A repository digest: the manifest digest an image was pulled or pushed by, in one repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoDigest {
    /// A normalised repository name, e.g. `docker.io/library/nginx`.
    pub repository: String,
    pub manifest: Digest,
}

/// What `images` and `system df` need about one image, read in a handful of queries for all images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageListing {
    pub id: Digest,
    pub manifest: Digest,
    pub created: Option<i64>,
    pub size: u64,
    pub parent: Option<Digest>,
    pub labels: BTreeMap<String, String>,
    /// Normalised tag names pointing at this image, sorted.
    pub tags: Vec<String>,
    /// Sorted by repository, then manifest digest.
    pub repo_digests: Vec<RepoDigest>,
    /// Layers, base first. Shared between listings of images that have the same layer.
    pub layers: Vec<Arc<LayerRecord>>,
    pub loaded_at: i64,
    pub last_tag_time: Option<i64>,
}

/// A layer and the number of distinct images that use it (for shared and unique sizes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerUsage {
    pub layer: LayerRecord,
    pub images: u64,
}

/// Row counts of the metadata tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub images: u64,
    pub tags: u64,
    pub repo_digests: u64,
    pub layers: u64,
    pub pins: u64,
}

/// A blob that garbage collection removed (or, in a dry run, would remove).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedBlob {
    pub digest: Digest,
    pub size: u64,
}

/// What one garbage collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// True if nothing was deleted and the report says what would have been.
    pub dry_run: bool,
    /// Unreferenced blobs, sorted by digest.
    pub removed: Vec<RemovedBlob>,
    /// Temporary files left in `ingest/` by interrupted writers.
    pub temp_files_removed: u64,
    /// Bytes freed: the removed blobs plus the temporary files.
    pub reclaimed: u64,
    /// Unpacked layers (`snapshots/layers/<chain-id>`) that no image uses and no container snapshot
    /// lists. Their bytes are not counted in `reclaimed`.
    pub layer_snapshots_removed: u64,
}

/// Who references a blob, as reported by [`crate::Store::check`] when the blob is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobReference {
    Config { image: Digest },
    Manifest { image: Digest },
    Layer { image: Digest, diff_id: Digest },
    Pin { owner: String },
}

/// A blob that metadata references but that is not on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingBlob {
    pub digest: Digest,
    pub referenced_by: BlobReference,
}

/// A blob file whose content does not hash to its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptBlob {
    pub path: PathBuf,
    /// The digest the file is named after.
    pub expected: Digest,
    /// The digest of its content.
    pub found: Digest,
}

/// The outcome of [`crate::Store::check`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub blobs_checked: u64,
    pub bytes_checked: u64,
    pub corrupt: Vec<CorruptBlob>,
    pub missing: Vec<MissingBlob>,
    /// Entries under `blobs/sha256/` that are not named by a digest or are not regular files.
    pub unexpected_files: Vec<PathBuf>,
}

impl CheckReport {
    /// True if every blob matched its name and every referenced blob exists.
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.missing.is_empty() && self.unexpected_files.is_empty()
    }
}
