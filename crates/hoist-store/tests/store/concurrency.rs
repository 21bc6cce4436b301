//! Several handles on one store root, as several hoist processes would have: opening, writing metadata
//! and tags, and ingesting at the same time.

use std::collections::BTreeSet;
use std::sync::Barrier;
use std::thread;

use hoist_spec::Digest;
use hoist_store::{Store, StoreError};

use crate::support::{TestResult, layer, record};

#[test]
fn handles_opening_a_new_store_at_once_all_succeed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let start = Barrier::new(4);
    let opened: Vec<Result<Store, StoreError>> = thread::scope(|s| {
        let openers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    Store::open(dir.path())
                })
            })
            .collect();
        openers.into_iter().filter_map(|o| o.join().ok()).collect()
    });
    assert_eq!(opened.len(), 4, "an opener panicked");
    for store in opened {
        assert_eq!(store?.counts()?.images, 0);
    }
    Ok(())
}

#[test]
fn two_handles_write_images_tags_and_blobs_concurrently() -> TestResult {
    let dir = tempfile::tempdir()?;
    let first = Store::open(dir.path())?;
    let second = Store::open(dir.path())?;
    const PER_HANDLE: usize = 150;

    let write = |store: &Store, name: &str| -> Result<(), StoreError> {
        for n in 0..PER_HANDLE {
            let guard = store.write_guard()?;
            let blob = store.put_blob(format!("{name} blob {n}").as_bytes())?;
            let mut image = record(
                Digest::of(format!("{name} config {n}").as_bytes()),
                vec![
                    layer("common base", 1000),
                    layer(&format!("{name} {n}"), 10),
                ],
            );
            image.manifest = blob;
            store.put_image(&guard, &image)?;
            store.set_tag(&format!("docker.io/library/{name}:{n}"), &image.id)?;
            // Both handles fight over one tag too.
            store.set_tag("docker.io/library/contested:latest", &image.id)?;
        }
        Ok(())
    };
    let results = thread::scope(|s| {
        let a = s.spawn(|| write(&first, "first"));
        let b = s.spawn(|| write(&second, "second"));
        [a.join(), b.join()]
    });
    for result in results {
        result.map_err(|_| "a writer panicked")??;
    }

    for store in [&first, &second] {
        let counts = store.counts()?;
        assert_eq!(counts.images as usize, 2 * PER_HANDLE);
        assert_eq!(counts.tags as usize, 2 * PER_HANDLE + 1);
        assert_eq!(
            counts.layers as usize,
            2 * PER_HANDLE + 1,
            "the common base layer is stored once"
        );
        let listing = store.list_images()?;
        let tags: BTreeSet<&str> = listing
            .iter()
            .flat_map(|i| i.tags.iter().map(String::as_str))
            .collect();
        assert_eq!(tags.len(), 2 * PER_HANDLE + 1);
        for image in &listing {
            assert!(store.has_blob(&image.manifest)?);
        }
    }
    let contested = first
        .tag_target("docker.io/library/contested:latest")?
        .ok_or("contested tag lost")?;
    assert!(first.image(&contested)?.is_some());
    Ok(())
}
