//! Blob store conformance: ingest then commit, verification, abort by drop, and concurrent ingest.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::sync::Barrier;
use std::{fs, thread};

use hoist_spec::Digest;
use hoist_store::StoreError;

use crate::support::{TestResult, ingest_files, new_store};

#[test]
fn ingest_is_invisible_until_commit_then_readable() -> TestResult {
    let (dir, store) = new_store()?;
    let content = b"hello blob world".repeat(1000);
    let digest = Digest::of(&content);

    let mut ingest = store.ingest()?;
    for chunk in content.chunks(777) {
        ingest.write_all(chunk)?;
    }
    assert_eq!(ingest.written(), content.len() as u64);
    assert!(!store.has_blob(&digest)?);
    let pending = ingest.finish()?;
    assert_eq!(pending.digest(), &digest);
    assert_eq!(pending.size(), content.len() as u64);
    assert!(
        !store.has_blob(&digest)?,
        "a finished but uncommitted blob must not be visible"
    );
    assert!(!store.blob_path(&digest).exists());

    let committed = pending.commit(Some(&digest), Some(content.len() as u64))?;
    assert_eq!(committed, digest);
    assert!(store.has_blob(&digest)?);
    assert_eq!(store.blob_size(&digest)?, content.len() as u64);
    assert_eq!(store.read_blob(&digest)?, content);
    let mut opened = Vec::new();
    store.open_blob(&digest)?.read_to_end(&mut opened)?;
    assert_eq!(opened, content);
    assert_eq!(
        store.blob_path(&digest),
        dir.path()
            .canonicalize()?
            .join("blobs/sha256")
            .join(digest.hex())
    );
    let mode = fs::metadata(store.blob_path(&digest))?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o444, "committed blobs are read-only");
    assert!(ingest_files(store.root())?.is_empty());
    Ok(())
}

#[test]
fn empty_blob_round_trips() -> TestResult {
    let (_dir, store) = new_store()?;
    let digest = store.ingest()?.commit()?;
    assert_eq!(digest, Digest::of(b""));
    assert_eq!(store.read_blob(&digest)?, b"");
    Ok(())
}

