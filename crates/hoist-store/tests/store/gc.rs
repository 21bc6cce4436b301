//! Garbage collection (referenced sets, pins, temp files, dry runs, waiting for writers) and the
//! integrity check.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use hoist_spec::Digest;
use hoist_store::{BlobReference, CorruptBlob, MissingBlob, RemovedBlob, Store};

use crate::support::{TestResult, ingest_files, new_store, store_image};

/// How long a test waits to conclude that a blocked GC is still blocked. A GC that did not wait would
/// finish an almost empty store in well under a millisecond.
const BLOCKED_FOR: Duration = Duration::from_millis(300);

#[test]
fn gc_keeps_referenced_and_pinned_blobs_and_removes_the_rest() -> TestResult {
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let image = store_image(&store, &guard, "app", &[b"layer one", b"layer two"])?;
    let orphan = store.put_blob(b"orphan blob")?;
    let pinned = store.put_blob(b"build cache entry")?;
    store.pin_blob(&guard, &pinned, "build-cache")?;
    store.pin_blob(&guard, &pinned, "build-cache")?;
    drop(guard);
    // A temporary file left behind by a writer that crashed.
    fs::write(
        store.root().join("ingest/blob-crashed"),
        b"partial download",
    )?;

    let report = store.gc(false)?;
    assert!(!report.dry_run);
    assert_eq!(
        report.removed,
        vec![RemovedBlob {
            digest: orphan.clone(),
            size: 11
        }]
    );
    assert_eq!(report.temp_files_removed, 1);
    assert_eq!(report.reclaimed, 11 + 16);
    assert!(!store.has_blob(&orphan)?);
    assert!(ingest_files(store.root())?.is_empty());
    let mut kept = vec![image.id.clone(), image.manifest.clone(), pinned.clone()];
    kept.extend(image.layers.iter().map(|l| l.blob.clone()));
    for digest in &kept {
        assert!(store.has_blob(digest)?, "{digest} must survive");
    }

    assert_eq!(store.unpin_owner("build-cache")?, 1);
    assert!(store.remove_image(&image.id)?);
    let report = store.gc(false)?;
    let mut removed: Vec<Digest> = report.removed.iter().map(|r| r.digest.clone()).collect();
    kept.sort();
    removed.sort();
    assert_eq!(removed, kept);
    assert_eq!(fs::read_dir(store.root().join("blobs/sha256"))?.count(), 0);
    Ok(())
}

#[test]
fn gc_keeps_layers_still_used_by_another_image() -> TestResult {
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let a = store_image(&store, &guard, "a", &[b"shared base", b"a only"])?;
    let b = store_image(&store, &guard, "b", &[b"shared base", b"b only"])?;
    drop(guard);
    store.remove_image(&a.id)?;
    let report = store.gc(false)?;
    let mut expected = vec![a.id.clone(), a.manifest.clone(), Digest::of(b"a only")];
    expected.sort();
    assert_eq!(
        report
            .removed
            .iter()
            .map(|r| r.digest.clone())
            .collect::<Vec<_>>(),
        expected
    );
    for digest in [
        &b.id,
        &b.manifest,
        &Digest::of(b"shared base"),
        &Digest::of(b"b only"),
    ] {
        assert!(store.has_blob(digest)?);
    }
    Ok(())
}

#[test]
fn dry_run_reports_without_deleting() -> TestResult {
    let (_dir, store) = new_store()?;
    let kept = store_image(&store, &store.write_guard()?, "kept", &[b"kept layer"])?;
    let orphans = [store.put_blob(b"one")?, store.put_blob(b"three")?];
    fs::write(store.root().join("ingest/blob-leftover"), b"12345")?;

    let dry = store.gc(true)?;
    assert!(dry.dry_run);
    let mut expected: Vec<RemovedBlob> = orphans
        .iter()
        .map(|d| RemovedBlob {
            digest: d.clone(),
            size: if *d == Digest::of(b"one") { 3 } else { 5 },
        })
        .collect();
    expected.sort_by(|a, b| a.digest.cmp(&b.digest));
    assert_eq!(dry.removed, expected);
    assert_eq!(dry.temp_files_removed, 1);
    assert_eq!(dry.reclaimed, 3 + 5 + 5);
    for digest in &orphans {
        assert!(store.has_blob(digest)?, "dry run deleted {digest}");
    }
    assert_eq!(ingest_files(store.root())?.len(), 1);

    let real = store.gc(false)?;
    assert_eq!(
        (real.removed, real.temp_files_removed, real.reclaimed),
        (dry.removed, 1, dry.reclaimed)
    );
    assert!(store.has_blob(&kept.id)?);
    Ok(())
}

#[test]
fn try_gc_skips_while_a_writer_holds_the_guard() -> TestResult {
    let (dir, store) = new_store()?;
    let other_process = Store::open(dir.path())?;
    let orphan = store.put_blob(b"orphan")?;

    let guard = other_process.write_guard()?;
    assert_eq!(
        store.try_gc(false)?,
        None,
        "a writer in another handle holds the shared lock"
    );
    assert!(store.has_blob(&orphan)?);
    drop(guard);

    let ingest = other_process.ingest()?;
    assert_eq!(
        store.try_gc(false)?,
        None,
        "an ingest in progress holds the shared lock too"
    );
    drop(ingest);

    let report = store
        .try_gc(false)?
        .ok_or("GC should run once the writers are gone")?;
    assert_eq!(report.removed.len(), 1);
    assert!(!store.has_blob(&orphan)?);
    Ok(())
}

