//! The metadata schema, its versions (`PRAGMA user_version`) and the migrations between them.
//!
//! Migration `n` (1-based) takes a database from version `n - 1` to `n`. Append new steps; never edit a
//! released one. Images are addressed by an integer `key` inside the database so that join tables stay
//! small and listing can group rows without comparing digest strings.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Result, StoreError};

/// How long a statement waits for another connection's write lock before failing with `SQLITE_BUSY`.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

const MIGRATIONS: &[&str] = &[
    // 1: images, shared layers, tags, repository digests, pins, store state.
    "
    CREATE TABLE images (
        key INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        manifest TEXT NOT NULL,
        manifest_media_type TEXT NOT NULL,
        config_size INTEGER NOT NULL,
        created INTEGER,
        parent TEXT,
        size INTEGER NOT NULL,
        labels TEXT,
        loaded_at INTEGER NOT NULL,
        last_tag_time INTEGER
    );
    CREATE INDEX images_parent ON images (parent) WHERE parent IS NOT NULL;

    CREATE TABLE layers (
        id INTEGER PRIMARY KEY,
        diff_id TEXT NOT NULL,
        blob TEXT NOT NULL,
        media_type TEXT NOT NULL,
        blob_size INTEGER NOT NULL,
        size INTEGER NOT NULL,
        UNIQUE (diff_id, blob)
    );

    CREATE TABLE image_layers (
        image INTEGER NOT NULL REFERENCES images (key),
        position INTEGER NOT NULL,
        layer INTEGER NOT NULL REFERENCES layers (id),
        PRIMARY KEY (image, position)
    ) WITHOUT ROWID;
    CREATE INDEX image_layers_layer ON image_layers (layer);

    CREATE TABLE tags (
        name TEXT PRIMARY KEY,
        image INTEGER NOT NULL REFERENCES images (key),
        tagged_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX tags_image ON tags (image);

    CREATE TABLE repo_digests (
        repository TEXT NOT NULL,
        manifest TEXT NOT NULL,
        image INTEGER NOT NULL REFERENCES images (key),
        PRIMARY KEY (repository, manifest)
    ) WITHOUT ROWID;
    CREATE INDEX repo_digests_image ON repo_digests (image);

    CREATE TABLE pins (
        owner TEXT NOT NULL,
        blob TEXT NOT NULL,
        PRIMARY KEY (owner, blob)
    ) WITHOUT ROWID;

    CREATE TABLE store_state (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
    // 2: containers. `config` and `state` are JSON the operations layer owns; the store only keeps names
    // unique and answers lookups.
    "
    CREATE TABLE containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        image TEXT NOT NULL,
        created INTEGER NOT NULL,
        config TEXT NOT NULL,
        state TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX containers_image ON containers (image);
    ",
    // 3: the build cache. One row per cached build step: its content key, the layer it made (NULL for a
    // step that changed no file), the chain ID of the layer stack it ends (whose unpacked snapshot GC keeps
    // while the row exists), and what `builder du` shows.
    "
    CREATE TABLE build_cache (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        description TEXT NOT NULL,
        diff_id TEXT,
        blob TEXT,
        media_type TEXT,
        blob_size INTEGER,
        size INTEGER NOT NULL,
        chain TEXT,
        created INTEGER NOT NULL,
        last_used INTEGER NOT NULL,
        usage_count INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Runs `step` again while SQLite answers SQLITE_BUSY, for up to [`BUSY_TIMEOUT`].
fn retry_while_busy<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(5);
    loop {
        match step() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

/// Opens the database with the settings every connection needs.
pub(crate) fn open(db_path: &Path) -> Result<Connection> {
    let conn = Connection::open(db_path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL lets readers run beside one writer and is what makes several processes practical. The mode is
    // persistent in the file; setting it again is a no-op.
    //
    // Switching a new database to WAL needs an exclusive lock, and SQLite reports SQLITE_BUSY at once
    // (without the busy handler) when several handles create the same store together: retry that.
    retry_while_busy(|| {
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
    })?;
    // NORMAL in WAL mode never corrupts; it may lose the last commits on power loss. GC makes everything
    // durable before it deletes blobs (see `gc::durability_barrier`), so a lost commit cannot leave an
    // image pointing at a deleted blob.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // 32 MiB of page cache (the default is 2 MiB) holds the whole database of a store with ten thousand
    // images, so a long-lived handle lists without re-reading pages.
    conn.pragma_update(None, "cache_size", -32_000i64)?;
    // Enough cached statements for every query the store runs, so none is prepared twice.
    conn.set_prepared_statement_cache_capacity(64);
    retry_while_busy(|| match migrate(&conn, db_path) {
        Err(StoreError::Sqlite(e)) => Err(e),
        other => Ok(other),
    })??;
    Ok(conn)
}

fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// Brings the schema up to [`SCHEMA_VERSION`], in one transaction that re-reads the version after taking
/// the write lock, so two processes opening a new store at once migrate it once.
pub(crate) fn migrate(conn: &Connection, db_path: &Path) -> Result<()> {
    if user_version(conn)? == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let found = user_version(&tx)?;
    let unsupported = || StoreError::UnsupportedSchema {
        path: db_path.to_owned(),
        found,
        supported: SCHEMA_VERSION,
    };
    let applied = usize::try_from(found).map_err(|_| unsupported())?;
    let pending = MIGRATIONS.get(applied..).ok_or_else(unsupported)?;
    for step in pending {
        tx.execute_batch(step)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}
