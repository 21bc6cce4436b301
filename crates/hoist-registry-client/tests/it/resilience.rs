//! Failures the client rides out: 429 with Retry-After, 5xx retried and then given up on, 4xx not
//! retried, a blob body cut mid-stream resumed with Range, an upload PATCH broken mid-body recovered
//! from the registry's offset, and a redirect to another host that must not carry credentials.

use std::time::{Duration, Instant};

use hoist_registry_client::{
    BytesBlob, Credential, ManifestRef, PushOptions, RegistryConfig, RetryPolicy, StaticCredentials,
};
use hoist_spec::Digest;

use crate::support::{
    Action, client, client_with, config, front, htpasswd, patch_cutter, pattern, push_image,
    registry, registry_with,
};

fn respond(status: u16, headers: Vec<(&'static str, String)>) -> Action {
    Action::Respond {
        status,
        headers,
        body: br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#.to_vec(),
    }
}

#[tokio::test]
async fn too_many_requests_waits_as_told_then_succeeds() {
    let reg = registry().await;
    let image = push_image(
        &client(config()).repository(&reg.host(), "busy/app"),
        "v1",
        &pattern(100, 1),
    )
    .await;
    let limited = front(&reg.http_base(), |seen, log| {
        let earlier = log
            .iter()
            .filter(|s| s.method == "GET" && s.path.contains("/manifests/"))
            .count();
        if seen.path.contains("/manifests/") && earlier <= 2 {
            respond(429, vec![("retry-after", "1".to_owned())])
        } else {
            Action::Forward
        }
    })
    .await;
    let setup = RegistryConfig {
        retry: RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(150),
        },
        ..config()
    };
    let repo = client(setup).repository(&limited.host(), "busy/app");
    let started = Instant::now();
    let fetched = repo
        .get_manifest(&ManifestRef::tag("v1"), &[])
        .await
        .unwrap();
    assert_eq!(fetched.digest, image.digest);
    assert_eq!(limited.count("GET", "/manifests/"), 3);
    // Retry-After (1 s, capped at max_backoff) was waited twice, not the 1-2 ms backoff.
    assert!(
        started.elapsed() >= Duration::from_millis(280),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn server_errors_are_retried_within_the_policy() {
    let reg = registry().await;
    let image = push_image(
        &client(config()).repository(&reg.host(), "flaky/app"),
        "v1",
        &pattern(100, 2),
    )
    .await;
    let flaky = front(&reg.http_base(), |_, log| {
        if log.len() <= 3 {
            respond(503, vec![])
        } else {
            Action::Forward
        }
    })
    .await;
    let repo = client(config()).repository(&flaky.host(), "flaky/app");
    let fetched = repo
        .get_manifest(&ManifestRef::tag("v1"), &[])
        .await
        .unwrap();
    assert_eq!(fetched.digest, image.digest);

    let down = front(&reg.http_base(), |seen, _| {
        if seen.path.contains("/manifests/") {
            respond(503, vec![])
        } else {
            Action::Forward
        }
    })
    .await;
    let repo = client(config()).repository(&down.host(), "flaky/app");
    let error = repo
        .get_manifest(&ManifestRef::tag("v1"), &[])
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(
        down.count("GET", "/manifests/"),
        4,
        "max_attempts requests, no more"
    );
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let reg = registry().await;
    let refusing = front(&reg.http_base(), |seen, _| {
        if seen.path.contains("/manifests/") {
            Action::Respond {
                status: 400,
                headers: vec![],
                body: br#"{"errors":[{"code":"MANIFEST_INVALID","message":"bad"}]}"#.to_vec(),
            }
        } else {
            Action::Forward
        }
    })
    .await;
    let repo = client(config()).repository(&refusing.host(), "strict/app");
    let error = repo
        .get_manifest(&ManifestRef::tag("v1"), &[])
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.code(), Some("MANIFEST_INVALID"));
    assert_eq!(refusing.count("GET", "/manifests/"), 1);
}

#[tokio::test]
async fn a_body_cut_mid_stream_is_resumed_from_the_next_byte() {
    let reg = registry().await;
    let image = push_image(
        &client(config()).repository(&reg.host(), "cut/app"),
        "v1",
        &pattern(400_000, 3),
    )
    .await;
    let cutting = front(&reg.http_base(), |seen, log| {
        let blob_gets = log
            .iter()
            .filter(|s| s.method == "GET" && s.path.contains("/blobs/"))
            .count();
        if seen.method == "GET" && seen.path.contains("/blobs/") && blob_gets <= 2 {
            Action::CutBodyAfter(100_000)
        } else {
            Action::Forward
        }
    })
    .await;
    let repo = client(config()).repository(&cutting.host(), "cut/app");
    let mut received = Vec::new();
    let delivered = repo
        .download_blob(&image.layer, 400_000, 0, |bytes| {
            received.extend_from_slice(bytes);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(delivered, 400_000);
    assert_eq!(
        Digest::of(&received),
        image.layer,
        "each byte exactly once, in order"
    );
    let ranges: Vec<String> = cutting
        .seen()
        .iter()
        .filter(|s| s.path.contains("/blobs/"))
        .map(|s| s.header("range").unwrap_or("").to_owned())
        .collect();
    assert_eq!(ranges.len(), 3);
    assert_eq!(ranges[0], "");
    let resumed_at: Vec<u64> = ranges[1..]
        .iter()
        .map(|r| {
            r.strip_prefix("bytes=")
                .and_then(|r| r.strip_suffix('-'))
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        resumed_at[0] > 0 && resumed_at[0] <= 100_000,
        "{resumed_at:?}"
    );
    assert!(resumed_at[1] > resumed_at[0], "{resumed_at:?}");
}

#[tokio::test]
async fn a_broken_patch_resumes_from_the_offset_the_registry_kept() {
    let reg = registry().await;
    let cutter = patch_cutter(reg.addr, 40_000).await;
    let repo = client(config()).repository(&cutter.addr.to_string(), "resume/app");
    let blob = pattern(300_000, 4);
    let digest = Digest::of(&blob);
    let chunk = 100_000u64;
    repo.push_blob(
        &digest,
        blob.len() as u64,
        &BytesBlob::new(blob.clone()),
        &PushOptions {
            chunk_size: Some(chunk),
            progress: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(cutter.cuts.load(std::sync::atomic::Ordering::SeqCst), 1);
    let starts: Vec<u64> = cutter
        .ranges
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.split('-').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(starts[0], 0, "{starts:?}");
    // The PATCH after the cut starts where the registry's data ends, not at a chunk boundary.
    assert!(
        starts[1..].iter().any(|s| s % chunk != 0),
        "expected a resumed PATCH from a partial offset: {starts:?}"
    );

    let direct = client(config()).repository(&reg.host(), "resume/app");
    let mut pulled = Vec::new();
    direct
        .download_blob(&digest, blob.len() as u64, 0, |b| {
            pulled.extend_from_slice(b);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(pulled, blob);
}

#[tokio::test]
async fn redirects_to_another_host_carry_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let path = htpasswd(dir.path(), "alice", "wonderland");
    let reg = registry_with(
        "",
        &format!(
            "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
            path.display()
        ),
    )
    .await;
    let layer = pattern(10_000, 5);
    let layer_body = layer.clone();
    let cdn = front("http://127.0.0.1:9", move |_, _| Action::Respond {
        status: 200,
        headers: vec![("content-length", layer_body.len().to_string())],
        body: layer_body.clone(),
    })
    .await;
    let cdn_port = cdn.addr.port();
    let origin = front(&reg.http_base(), move |seen, _| {
        if seen.method == "GET" && seen.path.contains("/blobs/sha256:") {
            Action::Respond {
                status: 307,
                headers: vec![("location", format!("http://localhost:{cdn_port}/cdn/blob"))],
                body: Vec::new(),
            }
        } else {
            Action::Forward
        }
    })
    .await;
    let alice = Credential {
        username: "alice".into(),
        password: "wonderland".into(),
        identity_token: None,
    };
    let client = client_with(
        config(),
        StaticCredentials::new().with(origin.host(), alice),
    );
    let repo = client.repository(&origin.host(), "cdn/app");
    let digest = Digest::of(&layer);
    repo.push_blob(
        &digest,
        layer.len() as u64,
        &BytesBlob::new(layer.clone()),
        &PushOptions::default(),
    )
    .await
    .unwrap();
    let mut pulled = Vec::new();
    repo.download_blob(&digest, layer.len() as u64, 0, |b| {
        pulled.extend_from_slice(b);
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(pulled, layer);
    let asked = origin
        .seen()
        .into_iter()
        .find(|s| s.method == "GET" && s.path.contains("/blobs/"))
        .unwrap();
    assert!(asked.header("authorization").is_some());
    let served = cdn.seen();
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].header("authorization"), None);
}
