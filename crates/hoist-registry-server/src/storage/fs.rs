//! The filesystem backend: objects are files under a root directory; atomic writes go through a
//! staging directory on the same filesystem and a rename.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::fs;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::backend::{ByteRange, ObjectInfo, StorageBackend, StorageError, validate_path};

/// Where partial writes live until they are renamed into place; never a valid key, never listed.
const STAGING_DIR: &str = ".staging";

/// Objects stored as files under `root`.
#[derive(Debug)]
pub struct FsBackend {
    root: PathBuf,
    /// Makes staging names unique within this process; the pid makes them unique across processes.
    next_staging: AtomicU64,
}

impl FsBackend {
    /// A backend rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            next_staging: AtomicU64::new(0),
        }
    }

    /// The directory objects live under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file holding object `key`, for callers that can serve a file directly (sendfile).
    pub fn local_path(&self, key: &str) -> Result<PathBuf, StorageError> {
        self.object_path(key)
    }

    fn object_path(&self, key: &str) -> Result<PathBuf, StorageError> {
        validate_path(key)?;
        if key == STAGING_DIR || key.starts_with(".staging/") {
            return Err(StorageError::InvalidPath {
                path: key.to_owned(),
                reason: "reserved for the backend's staging area",
            });
        }
        Ok(self.root.join(key))
    }

    /// A prefix may be empty (the root); otherwise it is validated like a key.
    fn prefix_path(&self, prefix: &str) -> Result<PathBuf, StorageError> {
        if prefix.is_empty() {
            Ok(self.root.clone())
        } else {
            self.object_path(prefix)
        }
    }

    async fn staging_file(&self) -> Result<(PathBuf, fs::File), StorageError> {
        let dir = self.root.join(STAGING_DIR);
        fs::create_dir_all(&dir)
            .await
            .map_err(|source| io(&dir, source))?;
        let n = self.next_staging.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{}-{n}", std::process::id()));
        let file = fs::File::create(&path)
            .await
            .map_err(|source| io(&path, source))?;
        Ok((path, file))
    }

    async fn commit_staged(&self, staged: &Path, target: &Path) -> Result<(), StorageError> {
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .await
                .map_err(|source| io(parent, source))?;
        }
        if let Err(source) = fs::rename(staged, target).await {
            // The staged file is ours alone; removing it is best effort.
            let _ = fs::remove_file(staged).await;
            return Err(io(target, source));
        }
        Ok(())
    }

    async fn write_staged<R: AsyncRead + Send + Unpin>(
        &self,
        key: &str,
        mut source: R,
    ) -> Result<u64, StorageError> {
        let target = self.object_path(key)?;
        let (staged, mut file) = self.staging_file().await?;
        let written = async {
            let n = copy_in_large_chunks(&mut source, &mut file).await?;
            file.flush().await?;
            Ok::<_, std::io::Error>(n)
        }
        .await;
        drop(file);
        match written {
            Ok(n) => {
                self.commit_staged(&staged, &target).await?;
                Ok(n)
            }
            Err(source) => {
                let _ = fs::remove_file(&staged).await;
                Err(io(&staged, source))
            }
        }
    }
}

/// `tokio::io::copy` moves 8 KiB at a time; blobs are large, so read in bigger pieces.
async fn copy_in_large_chunks<R: AsyncRead + Unpin>(
    source: &mut R,
    file: &mut fs::File,
) -> std::io::Result<u64> {
    // tokio's File keeps its own write buffer (2 MiB by default) beside ours: bound both, so a
    // registry taking hundreds of uploads at once holds a fixed amount per upload.
    file.set_max_buf_size(COPY_BUFFER);
    let mut buffered = tokio::io::BufReader::with_capacity(COPY_BUFFER, source);
    tokio::io::copy_buf(&mut buffered, file).await
}

const COPY_BUFFER: usize = 64 * 1024;

fn io(path: &Path, source: std::io::Error) -> StorageError {
    StorageError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Maps "no such file" (and a file or directory where the other was expected) to `NotFound` for `key`.
fn not_found_or_io(key: &str, path: &Path, source: std::io::Error) -> StorageError {
    match source.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory => {
            StorageError::NotFound {
                path: key.to_owned(),
            }
        }
        _ => io(path, source),
    }
}

impl StorageBackend for FsBackend {
    type Reader = tokio::io::Take<fs::File>;

    async fn get(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        let path = self.object_path(key)?;
        fs::read(&path)
            .await
            .map_err(|source| not_found_or_io(key, &path, source))
    }

