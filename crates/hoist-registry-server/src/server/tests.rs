//! End-to-end tests of the server: a real listener on 127.0.0.1:0 over a temporary storage root,
//! driven by reqwest.

use hoist_spec::Digest;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Server, ServerError};
use crate::config::{Config, HtpasswdAuth};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

struct TestServer {
    base: String,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
    _root: tempfile::TempDir,
}

async fn start(configure: impl FnOnce(&mut Config, &std::path::Path)) -> TestServer {
    let root = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.http.addr = "127.0.0.1:0".to_owned();
    config.storage.filesystem.rootdirectory = root.path().join("registry");
    configure(&mut config, root.path());
    let server = Server::bind(config).await.unwrap();
    let base = format!("http://{}", server.local_addr());
    let (sender, receiver) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = receiver.await;
    }));
    TestServer {
        base,
        client: reqwest::Client::new(),
        shutdown: Some(sender),
        task,
        _root: root,
    }
}

impl TestServer {
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        self.client.request(method, url)
    }

    async fn stop(mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        self.task.await.unwrap().unwrap();
    }

    /// Pushes a blob monolithically and returns its digest.
    async fn push_blob(&self, repo: &str, bytes: &[u8]) -> Digest {
        let digest = Digest::of(bytes);
        let response = self
            .request(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/?digest={digest}"),
            )
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        digest
    }

    /// Pushes a config and one layer, then an image manifest naming them under `reference`.
    async fn push_image(&self, repo: &str, reference: &str, layer: &[u8]) -> (Digest, Vec<u8>) {
        let config_bytes = br#"{"architecture":"amd64","os":"linux"}"#;
        let config = self.push_blob(repo, config_bytes).await;
        let layer_digest = self.push_blob(repo, layer).await;
        let manifest = image_manifest(&config, config_bytes.len(), &layer_digest, layer.len());
        let response = self
            .request(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"))
            .header("content-type", OCI_MANIFEST)
            .body(manifest.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let digest = Digest::of(&manifest);
        assert_eq!(
            header(&response, "docker-content-digest"),
            digest.to_string()
        );
        (digest, manifest)
    }
}

fn image_manifest(
    config: &Digest,
    config_size: usize,
    layer: &Digest,
    layer_size: usize,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.to_string(), "size": layer_size}],
    }))
    .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn base_health_metrics_and_headers() {
    let server = start(|config, _| {
        config.http.headers.insert(
            "X-Content-Type-Options".to_owned(),
            vec!["nosniff".to_owned()],
        );
    })
    .await;
    let response = server.request(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "docker-distribution-api-version"),
        "registry/2.0"
    );
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert_eq!(response.json::<Value>().await.unwrap(), json!({}));

    let response = server
        .request(Method::GET, "/nothing/here")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = server
        .request(Method::GET, "/v2/Upper/tags/list")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "NAME_INVALID");

    for path in ["/health", "/debug/health", "/v1/_ping"] {
        let response = server.request(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let metrics = server
        .request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("registry_http_requests_total{method=\"GET\",code=\"200\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("registry_http_requests_total{method=\"GET\",code=\"404\"} 1"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test]
async fn chunked_push_range_reads_and_manifests() {
    let server = start(|_, _| {}).await;
    let content: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let digest = Digest::of(&content);

    let response = server
        .request(Method::POST, "/v2/library/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&response, "range"), "0-0");
    assert!(!header(&response, "docker-upload-uuid").is_empty());
    let location = header(&response, "location");
    assert!(
        location.starts_with("/v2/library/app/blobs/uploads/"),
        "{location}"
    );

    let response = server
        .request(Method::PATCH, &location)
        .header("content-range", "0-5999")
        .body(content[..6000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&response, "range"), "0-5999");
    let location = header(&response, "location");

    // Out of order: the chunk must start where the upload is.
    let response = server
        .request(Method::PATCH, &location)
        .header("content-range", "7000-7999")
        .body(content[7000..8000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    let response = server
        .request(Method::PATCH, &location)
        .header("content-range", "6000-8999")
        .body(content[6000..9000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let response = server.request(Method::GET, &location).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&response, "range"), "0-8999");

    let response = server
        .request(Method::PUT, &format!("{location}?digest={digest}"))
        .body(content[9000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        header(&response, "location"),
        format!("/v2/library/app/blobs/{digest}")
    );
    assert_eq!(
        header(&response, "docker-content-digest"),
        digest.to_string()
    );

    // The finished session is gone.
    let response = server.request(Method::GET, &location).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "BLOB_UPLOAD_UNKNOWN");

    let blob_path = format!("/v2/library/app/blobs/{digest}");
    let response = server
        .request(Method::HEAD, &blob_path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-length"), "10000");
    assert_eq!(
        header(&response, "docker-content-digest"),
        digest.to_string()
    );

    let response = server
        .request(Method::GET, &blob_path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().as_ref(), content.as_slice());

    let response = server
        .request(Method::GET, &blob_path)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&response, "content-range"), "bytes 100-199/10000");
    assert_eq!(response.bytes().await.unwrap().as_ref(), &content[100..200]);

    let response = server
        .request(Method::GET, &blob_path)
        .header("range", "bytes=10000-")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&response, "content-range"), "bytes */10000");

    // Unknown blob, and a blob of another repository.
    let missing = Digest::of(b"missing");
    let response = server
        .request(Method::GET, &format!("/v2/library/app/blobs/{missing}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "BLOB_UNKNOWN");
    let response = server
        .request(Method::HEAD, &format!("/v2/other/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // A wrong digest discards the upload.
    let response = server
        .request(
            Method::POST,
            &format!("/v2/library/app/blobs/uploads/?digest={missing}"),
        )
        .body(b"not the content".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "DIGEST_INVALID");

    // Manifests by tag and digest.
    let (manifest_digest, manifest) = server.push_image("library/app", "v1", b"layer one").await;
    for reference in ["v1".to_owned(), manifest_digest.to_string()] {
        let path = format!("/v2/library/app/manifests/{reference}");
        let response = server
            .request(Method::GET, &path)
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{reference}");
        assert_eq!(header(&response, "content-type"), OCI_MANIFEST);
        assert_eq!(
            header(&response, "docker-content-digest"),
            manifest_digest.to_string()
        );
        assert_eq!(
            response.bytes().await.unwrap().as_ref(),
            manifest.as_slice()
        );
        let response = server.request(Method::HEAD, &path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, "content-length"),
            manifest.len().to_string()
        );
    }
    let response = server
        .request(Method::GET, "/v2/library/app/manifests/v1")
        .header("accept", DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "MANIFEST_UNKNOWN");
    let response = server
        .request(Method::GET, "/v2/library/app/manifests/-bad-tag")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "MANIFEST_UNKNOWN");
    let response = server
        .request(Method::GET, "/v2/library/app/manifests/v2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "MANIFEST_UNKNOWN");

    server.stop().await;
}

#[tokio::test]
async fn bad_manifests_are_client_errors() {
    let server = start(|_, _| {}).await;
    let config = server.push_blob("app", b"{}").await;
    let absent = Digest::of(b"never pushed");
    let response = server
        .request(Method::PUT, "/v2/app/manifests/latest")
        .header("content-type", OCI_MANIFEST)
        .body(image_manifest(&config, 2, &absent, 12))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "MANIFEST_BLOB_UNKNOWN");

    let response = server
        .request(Method::PUT, "/v2/app/manifests/latest")
        .header("content-type", OCI_MANIFEST)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "MANIFEST_INVALID");

    let response = server
        .request(Method::PUT, "/v2/app/manifests/latest")
        .header("content-type", OCI_MANIFEST)
        .body(vec![b' '; 4 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(response).await, "SIZE_INVALID");

    let response = server
        .request(Method::PATCH, "/v2/app/blobs/uploads/not-an-upload")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "BLOB_UPLOAD_UNKNOWN");

    let response = server
        .request(Method::DELETE, &format!("/v2/app/blobs/{config}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(response).await, "UNSUPPORTED");
    server.stop().await;
}

#[tokio::test]
async fn mount_tags_catalog_and_search() {
    let server = start(|_, _| {}).await;
    let layer = server.push_blob("source/app", b"shared layer").await;

    let response = server
        .request(
            Method::POST,
            &format!("/v2/target/app/blobs/uploads/?mount={layer}&from=source/app"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        header(&response, "location"),
        format!("/v2/target/app/blobs/{layer}")
    );
    let response = server
        .request(Method::HEAD, &format!("/v2/target/app/blobs/{layer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Mounting what the source does not have opens an ordinary session instead.
    let absent = Digest::of(b"absent");
    let response = server
        .request(
            Method::POST,
            &format!("/v2/target/app/blobs/uploads/?mount={absent}&from=source/app"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = header(&response, "location");
    let response = server
        .request(Method::DELETE, &location)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    for tag in ["a", "b", "c"] {
        server.push_image("source/app", tag, b"layer").await;
    }
    server.push_image("zeta", "latest", b"layer").await;

    let response = server
        .request(Method::GET, "/v2/source/app/tags/list?n=2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let link = header(&response, "link");
    assert_eq!(link, "</v2/source/app/tags/list?n=2&last=b>; rel=\"next\"");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"name": "source/app", "tags": ["a", "b"]})
    );
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or_default();
    let response = server.request(Method::GET, next).send().await.unwrap();
    assert_eq!(header(&response, "link"), "");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"name": "source/app", "tags": ["c"]})
    );

    let response = server
        .request(Method::GET, "/v2/nothing/tags/list")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "NAME_UNKNOWN");
    // target/app holds a blob but no manifest.
    let response = server
        .request(Method::GET, "/v2/target/app/tags/list")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let response = server
        .request(Method::GET, "/v2/_catalog?n=1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "link"),
        "</v2/_catalog?n=1&last=source%2Fapp>; rel=\"next\""
    );
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"repositories": ["source/app"]})
    );
    let response = server
        .request(Method::GET, "/v2/_catalog")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"repositories": ["source/app", "zeta"]})
    );
    let response = server
        .request(Method::GET, "/v2/_catalog?n=x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let response = server
        .request(Method::GET, "/v1/search?q=zet&n=10")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let found: Value = response.json().await.unwrap();
    assert_eq!(found["num_results"], 1);
    assert_eq!(found["results"][0]["name"], "zeta");
    server.stop().await;
}

