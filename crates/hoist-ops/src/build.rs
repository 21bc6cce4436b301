//! `build`: opens the context, reads the Dockerfile, hands both to `hoist-build` with base images coming
//! from the store or a pull, then tags the result. Thin on purpose: the builder is `hoist-build`.

use std::path::PathBuf;
use std::sync::Arc;

pub use hoist_build::cache_io::CacheLocation;
use hoist_build::{BaseImages, BuildContext, BuildError};
pub use hoist_build::{BuildEvent, BuildOptions, ContextSource, NamedContext};
use hoist_spec::{Platform, RawConfig, Reference};
use hoist_store::ImageRecord;

use crate::pull::{PullEvents, PullOptions};
use crate::{Hoist, OpsError};

/// Where the Dockerfile comes from.
#[derive(Debug, Clone)]
pub enum DockerfileSource {
    /// A path relative to the context (`-f Dockerfile.prod`) or absolute.
    Path(String),
    /// Text read by the caller (`-f -`, or `hoist build - < Dockerfile`).
    Text(String),
}

/// `hoist build`'s inputs, resolved by the CLI.
#[derive(Debug)]
pub struct BuildRequest {
    pub context: ContextSource,
    pub dockerfile: DockerfileSource,
    /// `-t`, validated here.
    pub tags: Vec<String>,
    pub options: BuildOptions,
}

/// What `build` made.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    pub image: ImageRecord,
    /// The tags set, normalised (`docker.io/library/app:1.0`).
    pub tags: Vec<Reference>,
    pub warnings: Vec<String>,
}

/// Checks `-t` values before any work, as Docker does.
pub fn parse_tags(tags: &[String]) -> Result<Vec<Reference>, OpsError> {
    tags.iter()
        .map(|t| {
            let reference =
                Reference::parse_normalized(t).map_err(|e| OpsError::InvalidTarget {
                    input: t.clone(),
                    message: e.to_string(),
                })?;
            if reference.digest().is_some() {
                return Err(OpsError::TagWithDigest);
            }
            Ok(reference.with_default_tag())
        })
        .collect()
}

/// Runs a build and tags the image. A failed build tags nothing and stores no image.
pub fn build(
    hoist: &Hoist,
    request: BuildRequest,
    progress: &(dyn Fn(BuildEvent) + Sync),
) -> Result<BuildOutcome, OpsError> {
    let platform = request.options.platform.clone();
    let mut outcomes = build_for(hoist, request, &[platform], progress, true)?;
    outcomes
        .pop()
        .ok_or_else(|| OpsError::Interrupted("the build made no image".to_owned()))
}

/// Builds the same Dockerfile and context once per platform (`--platform a,b`); tags nothing, since a
/// tag in the store names one image: the caller pushes an index.
pub fn build_platforms(
    hoist: &Hoist,
    request: BuildRequest,
    platforms: &[hoist_spec::Platform],
    progress: &(dyn Fn(BuildEvent) + Sync),
) -> Result<Vec<BuildOutcome>, OpsError> {
    let platforms: Vec<Option<hoist_spec::Platform>> =
        platforms.iter().cloned().map(Some).collect();
    build_for(hoist, request, &platforms, progress, false)
}

