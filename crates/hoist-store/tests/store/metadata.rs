//! Metadata: image round trips and upserts, tags, repository digests, prefix lookup, parents, removal
//! cascades, layer usage, guards and schema versions.

use std::collections::BTreeMap;

use hoist_spec::Digest;
use hoist_store::{RepoDigest, Store, StoreCounts, StoreError};

use crate::support::{TestResult, digest_with_prefix, layer, new_store, record};

#[test]
fn image_round_trips_with_layers_in_order() -> TestResult {
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let mut image = record(
        Digest::of(b"config a"),
        vec![layer("base", 100), layer("app", 20), layer("base", 100)],
    );
    image.labels = BTreeMap::from([
        ("maintainer".to_owned(), "me".to_owned()),
        ("x".to_owned(), "y".to_owned()),
    ]);
    image.parent = Some(Digest::of(b"config parent"));
    image.created = None;

    assert!(store.put_image(&guard, &image)?, "first put adds the image");
    assert_eq!(store.image(&image.id)?, Some(image.clone()));
    assert!(!store.put_image(&guard, &image)?, "second put is an update");
    assert_eq!(store.image(&image.id)?, Some(image.clone()));
    assert_eq!(store.image(&Digest::of(b"absent"))?, None);
    assert_eq!(
        store.counts()?,
        StoreCounts {
            images: 1,
            layers: 2,
            ..StoreCounts::default()
        }
    );
    Ok(())
}

#[test]
fn put_image_again_replaces_content_but_keeps_history() -> TestResult {
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let first = record(Digest::of(b"config"), vec![layer("gzip", 10)]);
    store.put_image(&guard, &first)?;
    store.set_tag("docker.io/library/a:latest", &first.id)?;
    let tagged = store.image(&first.id)?.and_then(|i| i.last_tag_time);
    assert!(tagged.is_some());

    // The same config stored again with another manifest (say, re-compressed layers).
    let mut second = record(first.id.clone(), vec![layer("zstd", 10)]);
    second.manifest = Digest::of(b"zstd manifest");
    second.loaded_at = first.loaded_at + 999;
    second.labels.insert("new".to_owned(), "label".to_owned());
    assert!(!store.put_image(&guard, &second)?);

    let stored = store.image(&first.id)?.ok_or("image vanished")?;
    assert_eq!(stored.manifest, second.manifest);
    assert_eq!(stored.layers, second.layers);
    assert_eq!(stored.labels, second.labels);
    assert_eq!(
        stored.loaded_at, first.loaded_at,
        "loaded_at records the first store"
    );
    assert_eq!(stored.last_tag_time, tagged, "last_tag_time is kept");
    assert_eq!(store.counts()?.layers, 1, "the replaced layer row is gone");
    assert_eq!(
        store.layer_usage()?.first().map(|u| &u.layer),
        Some(&layer("zstd", 10))
    );
    Ok(())
}

#[test]
fn tags_move_between_images() -> TestResult {
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let a = record(Digest::of(b"a"), vec![]);
    let b = record(Digest::of(b"b"), vec![]);
    store.put_image(&guard, &a)?;
    store.put_image(&guard, &b)?;
    let latest = "docker.io/library/nginx:latest";

    assert_eq!(store.tag_target(latest)?, None);
    assert_eq!(store.set_tag(latest, &a.id)?, None);
    assert_eq!(store.set_tag("docker.io/library/nginx:1", &a.id)?, None);
    assert_eq!(store.tag_target(latest)?, Some(a.id.clone()));
    assert_eq!(
        store.tags_of(&a.id)?,
        vec!["docker.io/library/nginx:1".to_owned(), latest.to_owned()]
    );
    let a_tagged = store
        .image(&a.id)?
        .and_then(|i| i.last_tag_time)
        .ok_or("a has no tag time")?;

    assert_eq!(
        store.set_tag(latest, &b.id)?,
        Some(a.id.clone()),
        "moving returns the previous target"
    );
    assert_eq!(store.tag_target(latest)?, Some(b.id.clone()));
    assert_eq!(
        store.tags_of(&a.id)?,
        vec!["docker.io/library/nginx:1".to_owned()]
    );
    assert_eq!(store.tags_of(&b.id)?, vec![latest.to_owned()]);
    let b_tagged = store
        .image(&b.id)?
        .and_then(|i| i.last_tag_time)
        .ok_or("b has no tag time")?;
    assert!(b_tagged >= a_tagged);
    assert_eq!(
        store.set_tag(latest, &b.id)?,
        Some(b.id.clone()),
        "re-tagging reports the same image"
    );

    assert_eq!(store.remove_tag(latest)?, Some(b.id.clone()));
    assert_eq!(store.remove_tag(latest)?, None);
    assert_eq!(store.tag_target(latest)?, None);
    assert!(store.tags_of(&b.id)?.is_empty());

    let missing = Digest::of(b"missing");
    assert!(
        matches!(store.set_tag(latest, &missing), Err(StoreError::ImageNotFound { id }) if id == missing)
    );
    assert_eq!(
        store.tag_target(latest)?,
        None,
        "a failed set_tag changes nothing"
    );
    Ok(())
}

