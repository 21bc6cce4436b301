//! `push`: an image from the store to a registry — blobs the registry has are skipped (HEAD), blobs
//! another repository of the same registry has are mounted, the rest upload in parallel from the stored
//! files (resuming at the registry's offset after a failure), then the stored manifest goes up under
//! the tag.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use hoist_registry_client::{
    FileBlob, ManifestRef, MountOutcome, ProgressCounter, PushOptions, RegistryClient, Repository,
};
use hoist_spec::{Descriptor, Digest, Manifest, RawManifest, Reference, media_type};
use hoist_store::ImageRecord;

use crate::{Hoist, OpsError};

/// What `push` reports, in Docker's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// `The push refers to repository [docker.io/library/nginx]`.
    Repository(String),
    /// A layer's progress; `id` is the short hex of its diff ID, as Docker shows it.
    Layer { id: String, status: PushStatus },
    /// `1.0: digest: sha256:… size: 1234`.
    Pushed {
        tag: String,
        digest: Digest,
        size: u64,
    },
}

/// One layer's state, with Docker's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushStatus {
    Preparing,
    Waiting,
    Pushing { current: u64, total: u64 },
    Pushed,
    AlreadyExists,
    MountedFrom(String),
}

impl PushStatus {
    /// Docker's text for the status.
    pub fn text(&self) -> String {
        match self {
            Self::Preparing => "Preparing".to_owned(),
            Self::Waiting => "Waiting".to_owned(),
            Self::Pushing { .. } => "Pushing".to_owned(),
            Self::Pushed => "Pushed".to_owned(),
            Self::AlreadyExists => "Layer already exists".to_owned(),
            Self::MountedFrom(repository) => format!("Mounted from {repository}"),
        }
    }
}

/// Where events go; called from the upload tasks too.
pub type PushEvents = Arc<dyn Fn(PushEvent) + Send + Sync>;

/// `push`'s flags.
#[derive(Debug, Clone, Default)]
pub struct PushOptionsCli {
    /// `-a`: every local tag of each repository named.
    pub all_tags: bool,
    /// Upload in PATCHes of this many bytes instead of one PUT per blob.
    pub chunk_size: Option<u64>,
}

/// One tag `push` sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    pub reference: Reference,
    pub manifest_digest: Digest,
    pub size: u64,
}

/// The local tags `name` stands for: itself (`:latest` when untagged), or with `all_tags` every tag
/// of its repository. Docker's errors when there is none.
fn tags_to_push(hoist: &Hoist, name: &str, all_tags: bool) -> Result<Vec<Reference>, OpsError> {
    let parsed =
        Reference::parse_normalized(name).map_err(|e| OpsError::InvalidReference(e.to_string()))?;
    if parsed.digest().is_some() {
        return Err(OpsError::InvalidReference(format!(
            "cannot push a digest reference: {name}"
        )));
    }
    let repository = parsed.repository();
    let local_tags = || -> Result<Vec<Reference>, OpsError> {
        Ok(hoist
            .store
            .list_images()?
            .into_iter()
            .flat_map(|image| image.tags)
            .filter_map(|tag| Reference::parse_normalized(&tag).ok())
            .filter(|tag| tag.repository() == repository)
            .collect())
    };
    // Docker's two messages: nothing of the repository here, or not that tag.
    let nothing_local = || {
        OpsError::NotFound(format!(
            "An image does not exist locally with the tag: {}",
            parsed.familiar_repository()
        ))
    };
    if !all_tags {
        let reference = parsed.clone().with_default_tag();
        if hoist.store.tag_target(&reference.to_string())?.is_none() {
            if local_tags()?.is_empty() {
                return Err(nothing_local());
            }
            return Err(OpsError::NotFound(format!(
                "tag does not exist: {}",
                reference.familiar()
            )));
        }
        return Ok(vec![reference]);
    }
    if parsed.tag().is_some() {
        return Err(OpsError::InvalidReference(
            "tag can't be used with --all-tags/-a".to_owned(),
        ));
    }
    let mut tags = local_tags()?;
    tags.sort_by_key(|t| t.to_string());
    if tags.is_empty() {
        return Err(nothing_local());
    }
    Ok(tags)
}

/// Pushes every name in `names` (several in one call, which Docker refuses).
pub async fn push(
    hoist: &Hoist,
    client: &RegistryClient,
    names: &[String],
    options: &PushOptionsCli,
    events: &PushEvents,
) -> Result<Vec<PushedImage>, OpsError> {
    let mut targets = Vec::new();
    for name in names {
        targets.extend(tags_to_push(hoist, name, options.all_tags)?);
    }
    let mut pushed = Vec::new();
    let mut announced = None;
    for reference in targets {
        let repository_name = reference.repository();
        if announced.as_ref() != Some(&repository_name) {
            events(PushEvent::Repository(repository_name.clone()));
            announced = Some(repository_name);
        }
        pushed.push(push_one(hoist, client, &reference, options, events).await?);
    }
    Ok(pushed)
}

