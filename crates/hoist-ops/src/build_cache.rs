//! `--cache-to/--cache-from type=registry,ref=REF`: a build cache directory (what `hoist-build` exports for
//! `type=local`) moved to and from a registry as an OCI artifact: one manifest whose config is the
//! records file and whose layers are the cached layer blobs. BuildKit's own cache manifests are not read.

use std::path::Path;
use std::sync::Arc;

use futures_util::StreamExt;
use hoist_registry_client::ManifestRef;
use hoist_spec::{Descriptor, Digest, Reference, media_type};
use std::io::Write;

use crate::{Hoist, OpsError};

/// The config media type of hoist's cache artifact.
pub const CACHE_CONFIG_TYPE: &str = "application/vnd.hoist.build-cache.config.v1+json";

fn reference_of(name: &str) -> Result<Reference, OpsError> {
    let parsed = Reference::parse_normalized(name)
        .map_err(|e| OpsError::InvalidReference(format!("cache ref {name:?}: {e}")))?;
    Ok(parsed.with_default_tag())
}

/// The current-thread runtime the build's registry work (pulls, pushes, copies) blocks on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, OpsError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| OpsError::Input {
            source_name: "async runtime".to_owned(),
            error,
        })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OpsError + '_ {
    move |error| OpsError::Input {
        source_name: path.display().to_string(),
        error,
    }
}

/// Pushes the cache directory `dir` to `name`; returns the artifact's manifest digest.
pub fn push(hoist: &Hoist, dir: &Path, name: &str) -> Result<Digest, OpsError> {
    let reference = reference_of(name)?;
    let client = crate::registry::client(&hoist.settings)?;
    let repository = client.repository_of(&reference);
    let records_path = dir.join(hoist_build::cache_io::RECORDS_FILE);
    let records = std::fs::read(&records_path).map_err(io(&records_path))?;
    let config = Descriptor::new(
        CACHE_CONFIG_TYPE,
        Digest::of(&records),
        records.len() as u64,
    );
    let blobs_dir = dir.join("blobs").join("sha256");
    let mut layers = Vec::new();
    for entry in std::fs::read_dir(&blobs_dir).map_err(io(&blobs_dir))? {
        let entry = entry.map_err(io(&blobs_dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(digest) = Digest::from_hex(&name) else {
            continue;
        };
        let size = entry.metadata().map_err(io(&entry.path()))?.len();
        layers.push((
            entry.path(),
            Descriptor::new(media_type::OCI_LAYER, digest, size),
        ));
    }
    layers.sort_by(|a, b| a.1.digest.cmp(&b.1.digest));
    let events: crate::push::PushEvents = Arc::new(|_| {});
    let runtime = runtime()?;
    runtime.block_on(async {
        for (path, descriptor) in &layers {
            crate::push::push_blob(path, &repository, descriptor, None, None, None, &events)
                .await?;
        }
        crate::push::push_blob(
            &records_path,
            &repository,
            &config,
            None,
            None,
            None,
            &events,
        )
        .await?;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "artifactType": CACHE_CONFIG_TYPE,
            "config": config,
            "layers": layers.iter().map(|(_, d)| d).collect::<Vec<_>>(),
        });
        let bytes =
            serde_json::to_vec(&manifest).map_err(|e| OpsError::BadManifest(e.to_string()))?;
        let tag = ManifestRef::Tag(reference.tag().unwrap_or("latest").to_owned());
        Ok(repository
            .put_manifest(&tag, media_type::OCI_MANIFEST, &bytes)
            .await?)
    })
}

/// What `--cache-from REF` found at the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// hoist's cache artifact, now in the directory.
    Directory,
    /// An image: its inline cache (if any) comes with a pull.
    Image,
    /// Nothing under that reference (a first build; BuildKit goes on too).
    Missing,
}

/// Fetches the cache artifact `name` into the directory `dir` (records and verified blobs).
pub fn fetch(hoist: &Hoist, name: &str, dir: &Path) -> Result<Fetched, OpsError> {
    let reference = reference_of(name)?;
    let client = crate::registry::client(&hoist.settings)?;
    let repository = client.repository_of(&reference);
    let runtime = runtime()?;
    runtime.block_on(async {
        let tag = ManifestRef::Tag(reference.tag().unwrap_or("latest").to_owned());
        let manifest = match repository.get_manifest(&tag, &[]).await {
            Ok(m) => m,
            Err(e) if e.is_not_found() => return Ok(Fetched::Missing),
            Err(e) => return Err(e.into()),
        };
        let doc: serde_json::Value = serde_json::from_slice(&manifest.bytes)
            .map_err(|e| OpsError::BadManifest(e.to_string()))?;
        // An image (or an index of images): an inline cache comes with a pull.
        if doc["config"]["mediaType"] != CACHE_CONFIG_TYPE {
            return Ok(Fetched::Image);
        }
        let blobs_dir = dir.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs_dir).map_err(io(&blobs_dir))?;
        let mut wanted = vec![(
            doc["config"].clone(),
            dir.join(hoist_build::cache_io::RECORDS_FILE),
        )];
        for layer in doc["layers"].as_array().into_iter().flatten() {
            let digest = layer["digest"].as_str().unwrap_or_default();
            let hex = digest.strip_prefix("sha256:").unwrap_or(digest).to_owned();
            wanted.push((layer.clone(), blobs_dir.join(hex)));
        }
        for (descriptor, path) in wanted {
            let digest: Digest = descriptor["digest"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .map_err(|e| OpsError::BadManifest(format!("{name}: {e}")))?;
            let mut stream = repository.get_blob(&digest, 0).await?;
            let mut file = std::fs::File::create(&path).map_err(io(&path))?;
            let mut hasher = hoist_spec::Hasher::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                hasher.update(&chunk);
                file.write_all(&chunk).map_err(io(&path))?;
            }
            file.flush().map_err(io(&path))?;
            let found = hasher.finish();
            if found != digest {
                return Err(OpsError::DigestMismatch {
                    what: format!("build cache blob from {name}"),
                    expected: digest,
                    found,
                });
            }
        }
        Ok(Fetched::Directory)
    })
}
