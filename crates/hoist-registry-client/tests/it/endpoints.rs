//! Where requests go: mirrors tried in order for reads (pulls, tags, catalog) with fallback to the
//! origin, pushes never sent to mirrors, search one mirror at a time, the docker.io endpoint override,
//! and an HTTP proxy.

use hoist_registry_client::{ManifestRef, ProxyConfig, Repository, Via};
use hoist_spec::Reference;

use crate::support::{
    Action, PushedImage, client, closed_port, config, front, pattern, push_image, registry,
};

async fn pull(repo: &Repository, image: &PushedImage) {
    let manifest = repo
        .get_manifest(&ManifestRef::tag("v1"), &[])
        .await
        .unwrap();
    assert_eq!(manifest.digest, image.digest);
    let mut layer = Vec::new();
    repo.download_blob(&image.layer, image.layer_bytes.len() as u64, 0, |b| {
        layer.extend_from_slice(b);
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(layer, image.layer_bytes);
}

#[tokio::test]
async fn a_mirror_without_the_image_falls_back_to_the_origin() {
    let origin = registry().await;
    let origin_front = front(&origin.http_base(), |_, _| Action::Forward).await;
    let empty_mirror = registry().await;
    let mirror_front = front(&empty_mirror.http_base(), |_, _| Action::Forward).await;
    let mut setup = config();
    setup
        .endpoint_overrides
        .insert("docker.io".into(), origin_front.http_base());
    setup
        .mirrors
        .insert("docker.io".into(), vec![mirror_front.http_base()]);
    let client = client(setup);
    let repo = client.repository_of(&Reference::parse_normalized("app:v1").unwrap());
    assert_eq!(repo.registry(), "docker.io");
    assert_eq!(repo.path(), "library/app");
    let image = push_image(&repo, "v1", &pattern(30_000, 1)).await;
    // Pushes go to the origin only.
    assert_eq!(mirror_front.count("POST", ""), 0);
    assert_eq!(mirror_front.count("PUT", ""), 0);

    pull(&repo, &image).await;
    assert_eq!(mirror_front.count("GET", "/manifests/v1"), 1);
    assert_eq!(origin_front.count("GET", "/manifests/v1"), 1);
    assert_eq!(mirror_front.count("GET", "/blobs/"), 1);
    assert_eq!(origin_front.count("GET", "/blobs/"), 1);
}

#[tokio::test]
async fn a_dead_first_mirror_leaves_the_pull_to_the_second() {
    let origin = registry().await;
    let origin_front = front(&origin.http_base(), |_, _| Action::Forward).await;
    let mirror = registry().await;
    let mirror_front = front(&mirror.http_base(), |_, _| Action::Forward).await;
    let dead = closed_port().await;

    // The image is on the second mirror only (it mirrors the origin's content).
    let seeding = client(config());
    let image = push_image(
        &seeding.repository(&mirror.host(), "library/app"),
        "v1",
        &pattern(5_000, 2),
    )
    .await;

    let mut setup = config();
    setup
        .endpoint_overrides
        .insert("docker.io".into(), origin_front.http_base());
    setup.mirrors.insert(
        "docker.io".into(),
        vec![format!("http://{dead}"), mirror_front.http_base()],
    );
    let repo = client(setup).repository("docker.io", "library/app");
    pull(&repo, &image).await;
    assert_eq!(mirror_front.count("GET", "/manifests/v1"), 1);
    assert_eq!(origin_front.count("GET", "/manifests/"), 0);
    assert_eq!(origin_front.count("GET", "/blobs/"), 0);
}

#[tokio::test]
async fn listings_follow_the_mirrors_like_pulls() {
    let origin = registry().await;
    let origin_front = front(&origin.http_base(), |_, _| Action::Forward).await;
    let mirror = registry().await;
    let mirror_front = front(&mirror.http_base(), |_, _| Action::Forward).await;
    let dead = closed_port().await;
    let seeding = client(config());
    for tag in ["v1", "v2"] {
        push_image(
            &seeding.repository(&mirror.host(), "library/app"),
            tag,
            &pattern(1_000, 5),
        )
        .await;
    }

    let mut setup = config();
    setup
        .endpoint_overrides
        .insert("docker.io".into(), origin_front.http_base());
    setup.mirrors.insert(
        "docker.io".into(),
        vec![format!("http://{dead}"), mirror_front.http_base()],
    );
    let client = client(setup);
    let mut tags = client
        .repository("docker.io", "library/app")
        .tags(None)
        .await
        .unwrap();
    tags.sort();
    assert_eq!(tags, ["v1", "v2"]);
    assert_eq!(
        client.catalog("docker.io", None).await.unwrap(),
        ["library/app"]
    );
    assert_eq!(mirror_front.count("GET", "/tags/list"), 1);
    assert_eq!(mirror_front.count("GET", "/v2/_catalog"), 1);
    assert_eq!(origin_front.count("GET", "/tags/list"), 0);
    assert_eq!(origin_front.count("GET", "/v2/_catalog"), 0);

    // The override stands for Docker Hub in search, so there are no mirrors to ask first; one
    // place at a time is still reachable by name.
    assert!(client.search_mirrors("docker.io").is_empty());
    let via_mirror = Via::Mirror(mirror_front.http_base());
    let found = client
        .search_v1_via("docker.io", &via_mirror, "app", None)
        .await
        .unwrap();
    assert_eq!(found[0].name, "library/app");
    assert_eq!(
        client
            .catalog_via("docker.io", &Via::Registry, None)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(origin_front.count("GET", "/v2/_catalog"), 1);
}

#[tokio::test]
async fn docker_io_can_point_at_a_local_registry() {
    let reg = registry().await;
    let mut setup = config();
    setup
        .endpoint_overrides
        .insert("docker.io".into(), reg.http_base());
    let client = client(setup);
    let reference = Reference::parse_normalized("busybox").unwrap();
    let repo = client.repository_of(&reference);
    let image = push_image(&repo, "v1", &pattern(1_000, 3)).await;
    // The same content is visible directly under library/busybox.
    let direct = crate::support::client(config()).repository(&reg.host(), "library/busybox");
    assert_eq!(
        direct
            .get_manifest(&ManifestRef::tag("v1"), &[])
            .await
            .unwrap()
            .digest,
        image.digest
    );
    // index.docker.io is Docker Hub too.
    let legacy = client.repository("index.docker.io", "library/busybox");
    assert_eq!(legacy.registry(), "docker.io");
    pull(&legacy, &image).await;
}

#[tokio::test]
async fn requests_go_through_the_configured_proxy() {
    let reg = registry().await;
    // A front forwards whatever path it is asked for, so it serves as a forward proxy too.
    let proxy = front(&reg.http_base(), |_, _| Action::Forward).await;
    let mut setup = config();
    setup.proxies = ProxyConfig {
        http_proxy: Some(proxy.http_base()),
        https_proxy: None,
        no_proxy: None,
        proxy_loopback: true,
    };
    let repo = client(setup).repository(&reg.host(), "proxied/app");
    let image = push_image(&repo, "v1", &pattern(2_000, 4)).await;
    pull(&repo, &image).await;
    assert!(proxy.count("GET", "/manifests/v1") >= 1);
    assert!(proxy.count("PUT", "/manifests/v1") >= 1);

    // Loopback is left direct unless asked, and no_proxy is honoured.
    for proxies in [
        ProxyConfig {
            http_proxy: Some(proxy.http_base()),
            ..ProxyConfig::default()
        },
        ProxyConfig {
            http_proxy: Some(proxy.http_base()),
            no_proxy: Some("127.0.0.1".into()),
            proxy_loopback: true,
            ..ProxyConfig::default()
        },
    ] {
        let before = proxy.seen().len();
        let mut setup = config();
        setup.proxies = proxies;
        let repo = client(setup).repository(&reg.host(), "proxied/app");
        pull(&repo, &image).await;
        assert_eq!(proxy.seen().len(), before);
    }
}
