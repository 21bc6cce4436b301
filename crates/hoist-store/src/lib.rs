//! hoist's local image store: content-addressed blobs on disk plus SQLite metadata, with the locks and
//! garbage collection that let several hoist processes share one store.
//!
//! Layout under the root passed to [`Store::open`]:
//!
//! ```text
//! blobs/sha256/<hex>   committed blobs, read-only, content always matching the name
//! ingest/              temporary files of blobs being written (removed by GC)
//! hoist.db             SQLite metadata (WAL mode): images, layers, tags, repository digests, pins,
//!                      containers, the build cache
//! lock                 shared by writers, exclusive for GC
//! snapshots/           unpacked layers and container snapshots (see the `snapshot` module)
//! ```
//!
//! The store keeps data consistent and offers primitives; what `rmi`, `images` or `prune` mean is the
//! operations layer's business. Calls go down only: `Store` methods use the `blobs`, `metadata`, `gc`
//! and `lock` modules, which know nothing of each other's callers.
//!
//! Crash safety: a blob appears under its digest name only by an atomic rename after its content was
//! hashed, verified and synced; metadata references blobs only after they are committed. A crash at any
//! instant therefore leaves at worst a temporary file or an unreferenced blob, both of which GC removes.

mod blobs;
mod build_cache;
mod containers;
mod error;
mod gc;
mod lock;
mod metadata;
pub mod model;
mod schema;
mod snapshot;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;

pub use blobs::{Ingest, PendingBlob, Resumed};
pub use build_cache::BuildCacheRecord;
pub use containers::ContainerRecord;
pub use error::{Result, StoreError};
pub use lock::WriteGuard;
pub use metadata::ListingDetail;
pub use model::{
    BlobReference, CheckReport, CorruptBlob, GcReport, ImageListing, ImageRecord, LayerRecord,
    LayerUsage, MissingBlob, RemovedBlob, RepoDigest, StoreCounts,
};
pub use snapshot::{
    BUILD_SNAPSHOT_PREFIX, Change, ChangeKind, RootfsLayout, StorageDriver, UnknownStorageDriver,
    chain_ids,
};

use error::io_error;

/// A handle on one store directory. Cheap to share between threads (`&Store` is `Sync`); several handles,
/// in one process or many, may open the same root at once.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    blobs_dir: PathBuf,
    ingest_dir: PathBuf,
    lock_path: PathBuf,
    db_path: PathBuf,
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens the store at `root`, creating its directories and database if needed and migrating the
    /// schema to the current version.
    pub fn open(root: &Path) -> Result<Self> {
        fs::create_dir_all(root).map_err(io_error("create store directory", root))?;
        // Canonical, so that guards taken through different spellings of one root compare equal.
        let root = fs::canonicalize(root).map_err(io_error("resolve store directory", root))?;
        let blobs_dir = root.join("blobs").join("sha256");
        let ingest_dir = root.join("ingest");
        for dir in [&blobs_dir, &ingest_dir] {
            fs::create_dir_all(dir).map_err(io_error("create store directory", dir))?;
        }
        let lock_path = root.join("lock");
        let db_path = root.join("hoist.db");
        let conn = schema::open(&db_path)?;
        Ok(Self {
            root,
            blobs_dir,
            ingest_dir,
            lock_path,
            db_path,
            conn: Mutex::new(conn),
        })
    }

    /// The store's root directory (canonicalised).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of the metadata database.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// Takes the shared write lock, waiting while a garbage collection runs. See [`WriteGuard`].
    pub fn write_guard(&self) -> Result<WriteGuard> {
        lock::shared(&self.root, &self.lock_path)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while the mutex was held cannot leave the connection half-used: open transactions roll
        // back when dropped, so the connection is safe to keep using.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_guard(&self, guard: &WriteGuard) -> Result<()> {
        if guard.root() == self.root {
            Ok(())
        } else {
            Err(StoreError::ForeignGuard {
                guard_root: guard.root().to_owned(),
                store_root: self.root.clone(),
            })
        }
    }
}
