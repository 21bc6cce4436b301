//! `copy SRC DST` with skopeo's transport names: `docker://` registries, `oci:` layout directories,
//! `oci-archive:` and `docker-archive:` tars, and `hoist:` for the local store. Registry→registry,
//! registry→layout and layout→registry copy blobs directly and keep every digest (with `--all`, every
//! platform of a list; referrers such as signatures come along between registries); other pairs go
//! through a store (the local one when either side is `hoist:`, else a temporary one).

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use hoist_registry_client::{
    BlobReader, FileBlob, ManifestRef, MountOutcome, PushOptions, RegistryClient, Repository,
};
use hoist_spec::{
    Descriptor, Digest, Hasher, ImageIndex, Manifest, Platform, RawManifest, Reference, media_type,
};
use serde_json::{Value, json};

use crate::pull::{PullEvents, PullOptions};
use crate::push::{PushEvents, PushOptionsCli};
use crate::{Hoist, OpsError};

/// The annotation naming an image in an OCI layout's index.json.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Blobs moved at once by the direct copies.
const PARALLEL_BLOBS: usize = 4;

/// Where an image is, in skopeo's syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `docker://[host/]repo[:tag|@digest]`.
    Registry(Reference),
    /// `oci:DIR[:NAME]`.
    OciDir { path: PathBuf, name: Option<String> },
    /// `oci-archive:FILE[:NAME]`.
    OciArchive { path: PathBuf, name: Option<String> },
    /// `docker-archive:FILE[:REFERENCE]`.
    DockerArchive {
        path: PathBuf,
        reference: Option<Reference>,
    },
    /// `hoist:NAME` (also skopeo's `containers-storage:` spelling): the local store.
    Store(String),
}

impl Location {
    /// Parses `transport:rest`; path and name split at the first `:` after the transport, as skopeo does.
    pub fn parse(input: &str) -> Result<Self, OpsError> {
        let bad =
            |why: &str| OpsError::InvalidReference(format!("invalid location {input:?}: {why}"));
        let (transport, rest) = input.split_once(':').ok_or_else(|| {
            bad("expected TRANSPORT:NAME (docker://, oci:, oci-archive:, docker-archive:, hoist:)")
        })?;
        let path_and_name = |rest: &str| -> (PathBuf, Option<String>) {
            match rest.split_once(':') {
                Some((path, name)) if !name.is_empty() => {
                    (PathBuf::from(path), Some(name.to_owned()))
                }
                Some((path, _)) => (PathBuf::from(path), None),
                None => (PathBuf::from(rest), None),
            }
        };
        match transport {
            "docker" => {
                let name = rest
                    .strip_prefix("//")
                    .ok_or_else(|| bad("docker: locations start with docker://"))?;
                let reference = Reference::parse_normalized(name)
                    .map_err(|e| OpsError::InvalidReference(e.to_string()))?;
                Ok(Self::Registry(reference.with_default_tag()))
            }
            "oci" | "oci-archive" => {
                let (path, name) = path_and_name(rest);
                if path.as_os_str().is_empty() {
                    return Err(bad("no path"));
                }
                Ok(if transport == "oci" {
                    Self::OciDir { path, name }
                } else {
                    Self::OciArchive { path, name }
                })
            }
            "docker-archive" => {
                let (path, name) = path_and_name(rest);
                let reference = name
                    .map(|n| {
                        Reference::parse_normalized(&n)
                            .map(Reference::with_default_tag)
                            .map_err(|e| OpsError::InvalidReference(e.to_string()))
                    })
                    .transpose()?;
                Ok(Self::DockerArchive { path, reference })
            }
            "hoist" | "containers-storage" => Ok(Self::Store(rest.to_owned())),
            other => Err(bad(&format!("unknown transport {other:?}"))),
        }
    }
}

/// `copy`'s flags.
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// `--all`: every platform of a manifest list, and the list itself.
    pub all: bool,
    /// The platform to pick from a list without `--all` (the host's by default).
    pub platform: Option<Platform>,
}

/// What `copy` reports, in skopeo's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyEvent {
    /// `Copying blob <short digest>` (`skipped: already exists` when the destination had it).
    Blob { digest: Digest, skipped: bool },
    /// `Writing manifest to image destination`.
    WritingManifest,
    /// A referrer (signature, SBOM) copied along.
    Referrer(Digest),
}

