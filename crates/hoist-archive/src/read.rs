//! Loading archives into the store: docker-archive (legacy and Docker 25+), OCI layout tars and OCI archives,
//! compressed or not, read in one streaming pass from any reader (a file or a pipe).
//!
//! Every file entry is hashed as it streams; large ones go straight to the store's ingest area while a tee
//! computes their diff ID and Docker size. Nothing becomes visible until every image in the archive checked
//! out: blobs are committed and metadata written only at the end, so a bad archive leaves nothing behind.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read, Write};

use hoist_spec::media_type::{self, Kind};
use hoist_spec::{
    Descriptor, Digest, ImageManifest, Manifest, Platform, RawConfig, RawManifest, Reference,
};
use hoist_store::{LayerRecord, PendingBlob, Store};
use serde::Deserialize;

use crate::{ArchiveError, record};
use hoist_layer::analyze::{LayerAnalyzer, LayerFacts, analyze_bytes};

/// Entries up to this size are kept in memory (configs, manifests, index.json); bigger ones stream to disk.
const IN_MEMORY_LIMIT: u64 = 1 << 20;
/// The archive's own JSON documents grow with the number of images; they are read whole up to this size.
const ARCHIVE_JSON_LIMIT: u64 = 256 << 20;
const COPY_BUF: usize = 1 << 20;

/// Progress of a load, for a front end to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadEvent {
    /// Bytes of a large entry (a layer) read so far.
    Layer { name: String, done: u64, total: u64 },
    /// A tag now points at a loaded image; `replaced` is the image that held it before.
    Tagged {
        name: Reference,
        id: Digest,
        replaced: Option<Digest>,
    },
}

/// One image that the load stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    pub id: Digest,
    pub tags: Vec<Reference>,
}

enum Content {
    Memory(Vec<u8>),
    Pending {
        blob: PendingBlob,
        facts: Box<LayerFacts>,
    },
}

struct Entry {
    content: Content,
    digest: Digest,
    size: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// An image resolved from the archive, ready to commit.
struct Candidate {
    config: RawConfig,
    manifest: RawManifest,
    /// (archive path of the layer, its facts' record).
    layers: Vec<(String, LayerRecord)>,
    tags: Vec<Reference>,
}

/// Reads an archive from `input` into `store`.
pub fn load(
    store: &Store,
    input: impl Read,
    progress: &mut dyn FnMut(LoadEvent),
) -> Result<Vec<LoadedImage>, ArchiveError> {
    let input = hoist_layer::compression::auto_decompress(input).map_err(ArchiveError::Read)?;
    let guard = store.write_guard()?;
    let mut files: HashMap<String, Entry> = HashMap::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut archive = tar::Archive::new(input);
    let mut buf = vec![0u8; COPY_BUF];
    let mut last_path = String::from("(start of archive)");
    for entry in archive.entries().map_err(ArchiveError::Tar)? {
        let mut entry = entry.map_err(|e| tar_error(e, &last_path))?;
        let path = clean_path(&String::from_utf8_lossy(&entry.path_bytes()));
        last_path.clone_from(&path);
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            if let Some(target) = entry.link_name_bytes() {
                let target = String::from_utf8_lossy(&target).into_owned();
                let resolved = if kind.is_symlink() {
                    resolve_relative(&path, &target)
                } else {
                    clean_path(&target)
                };
                links.insert(path, resolved);
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let size = entry.size();
        let archive_json = matches!(
            path.as_str(),
            "manifest.json" | "index.json" | "repositories"
        ) || (path.ends_with(".json") && !path.contains('/'));
        let content = if size <= IN_MEMORY_LIMIT || (archive_json && size <= ARCHIVE_JSON_LIMIT) {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| truncated(&path, e))?;
            Content::Memory(bytes)
        } else {
            let mut ingest = store.ingest()?;
            let mut analyzer = LayerAnalyzer::new();
            let mut done = 0u64;
            loop {
                let n = match entry.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(truncated(&path, e)),
                };
                ingest.write_all(&buf[..n]).map_err(ArchiveError::Write)?;
                analyzer.write_all(&buf[..n]).map_err(ArchiveError::Write)?;
                done += n as u64;
                progress(LoadEvent::Layer {
                    name: path.clone(),
                    done,
                    total: size,
                });
            }
            if done != size {
                return Err(ArchiveError::Truncated { entry: path });
            }
            Content::Pending {
                blob: ingest.finish_unsynced()?,
                facts: Box::new(analyzer.finish()),
            }
        };
        let (digest, size) = match &content {
            Content::Memory(b) => (Digest::of(b), b.len() as u64),
            Content::Pending { blob, .. } => (blob.digest().clone(), blob.size()),
        };
        files.insert(
            path,
            Entry {
                content,
                digest,
                size,
            },
        );
    }