fn build_for(
    hoist: &Hoist,
    request: BuildRequest,
    platforms: &[Option<hoist_spec::Platform>],
    progress: &(dyn Fn(BuildEvent) + Sync),
    tag: bool,
) -> Result<Vec<BuildOutcome>, OpsError> {
    let tags = parse_tags(&request.tags)?;
    let (scratch, context, name, text) = open_context(hoist, request.context, &request.dockerfile)?;
    let mut options = request.options;
    // Registry caches travel as directories: fetched before the build, pushed after it.
    let cache_dirs = tempfile::Builder::new()
        .prefix(".tmp-cache-")
        .tempdir_in(&scratch)
        .map_err(|error| OpsError::Input {
            source_name: scratch.display().to_string(),
            error,
        })?;
    let mut cache_from = Vec::new();
    for (index, location) in options.cache_from.iter().enumerate() {
        match location {
            CacheLocation::Registry(name) => {
                let dir = cache_dirs.path().join(format!("from-{index}"));
                match crate::build_cache::fetch(hoist, name, &dir)? {
                    crate::build_cache::Fetched::Directory => {
                        cache_from.push(CacheLocation::Local(dir));
                    }
                    // An image built with --cache-to type=inline carries its records in its config.
                    crate::build_cache::Fetched::Image => {
                        let reference = Reference::parse_normalized(name)
                            .map_err(|e| OpsError::InvalidReference(e.to_string()))?
                            .with_default_tag()
                            .to_string();
                        let platform = options.platform.clone().unwrap_or_else(Platform::host);
                        let image = StoreOrPull { hoist }
                            .resolve(&reference, &platform, true)
                            .map_err(OpsError::NotFound)?;
                        hoist_build::cache_io::import_inline(&hoist.store, &image)?;
                    }
                    crate::build_cache::Fetched::Missing => {}
                }
            }
            local => cache_from.push(local.clone()),
        }
    }
    options.cache_from = cache_from;
    let mut pushes = Vec::new();
    for (index, location) in options.cache_to.iter_mut().enumerate() {
        if let CacheLocation::Registry(name) = location {
            let dir = cache_dirs.path().join(format!("to-{index}"));
            pushes.push((dir.clone(), name.clone()));
            *location = CacheLocation::Local(dir);
        }
    }
    // oci-layout:// contexts: the image copied into the store under a temporary tag for this build.
    let mut layout_tags = Vec::new();
    for (name, named) in options.named_contexts.iter_mut() {
        if let NamedContext::OciLayout(path, tag) = named {
            let temp = format!(
                "hoist-build-context/{}:{}",
                name.replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
                &hoist_spec::Digest::of(path.to_string_lossy().as_bytes()).hex()[..12]
            );
            copy_into_store(hoist, path, tag.as_deref(), &temp)?;
            layout_tags.push(temp.clone());
            *named = NamedContext::Image(temp);
        }
    }
    if options.dockerfile_name.is_empty() {
        options.dockerfile_name = display_name(&name);
    }
    options.self_exe = hoist.settings.self_exe.clone();
    if options.storage_driver.is_none() {
        options.storage_driver = hoist
            .settings
            .storage_driver
            .as_deref()
            .and_then(|d| d.parse().ok());
    }
    let mut warnings = Vec::new();
    if let Ok(parsed) = hoist_dockerfile::parse(&text) {
        // UndefinedVar comes from the build itself, which knows the base images' ENV.
        let found: Vec<_> = lint(&context, &parsed, &text)
            .into_iter()
            .filter(|w| w.rule != "UndefinedVar")
            .collect();
        if hoist_dockerfile::check::errors_on_warnings(&parsed)
            && let Some(message) = hoist_dockerfile::check::lint_error(&found)
        {
            return Err(OpsError::Lint(message));
        }
        warnings.extend(found.iter().map(ToString::to_string));
    }
    let bases = StoreOrPull { hoist };
    let mut outcomes = Vec::new();
    for platform in platforms {
        options.platform = platform.clone();
        let result = hoist_build::build(&hoist.store, &context, &text, &options, &bases, progress)?;
        let mut found = warnings.clone();
        found.extend(result.warnings);
        outcomes.push(BuildOutcome {
            image: result.record,
            tags: tags.clone(),
            warnings: found,
        });
    }
    for tag in &layout_tags {
        let _ = hoist.store.remove_tag(
            &Reference::parse_normalized(tag)
                .map(|r| r.with_default_tag().to_string())
                .unwrap_or_default(),
        );
    }
    for (dir, name) in &pushes {
        crate::build_cache::push(hoist, dir, name)?;
    }
    if tag {
        for outcome in &outcomes {
            for name in &tags {
                hoist.store.set_tag(&name.to_string(), &outcome.image.id)?;
            }
        }
    }
    Ok(outcomes)
}