#[test]
fn commit_with_wrong_digest_fails_and_leaves_nothing() -> TestResult {
    let (_dir, store) = new_store()?;
    let wrong = Digest::of(b"something else");
    let mut ingest = store.ingest()?;
    ingest.write_all(b"actual content")?;
    let err = ingest.finish()?.commit(Some(&wrong), None);
    match err {
        Err(StoreError::DigestMismatch { expected, found }) => {
            assert_eq!(expected, wrong);
            assert_eq!(found, Digest::of(b"actual content"));
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    assert!(!store.has_blob(&Digest::of(b"actual content"))?);
    assert!(!store.has_blob(&wrong)?);
    assert!(ingest_files(store.root())?.is_empty());
    Ok(())
}

#[test]
fn commit_with_wrong_size_fails_and_leaves_nothing() -> TestResult {
    let (_dir, store) = new_store()?;
    let digest = Digest::of(b"twelve bytes");
    let mut ingest = store.ingest()?;
    ingest.write_all(b"twelve bytes")?;
    match ingest.finish()?.commit(Some(&digest), Some(13)) {
        Err(StoreError::SizeMismatch {
            digest: d,
            expected: 13,
            found: 12,
        }) => assert_eq!(d, digest),
        other => panic!("expected SizeMismatch, got {other:?}"),
    }
    assert!(!store.has_blob(&digest)?);
    assert!(ingest_files(store.root())?.is_empty());
    Ok(())
}

#[test]
fn expectation_given_up_front_is_checked_by_one_call_commit() -> TestResult {
    let (_dir, store) = new_store()?;
    let content = b"known in advance";
    let digest = Digest::of(content);

    let mut good = store.ingest_expecting(&digest, Some(content.len() as u64))?;
    good.write_all(content)?;
    assert_eq!(good.commit()?, digest);

    let other = Digest::of(b"another");
    let mut bad = store.ingest_expecting(&other, None)?;
    bad.write_all(content)?;
    assert!(
        matches!(bad.commit(), Err(StoreError::DigestMismatch { expected, .. }) if expected == other)
    );

    // The up-front expectation also holds when the caller commits with explicit arguments.
    let mut bad = store.ingest_expecting(&other, None)?;
    bad.write_all(content)?;
    assert!(matches!(
        bad.finish()?.commit(None, None),
        Err(StoreError::DigestMismatch { .. })
    ));

    let mut short = store.ingest_expecting(&digest, Some(content.len() as u64))?;
    short.write_all(&content[..4])?;
    assert!(matches!(
        short.commit(),
        Err(StoreError::SizeMismatch {
            expected: 16,
            found: 4,
            ..
        })
    ));
    assert!(ingest_files(store.root())?.is_empty());
    Ok(())
}

#[test]
fn writing_past_the_expected_size_fails_at_once() -> TestResult {
    let (_dir, store) = new_store()?;
    let digest = Digest::of(b"abc");
    let mut ingest = store.ingest_expecting(&digest, Some(3))?;
    ingest.write_all(b"ab")?;
    let err = ingest.write_all(b"cd").err().map(|e| e.kind());
    assert_eq!(err, Some(ErrorKind::InvalidData));
    drop(ingest);
    assert!(ingest_files(store.root())?.is_empty());
    Ok(())
}

#[test]
fn dropping_an_ingest_or_pending_blob_removes_its_temp_file() -> TestResult {
    let (_dir, store) = new_store()?;
    let mut ingest = store.ingest()?;
    ingest.write_all(b"abandoned")?;
    assert_eq!(
        ingest_files(store.root())?,
        vec![ingest.temp_path().to_owned()]
    );
    drop(ingest);
    assert!(ingest_files(store.root())?.is_empty());

    let mut ingest = store.ingest()?;
    ingest.write_all(b"abandoned after finish")?;
    let pending = ingest.finish()?;
    assert_eq!(ingest_files(store.root())?.len(), 1);
    drop(pending);
    assert!(ingest_files(store.root())?.is_empty());
    assert!(!store.has_blob(&Digest::of(b"abandoned after finish"))?);
    Ok(())
}

#[test]
fn committing_an_existing_blob_keeps_the_stored_one() -> TestResult {
    let (_dir, store) = new_store()?;
    let first = store.put_blob(b"same bytes")?;
    let mut again = store.ingest()?;
    again.write_all(b"same bytes")?;
    assert_eq!(again.commit()?, first);
    assert_eq!(store.put_blob(b"same bytes")?, first);
    assert_eq!(fs::read_dir(store.root().join("blobs/sha256"))?.count(), 1);
    assert!(ingest_files(store.root())?.is_empty());
    Ok(())
}

#[test]
fn two_threads_ingesting_the_same_blob_both_succeed() -> TestResult {
    let (_dir, store) = new_store()?;
    let content = b"raced content".repeat(10_000);
    let digest = Digest::of(&content);
    // Both finish before either commits, so both commits race for the same name.
    let finished = Barrier::new(2);
    let results: Vec<_> = thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| -> Result<Digest, StoreError> {
                    let mut ingest = store.ingest()?;
                    for chunk in content.chunks(4096) {
                        ingest.write_all(chunk).map_err(|source| StoreError::Io {
                            action: "write",
                            path: ingest.temp_path().to_owned(),
                            source,
                        })?;
                    }
                    let pending = ingest.finish()?;
                    finished.wait();
                    pending.commit(Some(&digest), Some(content.len() as u64))
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join()).collect()
    });
    for result in results {
        match result {
            Ok(committed) => assert_eq!(committed?, digest),
            Err(_) => panic!("an ingest thread panicked"),
        }
    }
    assert_eq!(store.read_blob(&digest)?, content);
    assert!(ingest_files(store.root())?.is_empty());
    Ok(())
}

