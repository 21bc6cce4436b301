//! `pull`: an image from a registry into the store — a manifest list resolved to one platform, the
//! config, and the layers downloaded in parallel, each hashed, decompressed and vetted in the same pass
//! that writes it, resumed where an earlier attempt stopped.

use std::io::Write;
use std::sync::Arc;

use futures_util::StreamExt;
use hoist_layer::analyze::{LayerAnalyzer, LayerFacts};
use hoist_registry_client::{ManifestRef, RegistryClient, Repository};
use hoist_spec::{
    Descriptor, Digest, ImageManifest, Manifest, Platform, RawConfig, RawManifest, Reference,
    media_type,
};
use hoist_store::{LayerRecord, PendingBlob, Resumed};

use crate::{Hoist, OpsError, now_nanos};

/// What `pull` reports while it works, in the order Docker prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullEvent {
    /// `latest: Pulling from library/nginx`.
    PullingFrom { tag: String, repository: String },
    /// A layer's progress; `id` is the short hex of its blob digest, as Docker shows it.
    Layer { id: String, status: LayerStatus },
    /// `Digest: sha256:…` (the digest pulled by: the list's, for a multi-platform image).
    Digest(Digest),
    /// `Status: Downloaded newer image for nginx:latest` (or `Image is up to date for …`).
    Status(String),
}

/// One layer's state, with Docker's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerStatus {
    AlreadyExists,
    PullingFsLayer,
    Waiting,
    Downloading { current: u64, total: u64 },
    VerifyingChecksum,
    DownloadComplete,
    PullComplete,
}

impl LayerStatus {
    /// Docker's text for the status.
    pub fn text(&self) -> &'static str {
        match self {
            Self::AlreadyExists => "Already exists",
            Self::PullingFsLayer => "Pulling fs layer",
            Self::Waiting => "Waiting",
            Self::Downloading { .. } => "Downloading",
            Self::VerifyingChecksum => "Verifying Checksum",
            Self::DownloadComplete => "Download complete",
            Self::PullComplete => "Pull complete",
        }
    }
}

/// Where events go; called from the download tasks too.
pub type PullEvents = Arc<dyn Fn(PullEvent) + Send + Sync>;

/// `pull`'s flags.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// `--platform`; the host's when `None`.
    pub platform: Option<Platform>,
    /// `-a`: every tag of the repository.
    pub all_tags: bool,
}

/// One image `pull` stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledImage {
    /// The normalised reference pulled (`docker.io/library/nginx:latest`).
    pub reference: Reference,
    pub id: Digest,
    /// The digest the reference resolved to at the registry.
    pub manifest_digest: Digest,
    /// Whether the tag (or, for a digest pull, the image) is new or changed.
    pub updated: bool,
}

/// Pulls `name` (`nginx`, `nginx:1.25`, `host:5000/app@sha256:…`), or with `all_tags` every tag of
/// its repository. Returns what was stored.
pub async fn pull(
    hoist: &Hoist,
    client: &RegistryClient,
    name: &str,
    options: &PullOptions,
    events: &PullEvents,
) -> Result<Vec<PulledImage>, OpsError> {
    let parsed =
        Reference::parse_normalized(name).map_err(|e| OpsError::InvalidReference(e.to_string()))?;
    let repository = client.repository_of(&parsed);
    if options.all_tags {
        if parsed.tag().is_some() || parsed.digest().is_some() {
            return Err(OpsError::InvalidReference(
                "tag can't be used with --all-tags/-a".to_owned(),
            ));
        }
        let mut pulled = Vec::new();
        for tag in repository.tags(None).await? {
            let reference = parsed.with_tag(&tag);
            pulled.push(pull_one(hoist, &repository, &reference, options, events).await?);
        }
        // Docker reports the repository once, after every tag.
        let updated = pulled.iter().any(|p| p.updated);
        events(PullEvent::Status(status_line(
            updated,
            &parsed.familiar_repository(),
        )));
        return Ok(pulled);
    }
    let reference = parsed.with_default_tag();
    let image = pull_one(hoist, &repository, &reference, options, events).await?;
    events(PullEvent::Status(status_line(
        image.updated,
        &reference.familiar(),
    )));
    Ok(vec![image])
}

