//! The build cache: one row per cached build step (its content key, the layer it made and the chain ID
//! of the stack it ends), plus the primitives the builder uses to turn a directory it filled (a RUN's
//! overlay upper directory, a COPY's new files) into the layer snapshot the next step mounts, without
//! unpacking anything.
//!
//! A row's blob is kept by GC like an image's; its layer snapshot too. `builder prune` removes rows and
//! then GC removes what only they kept.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use hoist_layer::tree;
use hoist_spec::Digest;
use rusqlite::{OptionalExtension, Row, params};

use crate::Store;
use crate::error::{Result, StoreError, io_error};
use crate::lock::WriteGuard;
use crate::metadata::{digest_at, now_nanos};
use crate::model::LayerRecord;
use crate::snapshot::TEMP_PREFIX;

/// One cached build step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildCacheRecord {
    /// The step's cache key (a digest over its inputs).
    pub key: Digest,
    /// BuildKit's record type: `regular` (a step's result), `source.local` (context files),
    /// `exec.cachemount` (a `RUN --mount=type=cache` directory).
    pub kind: String,
    /// What the step was (`[builder 2/4] RUN make`), for `builder du`.
    pub description: String,
    /// The layer the step made; `None` when it changed no file.
    pub layer: Option<LayerRecord>,
    /// Bytes the record holds on disk (the layer's content, or a cache mount's files).
    pub size: u64,
    /// Chain ID of the layer stack the step ends (for its snapshot).
    pub chain: Option<Digest>,
    /// Unix nanoseconds.
    pub created: i64,
    pub last_used: i64,
    pub usage_count: u64,
}

fn record_at(row: &Row<'_>) -> rusqlite::Result<BuildCacheRecord> {
    let layer = match row.get_ref(3)?.as_str_or_null()? {
        None => None,
        Some(_) => Some(LayerRecord {
            diff_id: digest_at(row, 3)?,
            blob: digest_at(row, 4)?,
            media_type: row.get(5)?,
            blob_size: row.get::<_, i64>(6)? as u64,
            size: row.get::<_, i64>(7)? as u64,
        }),
    };
    let chain = match row.get_ref(8)?.as_str_or_null()? {
        None => None,
        Some(_) => Some(digest_at(row, 8)?),
    };
    Ok(BuildCacheRecord {
        key: digest_at(row, 0)?,
        kind: row.get(1)?,
        description: row.get(2)?,
        layer,
        size: row.get::<_, i64>(7)? as u64,
        chain,
        created: row.get(9)?,
        last_used: row.get(10)?,
        usage_count: row.get::<_, i64>(11)? as u64,
    })
}

const COLUMNS: &str = "key, kind, description, diff_id, blob, media_type, blob_size, size, chain, \
                       created, last_used, usage_count";

impl Store {
    /// The cached step with `key`, marked as used now; `None` on a miss, or when the layer's blob is gone
    /// (a damaged store), in which case the row is dropped.
    pub fn build_cache_hit(&self, key: &Digest) -> Result<Option<BuildCacheRecord>> {
        let conn = self.conn();
        let found = conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM build_cache WHERE key = ?1"))?
            .query_row([key.to_string()], record_at)
            .optional()?;
        let Some(mut record) = found else {
            return Ok(None);
        };
        if let Some(layer) = &record.layer
            && !self.blob_path(&layer.blob).is_file()
        {
            conn.prepare_cached("DELETE FROM build_cache WHERE key = ?1")?
                .execute([key.to_string()])?;
            return Ok(None);
        }
        record.last_used = now_nanos();
        record.usage_count += 1;
        conn.prepare_cached(
            "UPDATE build_cache SET last_used = ?2, usage_count = usage_count + 1 WHERE key = ?1",
        )?
        .execute(params![key.to_string(), record.last_used])?;
        Ok(Some(record))
    }