/// Where events go.
pub type CopyEvents = Arc<dyn Fn(CopyEvent) + Send + Sync>;

/// Copies `source` to `destination`; returns the digest of the manifest written (for direct copies)
/// or of the image's manifest in the store path.
pub async fn copy(
    hoist: &Hoist,
    client: &RegistryClient,
    source: &Location,
    destination: &Location,
    options: &CopyOptions,
    events: &CopyEvents,
) -> Result<Digest, OpsError> {
    match (source, destination) {
        (Location::Registry(from), Location::Registry(to)) => {
            registry_to_registry(client, from, to, options, events).await
        }
        (Location::Registry(from), Location::OciDir { path, name }) => {
            registry_to_layout(client, from, path, name.as_deref(), options, events).await
        }
        (Location::OciDir { path, name }, Location::Registry(to)) => {
            layout_to_registry(client, path, name.as_deref(), to, options, events).await
        }
        _ => through_a_store(hoist, client, source, destination, options).await,
    }
}

// ---- manifests to copy ----

/// What to write for a top manifest: the manifests (children first, the top last) and the blobs
/// of the image manifests among them.
fn plan(top: RawManifest, children: Vec<RawManifest>) -> (Vec<RawManifest>, Vec<Descriptor>) {
    let mut blobs = Vec::new();
    let mut seen = BTreeSet::new();
    let mut manifests = children;
    manifests.push(top);
    for m in &manifests {
        if let Manifest::Image(image) = &m.manifest {
            for d in std::iter::once(&image.config).chain(&image.layers) {
                if seen.insert(d.digest.clone()) {
                    blobs.push(d.clone());
                }
            }
        }
    }
    (manifests, blobs)
}

fn parse_manifest(bytes: Vec<u8>, media_type: Option<&str>) -> Result<RawManifest, OpsError> {
    RawManifest::parse(bytes, media_type).map_err(|e| OpsError::BadManifest(e.to_string()))
}

/// Resolves the manifests to copy from a source that can fetch by descriptor: with `--all` the list
/// and every child; without, the one image (a list resolved to the platform).
async fn resolve<F, Fut>(
    top: RawManifest,
    options: &CopyOptions,
    fetch: F,
) -> Result<(Vec<RawManifest>, Vec<Descriptor>), OpsError>
where
    F: Fn(Descriptor) -> Fut,
    Fut: std::future::Future<Output = Result<RawManifest, OpsError>>,
{
    match &top.manifest {
        Manifest::Image(_) => Ok(plan(top, Vec::new())),
        Manifest::Index(index) if options.all => {
            let mut children = Vec::new();
            for child in &index.manifests {
                if media_type::kind(&child.media_type) == media_type::Kind::Manifest {
                    children.push(fetch(child.clone()).await?);
                }
            }
            Ok(plan(top, children))
        }
        Manifest::Index(index) => {
            let wanted = options
                .platform
                .clone()
                .unwrap_or_else(Platform::host)
                .normalized();
            let child = crate::pull::select_platform(index, &wanted)?.clone();
            Ok(plan(fetch(child).await?, Vec::new()))
        }
    }
}

async fn fetch_from_registry(
    repository: &Repository,
    descriptor: Descriptor,
) -> Result<RawManifest, OpsError> {
    let fetched = repository
        .get_manifest(&ManifestRef::Digest(descriptor.digest.clone()), &[])
        .await?;
    parse_manifest(fetched.bytes, Some(&fetched.media_type))
}

// ---- registry → registry ----

/// A registry blob as a re-openable upload source: each open is a ranged GET.
#[derive(Debug, Clone)]
struct RegistryBlob {
    repository: Repository,
    digest: Digest,
}

impl BlobReader for RegistryBlob {
    type Reader = tokio_util::io::StreamReader<
        std::pin::Pin<Box<dyn futures_util::Stream<Item = io::Result<bytes::Bytes>> + Send>>,
        bytes::Bytes,
    >;

    async fn open_at(&self, offset: u64) -> io::Result<Self::Reader> {
        let stream = self
            .repository
            .get_blob(&self.digest, offset)
            .await
            .map_err(io::Error::other)?;
        let stream: std::pin::Pin<
            Box<dyn futures_util::Stream<Item = io::Result<bytes::Bytes>> + Send>,
        > = Box::pin(stream.map_err(io::Error::other));
        Ok(tokio_util::io::StreamReader::new(stream))
    }
}