fn status_line(updated: bool, shown: &str) -> String {
    if updated {
        format!("Downloaded newer image for {shown}")
    } else {
        format!("Image is up to date for {shown}")
    }
}

/// The registry's words for an error, as Docker prints them: `manifest unknown: manifest unknown`.
fn registry_words(error: &hoist_registry_client::RegistryError) -> String {
    let code = error
        .code()
        .map(|c| c.to_ascii_lowercase().replace('_', " "));
    let message = match error {
        hoist_registry_client::RegistryError::Status(failure) => failure.message.clone(),
        hoist_registry_client::RegistryError::Unauthorized { message, .. } => Some(message.clone()),
        _ => None,
    };
    match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        (None, Some(message)) => message,
        (None, None) => error.to_string(),
    }
}

/// Docker's wording for a reference the registry does not have or will not show.
fn manifest_error(error: hoist_registry_client::RegistryError, reference: &Reference) -> OpsError {
    let words = registry_words(&error);
    match (error.status(), error.code()) {
        (_, Some("NAME_UNKNOWN")) => OpsError::NotFound(format!(
            "repository {} not found: {words}",
            reference.familiar_repository()
        )),
        (Some(401 | 403), _) | (_, Some("DENIED" | "UNAUTHORIZED")) => OpsError::NotFound(format!(
            "pull access denied for {}, repository does not exist or may require 'docker login': {words}",
            reference.familiar_repository()
        )),
        (Some(404), _) => OpsError::NotFound(format!(
            "manifest for {} not found: {words}",
            reference.familiar()
        )),
        _ => error.into(),
    }
}

/// The manifest of the platform wanted, from an index (Docker's error wording when none matches).
pub(crate) fn select_platform<'a>(
    index: &'a hoist_spec::ImageIndex,
    wanted: &Platform,
) -> Result<&'a Descriptor, OpsError> {
    index
        .manifests
        .iter()
        .filter(|d| media_type::kind(&d.media_type) == media_type::Kind::Manifest)
        .find(|d| d.platform.as_ref().is_some_and(|p| p.satisfies(wanted)))
        .ok_or_else(|| {
            OpsError::NotFound(format!(
                "no matching manifest for {wanted} in the manifest list entries"
            ))
        })
}

async fn pull_one(
    hoist: &Hoist,
    repository: &Repository,
    reference: &Reference,
    options: &PullOptions,
    events: &PullEvents,
) -> Result<PulledImage, OpsError> {
    let asked = ManifestRef::of(reference);
    let top = repository
        .get_manifest(&asked, &[])
        .await
        .map_err(|e| manifest_error(e, reference))?;
    events(PullEvent::PullingFrom {
        tag: asked.to_string(),
        repository: reference.path().to_owned(),
    });
    let top_digest = top.digest.clone();
    let top_raw = RawManifest::parse(top.bytes, Some(&top.media_type))
        .map_err(|e| OpsError::BadManifest(e.to_string()))?;
    let wanted = options
        .platform
        .clone()
        .unwrap_or_else(Platform::host)
        .normalized();
    let (image_raw, from_index) = match &top_raw.manifest {
        Manifest::Index(index) => {
            let chosen = select_platform(index, &wanted)?;
            let fetched = repository
                .get_manifest(&ManifestRef::Digest(chosen.digest.clone()), &[])
                .await?;
            let raw = RawManifest::parse(fetched.bytes, Some(&fetched.media_type))
                .map_err(|e| OpsError::BadManifest(e.to_string()))?;
            (raw, true)
        }
        Manifest::Image(_) => (top_raw, false),
    };
    let Manifest::Image(image) = &image_raw.manifest else {
        return Err(OpsError::BadManifest(format!(
            "{} points to a list of lists",
            reference
        )));
    };
    let config = fetch_config(repository, &image.config).await?;
    if !from_index && options.platform.is_some() {
        let actual = config_platform(&config);
        if !actual.satisfies(&wanted) {
            return Err(OpsError::NotFound(format!(
                "image with reference {} was found but does not match the specified platform: wanted {wanted}, actual: {actual}",
                reference.familiar()
            )));
        }
    }
    let diff_ids = config.config.rootfs.diff_ids.clone();
    if diff_ids.len() != image.layers.len() {
        return Err(OpsError::BadManifest(format!(
            "{}: the manifest lists {} layers but the config has {} diff IDs",
            reference,
            image.layers.len(),
            diff_ids.len()
        )));
    }

    let store = &hoist.store;
    let guard = store.write_guard()?;
    let id = config.digest.clone();
    if store.image(&id)?.is_none() {
        let layers = fetch_layers(hoist, repository, image, &diff_ids, events).await?;
        store.put_blob(&config.bytes)?;
        store.put_blob(&image_raw.bytes)?;
        let record = hoist_archive::record::image_record(&config, &image_raw, layers, now_nanos());
        store.put_image(&guard, &record)?;
    }
    let repository_name = reference.repository();
    store.add_repo_digest(&repository_name, &top_digest, &id)?;
    let updated = match reference.digest() {
        Some(_) => true,
        None => store.set_tag(&reference.to_string(), &id)? != Some(id.clone()),
    };
    drop(guard);
    events(PullEvent::Digest(top_digest.clone()));
    Ok(PulledImage {
        reference: reference.clone(),
        id,
        manifest_digest: top_digest,
        updated,
    })
}

