//! Content-addressed blobs: ingest into a temporary file while hashing, verify, then publish by an atomic
//! rename into `blobs/sha256/<hex>` (containerd's content store is the model).
//!
//! Nothing is visible under a digest name before its bytes were hashed, checked against what the caller
//! expected, synced, and renamed into place. Dropping an [`Ingest`] or [`PendingBlob`] removes its
//! temporary file.

use std::fs::{self, File, Permissions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hoist_spec::{Digest, Hasher};

use crate::Store;
use crate::error::{Result, StoreError, io_error};
use crate::lock::WriteGuard;

/// Buffer size for writing ingests and for hashing files: large enough that syscalls are not the cost.
const IO_BUFFER: usize = 1 << 20;

/// Committed blobs are read-only so that nothing in hoist can change them in place by mistake.
const BLOB_MODE: u32 = 0o444;

/// The file an ingest writes: removed when dropped, unless it is a resumable download's partial file that
/// has not been completed (the next attempt continues it).
#[derive(Debug)]
struct IngestFile {
    path: PathBuf,
    remove_on_drop: bool,
}

impl IngestFile {
    fn persist(mut self, target: &Path) -> io::Result<()> {
        fs::rename(&self.path, target)?;
        self.remove_on_drop = false;
        Ok(())
    }
}

impl std::ops::Deref for IngestFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for IngestFile {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for IngestFile {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Where an interrupted download of `digest` is kept until it is resumed.
fn partial_name(digest: &Digest) -> String {
    format!("partial-{}", digest.hex())
}

/// What [`Store::resume_ingest`] found.
#[derive(Debug)]
pub enum Resumed {
    /// Write the rest, from [`Ingest::written`] on.
    Ingest(Box<Ingest>),
    /// Another writer finished the blob while this one waited for it.
    Stored,
}

/// What the caller said the blob must be, given up front.
#[derive(Debug, Clone)]
struct Expectation {
    digest: Digest,
    size: Option<u64>,
}

/// A blob being written. Implements [`Write`]; hashes everything written. Holds the store's shared lock
/// (its own [`WriteGuard`]) so garbage collection leaves its temporary file alone.
#[derive(Debug)]
pub struct Ingest {
    // Field order is drop order: the temporary file is unlinked before the writer flushes into it.
    temp: IngestFile,
    writer: BufWriter<File>,
    hasher: Hasher,
    expected: Option<Expectation>,
    blobs_dir: PathBuf,
    guard: WriteGuard,
}

/// A fully written blob that is not yet visible. Commit it, or drop it to discard it. It is synced to
/// disk unless it came from [`Ingest::finish_unsynced`]; [`Store::commit_batch`] then syncs a whole batch
/// at once before any of it becomes visible.
#[derive(Debug)]
pub struct PendingBlob {
    temp: IngestFile,
    synced: bool,
    digest: Digest,
    size: u64,
    expected: Option<Expectation>,
    blobs_dir: PathBuf,
    _guard: WriteGuard,
}

impl Ingest {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.hasher.len()
    }

    /// The temporary file the bytes go to.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Flushes and syncs the temporary file and returns the blob with its digest and size, still invisible.
    pub fn finish(self) -> Result<PendingBlob> {
        self.finish_with(true)
    }

    /// Like [`Ingest::finish`] without the sync: for many blobs committed together with
    /// [`Store::commit_batch`], which syncs them all with one call before any becomes visible.
    pub fn finish_unsynced(self) -> Result<PendingBlob> {
        self.finish_with(false)
    }

    fn finish_with(mut self, sync: bool) -> Result<PendingBlob> {
        let path = self.temp.to_path_buf();
        self.writer.flush().map_err(io_error("write", &path))?;
        let file = self.writer.get_ref();
        file.set_permissions(Permissions::from_mode(BLOB_MODE))
            .map_err(io_error("set permissions of", &path))?;
        if sync {
            file.sync_all().map_err(io_error("sync", &path))?;
        }
        let size = self.hasher.len();
        // Complete now: a partial file that fails verification is useless to a later attempt.
        self.temp.remove_on_drop = true;
        Ok(PendingBlob {
            temp: self.temp,
            synced: sync,
            digest: self.hasher.finish(),
            size,
            expected: self.expected,
            blobs_dir: self.blobs_dir,
            _guard: self.guard,
        })
    }

    /// [`Ingest::finish`] then [`PendingBlob::commit`], checking what was given to
    /// [`Store::ingest_expecting`] (or nothing, for a plain [`Store::ingest`]).
    pub fn commit(self) -> Result<Digest> {
        self.finish()?.commit(None, None)
    }
}

impl Write for Ingest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(Expectation {
            digest,
            size: Some(limit),
        }) = &self.expected
        {
            let total = self.hasher.len().saturating_add(buf.len() as u64);
            if total > *limit {
                // Refuse early: a source that sends more than it announced should not fill the disk.
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob {digest} is larger than the expected {limit} bytes (at least {total})"
                    ),
                ));
            }
        }
        let written = self.writer.write(buf)?;
        self.hasher.update(buf.get(..written).unwrap_or(buf));
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