/// Pushes one image per platform by digest, then an OCI index listing them under each tag. Returns the
/// index digest.
pub fn push_index(
    hoist: &Hoist,
    outcomes: &[BuildOutcome],
    platforms: &[hoist_spec::Platform],
    events: &crate::push::PushEvents,
) -> Result<hoist_spec::Digest, OpsError> {
    let runtime = crate::build_cache::runtime()?;
    let client = crate::registry::client(&hoist.settings)?;
    let tags = outcomes.first().map(|o| o.tags.clone()).unwrap_or_default();
    let mut last = None;
    for tag in &tags {
        let mut manifests = Vec::new();
        for (outcome, platform) in outcomes.iter().zip(platforms) {
            let pushed = runtime.block_on(crate::push::push_record(
                hoist,
                &client,
                &outcome.image,
                tag,
                false,
                &crate::push::PushOptionsCli::default(),
                events,
            ))?;
            let mut entry = serde_json::json!({
                "mediaType": hoist_spec::media_type::OCI_MANIFEST,
                "digest": pushed.manifest_digest.to_string(),
                "size": pushed.size,
                "platform": {"architecture": platform.architecture, "os": platform.os},
            });
            if let Some(variant) = &platform.variant {
                entry["platform"]["variant"] = serde_json::Value::from(variant.clone());
            }
            manifests.push(entry);
        }
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": hoist_spec::media_type::OCI_INDEX,
            "manifests": manifests,
        });
        let bytes = serde_json::to_vec(&index).map_err(|e| OpsError::BadManifest(e.to_string()))?;
        let repository = client.repository_of(tag);
        let reference =
            hoist_registry_client::ManifestRef::Tag(tag.tag().unwrap_or("latest").to_owned());
        let digest = runtime.block_on(repository.put_manifest(
            &reference,
            hoist_spec::media_type::OCI_INDEX,
            &bytes,
        ))?;
        last = Some(digest);
    }
    last.ok_or_else(|| {
        OpsError::InvalidReference("tag is needed when pushing to registry".to_owned())
    })
}

/// Copies the image `tag` (a tag or digest; the only image when `None`) of the OCI layout at `path` into
/// the store as `name`.
fn copy_into_store(
    hoist: &Hoist,
    path: &std::path::Path,
    tag: Option<&str>,
    name: &str,
) -> Result<(), OpsError> {
    copy_blocking(
        hoist,
        &crate::copy::Location::OciDir {
            path: path.to_path_buf(),
            name: tag.map(str::to_owned),
        },
        &crate::copy::Location::Store(name.to_owned()),
    )
}

/// `copy` from `source` to `destination`, blocking, without progress.
fn copy_blocking(
    hoist: &Hoist,
    source: &crate::copy::Location,
    destination: &crate::copy::Location,
) -> Result<(), OpsError> {
    let client = crate::registry::client(&hoist.settings)?;
    let events: crate::copy::CopyEvents = Arc::new(|_| {});
    crate::build_cache::runtime()?.block_on(crate::copy::copy(
        hoist,
        &client,
        source,
        destination,
        &crate::copy::CopyOptions::default(),
        &events,
    ))?;
    Ok(())
}

/// BuildKit's checks and hoist's advice over a Dockerfile in its context.
fn lint(
    context: &BuildContext,
    parsed: &hoist_dockerfile::Dockerfile,
    text: &str,
) -> Vec<hoist_dockerfile::check::CheckWarning> {
    let top_level_names = std::fs::read_dir(context.root())
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| !context.is_excluded(name))
                .collect()
        })
        .unwrap_or_default();
    let facts = hoist_dockerfile::check::ContextFacts {
        has_dockerignore: context.ignore_file().is_some(),
        top_level_names,
    };
    let mut found = hoist_dockerfile::check::check(parsed, text, &facts);
    found.extend(hoist_dockerfile::check::check_copy_ignored(
        parsed,
        text,
        context.ignore_patterns(),
    ));
    found.sort_by_key(|w| w.span.line);
    found
}

/// `build --check`: the Dockerfile's findings without building. A Dockerfile that does not parse is an
/// error, as for a build.
pub fn check(hoist: &Hoist, request: BuildRequest) -> Result<Vec<String>, OpsError> {
    let (_, context, name, text) = open_context(hoist, request.context, &request.dockerfile)?;
    let parsed = hoist_dockerfile::parse(&text).map_err(|d| {
        OpsError::Build(BuildError::Parse {
            file: display_name(&name),
            line: d.span.line,
            column: d.span.column,
            message: d.message,
            source_line: d.source_line,
        })
    })?;
    Ok(lint(&context, &parsed, &text)
        .iter()
        .map(ToString::to_string)
        .collect())
}

