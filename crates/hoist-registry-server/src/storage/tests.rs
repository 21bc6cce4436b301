//! Registry-layout tests over the filesystem backend: uploads, manifests, mounts, tags, catalog,
//! referrers, deletion and garbage collection.

use std::collections::BTreeMap;
use std::time::Duration;

use hoist_spec::{Descriptor, Digest, ImageIndex, ImageManifest, RawManifest, media_type};
use tokio::io::AsyncReadExt;

use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    storage: RegistryStorage<FsBackend>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let storage = RegistryStorage::new(FsBackend::new(dir.path().join("registry")));
    Fixture { _dir: dir, storage }
}

fn layer_bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

/// Single-shot upload: start, then finish with everything.
async fn push_blob(storage: &RegistryStorage<FsBackend>, repo: &str, bytes: &[u8]) -> Digest {
    let id = storage.start_upload(repo).await.expect("start");
    let expected = Digest::of(bytes);
    let digest = storage
        .finish_upload(repo, &id, &expected, bytes)
        .await
        .expect("finish");
    assert_eq!(digest, expected);
    digest
}

fn image_manifest(config: &[u8], layers: &[&[u8]]) -> ImageManifest {
    ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config: Descriptor::for_bytes(media_type::OCI_CONFIG, config),
        layers: layers
            .iter()
            .map(|layer| Descriptor::for_bytes(media_type::OCI_LAYER_GZIP, layer))
            .collect(),
        subject: None,
        annotations: BTreeMap::new(),
    }
}

/// Pushes config and layer blobs and an image manifest under `tag`; returns the manifest.
async fn push_image(
    storage: &RegistryStorage<FsBackend>,
    repo: &str,
    tag: &str,
    seed: u8,
) -> RawManifest {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","seed":{seed}}}"#).into_bytes();
    let layer = layer_bytes(seed, 10_000);
    push_blob(storage, repo, &config).await;
    push_blob(storage, repo, &layer).await;
    let raw = RawManifest::from_image(image_manifest(&config, &[&layer]), media_type::OCI_MANIFEST);
    let digest = storage
        .put_manifest(
            repo,
            &ManifestReference::Tag(tag.to_owned()),
            raw.bytes.clone(),
            Some(media_type::OCI_MANIFEST),
        )
        .await
        .expect("put manifest");
    assert_eq!(digest, raw.digest);
    raw
}

async fn read_blob(
    storage: &RegistryStorage<FsBackend>,
    repo: &str,
    digest: &Digest,
    range: Option<ByteRange>,
) -> Vec<u8> {
    let mut reader = storage
        .blob_read(repo, digest, range)
        .await
        .expect("blob_read");
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).await.expect("read");
    bytes
}

