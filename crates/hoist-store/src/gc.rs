//! Garbage collection (delete blobs no metadata references, and abandoned ingest files) and the integrity
//! check (re-hash every blob, find references to missing blobs).
//!
//! GC runs under the exclusive store lock, so no writer is between committing a blob and referencing
//! it, and no ingest file belongs to a live writer. Before deleting anything it makes all committed
//! metadata durable, so a power loss cannot bring back a reference to a blob GC has deleted.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::path::Path;

use hoist_spec::Digest;
use rusqlite::{Connection, TransactionBehavior, params};

use crate::Store;
use crate::blobs::{hash_reader, io_buffer};
use crate::error::{Result, io_error};
use crate::metadata::{digest_at, now_nanos};
use crate::model::{BlobReference, CheckReport, CorruptBlob, GcReport, MissingBlob, RemovedBlob};
use crate::snapshot::{TEMP_PREFIX, chain_ids};

impl Store {
    /// Deletes every blob that no image (config, manifest, layers) and no pin references, and every
    /// temporary file in `ingest/`. Waits until no writer holds the shared lock; never call it while this
    /// thread holds a [`crate::WriteGuard`] or an [`crate::Ingest`]. With `dry_run`, deletes nothing and
    /// reports what it would delete.
    pub fn gc(&self, dry_run: bool) -> Result<GcReport> {
        let _lock = crate::lock::exclusive(&self.lock_path)?;
        self.gc_locked(dry_run)
    }

    /// Like [`Store::gc`], but returns `None` at once instead of waiting if a writer holds the lock.
    pub fn try_gc(&self, dry_run: bool) -> Result<Option<GcReport>> {
        match crate::lock::try_exclusive(&self.lock_path)? {
            Some(_lock) => self.gc_locked(dry_run).map(Some),
            None => Ok(None),
        }
    }

    fn gc_locked(&self, dry_run: bool) -> Result<GcReport> {
        if !dry_run {
            durability_barrier(&self.conn())?;
        }
        let referenced = referenced_blobs(&self.conn())?;
        let mut report = GcReport {
            dry_run,
            ..GcReport::default()
        };

        for entry in fs::read_dir(&self.blobs_dir).map_err(io_error("list", &self.blobs_dir))? {
            let entry = entry.map_err(io_error("list", &self.blobs_dir))?;
            let path = entry.path();
            // Only files named by a digest are blobs; anything else is not ours to delete (check reports it).
            let Some(digest) = entry
                .file_name()
                .to_str()
                .and_then(|name| Digest::from_hex(name).ok())
            else {
                continue;
            };
            if referenced.contains(&digest) {
                continue;
            }
            let meta = entry.metadata().map_err(io_error("inspect", &path))?;
            if !meta.is_file() {
                continue;
            }
            if !dry_run {
                fs::remove_file(&path).map_err(io_error("remove unreferenced blob", &path))?;
            }
            report.reclaimed += meta.len();
            report.removed.push(RemovedBlob {
                digest,
                size: meta.len(),
            });
        }
        report.removed.sort_by(|a, b| a.digest.cmp(&b.digest));

        for entry in fs::read_dir(&self.ingest_dir).map_err(io_error("list", &self.ingest_dir))? {
            let entry = entry.map_err(io_error("list", &self.ingest_dir))?;
            let path = entry.path();
            let meta = entry.metadata().map_err(io_error("inspect", &path))?;
            if !meta.is_file() {
                continue;
            }
            if !dry_run {
                fs::remove_file(&path).map_err(io_error("remove temporary file", &path))?;
            }
            report.reclaimed += meta.len();
            report.temp_files_removed += 1;
        }

        self.gc_layer_snapshots(dry_run, &mut report)?;
        Ok(report)
    }

