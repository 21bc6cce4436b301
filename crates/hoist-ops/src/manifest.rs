//! `manifest inspect`: a manifest or manifest list straight from the registry, without pulling, as the
//! Docker CLI prints it (the registry's bytes re-indented, or with `--verbose` the descriptor, platform
//! and raw bytes of every image).

use base64::Engine;
use hoist_registry_client::{FetchedManifest, ManifestRef, RegistryClient, Repository};
use hoist_spec::{Descriptor, Manifest, Platform, RawConfig, RawManifest, Reference, media_type};
use serde_json::{Map, Value, json};

use crate::OpsError;

/// What `manifest inspect NAME` prints: the registry's JSON re-indented with tabs, or with `verbose`
/// Docker's object (an array of them for a list).
pub async fn inspect(
    client: &RegistryClient,
    name: &str,
    verbose: bool,
) -> Result<String, OpsError> {
    let reference = Reference::parse_normalized(name)
        .map_err(|e| OpsError::InvalidReference(e.to_string()))?
        .with_default_tag();
    let repository = client.repository_of(&reference);
    let top = fetch(&repository, &reference, ManifestRef::of(&reference)).await?;
    let raw = RawManifest::parse(top.bytes.clone(), Some(&top.media_type))
        .map_err(|e| OpsError::BadManifest(e.to_string()))?;
    if !verbose {
        return Ok(match &raw.manifest {
            Manifest::Image(_) => hoist_render::json::indent_json(&top.bytes, "\t"),
            // The Docker CLI rebuilds a list from its entries (distribution's manifestlist type):
            // three-space indentation, its own key order, annotations dropped.
            Manifest::Index(index) => list_as_docker_prints_it(&raw.media_type, index),
        });
    }
    let value = match &raw.manifest {
        Manifest::Image(image) => {
            let config = fetch_config(&repository, &image.config).await?;
            let c = &config.config;
            let platform = Platform::new(&c.os, &c.architecture, c.variant.as_deref());
            let mut descriptor = raw.descriptor();
            descriptor.platform = Some(platform);
            verbose_entry(&reference.to_string(), &descriptor, &raw)?
        }
        Manifest::Index(index) => {
            let mut entries = Vec::new();
            for child in &index.manifests {
                if media_type::kind(&child.media_type) != media_type::Kind::Manifest {
                    continue;
                }
                let fetched = fetch(&repository, &reference, child.digest.clone().into()).await?;
                let child_raw = RawManifest::parse(fetched.bytes, Some(&fetched.media_type))
                    .map_err(|e| OpsError::BadManifest(e.to_string()))?;
                let shown = format!("{reference}@{}", child.digest);
                // Docker's descriptor type has no annotations.
                let mut descriptor = child.clone();
                descriptor.annotations.clear();
                entries.push(verbose_entry(&shown, &descriptor, &child_raw)?);
            }
            Value::Array(entries)
        }
    };
    Ok(go_indent(&value))
}

async fn fetch(
    repository: &Repository,
    reference: &Reference,
    which: ManifestRef,
) -> Result<FetchedManifest, OpsError> {
    match repository.get_manifest(&which, &[]).await {
        Ok(fetched) => Ok(fetched),
        Err(e) if e.is_not_found() => {
            Err(OpsError::NotFound(format!("no such manifest: {reference}")))
        }
        Err(e) => Err(e.into()),
    }
}

async fn fetch_config(repository: &Repository, config: &Descriptor) -> Result<RawConfig, OpsError> {
    let mut bytes = Vec::new();
    repository
        .download_blob(&config.digest, config.size, 0, |chunk| {
            bytes.extend_from_slice(chunk);
            Ok(())
        })
        .await?;
    RawConfig::parse(bytes).map_err(|e| OpsError::BadManifest(e.to_string()))
}

/// A manifest list the way `docker manifest inspect` prints it.
fn list_as_docker_prints_it(list_media_type: &str, index: &hoist_spec::ImageIndex) -> String {
    let manifests: Vec<Value> = index
        .manifests
        .iter()
        .map(|d| {
            let mut entry = Map::new();
            entry.insert("mediaType".into(), json!(d.media_type));
            entry.insert("size".into(), json!(d.size));
            entry.insert("digest".into(), json!(d.digest.to_string()));
            if let Some(p) = &d.platform {
                let mut platform = Map::new();
                platform.insert("architecture".into(), json!(p.architecture));
                platform.insert("os".into(), json!(p.os));
                if let Some(version) = &p.os_version {
                    platform.insert("os.version".into(), json!(version));
                }
                if !p.os_features.is_empty() {
                    platform.insert("os.features".into(), json!(p.os_features));
                }
                if let Some(variant) = &p.variant {
                    platform.insert("variant".into(), json!(variant));
                }
                entry.insert("platform".into(), Value::Object(platform));
            }
            Value::Object(entry)
        })
        .collect();
    let list = json!({
        "schemaVersion": index.schema_version,
        "mediaType": list_media_type,
        "manifests": manifests,
    });
    let compact = serde_json::to_vec(&list).unwrap_or_default();
    hoist_render::json::indent_json(&compact, "   ")
}

/// Docker's verbose object for one image manifest.
fn verbose_entry(
    shown: &str,
    descriptor: &Descriptor,
    raw: &RawManifest,
) -> Result<Value, OpsError> {
    let parsed: Value =
        serde_json::from_slice(&raw.bytes).map_err(|e| OpsError::BadManifest(e.to_string()))?;
    let mut entry = Map::new();
    entry.insert("Ref".into(), json!(shown));
    entry.insert(
        "Descriptor".into(),
        serde_json::to_value(descriptor).map_err(|e| OpsError::BadManifest(e.to_string()))?,
    );
    entry.insert(
        "Raw".into(),
        json!(base64::engine::general_purpose::STANDARD.encode(&raw.bytes)),
    );
    let key = if media_type::is_docker(&raw.media_type) {
        "SchemaV2Manifest"
    } else {
        "OCIManifest"
    };
    entry.insert(key.into(), parsed);
    Ok(Value::Object(entry))
}

/// Go's `json.MarshalIndent(v, "", "\t")`.
fn go_indent(value: &Value) -> String {
    let compact = serde_json::to_vec(value).unwrap_or_default();
    hoist_render::json::indent_json(&compact, "\t")
}