#[tokio::test]
async fn chunked_upload_refuses_out_of_order_and_verifies_digest() {
    let Fixture { storage, _dir } = fixture();
    let blob = layer_bytes(3, 300_000);
    let (first, rest) = blob.split_at(100_000);
    let (second, third) = rest.split_at(150_000);
    let id = storage.start_upload("app").await.expect("start");
    assert_eq!(storage.upload_status("app", &id).await.expect("status"), 0);
    let offset = storage
        .append_upload("app", &id, Some(0), first)
        .await
        .expect("first chunk");
    assert_eq!(offset, 100_000);
    match storage.append_upload("app", &id, Some(0), second).await {
        Err(RegistryError::UploadOffsetMismatch {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (0, 100_000)),
        other => panic!("expected an offset mismatch, got {other:?}"),
    }
    let offset = storage
        .append_upload("app", &id, Some(100_000), second)
        .await
        .expect("second chunk");
    assert_eq!(
        storage.upload_status("app", &id).await.expect("status"),
        offset
    );
    let digest = storage
        .finish_upload("app", &id, &Digest::of(&blob), third)
        .await
        .expect("finish");
    assert_eq!(digest, Digest::of(&blob));
    assert_eq!(read_blob(&storage, "app", &digest, None).await, blob);
    assert_eq!(
        read_blob(
            &storage,
            "app",
            &digest,
            Some(ByteRange {
                offset: 299_990,
                len: 10
            })
        )
        .await,
        &blob[299_990..]
    );
    assert!(matches!(
        storage.upload_status("app", &id).await,
        Err(RegistryError::UploadUnknown { .. })
    ));
}

#[tokio::test]
async fn lost_hash_state_is_rebuilt_from_the_data() {
    let Fixture { storage, _dir } = fixture();
    let blob = layer_bytes(9, 50_000);
    let id = storage.start_upload("app").await.expect("start");
    storage
        .append_upload("app", &id, None, &blob[..20_000])
        .await
        .expect("append");
    storage
        .backend()
        .delete(&format!("repositories/app/_uploads/{id}/hashstate"))
        .await
        .expect("hashstate was saved after the append");
    let digest = storage
        .finish_upload("app", &id, &Digest::of(&blob), &blob[20_000..])
        .await
        .expect("finish");
    assert_eq!(digest, Digest::of(&blob));
}

#[tokio::test]
async fn wrong_digest_discards_the_upload_and_publishes_nothing() {
    let Fixture { storage, _dir } = fixture();
    let id = storage.start_upload("app").await.expect("start");
    let claimed = Digest::of(b"something else");
    match storage
        .finish_upload("app", &id, &claimed, &b"actual"[..])
        .await
    {
        Err(RegistryError::DigestMismatch { expected, found }) => {
            assert_eq!(expected, claimed);
            assert_eq!(found, Digest::of(b"actual"));
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    assert!(!storage.blob_exists(&claimed).await.expect("exists"));
    assert!(
        !storage
            .blob_exists(&Digest::of(b"actual"))
            .await
            .expect("exists")
    );
    assert!(matches!(
        storage.upload_status("app", &id).await,
        Err(RegistryError::UploadUnknown { .. })
    ));
    assert!(matches!(
        UploadId::parse("app", "../../etc"),
        Err(RegistryError::UploadUnknown { .. })
    ));
    assert_eq!(
        UploadId::parse("app", id.as_str()).expect("own id parses"),
        id
    );
}

#[tokio::test]
async fn empty_blob_uploads() {
    let Fixture { storage, _dir } = fixture();
    let digest = push_blob(&storage, "app", b"").await;
    assert_eq!(
        storage.blob_stat("app", &digest).await.expect("stat").size,
        0
    );
}

#[tokio::test]
async fn pull_by_tag_and_digest() {
    let Fixture { storage, _dir } = fixture();
    let raw = push_image(&storage, "library/app", "v1", 1).await;
    let by_tag = storage
        .get_manifest("library/app", &ManifestReference::parse("v1").expect("tag"))
        .await
        .expect("by tag");
    assert_eq!(by_tag.bytes, raw.bytes);
    assert_eq!(by_tag.media_type, media_type::OCI_MANIFEST);
    assert_eq!(by_tag.digest, raw.digest);
    let by_digest = storage
        .get_manifest(
            "library/app",
            &ManifestReference::parse(&raw.digest.to_string()).expect("digest"),
        )
        .await
        .expect("by digest");
    assert_eq!(by_digest, by_tag);
    let hoist_spec::Manifest::Image(image) = &raw.manifest else {
        panic!("pushed an image manifest");
    };
    let layer = &image.layers[0];
    assert_eq!(
        storage
            .blob_stat("library/app", &layer.digest)
            .await
            .expect("stat")
            .size,
        layer.size
    );
    assert!(matches!(
        storage
            .get_manifest("library/app", &ManifestReference::Tag("v2".into()))
            .await,
        Err(RegistryError::ManifestUnknown { .. })
    ));
    assert!(matches!(
        ManifestReference::parse("../x"),
        Err(RegistryError::InvalidTag { .. })
    ));
    assert!(matches!(
        ManifestReference::parse("sha256:nothex"),
        Err(RegistryError::InvalidDigest { .. })
    ));
}

#[tokio::test]
async fn mount_links_existing_blobs_only() {
    let Fixture { storage, _dir } = fixture();
    let digest = push_blob(&storage, "source", b"shared layer").await;
    assert!(matches!(
        storage.blob_stat("target", &digest).await,
        Err(RegistryError::BlobUnknown { .. })
    ));
    storage.link_blob("target", &digest).await.expect("mount");
    assert_eq!(
        read_blob(&storage, "target", &digest, None).await,
        b"shared layer"
    );
    let absent = Digest::of(b"never uploaded");
    assert!(matches!(
        storage.link_blob("target", &absent).await,
        Err(RegistryError::BlobUnknown { .. })
    ));
    assert!(matches!(
        storage.blob_stat("target", &absent).await,
        Err(RegistryError::BlobUnknown { .. })
    ));
    // Stored once.
    let hex = digest.hex();
    let blobs = storage
        .backend()
        .list(&format!("blobs/sha256/{}", &hex[..2]))
        .await
        .expect("list");
    assert_eq!(blobs, [hex]);
}

#[tokio::test]
async fn manifest_naming_missing_blobs_is_refused() {
    let Fixture { storage, _dir } = fixture();
    let config = b"{}".to_vec();
    push_blob(&storage, "app", &config).await;
    let layer = b"layer pushed elsewhere";
    push_blob(&storage, "other", layer).await;
    let raw = RawManifest::from_image(image_manifest(&config, &[layer]), media_type::OCI_MANIFEST);
    match storage
        .put_manifest(
            "app",
            &ManifestReference::Tag("v1".into()),
            raw.bytes.clone(),
            None,
        )
        .await
    {
        Err(RegistryError::ManifestBlobUnknown { digest, .. }) => {
            assert_eq!(digest, Digest::of(layer));
        }
        other => panic!("expected MANIFEST_BLOB_UNKNOWN, got {other:?}"),
    }
    let wrong = ManifestReference::Digest(Digest::of(b"not the manifest"));
    push_blob(&storage, "app", layer).await;
    assert!(matches!(
        storage
            .put_manifest("app", &wrong, raw.bytes.clone(), None)
            .await,
        Err(RegistryError::DigestMismatch { .. })
    ));
    assert!(matches!(
        storage
            .put_manifest(
                "app",
                &ManifestReference::Tag("v1".into()),
                b"{not json".to_vec(),
                None
            )
            .await,
        Err(RegistryError::ManifestInvalid(_))
    ));
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(media_type::OCI_INDEX.to_owned()),
        artifact_type: None,
        manifests: vec![raw.descriptor()],
        subject: None,
        annotations: BTreeMap::new(),
    };
    let index = RawManifest::from_index(index, media_type::OCI_INDEX);
    assert!(matches!(
        storage
            .put_manifest(
                "app",
                &ManifestReference::Tag("multi".into()),
                index.bytes.clone(),
                None
            )
            .await,
        Err(RegistryError::ManifestBlobUnknown { .. })
    ));
    storage
        .put_manifest(
            "app",
            &ManifestReference::Digest(raw.digest.clone()),
            raw.bytes,
            None,
        )
        .await
        .expect("by digest once the layer is there");
    storage
        .put_manifest(
            "app",
            &ManifestReference::Tag("multi".into()),
            index.bytes,
            None,
        )
        .await
        .expect("index once its child is there");
}

#[tokio::test]
async fn tags_and_catalog_are_sorted() {
    let Fixture { storage, _dir } = fixture();
    assert_eq!(
        storage.catalog().await.expect("empty catalog"),
        Vec::<String>::new()
    );
    push_image(&storage, "zeta", "b", 1).await;
    push_image(&storage, "zeta", "a", 1).await;
    push_image(&storage, "library/nginx", "latest", 2).await;
    push_image(&storage, "alpha", "1.0", 3).await;
    // A repository with only blobs holds no manifests yet.
    push_blob(&storage, "blobs-only", b"x").await;
    assert_eq!(storage.tags("zeta").await.expect("tags"), ["a", "b"]);
    assert_eq!(
        storage.tags("blobs-only").await.expect("tags"),
        Vec::<String>::new()
    );
    assert!(matches!(
        storage.tags("missing").await,
        Err(RegistryError::RepositoryUnknown { .. })
    ));
    assert_eq!(
        storage.catalog().await.expect("catalog"),
        ["alpha", "library/nginx", "zeta"]
    );
}

fn artifact(
    subject: &RawManifest,
    artifact_type: &str,
    config: &[u8],
    layer: &[u8],
) -> RawManifest {
    let mut manifest = image_manifest(config, &[layer]);
    manifest.artifact_type = Some(artifact_type.to_owned());
    manifest.config = Descriptor::for_bytes(media_type::OCI_EMPTY, config);
    manifest.subject = Some(subject.descriptor());
    manifest
        .annotations
        .insert("org.example.kind".into(), artifact_type.into());
    RawManifest::from_image(manifest, media_type::OCI_MANIFEST)
}

/// Pushes two artifacts referring to `subject` by digest; returns (signature, sbom).
async fn push_referrers(
    storage: &RegistryStorage<FsBackend>,
    repo: &str,
    subject: &RawManifest,
) -> (RawManifest, RawManifest) {
    let empty = b"{}";
    push_blob(storage, repo, empty).await;
    let mut pushed = Vec::new();
    for (kind, payload) in [
        ("application/vnd.example.signature", &b"signature"[..]),
        ("application/vnd.example.sbom", &b"sbom"[..]),
    ] {
        push_blob(storage, repo, payload).await;
        let raw = artifact(subject, kind, empty, payload);
        storage
            .put_manifest(
                repo,
                &ManifestReference::Digest(raw.digest.clone()),
                raw.bytes.clone(),
                None,
            )
            .await
            .expect("put artifact");
        pushed.push(raw);
    }
    let sbom = pushed.pop().expect("two pushed");
    let signature = pushed.pop().expect("two pushed");
    (signature, sbom)
}

#[tokio::test]
async fn referrers_filter_by_artifact_type() {
    let Fixture { storage, _dir } = fixture();
    let image = push_image(&storage, "app", "v1", 1).await;
    let (signature, sbom) = push_referrers(&storage, "app", &image).await;
    let all = storage
        .referrers("app", &image.digest, None)
        .await
        .expect("referrers");
    let mut expected = vec![signature.digest.clone(), sbom.digest.clone()];
    expected.sort();
    assert_eq!(
        all.iter().map(|d| d.digest.clone()).collect::<Vec<_>>(),
        expected
    );
    let sboms = storage
        .referrers("app", &image.digest, Some("application/vnd.example.sbom"))
        .await
        .expect("filtered");
    assert_eq!(sboms.len(), 1);
    assert_eq!(sboms[0].digest, sbom.digest);
    assert_eq!(sboms[0].size, sbom.bytes.len() as u64);
    assert_eq!(
        sboms[0].artifact_type.as_deref(),
        Some("application/vnd.example.sbom")
    );
    assert_eq!(
        sboms[0]
            .annotations
            .get("org.example.kind")
            .map(String::as_str),
        Some("application/vnd.example.sbom")
    );
    storage
        .delete_manifest("app", &sbom.digest)
        .await
        .expect("delete sbom");
    let left = storage
        .referrers("app", &image.digest, None)
        .await
        .expect("referrers");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].digest, signature.digest);
    assert!(
        storage
            .referrers("app", &Digest::of(b"no such subject"), None)
            .await
            .expect("none")
            .is_empty()
    );
}