async fn registry_to_registry(
    client: &RegistryClient,
    from: &Reference,
    to: &Reference,
    options: &CopyOptions,
    events: &CopyEvents,
) -> Result<Digest, OpsError> {
    let source = client.repository_of(from);
    let target = client.repository_of(to);
    let top = source.get_manifest(&ManifestRef::of(from), &[]).await?;
    let top = parse_manifest(top.bytes, Some(&top.media_type))?;
    let (manifests, blobs) = resolve(top, options, |d| fetch_from_registry(&source, d)).await?;
    let same_registry = from.domain() == to.domain();
    send_blobs(&target, &blobs, events, |descriptor| {
        let source = source.clone();
        let target = target.clone();
        let from_path = same_registry.then(|| from.path().to_owned());
        async move {
            // Within one registry a mount moves no bytes; anything but "mounted" means copying.
            if let Some(from_path) = from_path {
                match target.mount_blob(&descriptor.digest, &from_path).await {
                    Ok(MountOutcome::Mounted) => return Ok(None),
                    Ok(MountOutcome::NotMounted(session)) => {
                        let _ = target.cancel_upload(session).await;
                    }
                    Err(_) => {}
                }
            }
            Ok(Some(RegistryBlob {
                repository: source,
                digest: descriptor.digest.clone(),
            }))
        }
    })
    .await?;
    let digest = put_manifests(&target, to, &manifests, events).await?;
    for manifest in &manifests {
        copy_referrers(&source, &target, &manifest.digest, events).await?;
    }
    Ok(digest)
}

/// Sends every blob the target lacks, `PARALLEL_BLOBS` at a time; `open` gives the source of one blob.
async fn send_blobs<R, F, Fut>(
    target: &Repository,
    blobs: &[Descriptor],
    events: &CopyEvents,
    open: F,
) -> Result<(), OpsError>
where
    R: BlobReader,
    F: Fn(Descriptor) -> Fut,
    Fut: std::future::Future<Output = Result<Option<R>, OpsError>>,
{
    let jobs = blobs.iter().cloned().map(|descriptor| {
        let open = &open;
        async move {
            if target.blob_exists(&descriptor.digest).await?.is_some() {
                events(CopyEvent::Blob {
                    digest: descriptor.digest.clone(),
                    skipped: true,
                });
                return Ok::<_, OpsError>(());
            }
            if let Some(reader) = open(descriptor.clone()).await? {
                target
                    .push_blob(
                        &descriptor.digest,
                        descriptor.size,
                        &reader,
                        &PushOptions::default(),
                    )
                    .await?;
            }
            events(CopyEvent::Blob {
                digest: descriptor.digest.clone(),
                skipped: false,
            });
            Ok(())
        }
    });
    let mut running = futures_util::stream::iter(jobs).buffer_unordered(PARALLEL_BLOBS);
    while let Some(done) = running.next().await {
        done?;
    }
    Ok(())
}

/// Puts the children by digest and the top manifest under the destination's tag (or digest).
async fn put_manifests(
    target: &Repository,
    to: &Reference,
    manifests: &[RawManifest],
    events: &CopyEvents,
) -> Result<Digest, OpsError> {
    events(CopyEvent::WritingManifest);
    let Some((top, children)) = manifests.split_last() else {
        return Err(OpsError::BadManifest("nothing to copy".to_owned()));
    };
    for child in children {
        target
            .put_manifest(
                &ManifestRef::Digest(child.digest.clone()),
                &child.media_type,
                &child.bytes,
            )
            .await?;
    }
    let reference = match (to.digest(), to.tag()) {
        (Some(digest), _) => ManifestRef::Digest(digest.clone()),
        (None, tag) => ManifestRef::Tag(tag.unwrap_or("latest").to_owned()),
    };
    Ok(target
        .put_manifest(&reference, &top.media_type, &top.bytes)
        .await?)
}

