//! The OCI distribution-spec conformance workflows (pull, push, content discovery, content management)
//! run over HTTP against `Server`, plus htpasswd auth, organised like the spec's own conformance suite.

use std::net::SocketAddr;

use hoist_registry_server::config::Config;
use hoist_registry_server::server::Server;
use hoist_spec::Digest;
use reqwest::StatusCode;
use serde_json::{Value, json};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

struct Registry {
    _dir: tempfile::TempDir,
    base: String,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(extra_yaml: &str) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "version: 0.1\nhttp:\n  addr: 127.0.0.1:0\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n{extra_yaml}",
        dir.path().join("data").display()
    );
    let config = Config::load(Some(&yaml), Vec::<(String, String)>::new(), dir.path()).unwrap();
    let server = Server::bind(config).await.unwrap();
    let addr: SocketAddr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Registry {
        _dir: dir,
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        _stop: stop,
    }
}

impl Registry {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Pushes a blob monolithically (POST then PUT) and returns its digest.
    async fn push_blob(&self, repo: &str, bytes: &[u8]) -> Digest {
        let digest = Digest::of(bytes);
        let r = self
            .client
            .post(self.url(&format!("/v2/{repo}/blobs/uploads/")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let location = location(&r, &self.base);
        let sep = if location.contains('?') { '&' } else { '?' };
        let r = self
            .client
            .put(format!("{location}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap_or_default()
        );
        digest
    }

    /// Pushes a config and one layer and a manifest tagged `tag`; returns (manifest bytes, digest, layer digest).
    async fn push_image(&self, repo: &str, tag: &str, layer: &[u8]) -> (Vec<u8>, Digest, Digest) {
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let config_digest = self.push_blob(repo, config).await;
        let layer_digest = self.push_blob(repo, layer).await;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest.to_string(), "size": layer.len()}],
        }))
        .unwrap();
        let r = self.put_manifest(repo, tag, &manifest, OCI_MANIFEST).await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap_or_default()
        );
        (manifest.clone(), Digest::of(&manifest), layer_digest)
    }

    async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> reqwest::Response {
        self.client
            .put(self.url(&format!("/v2/{repo}/manifests/{reference}")))
            .header("Content-Type", media_type)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap()
    }
}