#[tokio::test]
async fn delete_manifest_tag_and_blob() {
    let Fixture { storage, _dir } = fixture();
    let raw = push_image(&storage, "app", "v1", 1).await;
    storage
        .put_manifest(
            "app",
            &ManifestReference::Tag("v2".into()),
            raw.bytes.clone(),
            None,
        )
        .await
        .expect("second tag");
    storage.delete_tag("app", "v2").await.expect("delete tag");
    assert_eq!(storage.tags("app").await.expect("tags"), ["v1"]);
    assert!(matches!(
        storage.delete_tag("app", "v2").await,
        Err(RegistryError::ManifestUnknown { .. })
    ));
    storage
        .delete_manifest("app", &raw.digest)
        .await
        .expect("delete manifest");
    assert!(storage.tags("app").await.expect("tags").is_empty());
    assert!(matches!(
        storage
            .get_manifest("app", &ManifestReference::Digest(raw.digest.clone()))
            .await,
        Err(RegistryError::ManifestUnknown { .. })
    ));
    let hoist_spec::Manifest::Image(image) = &raw.manifest else {
        panic!("pushed an image manifest");
    };
    storage
        .delete_blob("app", &image.config.digest)
        .await
        .expect("unlink");
    assert!(matches!(
        storage.blob_stat("app", &image.config.digest).await,
        Err(RegistryError::BlobUnknown { .. })
    ));
    assert!(matches!(
        storage.delete_blob("app", &image.config.digest).await,
        Err(RegistryError::BlobUnknown { .. })
    ));
}