/// Copies the referrers of `subject` (signatures, SBOMs, attestations) and their blobs; a source
/// without any is fine.
async fn copy_referrers(
    source: &Repository,
    target: &Repository,
    subject: &Digest,
    events: &CopyEvents,
) -> Result<(), OpsError> {
    let referrers = match source.referrers(subject, None).await {
        Ok(referrers) => referrers,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for descriptor in referrers.index.manifests {
        let fetched = fetch_from_registry(source, descriptor.clone()).await?;
        let (manifests, blobs) = plan(fetched, Vec::new());
        send_blobs(target, &blobs, events, |d| {
            let source = source.clone();
            async move {
                Ok(Some(RegistryBlob {
                    repository: source,
                    digest: d.digest,
                }))
            }
        })
        .await?;
        for manifest in &manifests {
            target
                .put_manifest(
                    &ManifestRef::Digest(manifest.digest.clone()),
                    &manifest.media_type,
                    &manifest.bytes,
                )
                .await?;
        }
        events(CopyEvent::Referrer(descriptor.digest));
    }
    Ok(())
}

// ---- OCI layout directories ----

fn layout_blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs")
        .join(digest.algorithm())
        .join(digest.hex())
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> OpsError + '_ {
    move |error| OpsError::Input {
        source_name: path.display().to_string(),
        error,
    }
}

/// Writes `bytes` at `path` through a temporary file and a rename, so a reader never sees half of it.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), OpsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(io_error(dir))?;
    temp.write_all(bytes).map_err(io_error(path))?;
    temp.persist(path).map_err(|e| io_error(path)(e.error))?;
    Ok(())
}

/// Adds (or replaces, by name) `descriptor` in the layout's index.json and writes `oci-layout`.
fn update_layout_index(
    dir: &Path,
    descriptor: &Descriptor,
    name: Option<&str>,
) -> Result<(), OpsError> {
    write_atomically(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion": "1.0.0"}"#,
    )?;
    let index_path = dir.join("index.json");
    let mut index: Value = match std::fs::read(&index_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| OpsError::BadManifest(format!("{}: {e}", index_path.display())))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            json!({"schemaVersion": 2, "manifests": []})
        }
        Err(e) => return Err(io_error(&index_path)(e)),
    };
    let mut entry =
        serde_json::to_value(descriptor).map_err(|e| OpsError::BadManifest(e.to_string()))?;
    if let Some(name) = name {
        entry["annotations"][REF_NAME] = json!(name);
    }
    let manifests = index["manifests"].as_array_mut().ok_or_else(|| {
        OpsError::BadManifest(format!("{}: no manifests array", index_path.display()))
    })?;
    manifests.retain(|m| match name {
        Some(name) => m["annotations"][REF_NAME].as_str() != Some(name),
        None => m["digest"].as_str() != Some(&descriptor.digest.to_string()),
    });
    manifests.push(entry);
    let bytes = serde_json::to_vec(&index).map_err(|e| OpsError::BadManifest(e.to_string()))?;
    write_atomically(&index_path, &bytes)
}

/// The top manifest a layout names: the entry with `name` as its ref name, or the only entry.
fn layout_top(dir: &Path, name: Option<&str>) -> Result<RawManifest, OpsError> {
    let index_path = dir.join("index.json");
    let bytes = std::fs::read(&index_path).map_err(io_error(&index_path))?;
    let index: ImageIndex = serde_json::from_slice(&bytes)
        .map_err(|e| OpsError::BadManifest(format!("{}: {e}", index_path.display())))?;
    let matches: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| match name {
            Some(name) => d.annotations.get(REF_NAME).map(String::as_str) == Some(name),
            None => true,
        })
        .collect();
    let descriptor = match matches.as_slice() {
        [one] => *one,
        [] => {
            return Err(OpsError::NotFound(format!(
                "no image named {:?} in {}",
                name.unwrap_or(""),
                index_path.display()
            )));
        }
        _ => {
            return Err(OpsError::InvalidReference(format!(
                "{} holds several images; name one (oci:DIR:NAME)",
                dir.display()
            )));
        }
    };
    read_layout_manifest(dir, descriptor)
}

fn read_layout_manifest(dir: &Path, descriptor: &Descriptor) -> Result<RawManifest, OpsError> {
    let path = layout_blob_path(dir, &descriptor.digest);
    let bytes = std::fs::read(&path).map_err(io_error(&path))?;
    let raw = parse_manifest(bytes, Some(&descriptor.media_type))?;
    if raw.digest != descriptor.digest {
        return Err(OpsError::DigestMismatch {
            what: path.display().to_string(),
            expected: descriptor.digest.clone(),
            found: raw.digest,
        });
    }
    Ok(raw)
}

