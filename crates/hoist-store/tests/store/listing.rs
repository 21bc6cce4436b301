//! Listing: exact content for a small store, and 10,000 tagged images sharing layers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use hoist_spec::Digest;
use hoist_store::{ImageListing, RepoDigest, Store};

use crate::support::{TestResult, layer, new_store, record};

#[test]
fn listing_matches_what_was_stored() -> TestResult {
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let base = layer("base", 1000);
    let mut parent = record(Digest::of(b"parent"), vec![base.clone()]);
    parent.labels = BTreeMap::from([(
        "org.opencontainers.image.title".to_owned(),
        "parent".to_owned(),
    )]);
    let mut child = record(Digest::of(b"child"), vec![base.clone(), layer("app", 50)]);
    child.parent = Some(parent.id.clone());
    child.created = None;
    let untagged = record(Digest::of(b"untagged"), vec![]);
    for image in [&parent, &child, &untagged] {
        store.put_image(&guard, image)?;
    }
    store.set_tag("docker.io/library/app:2", &child.id)?;
    store.set_tag("docker.io/library/app:1", &child.id)?;
    store.add_repo_digest("docker.io/library/app", &child.manifest, &child.id)?;
    let child_stored = store.image(&child.id)?.ok_or("child missing")?;

    let listing = store.list_images()?;
    let ids: Vec<&Digest> = listing.iter().map(|i| &i.id).collect();
    assert_eq!(
        ids,
        vec![&parent.id, &child.id, &untagged.id],
        "in the order first stored"
    );
    let listed_child = listing.get(1).ok_or("no child listing")?;
    assert_eq!(
        listed_child,
        &ImageListing {
            id: child.id.clone(),
            manifest: child.manifest.clone(),
            created: None,
            size: 1050,
            parent: Some(parent.id.clone()),
            labels: BTreeMap::new(),
            tags: vec![
                "docker.io/library/app:1".to_owned(),
                "docker.io/library/app:2".to_owned()
            ],
            repo_digests: vec![RepoDigest {
                repository: "docker.io/library/app".to_owned(),
                manifest: child.manifest.clone()
            }],
            layers: child.layers.iter().cloned().map(Arc::new).collect(),
            loaded_at: child.loaded_at,
            last_tag_time: child_stored.last_tag_time,
        }
    );
    assert_eq!(listing.first().map(|i| &i.labels), Some(&parent.labels));
    assert!(
        listing
            .get(2)
            .is_some_and(|i| i.tags.is_empty() && i.layers.is_empty() && i.last_tag_time.is_none())
    );
    let (Some(p), Some(c)) = (listing.first(), listing.get(1)) else {
        return Err("short listing".into());
    };
    assert!(
        Arc::ptr_eq(&p.layers[0], &c.layers[0]),
        "a shared layer is read once"
    );
    Ok(())
}

#[test]
#[expect(
    clippy::print_stderr,
    reason = "reports the listing time, as the store's performance target asks"
)]
fn ten_thousand_tagged_images_list_correctly() -> TestResult {
    const IMAGES: usize = 10_000;
    let (_dir, store) = new_store()?;
    let guard = store.write_guard()?;
    let shared: Vec<_> = (0..8)
        .map(|n| layer(&format!("shared {n}"), 1 << (10 + n)))
        .collect();

    let insert_started = Instant::now();
    for n in 0..IMAGES {
        let layers = vec![
            shared[n % 2].clone(),
            shared[2 + n % 6].clone(),
            layer(&format!("own {n}"), n as u64),
        ];
        let mut image = record(Digest::of(format!("config {n}").as_bytes()), layers);
        if n % 10 == 0 {
            image
                .labels
                .insert("batch".to_owned(), (n / 10).to_string());
        }
        store.put_image(&guard, &image)?;
        store.set_tag(
            &format!("registry.example/team/app{}:v{n}", n % 50),
            &image.id,
        )?;
        if n % 2 == 0 {
            store.add_repo_digest(
                &format!("registry.example/team/app{}", n % 50),
                &image.manifest,
                &image.id,
            )?;
        }
    }
    let insert_time = insert_started.elapsed();

    // Measure as `hoist images` would run: a fresh handle on a store nobody else has open (so SQLite has
    // checkpointed its WAL), then the same handle again with its page cache warm.
    drop(guard);
    let root = store.root().to_owned();
    drop(store);
    let store = Store::open(&root)?;
    let listed_started = Instant::now();
    let listing = store.list_images()?;
    let first_list = listed_started.elapsed();
    let mut warm = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let again = store.list_images()?;
        warm.push(started.elapsed());
        assert_eq!(again.len(), IMAGES);
    }
    warm.sort();
    eprintln!(
        "hoist-store: inserted {IMAGES} tagged images in {insert_time:.2?}; list_images on a fresh handle took \
         {first_list:.2?}, warm: best {:.2?}, median {:.2?}",
        warm.first().copied().unwrap_or_default(),
        warm.get(warm.len() / 2).copied().unwrap_or_default(),
    );

    assert_eq!(listing.len(), IMAGES);
    let mut shared_seen: BTreeMap<Digest, Arc<_>> = BTreeMap::new();
    for (n, image) in listing.iter().enumerate() {
        assert_eq!(image.id, Digest::of(format!("config {n}").as_bytes()));
        assert_eq!(
            image.tags,
            vec![format!("registry.example/team/app{}:v{n}", n % 50)]
        );
        assert_eq!(image.repo_digests.len(), usize::from(n % 2 == 0));
        assert_eq!(image.labels.contains_key("batch"), n % 10 == 0);
        assert!(image.last_tag_time.is_some());
        let diff_ids: Vec<&Digest> = image.layers.iter().map(|l| &l.diff_id).collect();
        assert_eq!(
            diff_ids,
            vec![
                &shared[n % 2].diff_id,
                &shared[2 + n % 6].diff_id,
                &layer(&format!("own {n}"), 0).diff_id
            ]
        );
        assert_eq!(
            image.size,
            shared[n % 2].size + shared[2 + n % 6].size + n as u64
        );
        for listed in image.layers.iter().take(2) {
            let first = shared_seen
                .entry(listed.diff_id.clone())
                .or_insert_with(|| Arc::clone(listed));
            assert!(
                Arc::ptr_eq(first, listed),
                "shared layers are shared in the listing"
            );
        }
    }
    assert_eq!(shared_seen.len(), 8);
    let usage = store.layer_usage()?;
    assert_eq!(usage.len(), 8 + IMAGES);
    let base_users: u64 = usage
        .iter()
        .filter(|u| u.layer == shared[0] || u.layer == shared[1])
        .map(|u| u.images)
        .sum();
    assert_eq!(base_users as usize, IMAGES);
    Ok(())
}