    async fn get_many(&self, keys: &[&str]) -> Vec<Result<Vec<u8>, StorageError>> {
        // One thread hop for all of them: a manifest GET reads three small files, and each
        // tokio::fs call is its own spawn_blocking round trip.
        let paths: Vec<(String, Result<PathBuf, StorageError>)> = keys
            .iter()
            .map(|key| ((*key).to_owned(), self.object_path(key)))
            .collect();
        let read_all = move || {
            paths
                .into_iter()
                .map(|(key, path)| {
                    let path = path?;
                    std::fs::read(&path).map_err(|source| not_found_or_io(&key, &path, source))
                })
                .collect::<Vec<_>>()
        };
        match tokio::task::spawn_blocking(read_all).await {
            Ok(results) => results,
            Err(join) => keys
                .iter()
                .map(|key| {
                    Err(StorageError::Io {
                        path: (*key).into(),
                        source: std::io::Error::other(join.to_string()),
                    })
                })
                .collect(),
        }
    }

    async fn reader(
        &self,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<Self::Reader, StorageError> {
        let path = self.object_path(key)?;
        let mut file = fs::File::open(&path)
            .await
            .map_err(|source| not_found_or_io(key, &path, source))?;
        let metadata = file.metadata().await.map_err(|source| io(&path, source))?;
        if !metadata.is_file() {
            return Err(StorageError::NotFound {
                path: key.to_owned(),
            });
        }
        let size = metadata.len();
        let Some(range) = range else {
            return Ok(file.take(size));
        };
        if range
            .offset
            .checked_add(range.len)
            .is_none_or(|end| end > size)
        {
            return Err(StorageError::InvalidRange {
                path: key.to_owned(),
                offset: range.offset,
                len: range.len,
                size,
            });
        }
        file.seek(std::io::SeekFrom::Start(range.offset))
            .await
            .map_err(|source| io(&path, source))?;
        Ok(file.take(range.len))
    }

    async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StorageError> {
        self.write_staged(key, bytes).await.map(|_| ())
    }

    async fn put_reader<R: AsyncRead + Send + Unpin>(
        &self,
        key: &str,
        source: R,
    ) -> Result<u64, StorageError> {
        self.write_staged(key, source).await
    }

    async fn append<R: AsyncRead + Send + Unpin>(
        &self,
        key: &str,
        mut source: R,
    ) -> Result<u64, StorageError> {
        let path = self.object_path(key)?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .await
                .map_err(|source| io(parent, source))?;
        }
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
            .map_err(|source| io(&path, source))?;
        copy_in_large_chunks(&mut source, &mut file)
            .await
            .map_err(|source| io(&path, source))?;
        file.flush().await.map_err(|source| io(&path, source))?;
        let metadata = file.metadata().await.map_err(|source| io(&path, source))?;
        Ok(metadata.len())
    }

    async fn stat(&self, key: &str) -> Result<ObjectInfo, StorageError> {
        let path = self.object_path(key)?;
        let metadata = fs::metadata(&path)
            .await
            .map_err(|source| not_found_or_io(key, &path, source))?;
        if !metadata.is_file() {
            return Err(StorageError::NotFound {
                path: key.to_owned(),
            });
        }
        let modified = metadata.modified().map_err(|source| io(&path, source))?;
        Ok(ObjectInfo {
            size: metadata.len(),
            modified,
        })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let path = self.prefix_path(prefix)?;
        let mut entries = fs::read_dir(&path)
            .await
            .map_err(|source| not_found_or_io(prefix, &path, source))?;
        let mut names = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|source| io(&path, source))?
        {
            // Names that are not UTF-8 cannot be keys; they were not written through this backend.
            if let Ok(name) = entry.file_name().into_string()
                && !(prefix.is_empty() && name == STAGING_DIR)
            {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.object_path(key)?;
        fs::remove_file(&path)
            .await
            .map_err(|source| not_found_or_io(key, &path, source))
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), StorageError> {
        let path = self.object_path(prefix)?;
        fs::remove_dir_all(&path)
            .await
            .map_err(|source| not_found_or_io(prefix, &path, source))
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), StorageError> {
        let source_path = self.object_path(from)?;
        let target_path = self.object_path(to)?;
        let metadata = fs::metadata(&source_path)
            .await
            .map_err(|source| not_found_or_io(from, &source_path, source))?;
        if !metadata.is_file() {
            return Err(StorageError::NotFound {
                path: from.to_owned(),
            });
        }
        if let Some(parent) = target_path.parent() {
            fs::create_dir_all(parent)
                .await
                .map_err(|source| io(parent, source))?;
        }
        fs::rename(&source_path, &target_path)
            .await
            .map_err(|source| not_found_or_io(from, &source_path, source))
    }
}