fn no_grace(dry_run: bool, delete_untagged: bool) -> GcOptions {
    GcOptions {
        dry_run,
        delete_untagged,
        grace_period: Duration::ZERO,
        ..GcOptions::default()
    }
}

#[tokio::test]
async fn gc_keeps_referenced_and_removes_orphans() {
    let Fixture { storage, _dir } = fixture();
    let image = push_image(&storage, "app", "v1", 1).await;
    let orphan = push_blob(&storage, "app", b"uploaded, never referenced").await;
    let unlinked = image.digest.clone();
    // Recent content survives the default grace period.
    let report = storage
        .garbage_collect(&GcOptions::default())
        .await
        .expect("gc");
    assert_eq!(report.blobs_recent, std::slice::from_ref(&orphan));
    assert!(report.blobs_deleted.is_empty());

    let dry = storage
        .garbage_collect(&no_grace(true, false))
        .await
        .expect("dry run");
    assert_eq!(dry.blobs_deleted, std::slice::from_ref(&orphan));
    assert_eq!(dry.blobs_marked, 3, "manifest, config, layer");
    assert!(
        storage.blob_exists(&orphan).await.expect("exists"),
        "dry run deleted"
    );

    let report = storage
        .garbage_collect(&no_grace(false, false))
        .await
        .expect("gc");
    assert_eq!(report.blobs_deleted, std::slice::from_ref(&orphan));
    assert!(!storage.blob_exists(&orphan).await.expect("exists"));
    assert!(matches!(
        storage.blob_stat("app", &orphan).await,
        Err(RegistryError::BlobUnknown { .. })
    ));
    let pulled = storage
        .get_manifest("app", &ManifestReference::Tag("v1".into()))
        .await
        .expect("image still pullable");
    assert_eq!(pulled.digest, unlinked);
    let hoist_spec::Manifest::Image(manifest) = &image.manifest else {
        panic!("pushed an image manifest");
    };
    for layer in &manifest.layers {
        assert!(storage.blob_exists(&layer.digest).await.expect("exists"));
    }
}