/// The repository of the same registry this image came from or went to, for a cross-repository mount.
fn mount_source(hoist: &Hoist, record: &ImageRecord, target: &Reference) -> Option<String> {
    let known = hoist.store.repo_digests_of(&record.id).ok()?;
    known.into_iter().find_map(|rd| {
        let source = Reference::parse_normalized(&rd.repository).ok()?;
        (source.domain() == target.domain() && source.path() != target.path())
            .then(|| source.path().to_owned())
    })
}

async fn push_one(
    hoist: &Hoist,
    client: &RegistryClient,
    reference: &Reference,
    options: &PushOptionsCli,
    events: &PushEvents,
) -> Result<PushedImage, OpsError> {
    let store = &hoist.store;
    let id = store
        .tag_target(&reference.to_string())?
        .ok_or_else(|| OpsError::NoSuchImage(reference.familiar()))?;
    let record = store
        .image(&id)?
        .ok_or_else(|| OpsError::NoSuchImage(reference.familiar()))?;
    push_record(hoist, client, &record, reference, true, options, events).await
}

/// Pushes one stored image to `reference`'s repository: its blobs, then its manifest under the tag
/// (`by_tag`) or only by digest (an image a multi-platform index will list).
pub async fn push_record(
    hoist: &Hoist,
    client: &RegistryClient,
    record: &ImageRecord,
    reference: &Reference,
    by_tag: bool,
    options: &PushOptionsCli,
    events: &PushEvents,
) -> Result<PushedImage, OpsError> {
    let store = &hoist.store;
    let id = record.id.clone();
    let manifest_bytes = store.read_blob(&record.manifest)?;
    let raw = RawManifest::parse(manifest_bytes, Some(&record.manifest_media_type))
        .map_err(|e| OpsError::BadManifest(e.to_string()))?;
    let Manifest::Image(manifest) = &raw.manifest else {
        return Err(OpsError::BadManifest(format!(
            "the stored manifest of {} is not an image manifest",
            reference.familiar()
        )));
    };
    let repository = client.repository_of(reference);
    let mount_from = mount_source(hoist, record, reference);
    // Held until the record names the gzip copies made below, so GC cannot take them first.
    let guard = store.write_guard()?;
    let layer_ids: Vec<String> = record
        .layers
        .iter()
        .map(|l| l.diff_id.short().to_owned())
        .collect();
    for id in &layer_ids {
        events(PushEvent::Layer {
            id: id.clone(),
            status: PushStatus::Preparing,
        });
    }
    let concurrency = hoist.settings.max_concurrent_uploads.max(1);
    for id in layer_ids.iter().skip(concurrency) {
        events(PushEvent::Layer {
            id: id.clone(),
            status: PushStatus::Waiting,
        });
    }
    let uploads = manifest
        .layers
        .iter()
        .zip(&layer_ids)
        .enumerate()
        .map(|(index, (layer, id))| {
            let mount_from = mount_from.as_deref();
            let repository = &repository;
            async move {
                let outgoing = compressed_for_push(store, layer).await?;
                let path = match &outgoing.pending {
                    Some(pending) => pending.temp_path().to_owned(),
                    None => store.blob_path(&outgoing.descriptor.digest),
                };
                push_blob(
                    &path,
                    repository,
                    &outgoing.descriptor,
                    Some(id.clone()),
                    mount_from,
                    options.chunk_size,
                    events,
                )
                .await?;
                Ok::<_, OpsError>((index, outgoing))
            }
        });
    let mut uploads = futures_util::stream::iter(uploads).buffer_unordered(concurrency);
    let mut sent_layers = manifest.layers.clone();
    let mut copies = Vec::new();
    while let Some(done) = uploads.next().await {
        let (index, outgoing) = done?;
        if let Some(pending) = outgoing.pending {
            copies.push((pending, None, None));
        }
        if let Some(slot) = sent_layers.get_mut(index) {
            *slot = outgoing.descriptor;
        }
    }
    store.commit_batch(copies)?;
    let raw = if sent_layers == manifest.layers {
        raw.clone()
    } else {
        // Some layers were uncompressed tars (from `load` or `import`): the image now keeps the gzip
        // copies it pushed, as if it had been pulled, so the next push sends the same digests.
        let mut compressed = manifest.clone();
        compressed.layers = sent_layers;
        let manifest_type = raw.media_type.clone();
        let new_raw = RawManifest::from_image(compressed, &manifest_type);
        store.put_blob(&new_raw.bytes)?;
        let mut updated = record.clone();
        updated.manifest = new_raw.digest.clone();
        updated.manifest_media_type = new_raw.media_type.clone();
        if let Manifest::Image(m) = &new_raw.manifest {
            for (layer, sent) in updated.layers.iter_mut().zip(&m.layers) {
                layer.blob = sent.digest.clone();
                layer.blob_size = sent.size;
                layer.media_type = sent.media_type.clone();
            }
        }
        store.put_image(&guard, &updated)?;
        new_raw
    };
    let Manifest::Image(manifest) = &raw.manifest else {
        return Err(OpsError::BadManifest(
            "the rewritten manifest is not an image".to_owned(),
        ));
    };
    push_blob(
        &store.blob_path(&manifest.config.digest),
        &repository,
        &manifest.config,
        None,
        mount_from.as_deref(),
        None,
        events,
    )
    .await?;
    let tag = reference.tag().unwrap_or("latest").to_owned();
    let target = if by_tag {
        ManifestRef::Tag(tag.clone())
    } else {
        ManifestRef::Digest(raw.digest.clone())
    };
    let digest = repository
        .put_manifest(&target, &raw.media_type, &raw.bytes)
        .await?;
    if digest != raw.digest {
        return Err(OpsError::DigestMismatch {
            what: format!("manifest pushed to {reference}"),
            expected: raw.digest.clone(),
            found: digest,
        });
    }
    store.add_repo_digest(&reference.repository(), &digest, &id)?;
    drop(guard);
    let size = raw.bytes.len() as u64;
    events(PushEvent::Pushed {
        tag,
        digest: digest.clone(),
        size,
    });
    Ok(PushedImage {
        reference: reference.clone(),
        manifest_digest: digest,
        size,
    })
}