/// Docker schema 2 manifests and lists rewritten as OCI ones (media types only; config and layer
/// bytes stay), as skopeo writes layouts: OCI layout readers (skopeo, umoci) take nothing else. Lists
/// point at the rewritten children. Returns the manifests in the same order.
fn as_oci(manifests: Vec<RawManifest>) -> Vec<RawManifest> {
    let oci_layer = |docker: &str| match docker {
        media_type::DOCKER_LAYER_GZIP => media_type::OCI_LAYER_GZIP.to_owned(),
        media_type::DOCKER_LAYER => media_type::OCI_LAYER.to_owned(),
        media_type::DOCKER_FOREIGN_LAYER => media_type::OCI_LAYER_NONDISTRIBUTABLE_GZIP.to_owned(),
        other => other.to_owned(),
    };
    let mut renamed: std::collections::HashMap<Digest, Descriptor> = Default::default();
    manifests
        .into_iter()
        .map(|raw| match &raw.manifest {
            Manifest::Image(image) if media_type::is_docker(&raw.media_type) => {
                let mut image = image.clone();
                image.media_type = Some(media_type::OCI_MANIFEST.to_owned());
                image.config.media_type = media_type::OCI_CONFIG.to_owned();
                for layer in &mut image.layers {
                    layer.media_type = oci_layer(&layer.media_type);
                }
                let converted = RawManifest::from_image(image, media_type::OCI_MANIFEST);
                let mut descriptor = converted.descriptor();
                descriptor.platform = None;
                renamed.insert(raw.digest.clone(), descriptor);
                converted
            }
            Manifest::Index(index)
                if media_type::is_docker(&raw.media_type)
                    || index
                        .manifests
                        .iter()
                        .any(|d| renamed.contains_key(&d.digest)) =>
            {
                let mut index = index.clone();
                index.media_type = Some(media_type::OCI_INDEX.to_owned());
                for child in &mut index.manifests {
                    if let Some(new) = renamed.get(&child.digest) {
                        child.digest = new.digest.clone();
                        child.size = new.size;
                        child.media_type = new.media_type.clone();
                    }
                }
                RawManifest::from_index(index, media_type::OCI_INDEX)
            }
            _ => raw,
        })
        .collect()
}

async fn registry_to_layout(
    client: &RegistryClient,
    from: &Reference,
    dir: &Path,
    name: Option<&str>,
    options: &CopyOptions,
    events: &CopyEvents,
) -> Result<Digest, OpsError> {
    let source = client.repository_of(from);
    let top = source.get_manifest(&ManifestRef::of(from), &[]).await?;
    let top = parse_manifest(top.bytes, Some(&top.media_type))?;
    let (manifests, blobs) = resolve(top, options, |d| fetch_from_registry(&source, d)).await?;
    let manifests = as_oci(manifests);
    let jobs = blobs.iter().cloned().map(|descriptor| {
        let source = source.clone();
        let events = events.clone();
        let dir = dir.to_owned();
        async move {
            let path = layout_blob_path(&dir, &descriptor.digest);
            if std::fs::metadata(&path).is_ok_and(|m| m.len() == descriptor.size) {
                events(CopyEvent::Blob {
                    digest: descriptor.digest,
                    skipped: true,
                });
                return Ok::<_, OpsError>(());
            }
            download_to_file(&source, &descriptor, &path).await?;
            events(CopyEvent::Blob {
                digest: descriptor.digest,
                skipped: false,
            });
            Ok(())
        }
    });
    let mut running =
        futures_util::stream::iter(jobs.map(tokio::spawn)).buffer_unordered(PARALLEL_BLOBS);
    while let Some(done) = running.next().await {
        done.map_err(|e| OpsError::Interrupted(e.to_string()))??;
    }
    events(CopyEvent::WritingManifest);
    for manifest in &manifests {
        write_atomically(&layout_blob_path(dir, &manifest.digest), &manifest.bytes)?;
    }
    let top = manifests
        .last()
        .ok_or_else(|| OpsError::BadManifest("nothing to copy".to_owned()))?;
    let name = name
        .map(str::to_owned)
        .or_else(|| from.tag().map(str::to_owned));
    update_layout_index(dir, &top.descriptor(), name.as_deref())?;
    Ok(top.digest.clone())
}