#[tokio::test]
async fn referrers_and_subject() {
    let server = start(|_, _| {}).await;
    let (subject, manifest) = server.push_image("app", "v1", b"layer").await;
    let empty_config = server.push_blob("app", b"{}").await;
    let artifact = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_config.to_string(), "size": 2},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject.to_string(), "size": manifest.len()},
    }))
    .unwrap();
    let artifact_digest = Digest::of(&artifact);
    let response = server
        .request(Method::PUT, &format!("/v2/app/manifests/{artifact_digest}"))
        .header("content-type", OCI_MANIFEST)
        .body(artifact)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(header(&response, "oci-subject"), subject.to_string());

    let response = server
        .request(Method::GET, &format!("/v2/app/referrers/{subject}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "content-type"),
        "application/vnd.oci.image.index.v1+json"
    );
    let index: Value = response.json().await.unwrap();
    assert_eq!(index["manifests"][0]["digest"], artifact_digest.to_string());
    assert_eq!(
        index["manifests"][0]["artifactType"],
        "application/vnd.example.sbom"
    );

    let response = server
        .request(
            Method::GET,
            &format!("/v2/app/referrers/{subject}?artifactType=application/vnd.example.other"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "oci-filters-applied"), "artifactType");
    let index: Value = response.json().await.unwrap();
    assert_eq!(index["manifests"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn deletion_when_enabled() {
    let server = start(|config, _| config.storage.delete.enabled = true).await;
    let (digest, _) = server.push_image("app", "v1", b"layer").await;
    let response = server
        .request(Method::DELETE, &format!("/v2/app/manifests/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = server
        .request(Method::GET, "/v2/app/manifests/v1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let layer = Digest::of(b"layer");
    let response = server
        .request(Method::DELETE, &format!("/v2/app/blobs/{layer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = server
        .request(Method::HEAD, &format!("/v2/app/blobs/{layer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn htpasswd_auth() {
    let hash = bcrypt::hash("s3cret", 5).unwrap();
    let server = start(|config, root| {
        let path = root.join("htpasswd");
        std::fs::write(&path, format!("alice:{hash}\n")).unwrap();
        config.auth.htpasswd = Some(HtpasswdAuth {
            realm: "Registry Realm".to_owned(),
            path,
        });
    })
    .await;
    let response = server.request(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&response, "www-authenticate"),
        "Basic realm=\"Registry Realm\""
    );
    assert_eq!(error_code(response).await, "UNAUTHORIZED");
    let response = server
        .request(Method::GET, "/v2/")
        .basic_auth("alice", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    for _ in 0..2 {
        let response = server
            .request(Method::GET, "/v2/")
            .basic_auth("alice", Some("s3cret"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = server
        .request(Method::GET, "/v1/search?q=x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = server.request(Method::GET, "/health").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn bind_errors() {
    let root = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.http.addr = "127.0.0.1:0".to_owned();
    config.storage.filesystem.rootdirectory = root.path().join("registry");
    config.auth.htpasswd = Some(HtpasswdAuth {
        realm: "r".to_owned(),
        path: root.path().join("missing-htpasswd"),
    });
    assert!(matches!(
        Server::bind(config.clone()).await,
        Err(ServerError::Htpasswd { .. })
    ));
    config.auth.htpasswd = None;
    config.http.addr = "256.0.0.1:1".to_owned();
    assert!(matches!(
        Server::bind(config.clone()).await,
        Err(ServerError::Bind { .. })
    ));
    config.http.addr = "127.0.0.1:0".to_owned();
    config.http.net = "unix".to_owned();
    assert!(matches!(
        Server::bind(config.clone()).await,
        Err(ServerError::UnsupportedNet { .. })
    ));
    config.http.net = "tcp".to_owned();
    config.http.tls.certificate = Some(root.path().join("missing.crt"));
    config.http.tls.key = Some(root.path().join("missing.key"));
    assert!(matches!(
        Server::bind(config).await,
        Err(ServerError::Tls(_))
    ));
}

#[tokio::test]
async fn tls_serves_https() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let root = tempfile::tempdir().unwrap();
    let certificate = root.path().join("tls.crt");
    let key = root.path().join("tls.key");
    std::fs::write(&certificate, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let mut config = Config::default();
    config.http.addr = "127.0.0.1:0".to_owned();
    config.storage.filesystem.rootdirectory = root.path().join("registry");
    config.http.tls.certificate = Some(certificate);
    config.http.tls.key = Some(key);
    let server = Server::bind(config).await.unwrap();
    let port = server.local_addr().port();
    let (sender, receiver) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = receiver.await;
    }));
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap(),
        )
        .resolve(
            "localhost",
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        )
        .build()
        .unwrap();
    let response = client
        .get(format!("https://localhost:{port}/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "docker-distribution-api-version"),
        "registry/2.0"
    );
    let _ = sender.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_lets_in_flight_uploads_finish() {
    let server = start(|_, _| {}).await;
    let response = server
        .request(Method::POST, "/v2/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    let location = format!("{}{}", server.base, header(&response, "location"));
    // A chunk that arrives slowly, still in flight when shutdown begins.
    let (chunk_sender, chunk_receiver) =
        tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let stream = tokio_stream_from(chunk_receiver);
    let patch = tokio::spawn(
        server
            .client
            .patch(location)
            .body(reqwest::Body::wrap_stream(stream))
            .send(),
    );
    chunk_sender.send(Ok(b"first".to_vec())).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let TestServer { shutdown, task, .. } = server;
    if let Some(sender) = shutdown {
        let _ = sender.send(());
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!task.is_finished(), "the server must wait for the upload");
    chunk_sender.send(Ok(b" second".to_vec())).await.unwrap();
    drop(chunk_sender);
    let response = patch.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&response, "range"), "0-11");
    task.await.unwrap().unwrap();
}

/// A stream over a channel's items, for a request body sent in pieces.
fn tokio_stream_from<T: Send + 'static>(
    receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}

#[tokio::test]
async fn drain_timeout_bounds_shutdown() {
    let server = start(|config, _| config.http.draintimeout = "200ms".to_owned()).await;
    let response = server
        .request(Method::POST, "/v2/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    let location = format!("{}{}", server.base, header(&response, "location"));
    // A chunk that never ends.
    let (chunk_sender, chunk_receiver) =
        tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let patch = tokio::spawn(
        server
            .client
            .patch(location)
            .body(reqwest::Body::wrap_stream(tokio_stream_from(
                chunk_receiver,
            )))
            .send(),
    );
    chunk_sender.send(Ok(b"stuck".to_vec())).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let TestServer { shutdown, task, .. } = server;
    if let Some(sender) = shutdown {
        let _ = sender.send(());
    }
    tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .expect("shutdown must end after the drain timeout")
        .unwrap()
        .unwrap();
    // The stuck request's connection was dropped, even though its client is still sending.
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(5), patch)
        .await
        .expect("the abandoned connection must be closed")
        .unwrap();
    assert!(outcome.is_err(), "{outcome:?}");
    drop(chunk_sender);
}

#[tokio::test]
async fn invalid_drain_timeout_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.http.addr = "127.0.0.1:0".to_owned();
    config.storage.filesystem.rootdirectory = root.path().join("registry");
    config.http.draintimeout = "soon".to_owned();
    assert!(matches!(
        Server::bind(config).await,
        Err(ServerError::DrainTimeout { .. })
    ));
}

#[tokio::test]
async fn vanished_client_is_not_a_server_failure() {
    let server = start(|_, _| {}).await;
    let response = server
        .request(Method::POST, "/v2/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    let location = format!("{}{}", server.base, header(&response, "location"));
    let (chunk_sender, chunk_receiver) =
        tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let patch = tokio::spawn(
        server
            .client
            .patch(location.clone())
            .body(reqwest::Body::wrap_stream(tokio_stream_from(
                chunk_receiver,
            )))
            .send(),
    );
    chunk_sender.send(Ok(b"partial".to_vec())).await.unwrap();
    chunk_sender
        .send(Err(std::io::Error::other("client gave up")))
        .await
        .unwrap();
    drop(chunk_sender);
    assert!(patch.await.unwrap().is_err());
    // The server notices, answers (to nobody) as a client error, and the session stays usable.
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = server
            .request(Method::GET, "/metrics")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("method=\"PATCH\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        metrics.contains("registry_http_requests_total{method=\"PATCH\",code=\"400\"} 1"),
        "{metrics}"
    );
    let response = server.request(Method::GET, &location).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    server.stop().await;
}
