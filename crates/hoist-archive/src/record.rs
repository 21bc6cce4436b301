//! Building the store's records for an image: the synthesized manifest of a docker-archive image and the
//! `ImageRecord` that indexes an image's config, manifest and layers.

use hoist_spec::{Descriptor, ImageManifest, RawConfig, RawManifest, media_type};
use hoist_store::{ImageRecord, LayerRecord};

/// An OCI manifest for layers that arrived without one (docker-archive, import, commit).
pub fn synthesize_manifest<'a>(
    config: &RawConfig,
    layers: impl Iterator<Item = &'a LayerRecord>,
) -> RawManifest {
    synthesize_annotated_manifest(config, layers, Default::default())
}

/// [`synthesize_manifest`] with annotations (`build --annotation`).
pub fn synthesize_annotated_manifest<'a>(
    config: &RawConfig,
    layers: impl Iterator<Item = &'a LayerRecord>,
    annotations: std::collections::BTreeMap<String, String>,
) -> RawManifest {
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config: Descriptor::new(
            media_type::OCI_CONFIG,
            config.digest.clone(),
            config.bytes.len() as u64,
        ),
        layers: layers
            .map(|l| Descriptor::new(l.media_type.clone(), l.blob.clone(), l.blob_size))
            .collect(),
        subject: None,
        annotations,
    };
    RawManifest::from_image(manifest, media_type::OCI_MANIFEST)
}

/// The record the store keeps for an image. `now` is the load time in Unix nanoseconds.
pub fn image_record(
    config: &RawConfig,
    manifest: &RawManifest,
    layers: Vec<LayerRecord>,
    now: i64,
) -> ImageRecord {
    ImageRecord {
        id: config.digest.clone(),
        manifest: manifest.digest.clone(),
        manifest_media_type: manifest.media_type.clone(),
        config_size: config.bytes.len() as u64,
        created: config
            .config
            .created
            .as_deref()
            .and_then(parse_rfc3339_nanos),
        parent: None,
        size: layers.iter().map(|l| l.size).sum(),
        labels: config.config.labels(),
        layers,
        loaded_at: now,
        last_tag_time: None,
    }
}

/// Unix nanoseconds of an RFC 3339 timestamp, as image configs write `created`.
pub fn parse_rfc3339_nanos(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
}