/// The platform a config describes.
fn config_platform(config: &RawConfig) -> Platform {
    let c = &config.config;
    Platform::new(&c.os, &c.architecture, c.variant.as_deref()).normalized()
}

/// The config blob, verified.
async fn fetch_config(
    repository: &Repository,
    descriptor: &Descriptor,
) -> Result<RawConfig, OpsError> {
    const CONFIG_LIMIT: u64 = 8 << 20;
    if descriptor.size > CONFIG_LIMIT {
        return Err(OpsError::BadManifest(format!(
            "config {} is {} bytes, over the {CONFIG_LIMIT}-byte limit",
            descriptor.digest, descriptor.size
        )));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(descriptor.size).unwrap_or(0));
    repository
        .download_blob(&descriptor.digest, descriptor.size, 0, |chunk| {
            bytes.extend_from_slice(chunk);
            Ok(())
        })
        .await?;
    let found = Digest::of(&bytes);
    if found != descriptor.digest {
        return Err(OpsError::DigestMismatch {
            what: "config".to_owned(),
            expected: descriptor.digest.clone(),
            found,
        });
    }
    RawConfig::parse(bytes).map_err(|e| OpsError::BadManifest(e.to_string()))
}

/// One layer to download, and what the download produced.
struct Download {
    index: usize,
    descriptor: Descriptor,
    ingest: Option<hoist_store::Ingest>,
    analyzer: LayerAnalyzer,
}

struct Downloaded {
    index: usize,
    pending: Option<PendingBlob>,
    facts: LayerFacts,
}