fn location(r: &reqwest::Response, base: &str) -> String {
    let l = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if l.starts_with("http") {
        l
    } else {
        format!("{base}{l}")
    }
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn error_code(r: reqwest::Response) -> String {
    let v: Value = r.json().await.unwrap_or(Value::Null);
    v["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

mod pull {
    use super::*;

    #[tokio::test]
    async fn base_manifests_and_blobs() {
        let reg = start("").await;
        let r = reg.client.get(reg.url("/v2/")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            header(&r, "docker-distribution-api-version"),
            "registry/2.0"
        );

        let layer = b"layer bytes for pulling".repeat(100);
        let (manifest, digest, layer_digest) = reg.push_image("pull/test", "v1", &layer).await;

        for reference in ["v1".to_owned(), digest.to_string()] {
            let r = reg
                .client
                .get(reg.url(&format!("/v2/pull/test/manifests/{reference}")))
                .header("Accept", OCI_MANIFEST)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(header(&r, "docker-content-digest"), digest.to_string());
            assert_eq!(header(&r, "content-type"), OCI_MANIFEST);
            assert_eq!(r.bytes().await.unwrap().to_vec(), manifest);
        }
        let r = reg
            .client
            .head(reg.url("/v2/pull/test/manifests/v1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "content-length"), manifest.len().to_string());

        let r = reg
            .client
            .get(reg.url(&format!("/v2/pull/test/blobs/{layer_digest}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.bytes().await.unwrap().to_vec(), layer);
        let r = reg
            .client
            .head(reg.url(&format!("/v2/pull/test/blobs/{layer_digest}")))
            .send()
            .await
            .unwrap();
        assert_eq!(header(&r, "content-length"), layer.len().to_string());
        assert_eq!(
            header(&r, "docker-content-digest"),
            layer_digest.to_string()
        );

        let r = reg
            .client
            .get(reg.url(&format!("/v2/pull/test/blobs/{layer_digest}")))
            .header("Range", "bytes=10-19")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            header(&r, "content-range"),
            format!("bytes 10-19/{}", layer.len())
        );
        assert_eq!(r.bytes().await.unwrap().to_vec(), layer[10..20].to_vec());
    }

    #[tokio::test]
    async fn unknown_things_are_404_with_the_spec_codes() {
        let reg = start("").await;
        reg.push_image("pull/x", "v1", b"x").await;
        let r = reg
            .client
            .get(reg.url("/v2/pull/x/manifests/nope"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
        let missing = Digest::of(b"never pushed");
        let r = reg
            .client
            .get(reg.url(&format!("/v2/pull/x/blobs/{missing}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
        let r = reg
            .client
            .get(reg.url("/v2/Bad_Name/tags/list"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(r).await, "NAME_INVALID");
    }
}

mod push {
    use super::*;

    #[tokio::test]
    async fn single_post_and_chunked_uploads() {
        let reg = start("").await;
        // Single POST with the digest.
        let bytes = b"single post blob".to_vec();
        let digest = Digest::of(&bytes);
        let r = reg
            .client
            .post(reg.url(&format!("/v2/push/one/blobs/uploads/?digest={digest}")))
            .header("Content-Type", "application/octet-stream")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(header(&r, "docker-content-digest"), digest.to_string());

        // Chunked: two PATCHes with Content-Range, then PUT; an out-of-order chunk is 416.
        let data = b"0123456789abcdefghij".repeat(50);
        let digest = Digest::of(&data);
        let r = reg
            .client
            .post(reg.url("/v2/push/one/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let loc = location(&r, &reg.base);
        let r = reg
            .client
            .patch(&loc)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Range", format!("0-{}", 499))
            .body(data[..500].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        assert_eq!(header(&r, "range"), "0-499");
        let loc = location(&r, &reg.base);
        let r = reg
            .client
            .patch(&loc)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Range", "100-199")
            .body(data[100..200].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        let r = reg.client.get(&loc).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(header(&r, "range"), "0-499");
        let r = reg
            .client
            .patch(&loc)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Range", format!("500-{}", data.len() - 1))
            .body(data[500..].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let loc = location(&r, &reg.base);
        let sep = if loc.contains('?') { '&' } else { '?' };
        let r = reg
            .client
            .put(format!("{loc}{sep}digest={digest}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let r = reg
            .client
            .get(reg.url(&format!("/v2/push/one/blobs/{digest}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.bytes().await.unwrap().to_vec(), data);
    }

    #[tokio::test]
    async fn wrong_digests_missing_blobs_and_mounts() {
        let reg = start("").await;
        let r = reg
            .client
            .post(reg.url("/v2/push/two/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        let loc = location(&r, &reg.base);
        let sep = if loc.contains('?') { '&' } else { '?' };
        let wrong = Digest::of(b"something else");
        let r = reg
            .client
            .put(format!("{loc}{sep}digest={wrong}"))
            .body(b"actual".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(r).await, "DIGEST_INVALID");

        let (_, _, layer) = reg.push_image("push/two", "v1", b"mountable layer").await;
        let r = reg
            .client
            .post(reg.url(&format!(
                "/v2/push/other/blobs/uploads/?mount={layer}&from=push/two"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let r = reg
            .client
            .head(reg.url(&format!("/v2/push/other/blobs/{layer}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);

        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::of(b"missing config").to_string(), "size": 14},
            "layers": [],
        }))
        .unwrap();
        let r = reg
            .put_manifest("push/two", "broken", &manifest, OCI_MANIFEST)
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
        let r = reg
            .put_manifest("push/two", "bad-json", b"{not json", OCI_MANIFEST)
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    }
}

mod content_discovery {
    use super::*;

    #[tokio::test]
    async fn tags_catalog_and_referrers() {
        let reg = start("").await;
        let mut subject = None;
        for tag in ["a", "b", "c", "d"] {
            let (_, digest, _) = reg
                .push_image("disc/repo", tag, format!("layer {tag}").as_bytes())
                .await;
            subject.get_or_insert(digest);
        }
        let r = reg
            .client
            .get(reg.url("/v2/disc/repo/tags/list?n=2"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let link = header(&r, "link");
        assert!(
            link.contains("rel=\"next\"") && link.contains("last=b"),
            "{link}"
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(v, json!({"name": "disc/repo", "tags": ["a", "b"]}));
        let r = reg
            .client
            .get(reg.url("/v2/disc/repo/tags/list?n=2&last=b"))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["tags"], json!(["c", "d"]));

        reg.push_image("disc/other", "x", b"o").await;
        let r = reg
            .client
            .get(reg.url("/v2/_catalog"))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["repositories"], json!(["disc/other", "disc/repo"]));

        // An artifact that refers to the first image.
        let subject = subject.unwrap();
        let empty = reg.push_blob("disc/repo", b"{}").await;
        let artifact = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.sbom",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
            "layers": [],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject.to_string(), "size": 1},
        }))
        .unwrap();
        let artifact_digest = Digest::of(&artifact);
        let r = reg
            .put_manifest(
                "disc/repo",
                &artifact_digest.to_string(),
                &artifact,
                OCI_MANIFEST,
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(header(&r, "oci-subject"), subject.to_string());
        let r = reg
            .client
            .get(reg.url(&format!("/v2/disc/repo/referrers/{subject}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "content-type"), OCI_INDEX);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["manifests"][0]["digest"], artifact_digest.to_string());
        let r = reg
            .client
            .get(reg.url(&format!(
                "/v2/disc/repo/referrers/{subject}?artifactType=application/vnd.other"
            )))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["manifests"], json!([]));
    }
}

mod content_management {
    use super::*;

    #[tokio::test]
    async fn delete_manifests_and_blobs() {
        let reg = start("").await;
        let (_, digest, layer) = reg.push_image("mgmt/repo", "v1", b"to delete").await;
        let r = reg
            .client
            .delete(reg.url(&format!("/v2/mgmt/repo/manifests/{digest}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let r = reg
            .client
            .get(reg.url(&format!("/v2/mgmt/repo/manifests/{digest}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = reg
            .client
            .delete(reg.url(&format!("/v2/mgmt/repo/blobs/{layer}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let r = reg
            .client
            .head(reg.url(&format!("/v2/mgmt/repo/blobs/{layer}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
}

mod auth {
    use super::*;

    /// Made with Debian's `htpasswd -nbB alice wonderland`.
    const ALICE: &str = "alice:$2y$05$uGWqhXEpYG0cdyNnH.8tTeRz3mRm/0oU.N8VUDJ6ZRh3QIvhEeqA.";

    #[tokio::test]
    async fn htpasswd_basic_auth_with_challenge() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        let line = std::process::Command::new("htpasswd")
            .args(["-nbB", "alice", "wonderland"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|_| ALICE.to_owned());
        std::fs::write(&path, format!("{line}\n")).unwrap();
        let reg = start(&format!(
            "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
            path.display()
        ))
        .await;
        let r = reg.client.get(reg.url("/v2/")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&r, "www-authenticate"), "Basic realm=\"test-realm\"");
        assert_eq!(error_code(r).await, "UNAUTHORIZED");
        let r = reg
            .client
            .get(reg.url("/v2/"))
            .basic_auth("alice", Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = reg
            .client
            .get(reg.url("/v2/"))
            .basic_auth("alice", Some("wonderland"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}