impl PendingBlob {
    /// The file holding the content until it is committed (readable, e.g. to upload it first).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The digest of the content.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The content length in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Verifies the content against `expected` and `expected_size` (and anything given up front to
    /// [`Store::ingest_expecting`]) and makes the blob visible under its digest. If the store already has
    /// the blob, the temporary file is simply discarded. Hold a [`WriteGuard`] from before this call until
    /// metadata references the blob, or a concurrent GC may delete it in between.
    pub fn commit(self, expected: Option<&Digest>, expected_size: Option<u64>) -> Result<Digest> {
        if !self.synced {
            File::open(&self.temp)
                .and_then(|f| f.sync_all())
                .map_err(io_error("sync", &*self.temp))?;
        }
        let blobs_dir = self.blobs_dir.clone();
        let digest = self.publish(expected, expected_size)?;
        // The rename is durable only once the directory entry is.
        sync_dir(&blobs_dir)?;
        Ok(digest)
    }

    /// Verifies and renames into place; the caller makes the directory durable.
    fn publish(self, expected: Option<&Digest>, expected_size: Option<u64>) -> Result<Digest> {
        let up_front = self.expected.as_ref();
        let checks = [
            (expected, expected_size),
            (up_front.map(|e| &e.digest), up_front.and_then(|e| e.size)),
        ];
        for (digest, size) in checks {
            if let Some(size) = size
                && size != self.size
            {
                let digest = digest.unwrap_or(&self.digest).clone();
                return Err(StoreError::SizeMismatch {
                    digest,
                    expected: size,
                    found: self.size,
                });
            }
            if let Some(digest) = digest
                && *digest != self.digest
            {
                return Err(StoreError::DigestMismatch {
                    expected: digest.clone(),
                    found: self.digest,
                });
            }
        }
        let target = self.blobs_dir.join(self.digest.hex());
        match fs::symlink_metadata(&target) {
            // Same name, same content: keep the existing file, drop ours (done when `self.temp` drops).
            Ok(_) => return Ok(self.digest),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("inspect", &target)(e)),
        }
        self.temp
            .persist(&target)
            .map_err(io_error("rename ingested blob to", &target))?;
        Ok(self.digest)
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("sync directory", dir))
}

