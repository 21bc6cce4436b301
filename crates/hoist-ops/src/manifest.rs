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
    if !verbose {
        return Ok(hoist_render::json::indent_json(&top.bytes, "\t"));
    }
    let raw = RawManifest::parse(top.bytes.clone(), Some(&top.media_type))
        .map_err(|e| OpsError::BadManifest(e.to_string()))?;
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
                let shown = format!("{}@{}", reference.repository(), child.digest);
                entries.push(verbose_entry(&shown, child, &child_raw)?);
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