    /// Removes layer snapshots that no stored image uses and no container snapshot lists, and the
    /// `.tmp-*` directories of interrupted snapshot builders (none is running: they hold the shared lock).
    fn gc_layer_snapshots(&self, dry_run: bool, report: &mut GcReport) -> Result<()> {
        let mut keep: HashSet<String> = self.layers_listed_by_containers()?.into_iter().collect();
        for diff_ids in image_diff_ids(&self.conn())? {
            keep.extend(chain_ids(&diff_ids).iter().map(|c| c.hex().to_owned()));
        }
        // A cached build step keeps the snapshot of the stack it ends (its ancestors are kept by the
        // steps before it, or rebuilt from blobs when a base image is gone).
        for record in self.build_cache_records()? {
            if let Some(chain) = record.chain {
                keep.insert(chain.hex().to_owned());
            }
        }
        for dir in [
            self.snapshots_dir(),
            self.layer_snapshots_dir(),
            self.container_snapshots_dir(),
        ] {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error("list", &dir)(e)),
            };
            let is_layers = dir == self.layer_snapshots_dir();
            // Directly under snapshots/: `layers`, `containers`, `driver`, and maybe leftovers.
            let is_top = dir == self.snapshots_dir();
            for entry in entries {
                let entry = entry.map_err(io_error("list", &dir))?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let temporary = name.starts_with(TEMP_PREFIX)
                    || (dir == self.container_snapshots_dir()
                        && name.starts_with(crate::snapshot::BUILD_SNAPSHOT_PREFIX));
                // Container snapshots belong to their containers; only leftovers go here.
                if !temporary && (is_top || !is_layers || keep.contains(name.as_ref())) {
                    continue;
                }
                let path = entry.path();
                if !dry_run {
                    let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        fs::remove_dir_all(&path)
                    } else {
                        fs::remove_file(&path)
                    };
                    removed.map_err(io_error("remove snapshot", &path))?;
                }
                if !temporary {
                    report.layer_snapshots_removed += 1;
                }
            }
        }
        Ok(())
    }

    /// Re-hashes every blob (streaming, one buffer reused) and reports files whose content does not match
    /// their name, metadata references to blobs that are missing, and stray entries under `blobs/sha256`.
    /// Holds the shared lock, so GC does not delete blobs under it while it runs.
    pub fn check(&self) -> Result<CheckReport> {
        let _guard = self.write_guard()?;
        let mut report = CheckReport::default();
        let mut buffer = io_buffer();

        for entry in fs::read_dir(&self.blobs_dir).map_err(io_error("list", &self.blobs_dir))? {
            let entry = entry.map_err(io_error("list", &self.blobs_dir))?;
            let path = entry.path();
            let digest = entry
                .file_name()
                .to_str()
                .and_then(|name| Digest::from_hex(name).ok());
            let file_type = entry.file_type().map_err(io_error("inspect", &path))?;
            let Some(expected) = digest.filter(|_| file_type.is_file()) else {
                report.unexpected_files.push(path);
                continue;
            };
            let file = File::open(&path).map_err(io_error("open", &path))?;
            let (found, len) = hash_reader(file, &mut buffer).map_err(io_error("read", &path))?;
            report.blobs_checked += 1;
            report.bytes_checked += len;
            if found != expected {
                report.corrupt.push(CorruptBlob {
                    path,
                    expected,
                    found,
                });
            }
        }
        report.corrupt.sort_by(|a, b| a.path.cmp(&b.path));
        report.unexpected_files.sort();

        let mut present: HashMap<Digest, bool> = HashMap::new();
        // Bound first, so the connection is not held while the loop touches the disk.
        let references = blob_references(&self.conn())?;
        for (digest, referenced_by) in references {
            let exists = match present.get(&digest) {
                Some(&exists) => exists,
                None => {
                    let exists = blob_exists(&self.blob_path(&digest))?;
                    present.insert(digest.clone(), exists);
                    exists
                }
            };
            if !exists {
                report.missing.push(MissingBlob {
                    digest,
                    referenced_by,
                });
            }
        }
        Ok(report)
    }
}

fn blob_exists(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(meta.is_file()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error("inspect", path)(e)),
    }
}

/// Commits a small write with `synchronous = FULL`. In WAL mode that syncs the whole WAL file, which makes
/// every earlier commit durable too, including those other connections made with `synchronous = NORMAL`.
fn durability_barrier(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "synchronous", "FULL")?;
    let result = (|| -> Result<()> {
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO store_state (name, value) VALUES ('last_gc', ?1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![now_nanos()],
        )?;
        tx.commit()?;
        Ok(())
    })();
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    result
}

/// The DiffIDs of every stored image's layers, base first.
fn image_diff_ids(conn: &Connection) -> Result<Vec<Vec<Digest>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT il.image, l.diff_id FROM image_layers il JOIN layers l ON l.id = il.layer
         ORDER BY il.image, il.position",
    )?;
    let mut rows = stmt.query([])?;
    let mut images: Vec<Vec<Digest>> = Vec::new();
    let mut current = None;
    while let Some(row) = rows.next()? {
        let image: i64 = row.get(0)?;
        if current != Some(image) {
            current = Some(image);
            images.push(Vec::new());
        }
        if let Some(layers) = images.last_mut() {
            layers.push(digest_at(row, 1)?);
        }
    }
    Ok(images)
}

/// Every blob metadata keeps alive: image configs and manifests, layer blobs, pins.
fn referenced_blobs(conn: &Connection) -> Result<HashSet<Digest>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM images UNION SELECT manifest FROM images UNION SELECT blob FROM layers
         UNION SELECT blob FROM pins UNION SELECT blob FROM build_cache WHERE blob IS NOT NULL",
    )?;
    let rows = stmt.query_map([], |row| digest_at(row, 0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every (blob, referrer) pair, in one snapshot.
fn blob_references(conn: &Connection) -> Result<Vec<(Digest, BlobReference)>> {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Deferred)?;
    let mut references = Vec::new();
    {
        let mut stmt = tx.prepare_cached("SELECT id, manifest FROM images ORDER BY id")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let image = digest_at(row, 0)?;
            references.push((
                image.clone(),
                BlobReference::Config {
                    image: image.clone(),
                },
            ));
            references.push((digest_at(row, 1)?, BlobReference::Manifest { image }));
        }
    }
    {
        let mut stmt = tx.prepare_cached(
            "SELECT l.blob, i.id, l.diff_id FROM image_layers il
             JOIN images i ON i.key = il.image JOIN layers l ON l.id = il.layer
             ORDER BY i.id, il.position",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let reference = BlobReference::Layer {
                image: digest_at(row, 1)?,
                diff_id: digest_at(row, 2)?,
            };
            references.push((digest_at(row, 0)?, reference));
        }
    }
    {
        let mut stmt = tx.prepare_cached("SELECT blob, owner FROM pins ORDER BY owner, blob")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            references.push((
                digest_at(row, 0)?,
                BlobReference::Pin { owner: row.get(1)? },
            ));
        }
    }
    tx.commit()?;
    Ok(references)
}