    let resolve = |path: &str| -> Option<&Entry> {
        let mut p = clean_path(path);
        for _ in 0..16 {
            if let Some(e) = files.get(&p) {
                return Some(e);
            }
            p = links.get(&p)?.clone();
        }
        None
    };

    let candidates = if let Some(entry) = files.get("manifest.json") {
        docker_candidates(entry, &resolve)?
    } else if let Some(entry) = files.get("index.json") {
        oci_candidates(entry, &resolve)?
    } else {
        return Err(ArchiveError::NotAnArchive);
    };
    if candidates.is_empty() {
        return Err(ArchiveError::Empty);
    }

    // Everything checked out: make the blobs visible (in batches synced once each), then the metadata.
    // Every pending blob holds a lock file descriptor, so batches are bounded.
    const BATCH: usize = 256;
    let mut batch: Vec<(PendingBlob, Option<Digest>, Option<u64>)> = Vec::new();
    let mut queued: HashSet<Digest> = HashSet::new();
    for c in &candidates {
        for (path, layer) in &c.layers {
            if queued.insert(layer.blob.clone()) {
                batch.push(take_pending(store, &mut files, &links, path)?);
            }
        }
        for bytes in [&c.config.bytes, &c.manifest.bytes] {
            let digest = Digest::of(bytes);
            if queued.insert(digest.clone()) && !store.has_blob(&digest)? {
                batch.push((
                    pending_from_bytes(store, bytes)?,
                    Some(digest),
                    Some(bytes.len() as u64),
                ));
            }
        }
        if batch.len() >= BATCH {
            store.commit_batch(std::mem::take(&mut batch))?;
        }
    }
    store.commit_batch(batch)?;
    let now = crate::now_nanos();
    let mut loaded = Vec::new();
    for c in candidates {
        let layers: Vec<LayerRecord> = c.layers.into_iter().map(|(_, l)| l).collect();
        let image = record::image_record(&c.config, &c.manifest, layers, now);
        store.put_image(&guard, &image)?;
        for tag in &c.tags {
            let replaced = store
                .set_tag(&tag.to_string(), &image.id)?
                .filter(|old| *old != image.id);
            progress(LoadEvent::Tagged {
                name: tag.clone(),
                id: image.id.clone(),
                replaced,
            });
        }
        loaded.push(LoadedImage {
            id: image.id,
            tags: c.tags,
        });
    }
    Ok(loaded)
}

/// The tar reader reports a short read as "failed to read entire block": that is a truncated archive.
fn tar_error(e: io::Error, last_path: &str) -> ArchiveError {
    if e.kind() == io::ErrorKind::UnexpectedEof
        || e.to_string().contains("failed to read entire block")
    {
        ArchiveError::Truncated {
            entry: format!("the entry after {last_path}"),
        }
    } else {
        ArchiveError::Tar(e)
    }
}

fn truncated(path: &str, e: io::Error) -> ArchiveError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        ArchiveError::Truncated {
            entry: path.to_owned(),
        }
    } else {
        ArchiveError::Read(e)
    }
}

/// The pending blob for an archive entry (written now if it was kept in memory), with what it must be.
fn take_pending(
    store: &Store,
    files: &mut HashMap<String, Entry>,
    links: &HashMap<String, String>,
    path: &str,
) -> Result<(PendingBlob, Option<Digest>, Option<u64>), ArchiveError> {
    let mut p = clean_path(path);
    for _ in 0..16 {
        if files.contains_key(&p) {
            break;
        }
        match links.get(&p) {
            Some(next) => p.clone_from(next),
            None => break,
        }
    }
    let Some(entry) = files.remove(&p) else {
        return Err(ArchiveError::MissingFile {
            path: path.to_owned(),
        });
    };
    let blob = match entry.content {
        Content::Memory(bytes) => pending_from_bytes(store, &bytes)?,
        Content::Pending { blob, .. } => blob,
    };
    Ok((blob, Some(entry.digest), Some(entry.size)))
}

/// Writes bytes to the store's ingest area, unsynced, for [`Store::commit_batch`].
fn pending_from_bytes(store: &Store, bytes: &[u8]) -> Result<PendingBlob, ArchiveError> {
    let mut ingest = store.ingest()?;
    ingest.write_all(bytes).map_err(ArchiveError::Write)?;
    Ok(ingest.finish_unsynced()?)
}

fn read_small<'a>(entry: &'a Entry, path: &str) -> Result<&'a [u8], ArchiveError> {
    match &entry.content {
        Content::Memory(b) => Ok(b),
        Content::Pending { .. } => Err(ArchiveError::TooLarge {
            path: path.to_owned(),
        }),
    }
}

/// The facts of an entry used as a layer, computing them now for small in-memory entries.
fn layer_facts(entry: &Entry) -> LayerFacts {
    match &entry.content {
        Content::Memory(bytes) => analyze_bytes(bytes),
        Content::Pending { facts, .. } => (**facts).clone(),
    }
}

