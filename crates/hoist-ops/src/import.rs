//! `import`: a root filesystem tarball (from a file, stdin or an http(s) URL; plain, gzip, zstd, xz or
//! bzip2) becomes a one-layer image, as Docker's `ImportImage` makes it.
//!
//! Everything the caller can get wrong (the name, the platform, the `--change` instructions) is checked
//! before a byte is read. The tarball then streams once: into the store's ingest area as received (gzip and
//! zstd stay compressed; xz and bzip2, which no layer media type names, are decompressed on the way) while
//! [`hoist_layer::LayerAnalyzer`] computes the diff ID and Docker's size and refuses unsafe or truncated
//! tars. Only a layer that checked out is committed, with its config (Docker's field set, history comment
//! `Imported from -` or the URL), a synthesized OCI manifest, the image record and the tag.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use hoist_archive::record::{image_record, synthesize_manifest};
use hoist_layer::LayerAnalyzer;
use hoist_layer::compression::{BUFFER_SIZE, Compression, Decompressor, sniffed_reader};
use hoist_spec::platform::PlatformError;
use hoist_spec::{ContainerConfig, Digest, Platform, RawConfig, Reference};
use hoist_store::{LayerRecord, PendingBlob, StoreError};
use serde_json::{Map, Value};

use crate::change::apply_changes;
use crate::{Hoist, OpsError};

/// Where the tarball comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportSource {
    /// A file on this machine (Docker's CLI sends it as the request body, so the history says `-`).
    File(PathBuf),
    /// The `stdin` reader given to [`import`].
    Stdin,
    /// An http(s) URL; without a scheme, `http://` is assumed as Docker does.
    Url(String),
}

/// `import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    pub source: ImportSource,
    /// `REPOSITORY[:TAG]` to tag the image with (`:latest` when no tag is given).
    pub reference: Option<String>,
    /// `--change` instructions (see [`crate::change::apply_changes`]).
    pub changes: Vec<String>,
    /// `--message`: the commit message; Docker's default is `Imported from <source>`.
    pub message: Option<String>,
    /// `--platform os[/arch[/variant]]`; the host platform when absent.
    pub platform: Option<String>,
}

/// Imports the tarball `opts.source` names as a new image and returns its ID.
pub fn import(
    hoist: &Hoist,
    opts: ImportOptions,
    stdin: &mut dyn Read,
) -> Result<Digest, OpsError> {
    let tag = opts.reference.as_deref().map(import_target).transpose()?;
    let platform = match opts.platform.as_deref() {
        Some(p) => Platform::parse(p).map_err(platform_error)?,
        None => Platform::host(),
    };
    let mut container_config = ContainerConfig::default();
    apply_changes(&mut container_config, &opts.changes)?;

    let (layer, pending, source_shown) = match &opts.source {
        ImportSource::Stdin => {
            let (layer, pending) = ingest_layer(hoist, stdin, "-")?;
            (layer, pending, "-".to_owned())
        }
        ImportSource::File(path) => {
            let name = path.display().to_string();
            let file = File::open(path).map_err(|error| OpsError::Input {
                source_name: name.clone(),
                error,
            })?;
            let (layer, pending) = ingest_layer(hoist, file, &name)?;
            (layer, pending, "-".to_owned())
        }
        ImportSource::Url(url) => {
            let body = http_get(url)?;
            let (layer, pending) = ingest_layer(hoist, body, url)?;
            (layer, pending, url.clone())
        }
    };
    let message = opts
        .message
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("Imported from {source_shown}"));
    let config = image_config(
        &container_config,
        &platform,
        &message,
        &layer.diff_id,
        chrono::Utc::now(),
    )?;
    let manifest = synthesize_manifest(&config, std::iter::once(&layer));

    let guard = hoist.store.write_guard()?;
    pending.commit(Some(&layer.blob), Some(layer.blob_size))?;
    hoist.store.put_blob(&config.bytes)?;
    hoist.store.put_blob(&manifest.bytes)?;
    let record = image_record(&config, &manifest, vec![layer], crate::now_nanos());
    hoist.store.put_image(&guard, &record)?;
    if let Some(tag) = tag {
        hoist.store.set_tag(&tag.to_string(), &record.id)?;
    }
    Ok(record.id)
}