/// Downloads a blob into a layout file: hashed while written, renamed into place only when it matches.
async fn download_to_file(
    source: &Repository,
    descriptor: &Descriptor,
    path: &Path,
) -> Result<(), OpsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let temp = tempfile::NamedTempFile::new_in(dir).map_err(io_error(dir))?;
    let mut writer = io::BufWriter::with_capacity(1 << 20, temp.as_file());
    let mut hasher = Hasher::new();
    source
        .download_blob(&descriptor.digest, descriptor.size, 0, |chunk| {
            hasher.update(chunk);
            writer.write_all(chunk)
        })
        .await?;
    writer.flush().map_err(io_error(path))?;
    drop(writer);
    let found = hasher.finish();
    if found != descriptor.digest {
        return Err(OpsError::DigestMismatch {
            what: format!("blob from {}", source.path()),
            expected: descriptor.digest.clone(),
            found,
        });
    }
    temp.persist(path).map_err(|e| io_error(path)(e.error))?;
    Ok(())
}

async fn layout_to_registry(
    client: &RegistryClient,
    dir: &Path,
    name: Option<&str>,
    to: &Reference,
    options: &CopyOptions,
    events: &CopyEvents,
) -> Result<Digest, OpsError> {
    let top = layout_top(dir, name)?;
    let (manifests, blobs) = resolve(top, options, |d| {
        let result = read_layout_manifest(dir, &d);
        async move { result }
    })
    .await?;
    let target = client.repository_of(to);
    send_blobs(&target, &blobs, events, |descriptor| {
        let path = layout_blob_path(dir, &descriptor.digest);
        async move { Ok(Some(FileBlob::new(path))) }
    })
    .await?;
    put_manifests(&target, to, &manifests, events).await
}

// ---- through a store ----

async fn through_a_store(
    hoist: &Hoist,
    client: &RegistryClient,
    source: &Location,
    destination: &Location,
    options: &CopyOptions,
) -> Result<Digest, OpsError> {
    let uses_local =
        matches!(source, Location::Store(_)) || matches!(destination, Location::Store(_));
    let temp_dir;
    let temp_hoist;
    let store_hoist = if uses_local {
        hoist
    } else {
        temp_dir = tempfile::tempdir().map_err(io_error(Path::new("temporary directory")))?;
        temp_hoist = Hoist::open(crate::Settings {
            root: temp_dir.path().to_owned(),
            ..hoist.settings.clone()
        })?;
        &temp_hoist
    };
    let (id, source_tags) = into_store(store_hoist, client, source, options).await?;
    out_of_store(store_hoist, client, &id, &source_tags, destination).await
}

/// Brings the source into `hoist`'s store; returns the image ID and the names it came with.
async fn into_store(
    hoist: &Hoist,
    client: &RegistryClient,
    source: &Location,
    options: &CopyOptions,
) -> Result<(Digest, Vec<Reference>), OpsError> {
    match source {
        Location::Registry(reference) => {
            let quiet: PullEvents = Arc::new(|_| {});
            let pulled = crate::pull::pull(
                hoist,
                client,
                &reference.to_string(),
                &PullOptions {
                    platform: options.platform.clone(),
                    all_tags: false,
                },
                &quiet,
            )
            .await?;
            let image = pulled
                .into_iter()
                .next()
                .ok_or_else(|| OpsError::NotFound(reference.to_string()))?;
            Ok((image.id, vec![image.reference]))
        }
        Location::Store(name) => {
            let found = crate::lookup::find_image(&hoist.store, name)?;
            let tags = match found.named {
                crate::lookup::Named::Tag(r) => vec![r],
                _ => Vec::new(),
            };
            Ok((found.id, tags))
        }
        Location::DockerArchive { path, .. } | Location::OciArchive { path, name: None } => {
            let file = std::fs::File::open(path).map_err(io_error(path))?;
            let loaded = crate::transfer::load(hoist, file, &mut |_| {})?;
            pick_loaded(loaded, path)
        }
        Location::OciArchive {
            path,
            name: Some(name),
        } => {
            let unpacked =
                tempfile::tempdir().map_err(io_error(Path::new("temporary directory")))?;
            unpack_archive(path, unpacked.path())?;
            let loaded = load_layout_dir(hoist, unpacked.path(), Some(name))?;
            pick_loaded(loaded, path)
        }
        Location::OciDir { path, name } => {
            let loaded = load_layout_dir(hoist, path, name.as_deref())?;
            pick_loaded(loaded, path)
        }
    }
}