#[tokio::test]
async fn gc_delete_untagged_keeps_referrers_of_tagged_images() {
    let Fixture { storage, _dir } = fixture();
    let tagged = push_image(&storage, "app", "v1", 1).await;
    let (signature, _) = push_referrers(&storage, "app", &tagged).await;
    let old = push_image(&storage, "app", "v0", 2).await;
    storage.delete_tag("app", "v0").await.expect("untag");
    let hoist_spec::Manifest::Image(old_image) = &old.manifest else {
        panic!("pushed an image manifest");
    };

    let report = storage
        .garbage_collect(&no_grace(false, true))
        .await
        .expect("gc");
    assert_eq!(
        report.manifests_deleted,
        [("app".to_owned(), old.digest.clone())]
    );
    let mut expected = vec![
        old.digest.clone(),
        old_image.config.digest.clone(),
        old_image.layers[0].digest.clone(),
    ];
    expected.sort();
    assert_eq!(report.blobs_deleted, expected);
    assert!(
        storage
            .blob_exists(&signature.digest)
            .await
            .expect("exists")
    );
    assert_eq!(
        storage
            .referrers("app", &tagged.digest, None)
            .await
            .expect("referrers")
            .len(),
        2
    );
    storage
        .get_manifest("app", &ManifestReference::Tag("v1".into()))
        .await
        .expect("tagged image kept");
}

#[tokio::test]
async fn gc_purges_abandoned_uploads_only() {
    let Fixture { storage, _dir } = fixture();
    let id = storage.start_upload("app").await.expect("start");
    storage
        .append_upload("app", &id, Some(0), &b"half a blob"[..])
        .await
        .expect("append");
    let keep_young = storage
        .garbage_collect(&no_grace(false, false))
        .await
        .expect("gc");
    assert!(keep_young.uploads_purged.is_empty());
    assert_eq!(
        storage
            .upload_status("app", &id)
            .await
            .expect("still there"),
        11
    );

    let purge_everything = GcOptions {
        upload_max_age: Duration::ZERO,
        ..no_grace(false, false)
    };
    let report = storage
        .garbage_collect(&purge_everything)
        .await
        .expect("gc");
    assert_eq!(report.uploads_purged, [("app".to_owned(), id.to_string())]);
    assert!(matches!(
        storage.upload_status("app", &id).await,
        Err(RegistryError::UploadUnknown { .. })
    ));
}