#[test]
fn repo_digests_resolve_to_images() -> TestResult {
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let image = record(Digest::of(b"img"), vec![]);
    let other = record(Digest::of(b"other"), vec![]);
    store.put_image(&guard, &image)?;
    store.put_image(&guard, &other)?;
    let manifest = Digest::of(b"manifest");
    let mirror_manifest = Digest::of(b"manifest on mirror");

    store.add_repo_digest("docker.io/library/nginx", &manifest, &image.id)?;
    store.add_repo_digest("registry.example/nginx", &mirror_manifest, &image.id)?;
    store.add_repo_digest("docker.io/library/nginx", &manifest, &image.id)?;
    assert_eq!(
        store.resolve_repo_digest("docker.io/library/nginx", &manifest)?,
        Some(image.id.clone())
    );
    assert_eq!(
        store.resolve_repo_digest("docker.io/library/redis", &manifest)?,
        None
    );
    assert_eq!(
        store.repo_digests_of(&image.id)?,
        vec![
            RepoDigest {
                repository: "docker.io/library/nginx".to_owned(),
                manifest: manifest.clone()
            },
            RepoDigest {
                repository: "registry.example/nginx".to_owned(),
                manifest: mirror_manifest.clone()
            },
        ]
    );

    // Re-recording the pair for another image moves it.
    store.add_repo_digest("registry.example/nginx", &mirror_manifest, &other.id)?;
    assert_eq!(store.repo_digests_of(&image.id)?.len(), 1);
    assert_eq!(
        store.resolve_repo_digest("registry.example/nginx", &mirror_manifest)?,
        Some(other.id.clone())
    );

    assert_eq!(
        store.remove_repo_digest("docker.io/library/nginx", &manifest)?,
        Some(image.id.clone())
    );
    assert_eq!(
        store.remove_repo_digest("docker.io/library/nginx", &manifest)?,
        None
    );
    assert!(store.repo_digests_of(&image.id)?.is_empty());

    let missing = Digest::of(b"missing");
    assert!(matches!(
        store.add_repo_digest("docker.io/library/nginx", &manifest, &missing),
        Err(StoreError::ImageNotFound { .. })
    ));
    Ok(())
}

#[test]
fn id_prefix_lookup_uses_exact_hex_ranges() -> TestResult {
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let ids: Vec<Digest> = ["aa", "ab0", "abf", "abff", "ac", "f"]
        .iter()
        .map(|p| digest_with_prefix(p))
        .collect();
    for id in &ids {
        store.put_image(&guard, &record(id.clone(), vec![]))?;
    }
    let [aa, ab0, abf, abff, ac, f] =
        <[Digest; 6]>::try_from(ids.clone()).map_err(|_| "six ids")?;

    assert_eq!(
        store.find_by_id_prefix("ab")?,
        vec![ab0.clone(), abf.clone(), abff.clone()]
    );
    assert_eq!(
        store.find_by_id_prefix("abf")?,
        vec![abf.clone(), abff.clone()]
    );
    assert_eq!(store.find_by_id_prefix("abff")?, vec![abff.clone()]);
    assert_eq!(store.find_by_id_prefix("a")?, vec![aa, ab0, abf, abff, ac]);
    assert_eq!(store.find_by_id_prefix(f.hex())?, vec![f.clone()]);
    assert_eq!(store.find_by_id_prefix("f")?, vec![f.clone()]);
    assert!(store.find_by_id_prefix("b")?.is_empty());
    assert!(
        store.find_by_id_prefix("AB")?.is_empty(),
        "IDs are lowercase"
    );
    assert!(
        store.find_by_id_prefix("a%")?.is_empty(),
        "not hex, and not a LIKE pattern"
    );
    assert!(
        store
            .find_by_id_prefix(&format!("{}0", f.hex()))?
            .is_empty(),
        "longer than an ID"
    );
    assert_eq!(store.find_by_id_prefix("")?.len(), ids.len());
    Ok(())
}

#[test]
fn children_are_found_by_parent() -> TestResult {
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let base = record(Digest::of(b"base"), vec![]);
    let mut child1 = record(Digest::of(b"child1"), vec![]);
    let mut child2 = record(Digest::of(b"child2"), vec![]);
    child1.parent = Some(base.id.clone());
    child2.parent = Some(base.id.clone());
    for image in [&base, &child1, &child2] {
        store.put_image(&guard, image)?;
    }
    let mut expected = vec![child1.id.clone(), child2.id.clone()];
    expected.sort();
    assert_eq!(store.children_of(&base.id)?, expected);
    assert!(store.children_of(&child1.id)?.is_empty());
    Ok(())
}