/// Streams `reader` through a hasher with `buffer`, returning the digest and byte count.
pub(crate) fn hash_reader(mut reader: impl Read, buffer: &mut [u8]) -> io::Result<(Digest, u64)> {
    let mut hasher = Hasher::new();
    loop {
        match reader.read(buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(buffer.get(..n).unwrap_or(buffer)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = hasher.len();
    Ok((hasher.finish(), len))
}

pub(crate) fn io_buffer() -> Vec<u8> {
    vec![0; IO_BUFFER]
}

impl Store {
    /// Commits many pending blobs with two syncs in all instead of two each: one `syncfs` makes every
    /// blob's content durable, then all are verified and renamed into place, then one directory sync
    /// makes the names durable. A blob is never visible before its content is on disk, as with
    /// [`PendingBlob::commit`]. Each entry is `(blob, expected digest, expected size)`. On an error the
    /// blobs already renamed stay (they are valid, unreferenced, and GC removes them) and the rest are
    /// discarded.
    pub fn commit_batch(
        &self,
        blobs: Vec<(PendingBlob, Option<Digest>, Option<u64>)>,
    ) -> Result<Vec<Digest>> {
        if blobs.iter().any(|(b, _, _)| !b.synced) {
            let dir = File::open(&self.ingest_dir).map_err(io_error("open", &self.ingest_dir))?;
            rustix::fs::syncfs(&dir)
                .map_err(|e| io_error("sync the file system of", &self.ingest_dir)(e.into()))?;
        }
        let mut digests = Vec::with_capacity(blobs.len());
        for (blob, digest, size) in blobs {
            digests.push(blob.publish(digest.as_ref(), size)?);
        }
        sync_dir(&self.blobs_dir)?;
        Ok(digests)
    }

    /// Starts writing a blob whose digest is not known in advance.
    pub fn ingest(&self) -> Result<Ingest> {
        self.start_ingest(None)
    }

    /// Starts writing a blob that must have `digest` (and `size`, if given); [`Ingest::commit`] then
    /// verifies and publishes in one call, and writes beyond `size` fail at once.
    pub fn ingest_expecting(&self, digest: &Digest, size: Option<u64>) -> Result<Ingest> {
        self.start_ingest(Some(Expectation {
            digest: digest.clone(),
            size,
        }))
    }

    fn start_ingest(&self, expected: Option<Expectation>) -> Result<Ingest> {
        // Lock before the temporary file exists: GC deletes every file in ingest/ it can see.
        let guard = self.write_guard()?;
        let (file, temp) = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&self.ingest_dir)
            .map_err(io_error("create a temporary file in", &self.ingest_dir))?
            .into_parts();
        let path = temp
            .keep()
            .map_err(|e| io_error("keep", &self.ingest_dir)(e.error))?;
        Ok(Ingest {
            temp: IngestFile {
                path,
                remove_on_drop: true,
            },
            writer: BufWriter::with_capacity(IO_BUFFER, file),
            hasher: Hasher::new(),
            expected,
            blobs_dir: self.blobs_dir.clone(),
            guard,
        })
    }

    /// Starts or continues a download of the blob `digest`: what an earlier, interrupted attempt wrote is
    /// kept in `ingest/partial-<hex>`, hashed again here (and handed to `replay`, so a caller that
    /// inspects the content sees every byte once), and the returned ingest appends to it. Dropping the
    /// ingest before [`Ingest::finish`] keeps the partial file for the next attempt; a finished blob
    /// that fails verification is removed. Two writers of the same digest take turns: the second waits
    /// for the first and then finds the blob [`Resumed::Stored`].
    pub fn resume_ingest(
        &self,
        digest: &Digest,
        size: Option<u64>,
        mut replay: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<Resumed> {
        let guard = self.write_guard()?;
        let path = self.ingest_dir.join(partial_name(digest));
        let file = loop {
            if self.has_blob(digest)? {
                return Ok(Resumed::Stored);
            }
            let file = File::options()
                .create(true)
                .read(true)
                .append(true)
                .open(&path)
                .map_err(io_error("open", &path))?;
            file.lock().map_err(io_error("lock", &path))?;
            // The previous holder may have renamed this very file into the blob store: only a lock on
            // the file still under the partial name counts.
            let locked = file.metadata().map_err(io_error("inspect", &path))?;
            match fs::metadata(&path) {
                Ok(now)
                    if std::os::unix::fs::MetadataExt::ino(&now)
                        == std::os::unix::fs::MetadataExt::ino(&locked) =>
                {
                    break file;
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error("inspect", &path)(e)),
            }
        };
        let kept = file.metadata().map_err(io_error("inspect", &path))?.len();
        if size.is_some_and(|size| kept > size) {
            // Longer than the blob can be: start over.
            file.set_len(0).map_err(io_error("truncate", &path))?;
        }
        let mut hasher = Hasher::new();
        let mut reader = &file;
        let mut buffer = io_buffer();
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error("read", &path)(e)),
            };
            let chunk = buffer.get(..n).unwrap_or(&buffer);
            hasher.update(chunk);
            replay(chunk).map_err(io_error("replay", &path))?;
        }
        Ok(Resumed::Ingest(Box::new(Ingest {
            temp: IngestFile {
                path,
                remove_on_drop: false,
            },
            writer: BufWriter::with_capacity(IO_BUFFER, file),
            hasher,
            expected: Some(Expectation {
                digest: digest.clone(),
                size,
            }),
            blobs_dir: self.blobs_dir.clone(),
            guard,
        })))
    }

    /// Stores `bytes` as a blob and returns its digest. Does no disk write if the blob is already stored.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        if self.has_blob(&digest)? {
            return Ok(digest);
        }
        let mut ingest = self.ingest_expecting(&digest, Some(bytes.len() as u64))?;
        ingest
            .write_all(bytes)
            .map_err(io_error("write", ingest.temp_path().to_owned()))?;
        ingest.commit()
    }

    /// Where the blob lives (or would live). Callers may open it directly, e.g. for zero-copy sends.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir.join(digest.hex())
    }

    /// Whether the blob is stored.
    pub fn has_blob(&self, digest: &Digest) -> Result<bool> {
        let path = self.blob_path(digest);
        match fs::symlink_metadata(&path) {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error("inspect", path)(e)),
        }
    }

    /// The blob's size in bytes.
    pub fn blob_size(&self, digest: &Digest) -> Result<u64> {
        let path = self.blob_path(digest);
        match fs::metadata(&path) {
            Ok(meta) => Ok(meta.len()),
            Err(e) => Err(self.not_found_or(digest, path, "inspect", e)),
        }
    }

    /// Opens the blob for reading. The content was verified when committed; [`Store::read_blob`] and
    /// [`Store::check`] verify it again.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|e| self.not_found_or(digest, path, "open", e))
    }

    /// Reads the whole blob and verifies that it still hashes to `digest`. For small blobs (manifests,
    /// configs); stream layers from [`Store::open_blob`].
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes =
            fs::read(&path).map_err(|e| self.not_found_or(digest, path.clone(), "read", e))?;
        let found = Digest::of(&bytes);
        if found != *digest {
            return Err(StoreError::CorruptBlob {
                path,
                expected: digest.clone(),
                found,
            });
        }
        Ok(bytes)
    }

    /// Deletes the blob if its content no longer matches its digest, so that it can be fetched again
    /// (a commit of the right content is otherwise skipped because the name exists). Returns the digest
    /// the content had, or `None` if the blob was intact or absent.
    pub fn discard_corrupt_blob(&self, digest: &Digest) -> Result<Option<Digest>> {
        let _guard = self.write_guard()?;
        let path = self.blob_path(digest);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("open", path)(e)),
        };
        let (found, _) = hash_reader(file, &mut io_buffer()).map_err(io_error("read", &path))?;
        if found == *digest {
            return Ok(None);
        }
        fs::remove_file(&path).map_err(io_error("remove corrupt blob", &path))?;
        Ok(Some(found))
    }

    fn not_found_or(
        &self,
        digest: &Digest,
        path: PathBuf,
        action: &'static str,
        e: io::Error,
    ) -> StoreError {
        if e.kind() == io::ErrorKind::NotFound {
            StoreError::BlobNotFound {
                digest: digest.clone(),
                path,
            }
        } else {
            io_error(action, path)(e)
        }
    }
}
