//! Content operations against hoist's registry: push and pull round trips (monolithic and chunked),
//! cross-repository mount, paged tags and catalog, ranged reads, manifest verification, referrers
//! (API and tag-schema fallback), search and delete.

use futures_util::StreamExt;
use hoist_registry_client::{
    BytesBlob, ManifestRef, MountOutcome, ProgressCounter, PushOptions, RegistryError,
};
use hoist_spec::{Descriptor, Digest, media_type};
use serde_json::json;

use crate::support::{Action, client, config, front, pattern, push_image, registry};

#[tokio::test]
async fn monolithic_push_then_pull_preserves_digests() {
    let reg = registry().await;
    let client = client(config());
    let repo = client.repository(&reg.host(), "team/app");
    let image = push_image(&repo, "v1", &pattern(300_000, 1)).await;

    let by_tag = repo
        .get_manifest(&ManifestRef::tag("v1"), &[])
        .await
        .unwrap();
    assert_eq!(by_tag.bytes, image.manifest);
    assert_eq!(by_tag.digest, image.digest);
    assert_eq!(by_tag.media_type, media_type::OCI_MANIFEST);
    let by_digest = repo
        .get_manifest(&ManifestRef::from(&image.digest), &[])
        .await
        .unwrap();
    assert_eq!(by_digest.bytes, image.manifest);

    let head = repo
        .head_manifest(&ManifestRef::tag("v1"), &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.digest, image.digest);
    assert_eq!(head.size, image.manifest.len() as u64);
    assert!(
        repo.head_manifest(&ManifestRef::tag("absent"), &[])
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(repo.blob_exists(&image.layer).await.unwrap(), Some(300_000));
    assert!(repo.blob_exists(&image.config).await.unwrap().is_some());
    assert_eq!(
        repo.blob_exists(&Digest::of(b"never pushed"))
            .await
            .unwrap(),
        None
    );
    let mut pulled = Vec::new();
    let delivered = repo
        .download_blob(&image.layer, 300_000, 0, |bytes| {
            pulled.extend_from_slice(bytes);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(delivered, 300_000);
    assert_eq!(Digest::of(&pulled), image.layer);

    let missing = repo
        .get_manifest(&ManifestRef::tag("absent"), &[])
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    assert_eq!(missing.code(), Some("MANIFEST_UNKNOWN"));
}

#[tokio::test]
async fn chunked_push_sends_patches_and_reports_progress() {
    let reg = registry().await;
    let counting = front(&reg.http_base(), |_, _| Action::Forward).await;
    let client = client(config());
    let repo = client.repository(&counting.host(), "chunked/app");
    let blob = pattern(200_000, 2);
    let digest = Digest::of(&blob);
    let progress = ProgressCounter::new();
    repo.push_blob(
        &digest,
        blob.len() as u64,
        &BytesBlob::new(blob.clone()),
        &PushOptions {
            chunk_size: Some(64 * 1024),
            progress: Some(progress.clone()),
        },
    )
    .await
    .unwrap();
    assert_eq!(progress.get(), 200_000);
    assert_eq!(counting.count("PATCH", "/blobs/uploads/"), 4);
    assert_eq!(counting.count("PUT", "/blobs/uploads/"), 1);
    let mut pulled = Vec::new();
    repo.download_blob(&digest, blob.len() as u64, 0, |b| {
        pulled.extend_from_slice(b);
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(pulled, blob);
}

#[tokio::test]
async fn file_sources_push_too() {
    let reg = registry().await;
    let client = client(config());
    let repo = client.repository(&reg.host(), "files/app");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer");
    let blob = pattern(70_000, 3);
    std::fs::write(&path, &blob).unwrap();
    let digest = Digest::of(&blob);
    repo.push_blob(
        &digest,
        blob.len() as u64,
        &hoist_registry_client::FileBlob::new(&path),
        &PushOptions {
            chunk_size: Some(30_000),
            progress: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(repo.blob_exists(&digest).await.unwrap(), Some(70_000));

    // A source shorter than the size announced is the source's fault, not the registry's.
    let error = repo
        .push_blob(
            &Digest::of(b"short"),
            10,
            &BytesBlob::new(b"short".to_vec()),
            &PushOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, RegistryError::Source { .. }), "{error}");
}

#[tokio::test]
async fn mount_links_a_blob_or_opens_a_session() {
    let reg = registry().await;
    let client = client(config());
    let source = client.repository(&reg.host(), "source/app");
    let image = push_image(&source, "v1", &pattern(10_000, 4)).await;
    let target = client.repository(&reg.host(), "target/app");
    assert_eq!(target.blob_exists(&image.layer).await.unwrap(), None);
    let outcome = target.mount_blob(&image.layer, "source/app").await.unwrap();
    assert!(matches!(outcome, MountOutcome::Mounted));
    assert_eq!(
        target.blob_exists(&image.layer).await.unwrap(),
        Some(10_000)
    );

    let fresh = pattern(5_000, 5);
    let fresh_digest = Digest::of(&fresh);
    let MountOutcome::NotMounted(session) = target
        .mount_blob(&fresh_digest, "source/app")
        .await
        .unwrap()
    else {
        panic!("a blob the source does not have cannot be mounted");
    };
    assert_eq!(target.upload_status(&session).await.unwrap(), 0);
    target
        .upload(
            session,
            &fresh_digest,
            fresh.len() as u64,
            &BytesBlob::new(fresh.clone()),
            &PushOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        target.blob_exists(&fresh_digest).await.unwrap(),
        Some(5_000)
    );
}

#[tokio::test]
async fn tags_and_catalog_follow_link_pages() {
    let reg = registry().await;
    let counting = front(&reg.http_base(), |_, _| Action::Forward).await;
    let client = client(config());
    let repo = client.repository(&counting.host(), "paged/app");
    let image = push_image(&repo, "a", &pattern(100, 6)).await;
    for tag in ["b", "c", "d", "e"] {
        repo.put_manifest(
            &ManifestRef::tag(tag),
            media_type::OCI_MANIFEST,
            &image.manifest,
        )
        .await
        .unwrap();
    }
    let tags = repo.tags(Some(2)).await.unwrap();
    assert_eq!(tags, ["a", "b", "c", "d", "e"]);
    assert_eq!(counting.count("GET", "/tags/list"), 3);
    assert_eq!(repo.tags(None).await.unwrap().len(), 5);

    for name in ["paged/other", "zzz/last"] {
        push_image(
            &client.repository(&counting.host(), name),
            "v1",
            &pattern(10, 7),
        )
        .await;
    }
    let catalog = client.catalog(&counting.host(), Some(1)).await.unwrap();
    assert_eq!(catalog, ["paged/app", "paged/other", "zzz/last"]);
    assert_eq!(counting.count("GET", "/v2/_catalog"), 3);

    let unknown = client
        .repository(&counting.host(), "no/such")
        .tags(None)
        .await
        .unwrap_err();
    assert_eq!(unknown.status(), Some(404));
    assert_eq!(unknown.code(), Some("NAME_UNKNOWN"));
}

#[tokio::test]
async fn blobs_are_read_from_an_offset() {
    let reg = registry().await;
    let client = client(config());
    let repo = client.repository(&reg.host(), "ranges/app");
    let image = push_image(&repo, "v1", &pattern(50_000, 8)).await;
    let mut stream = repo.get_blob(&image.layer, 1_000).await.unwrap();
    assert_eq!(stream.offset(), 1_000);
    assert_eq!(stream.total_size(), Some(50_000));
    let mut rest = Vec::new();
    while let Some(chunk) = stream.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(rest, image.layer_bytes[1_000..]);

    let mut tail = Vec::new();
    let delivered = repo
        .download_blob(&image.layer, 50_000, 45_000, |b| {
            tail.extend_from_slice(b);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(delivered, 5_000);
    assert_eq!(tail, image.layer_bytes[45_000..]);

    // A registry with more bytes than the descriptor says is refused before the excess is delivered.
    let mut received = 0u64;
    let error = repo
        .download_blob(&image.layer, 40_000, 0, |b| {
            received += b.len() as u64;
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            RegistryError::BlobSize {
                expected: 40_000,
                received: 50_000,
                ..
            }
        ),
        "{error}"
    );
    assert!(received <= 40_000);

    // A sink that refuses bytes stops the download with its own error.
    let error = repo
        .download_blob(&image.layer, 50_000, 0, |_| {
            Err(std::io::Error::other("disk full"))
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::Sink { offset: 0, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn manifests_are_verified() {
    let good = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[]}"#.to_vec();
    let good_digest = Digest::of(&good);
    let other_digest = Digest::of(b"something else");
    let schema1 = br#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#.to_vec();
    let (good_body, schema1_body) = (good.clone(), schema1.clone());
    let (wanted, announced) = (other_digest.clone(), other_digest.clone());
    let lying = front("http://127.0.0.1:9", move |seen, _| {
        let manifest = |body: Vec<u8>, headers: Vec<(&'static str, String)>| Action::Respond {
            status: 200,
            headers,
            body,
        };
        if seen.path == "/v2/" {
            manifest(b"{}".to_vec(), vec![])
        } else if seen.path.ends_with(&format!("/manifests/{wanted}")) {
            manifest(
                good_body.clone(),
                vec![("content-type", media_type::OCI_MANIFEST.to_owned())],
            )
        } else if seen.path.ends_with("/manifests/header") {
            manifest(
                good_body.clone(),
                vec![
                    ("content-type", media_type::OCI_MANIFEST.to_owned()),
                    ("docker-content-digest", announced.to_string()),
                ],
            )
        } else if seen.path.ends_with("/manifests/old") {
            manifest(
                schema1_body.clone(),
                vec![(
                    "content-type",
                    media_type::DOCKER_MANIFEST_V1_SIGNED.to_owned(),
                )],
            )
        } else if seen.path.ends_with("/manifests/huge") {
            manifest(vec![b' '; 5 * 1024 * 1024], vec![])
        } else {
            manifest(
                good_body.clone(),
                vec![("content-type", "application/json".to_owned())],
            )
        }
    })
    .await;
    let client = client(config());
    let repo = client.repository(&lying.host(), "lies/app");

    let error = repo
        .get_manifest(&ManifestRef::from(&other_digest), &[])
        .await
        .unwrap_err();
    match error {
        RegistryError::DigestMismatch {
            expected, found, ..
        } => {
            assert_eq!(expected, other_digest);
            assert_eq!(found, good_digest);
        }
        other => panic!("expected a digest mismatch, got {other}"),
    }
    let error = repo
        .get_manifest(&ManifestRef::tag("header"), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::HeaderDigestMismatch { .. }),
        "{error}"
    );
    let error = repo
        .get_manifest(&ManifestRef::tag("old"), &[])
        .await
        .unwrap_err();
    assert!(matches!(error, RegistryError::SchemaV1 { .. }), "{error}");
    let error = repo
        .get_manifest(&ManifestRef::tag("huge"), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::ManifestTooLarge { .. }),
        "{error}"
    );
    // A generic Content-Type gives way to the document's own mediaType.
    let plain = repo
        .get_manifest(&ManifestRef::tag("plain"), &[])
        .await
        .unwrap();
    assert_eq!(plain.media_type, media_type::OCI_MANIFEST);
    assert_eq!(plain.digest, good_digest);

    let sent_accept: Vec<String> = lying
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("/manifests/plain"))
        .flat_map(|s| {
            s.headers
                .get_all("accept")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        sent_accept,
        [
            media_type::OCI_INDEX,
            media_type::DOCKER_MANIFEST_LIST,
            media_type::OCI_MANIFEST,
            media_type::DOCKER_MANIFEST
        ]
    );
}

/// Pushes an artifact manifest with `subject` and returns its descriptor (with artifact type).
async fn push_referrer(
    repo: &hoist_registry_client::Repository,
    subject: &Descriptor,
    artifact_type: &str,
    salt: &str,
) -> Descriptor {
    let empty = b"{}";
    let empty_digest = Digest::of(empty);
    repo.push_blob(
        &empty_digest,
        2,
        &BytesBlob::new(empty.to_vec()),
        &PushOptions::default(),
    )
    .await
    .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": media_type::OCI_EMPTY, "digest": empty_digest.to_string(), "size": 2},
        "layers": [{"mediaType": media_type::OCI_EMPTY, "digest": empty_digest.to_string(), "size": 2}],
        "subject": subject,
        "annotations": {"salt": salt},
    }))
    .unwrap();
    let digest = repo
        .put_manifest(
            &ManifestRef::Digest(Digest::of(&manifest)),
            media_type::OCI_MANIFEST,
            &manifest,
        )
        .await
        .unwrap();
    let mut descriptor = Descriptor::new(media_type::OCI_MANIFEST, digest, manifest.len() as u64);
    descriptor.artifact_type = Some(artifact_type.to_owned());
    descriptor
}

#[tokio::test]
async fn referrers_through_the_api_and_the_tag_schema() {
    let reg = registry().await;
    let client = client(config());
    let repo = client.repository(&reg.host(), "signed/app");
    let image = push_image(&repo, "v1", &pattern(100, 9)).await;
    let subject = Descriptor::new(
        media_type::OCI_MANIFEST,
        image.digest.clone(),
        image.manifest.len() as u64,
    );
    let signature = push_referrer(&repo, &subject, "application/vnd.test.signature", "1").await;
    push_referrer(&repo, &subject, "application/vnd.test.sbom", "2").await;

    let all = repo.referrers(&image.digest, None).await.unwrap();
    assert!(!all.from_tag_schema);
    assert_eq!(all.index.manifests.len(), 2);
    let signatures = repo
        .referrers(&image.digest, Some("application/vnd.test.signature"))
        .await
        .unwrap();
    assert_eq!(signatures.index.manifests.len(), 1);
    assert_eq!(signatures.index.manifests[0].digest, signature.digest);

    // A registry without the API: the referrers index lives under the sha256-<hex> tag.
    let no_api = front(&reg.http_base(), |seen, _| {
        if seen.path.contains("/referrers/") {
            Action::Respond {
                status: 404,
                headers: vec![],
                body: b"404 page not found".to_vec(),
            }
        } else {
            Action::Forward
        }
    })
    .await;
    let old = client.repository(&no_api.host(), "signed/app");
    let empty = old.referrers(&image.digest, None).await.unwrap();
    assert!(empty.from_tag_schema);
    assert!(empty.index.manifests.is_empty());

    let sbom = push_referrer(&old, &subject, "application/vnd.test.sbom", "3").await;
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": [signature, sbom],
    }))
    .unwrap();
    old.put_manifest(
        &ManifestRef::tag(format!("sha256-{}", image.digest.hex())),
        media_type::OCI_INDEX,
        &index,
    )
    .await
    .unwrap();
    let listed = old.referrers(&image.digest, None).await.unwrap();
    assert!(listed.from_tag_schema);
    assert_eq!(listed.bytes, index);
    let filtered = old
        .referrers(&image.digest, Some("application/vnd.test.sbom"))
        .await
        .unwrap();
    assert_eq!(filtered.index.manifests.len(), 1);
    assert_eq!(filtered.index.manifests[0].digest, sbom.digest);
}

#[tokio::test]
async fn search_and_delete() {
    let reg = registry().await;
    let client = client(config());
    for name in ["search/alpha", "search/beta", "other/gamma"] {
        push_image(
            &client.repository(&reg.host(), name),
            "v1",
            &pattern(10, 10),
        )
        .await;
    }
    let found = client
        .search_v1(&reg.host(), "search", Some(10))
        .await
        .unwrap();
    let names: Vec<&str> = found.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["search/alpha", "search/beta"]);

    let no_search = front(&reg.http_base(), |seen, _| {
        if seen.path.starts_with("/v1/search") {
            Action::Respond {
                status: 404,
                headers: vec![],
                body: Vec::new(),
            }
        } else {
            Action::Forward
        }
    })
    .await;
    let error = client
        .search_v1(&no_search.host(), "x", None)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));

    let repo = client.repository(&reg.host(), "other/gamma");
    let head = repo
        .head_manifest(&ManifestRef::tag("v1"), &[])
        .await
        .unwrap()
        .unwrap();
    repo.delete_manifest(&head.digest).await.unwrap();
    assert!(
        repo.head_manifest(&ManifestRef::from(&head.digest), &[])
            .await
            .unwrap()
            .is_none()
    );
    let error = repo.delete_manifest(&head.digest).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
}
