//! Container records: one row per container with a unique name, the image it was created from, and the
//! configuration and state documents the operations layer writes (the store does not interpret them).

use rusqlite::{OptionalExtension, Row, params};

use hoist_spec::Digest;

use crate::Store;
use crate::error::{Result, StoreError};
use crate::metadata::digest_at;

/// One stored container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRecord {
    /// 64 lowercase hex characters, as Docker's container IDs.
    pub id: String,
    /// Without Docker's leading `/`.
    pub name: String,
    /// The image ID the container was created from.
    pub image: Digest,
    /// Creation time, Unix nanoseconds.
    pub created: i64,
    /// Configuration (JSON owned by the operations layer), fixed at creation.
    pub config: String,
    /// Run state (JSON owned by the operations layer), rewritten as the container starts and stops.
    pub state: String,
}

const COLUMNS: &str = "id, name, image, created, config, state";

fn record_at(row: &Row<'_>) -> rusqlite::Result<ContainerRecord> {
    Ok(ContainerRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        image: digest_at(row, 2)?,
        created: row.get(3)?,
        config: row.get(4)?,
        state: row.get(5)?,
    })
}

impl Store {
    /// Stores a new container. Fails with [`StoreError::ContainerNameInUse`] if its name is taken.
    pub fn insert_container(&self, record: &ContainerRecord) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let holder: Option<String> = tx
            .prepare_cached("SELECT id FROM containers WHERE name = ?1")?
            .query_row([&record.name], |row| row.get(0))
            .optional()?;
        if let Some(id) = holder {
            return Err(StoreError::ContainerNameInUse {
                name: record.name.clone(),
                id,
            });
        }
        tx.prepare_cached(
            "INSERT INTO containers (id, name, image, created, config, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            record.id,
            record.name,
            record.image.to_string(),
            record.created,
            record.config,
            record.state
        ])?;
        tx.commit()?;
        Ok(())
    }

    /// Gives container `id` the name `name`. Fails with [`StoreError::ContainerNameInUse`] if another
    /// container has it, and [`StoreError::ContainerNotFound`] if `id` is gone.
    pub fn rename_container(&self, id: &str, name: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let holder: Option<String> = tx
            .prepare_cached("SELECT id FROM containers WHERE name = ?1")?
            .query_row([name], |row| row.get(0))
            .optional()?;
        if let Some(holder) = holder.filter(|holder| holder != id) {
            return Err(StoreError::ContainerNameInUse {
                name: name.to_owned(),
                id: holder,
            });
        }
        let changed = tx
            .prepare_cached("UPDATE containers SET name = ?2 WHERE id = ?1")?
            .execute(params![id, name])?;
        if changed == 0 {
            return Err(StoreError::ContainerNotFound { id: id.to_owned() });
        }
        tx.commit()?;
        Ok(())
    }

    /// The container with exactly this ID.
    pub fn container(&self, id: &str) -> Result<Option<ContainerRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM containers WHERE id = ?1");
        Ok(self
            .conn()
            .prepare_cached(&sql)?
            .query_row([id], record_at)
            .optional()?)
    }

    /// The container with exactly this name (without a leading `/`).
    pub fn container_by_name(&self, name: &str) -> Result<Option<ContainerRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM containers WHERE name = ?1");
        Ok(self
            .conn()
            .prepare_cached(&sql)?
            .query_row([name], record_at)
            .optional()?)
    }

    /// IDs of the containers whose ID starts with `prefix` (lowercase hex).
    pub fn container_ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        // The prefix is hex (checked by the caller) so it has no LIKE wildcards; GLOB is case-sensitive.
        let pattern = format!("{prefix}*");
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT id FROM containers WHERE id GLOB ?1")?;
        let rows = stmt.query_map([pattern], |row| row.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every container, newest first (as `docker ps` lists them).
    pub fn list_containers(&self) -> Result<Vec<ContainerRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM containers ORDER BY created DESC, id");
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], record_at)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// IDs of the containers created from `image`.
    pub fn containers_using_image(&self, image: &Digest) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT id FROM containers WHERE image = ?1 ORDER BY id")?;
        let rows = stmt.query_map([image.to_string()], |row| row.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Replaces the container's state document. Fails with [`StoreError::ContainerNotFound`] if it is gone.
    pub fn set_container_state(&self, id: &str, state: &str) -> Result<()> {
        let changed = self
            .conn()
            .prepare_cached("UPDATE containers SET state = ?2 WHERE id = ?1")?
            .execute(params![id, state])?;
        if changed == 0 {
            return Err(StoreError::ContainerNotFound { id: id.to_owned() });
        }
        Ok(())
    }

    /// Deletes the container's row; returns whether there was one.
    pub fn remove_container(&self, id: &str) -> Result<bool> {
        let removed = self
            .conn()
            .prepare_cached("DELETE FROM containers WHERE id = ?1")?
            .execute([id])?;
        Ok(removed > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str, created: i64) -> ContainerRecord {
        ContainerRecord {
            id: id.repeat(64 / id.len()),
            name: name.to_owned(),
            image: Digest::of(b"config"),
            created,
            config: "{}".to_owned(),
            state: "{\"Status\":\"created\"}".to_owned(),
        }
    }

    #[test]
    fn names_are_unique_and_lookups_find_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = record("a", "web", 1);
        store.insert_container(&a).unwrap();
        let err = store.insert_container(&record("b", "web", 2)).unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "\"/web\" is already in use by container \"{}\"",
                a.id
            )),
            "{err}"
        );
        store.insert_container(&record("b", "db", 2)).unwrap();
        assert_eq!(store.container(&a.id).unwrap().as_ref(), Some(&a));
        assert_eq!(store.container_by_name("web").unwrap().as_ref(), Some(&a));
        assert_eq!(
            store.container_ids_with_prefix("aa").unwrap(),
            vec![a.id.clone()]
        );
        let names: Vec<_> = store
            .list_containers()
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["db", "web"]);
        assert_eq!(store.containers_using_image(&a.image).unwrap().len(), 2);
        store
            .set_container_state(&a.id, "{\"Status\":\"exited\"}")
            .unwrap();
        assert!(
            store
                .container(&a.id)
                .unwrap()
                .unwrap()
                .state
                .contains("exited")
        );
        assert!(store.remove_container(&a.id).unwrap());
        assert!(!store.remove_container(&a.id).unwrap());
        assert!(matches!(
            store.set_container_state(&a.id, "{}"),
            Err(StoreError::ContainerNotFound { .. })
        ));
    }
}