#[test]
fn remove_image_cascades_to_tags_digests_and_unshared_layers() -> TestResult {
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let shared = layer("shared", 1000);
    let only_a = layer("only a", 10);
    let a = record(Digest::of(b"a"), vec![shared.clone(), only_a.clone()]);
    let b = record(Digest::of(b"b"), vec![shared.clone(), layer("only b", 5)]);
    store.put_image(&guard, &a)?;
    store.put_image(&guard, &b)?;
    store.set_tag("docker.io/library/a:latest", &a.id)?;
    store.set_tag("docker.io/library/b:latest", &b.id)?;
    store.add_repo_digest("docker.io/library/a", &a.manifest, &a.id)?;
    assert_eq!(
        store.counts()?,
        StoreCounts {
            images: 2,
            tags: 2,
            repo_digests: 1,
            layers: 3,
            pins: 0
        }
    );
    let usage = store.layer_usage()?;
    assert_eq!(
        usage.iter().find(|u| u.layer == shared).map(|u| u.images),
        Some(2)
    );

    assert!(store.remove_image(&a.id)?);
    assert!(!store.remove_image(&a.id)?, "second removal finds nothing");
    assert_eq!(store.image(&a.id)?, None);
    assert_eq!(store.tag_target("docker.io/library/a:latest")?, None);
    assert_eq!(
        store.resolve_repo_digest("docker.io/library/a", &a.manifest)?,
        None
    );
    assert_eq!(
        store.counts()?,
        StoreCounts {
            images: 1,
            tags: 1,
            repo_digests: 0,
            layers: 2,
            pins: 0
        }
    );
    let usage = store.layer_usage()?;
    assert!(
        usage.iter().all(|u| u.layer != only_a),
        "the layer only a used is gone"
    );
    assert_eq!(
        usage.iter().find(|u| u.layer == shared).map(|u| u.images),
        Some(1)
    );
    let b_stored = store.image(&b.id)?.ok_or("the other image is gone")?;
    assert_eq!(
        (&b_stored.layers, &b_stored.manifest),
        (&b.layers, &b.manifest),
        "the other image is untouched"
    );
    assert_eq!(
        store.tag_target("docker.io/library/b:latest")?,
        Some(b.id.clone())
    );
    Ok(())
}

#[test]
fn layer_usage_counts_an_image_once_even_with_a_repeated_layer() -> TestResult {
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let empty = layer("empty", 32);
    store.put_image(
        &guard,
        &record(
            Digest::of(b"x"),
            vec![empty.clone(), empty.clone(), empty.clone()],
        ),
    )?;
    let usage = store.layer_usage()?;
    assert_eq!(usage.len(), 1);
    assert_eq!(
        usage.first().map(|u| (&u.layer, u.images)),
        Some((&empty, 1))
    );
    Ok(())
}

#[test]
fn a_guard_from_another_store_is_refused() -> TestResult {
    let (_dir_a, a) = new_store()?;
    let (_dir_b, b) = new_store()?;
    let guard_b = b.write_guard()?;
    let image = record(Digest::of(b"x"), vec![]);
    match a.put_image(&guard_b, &image) {
        Err(StoreError::ForeignGuard {
            guard_root,
            store_root,
        }) => {
            assert_eq!(guard_root, b.root());
            assert_eq!(store_root, a.root());
        }
        other => panic!("expected ForeignGuard, got {other:?}"),
    }
    assert!(matches!(
        a.pin_blob(&guard_b, &image.id, "test"),
        Err(StoreError::ForeignGuard { .. })
    ));
    assert_eq!(a.image(&image.id)?, None);
    Ok(())
}

#[test]
fn schema_is_versioned_and_newer_databases_are_refused() -> TestResult {
    let (dir, store) = new_store()?;
    let db_path = store.db_path().to_owned();
    drop(store);
    let conn = rusqlite::Connection::open(&db_path)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    assert_eq!(version, 3);
    let mode: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
    assert_eq!(mode, "wal");

    // Reopening a current database works and keeps data.
    drop(conn);
    let store = Store::open(dir.path())?;
    store.put_image(&store.write_guard()?, &record(Digest::of(b"kept"), vec![]))?;
    drop(store);
    let store = Store::open(dir.path())?;
    assert_eq!(store.counts()?.images, 1);
    drop(store);

    // A version 1 database (before containers) is migrated, keeping its images.
    let conn = rusqlite::Connection::open(&db_path)?;
    conn.execute_batch("DROP TABLE containers; DROP TABLE build_cache; PRAGMA user_version = 1;")?;
    drop(conn);
    let store = Store::open(dir.path())?;
    assert_eq!(store.counts()?.images, 1);
    assert!(store.list_containers()?.is_empty());
    assert!(store.build_cache_records()?.is_empty());
    drop(store);

    let conn = rusqlite::Connection::open(&db_path)?;
    conn.pragma_update(None, "user_version", 99)?;
    drop(conn);
    match Store::open(dir.path()) {
        Err(StoreError::UnsupportedSchema {
            path,
            found: 99,
            supported: 3,
        }) => assert_eq!(path, db_path),
        other => panic!("expected UnsupportedSchema, got {other:?}"),
    }
    Ok(())
}
