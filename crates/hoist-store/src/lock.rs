//! Cross-process locking on the store's `lock` file: shared for writers, exclusive for garbage collection.
//!
//! Metadata concurrency is SQLite's job (WAL + busy timeout). This lock covers the gap SQLite cannot see:
//! a blob committed to disk but not yet referenced by any image. Every writer holds a shared lock from
//! before it creates a temporary file until its metadata references the blob; GC takes the exclusive
//! lock, so it never sees such a blob, nor an ingest file that someone is still writing.
//!
//! The locks are `flock`-style locks on an open file description: two handles in one process conflict
//! just as two processes do, and a lock is released when its file is closed (also when a process dies).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError, io_error};

/// Proof that the holder has the store's shared write lock. While any `WriteGuard` (or an
/// [`crate::Ingest`], which holds its own) is alive, garbage collection cannot run on the store.
///
/// Take one before committing blobs and keep it until the metadata that references them is written;
/// methods that add references ([`crate::Store::put_image`], [`crate::Store::pin_blob`]) require it.
/// Do not call [`crate::Store::gc`] from a thread that holds a guard: it would wait for itself.
#[derive(Debug)]
pub struct WriteGuard {
    root: PathBuf,
    _file: File,
}

impl WriteGuard {
    /// The root of the store this guard locks.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// The exclusive lock GC holds while it decides what to delete and deletes it.
#[derive(Debug)]
pub(crate) struct ExclusiveLock {
    _file: File,
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_error("open lock file", path))
}

/// Blocks until the shared lock is granted.
pub(crate) fn shared(root: &Path, lock_path: &Path) -> Result<WriteGuard> {
    let file = open_lock_file(lock_path)?;
    file.lock_shared()
        .map_err(io_error("take a shared lock on", lock_path))?;
    Ok(WriteGuard {
        root: root.to_owned(),
        _file: file,
    })
}

/// Blocks until the exclusive lock is granted.
pub(crate) fn exclusive(lock_path: &Path) -> Result<ExclusiveLock> {
    let file = open_lock_file(lock_path)?;
    file.lock()
        .map_err(io_error("take an exclusive lock on", lock_path))?;
    Ok(ExclusiveLock { _file: file })
}

/// The exclusive lock if nobody holds a shared one now, else `None`.
pub(crate) fn try_exclusive(lock_path: &Path) -> Result<Option<ExclusiveLock>> {
    let file = open_lock_file(lock_path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ExclusiveLock { _file: file })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(source)) => Err(StoreError::Io {
            action: "take an exclusive lock on",
            path: lock_path.to_owned(),
            source,
        }),
    }
}