fn layer_record(
    path: &str,
    entry: &Entry,
    declared_media_type: Option<&str>,
) -> Result<LayerRecord, ArchiveError> {
    let facts = layer_facts(entry);
    if let Some(problem) = facts.problem() {
        return Err(ArchiveError::BadLayer {
            path: path.to_owned(),
            problem,
        });
    }
    let media_type = match declared_media_type {
        Some(mt) => mt.to_owned(),
        None => facts
            .compression
            .oci_layer_media_type()
            .map(str::to_owned)
            .ok_or_else(|| ArchiveError::BadLayer {
                path: path.to_owned(),
                problem: format!(
                    "{} compressed layers cannot be stored; use gzip, zstd or none",
                    facts.compression.name()
                ),
            })?,
    };
    Ok(LayerRecord {
        diff_id: facts.diff_id.clone(),
        blob: entry.digest.clone(),
        media_type,
        blob_size: entry.size,
        size: facts.content_size(),
    })
}

fn check_diff_ids(
    config: &RawConfig,
    layers: &[(String, LayerRecord)],
) -> Result<(), ArchiveError> {
    let expected = &config.config.rootfs.diff_ids;
    if expected.len() != layers.len() {
        return Err(ArchiveError::LayerCount {
            config: config.digest.clone(),
            expected: expected.len(),
            found: layers.len(),
        });
    }
    for (i, ((path, layer), want)) in layers.iter().zip(expected).enumerate() {
        if layer.diff_id != *want {
            return Err(ArchiveError::DiffIdMismatch {
                index: i,
                path: path.clone(),
                expected: want.clone(),
                found: layer.diff_id.clone(),
            });
        }
    }
    Ok(())
}

fn docker_candidates<'a>(
    manifest_entry: &Entry,
    resolve: &impl Fn(&str) -> Option<&'a Entry>,
) -> Result<Vec<Candidate>, ArchiveError> {
    let bytes = read_small(manifest_entry, "manifest.json")?;
    let entries: Vec<DockerManifestEntry> =
        serde_json::from_slice(bytes).map_err(|e| ArchiveError::BadJson {
            path: "manifest.json".to_owned(),
            message: e.to_string(),
        })?;
    let mut out = Vec::new();
    for m in entries {
        let config_entry = resolve(&m.config).ok_or_else(|| ArchiveError::MissingFile {
            path: m.config.clone(),
        })?;
        let config =
            RawConfig::parse(read_small(config_entry, &m.config)?.to_vec()).map_err(|e| {
                ArchiveError::BadJson {
                    path: m.config.clone(),
                    message: e.to_string(),
                }
            })?;
        let mut layers = Vec::new();
        for path in &m.layers {
            let entry =
                resolve(path).ok_or_else(|| ArchiveError::MissingFile { path: path.clone() })?;
            layers.push((path.clone(), layer_record(path, entry, None)?));
        }
        check_diff_ids(&config, &layers)?;
        let tags = m
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| {
                Reference::parse_normalized(t)
                    .map(Reference::with_default_tag)
                    .map_err(|e| ArchiveError::BadTag {
                        tag: t.clone(),
                        message: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let manifest = record::synthesize_manifest(&config, layers.iter().map(|(_, l)| l));
        out.push(Candidate {
            config,
            manifest,
            layers,
            tags,
        });
    }
    Ok(out)
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm(), d.hex())
}

/// Finds a blob by descriptor and checks its digest and size.
fn oci_blob<'a>(
    desc: &Descriptor,
    resolve: &impl Fn(&str) -> Option<&'a Entry>,
) -> Result<(&'a Entry, String), ArchiveError> {
    let path = blob_path(&desc.digest);
    let entry = resolve(&path).ok_or_else(|| ArchiveError::MissingBlob {
        digest: desc.digest.clone(),
    })?;
    if entry.digest != desc.digest {
        return Err(ArchiveError::DigestMismatch {
            path,
            expected: desc.digest.clone(),
            found: entry.digest.clone(),
        });
    }
    if entry.size != desc.size {
        return Err(ArchiveError::SizeMismatch {
            digest: desc.digest.clone(),
            expected: desc.size,
            found: entry.size,
        });
    }
    Ok((entry, path))
}

fn oci_candidates<'a>(
    index_entry: &Entry,
    resolve: &impl Fn(&str) -> Option<&'a Entry>,
) -> Result<Vec<Candidate>, ArchiveError> {
    let index = RawManifest::parse(
        read_small(index_entry, "index.json")?.to_vec(),
        Some(media_type::OCI_INDEX),
    )
    .map_err(|e| ArchiveError::BadJson {
        path: "index.json".to_owned(),
        message: e.to_string(),
    })?;
    let Manifest::Index(index) = index.manifest else {
        return Err(ArchiveError::BadJson {
            path: "index.json".to_owned(),
            message: "not an image index".to_owned(),
        });
    };
    let host = Platform::host();
    let mut out: Vec<Candidate> = Vec::new();
    for desc in &index.manifests {
        let names = oci_names(&desc.annotations)?;
        let Some(manifest) = select_manifest(desc, resolve, &host, 0)? else {
            continue;
        };
        let Manifest::Image(image) = &manifest.manifest else {
            continue;
        };
        // The same image listed under several names becomes one candidate with several tags.
        if let Some(existing) = out
            .iter_mut()
            .find(|c| c.manifest.digest == manifest.digest)
        {
            existing.tags.extend(names);
            continue;
        }
        let candidate = oci_image(image, &manifest, resolve)?;
        out.push(Candidate {
            tags: names,
            ..candidate
        });
    }
    Ok(out)
}

