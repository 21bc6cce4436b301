//! Image metadata in SQLite: images and their shared layers, tags, repository digests, pins, listings.
//!
//! Every write is one `IMMEDIATE` transaction (it takes SQLite's write lock up front, so concurrent
//! writers queue on the busy timeout instead of failing on a lock upgrade). Reads that combine several
//! queries run in one transaction and so see one snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hoist_spec::Digest;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use crate::Store;
use crate::error::{Result, StoreError};
use crate::lock::WriteGuard;
use crate::model::{ImageListing, ImageRecord, LayerRecord, LayerUsage, RepoDigest, StoreCounts};

/// What [`Store::list_images_with`] fills in beyond the image rows, tags and repo digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingDetail {
    /// Each image's layer list.
    pub layers: bool,
    /// Each image's labels.
    pub labels: bool,
}

/// The current time in Unix nanoseconds (saturating; 0 before the epoch).
pub(crate) fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Reads column `idx` as a digest, reporting a malformed value as a conversion failure of that column.
pub(crate) fn digest_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Digest> {
    let text = row.get_ref(idx)?.as_str()?;
    text.parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn optional_digest_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Digest>> {
    match row.get_ref(idx)?.as_str_or_null()? {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e))),
    }
}

/// Labels are stored as a JSON object, or NULL when there are none (most images), which skips parsing.
fn labels_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<BTreeMap<String, String>> {
    match row.get_ref(idx)?.as_str_or_null()? {
        None => Ok(BTreeMap::new()),
        Some(json) => serde_json::from_str(json)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e))),
    }
}

fn labels_to_sql(labels: &BTreeMap<String, String>) -> rusqlite::Result<Option<String>> {
    if labels.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(labels)
        .map(Some)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn layer_at(row: &Row<'_>, first: usize) -> rusqlite::Result<LayerRecord> {
    Ok(LayerRecord {
        diff_id: digest_at(row, first)?,
        blob: digest_at(row, first + 1)?,
        media_type: row.get(first + 2)?,
        blob_size: row.get(first + 3)?,
        size: row.get(first + 4)?,
    })
}

fn image_key(conn: &Connection, id: &Digest) -> Result<Option<i64>> {
    let mut stmt = conn.prepare_cached("SELECT key FROM images WHERE id = ?1")?;
    Ok(stmt
        .query_row([id.to_string()], |row| row.get(0))
        .optional()?)
}

fn require_image_key(conn: &Connection, id: &Digest) -> Result<i64> {
    image_key(conn, id)?.ok_or_else(|| StoreError::ImageNotFound { id: id.clone() })
}

/// Deletes the given layer rows if no image references them any more.
fn delete_orphan_layers(tx: &Transaction<'_>, layer_ids: &[i64]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "DELETE FROM layers WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM image_layers WHERE layer = ?1)",
    )?;
    for id in layer_ids {
        stmt.execute([id])?;
    }
    Ok(())
}

fn write_tx(conn: &mut Connection) -> Result<Transaction<'_>> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

fn digests(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Digest>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |row| digest_at(row, 0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn count(conn: &Connection, table: &str) -> Result<u64> {
    Ok(
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
            row.get(0)
        })?,
    )
}