/// Opens the context under `<root>/build`, reads the Dockerfile and loads its `.dockerignore`. Returns
/// the scratch directory, the context, the Dockerfile's name and its text.
fn open_context(
    hoist: &Hoist,
    source: ContextSource,
    dockerfile: &DockerfileSource,
) -> Result<(PathBuf, BuildContext, String, String), OpsError> {
    let scratch = hoist.settings.root.join("build");
    std::fs::create_dir_all(&scratch).map_err(|error| OpsError::Input {
        source_name: scratch.display().to_string(),
        error,
    })?;
    let mut context = BuildContext::open(source, &scratch).map_err(BuildError::from)?;
    let (name, text) = match dockerfile {
        DockerfileSource::Text(text) => ("Dockerfile".to_owned(), text.clone()),
        DockerfileSource::Path(name) => {
            let bytes = context.read_dockerfile(name).map_err(BuildError::from)?;
            (name.clone(), String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    context.load_ignore(&name).map_err(BuildError::from)?;
    Ok((scratch, context, name, text))
}

/// The Dockerfile's name as messages show it (its file name).
fn display_name(name: &str) -> String {
    PathBuf::from(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.to_owned())
}

/// Base images: the store's when it has the reference for the platform, else pulled.
struct StoreOrPull<'a> {
    hoist: &'a Hoist,
}

impl StoreOrPull<'_> {
    fn stored(&self, reference: &str, platform: &Platform) -> Option<ImageRecord> {
        let found = crate::lookup::find_image(&self.hoist.store, reference).ok()?;
        let record = self.hoist.store.image(&found.id).ok()??;
        let config = RawConfig::parse(self.hoist.store.read_blob(&record.id).ok()?).ok()?;
        let matches = config.config.architecture == platform.architecture
            && config.config.os == platform.os
            && (platform.variant.is_none() || config.config.variant == platform.variant);
        matches.then_some(record)
    }
}

impl std::fmt::Debug for StoreOrPull<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreOrPull")
    }
}

impl BaseImages for StoreOrPull<'_> {
    fn resolve(
        &self,
        reference: &str,
        platform: &Platform,
        always_pull: bool,
    ) -> Result<ImageRecord, String> {
        if !always_pull && let Some(record) = self.stored(reference, platform) {
            return Ok(record);
        }
        let runtime = crate::build_cache::runtime().map_err(|e| e.to_string())?;
        let client = crate::registry::client(&self.hoist.settings).map_err(|e| e.to_string())?;
        let events: PullEvents = Arc::new(|_| {});
        let options = PullOptions {
            platform: Some(platform.clone()),
            all_tags: false,
        };
        let pulled = runtime
            .block_on(crate::pull::pull(
                self.hoist, &client, reference, &options, &events,
            ))
            .map_err(|e| e.to_string())?;
        let id = pulled
            .first()
            .map(|p| p.id.clone())
            .ok_or_else(|| format!("pull access denied for {reference}"))?;
        self.hoist
            .store
            .image(&id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{reference}: not found after pull"))
    }
}

/// Where `-o/--output` sends the result besides (or instead of) the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildOutput {
    /// `type=image` / `type=docker` without `dest`: the image store (the default).
    Store,
    /// `type=image,push=true`, `type=registry`, `--push`: the store, then every tag pushed.
    Push,
    /// `type=local,dest=DIR` (or `-o DIR`): the final root filesystem written into a directory.
    Local(PathBuf),
    /// `type=tar[,dest=FILE]` (or `-o -`): the root filesystem as a tar, to a file or the caller's stream.
    Tar(Option<PathBuf>),
    /// `type=docker,dest=FILE`: a docker-archive `docker load` reads.
    DockerArchive(PathBuf),
    /// `type=oci,dest=FILE`: an OCI archive.
    OciArchive(PathBuf),
}