/// The one image loaded (layouts are filtered to the named entry before loading).
fn pick_loaded(
    loaded: Vec<hoist_archive::LoadedImage>,
    path: &Path,
) -> Result<(Digest, Vec<Reference>), OpsError> {
    let mut loaded = loaded.into_iter();
    match (loaded.next(), loaded.next()) {
        (Some(image), None) => Ok((image.id, image.tags)),
        (None, _) => Err(OpsError::NotFound(format!(
            "no image in {}",
            path.display()
        ))),
        (Some(_), Some(_)) => Err(OpsError::InvalidReference(format!(
            "{} holds several images; name one (oci:DIR:NAME or oci-archive:FILE:NAME)",
            path.display()
        ))),
    }
}

/// Loads an OCI layout directory (only the entry called `name`, when given) by streaming it as a tar
/// through a pipe into the archive loader.
fn load_layout_dir(
    hoist: &Hoist,
    dir: &Path,
    name: Option<&str>,
) -> Result<Vec<hoist_archive::LoadedImage>, OpsError> {
    let index_path = dir.join("index.json");
    let index_bytes = std::fs::read(&index_path).map_err(io_error(&index_path))?;
    let index_bytes = match name {
        None => index_bytes,
        Some(name) => {
            let mut index: Value = serde_json::from_slice(&index_bytes)
                .map_err(|e| OpsError::BadManifest(format!("{}: {e}", index_path.display())))?;
            let named = |m: &Value| {
                let annotations = &m["annotations"];
                annotations[REF_NAME].as_str() == Some(name)
                    || annotations["io.containerd.image.name"]
                        .as_str()
                        .is_some_and(|full| {
                            full == name
                                || Reference::parse_normalized(full)
                                    .is_ok_and(|r| r.familiar() == name)
                        })
            };
            let manifests = index["manifests"].as_array_mut().ok_or_else(|| {
                OpsError::BadManifest(format!("{}: no manifests array", index_path.display()))
            })?;
            manifests.retain(named);
            if manifests.is_empty() {
                return Err(OpsError::NotFound(format!(
                    "no image named {name:?} in {}",
                    dir.display()
                )));
            }
            serde_json::to_vec(&index).map_err(|e| OpsError::BadManifest(e.to_string()))?
        }
    };
    let mut files = vec![PathBuf::from("oci-layout")];
    let blobs = dir.join("blobs/sha256");
    for entry in std::fs::read_dir(&blobs).map_err(io_error(&blobs))? {
        let entry = entry.map_err(io_error(&blobs))?;
        files.push(Path::new("blobs/sha256").join(entry.file_name()));
    }
    let (reader, writer) = io::pipe().map_err(io_error(dir))?;
    let root = dir.to_owned();
    let writer_thread = std::thread::spawn(move || -> io::Result<()> {
        let mut builder = tar::Builder::new(writer);
        let mut header = tar::Header::new_gnu();
        header.set_size(index_bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, "index.json", index_bytes.as_slice())?;
        for file in files {
            builder.append_path_with_name(root.join(&file), &file)?;
        }
        builder.finish()
    });
    let loaded = crate::transfer::load(hoist, reader.take(u64::MAX), &mut |_| {});
    let written = writer_thread
        .join()
        .map_err(|_| OpsError::Interrupted("the layout reader stopped".to_owned()))?;
    let loaded = loaded?;
    written.map_err(io_error(dir))?;
    Ok(loaded)
}

/// Unpacks an OCI archive into `into` (a temporary directory), refusing entries that leave it.
fn unpack_archive(path: &Path, into: &Path) -> Result<(), OpsError> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    let decoded = hoist_layer::compression::auto_decompress(io::BufReader::new(file))
        .map_err(io_error(path))?;
    let mut archive = tar::Archive::new(decoded);
    for entry in archive.entries().map_err(io_error(path))? {
        let mut entry = entry.map_err(io_error(path))?;
        // unpack_in refuses `..` and absolute paths.
        entry.unpack_in(into).map_err(io_error(path))?;
    }
    Ok(())
}