/// Every layer of `image` in the store: found there already, or downloaded with at most
/// `max_concurrent_downloads` at a time. Returns the layer records in manifest order.
async fn fetch_layers(
    hoist: &Hoist,
    repository: &Repository,
    image: &ImageManifest,
    diff_ids: &[Digest],
    events: &PullEvents,
) -> Result<Vec<LayerRecord>, OpsError> {
    let store = &hoist.store;
    let mut records: Vec<Option<LayerRecord>> = vec![None; image.layers.len()];
    let mut downloads = Vec::new();
    for (index, descriptor) in image.layers.iter().enumerate() {
        let id = descriptor.digest.short().to_owned();
        if let Some(known) = store.layer_by_blob(&descriptor.digest)?
            && store.has_blob(&descriptor.digest)?
            && diff_ids.get(index) == Some(&known.diff_id)
        {
            events(PullEvent::Layer {
                id,
                status: LayerStatus::AlreadyExists,
            });
            records[index] = Some(known);
            continue;
        }
        events(PullEvent::Layer {
            id,
            status: LayerStatus::PullingFsLayer,
        });
        downloads.push(index);
    }
    let concurrency = hoist.settings.max_concurrent_downloads.max(1);
    let mut jobs = Vec::new();
    for (position, index) in downloads.iter().copied().enumerate() {
        let descriptor = image.layers[index].clone();
        if position >= concurrency {
            events(PullEvent::Layer {
                id: descriptor.digest.short().to_owned(),
                status: LayerStatus::Waiting,
            });
        }
        let mut analyzer = LayerAnalyzer::new();
        let resumed = store.resume_ingest(&descriptor.digest, Some(descriptor.size), |kept| {
            analyzer.write_all(kept)
        })?;
        let ingest = match resumed {
            Resumed::Ingest(ingest) => Some(*ingest),
            Resumed::Stored => None,
        };
        jobs.push(Download {
            index,
            descriptor,
            ingest,
            analyzer,
        });
    }
    let mut finished = futures_util::stream::iter(jobs.into_iter().map(|job| {
        let repository = repository.clone();
        let events = events.clone();
        let blob_path = store.blob_path(&job.descriptor.digest);
        // Spawned, so hashing, decompressing and writing several layers use every core.
        tokio::spawn(download_layer(repository, job, blob_path, events))
    }))
    .buffer_unordered(concurrency);
    let mut done = Vec::new();
    while let Some(joined) = finished.next().await {
        done.push(joined.map_err(|e| OpsError::Interrupted(e.to_string()))??);
    }
    done.sort_by_key(|d| d.index);
    for downloaded in done {
        let descriptor = &image.layers[downloaded.index];
        if let Some(problem) = downloaded.facts.problem() {
            return Err(OpsError::BadLayer {
                source_name: descriptor.digest.to_string(),
                problem,
            });
        }
        let expected_diff = &diff_ids[downloaded.index];
        if &downloaded.facts.diff_id != expected_diff {
            return Err(OpsError::DigestMismatch {
                what: format!("layer {} (uncompressed)", descriptor.digest),
                expected: expected_diff.clone(),
                found: downloaded.facts.diff_id.clone(),
            });
        }
        if let Some(pending) = downloaded.pending {
            pending.commit(Some(&descriptor.digest), Some(descriptor.size))?;
        }
        records[downloaded.index] = Some(LayerRecord {
            diff_id: downloaded.facts.diff_id.clone(),
            blob: descriptor.digest.clone(),
            media_type: descriptor.media_type.clone(),
            blob_size: descriptor.size,
            size: downloaded.facts.content_size(),
        });
        events(PullEvent::Layer {
            id: descriptor.digest.short().to_owned(),
            status: LayerStatus::PullComplete,
        });
    }
    records
        .into_iter()
        .enumerate()
        .map(|(index, record)| {
            record.ok_or_else(|| {
                OpsError::Interrupted(format!("layer {index} was neither found nor downloaded"))
            })
        })
        .collect()
}

/// Downloads one layer into its ingest while the analyzer hashes and vets the uncompressed stream.
async fn download_layer(
    repository: Repository,
    job: Download,
    blob_path: std::path::PathBuf,
    events: PullEvents,
) -> Result<Downloaded, OpsError> {
    let Download {
        index,
        descriptor,
        ingest,
        mut analyzer,
    } = job;
    let id = descriptor.digest.short().to_owned();
    let total = descriptor.size;
    let Some(mut ingest) = ingest else {
        // Another pull stored it meanwhile: analyze the stored bytes instead.
        let facts = tokio::task::spawn_blocking(move || -> std::io::Result<LayerFacts> {
            let mut file = std::fs::File::open(&blob_path)?;
            std::io::copy(&mut file, &mut analyzer)?;
            Ok(analyzer.finish())
        })
        .await
        .map_err(|e| OpsError::Interrupted(e.to_string()))?
        .map_err(|error| OpsError::Input {
            source_name: descriptor.digest.to_string(),
            error,
        })?;
        events(PullEvent::Layer {
            id,
            status: LayerStatus::DownloadComplete,
        });
        return Ok(Downloaded {
            index,
            pending: None,
            facts,
        });
    };
    let offset = ingest.written();
    let mut current = offset;
    events(PullEvent::Layer {
        id: id.clone(),
        status: LayerStatus::Downloading { current, total },
    });
    repository
        .download_blob(&descriptor.digest, total, offset, |chunk| {
            ingest.write_all(chunk)?;
            analyzer.write_all(chunk)?;
            current += chunk.len() as u64;
            events(PullEvent::Layer {
                id: id.clone(),
                status: LayerStatus::Downloading { current, total },
            });
            Ok(())
        })
        .await?;
    events(PullEvent::Layer {
        id: id.clone(),
        status: LayerStatus::VerifyingChecksum,
    });
    let pending = ingest.finish()?;
    let facts = analyzer.finish();
    events(PullEvent::Layer {
        id,
        status: LayerStatus::DownloadComplete,
    });
    Ok(Downloaded {
        index,
        pending: Some(pending),
        facts,
    })
}