#[test]
fn gc_waits_for_a_writer_between_commit_and_reference() -> TestResult {
    let (dir, writer) = new_store()?;
    let collector = Store::open(dir.path())?;

    let guard = writer.write_guard()?;
    // Committed but not yet referenced: exactly what GC must not see.
    let layer = writer.put_blob(b"just downloaded layer")?;

    let (done_tx, done_rx) = mpsc::channel();
    thread::scope(|s| -> TestResult {
        s.spawn(|| {
            let _ = done_tx.send(collector.gc(false).map_err(|e| e.to_string()));
        });
        assert!(
            done_rx.recv_timeout(BLOCKED_FOR).is_err(),
            "GC ran while a writer held the guard"
        );

        // The writer finishes its operation (a new ingest takes another shared lock, which must not
        // queue behind the waiting GC) and then releases the guard.
        let image = store_image(
            &writer,
            &guard,
            "late",
            &[b"just downloaded layer", b"one more"],
        )?;
        assert_eq!(image.layers.first().map(|l| &l.blob), Some(&layer));
        drop(guard);

        let report = done_rx.recv_timeout(Duration::from_secs(30))??;
        assert!(report.removed.is_empty(), "GC removed {:?}", report.removed);
        Ok(())
    })?;
    assert!(writer.has_blob(&layer)?);
    Ok(())
}

#[test]
fn check_finds_corrupt_missing_and_stray_files() -> TestResult {
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let image = store_image(
        &store,
        &guard,
        "checked",
        &[b"first layer", b"second layer"],
    )?;
    let pinned = Digest::of(b"pinned but never stored");
    store.pin_blob(&guard, &pinned, "lease:1")?;
    drop(guard);
    store.unpin_owner("lease:1")?;

    let clean = store.check()?;
    assert!(clean.is_clean(), "{clean:?}");
    assert_eq!(clean.blobs_checked, 4);

    // Flip one byte of a layer on disk.
    let corrupted = image
        .layers
        .first()
        .map(|l| l.blob.clone())
        .ok_or("no layer")?;
    let path = store.blob_path(&corrupted);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;
    let mut bytes = fs::read(&path)?;
    if let Some(byte) = bytes.get_mut(3) {
        *byte ^= 0x01;
    }
    fs::write(&path, &bytes)?;
    // Lose the manifest, and add a stray file.
    fs::remove_file(store.blob_path(&image.manifest))?;
    fs::File::create(store.root().join("blobs/sha256/not-a-digest"))?.write_all(b"?")?;
    let guard = store.write_guard()?;
    store.pin_blob(&guard, &pinned, "lease:2")?;
    drop(guard);

    let report = store.check()?;
    assert_eq!(
        report.corrupt,
        vec![CorruptBlob {
            path,
            expected: corrupted,
            found: Digest::of(&bytes)
        }]
    );
    assert_eq!(
        report.missing,
        vec![
            MissingBlob {
                digest: image.manifest.clone(),
                referenced_by: BlobReference::Manifest {
                    image: image.id.clone()
                }
            },
            MissingBlob {
                digest: pinned,
                referenced_by: BlobReference::Pin {
                    owner: "lease:2".to_owned()
                }
            },
        ]
    );
    assert_eq!(
        report.unexpected_files,
        vec![store.root().join("blobs/sha256/not-a-digest")]
    );
    assert!(!report.is_clean());
    Ok(())
}

#[test]
fn check_reports_a_missing_layer_for_each_image_using_it() -> TestResult {
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let a = store_image(&store, &guard, "a", &[b"shared"])?;
    let b = store_image(&store, &guard, "b", &[b"shared"])?;
    drop(guard);
    let shared = Digest::of(b"shared");
    fs::remove_file(store.blob_path(&shared))?;
    let mut expected: Vec<MissingBlob> = [&a, &b]
        .iter()
        .map(|image| MissingBlob {
            digest: shared.clone(),
            referenced_by: BlobReference::Layer {
                image: image.id.clone(),
                diff_id: shared.clone(),
            },
        })
        .collect();
    expected.sort_by_key(|m| match &m.referenced_by {
        BlobReference::Layer { image, .. } => image.clone(),
        _ => shared.clone(),
    });
    assert_eq!(store.check()?.missing, expected);
    Ok(())
}

#[test]
fn build_cache_rows_keep_their_layer_blob_until_removed() -> TestResult {
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let blob = store.put_blob(b"a layer a build step made")?;
    let key = Digest::of(b"cache key");
    let layer = hoist_store::LayerRecord {
        diff_id: blob.clone(),
        blob: blob.clone(),
        media_type: "application/vnd.oci.image.layer.v1.tar".to_owned(),
        blob_size: 25,
        size: 25,
    };
    let record = hoist_store::BuildCacheRecord {
        key: key.clone(),
        kind: "regular".to_owned(),
        description: "[2/2] RUN make".to_owned(),
        layer: Some(layer.clone()),
        size: 25,
        chain: Some(blob.clone()),
        created: 1,
        last_used: 1,
        usage_count: 1,
    };
    store.put_build_cache(&guard, &record)?;
    drop(guard);
    assert!(
        store.gc(false)?.removed.is_empty(),
        "the cache keeps its blob"
    );
    let hit = store.build_cache_hit(&key)?.ok_or("cache miss")?;
    assert_eq!(hit.layer, Some(layer));
    assert_eq!(hit.usage_count, 2);
    assert!(store.build_cache_hit(&Digest::of(b"other"))?.is_none());
    assert_eq!(store.build_cache_records()?.len(), 1);
    assert_eq!(store.remove_build_cache(std::slice::from_ref(&key))?, 1);
    let report = store.gc(false)?;
    assert_eq!(report.removed.len(), 1, "{report:?}");
    assert!(store.build_cache_hit(&key)?.is_none());
    Ok(())
}
