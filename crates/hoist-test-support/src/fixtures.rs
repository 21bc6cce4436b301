//! Images made in code: layers from the hoist-layer builder, configs with fixed timestamps (so image IDs are
//! stable), written as docker-archive (legacy layout, as `docker save` 20.10 writes it) or OCI layout tars.

use hoist_layer::builder::LayerBuilder;
use hoist_spec::Digest;
use serde_json::{Value, json};

/// One image to write into an archive.
#[derive(Debug, Clone)]
pub struct ImageFixture {
    /// Uncompressed layer tars, base first.
    pub layers: Vec<Vec<u8>>,
    /// History `created_by` per layer.
    pub created_by: Vec<String>,
    pub created: String,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub tags: Vec<String>,
    pub architecture: String,
    /// Store layers gzip-compressed in OCI archives.
    pub gzip: bool,
}

impl ImageFixture {
    /// An image with the given layers, created at a fixed time, for the host architecture.
    pub fn new(layers: Vec<Vec<u8>>) -> Self {
        let n = layers.len();
        Self {
            layers,
            created_by: (0..n)
                .map(|i| format!("/bin/sh -c #(nop) ADD file:layer{i} in / "))
                .collect(),
            created: "2024-01-02T03:04:05.123456789Z".to_owned(),
            cmd: vec!["/bin/sh".to_owned()],
            env: vec![
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            ],
            labels: Vec::new(),
            tags: Vec::new(),
            architecture: hoist_spec::Platform::host().architecture,
            gzip: false,
        }
    }

    /// A one-layer image from a layer spec in hoist-layer's text DSL.
    pub fn from_text(spec: &str) -> Self {
        Self::new(vec![layer(spec)])
    }

    #[must_use]
    pub fn tag(mut self, t: &str) -> Self {
        self.tags.push(t.to_owned());
        self
    }

    #[must_use]
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.labels.push((k.to_owned(), v.to_owned()));
        self
    }

    #[must_use]
    pub fn created(mut self, t: &str) -> Self {
        t.clone_into(&mut self.created);
        self
    }

    pub fn diff_ids(&self) -> Vec<Digest> {
        self.layers.iter().map(|l| Digest::of(l)).collect()
    }

    /// The config JSON bytes; their digest is the image ID.
    pub fn config_bytes(&self) -> Vec<u8> {
        let labels: serde_json::Map<String, Value> = self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect();
        let history: Vec<Value> = self
            .created_by
            .iter()
            .map(|c| json!({"created": self.created, "created_by": c}))
            .chain(std::iter::once(json!({"created": self.created, "created_by": "/bin/sh -c #(nop)  CMD [\"/bin/sh\"]", "empty_layer": true})))
            .collect();
        let config = json!({
            "architecture": self.architecture,
            "config": {
                "Env": self.env,
                "Cmd": self.cmd,
                "Labels": if labels.is_empty() { Value::Null } else { Value::Object(labels) },
            },
            "created": self.created,
            "history": history,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": self.diff_ids().iter().map(ToString::to_string).collect::<Vec<_>>()},
        });
        serde_json::to_vec(&config).unwrap_or_default()
    }

    pub fn id(&self) -> Digest {
        Digest::of(&self.config_bytes())
    }
}

/// A layer tar from hoist-layer's text DSL (`d etc 755`, `f etc/os-release 644 ID=test`, `l bin/sh busybox`).
pub fn layer(spec: &str) -> Vec<u8> {
    match LayerBuilder::from_text(spec) {
        Ok(b) => b.build(),
        Err(e) => panic!("bad layer spec: {e}"),
    }
}

/// A layer holding the host's static busybox as `bin/busybox` with `bin/sh` linking to it, or `None`
/// when busybox-static is not installed.
pub fn busybox_layer() -> Option<Vec<u8>> {
    let path = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())?;
    let bytes = std::fs::read(path).ok()?;
    Some(
        LayerBuilder::new()
            .dir("bin", 0o755)
            .file("bin/busybox", bytes, 0o755)
            .symlink("bin/sh", "busybox")
            .dir("etc", 0o755)
            .file("etc/hello", "hello from a layer made in code\n", 0o644)
            .build(),
    )
}

fn append(tar: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    if let Err(e) = tar.append_data(&mut h, path, bytes) {
        panic!("building fixture tar: {e}");
    }
}

fn finish(tar: tar::Builder<Vec<u8>>) -> Vec<u8> {
    match tar.into_inner() {
        Ok(v) => v,
        Err(e) => panic!("building fixture tar: {e}"),
    }
}

/// A docker-archive in Docker 20.10's legacy layout: `<id>/layer.tar`, `<config>.json`, `manifest.json`.
pub fn docker_archive(images: &[ImageFixture]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut manifest = Vec::new();
    let mut written = std::collections::HashSet::new();
    for img in images {
        let mut layer_paths = Vec::new();
        for l in &img.layers {
            let id = Digest::of(l).hex().to_owned();
            let path = format!("{id}/layer.tar");
            if written.insert(path.clone()) {
                append(&mut tar, &format!("{id}/VERSION"), b"1.0");
                append(&mut tar, &path, l);
            }
            layer_paths.push(path);
        }
        let config = img.config_bytes();
        let config_path = format!("{}.json", Digest::of(&config).hex());
        append(&mut tar, &config_path, &config);
        manifest.push(json!({
            "Config": config_path,
            "RepoTags": if img.tags.is_empty() { Value::Null } else { json!(img.tags) },
            "Layers": layer_paths,
        }));
    }
    append(
        &mut tar,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap_or_default(),
    );
    finish(tar)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

/// An OCI layout tar (what `skopeo copy … oci-archive:` writes): blobs, index.json with names, oci-layout.
pub fn oci_archive(images: &[ImageFixture]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut index = Vec::new();
    let mut written = std::collections::HashSet::new();
    let mut blob = |tar: &mut tar::Builder<Vec<u8>>, bytes: &[u8]| -> Digest {
        let d = Digest::of(bytes);
        if written.insert(d.clone()) {
            append(tar, &format!("blobs/sha256/{}", d.hex()), bytes);
        }
        d
    };
    for img in images {
        let mut layers = Vec::new();
        for l in &img.layers {
            let (bytes, mt) = if img.gzip {
                (gzip(l), "application/vnd.oci.image.layer.v1.tar+gzip")
            } else {
                (l.clone(), "application/vnd.oci.image.layer.v1.tar")
            };
            let d = blob(&mut tar, &bytes);
            layers.push(json!({"mediaType": mt, "digest": d.to_string(), "size": bytes.len()}));
        }
        let config = img.config_bytes();
        let cd = blob(&mut tar, &config);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": config.len()},
            "layers": layers,
        });
        let mbytes = serde_json::to_vec(&manifest).unwrap_or_default();
        let md = blob(&mut tar, &mbytes);
        let desc = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md.to_string(), "size": mbytes.len()});
        if img.tags.is_empty() {
            index.push(desc.clone());
        }
        for t in &img.tags {
            let mut d = desc.clone();
            d["annotations"] = json!({"io.containerd.image.name": t, "org.opencontainers.image.ref.name": t.rsplit(':').next().unwrap_or("latest")});
            index.push(d);
        }
    }
    append(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    append(
        &mut tar,
        "index.json",
        &serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": index})).unwrap_or_default(),
    );
    finish(tar)
}
