//! Saving images as one tar that both kinds of `docker load` accept: Docker 20.10 reads `manifest.json`,
//! Docker 25+ and OCI tools read `index.json` and `oci-layout`. Blobs are written once each, straight
//! from the store's files (the kernel copies them when the output is a file or a pipe).

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, Write};

use hoist_spec::{Descriptor, Digest, ImageIndex, Manifest, RawManifest, Reference, media_type};
use hoist_store::Store;
use serde::Serialize;

use crate::ArchiveError;

/// One image to save, with the names to record for it (empty when it was named by ID).
#[derive(Debug, Clone)]
pub struct SaveImage {
    pub id: Digest,
    pub manifest: Digest,
    pub tags: Vec<Reference>,
}

/// Progress of a save, for a front end to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveEvent {
    Blob { digest: Digest, size: u64 },
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

const BLOCK: u64 = 512;

/// Writes a tar without buffering blob bodies, so the kernel can copy store files into `out`.
struct TarOut<'a> {
    out: &'a mut File,
    mtime: u64,
}

impl TarOut<'_> {
    fn header(&mut self, path: &str, size: u64, kind: tar::EntryType, mode: u32) -> io::Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_path(path)?;
        h.set_size(size);
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_mtime(self.mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        self.out.write_all(h.as_bytes())
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rest = (BLOCK - size % BLOCK) % BLOCK;
        self.out
            .write_all(&[0u8; 512][..usize::try_from(rest).unwrap_or(0)])
    }

    fn dir(&mut self, path: &str) -> io::Result<()> {
        self.header(path, 0, tar::EntryType::Directory, 0o755)
    }

    fn bytes(&mut self, path: &str, data: &[u8]) -> io::Result<()> {
        self.header(path, data.len() as u64, tar::EntryType::Regular, 0o644)?;
        self.out.write_all(data)?;
        self.pad(data.len() as u64)
    }

    fn file(&mut self, path: &str, src: &mut File, size: u64) -> io::Result<()> {
        self.header(path, size, tar::EntryType::Regular, 0o644)?;
        let copied = io::copy(&mut io::Read::take(&mut *src, size), self.out)?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{path}: blob shorter than recorded"),
            ));
        }
        self.pad(size)
    }

    fn finish(self) -> io::Result<()> {
        self.out.write_all(&[0u8; 1024])?;
        self.out.flush()
    }
}

/// Writes `images` from `store` as a docker-archive with an OCI layout inside.
pub fn save(
    store: &Store,
    images: &[SaveImage],
    out: &mut File,
    progress: &mut dyn FnMut(SaveEvent),
) -> Result<(), ArchiveError> {
    let mut tar = TarOut { out, mtime: 0 };
    let mut written: HashSet<Digest> = HashSet::new();
    let mut docker_manifest = Vec::new();
    let mut index_entries = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    tar.dir("blobs/").map_err(ArchiveError::Write)?;
    tar.dir("blobs/sha256/").map_err(ArchiveError::Write)?;

    let mut write_blob = |tar: &mut TarOut<'_>, digest: &Digest| -> Result<(), ArchiveError> {
        if !written.insert(digest.clone()) {
            return Ok(());
        }
        let mut file = store.open_blob(digest)?;
        let size = file.metadata().map_err(ArchiveError::Read)?.len();
        tar.file(&format!("blobs/sha256/{}", digest.hex()), &mut file, size)
            .map_err(ArchiveError::Write)?;
        progress(SaveEvent::Blob {
            digest: digest.clone(),
            size,
        });
        Ok(())
    };

    for image in images {
        let manifest_bytes = store.read_blob(&image.manifest)?;
        let raw = RawManifest::parse(manifest_bytes, None).map_err(|e| ArchiveError::BadJson {
            path: format!("blob {}", image.manifest),
            message: e.to_string(),
        })?;
        let Manifest::Image(m) = &raw.manifest else {
            return Err(ArchiveError::BadJson {
                path: format!("blob {}", image.manifest),
                message: "expected an image manifest".to_owned(),
            });
        };
        for layer in &m.layers {
            write_blob(&mut tar, &layer.digest)?;
        }
        write_blob(&mut tar, &m.config.digest)?;
        write_blob(&mut tar, &image.manifest)?;

        let layer_paths: Vec<String> = m
            .layers
            .iter()
            .map(|l| format!("blobs/sha256/{}", l.digest.hex()))
            .collect();
        docker_manifest.push(DockerManifestEntry {
            config: format!("blobs/sha256/{}", m.config.digest.hex()),
            repo_tags: (!image.tags.is_empty())
                .then(|| image.tags.iter().map(Reference::familiar).collect()),
            layers: layer_paths,
        });
        let desc = Descriptor::new(
            raw.media_type.clone(),
            raw.digest.clone(),
            raw.bytes.len() as u64,
        );
        if image.tags.is_empty() {
            index_entries.push(desc.clone());
        }
        for tag in &image.tags {
            let mut d = desc.clone();
            d.annotations
                .insert("io.containerd.image.name".to_owned(), tag.to_string());
            if let Some(t) = tag.tag() {
                d.annotations
                    .insert("org.opencontainers.image.ref.name".to_owned(), t.to_owned());
                if let Some(top) = m.layers.last() {
                    repositories
                        .entry(tag.familiar_repository())
                        .or_default()
                        .insert(t.to_owned(), top.digest.hex().to_owned());
                }
            }
            index_entries.push(d);
        }
    }
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(media_type::OCI_INDEX.to_owned()),
        artifact_type: None,
        manifests: index_entries,
        subject: None,
        annotations: BTreeMap::new(),
    };
    let json = |v: &dyn erased::Json| v.to_vec();
    tar.bytes("index.json", &json(&index))
        .map_err(ArchiveError::Write)?;
    tar.bytes("manifest.json", &json(&docker_manifest))
        .map_err(ArchiveError::Write)?;
    tar.bytes("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(ArchiveError::Write)?;
    if !repositories.is_empty() {
        tar.bytes("repositories", &json(&repositories))
            .map_err(ArchiveError::Write)?;
    }
    tar.finish().map_err(ArchiveError::Write)
}

mod erased {
    //! A tiny object-safe wrapper so one closure serialises values of different types.
    pub(super) trait Json {
        fn to_vec(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_vec(&self) -> Vec<u8> {
            hoist_spec::manifest::to_json_bytes(self)
        }
    }
}