/// Writes the stored image `id` to the destination.
async fn out_of_store(
    hoist: &Hoist,
    client: &RegistryClient,
    id: &Digest,
    source_tags: &[Reference],
    destination: &Location,
) -> Result<Digest, OpsError> {
    let record = hoist
        .store
        .image(id)?
        .ok_or_else(|| OpsError::NoSuchImage(id.to_string()))?;
    match destination {
        Location::Registry(reference) => {
            hoist.store.set_tag(&reference.to_string(), id)?;
            let quiet: PushEvents = Arc::new(|_| {});
            let pushed = crate::push::push(
                hoist,
                client,
                &[reference.to_string()],
                &PushOptionsCli::default(),
                &quiet,
            )
            .await?;
            pushed
                .into_iter()
                .next()
                .map(|p| p.manifest_digest)
                .ok_or_else(|| OpsError::NotFound(reference.to_string()))
        }
        Location::Store(name) => {
            if !name.is_empty()
                && crate::lookup::find_image(&hoist.store, name)
                    .map(|f| f.id)
                    .ok()
                    .as_ref()
                    != Some(id)
            {
                let reference = Reference::parse_normalized(name)
                    .map_err(|e| OpsError::InvalidReference(e.to_string()))?
                    .with_default_tag();
                hoist.store.set_tag(&reference.to_string(), id)?;
            }
            Ok(record.manifest)
        }
        Location::DockerArchive { path, reference } => {
            let tags = match reference {
                Some(r) => vec![r.clone()],
                None => source_tags.to_vec(),
            };
            save_to(hoist, id, &record.manifest, tags, path)?;
            Ok(record.manifest)
        }
        Location::OciArchive { path, name } => {
            let tags = match name {
                // A bare name is a tag (the layout's ref name), on the source's repository.
                Some(n) if !n.contains(['/', ':']) => {
                    let base = source_tags
                        .first()
                        .map(Reference::repository)
                        .unwrap_or_else(|| "localhost/image".to_owned());
                    vec![
                        Reference::parse_normalized(&format!("{base}:{n}"))
                            .map_err(|e| OpsError::InvalidReference(e.to_string()))?,
                    ]
                }
                Some(n) => vec![
                    Reference::parse_normalized(n)
                        .map_err(|e| OpsError::InvalidReference(e.to_string()))?
                        .with_default_tag(),
                ],
                None => source_tags.to_vec(),
            };
            save_to(hoist, id, &record.manifest, tags, path)?;
            Ok(record.manifest)
        }
        Location::OciDir { path, name } => {
            let manifest = hoist.store.read_blob(&record.manifest)?;
            let raw = parse_manifest(manifest, Some(&record.manifest_media_type))?;
            let raw = as_oci(vec![raw])
                .pop()
                .ok_or_else(|| OpsError::BadManifest("nothing to copy".to_owned()))?;
            let Manifest::Image(image) = &raw.manifest else {
                return Err(OpsError::BadManifest(
                    "stored manifest is not an image".to_owned(),
                ));
            };
            for d in std::iter::once(&image.config).chain(&image.layers) {
                let target = layout_blob_path(path, &d.digest);
                if std::fs::metadata(&target).is_ok_and(|m| m.len() == d.size) {
                    continue;
                }
                let dir = target.parent().unwrap_or(path);
                std::fs::create_dir_all(dir).map_err(io_error(dir))?;
                let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(io_error(dir))?;
                let mut blob = hoist.store.open_blob(&d.digest)?;
                io::copy(&mut blob, temp.as_file_mut()).map_err(io_error(&target))?;
                temp.persist(&target)
                    .map_err(|e| io_error(&target)(e.error))?;
            }
            write_atomically(&layout_blob_path(path, &raw.digest), &raw.bytes)?;
            let name = name
                .clone()
                .or_else(|| source_tags.first().and_then(|t| t.tag().map(str::to_owned)));
            update_layout_index(path, &raw.descriptor(), name.as_deref())?;
            Ok(raw.digest)
        }
    }
}

/// `save` of one image into `path`, written beside it and renamed at the end.
fn save_to(
    hoist: &Hoist,
    id: &Digest,
    manifest: &Digest,
    tags: Vec<Reference>,
    path: &Path,
) -> Result<(), OpsError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(io_error(dir))?;
    let image = hoist_archive::SaveImage {
        id: id.clone(),
        manifest: manifest.clone(),
        tags,
    };
    crate::transfer::save(hoist, &[image], temp.as_file_mut(), &mut |_| {})?;
    temp.persist(path).map_err(|e| io_error(path)(e.error))?;
    Ok(())
}