/// The gzip media type for an uncompressed layer type, in the same family (OCI or Docker).
fn gzip_media_type(uncompressed: &str) -> Option<&'static str> {
    match uncompressed {
        media_type::OCI_LAYER => Some(media_type::OCI_LAYER_GZIP),
        media_type::DOCKER_LAYER => Some(media_type::DOCKER_LAYER_GZIP),
        _ => None,
    }
}

/// A layer as it travels: the stored blob, or a gzip copy not yet committed to the store.
#[derive(Debug)]
struct Outgoing {
    descriptor: Descriptor,
    /// The gzip copy, uploaded from its temporary file and committed with the others at the end
    /// (one sync for all instead of one per layer on the upload's critical path).
    pending: Option<hoist_store::PendingBlob>,
}

/// The layer as it should travel: itself when compressed, else a gzip copy made once (level 1, and
/// stored blocks for parts that do not compress: on a local network the link is quicker than the
/// compressor). Deterministic, so a later push of the same bytes produces the same digest.
async fn compressed_for_push(
    store: &hoist_store::Store,
    layer: &Descriptor,
) -> Result<Outgoing, OpsError> {
    let Some(gzip_type) = gzip_media_type(&layer.media_type) else {
        return Ok(Outgoing {
            descriptor: layer.clone(),
            pending: None,
        });
    };
    let source = store.blob_path(&layer.digest);
    let ingest = store.ingest()?;
    let pending = tokio::task::spawn_blocking(move || -> Result<_, OpsError> {
        let input_error = |error| OpsError::Input {
            source_name: source.display().to_string(),
            error,
        };
        let file = std::fs::File::open(&source).map_err(input_error)?;
        let mut ingest = ingest;
        hoist_layer::compression::gzip_adaptive(file, &mut ingest).map_err(input_error)?;
        Ok(ingest.finish_unsynced()?)
    })
    .await
    .map_err(|e| OpsError::Interrupted(e.to_string()))??;
    let mut descriptor = Descriptor::new(gzip_type, pending.digest().clone(), pending.size());
    descriptor.annotations = layer.annotations.clone();
    Ok(Outgoing {
        descriptor,
        pending: Some(pending),
    })
}

/// Sends one blob unless the registry has it; `id` is set for layers (which report progress).
pub(crate) async fn push_blob(
    path: &std::path::Path,
    repository: &Repository,
    descriptor: &Descriptor,
    id: Option<String>,
    mount_from: Option<&str>,
    chunk_size: Option<u64>,
    events: &PushEvents,
) -> Result<(), OpsError> {
    let report = |status: PushStatus| {
        if let Some(id) = &id {
            events(PushEvent::Layer {
                id: id.clone(),
                status,
            });
        }
    };
    if repository.blob_exists(&descriptor.digest).await?.is_some() {
        report(PushStatus::AlreadyExists);
        return Ok(());
    }
    let session = match mount_from {
        Some(source) => match repository.mount_blob(&descriptor.digest, source).await {
            Ok(MountOutcome::Mounted) => {
                report(PushStatus::MountedFrom(source.to_owned()));
                return Ok(());
            }
            Ok(MountOutcome::NotMounted(session)) => Some(session),
            // A mount is an optimisation: any failure means uploading.
            Err(_) => None,
        },
        None => None,
    };
    let session = match session {
        Some(session) => session,
        None => repository.start_upload().await?,
    };
    let source = FileBlob::new(path);
    let progress = ProgressCounter::new();
    let push_options = PushOptions {
        chunk_size,
        progress: Some(progress.clone()),
    };
    let total = descriptor.size;
    let upload = repository.upload(session, &descriptor.digest, total, &source, &push_options);
    tokio::pin!(upload);
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            result = &mut upload => {
                result?;
                break;
            }
            _ = ticker.tick() => report(PushStatus::Pushing { current: progress.get(), total }),
        }
    }
    report(PushStatus::Pushed);
    Ok(())
}