impl BuildOutput {
    /// Parses one `-o` value, as buildx does (`-o DIR` and `-o -` are shorthands).
    pub fn parse(spec: &str) -> Result<Self, OpsError> {
        let bad = |why: &str| OpsError::InvalidReference(format!("invalid output {spec:?}: {why}"));
        if spec == "-" {
            return Ok(Self::Tar(None));
        }
        if !spec.contains('=') {
            return Ok(Self::Local(PathBuf::from(spec)));
        }
        let mut kind = None;
        let mut dest = None;
        let mut push = false;
        for field in spec.split(',') {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| bad("expected key=value"))?;
            match key {
                "type" => kind = Some(value.to_owned()),
                "dest" => dest = Some(value.to_owned()),
                "push" => push = value == "true",
                // Names, compression and annotations change nothing hoist writes yet.
                "name" | "compression" | "compression-level" | "force-compression"
                | "oci-mediatypes" => {}
                other => return Err(bad(&format!("unknown key {other:?}"))),
            }
        }
        let dest_path = || {
            dest.clone()
                .filter(|d| d != "-")
                .map(PathBuf::from)
                .ok_or_else(|| bad("dest= is required"))
        };
        match kind.as_deref() {
            Some("image") if push => Ok(Self::Push),
            Some("registry") => Ok(Self::Push),
            Some("image") | None => Ok(Self::Store),
            Some("docker") if dest.is_none() => Ok(Self::Store),
            Some("docker") => Ok(Self::DockerArchive(dest_path()?)),
            Some("oci") => Ok(Self::OciArchive(dest_path()?)),
            Some("local") => Ok(Self::Local(dest_path()?)),
            Some("tar") => Ok(Self::Tar(dest.filter(|d| d != "-").map(PathBuf::from))),
            Some(other) => Err(bad(&format!(
                "unknown type {other:?} (image, registry, docker, oci, local, tar)"
            ))),
        }
    }
}

/// Writes the built image where `output` says. `stream` receives a tar for `Tar(None)`.
pub fn write_output(
    hoist: &Hoist,
    outcome: &BuildOutcome,
    output: &BuildOutput,
    stream: &mut dyn std::io::Write,
) -> Result<(), OpsError> {
    let io_error = |path: &std::path::Path| {
        let name = path.display().to_string();
        move |error| OpsError::Input {
            source_name: name,
            error,
        }
    };
    match output {
        BuildOutput::Store | BuildOutput::Push => Ok(()),
        BuildOutput::Tar(None) => write_rootfs(hoist, &outcome.image, stream),
        BuildOutput::Tar(Some(path)) => {
            let mut file = std::fs::File::create(path).map_err(io_error(path))?;
            write_rootfs(hoist, &outcome.image, &mut file)
        }
        BuildOutput::Local(dir) => {
            std::fs::create_dir_all(dir).map_err(io_error(dir))?;
            let mut tar = tempfile::tempfile().map_err(io_error(dir))?;
            write_rootfs(hoist, &outcome.image, &mut tar)?;
            std::io::Seek::rewind(&mut tar).map_err(io_error(dir))?;
            let options = hoist_layer::ApplyOptions::for_current_process();
            hoist_layer::apply_layer(std::io::BufReader::new(tar), dir, &options).map_err(|e| {
                OpsError::BadLayer {
                    source_name: dir.display().to_string(),
                    problem: e.to_string(),
                }
            })?;
            Ok(())
        }
        BuildOutput::DockerArchive(path) => {
            let image = hoist_archive::SaveImage {
                id: outcome.image.id.clone(),
                manifest: outcome.image.manifest.clone(),
                tags: outcome.tags.clone(),
            };
            let mut file = std::fs::File::create(path).map_err(io_error(path))?;
            crate::transfer::save(hoist, &[image], &mut file, &mut |_| {})
        }
        BuildOutput::OciArchive(path) => {
            let name = outcome
                .tags
                .first()
                .map(|t| t.tag().unwrap_or("latest").to_owned());
            copy_blocking(
                hoist,
                &crate::copy::Location::Store(outcome.image.id.to_string()),
                &crate::copy::Location::OciArchive {
                    path: path.clone(),
                    name,
                },
            )
        }
    }
}

/// The image's merged root filesystem as one tar (the union of its unpacked layers).
fn write_rootfs(
    hoist: &Hoist,
    image: &ImageRecord,
    out: &mut dyn std::io::Write,
) -> Result<(), OpsError> {
    let mut layers = hoist.store.unpack_layers(&image.layers)?;
    layers.reverse();
    if layers.is_empty() {
        let mut tar = tar::Builder::new(out);
        return tar.finish().map_err(|error| OpsError::Input {
            source_name: "output".to_owned(),
            error,
        });
    }
    hoist_layer::tree::write_union(&layers, out).map_err(|e| OpsError::BadLayer {
        source_name: image.id.to_string(),
        problem: e.to_string(),
    })?;
    Ok(())
}