/// The name to tag with, normalised with `:latest`; a digest is refused as Docker refuses it.
fn import_target(input: &str) -> Result<Reference, OpsError> {
    let reference = Reference::parse_normalized(input)
        .map_err(|e| OpsError::InvalidReference(e.to_string()))?;
    if reference.digest().is_some() {
        return Err(OpsError::InvalidReference(
            "cannot import digest reference".to_owned(),
        ));
    }
    Ok(reference.with_default_tag())
}

fn platform_error(e: PlatformError) -> OpsError {
    // `OpsError::InvalidPlatform` already says "invalid platform".
    OpsError::InvalidPlatform(match e {
        PlatformError::Malformed(input) => format!("{input:?}: expected os[/arch[/variant]]"),
        PlatformError::Unknown { input, part } => {
            format!("{input:?}: unknown operating system or architecture {part:?}")
        }
    })
}

/// Starts the download; only a 2xx answer is a tarball.
fn http_get(url: &str) -> Result<Box<dyn Read>, OpsError> {
    let http_error = |message: String| OpsError::Http {
        url: url.to_owned(),
        message,
    };
    let address = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    let response = ureq::get(&address).call().map_err(|e| match e {
        ureq::Error::StatusCode(code) => http_error(status_text(code)),
        other => http_error(other.to_string()),
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(http_error(status_text(status.as_u16())));
    }
    Ok(Box::new(response.into_body().into_reader()))
}

fn status_text(code: u16) -> String {
    match ureq::http::StatusCode::from_u16(code) {
        Ok(status) => format!("unexpected HTTP status {status}"),
        Err(_) => format!("unexpected HTTP status {code}"),
    }
}

/// A reader that remembers its own failure, so that an error surfacing through a decompressor can be told
/// apart from corrupt compressed data.
struct Tracked<'a, R> {
    inner: R,
    failure: &'a Cell<Option<io::Error>>,
}

impl<R: Read> Read for Tracked<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            let copy = io::Error::new(e.kind(), e.to_string());
            self.failure.set(Some(e));
            copy
        })
    }
}

/// Streams the tarball into the store's ingest area and analyses it. Returns the layer and its blob, still
/// invisible; a blob that is not a safe, complete layer tar is dropped (and its temporary file with it).
fn ingest_layer(
    hoist: &Hoist,
    source: impl Read,
    source_name: &str,
) -> Result<(LayerRecord, PendingBlob), OpsError> {
    let failure = Cell::new(None);
    let input_error = |error: io::Error| OpsError::Input {
        source_name: source_name.to_owned(),
        error,
    };
    let tracked = Tracked {
        inner: source,
        failure: &failure,
    };
    let (received, buffered) = sniffed_reader(tracked).map_err(input_error)?;
    let mut ingest = hoist.store.ingest()?;
    let mut analyzer = LayerAnalyzer::new();
    // xz and bzip2 have no layer media type: store what they decompress to.
    let stored = match received {
        Compression::Xz | Compression::Bzip2 => Compression::None,
        other => other,
    };
    let copied = if stored == received {
        copy_into(buffered, &mut ingest, &mut analyzer)
    } else {
        let decoder = Decompressor::new(buffered, received).map_err(input_error)?;
        copy_into(decoder, &mut ingest, &mut analyzer)
    };
    match copied {
        Ok(()) => {}
        Err(Copy::Write(source)) => {
            return Err(StoreError::Io {
                action: "write",
                path: ingest.temp_path().to_owned(),
                source,
            }
            .into());
        }
        Err(Copy::Read(error)) => {
            return Err(match failure.take() {
                Some(error) => input_error(error),
                None => OpsError::BadLayer {
                    source_name: source_name.to_owned(),
                    problem: format!("corrupt {} stream: {error}", received.name()),
                },
            });
        }
    }
    let pending = ingest.finish()?;
    let facts = analyzer.finish();
    let bad = |problem: String| OpsError::BadLayer {
        source_name: source_name.to_owned(),
        problem,
    };
    if let Some(problem) = facts.problem() {
        return Err(bad(problem));
    }
    if facts.compression != stored {
        // A compressed stream inside xz or bzip2: the blob would not be the tar its media type says.
        return Err(bad(format!(
            "{} data inside a {} stream is not a layer tar",
            facts.compression.name(),
            received.name()
        )));
    }
    let media_type = stored
        .oci_layer_media_type()
        .ok_or_else(|| bad(format!("{} layers cannot be stored", stored.name())))?;
    let layer = LayerRecord {
        diff_id: facts.diff_id.clone(),
        blob: pending.digest().clone(),
        media_type: media_type.to_owned(),
        blob_size: pending.size(),
        size: facts.content_size(),
    };
    Ok((layer, pending))
}

