//! Fixtures made in code: stores in temporary directories, layer and image records, stored images.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use hoist_spec::Digest;
use hoist_store::{ImageRecord, LayerRecord, Store, WriteGuard};
use tempfile::TempDir;

pub(crate) type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// A store in a fresh temporary directory; keep the `TempDir` alive as long as the store.
pub(crate) fn new_store() -> TestResult<(TempDir, Store)> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    Ok((dir, store))
}

/// Names of the files currently in `root/ingest`.
pub(crate) fn ingest_files(root: &Path) -> TestResult<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(root.join("ingest"))? {
        files.push(entry?.path());
    }
    Ok(files)
}

/// A digest whose hex starts with `prefix` (the rest zeros): for prefix tests without real blobs.
pub(crate) fn digest_with_prefix(prefix: &str) -> Digest {
    let hex = format!("{prefix:0<64}");
    match Digest::from_hex(&hex) {
        Ok(digest) => digest,
        Err(e) => panic!("test prefix {prefix:?} is not hex: {e}"),
    }
}

/// A layer record whose digests are derived from `name`, without any blob on disk.
pub(crate) fn layer(name: &str, size: u64) -> LayerRecord {
    LayerRecord {
        diff_id: Digest::of(format!("diff {name}").as_bytes()),
        blob: Digest::of(format!("blob {name}").as_bytes()),
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".to_owned(),
        blob_size: size / 2,
        size,
    }
}

/// An image record with the given ID and layers, and no blobs on disk.
pub(crate) fn record(id: Digest, layers: Vec<LayerRecord>) -> ImageRecord {
    let size = layers.iter().map(|l| l.size).sum();
    ImageRecord {
        manifest: Digest::of(format!("manifest of {id}").as_bytes()),
        id,
        manifest_media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
        config_size: 123,
        created: Some(1_700_000_000_000_000_000),
        parent: None,
        size,
        labels: BTreeMap::new(),
        layers,
        loaded_at: 1_700_000_000_000_000_001,
        last_tag_time: None,
    }
}

/// Writes real config, manifest and layer blobs for an image named `name` whose layers have the given
/// contents, stores the image under `guard`, and returns its record.
pub(crate) fn store_image(
    store: &Store,
    guard: &WriteGuard,
    name: &str,
    layer_contents: &[&[u8]],
) -> TestResult<ImageRecord> {
    let mut layers = Vec::new();
    for content in layer_contents {
        let blob = store.put_blob(content)?;
        layers.push(LayerRecord {
            // Pretend the stored bytes are uncompressed: the store does not care which they are.
            diff_id: blob.clone(),
            blob,
            media_type: "application/vnd.oci.image.layer.v1.tar".to_owned(),
            blob_size: content.len() as u64,
            size: content.len() as u64,
        });
    }
    let config = format!("{{\"name\":\"{name}\"}}");
    let id = store.put_blob(config.as_bytes())?;
    let manifest = store.put_blob(format!("{{\"config\":\"{id}\"}}").as_bytes())?;
    let mut image = record(id, layers);
    image.manifest = manifest;
    image.config_size = config.len() as u64;
    store.put_image(guard, &image)?;
    Ok(image)
}
