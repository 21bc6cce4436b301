//! The registry layout over any [`StorageBackend`]: blobs stored once by digest, repositories holding
//! links to them, resumable uploads, manifests with tags and referrers.
//!
//! Layout (keys relative to the backend root; `<hex>` is a sha256 digest's 64 hex digits):
//!
//! ```text
//! blobs/sha256/<hex[0..2]>/<hex>/data                        the content, written once
//! repositories/<name>/_layers/sha256/<hex>/link              blob <hex> is in <name> (holds "sha256:<hex>")
//! repositories/<name>/_manifests/revisions/sha256/<hex>/link manifest <hex> is in <name>
//! repositories/<name>/_manifests/revisions/sha256/<hex>/mediatype   its media type as pushed
//! repositories/<name>/_manifests/tags/<tag>/current/link     the manifest digest <tag> points at
//! repositories/<name>/_referrers/sha256/<subject hex>/<hex>/link    manifest <hex> names <subject> as subject
//! repositories/<name>/_uploads/<id>/startedat                upload session exists (start time, unix seconds)
//! repositories/<name>/_uploads/<id>/data                     bytes received so far
//! repositories/<name>/_uploads/<id>/hashstate                sha256 state after the last append
//! ```
//!
//! A manifest's bytes are a blob like any other; links are what make content visible in a repository,
//! so deleting from a repository removes links and garbage collection reclaims the blobs.
//!
//! The running digest of an upload is kept across appends: after each append the sha256 state is
//! serialised (sha2's `SerializableState`) to `hashstate` together with the offset it covers, so
//! finishing never re-reads the upload. When the state is missing or does not match the data (an
//! append that failed half way), the data is re-hashed once from the start.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use hoist_spec::manifest::ManifestError;
use hoist_spec::{Descriptor, Digest, Hasher, Manifest, RawManifest};
use sha2::Digest as _;
use sha2::digest::common::hazmat::{SerializableState, SerializedState};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::backend::{ByteRange, ObjectInfo, StorageBackend, StorageError};

/// Why a registry operation failed; each variant maps to one distribution-spec error code.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("blob {digest} is unknown to repository {repo}")]
    BlobUnknown { repo: String, digest: Digest },
    #[error("manifest {reference} is unknown to repository {repo}")]
    ManifestUnknown { repo: String, reference: String },
    #[error("repository {repo} is unknown")]
    RepositoryUnknown { repo: String },
    #[error("upload {id} is unknown to repository {repo}")]
    UploadUnknown { repo: String, id: String },
    #[error("upload {id} is at offset {actual}, the chunk starts at {expected}")]
    UploadOffsetMismatch {
        id: String,
        expected: u64,
        actual: u64,
    },
    #[error("content digest is {found}, expected {expected}")]
    DigestMismatch { expected: Digest, found: Digest },
    #[error("manifest references blob {digest}, which repository {repo} does not have")]
    ManifestBlobUnknown { repo: String, digest: Digest },
    #[error("invalid manifest: {0}")]
    ManifestInvalid(#[from] ManifestError),
    #[error("invalid digest {reference:?}: expected sha256:<64 hex digits>")]
    InvalidDigest { reference: String },
    #[error("invalid tag {tag:?}: expected [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}")]
    InvalidTag { tag: String },
    #[error("stored link {path:?} does not hold a digest: {content:?}")]
    CorruptLink { path: String, content: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A manifest reference from a URL: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestReference {
    Tag(String),
    Digest(Digest),
}

impl ManifestReference {
    /// A digest when it contains `:` (tags cannot), otherwise a validated tag.
    pub fn parse(reference: &str) -> Result<Self, RegistryError> {
        if reference.contains(':') {
            return reference
                .parse()
                .map(Self::Digest)
                .map_err(|_| RegistryError::InvalidDigest {
                    reference: reference.to_owned(),
                });
        }
        validate_tag(reference)?;
        Ok(Self::Tag(reference.to_owned()))
    }
}

impl fmt::Display for ManifestReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tag(tag) => f.write_str(tag),
            Self::Digest(digest) => write!(f, "{digest}"),
        }
    }
}

/// Tags become a path component: the spec's grammar keeps them safe.
fn validate_tag(tag: &str) -> Result<(), RegistryError> {
    let mut bytes = tag.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if first_ok && rest_ok && tag.len() <= 128 {
        Ok(())
    } else {
        Err(RegistryError::InvalidTag {
            tag: tag.to_owned(),
        })
    }
}