    /// Records a step. Like [`Store::put_image`], requires the guard held since the layer's blob was
    /// committed, so GC cannot remove it in between.
    pub fn put_build_cache(&self, guard: &WriteGuard, record: &BuildCacheRecord) -> Result<()> {
        self.check_guard(guard)?;
        let layer = record.layer.as_ref();
        self.conn()
            .prepare_cached(&format!(
                "INSERT INTO build_cache ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (key) DO UPDATE SET last_used = excluded.last_used"
            ))?
            .execute(params![
                record.key.to_string(),
                record.kind,
                record.description,
                layer.map(|l| l.diff_id.to_string()),
                layer.map(|l| l.blob.to_string()),
                layer.map(|l| l.media_type.clone()),
                layer.map(|l| l.blob_size as i64),
                record.size as i64,
                record.chain.as_ref().map(ToString::to_string),
                record.created,
                record.last_used,
                record.usage_count as i64,
            ])?;
        Ok(())
    }

    /// Every cached step, most recently used first.
    pub fn build_cache_records(&self) -> Result<Vec<BuildCacheRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM build_cache ORDER BY last_used DESC, key"
        ))?;
        let rows = stmt.query_map([], record_at)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes the rows with these keys; returns how many existed. Their blobs and snapshots go at the
    /// next GC unless an image uses them.
    pub fn remove_build_cache(&self, keys: &[Digest]) -> Result<u64> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut removed = 0;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM build_cache WHERE key = ?1")?;
            for key in keys {
                removed += stmt.execute([key.to_string()])? as u64;
            }
        }
        tx.commit()?;
        Ok(removed)
    }

    /// A new empty directory on the snapshots' filesystem, for a builder to fill in overlayfs format and
    /// hand to [`Store::adopt_layer_snapshot`]. GC removes it if the builder dies (its name is temporary).
    pub fn new_layer_workspace(&self) -> Result<tempfile::TempDir> {
        let parent = self.layer_snapshots_dir();
        fs::create_dir_all(&parent).map_err(io_error("create directory", &parent))?;
        tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempdir_in(&parent)
            .map_err(io_error("create a temporary directory in", &parent))
    }

    /// Makes `fs_dir` (a directory in overlayfs format on the snapshots' filesystem, such as a RUN's
    /// upper directory or a workspace's `fs`) the unpacked snapshot of the layer stack `chain`, by
    /// renaming it. If that snapshot exists already, `fs_dir` is left alone and the existing one is kept.
    pub fn adopt_layer_snapshot(&self, fs_dir: &Path, chain: &Digest) -> Result<PathBuf> {
        let _guard = self.write_guard()?;
        let final_dir = self.layer_snapshots_dir().join(chain.hex());
        if final_dir.join("fs").is_dir() {
            return Ok(final_dir.join("fs"));
        }
        let temp = self.new_layer_workspace()?;
        let fs_target = temp.path().join("fs");
        fs::rename(fs_dir, &fs_target).map_err(io_error("move layer into", &fs_target))?;
        let size = tree::content_size(&fs_target).map_err(|e| StoreError::Io {
            action: "measure layer",
            path: fs_target.clone(),
            source: io::Error::other(e),
        })?;
        let size_file = temp.path().join("size");
        fs::write(&size_file, format!("{size}\n")).map_err(io_error("write", &size_file))?;
        match fs::rename(temp.path(), &final_dir) {
            Ok(()) => {
                let _renamed = temp.keep();
                Ok(final_dir.join("fs"))
            }
            Err(_) if final_dir.join("fs").is_dir() => Ok(final_dir.join("fs")),
            Err(e) => Err(io_error("move layer snapshot to", &final_dir)(e)),
        }
    }

    /// The unpacked directory of the layer stack `chain`, if it exists.
    pub fn layer_snapshot(&self, chain: &Digest) -> Option<PathBuf> {
        let dir = self.layer_snapshots_dir().join(chain.hex()).join("fs");
        dir.is_dir().then_some(dir)
    }
}
