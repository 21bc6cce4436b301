//! Image manifests and indexes (OCI and Docker schema 2), parsed from bytes that are kept beside the value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::descriptor::Descriptor;
use crate::digest::Digest;
use crate::media_type::{self, Kind};

/// A single-platform image manifest: OCI image manifest or Docker schema 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A multi-platform index: OCI image index or Docker manifest list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Either kind of manifest document.
#[expect(
    clippy::large_enum_variant,
    reason = "manifests are few and short-lived; boxing buys nothing"
)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    Image(ImageManifest),
    Index(ImageIndex),
}

/// A manifest with the exact bytes it was parsed from, their digest and its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    pub manifest: Manifest,
    pub media_type: String,
    pub digest: Digest,
    pub bytes: Vec<u8>,
}

/// Why bytes are not a manifest hoist can use.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("malformed manifest {digest}: {source}")]
    Json {
        digest: Digest,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "manifest {digest} is Docker image manifest schema 1 ({media_type}), which is deprecated and not supported; \
         re-push the image with a current client"
    )]
    SchemaV1 { digest: Digest, media_type: String },
    #[error("manifest {digest} has unsupported media type {media_type:?}")]
    UnsupportedMediaType { digest: Digest, media_type: String },
    #[error("manifest {digest} has unsupported schemaVersion {version}")]
    SchemaVersion { digest: Digest, version: u64 },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<u64>,
    media_type: Option<String>,
    manifests: Option<serde_json::Value>,
    config: Option<serde_json::Value>,
}

impl RawManifest {
    /// Parses manifest bytes. `content_type` is what the transport said (a registry's Content-Type, a
    /// descriptor's mediaType); the document's own `mediaType` wins when present.
    pub fn parse(bytes: Vec<u8>, content_type: Option<&str>) -> Result<Self, ManifestError> {
        let digest = Digest::of(&bytes);
        let probe: Probe =
            serde_json::from_slice(&bytes).map_err(|source| ManifestError::Json {
                digest: digest.clone(),
                source,
            })?;
        let declared = probe
            .media_type
            .clone()
            .or_else(|| content_type.map(str::to_owned));
        if probe.schema_version == Some(1)
            || matches!(
                declared.as_deref(),
                Some(media_type::DOCKER_MANIFEST_V1 | media_type::DOCKER_MANIFEST_V1_SIGNED)
            )
        {
            return Err(ManifestError::SchemaV1 {
                digest,
                media_type: declared
                    .unwrap_or_else(|| media_type::DOCKER_MANIFEST_V1_SIGNED.to_owned()),
            });
        }
        if let Some(version) = probe.schema_version
            && version != 2
        {
            return Err(ManifestError::SchemaVersion { digest, version });
        }
        let media_type = match declared {
            Some(mt) if mt != "application/json" && mt != "application/octet-stream" => mt,
            // OCI allows mediaType to be absent: decide by shape.
            _ if probe.manifests.is_some() => media_type::OCI_INDEX.to_owned(),
            _ if probe.config.is_some() => media_type::OCI_MANIFEST.to_owned(),
            other => {
                return Err(ManifestError::UnsupportedMediaType {
                    digest,
                    media_type: other.unwrap_or_default(),
                });
            }
        };
        let json_err = |source| ManifestError::Json {
            digest: digest.clone(),
            source,
        };
        let manifest = match media_type::kind(&media_type) {
            Kind::Manifest => Manifest::Image(serde_json::from_slice(&bytes).map_err(json_err)?),
            Kind::Index => Manifest::Index(serde_json::from_slice(&bytes).map_err(json_err)?),
            _ => return Err(ManifestError::UnsupportedMediaType { digest, media_type }),
        };
        Ok(Self {
            manifest,
            media_type,
            digest,
            bytes,
        })
    }

    /// Serialises a manifest hoist writes itself, and keeps those bytes.
    pub fn from_image(manifest: ImageManifest, media_type: &str) -> Self {
        let bytes = to_json_bytes(&manifest);
        Self {
            digest: Digest::of(&bytes),
            manifest: Manifest::Image(manifest),
            media_type: media_type.to_owned(),
            bytes,
        }
    }

    /// Serialises an index hoist writes itself, and keeps those bytes.
    pub fn from_index(index: ImageIndex, media_type: &str) -> Self {
        let bytes = to_json_bytes(&index);
        Self {
            digest: Digest::of(&bytes),
            manifest: Manifest::Index(index),
            media_type: media_type.to_owned(),
            bytes,
        }
    }

    /// A descriptor pointing at these bytes.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            self.media_type.clone(),
            self.digest.clone(),
            self.bytes.len() as u64,
        )
    }
}

/// JSON as hoist writes its own documents: compact, fields in declaration order.
pub fn to_json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs cannot fail: every key is a string and every value is JSON-representable.
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
        "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,
        "digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},
        "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,
        "digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}]}"#;

    #[test]
    fn keeps_bytes_and_digest() {
        let raw = RawManifest::parse(DOCKER.as_bytes().to_vec(), None).unwrap();
        assert_eq!(raw.digest, Digest::of(DOCKER.as_bytes()));
        assert_eq!(raw.media_type, media_type::DOCKER_MANIFEST);
        let Manifest::Image(m) = &raw.manifest else {
            panic!("not an image manifest")
        };
        assert_eq!(m.layers.len(), 1);
        assert_eq!(m.config.size, 7023);
    }

    #[test]
    fn detects_index_without_media_type() {
        let raw =
            RawManifest::parse(br#"{"schemaVersion":2,"manifests":[]}"#.to_vec(), None).unwrap();
        assert_eq!(raw.media_type, media_type::OCI_INDEX);
    }

    #[test]
    fn refuses_schema1_and_unknown() {
        let e = RawManifest::parse(
            br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#.to_vec(),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("schema 1"), "{e}");
        let e = RawManifest::parse(
            br#"{"schemaVersion":2,"mediaType":"text/plain"}"#.to_vec(),
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("unsupported media type \"text/plain\""),
            "{e}"
        );
        let e = RawManifest::parse(b"{not json".to_vec(), None).unwrap_err();
        assert!(
            e.to_string().starts_with("malformed manifest sha256:"),
            "{e}"
        );
    }
}