/// Names an index entry carries: containerd's full image name, else a ref.name that is a whole reference.
fn oci_names(annotations: &BTreeMap<String, String>) -> Result<Vec<Reference>, ArchiveError> {
    let name = annotations.get("io.containerd.image.name").or_else(|| {
        annotations
            .get("org.opencontainers.image.ref.name")
            .filter(|n| n.contains(':') || n.contains('/'))
    });
    match name {
        None => Ok(Vec::new()),
        Some(n) => Reference::parse_normalized(n)
            .map(|r| vec![r.with_default_tag()])
            .map_err(|e| ArchiveError::BadTag {
                tag: n.clone(),
                message: e.to_string(),
            }),
    }
}

/// Follows an index entry down to the manifest for the host platform.
fn select_manifest<'a>(
    desc: &Descriptor,
    resolve: &impl Fn(&str) -> Option<&'a Entry>,
    host: &Platform,
    depth: u32,
) -> Result<Option<RawManifest>, ArchiveError> {
    if depth > 4 {
        return Err(ArchiveError::BadJson {
            path: blob_path(&desc.digest),
            message: "indexes nest too deeply".into(),
        });
    }
    match media_type::kind(&desc.media_type) {
        Kind::Manifest | Kind::Index => {}
        _ => return Ok(None),
    }
    let (entry, path) = oci_blob(desc, resolve)?;
    let raw = RawManifest::parse(read_small(entry, &path)?.to_vec(), Some(&desc.media_type))
        .map_err(|e| ArchiveError::BadJson {
            path: path.clone(),
            message: e.to_string(),
        })?;
    match &raw.manifest {
        Manifest::Image(m) => {
            // Attestation manifests (BuildKit) are not images.
            if media_type::kind(&m.config.media_type) != Kind::Config {
                return Ok(None);
            }
            Ok(Some(raw))
        }
        Manifest::Index(index) => {
            let chosen = index
                .manifests
                .iter()
                .find(|d| d.platform.as_ref().is_some_and(|p| p.satisfies(host)))
                .or_else(|| index.manifests.iter().find(|d| d.platform.is_none()));
            match chosen {
                Some(d) => select_manifest(d, resolve, host, depth + 1),
                None => Err(ArchiveError::NoMatchingPlatform {
                    index: raw.digest.clone(),
                    platform: host.to_string(),
                }),
            }
        }
    }
}

fn oci_image<'a>(
    image: &ImageManifest,
    manifest: &RawManifest,
    resolve: &impl Fn(&str) -> Option<&'a Entry>,
) -> Result<Candidate, ArchiveError> {
    let (config_entry, config_path) = oci_blob(&image.config, resolve)?;
    let config =
        RawConfig::parse(read_small(config_entry, &config_path)?.to_vec()).map_err(|e| {
            ArchiveError::BadJson {
                path: config_path.clone(),
                message: e.to_string(),
            }
        })?;
    let mut layers = Vec::new();
    for desc in &image.layers {
        if media_type::kind(&desc.media_type) == Kind::Other {
            return Err(ArchiveError::UnknownMediaType {
                digest: desc.digest.clone(),
                media_type: desc.media_type.clone(),
            });
        }
        let (entry, path) = oci_blob(desc, resolve)?;
        layers.push((
            path.clone(),
            layer_record(&path, entry, Some(&desc.media_type))?,
        ));
    }
    check_diff_ids(&config, &layers)?;
    Ok(Candidate {
        config,
        manifest: manifest.clone(),
        layers,
        tags: Vec::new(),
    })
}

/// `./a//b/` → `a/b`.
fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// A symlink target resolved against the directory holding the link.
fn resolve_relative(link_path: &str, target: &str) -> String {
    if target.starts_with('/') {
        return clean_path(target);
    }
    let dir = link_path.rsplit_once('/').map_or("", |(d, _)| d);
    clean_path(&format!("{dir}/{target}"))
}