impl Store {
    /// A stored layer whose blob is `blob`, if any image has one (pull skips downloading it).
    pub fn layer_by_blob(&self, blob: &Digest) -> Result<Option<LayerRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT diff_id, blob, media_type, blob_size, size FROM layers WHERE blob = ?1 LIMIT 1",
        )?;
        Ok(stmt
            .query_row([blob.to_string()], |row| layer_at(row, 0))
            .optional()?)
    }

    /// Stores an image and its layers in one transaction. Returns true if the image was not stored before.
    ///
    /// Idempotent: storing an image again replaces its fields and layer list, but keeps `loaded_at` and
    /// `last_tag_time` from the stored row (they record history, not content). Layer rows the image no
    /// longer uses are removed when no other image uses them. The caller must hold `guard` from before
    /// committing the blobs this record references (see [`WriteGuard`]).
    pub fn put_image(&self, guard: &WriteGuard, record: &ImageRecord) -> Result<bool> {
        self.check_guard(guard)?;
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        let labels = labels_to_sql(&record.labels)?;
        let manifest = record.manifest.to_string();
        let parent = record.parent.as_ref().map(Digest::to_string);
        let existing = image_key(&tx, &record.id)?;
        let (key, old_layers) = match existing {
            Some(key) => {
                tx.prepare_cached(
                    "UPDATE images SET manifest = ?2, manifest_media_type = ?3, config_size = ?4, created = ?5,
                        parent = ?6, size = ?7, labels = ?8
                     WHERE key = ?1",
                )?
                .execute(params![
                    key,
                    manifest,
                    record.manifest_media_type,
                    record.config_size,
                    record.created,
                    parent,
                    record.size,
                    labels
                ])?;
                let old: Vec<i64> = tx
                    .prepare_cached("SELECT layer FROM image_layers WHERE image = ?1")?
                    .query_map([key], |row| row.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                tx.prepare_cached("DELETE FROM image_layers WHERE image = ?1")?
                    .execute([key])?;
                (key, old)
            }
            None => {
                tx.prepare_cached(
                    "INSERT INTO images (id, manifest, manifest_media_type, config_size, created, parent, size,
                        labels, loaded_at, last_tag_time)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
                    record.id.to_string(),
                    manifest,
                    record.manifest_media_type,
                    record.config_size,
                    record.created,
                    parent,
                    record.size,
                    labels,
                    record.loaded_at,
                    record.last_tag_time
                ])?;
                (tx.last_insert_rowid(), Vec::new())
            }
        };
        {
            let mut insert_layer = tx.prepare_cached(
                "INSERT INTO layers (diff_id, blob, media_type, blob_size, size) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (diff_id, blob) DO NOTHING",
            )?;
            let mut layer_id =
                tx.prepare_cached("SELECT id FROM layers WHERE diff_id = ?1 AND blob = ?2")?;
            let mut link = tx.prepare_cached(
                "INSERT INTO image_layers (image, position, layer) VALUES (?1, ?2, ?3)",
            )?;
            for (position, layer) in record.layers.iter().enumerate() {
                let diff_id = layer.diff_id.to_string();
                let blob = layer.blob.to_string();
                insert_layer.execute(params![
                    diff_id,
                    blob,
                    layer.media_type,
                    layer.blob_size,
                    layer.size
                ])?;
                let id: i64 = layer_id.query_row([&diff_id, &blob], |row| row.get(0))?;
                link.execute(params![key, position, id])?;
            }
        }
        delete_orphan_layers(&tx, &old_layers)?;
        tx.commit()?;
        Ok(existing.is_none())
    }

    /// The stored image with this ID, with its layers in order.
    pub fn image(&self, id: &Digest) -> Result<Option<ImageRecord>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let row = tx
            .prepare_cached(
                "SELECT key, manifest, manifest_media_type, config_size, created, parent, size, labels, loaded_at,
                    last_tag_time
                 FROM images WHERE id = ?1",
            )?
            .query_row([id.to_string()], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    ImageRecord {
                        id: id.clone(),
                        manifest: digest_at(row, 1)?,
                        manifest_media_type: row.get(2)?,
                        config_size: row.get(3)?,
                        created: row.get(4)?,
                        parent: optional_digest_at(row, 5)?,
                        size: row.get(6)?,
                        labels: labels_at(row, 7)?,
                        layers: Vec::new(),
                        loaded_at: row.get(8)?,
                        last_tag_time: row.get(9)?,
                    },
                ))
            })
            .optional()?;
        let Some((key, mut record)) = row else {
            return Ok(None);
        };
        record.layers = tx
            .prepare_cached(
                "SELECT l.diff_id, l.blob, l.media_type, l.blob_size, l.size
                 FROM image_layers il JOIN layers l ON l.id = il.layer
                 WHERE il.image = ?1 ORDER BY il.position",
            )?
            .query_map([key], |row| layer_at(row, 0))?
            .collect::<rusqlite::Result<_>>()?;
        tx.commit()?;
        Ok(Some(record))
    }

    /// Removes the image with its tags, repository digests and layer links; layer rows no other image uses
    /// go too. Blobs stay on disk for GC. Returns false if the image was not stored. Other images whose
    /// `parent` is this one keep pointing at it: whether that is allowed is the caller's policy.
    pub fn remove_image(&self, id: &Digest) -> Result<bool> {
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        let Some(key) = image_key(&tx, id)? else {
            return Ok(false);
        };
        let layers: Vec<i64> = tx
            .prepare_cached("SELECT DISTINCT layer FROM image_layers WHERE image = ?1")?
            .query_map([key], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for sql in [
            "DELETE FROM tags WHERE image = ?1",
            "DELETE FROM repo_digests WHERE image = ?1",
            "DELETE FROM image_layers WHERE image = ?1",
            "DELETE FROM images WHERE key = ?1",
        ] {
            tx.prepare_cached(sql)?.execute([key])?;
        }
        delete_orphan_layers(&tx, &layers)?;
        tx.commit()?;
        Ok(true)
    }

    /// Points the tag `name` (a normalised reference such as `docker.io/library/nginx:latest`) at `image`
    /// and records the time on the image. Returns the image the tag pointed at before, if any (which may be
    /// `image` itself).
    pub fn set_tag(&self, name: &str, image: &Digest) -> Result<Option<Digest>> {
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        let key = require_image_key(&tx, image)?;
        let previous = tag_target(&tx, name)?;
        let now = now_nanos();
        tx.prepare_cached(
            "INSERT INTO tags (name, image, tagged_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET image = excluded.image, tagged_at = excluded.tagged_at",
        )?
        .execute(params![name, key, now])?;
        tx.prepare_cached("UPDATE images SET last_tag_time = ?2 WHERE key = ?1")?
            .execute(params![key, now])?;
        tx.commit()?;
        Ok(previous)
    }

    /// Removes the tag; returns the image it pointed at, or `None` if there was no such tag.
    pub fn remove_tag(&self, name: &str) -> Result<Option<Digest>> {
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        let previous = tag_target(&tx, name)?;
        tx.prepare_cached("DELETE FROM tags WHERE name = ?1")?
            .execute([name])?;
        tx.commit()?;
        Ok(previous)
    }

    /// The image the tag points at.
    pub fn tag_target(&self, name: &str) -> Result<Option<Digest>> {
        tag_target(&self.conn(), name)
    }

    /// The tags pointing at `image`, sorted.
    pub fn tags_of(&self, image: &Digest) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT t.name FROM tags t JOIN images i ON i.key = t.image WHERE i.id = ?1 ORDER BY t.name",
        )?;
        let names = stmt.query_map([image.to_string()], |row| row.get(0))?;
        Ok(names.collect::<rusqlite::Result<_>>()?)
    }

    /// Records that `manifest` in `repository` resolves to `image` (replacing an earlier record of it).
    pub fn add_repo_digest(
        &self,
        repository: &str,
        manifest: &Digest,
        image: &Digest,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        let key = require_image_key(&tx, image)?;
        tx.prepare_cached(
            "INSERT INTO repo_digests (repository, manifest, image) VALUES (?1, ?2, ?3)
             ON CONFLICT (repository, manifest) DO UPDATE SET image = excluded.image",
        )?
        .execute(params![repository, manifest.to_string(), key])?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets a repository digest; returns the image it resolved to, if it was recorded.
    pub fn remove_repo_digest(
        &self,
        repository: &str,
        manifest: &Digest,
    ) -> Result<Option<Digest>> {
        let mut conn = self.conn();
        let tx = write_tx(&mut conn)?;
        let previous = resolve_repo_digest(&tx, repository, manifest)?;
        tx.prepare_cached("DELETE FROM repo_digests WHERE repository = ?1 AND manifest = ?2")?
            .execute(params![repository, manifest.to_string()])?;
        tx.commit()?;
        Ok(previous)
    }

    /// The repository digests recorded for `image`, sorted.
    pub fn repo_digests_of(&self, image: &Digest) -> Result<Vec<RepoDigest>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT r.repository, r.manifest FROM repo_digests r JOIN images i ON i.key = r.image
             WHERE i.id = ?1 ORDER BY r.repository, r.manifest",
        )?;
        let rows = stmt.query_map([image.to_string()], |row| {
            Ok(RepoDigest {
                repository: row.get(0)?,
                manifest: digest_at(row, 1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The image that `repository@manifest` resolves to in this store.
    pub fn resolve_repo_digest(
        &self,
        repository: &str,
        manifest: &Digest,
    ) -> Result<Option<Digest>> {
        resolve_repo_digest(&self.conn(), repository, manifest)
    }

    /// Image IDs whose hex digits start with `prefix` (lowercase hex, without `sha256:`), sorted. A prefix
    /// that is not lowercase hex or is longer than a digest matches nothing; the empty prefix matches all.
    /// Uses the ID index: the IDs with prefix `p` are exactly those in `[p, p + "g")`, since every
    /// following character is a hex digit, all of which sort before `g`.
    pub fn find_by_id_prefix(&self, prefix: &str) -> Result<Vec<Digest>> {
        let is_hex = prefix
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !is_hex || prefix.len() > 64 {
            return Ok(Vec::new());
        }
        let low = format!("sha256:{prefix}");
        let high = format!("{low}g");
        digests(
            &self.conn(),
            "SELECT id FROM images WHERE id >= ?1 AND id < ?2 ORDER BY id",
            [low, high],
        )
    }

    /// Images whose parent is `image`, sorted.
    pub fn children_of(&self, image: &Digest) -> Result<Vec<Digest>> {
        digests(
            &self.conn(),
            "SELECT id FROM images WHERE parent = ?1 ORDER BY id",
            [image.to_string()],
        )
    }

    /// Every image with its tags, repository digests and layers, in the order images were first stored.
    ///
    /// Five queries in one snapshot, however many images there are. Rows are joined in memory by the
    /// integer image key (binary search over the ordered keys, or a merge walk where both sides are in key
    /// order), and each distinct layer is read once and shared between the listings that contain it.
    pub fn list_images(&self) -> Result<Vec<ImageListing>> {
        self.list_images_with(ListingDetail {
            layers: true,
            labels: true,
        })
    }

    /// [`Store::list_images`] with only the detail asked for: what is left out stays empty. `images`
    /// without a label filter needs neither layers nor labels, and skipping them matters on large stores.
    pub fn list_images_with(&self, detail: ListingDetail) -> Result<Vec<ImageListing>> {
        let with_layers = detail.layers;
        let mut conn = self.conn();
        let tx = conn.transaction()?;

        // Layer ids in ascending order, for binary search.
        let mut layers: Vec<(i64, Arc<LayerRecord>)> = Vec::new();
        if with_layers {
            let mut stmt = tx.prepare_cached(
                "SELECT id, diff_id, blob, media_type, blob_size, size FROM layers ORDER BY id",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                layers.push((row.get(0)?, Arc::new(layer_at(row, 1)?)));
            }
        }

        // Image keys in ascending order, parallel to `images`.
        let mut keys: Vec<i64> = Vec::new();
        let mut images: Vec<ImageListing> = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "SELECT key, id, manifest, created, parent, size, labels, loaded_at, last_tag_time
                 FROM images ORDER BY key",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                keys.push(row.get(0)?);
                images.push(ImageListing {
                    id: digest_at(row, 1)?,
                    manifest: digest_at(row, 2)?,
                    created: row.get(3)?,
                    parent: optional_digest_at(row, 4)?,
                    size: row.get(5)?,
                    labels: if detail.labels {
                        labels_at(row, 6)?
                    } else {
                        BTreeMap::new()
                    },
                    tags: Vec::new(),
                    repo_digests: Vec::new(),
                    layers: Vec::new(),
                    loaded_at: row.get(7)?,
                    last_tag_time: row.get(8)?,
                });
            }
        }
        let index_of = |key: i64| keys.binary_search(&key).ok();

        {
            let mut stmt = tx.prepare_cached("SELECT image, name FROM tags ORDER BY name")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                if let Some(image) = index_of(row.get(0)?).and_then(|i| images.get_mut(i)) {
                    image.tags.push(row.get(1)?);
                }
            }
        }

        {
            let mut stmt =
                tx.prepare_cached("SELECT image, repository, manifest FROM repo_digests ORDER BY repository, manifest")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                if let Some(image) = index_of(row.get(0)?).and_then(|i| images.get_mut(i)) {
                    image.repo_digests.push(RepoDigest {
                        repository: row.get(1)?,
                        manifest: digest_at(row, 2)?,
                    });
                }
            }
        }

        if with_layers {
            // The primary key (image, position) makes this an ordered scan, so it merges with `keys`.
            let mut stmt = tx
                .prepare_cached("SELECT image, layer FROM image_layers ORDER BY image, position")?;
            let mut rows = stmt.query([])?;
            let mut index = 0;
            while let Some(row) = rows.next()? {
                let key: i64 = row.get(0)?;
                while keys.get(index).is_some_and(|&k| k < key) {
                    index += 1;
                }
                if keys.get(index) != Some(&key) {
                    continue;
                }
                let layer_id: i64 = row.get(1)?;
                let layer = layers
                    .binary_search_by_key(&layer_id, |(id, _)| *id)
                    .ok()
                    .and_then(|i| layers.get(i));
                if let (Some(image), Some((_, layer))) = (images.get_mut(index), layer) {
                    image.layers.push(Arc::clone(layer));
                }
            }
        }

        tx.commit()?;
        Ok(images)
    }

    /// Every layer with the number of distinct images that use it, for shared and unique sizes.
    pub fn layer_usage(&self) -> Result<Vec<LayerUsage>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT l.diff_id, l.blob, l.media_type, l.blob_size, l.size, COUNT(DISTINCT il.image)
             FROM layers l LEFT JOIN image_layers il ON il.layer = l.id
             GROUP BY l.id ORDER BY l.id",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(LayerUsage {
                layer: layer_at(row, 0)?,
                images: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Row counts of the metadata tables.
    pub fn counts(&self) -> Result<StoreCounts> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let counts = StoreCounts {
            images: count(&tx, "images")?,
            tags: count(&tx, "tags")?,
            repo_digests: count(&tx, "repo_digests")?,
            layers: count(&tx, "layers")?,
            pins: count(&tx, "pins")?,
        };
        tx.commit()?;
        Ok(counts)
    }

    /// Keeps `blob` from garbage collection on behalf of `owner` (a feature-chosen name such as
    /// `build-cache` or `lease:<id>`), until [`Store::unpin_blob`] or [`Store::unpin_owner`]. Like
    /// [`Store::put_image`], requires the guard held since the blob was committed.
    pub fn pin_blob(&self, guard: &WriteGuard, blob: &Digest, owner: &str) -> Result<()> {
        self.check_guard(guard)?;
        self.conn()
            .prepare_cached(
                "INSERT INTO pins (owner, blob) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?
            .execute(params![owner, blob.to_string()])?;
        Ok(())
    }

    /// Removes one pin; returns whether it existed.
    pub fn unpin_blob(&self, blob: &Digest, owner: &str) -> Result<bool> {
        let removed = self
            .conn()
            .prepare_cached("DELETE FROM pins WHERE owner = ?1 AND blob = ?2")?
            .execute(params![owner, blob.to_string()])?;
        Ok(removed > 0)
    }

    /// Removes every pin of `owner`; returns how many there were.
    pub fn unpin_owner(&self, owner: &str) -> Result<u64> {
        let removed = self
            .conn()
            .prepare_cached("DELETE FROM pins WHERE owner = ?1")?
            .execute([owner])?;
        Ok(removed as u64)
    }
}

fn tag_target(conn: &Connection, name: &str) -> Result<Option<Digest>> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.id FROM tags t JOIN images i ON i.key = t.image WHERE t.name = ?1",
    )?;
    Ok(stmt.query_row([name], |row| digest_at(row, 0)).optional()?)
}

fn resolve_repo_digest(
    conn: &Connection,
    repository: &str,
    manifest: &Digest,
) -> Result<Option<Digest>> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.id FROM repo_digests r JOIN images i ON i.key = r.image WHERE r.repository = ?1 AND r.manifest = ?2",
    )?;
    Ok(stmt
        .query_row(params![repository, manifest.to_string()], |row| {
            digest_at(row, 0)
        })
        .optional()?)
}