/// Finishing uses the hash state saved by the appends rather than re-reading the data: after the
/// data is swapped behind its back (same length), the digest is still that of what was appended.
#[tokio::test]
async fn finish_uses_the_saved_hash_state() {
    let Fixture { storage, _dir } = fixture();
    let appended = b"the bytes the client sent";
    let id = storage.start_upload("app").await.expect("start");
    storage
        .append_upload("app", &id, Some(0), &appended[..])
        .await
        .expect("append");
    let data_key = format!("repositories/app/_uploads/{id}/data");
    storage
        .backend()
        .put(&data_key, &vec![b'x'; appended.len()])
        .await
        .expect("swap data");
    let digest = storage
        .finish_upload("app", &id, &Digest::of(appended), &b""[..])
        .await
        .expect("finish");
    assert_eq!(digest, Digest::of(appended));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_of_the_same_blob() {
    let Fixture { storage, _dir } = fixture();
    let storage = std::sync::Arc::new(storage);
    let blob = layer_bytes(5, 200_000);
    let digest = Digest::of(&blob);
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..6 {
        let storage = std::sync::Arc::clone(&storage);
        let blob = blob.clone();
        let digest = digest.clone();
        tasks.spawn(async move {
            let repo = format!("repo{}", writer % 2);
            let id = storage.start_upload(&repo).await?;
            let (head, tail) = blob.split_at(70_000);
            storage.append_upload(&repo, &id, Some(0), head).await?;
            storage.finish_upload(&repo, &id, &digest, tail).await
        });
    }
    while let Some(joined) = tasks.join_next().await {
        assert_eq!(joined.expect("task").expect("upload"), digest);
    }
    for repo in ["repo0", "repo1"] {
        assert_eq!(read_blob(&storage, repo, &digest, None).await, blob);
    }
}

/// Ages an object as if it had been written an hour ago.
fn age_by_an_hour(storage: &RegistryStorage<FsBackend>, key: &str) {
    let path = storage.backend().local_path(key).expect("valid key");
    let file = std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open object");
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    file.set_modified(hour_ago).expect("set mtime");
}

/// The online-safety rule: an old unreferenced blob goes, but one that a repository linked within
/// the grace period (a mount or upload racing the collection) stays.
#[tokio::test]
async fn gc_keeps_old_blobs_with_fresh_links() {
    let Fixture { storage, _dir } = fixture();
    let stale = push_blob(&storage, "app", b"stale orphan").await;
    let remounted = push_blob(&storage, "app", b"old blob, mounted just now").await;
    for digest in [&stale, &remounted] {
        age_by_an_hour(&storage, &registry::blob_data_key(digest));
        age_by_an_hour(&storage, &registry::layer_link_key("app", digest));
    }
    storage
        .link_blob("other", &remounted)
        .await
        .expect("mount during the grace period");
    let report = storage
        .garbage_collect(&GcOptions::default())
        .await
        .expect("gc");
    assert_eq!(report.blobs_deleted, std::slice::from_ref(&stale));
    assert_eq!(report.blobs_recent, std::slice::from_ref(&remounted));
    assert_eq!(
        read_blob(&storage, "other", &remounted, None).await,
        b"old blob, mounted just now"
    );
}

/// Deletion moves a blob aside first; a collection that stopped halfway leaves it there. The next one
/// moves it back when a repository linked it meanwhile, deletes it otherwise, and never reports the
/// same deleted blob twice.
#[tokio::test]
async fn gc_finishes_or_undoes_a_blob_left_aside() {
    let Fixture { storage, _dir } = fixture();
    let relinked = push_blob(&storage, "app", b"aside, then linked again").await;
    let abandoned = push_blob(&storage, "app", b"aside, nobody wants it").await;
    for digest in [&relinked, &abandoned] {
        age_by_an_hour(&storage, &registry::blob_data_key(digest));
        age_by_an_hour(&storage, &registry::layer_link_key("app", digest));
        storage
            .backend()
            .rename(
                &registry::blob_data_key(digest),
                &registry::blob_quarantine_key(digest),
            )
            .await
            .expect("move aside");
    }
    storage
        .backend()
        .put(
            &registry::layer_link_key("other", &relinked),
            relinked.to_string().as_bytes(),
        )
        .await
        .expect("fresh link");
    let report = storage
        .garbage_collect(&GcOptions::default())
        .await
        .expect("gc");
    assert_eq!(report.blobs_recent, std::slice::from_ref(&relinked));
    assert_eq!(report.blobs_deleted, std::slice::from_ref(&abandoned));
    assert_eq!(
        read_blob(&storage, "other", &relinked, None).await,
        b"aside, then linked again"
    );
    assert!(!storage.blob_exists(&abandoned).await.expect("exists"));

    let again = storage
        .garbage_collect(&no_grace(false, false))
        .await
        .expect("second gc");
    assert_eq!(again.blobs_deleted, std::slice::from_ref(&relinked));
    let third = storage
        .garbage_collect(&no_grace(false, false))
        .await
        .expect("third gc");
    assert!(third.blobs_deleted.is_empty(), "{third:?}");
}