/// Writes the images of a multi-platform build as an OCI archive (`-o type=oci,dest=FILE`): every blob
/// once, each image's manifest, and an index listing them with their platforms (and, for each tag, an
/// index entry naming it). Returns the index digest. Written to a temporary file renamed into place.
pub fn write_oci_index_archive(
    hoist: &Hoist,
    outcomes: &[BuildOutcome],
    platforms: &[hoist_spec::Platform],
    dest: &std::path::Path,
) -> Result<hoist_spec::Digest, OpsError> {
    let io = |error| OpsError::Input {
        source_name: dest.display().to_string(),
        error,
    };
    let mut manifests = Vec::new();
    let mut blobs: Vec<hoist_spec::Digest> = Vec::new();
    for (outcome, platform) in outcomes.iter().zip(platforms) {
        let image = &outcome.image;
        let manifest_bytes = hoist.store.read_blob(&image.manifest)?;
        let mut entry = serde_json::json!({
            "mediaType": image.manifest_media_type,
            "digest": image.manifest.to_string(),
            "size": manifest_bytes.len(),
            "platform": {"architecture": platform.architecture, "os": platform.os},
        });
        if let Some(variant) = &platform.variant {
            entry["platform"]["variant"] = serde_json::Value::from(variant.clone());
        }
        manifests.push(entry);
        for digest in std::iter::once(&image.manifest)
            .chain(std::iter::once(&image.id))
            .chain(image.layers.iter().map(|l| &l.blob))
        {
            if !blobs.contains(digest) {
                blobs.push(digest.clone());
            }
        }
    }
    let nested = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": hoist_spec::media_type::OCI_INDEX,
        "manifests": manifests,
    });
    let nested_bytes =
        serde_json::to_vec(&nested).map_err(|e| OpsError::BadManifest(e.to_string()))?;
    let nested_digest = hoist_spec::Digest::of(&nested_bytes);
    let tags = outcomes.first().map(|o| o.tags.clone()).unwrap_or_default();
    let mut entries = Vec::new();
    let entry = |name: Option<&Reference>| {
        let mut e = serde_json::json!({
            "mediaType": hoist_spec::media_type::OCI_INDEX,
            "digest": nested_digest.to_string(),
            "size": nested_bytes.len(),
        });
        if let Some(tag) = name {
            e["annotations"] = serde_json::json!({
                "io.containerd.image.name": tag.to_string(),
                "org.opencontainers.image.ref.name": tag.tag().unwrap_or("latest"),
            });
        }
        e
    };
    if tags.is_empty() {
        entries.push(entry(None));
    }
    for tag in &tags {
        entries.push(entry(Some(tag)));
    }
    let top = serde_json::json!({"schemaVersion": 2, "mediaType": hoist_spec::media_type::OCI_INDEX, "manifests": entries});
    let top_bytes = serde_json::to_vec(&top).map_err(|e| OpsError::BadManifest(e.to_string()))?;
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let temp = tempfile::NamedTempFile::new_in(parent).map_err(io)?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(temp.as_file()));
    let add_bytes = |tar: &mut tar::Builder<_>, path: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, bytes)
    };
    add_bytes(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(io)?;
    add_bytes(&mut tar, "index.json", &top_bytes).map_err(io)?;
    add_bytes(
        &mut tar,
        &format!("blobs/sha256/{}", nested_digest.hex()),
        &nested_bytes,
    )
    .map_err(io)?;
    for digest in &blobs {
        let path = hoist.store.blob_path(digest);
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let mut header = tar::Header::new_ustar();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(
            &mut header,
            format!("blobs/sha256/{}", digest.hex()),
            &mut file,
        )
        .map_err(io)?;
    }
    tar.into_inner()
        .map_err(io)?
        .into_inner()
        .map_err(|e| io(e.into_error()))?;
    temp.persist(dest).map_err(|e| io(e.error))?;
    Ok(nested_digest)
}