/// An upload session id: 32 lowercase hex digits in UUID grouping (8-4-4-4-12).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadId(String);

impl UploadId {
    /// Accepts an id from a URL only in the form this storage generates, so it is a safe path
    /// component; anything else is an unknown upload.
    pub fn parse(repo: &str, id: &str) -> Result<Self, RegistryError> {
        let groups: Vec<&str> = id.split('-').collect();
        let shaped = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups.iter().all(|g| {
                g.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
        if shaped {
            Ok(Self(id.to_owned()))
        } else {
            Err(RegistryError::UploadUnknown {
                repo: repo.to_owned(),
                id: id.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored manifest as pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestContent {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

pub(super) fn blob_data_key(digest: &Digest) -> String {
    let hex = digest.hex();
    format!("blobs/sha256/{}/{hex}/data", &hex[..2])
}

/// Where garbage collection moves a blob's data while it makes sure nobody linked it (`gc`).
pub(super) fn blob_quarantine_key(digest: &Digest) -> String {
    let hex = digest.hex();
    format!("blobs/sha256/{}/{hex}/collecting", &hex[..2])
}

pub(super) fn repo_key(repo: &str) -> String {
    format!("repositories/{repo}")
}

pub(super) fn layer_link_key(repo: &str, digest: &Digest) -> String {
    format!("repositories/{repo}/_layers/sha256/{}/link", digest.hex())
}

pub(super) fn revisions_key(repo: &str) -> String {
    format!("repositories/{repo}/_manifests/revisions/sha256")
}

fn revision_dir_key(repo: &str, digest: &Digest) -> String {
    format!("{}/{}", revisions_key(repo), digest.hex())
}

pub(super) fn tags_key(repo: &str) -> String {
    format!("repositories/{repo}/_manifests/tags")
}

fn tag_link_key(repo: &str, tag: &str) -> String {
    format!("{}/{tag}/current/link", tags_key(repo))
}

fn referrers_key(repo: &str, subject: &Digest) -> String {
    format!("repositories/{repo}/_referrers/sha256/{}", subject.hex())
}

fn upload_key(repo: &str, id: &UploadId) -> String {
    format!("repositories/{repo}/_uploads/{id}")
}

/// The registry's view of a backend. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct RegistryStorage<B> {
    backend: B,
    upload_counter: AtomicU64,
    /// Serialises appends to one upload so two concurrent PATCHes cannot interleave; entries are
    /// removed when the upload finishes or is cancelled.
    upload_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl<B: StorageBackend> RegistryStorage<B> {
    pub fn new(backend: B) -> Self {
        Self {
            backend,
            upload_counter: AtomicU64::new(0),
            upload_locks: Mutex::new(HashMap::new()),
        }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub(super) async fn read_link(&self, key: &str) -> Result<Digest, RegistryError> {
        let bytes = self.backend.get(key).await?;
        let text = String::from_utf8_lossy(&bytes);
        text.trim().parse().map_err(|_| RegistryError::CorruptLink {
            path: key.to_owned(),
            content: text.into_owned(),
        })
    }

    async fn write_link(&self, key: &str, digest: &Digest) -> Result<(), RegistryError> {
        Ok(self.backend.put(key, digest.to_string().as_bytes()).await?)
    }

    /// Maps a backend NotFound to the registry error `unknown` builds.
    fn or_unknown<T>(
        result: Result<T, StorageError>,
        unknown: impl FnOnce() -> RegistryError,
    ) -> Result<T, RegistryError> {
        match result {
            Err(StorageError::NotFound { .. }) => Err(unknown()),
            other => Ok(other?),
        }
    }

    // ---- blobs ----

    /// Size and time of a blob, only when it is linked into `repo`.
    pub async fn blob_stat(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<ObjectInfo, RegistryError> {
        let unknown = || RegistryError::BlobUnknown {
            repo: repo.to_owned(),
            digest: digest.clone(),
        };
        Self::or_unknown(
            self.backend.stat(&layer_link_key(repo, digest)).await,
            unknown,
        )?;
        Self::or_unknown(self.backend.stat(&blob_data_key(digest)).await, unknown)
    }

    /// A stream over a blob linked into `repo`, or over `range` of it.
    pub async fn blob_read(
        &self,
        repo: &str,
        digest: &Digest,
        range: Option<ByteRange>,
    ) -> Result<B::Reader, RegistryError> {
        self.blob_stat(repo, digest).await?;
        Self::or_unknown(
            self.backend.reader(&blob_data_key(digest), range).await,
            || RegistryError::BlobUnknown {
                repo: repo.to_owned(),
                digest: digest.clone(),
            },
        )
    }

    /// Whether the blob store holds `digest`, in any repository.
    pub async fn blob_exists(&self, digest: &Digest) -> Result<bool, RegistryError> {
        match self.backend.stat(&blob_data_key(digest)).await {
            Ok(_) => Ok(true),
            Err(StorageError::NotFound { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Links an existing blob into `repo` (cross-repository mount). The link is written before the
    /// blob is checked so that a concurrent garbage collection sees a fresh link (see `gc`).
    pub async fn link_blob(&self, repo: &str, digest: &Digest) -> Result<(), RegistryError> {
        let link = layer_link_key(repo, digest);
        self.write_link(&link, digest).await?;
        if self.blob_exists(digest).await? {
            Ok(())
        } else {
            Self::or_unknown(self.backend.delete(&link).await, || {
                RegistryError::BlobUnknown {
                    repo: repo.to_owned(),
                    digest: digest.clone(),
                }
            })?;
            Err(RegistryError::BlobUnknown {
                repo: repo.to_owned(),
                digest: digest.clone(),
            })
        }
    }

    /// Unlinks a blob from `repo`; the data stays until garbage collection.
    pub async fn delete_blob(&self, repo: &str, digest: &Digest) -> Result<(), RegistryError> {
        let link = layer_link_key(repo, digest);
        Self::or_unknown(self.backend.delete(&link).await, || {
            RegistryError::BlobUnknown {
                repo: repo.to_owned(),
                digest: digest.clone(),
            }
        })
    }

    // ---- uploads ----

    /// Opens an upload session in `repo`.
    pub async fn start_upload(&self, repo: &str) -> Result<UploadId, RegistryError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut seed = Hasher::new();
        seed.update(&now.as_nanos().to_le_bytes());
        seed.update(
            &self
                .upload_counter
                .fetch_add(1, Ordering::Relaxed)
                .to_le_bytes(),
        );
        seed.update(&std::process::id().to_le_bytes());
        seed.update(repo.as_bytes());
        let hex = seed.finish();
        let hex = hex.hex();
        let id = UploadId(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        ));
        let dir = upload_key(repo, &id);
        self.backend
            .put(
                &format!("{dir}/startedat"),
                now.as_secs().to_string().as_bytes(),
            )
            .await?;
        Ok(id)
    }

    fn upload_lock(&self, repo: &str, id: &UploadId) -> Arc<tokio::sync::Mutex<()>> {
        let key = upload_key(repo, id);
        let mut locks = self
            .upload_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(locks.entry(key).or_default())
    }

    /// Drops the lock entry when nobody else holds or awaits it, so ids that clients invent (or
    /// abandon) do not accumulate.
    fn release_upload_lock(&self, repo: &str, id: &UploadId, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self
            .upload_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Clones are only made under this map lock: the map and `lock` are the last two holders.
        if Arc::strong_count(&lock) == 2 {
            locks.remove(&upload_key(repo, id));
        }
    }

    /// Runs `work` (a future not yet polled) while holding the upload's lock, then releases the entry.
    async fn with_upload_lock<T>(
        &self,
        repo: &str,
        id: &UploadId,
        work: impl Future<Output = T>,
    ) -> T {
        let lock = self.upload_lock(repo, id);
        let result = {
            let _guard = lock.lock().await;
            work.await
        };
        self.release_upload_lock(repo, id, lock);
        result
    }

    /// Bytes received so far by an upload.
    pub async fn upload_status(&self, repo: &str, id: &UploadId) -> Result<u64, RegistryError> {
        let dir = upload_key(repo, id);
        Self::or_unknown(self.backend.stat(&format!("{dir}/startedat")).await, || {
            RegistryError::UploadUnknown {
                repo: repo.to_owned(),
                id: id.to_string(),
            }
        })?;
        match self.backend.stat(&format!("{dir}/data")).await {
            Ok(info) => Ok(info.size),
            Err(StorageError::NotFound { .. }) => Ok(0),
            Err(err) => Err(err.into()),
        }
    }

    /// Appends a chunk to an upload. When `expected_offset` is given (a chunk with Content-Range) it
    /// must equal the bytes received so far, else [`RegistryError::UploadOffsetMismatch`] (HTTP 416).
    /// Returns the new offset.
    pub async fn append_upload<R: AsyncRead + Send + Unpin>(
        &self,
        repo: &str,
        id: &UploadId,
        expected_offset: Option<u64>,
        chunk: R,
    ) -> Result<u64, RegistryError> {
        self.with_upload_lock(
            repo,
            id,
            self.append_checked(repo, id, expected_offset, chunk),
        )
        .await
    }

    async fn append_checked<R: AsyncRead + Send + Unpin>(
        &self,
        repo: &str,
        id: &UploadId,
        expected_offset: Option<u64>,
        chunk: R,
    ) -> Result<u64, RegistryError> {
        let offset = self.upload_status(repo, id).await?;
        if let Some(expected) = expected_offset
            && expected != offset
        {
            return Err(RegistryError::UploadOffsetMismatch {
                id: id.to_string(),
                expected,
                actual: offset,
            });
        }
        self.append_locked(repo, id, offset, chunk).await
    }

    async fn append_locked<R: AsyncRead + Send + Unpin>(
        &self,
        repo: &str,
        id: &UploadId,
        offset: u64,
        chunk: R,
    ) -> Result<u64, RegistryError> {
        let dir = upload_key(repo, id);
        let mut state = self.load_hash_state(&dir, offset).await?;
        let hashing = HashingReader {
            inner: chunk,
            state: &mut state,
            hashed: 0,
        };
        let mut hashing = hashing;
        let appended = self
            .backend
            .append(&format!("{dir}/data"), &mut hashing)
            .await;
        let hashed = hashing.hashed;
        let new_offset = match appended {
            Ok(size) => size,
            Err(err) => {
                // The data may hold part of the chunk; drop the state so the next step re-hashes.
                let _ = self.backend.delete(&format!("{dir}/hashstate")).await;
                return Err(err.into());
            }
        };
        if new_offset == offset + hashed {
            self.save_hash_state(&dir, new_offset, &state).await?;
        } else {
            let _ = self.backend.delete(&format!("{dir}/hashstate")).await;
        }
        Ok(new_offset)
    }

    /// The sha256 state covering the first `offset` bytes of the upload: the saved one when it covers
    /// exactly that, otherwise re-hashed from the data.
    async fn load_hash_state(&self, dir: &str, offset: u64) -> Result<sha2::Sha256, RegistryError> {
        if let Ok(saved) = self.backend.get(&format!("{dir}/hashstate")).await
            && let Some((covered, state)) = decode_hash_state(&saved)
            && covered == offset
        {
            return Ok(state);
        }
        let mut state = sha2::Sha256::new();
        if offset == 0 {
            return Ok(state);
        }
        let mut reader = self
            .backend
            .reader(
                &format!("{dir}/data"),
                Some(ByteRange {
                    offset: 0,
                    len: offset,
                }),
            )
            .await?;
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let n = reader
                .read(&mut buffer)
                .await
                .map_err(|source| StorageError::Io {
                    path: format!("{dir}/data").into(),
                    source,
                })?;
            if n == 0 {
                break;
            }
            state.update(&buffer[..n]);
        }
        Ok(state)
    }

    async fn save_hash_state(
        &self,
        dir: &str,
        offset: u64,
        state: &sha2::Sha256,
    ) -> Result<(), RegistryError> {
        let mut encoded = offset.to_le_bytes().to_vec();
        encoded.extend_from_slice(state.serialize().as_slice());
        Ok(self
            .backend
            .put(&format!("{dir}/hashstate"), &encoded)
            .await?)
    }

    /// Appends `trailing` (possibly empty), checks the digest of the whole upload against `expected`,
    /// moves it into the blob store (an existing blob wins) and links it into `repo`. On a digest
    /// mismatch the upload is discarded.
    pub async fn finish_upload<R: AsyncRead + Send + Unpin>(
        &self,
        repo: &str,
        id: &UploadId,
        expected: &Digest,
        trailing: R,
    ) -> Result<Digest, RegistryError> {
        self.with_upload_lock(repo, id, self.finish_locked(repo, id, expected, trailing))
            .await
    }

    async fn finish_locked<R: AsyncRead + Send + Unpin>(
        &self,
        repo: &str,
        id: &UploadId,
        expected: &Digest,
        trailing: R,
    ) -> Result<Digest, RegistryError> {
        let offset = self.upload_status(repo, id).await?;
        let offset = self.append_locked(repo, id, offset, trailing).await?;
        let dir = upload_key(repo, id);
        let state = self.load_hash_state(&dir, offset).await?;
        let found = Digest::from_sha256_bytes(state.finalize().into());
        if &found != expected {
            self.cancel_upload(repo, id).await?;
            return Err(RegistryError::DigestMismatch {
                expected: expected.clone(),
                found,
            });
        }
        // Link first: a concurrent garbage collection then sees a fresh link and keeps the blob.
        self.write_link(&layer_link_key(repo, expected), expected)
            .await?;
        // `append_locked` created the data object even when every chunk was empty.
        if !self.blob_exists(expected).await? {
            self.backend
                .rename(&format!("{dir}/data"), &blob_data_key(expected))
                .await?;
        }
        self.cancel_upload(repo, id).await?;
        Ok(found)
    }

    /// Discards an upload session and its data.
    pub async fn cancel_upload(&self, repo: &str, id: &UploadId) -> Result<(), RegistryError> {
        let result = self.backend.delete_prefix(&upload_key(repo, id)).await;
        Self::or_unknown(result, || RegistryError::UploadUnknown {
            repo: repo.to_owned(),
            id: id.to_string(),
        })
    }

    // ---- manifests ----

    /// Stores a manifest under a tag or its digest. Every blob it names (config, layers) must be in
    /// `repo`, and every child of an index must be a manifest of `repo`, else
    /// [`RegistryError::ManifestBlobUnknown`]; a digest reference must match the bytes. The subject, if
    /// any, need not exist yet (the spec allows pushing referrers first).
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &ManifestReference,
        bytes: Vec<u8>,
        media_type: Option<&str>,
    ) -> Result<Digest, RegistryError> {
        let raw = RawManifest::parse(bytes, media_type)?;
        if let ManifestReference::Digest(expected) = reference
            && expected != &raw.digest
        {
            return Err(RegistryError::DigestMismatch {
                expected: expected.clone(),
                found: raw.digest,
            });
        }
        let missing = |digest: &Digest| RegistryError::ManifestBlobUnknown {
            repo: repo.to_owned(),
            digest: digest.clone(),
        };
        match &raw.manifest {
            Manifest::Image(image) => {
                for descriptor in std::iter::once(&image.config).chain(&image.layers) {
                    // Link first, blob second: rewriting the link refreshes its time, and a garbage
                    // collection that moved the blob aside re-reads links before deleting it, so
                    // either this check sees the blob or the collection sees the fresh link (`gc`).
                    let link = layer_link_key(repo, &descriptor.digest);
                    Self::or_unknown(self.backend.stat(&link).await, || {
                        missing(&descriptor.digest)
                    })?;
                    self.write_link(&link, &descriptor.digest).await?;
                    if !self.blob_exists(&descriptor.digest).await? {
                        return Err(missing(&descriptor.digest));
                    }
                }
            }
            Manifest::Index(index) => {
                for child in &index.manifests {
                    let link = format!("{}/link", revision_dir_key(repo, &child.digest));
                    Self::or_unknown(self.backend.stat(&link).await, || missing(&child.digest))?;
                }
            }
        }
        let digest = raw.digest.clone();
        // Written even when present: a fresh time keeps a concurrent garbage collection from
        // deleting bytes this manifest is about to be linked to (`gc`).
        self.backend
            .put(&blob_data_key(&digest), &raw.bytes)
            .await?;
        let revision = revision_dir_key(repo, &digest);
        self.backend
            .put(&format!("{revision}/mediatype"), raw.media_type.as_bytes())
            .await?;
        self.write_link(&format!("{revision}/link"), &digest)
            .await?;
        if let Some(subject) = subject_of(&raw.manifest) {
            let key = format!(
                "{}/{}/link",
                referrers_key(repo, &subject.digest),
                digest.hex()
            );
            self.write_link(&key, &digest).await?;
        }
        if let ManifestReference::Tag(tag) = reference {
            self.write_link(&tag_link_key(repo, tag), &digest).await?;
        }
        Ok(digest)
    }

    /// The digest a reference names in `repo`, when the manifest is there.
    pub async fn resolve_manifest(
        &self,
        repo: &str,
        reference: &ManifestReference,
    ) -> Result<Digest, RegistryError> {
        let unknown = || RegistryError::ManifestUnknown {
            repo: repo.to_owned(),
            reference: reference.to_string(),
        };
        let digest = match reference {
            ManifestReference::Digest(digest) => digest.clone(),
            ManifestReference::Tag(tag) => match self.read_link(&tag_link_key(repo, tag)).await {
                Err(RegistryError::Storage(StorageError::NotFound { .. })) => {
                    return Err(unknown());
                }
                other => other?,
            },
        };
        let link = format!("{}/link", revision_dir_key(repo, &digest));
        Self::or_unknown(self.backend.stat(&link).await, unknown)?;
        Ok(digest)
    }

    /// A manifest's bytes, media type and digest.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &ManifestReference,
    ) -> Result<ManifestContent, RegistryError> {
        let unknown = || RegistryError::ManifestUnknown {
            repo: repo.to_owned(),
            reference: reference.to_string(),
        };
        let digest = match reference {
            ManifestReference::Digest(digest) => digest.clone(),
            ManifestReference::Tag(tag) => match self.read_link(&tag_link_key(repo, tag)).await {
                Err(RegistryError::Storage(StorageError::NotFound { .. })) => {
                    return Err(unknown());
                }
                other => other?,
            },
        };
        // The revision link proves the manifest belongs to this repository; the three reads go to
        // the backend together (one thread hop for the filesystem).
        let revision = revision_dir_key(repo, &digest);
        let link = format!("{revision}/link");
        let media_type_key = format!("{revision}/mediatype");
        let data_key = blob_data_key(&digest);
        let mut results = self
            .backend
            .get_many(&[&link, &data_key, &media_type_key])
            .await
            .into_iter();
        let mut next = || {
            results
                .next()
                .unwrap_or(Err(StorageError::NotFound { path: link.clone() }))
        };
        Self::or_unknown(next(), unknown)?;
        let bytes = Self::or_unknown(next(), unknown)?;
        let media_type = Self::or_unknown(next(), unknown)?;
        Ok(ManifestContent {
            bytes,
            media_type: String::from_utf8_lossy(&media_type).into_owned(),
            digest,
        })
    }

    /// Removes a manifest from `repo`, with the tags pointing at it and its referrer entry.
    pub async fn delete_manifest(&self, repo: &str, digest: &Digest) -> Result<(), RegistryError> {
        let reference = ManifestReference::Digest(digest.clone());
        let content = self.get_manifest(repo, &reference).await?;
        if let Ok(raw) = RawManifest::parse(content.bytes, Some(&content.media_type))
            && let Some(subject) = subject_of(&raw.manifest)
        {
            let key = format!("{}/{}", referrers_key(repo, &subject.digest), digest.hex());
            ignore_not_found(self.backend.delete_prefix(&key).await)?;
        }
        for tag in self.tags(repo).await? {
            if self
                .read_link(&tag_link_key(repo, &tag))
                .await
                .ok()
                .as_ref()
                == Some(digest)
            {
                ignore_not_found(
                    self.backend
                        .delete_prefix(&format!("{}/{tag}", tags_key(repo)))
                        .await,
                )?;
            }
        }
        Self::or_unknown(
            self.backend
                .delete_prefix(&revision_dir_key(repo, digest))
                .await,
            || RegistryError::ManifestUnknown {
                repo: repo.to_owned(),
                reference: digest.to_string(),
            },
        )
    }

    /// Removes a tag; the manifest stays.
    pub async fn delete_tag(&self, repo: &str, tag: &str) -> Result<(), RegistryError> {
        validate_tag(tag)?;
        Self::or_unknown(
            self.backend
                .delete_prefix(&format!("{}/{tag}", tags_key(repo)))
                .await,
            || RegistryError::ManifestUnknown {
                repo: repo.to_owned(),
                reference: tag.to_owned(),
            },
        )
    }

    /// The tags of `repo`, sorted.
    pub async fn tags(&self, repo: &str) -> Result<Vec<String>, RegistryError> {
        match self.backend.list(&tags_key(repo)).await {
            Ok(tags) => Ok(tags),
            Err(StorageError::NotFound { .. }) => {
                Self::or_unknown(self.backend.list(&repo_key(repo)).await, || {
                    RegistryError::RepositoryUnknown {
                        repo: repo.to_owned(),
                    }
                })?;
                Ok(Vec::new())
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Every repository holding manifests, sorted (names may contain `/`).
    pub async fn catalog(&self) -> Result<Vec<String>, RegistryError> {
        self.repositories_with(|marker| marker == "_manifests")
            .await
    }

    /// Repository names having a child marker (`_layers`, `_manifests`, ...) that `wanted` accepts,
    /// sorted.
    pub(super) async fn repositories_with(
        &self,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, RegistryError> {
        let mut repos = Vec::new();
        let mut pending = vec![String::new()];
        while let Some(name) = pending.pop() {
            let key = if name.is_empty() {
                "repositories".to_owned()
            } else {
                repo_key(&name)
            };
            let children = match self.backend.list(&key).await {
                Ok(children) => children,
                Err(StorageError::NotFound { .. }) => continue,
                Err(err) => return Err(err.into()),
            };
            let mut counted = false;
            for child in children {
                if child.starts_with('_') {
                    // Repository path components never start with `_`; markers always do.
                    if !counted && !name.is_empty() && wanted(&child) {
                        repos.push(name.clone());
                        counted = true;
                    }
                } else {
                    pending.push(if name.is_empty() {
                        child
                    } else {
                        format!("{name}/{child}")
                    });
                }
            }
        }
        repos.sort();
        Ok(repos)
    }

    /// Descriptors of the manifests in `repo` whose subject is `subject`, optionally only those of
    /// `artifact_type`, sorted by digest.
    pub async fn referrers(
        &self,
        repo: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, RegistryError> {
        let entries = match self.backend.list(&referrers_key(repo, subject)).await {
            Ok(entries) => entries,
            Err(StorageError::NotFound { .. }) => Vec::new(),
            Err(err) => return Err(err.into()),
        };
        let mut descriptors = Vec::new();
        for hex in entries {
            let Ok(digest) = Digest::from_hex(&hex) else {
                continue;
            };
            let content = match self
                .get_manifest(repo, &ManifestReference::Digest(digest))
                .await
            {
                Ok(content) => content,
                // Deleted since the entry was written.
                Err(RegistryError::ManifestUnknown { .. }) => continue,
                Err(err) => return Err(err),
            };
            let size = content.bytes.len() as u64;
            let raw = RawManifest::parse(content.bytes, Some(&content.media_type))?;
            let (declared, annotations) = match &raw.manifest {
                Manifest::Image(image) => (
                    image
                        .artifact_type
                        .clone()
                        .or_else(|| Some(image.config.media_type.clone())),
                    image.annotations.clone(),
                ),
                Manifest::Index(index) => (index.artifact_type.clone(), index.annotations.clone()),
            };
            if artifact_type.is_some_and(|wanted| declared.as_deref() != Some(wanted)) {
                continue;
            }
            let mut descriptor = Descriptor::new(raw.media_type, raw.digest, size);
            descriptor.artifact_type = declared;
            descriptor.annotations = annotations;
            descriptors.push(descriptor);
        }
        Ok(descriptors)
    }
}

pub(super) fn subject_of(manifest: &Manifest) -> Option<&Descriptor> {
    match manifest {
        Manifest::Image(image) => image.subject.as_ref(),
        Manifest::Index(index) => index.subject.as_ref(),
    }
}

pub(super) fn ignore_not_found(result: Result<(), StorageError>) -> Result<(), StorageError> {
    match result {
        Err(StorageError::NotFound { .. }) => Ok(()),
        other => other,
    }
}

fn decode_hash_state(saved: &[u8]) -> Option<(u64, sha2::Sha256)> {
    let (offset, state) = saved.split_first_chunk::<8>()?;
    let state = SerializedState::<sha2::Sha256>::try_from(state).ok()?;
    let state = sha2::Sha256::deserialize(&state).ok()?;
    Some((u64::from_le_bytes(*offset), state))
}

/// Hashes bytes as they stream through to the backend.
struct HashingReader<'a, R> {
    inner: R,
    state: &'a mut sha2::Sha256,
    hashed: u64,
}

impl<R: AsyncRead + Unpin> AsyncRead for HashingReader<'_, R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            let fresh = &buf.filled()[before..];
            this.state.update(fresh);
            this.hashed += fresh.len() as u64;
        }
        polled
    }
}