#[test]
fn missing_blobs_are_reported_with_their_path() -> TestResult {
    let (_dir, store) = new_store()?;
    let digest = Digest::of(b"never stored");
    assert!(!store.has_blob(&digest)?);
    for result in [
        store.read_blob(&digest).map(drop),
        store.open_blob(&digest).map(drop),
        store.blob_size(&digest).map(drop),
    ] {
        match result {
            Err(StoreError::BlobNotFound { digest: d, path }) => {
                assert_eq!(d, digest);
                assert_eq!(path, store.blob_path(&digest));
            }
            other => panic!("expected BlobNotFound, got {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn read_blob_detects_corruption_and_discard_allows_a_fresh_commit() -> TestResult {
    let (_dir, store) = new_store()?;
    let digest = store.put_blob(b"pristine")?;
    let path = store.blob_path(&digest);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;
    fs::write(&path, b"tampered")?;

    match store.read_blob(&digest) {
        Err(StoreError::CorruptBlob {
            path: p,
            expected,
            found,
        }) => {
            assert_eq!(p, path);
            assert_eq!(expected, digest);
            assert_eq!(found, Digest::of(b"tampered"));
        }
        other => panic!("expected CorruptBlob, got {other:?}"),
    }
    // While the corrupt file holds the name, a commit of the right bytes is skipped.
    store.put_blob(b"pristine")?;
    assert!(store.read_blob(&digest).is_err());

    assert_eq!(
        store.discard_corrupt_blob(&digest)?,
        Some(Digest::of(b"tampered"))
    );
    assert!(!store.has_blob(&digest)?);
    assert_eq!(store.put_blob(b"pristine")?, digest);
    assert_eq!(store.read_blob(&digest)?, b"pristine");
    assert_eq!(
        store.discard_corrupt_blob(&digest)?,
        None,
        "an intact blob is kept"
    );
    Ok(())
}

#[test]
fn batch_commit_publishes_only_after_the_batch_is_synced_and_verified() -> TestResult {
    let (_dir, store) = new_store()?;
    let contents: Vec<Vec<u8>> = (0..3)
        .map(|i| format!("batch blob {i}").into_bytes())
        .collect();
    let mut batch = Vec::new();
    for c in &contents {
        let mut ingest = store.ingest()?;
        ingest.write_all(c)?;
        let pending = ingest.finish_unsynced()?;
        assert!(
            !store.has_blob(pending.digest())?,
            "unsynced pending blobs are invisible"
        );
        batch.push((pending, Some(Digest::of(c)), Some(c.len() as u64)));
    }
    let digests = store.commit_batch(batch)?;
    for (d, c) in digests.iter().zip(&contents) {
        assert_eq!(store.read_blob(d)?, *c);
    }

    // A mismatch in the middle: the blobs before it are published (valid, unreferenced: GC's to remove),
    // the one that failed and the rest never appear.
    let bad = [b"first".to_vec(), b"second".to_vec(), b"third".to_vec()];
    let mut batch = Vec::new();
    for (i, c) in bad.iter().enumerate() {
        let mut ingest = store.ingest()?;
        ingest.write_all(c)?;
        let expected = if i == 1 {
            Digest::of(b"something else")
        } else {
            Digest::of(c)
        };
        batch.push((ingest.finish_unsynced()?, Some(expected), None));
    }
    let err = store.commit_batch(batch).unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
    assert!(store.has_blob(&Digest::of(b"first"))?);
    assert!(!store.has_blob(&Digest::of(b"second"))?);
    assert!(!store.has_blob(&Digest::of(b"third"))?);
    Ok(())
}

fn resume(
    store: &hoist_store::Store,
    digest: &Digest,
    size: u64,
    seen: &mut Vec<u8>,
) -> Result<hoist_store::Ingest, Box<dyn std::error::Error>> {
    match store.resume_ingest(digest, Some(size), |chunk| {
        seen.extend_from_slice(chunk);
        Ok(())
    })? {
        hoist_store::Resumed::Ingest(ingest) => Ok(*ingest),
        hoist_store::Resumed::Stored => Err("blob unexpectedly stored".into()),
    }
}

#[test]
fn an_interrupted_download_resumes_where_it_stopped() -> TestResult {
    let (_dir, store) = new_store()?;
    let content = b"resumable layer bytes ".repeat(5000);
    let digest = Digest::of(&content);
    let size = content.len() as u64;
    let (first, rest) = content.split_at(40_000);

    let mut seen = Vec::new();
    let mut ingest = resume(&store, &digest, size, &mut seen)?;
    assert_eq!(ingest.written(), 0);
    ingest.write_all(first)?;
    ingest.flush()?;
    drop(ingest); // the connection broke
    assert!(!store.has_blob(&digest)?);

    let mut seen = Vec::new();
    let mut ingest = resume(&store, &digest, size, &mut seen)?;
    assert_eq!(ingest.written(), first.len() as u64);
    assert_eq!(seen, first, "the kept bytes are replayed once");
    ingest.write_all(rest)?;
    assert_eq!(ingest.commit()?, digest);
    assert_eq!(store.read_blob(&digest)?, content);
    assert!(matches!(
        store.resume_ingest(&digest, Some(size), |_| Ok(()))?,
        hoist_store::Resumed::Stored
    ));
    Ok(())
}

#[test]
fn a_resumed_download_that_ends_corrupt_starts_over() -> TestResult {
    let (_dir, store) = new_store()?;
    let content = b"the right bytes".repeat(100);
    let digest = Digest::of(&content);
    let size = content.len() as u64;
    let mut ingest = resume(&store, &digest, size, &mut Vec::new())?;
    ingest.write_all(&b"the wrong bytes".repeat(100))?;
    assert!(matches!(
        ingest.commit(),
        Err(StoreError::DigestMismatch { .. })
    ));
    let mut seen = Vec::new();
    let ingest = resume(&store, &digest, size, &mut seen)?;
    assert_eq!(ingest.written(), 0, "a corrupt partial file is not kept");
    assert!(seen.is_empty());
    Ok(())
}
