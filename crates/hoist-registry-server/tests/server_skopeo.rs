//! A real client against the server: skopeo copies an OCI layout built in code into the registry and
//! back out, with htpasswd credentials. Skipped (passing) when skopeo is not installed.

use std::path::Path;
use std::process::Command;

use hoist_registry_server::config::{Config, HtpasswdAuth};
use hoist_registry_server::server::Server;
use hoist_spec::Digest;
use serde_json::json;

fn skopeo_available() -> bool {
    Command::new("skopeo")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

fn write_blob(layout: &Path, bytes: &[u8]) -> Digest {
    let digest = Digest::of(bytes);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(digest.hex()), bytes).unwrap();
    digest
}

/// An OCI image layout holding one image tagged `v1`.
fn build_layout(layout: &Path, layer: &[u8]) {
    std::fs::create_dir_all(layout).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(layer).to_string()]},
    }))
    .unwrap();
    let config_digest = write_blob(layout, &config);
    let layer_digest = write_blob(layout, layer);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest.to_string(), "size": layer.len()}],
    }))
    .unwrap();
    let manifest_digest = write_blob(layout, &manifest);
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest.to_string(),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "v1"},
        }],
    });
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
}

fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new("skopeo").args(args).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_copies_to_and_from_the_registry() {
    if !skopeo_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("pw", 5).unwrap();
    let htpasswd = work.path().join("htpasswd");
    std::fs::write(&htpasswd, format!("bob:{hash}\n")).unwrap();
    let mut config = Config::default();
    config.http.addr = "127.0.0.1:0".to_owned();
    config.storage.filesystem.rootdirectory = work.path().join("registry");
    config.auth.htpasswd = Some(HtpasswdAuth {
        realm: "test".to_owned(),
        path: htpasswd,
    });
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));

    let layer: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let source = work.path().join("source");
    build_layout(&source, &layer);
    let source_ref = format!("oci:{}:v1", source.display());
    let registry_ref = format!("docker://{addr}/skopeo/test:v1");
    let copied_back = work.path().join("copied");
    let copied_ref = format!("oci:{}:v1", copied_back.display());
    let outputs = tokio::task::spawn_blocking(move || {
        let unauthenticated = skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            &source_ref,
            &registry_ref,
        ]);
        let push = skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds=bob:pw",
            &source_ref,
            &registry_ref,
        ]);
        let pull = skopeo(&[
            "copy",
            "--src-tls-verify=false",
            "--src-creds=bob:pw",
            &registry_ref,
            &copied_ref,
        ]);
        (unauthenticated, push, pull)
    })
    .await
    .unwrap();
    let (unauthenticated, push, pull) = outputs;
    assert!(
        !unauthenticated.status.success(),
        "a push without credentials must be refused"
    );
    assert!(
        push.status.success(),
        "push: {}",
        String::from_utf8_lossy(&push.stderr)
    );
    assert!(
        pull.status.success(),
        "pull: {}",
        String::from_utf8_lossy(&pull.stderr)
    );
    // skopeo compresses uncompressed layers on their way into a registry, so follow the pulled
    // layout's own index to its manifest and check every blob against its digest.
    let read_json = |path: std::path::PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let blob_path = |digest: &str| {
        copied_back
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let index = read_json(copied_back.join("index.json"));
    let pulled_manifest = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    let manifest = read_json(blob_path(&pulled_manifest));
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    for descriptor in layers.iter().chain([&manifest["config"]]) {
        let digest = descriptor["digest"].as_str().unwrap();
        let bytes = std::fs::read(blob_path(digest)).unwrap();
        assert_eq!(Digest::of(&bytes).to_string(), digest);
        assert_eq!(Some(bytes.len() as u64), descriptor["size"].as_u64());
    }
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