enum Copy {
    Read(io::Error),
    Write(io::Error),
}

fn copy_into(
    mut reader: impl Read,
    ingest: &mut impl Write,
    analyzer: &mut LayerAnalyzer,
) -> Result<(), Copy> {
    let mut buf = vec![0u8; BUFFER_SIZE];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Copy::Read(e)),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        ingest.write_all(chunk).map_err(Copy::Write)?;
        // The analyzer records problems in its facts; writing to it never fails.
        let _ = analyzer.write_all(chunk);
    }
}

/// The image config Docker's `ImportImage` writes: keys sorted as Docker's encoder sorts them, the
/// container config with Docker's full field set, one history entry carrying the message.
fn image_config(
    container_config: &ContainerConfig,
    platform: &Platform,
    message: &str,
    diff_id: &Digest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<RawConfig, OpsError> {
    let created = hoist_render::gotime::rfc3339_nano(&now);
    let mut history = Map::new();
    history.insert("created".to_owned(), Value::from(created.clone()));
    history.insert("comment".to_owned(), Value::from(message));
    let mut rootfs = Map::new();
    rootfs.insert("type".to_owned(), Value::from("layers"));
    rootfs.insert(
        "diff_ids".to_owned(),
        Value::from(vec![diff_id.to_string()]),
    );

    let mut image = Map::new();
    image.insert(
        "architecture".to_owned(),
        Value::from(platform.architecture.clone()),
    );
    image.insert("comment".to_owned(), Value::from(message));
    image.insert(
        "config".to_owned(),
        crate::docker_config::docker_container_config(container_config),
    );
    image.insert("created".to_owned(), Value::from(created));
    image.insert(
        "history".to_owned(),
        Value::Array(vec![Value::Object(history)]),
    );
    image.insert("os".to_owned(), Value::from(platform.os.clone()));
    image.insert("rootfs".to_owned(), Value::Object(rootfs));
    if let Some(variant) = &platform.variant {
        image.insert("variant".to_owned(), Value::from(variant.clone()));
    }
    // Serialising a `Value` cannot fail; were it to, the parse below reports it.
    let bytes = serde_json::to_vec(&Value::Object(image)).unwrap_or_default();
    RawConfig::parse(bytes).map_err(|e| OpsError::Damaged {
        id: e.digest.clone(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::net::TcpListener;
    use std::thread;

    use hoist_layer::LayerBuilder;
    use hoist_spec::media_type;
    use tempfile::TempDir;

    use super::*;
    use crate::Settings;

    fn open_store() -> (TempDir, Hoist) {
        let dir = tempfile::tempdir().unwrap();
        let hoist = Hoist::open(Settings {
            root: dir.path().join("store"),
            ..Settings::default()
        })
        .unwrap();
        (dir, hoist)
    }

    /// A small root filesystem: 3 + 5 bytes of file content.
    fn rootfs_tar() -> Vec<u8> {
        LayerBuilder::new()
            .dir("etc", 0o755)
            .file("etc/hello", "hi!", 0o644)
            .file("bin/app", "#!/sh", 0o755)
            .build()
    }

    fn options(source: ImportSource) -> ImportOptions {
        ImportOptions {
            source,
            reference: None,
            changes: Vec::new(),
            message: None,
            platform: None,
        }
    }

    fn from_stdin(hoist: &Hoist, opts: ImportOptions, bytes: &[u8]) -> Result<Digest, OpsError> {
        import(hoist, opts, &mut Cursor::new(bytes.to_vec()))
    }

    fn config_of(hoist: &Hoist, id: &Digest) -> (RawConfig, Value) {
        let bytes = hoist.store.read_blob(id).unwrap();
        let json: Value = serde_json::from_slice(&bytes).unwrap();
        (RawConfig::parse(bytes).unwrap(), json)
    }

    fn blob_count(hoist: &Hoist) -> usize {
        std::fs::read_dir(hoist.store.root().join("blobs").join("sha256"))
            .unwrap()
            .count()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = hoist_layer::compression::gzip_writer(Vec::new(), 6);
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        let mut encoder = hoist_layer::compression::zstd_writer(Vec::new(), 3).unwrap();
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 1);
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn bzip2(data: &[u8]) -> Vec<u8> {
        let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn imports_a_tar_from_stdin_with_changes_and_a_tag() {
        let (_dir, hoist) = open_store();
        let tar = rootfs_tar();
        let opts = ImportOptions {
            reference: Some("example/app".to_owned()),
            changes: vec![
                "CMD ['nginx', '-g', 'daemon off;']".to_owned(),
                "ENV A=1".to_owned(),
                "EXPOSE 80".to_owned(),
            ],
            ..options(ImportSource::Stdin)
        };
        let id = from_stdin(&hoist, opts, &tar).unwrap();

        let record = hoist.store.image(&id).unwrap().unwrap();
        assert_eq!(record.layers.len(), 1);
        let layer = &record.layers[0];
        assert_eq!(layer.diff_id, Digest::of(&tar));
        assert_eq!(layer.blob, Digest::of(&tar));
        assert_eq!(layer.blob_size, tar.len() as u64);
        assert_eq!(layer.media_type, media_type::OCI_LAYER);
        assert_eq!(layer.size, 8);
        assert_eq!(record.size, 8);
        assert_eq!(hoist.store.read_blob(&layer.blob).unwrap(), tar);
        assert_eq!(
            hoist
                .store
                .tag_target("docker.io/example/app:latest")
                .unwrap(),
            Some(id.clone())
        );

        let (config, json) = config_of(&hoist, &id);
        assert_eq!(config.digest, id);
        let c = config.config.config.as_ref().unwrap();
        assert_eq!(
            c.cmd.as_deref(),
            Some(
                &[
                    "/bin/sh".to_owned(),
                    "-c".to_owned(),
                    "['nginx', '-g', 'daemon off;']".to_owned()
                ][..]
            )
        );
        assert_eq!(c.env.as_deref(), Some(&["A=1".to_owned()][..]));
        assert_eq!(config.config.comment.as_deref(), Some("Imported from -"));
        assert_eq!(config.config.history.len(), 1);
        assert_eq!(
            config.config.history[0].comment.as_deref(),
            Some("Imported from -")
        );
        assert_eq!(config.config.history[0].created, config.config.created);
        assert_eq!(config.config.rootfs.diff_ids, vec![Digest::of(&tar)]);
        let host = Platform::host();
        assert_eq!(
            (
                config.config.os.as_str(),
                config.config.architecture.as_str()
            ),
            (host.os.as_str(), host.architecture.as_str())
        );
        assert_eq!(
            record.created,
            hoist_archive::record::parse_rfc3339_nanos(config.config.created.as_deref().unwrap())
        );

        // The bytes look like Docker's: sorted top-level keys, the whole container config field set.
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "architecture",
            "comment",
            "config",
            "created",
            "history",
            "os",
            "rootfs",
        ];
        if host.variant.is_some() {
            expected.push("variant");
        }
        assert_eq!(keys, expected);
        let fields: Vec<&str> = json["config"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            [
                "Hostname",
                "Domainname",
                "User",
                "AttachStdin",
                "AttachStdout",
                "AttachStderr",
                "ExposedPorts",
                "Tty",
                "OpenStdin",
                "StdinOnce",
                "Env",
                "Cmd",
                "Image",
                "Volumes",
                "WorkingDir",
                "Entrypoint",
                "OnBuild",
                "Labels"
            ]
        );
        assert_eq!(json["config"]["Hostname"], "");
        assert_eq!(json["config"]["Tty"], false);
        assert_eq!(json["config"]["Entrypoint"], Value::Null);
        assert_eq!(
            json["config"]["ExposedPorts"],
            serde_json::json!({"80/tcp": {}})
        );
        assert!(json.get("docker_version").is_none());
    }

    #[test]
    fn the_message_replaces_the_default_comment() {
        let (_dir, hoist) = open_store();
        let opts = ImportOptions {
            message: Some("my msg".to_owned()),
            ..options(ImportSource::Stdin)
        };
        let id = from_stdin(&hoist, opts, &rootfs_tar()).unwrap();
        let (config, _) = config_of(&hoist, &id);
        assert_eq!(config.config.comment.as_deref(), Some("my msg"));
        assert_eq!(config.config.history[0].comment.as_deref(), Some("my msg"));
        // Untagged: a dangling image.
        assert!(hoist.store.tags_of(&id).unwrap().is_empty());
    }

    #[test]
    fn gzip_and_zstd_are_stored_as_received() {
        let tar = rootfs_tar();
        for (bytes, media) in [
            (gzip(&tar), media_type::OCI_LAYER_GZIP),
            (zstd(&tar), media_type::OCI_LAYER_ZSTD),
        ] {
            let (_dir, hoist) = open_store();
            let id = from_stdin(&hoist, options(ImportSource::Stdin), &bytes).unwrap();
            let layer = hoist.store.image(&id).unwrap().unwrap().layers.remove(0);
            assert_eq!(layer.media_type, media);
            assert_eq!(layer.blob, Digest::of(&bytes));
            assert_eq!(layer.blob_size, bytes.len() as u64);
            assert_eq!(layer.diff_id, Digest::of(&tar));
            assert_eq!(layer.size, 8);
            assert_eq!(hoist.store.read_blob(&layer.blob).unwrap(), bytes);
            // The synthesized manifest names the stored blob with its media type.
            let record = hoist.store.image(&id).unwrap().unwrap();
            let manifest: Value =
                serde_json::from_slice(&hoist.store.read_blob(&record.manifest).unwrap()).unwrap();
            assert_eq!(manifest["layers"][0]["mediaType"], media);
            assert_eq!(manifest["layers"][0]["digest"], layer.blob.to_string());
            assert_eq!(manifest["config"]["digest"], id.to_string());
        }
    }

    #[test]
    fn xz_and_bzip2_are_stored_decompressed() {
        let tar = rootfs_tar();
        for bytes in [xz(&tar), bzip2(&tar)] {
            let (_dir, hoist) = open_store();
            let id = from_stdin(&hoist, options(ImportSource::Stdin), &bytes).unwrap();
            let layer = hoist.store.image(&id).unwrap().unwrap().layers.remove(0);
            assert_eq!(layer.media_type, media_type::OCI_LAYER);
            assert_eq!(layer.blob, Digest::of(&tar));
            assert_eq!(layer.diff_id, Digest::of(&tar));
            assert_eq!(layer.blob_size, tar.len() as u64);
            assert_eq!(hoist.store.read_blob(&layer.blob).unwrap(), tar);
        }
    }

    #[test]
    fn a_hostile_tar_is_refused_and_nothing_is_stored() {
        let (_dir, hoist) = open_store();
        let hostile = LayerBuilder::new().file("../x", "escape", 0o644).build();
        let opts = ImportOptions {
            reference: Some("hostile".to_owned()),
            ..options(ImportSource::Stdin)
        };
        match from_stdin(&hoist, opts, &gzip(&hostile)) {
            Err(OpsError::BadLayer {
                source_name,
                problem,
            }) => {
                assert_eq!(source_name, "-");
                assert!(problem.contains("../x"), "{problem}");
            }
            other => panic!("hostile tar accepted: {other:?}"),
        }
        assert!(hoist.store.list_images().unwrap().is_empty());
        assert_eq!(
            hoist
                .store
                .tag_target("docker.io/library/hostile:latest")
                .unwrap(),
            None
        );
        assert_eq!(blob_count(&hoist), 0);
    }

    #[test]
    fn truncated_or_corrupt_input_is_refused() {
        let tar = rootfs_tar();
        let gz = gzip(&tar);
        let xzed = xz(&tar);
        let junk: Vec<u8> = (0u8..100)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect();
        for (name, bytes) in [
            ("truncated gzip", &gz[..gz.len() / 2]),
            ("truncated xz", &xzed[..xzed.len() / 2]),
            ("truncated tar", &tar[..700]),
            ("not a tar", &junk[..]),
        ] {
            let (_dir, hoist) = open_store();
            let result = from_stdin(&hoist, options(ImportSource::Stdin), bytes);
            assert!(
                matches!(result, Err(OpsError::BadLayer { .. })),
                "{name}: {result:?}"
            );
            assert!(hoist.store.list_images().unwrap().is_empty(), "{name}");
            assert_eq!(blob_count(&hoist), 0, "{name}");
        }
    }

    #[test]
    fn empty_input_is_an_empty_layer_as_in_docker() {
        // Docker 20.10 and moby's current importers both accept zero bytes (Go's tar reader sees an empty
        // archive); so does an empty tar.
        for bytes in [Vec::new(), LayerBuilder::new().build()] {
            let (_dir, hoist) = open_store();
            let id = from_stdin(&hoist, options(ImportSource::Stdin), &bytes).unwrap();
            let layer = hoist.store.image(&id).unwrap().unwrap().layers.remove(0);
            assert_eq!(layer.diff_id, Digest::of(&bytes));
            assert_eq!(layer.size, 0);
        }
    }

    #[test]
    fn imports_from_a_file() {
        let (dir, hoist) = open_store();
        let path = dir.path().join("rootfs.tar.gz");
        std::fs::write(&path, gzip(&rootfs_tar())).unwrap();
        let id = import(&hoist, options(ImportSource::File(path)), &mut io::empty()).unwrap();
        let (config, _) = config_of(&hoist, &id);
        assert_eq!(config.config.comment.as_deref(), Some("Imported from -"));

        let missing = dir.path().join("missing.tar");
        let err = import(
            &hoist,
            options(ImportSource::File(missing.clone())),
            &mut io::empty(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, OpsError::Input { source_name, .. } if *source_name == missing.display().to_string()),
            "{err:?}"
        );
    }

    /// Serves one HTTP request with `status` and `body`, on a port of 127.0.0.1.
    fn serve_once(status: &'static str, body: Vec<u8>) -> (String, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&body).unwrap();
        });
        (format!("http://{address}/rootfs.tar"), server)
    }

    #[test]
    fn imports_from_a_url() {
        let (_dir, hoist) = open_store();
        let tar = rootfs_tar();
        let (url, server) = serve_once("200 OK", gzip(&tar));
        let id = import(
            &hoist,
            options(ImportSource::Url(url.clone())),
            &mut io::empty(),
        )
        .unwrap();
        server.join().unwrap();
        let (config, _) = config_of(&hoist, &id);
        assert_eq!(config.config.comment, Some(format!("Imported from {url}")));
        assert_eq!(config.config.rootfs.diff_ids, vec![Digest::of(&tar)]);
    }

    #[test]
    fn a_url_that_answers_an_error_status_is_refused() {
        let (_dir, hoist) = open_store();
        let (url, server) = serve_once("404 Not Found", b"no such file".to_vec());
        let err = import(
            &hoist,
            options(ImportSource::Url(url.clone())),
            &mut io::empty(),
        )
        .unwrap_err();
        server.join().unwrap();
        match err {
            OpsError::Http {
                url: failed,
                message,
            } => {
                assert_eq!(failed, url);
                assert!(message.contains("404"), "{message}");
            }
            other => panic!("expected an HTTP error, got {other:?}"),
        }
        assert!(hoist.store.list_images().unwrap().is_empty());
    }

    /// Stdin that records whether anything read it.
    struct Untouched(bool);

    impl Read for Untouched {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            self.0 = true;
            Ok(0)
        }
    }

    #[test]
    fn bad_arguments_fail_before_any_input_is_read() {
        let (_dir, hoist) = open_store();
        let cases = [
            ImportOptions {
                reference: Some("Bad".to_owned()),
                ..options(ImportSource::Stdin)
            },
            ImportOptions {
                reference: Some(format!("a@{}", Digest::of(b"x"))),
                ..options(ImportSource::Stdin)
            },
            ImportOptions {
                platform: Some("linux/sparc".to_owned()),
                ..options(ImportSource::Stdin)
            },
            ImportOptions {
                changes: vec!["RUN echo".to_owned()],
                ..options(ImportSource::Stdin)
            },
        ];
        let mut messages = Vec::new();
        for opts in cases {
            let mut stdin = Untouched(false);
            let err = import(&hoist, opts, &mut stdin).unwrap_err();
            assert!(!stdin.0, "{err}: stdin was read");
            messages.push(err.to_string());
        }
        assert_eq!(
            messages,
            [
                "invalid reference format: repository name (library/Bad) must be lowercase",
                "cannot import digest reference",
                r#"invalid platform: "linux/sparc": unknown operating system or architecture "sparc""#,
                "RUN is not a valid change command",
            ]
        );
    }

    #[test]
    fn the_platform_sets_os_architecture_and_variant() {
        let (_dir, hoist) = open_store();
        let opts = ImportOptions {
            platform: Some("linux/arm/v6".to_owned()),
            ..options(ImportSource::Stdin)
        };
        let id = from_stdin(&hoist, opts, &rootfs_tar()).unwrap();
        let (config, json) = config_of(&hoist, &id);
        assert_eq!(config.config.architecture, "arm");
        assert_eq!(config.config.variant.as_deref(), Some("v6"));
        assert_eq!(
            json.as_object()
                .unwrap()
                .keys()
                .next_back()
                .map(String::as_str),
            Some("variant")
        );
    }

    #[test]
    fn a_tag_moves_to_the_new_import() {
        let (_dir, hoist) = open_store();
        let named = |message: &str| ImportOptions {
            reference: Some("app:v1".to_owned()),
            message: Some(message.to_owned()),
            ..options(ImportSource::Stdin)
        };
        let first = from_stdin(&hoist, named("one"), &rootfs_tar()).unwrap();
        let second = from_stdin(&hoist, named("two"), &rootfs_tar()).unwrap();
        assert_ne!(first, second);
        assert_eq!(
            hoist.store.tag_target("docker.io/library/app:v1").unwrap(),
            Some(second)
        );
        // Both share the one layer blob.
        assert_eq!(hoist.store.list_images().unwrap().len(), 2);
    }
}
