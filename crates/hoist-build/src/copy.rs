//! COPY, ADD and WORKDIR: files from the context, another stage, an image, a heredoc or a URL, written into
//! a fresh layer directory (only the new files and their parent directories), which is tarred into the
//! step's layer and then adopted as that layer's snapshot.
//!
//! Cache keys come from content: the checksums of the context files (names, modes, owners, bytes, never
//! mtimes), the chain ID of a source stage, a heredoc's text.

use std::fs::{self, Metadata};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hoist_dockerfile::{Copy, Instruction};
use hoist_store::BuildCacheRecord;

use crate::error::{BuildError, io_error};
use crate::executor::Builder;
use crate::rootview::{RootView, clean_abs};
use crate::state::ImageState;

/// One matched source, ready to copy.
struct Source {
    /// The name a file source gets under a directory destination.
    base_name: String,
    /// What to copy: entries relative to the source (`""` is the source itself), host paths, metadata.
    entries: Vec<(PathBuf, PathBuf, Metadata)>,
    /// Keep the owners recorded on disk (a stage or image source) rather than 0:0 (context).
    keep_owner: bool,
    /// A plain file whose bytes are given (heredoc, URL download).
    inline: Option<(Vec<u8>, u32)>,
    /// An archive ADD unpacks at the destination.
    archive: Option<PathBuf>,
    /// `--parents`: the source's own path, kept below the destination.
    parents: Option<String>,
}

impl Source {
    fn is_dir(&self) -> bool {
        self.inline.is_none()
            && self.archive.is_none()
            && self.entries.first().is_some_and(|(_, _, m)| m.is_dir())
    }
}

fn has_wildcard(text: &str) -> bool {
    hoist_dockerfile::ignore::contains_wildcards(text)
}

impl Builder<'_> {
    pub(crate) fn copy(
        &mut self,
        state: &mut ImageState,
        stage_index: usize,
        instruction: &Instruction,
        copy: &Copy,
        is_add: bool,
    ) -> Result<(), BuildError> {
        let keyword = if is_add { "ADD" } else { "COPY" };
        let dest_raw = self.expand(state, &copy.dest, instruction)?;
        let mut sources_raw = Vec::new();
        for source in &copy.sources {
            if source.starts_with("<<") {
                sources_raw.push(source.clone());
            } else {
                sources_raw.push(self.expand(state, source, instruction)?);
            }
        }
        let chown = match &copy.chown {
            Some(c) => Some(self.expand(state, c, instruction)?),
            None => None,
        };
        let chmod = match &copy.chmod {
            Some(c) => {
                let text = self.expand(state, c, instruction)?;
                Some(u32::from_str_radix(&text, 8).map_err(|_| {
                    self.step_error(instruction, format!("invalid chmod parameter: {text}"))
                })?)
            }
            None => None,
        };
        let from = match &copy.from {
            Some(f) => Some(self.expand(state, f, instruction)?),
            None => None,
        };
        let mut excludes = Vec::new();
        for pattern in &copy.exclude {
            excludes.push(self.expand(state, pattern, instruction)?);
        }
        let excluded = hoist_dockerfile::IgnorePatterns::parse(&excludes.join("\n"))
            .map_err(|e| self.step_error(instruction, format!("invalid --exclude: {e}")))?;
        // --parents keeps each source's path below the destination, from its `/./` pivot if it has one
        // (`COPY --parents ./src/./app/*.js /dst/` writes /dst/app/…).
        let mut pivots: std::collections::HashMap<String, String> =
            std::collections::HashMap::new();
        let workdir = state.workdir();
        let dest_abs = clean_abs(&workdir, &dest_raw);
        let dest_says_dir = dest_raw.ends_with('/') || dest_raw == "." || dest_raw.ends_with("/.");

        // Where the sources live, and their identity for the cache key.
        let named_context = from.as_ref().and_then(|name| self.named.get(name)).cloned();
        let main_context: &crate::context::BuildContext = self.context;
        let source_context = named_context.as_deref().unwrap_or(main_context);
        let from = match &from {
            Some(name) => match self.opts.named_contexts.get(name) {
                Some(crate::options::NamedContext::Image(image)) => Some(image.clone()),
                _ => from,
            },
            None => None,
        };
        let from_view: Option<(RootView, String)> = match &from {
            None => None,
            Some(_) if named_context.is_some() => None,
            Some(name) => {
                let other = match self.stage_ref(name, stage_index) {
                    Some(index) => self.finished.get(&index).cloned().ok_or_else(|| {
                        self.step_error(instruction, format!("stage {name} is not built"))
                    })?,
                    None => self.image_state(name, &state.platform, instruction)?,
                };
                let key = other.fs_key().to_string();
                Some((self.root_view(&other)?, key))
            }
        };

        let mut identity = format!(
            "{keyword}\nfs {}\ndest {dest_abs} {dest_says_dir}\nchown {chown:?}\nchmod {chmod:?}\nexclude {excludes:?}\nparents {}\n",
            state.fs_key(),
            copy.parents
        );
        let mut matched: Vec<(String, MatchKind)> = Vec::new();
        let mut git_sources: Vec<std::sync::Arc<crate::context::BuildContext>> = Vec::new();
        for source in &sources_raw {
            if let Some(name) = source.strip_prefix("<<") {
                let heredoc = copy
                    .heredocs
                    .iter()
                    .find(|h| h.name == name)
                    .ok_or_else(|| {
                        self.step_error(instruction, format!("heredoc {name} has no body"))
                    })?;
                let content = if heredoc.expand {
                    self.expand(state, &heredoc.content, instruction)?
                } else {
                    heredoc.content.clone()
                };
                identity.push_str(&format!(
                    "heredoc {name} {}\n",
                    hoist_spec::Digest::of(content.as_bytes())
                ));
                matched.push((name.to_owned(), MatchKind::Inline(content.into_bytes())));
                continue;
            }
            if is_add && crate::context::is_git_url(source) {
                // Cloned now: the tree's checksum is the cache key (a moved branch misses).
                let scratch = self.store.root().join("build");
                let remote = if copy.keep_git_dir {
                    crate::context::ContextSource::GitKeepingDir(source.clone())
                } else {
                    crate::context::ContextSource::Git(source.clone())
                };
                let cloned = crate::context::BuildContext::open(remote, &scratch)
                    .map_err(|e| self.step_error(instruction, e.to_string()))?;
                let digest = cloned.checksum(".")?;
                identity.push_str(&format!("git {source} {digest} {}\n", copy.keep_git_dir));
                git_sources.push(std::sync::Arc::new(cloned));
                matched.push((".".to_owned(), MatchKind::Git(git_sources.len() - 1)));
                continue;
            }
            if is_add && (source.starts_with("http://") || source.starts_with("https://")) {
                identity.push_str(&format!("url {source} {:?}\n", copy.checksum));
                matched.push((source.clone(), MatchKind::Url(copy.checksum.clone())));
                continue;
            }
            match &from_view {
                Some((view, key)) => {
                    let paths =
                        stage_matches(view, source).map_err(|e| self.step_error(instruction, e))?;
                    if paths.is_empty() && has_wildcard(source) {
                        // BuildKit allows a wildcard to match nothing.
                        identity.push_str(&format!("stage {key} {source} (none)\n"));
                        continue;
                    }
                    if paths.is_empty() {
                        return Err(BuildError::SourceNotFound {
                            path: clean_abs("/", source),
                            file: self.file().to_owned(),
                            line: instruction.span.line,
                            instruction: instruction.source.clone(),
                        });
                    }
                    for path in paths {
                        identity.push_str(&format!("stage {key} {path}\n"));
                        if let Some(prefix) = pivot_prefix(source) {
                            pivots.insert(path.clone(), prefix);
                        }
                        matched.push((path, MatchKind::Stage));
                    }
                }
                None => {
                    let paths = match source_context.resolve_sources(source) {
                        Ok(p) if !p.is_empty() => p,
                        Ok(_) | Err(crate::context::ContextError::NotFound { .. })
                            if has_wildcard(source) =>
                        {
                            identity.push_str(&format!("context {source} (none)\n"));
                            continue;
                        }
                        Err(e) if !matches!(e, crate::context::ContextError::NotFound { .. }) => {
                            return Err(e.into());
                        }
                        _ => {
                            return Err(BuildError::SourceNotFound {
                                path: clean_abs("/", source),
                                file: self.file().to_owned(),
                                line: instruction.span.line,
                                instruction: instruction.source.clone(),
                            });
                        }
                    };
                    for path in paths {
                        let digest = source_context.checksum(&path)?;
                        identity.push_str(&format!(
                            "context {} {path} {digest}\n",
                            from.as_deref().unwrap_or("")
                        ));
                        if let Some(prefix) = pivot_prefix(source) {
                            pivots.insert(path.clone(), prefix);
                        }
                        matched.push((path, MatchKind::Context { unpack: is_add }));
                    }
                }
            }
        }
        let several = matched.len() > 1
            || sources_raw.len() > 1
            || sources_raw.iter().any(|s| has_wildcard(s));
        if sources_raw.len() > 1 && !dest_says_dir {
            return Err(self.step_error(
                instruction,
                format!("When using {keyword} with more than one source file, the destination must be a directory and end with a /"),
            ));
        }
        let key = hoist_spec::Digest::of(identity.as_bytes());
        let created_by = format!("{keyword} {} {dest_raw} # buildkit", sources_raw.join(" "));
        let name = self.step_name(&instruction.source);
        if !self.context_loaded
            && matched
                .iter()
                .any(|(_, k)| matches!(k, MatchKind::Context { .. }))
        {
            self.context_loaded = true;
            let context_vertex = self.vertex("[internal] load build context".to_owned());
            context_vertex.status("transferring context: done");
            context_vertex.done();
        }
        let vertex = self.vertex(name.clone());
        if let Some(hit) = self.cache_lookup(stage_index, &key)?
            && let Some(layer) = hit.layer
        {
            self.stamp(state, Some(hit.created));
            state.push_layer(layer);
            state.push_history(created_by, false);
            vertex.cached();
            return Ok(());
        }
        // A COPY's result depends on content only, so it is dated like the state it applies to: a
        // Dockerfile without RUN builds the same image ID in two fresh stores.
        let now = state_nanos(state);
        let result = (|| {
            let view = self.root_view(state)?;
            let owner = match &chown {
                Some(spec) => Some(
                    view.resolve_owner(spec)
                        .map_err(|m| self.step_error(instruction, m))?,
                ),
                None => None,
            };
            let mut sources = Vec::new();
            for (path, kind) in matched {
                let source_context = match &kind {
                    MatchKind::Git(index) => git_sources[*index].as_ref(),
                    _ => source_context,
                };
                let mut source = self.load_source(
                    source_context,
                    &path,
                    kind,
                    from_view.as_ref().map(|(v, _)| v),
                    instruction,
                )?;
                if !excluded.is_empty() {
                    if source.entries.len() == 1 && excluded.matches(&source.base_name) {
                        continue;
                    }
                    source.entries.retain(|(inner, _, _)| {
                        inner.as_os_str().is_empty() || !excluded.matches(&inner.to_string_lossy())
                    });
                }
                if copy.parents {
                    let relative = path.trim_start_matches("./").trim_start_matches('/');
                    let kept = match pivots.get(&path) {
                        Some(prefix) => relative
                            .strip_prefix(prefix.as_str())
                            .map(|rest| rest.trim_start_matches('/'))
                            .unwrap_or(relative),
                        None => relative,
                    };
                    source.parents = Some(kept.to_owned());
                }
                sources.push(source);
            }
            let workspace = self.store.new_layer_workspace()?;
            let fs_dir = workspace.path().join("fs");
            fs::create_dir(&fs_dir).map_err(io_error("create directory", &fs_dir))?;
            let into_dir = dest_says_dir
                || copy.parents
                || several
                || sources.iter().any(Source::is_dir)
                || view
                    .entry(&view.resolve(&dest_abs, true)?)?
                    .is_some_and(|(_, m)| m.is_dir());
            let writer = LayerWriter {
                fs: &fs_dir,
                view: &view,
                owner,
                chmod,
                epoch: Some(self.opts.source_date_epoch.unwrap_or(now / 1_000_000_000)),
                made: std::cell::RefCell::new(Vec::new()),
            };
            for source in &sources {
                let target = if let Some(parents) = &source.parents {
                    // --parents: the source's path below the destination.
                    format!("{}/{parents}", dest_abs.trim_end_matches('/'))
                } else if into_dir && !source.is_dir() && source.archive.is_none() {
                    format!("{}/{}", dest_abs.trim_end_matches('/'), source.base_name)
                } else {
                    dest_abs.clone()
                };
                let target = if into_dir || source.is_dir() || source.archive.is_some() {
                    let resolved =
                        view.resolve(&target, source.is_dir() || source.archive.is_some())?;
                    writer.ensure_dir(
                        &if source.is_dir() || source.archive.is_some() {
                            resolved.clone()
                        } else {
                            parent_of(&resolved)
                        },
                        owner,
                    )?;
                    resolved
                } else {
                    let resolved = view.resolve(&target, false)?;
                    writer.ensure_dir(&parent_of(&resolved), owner)?;
                    resolved
                };
                writer.write_source(source, &target)?;
            }
            if sources.is_empty() {
                // Wildcards that matched nothing still make the destination directory (BuildKit).
                writer.ensure_dir(&view.resolve(&dest_abs, true)?, owner)?;
            }
            writer.finish()?;
            self.commit_layer_dir(state, &fs_dir, &key, &name, now)
        })();
        match result {
            Ok(layer) => {
                self.stamp(state, Some(now));
                state.push_layer(layer);
                state.push_history(created_by, false);
                vertex.done();
                Ok(())
            }
            Err(e) => {
                vertex.failed(e.to_string());
                Err(e)
            }
        }
    }

    /// A filled layer directory (overlay format) becomes a stored layer, its snapshot, and the cache
    /// record for `key`.
    fn commit_layer_dir(
        &self,
        state: &ImageState,
        fs_dir: &Path,
        key: &hoist_spec::Digest,
        description: &str,
        created: i64,
    ) -> Result<hoist_store::LayerRecord, BuildError> {
        if let Some(epoch) = self.opts.source_date_epoch {
            crate::layers::clamp_mtimes(fs_dir, epoch)?;
        }
        let pending = crate::layers::tar_tree(self.store, fs_dir)?;
        let layer = pending.record.clone();
        let chain = state.chain_with(&layer);
        let guard = self.store.write_guard()?;
        pending
            .pending
            .commit(Some(&layer.blob), Some(layer.blob_size))?;
        if self.driver == hoist_store::StorageDriver::Overlay2 {
            self.store.adopt_layer_snapshot(fs_dir, &chain)?;
        }
        self.store.put_build_cache(
            &guard,
            &BuildCacheRecord {
                key: key.clone(),
                kind: "regular".to_owned(),
                description: description.to_owned(),
                layer: Some(layer.clone()),
                size: layer.size,
                chain: Some(chain),
                created,
                last_used: created,
                usage_count: 1,
            },
        )?;
        Ok(layer)
    }

    /// An image named by `COPY --from=image` (not a stage), as a state.
    fn image_state(
        &self,
        name: &str,
        platform: &hoist_spec::Platform,
        instruction: &Instruction,
    ) -> Result<ImageState, BuildError> {
        let reference = hoist_spec::Reference::parse_normalized(name)
            .map_err(|e| self.step_error(instruction, format!("invalid --from {name:?}: {e}")))?
            .with_default_tag()
            .to_string();
        let record = self
            .bases
            .resolve(&reference, platform, self.opts.pull)
            .map_err(|message| BuildError::BaseImage {
                reference: reference.clone(),
                message,
            })?;
        let config = self.store.read_blob(&record.id)?;
        let raw = hoist_spec::RawConfig::parse(config).map_err(|e| BuildError::BaseImage {
            reference,
            message: e.to_string(),
        })?;
        Ok(ImageState::from_image(raw.config, record.layers))
    }

    fn load_source(
        &self,
        source_context: &crate::context::BuildContext,
        path: &str,
        kind: MatchKind,
        from: Option<&RootView>,
        instruction: &Instruction,
    ) -> Result<Source, BuildError> {
        let base_name = path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(path)
            .to_owned();
        match kind {
            MatchKind::Inline(bytes) => Ok(Source {
                base_name,
                entries: Vec::new(),
                keep_owner: false,
                inline: Some((bytes, 0o644)),
                archive: None,
                parents: None,
            }),
            MatchKind::Url(checksum) => {
                let bytes = download(path).map_err(|m| self.step_error(instruction, m))?;
                if let Some(expected) = &checksum {
                    let found = hoist_spec::Digest::of(&bytes).to_string();
                    if &found != expected {
                        return Err(self.step_error(
                            instruction,
                            format!("digest mismatch {found}: {expected}"),
                        ));
                    }
                }
                let name = path
                    .split(['?', '#'])
                    .next()
                    .unwrap_or(path)
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or("download")
                    .to_owned();
                Ok(Source {
                    base_name: if name.is_empty() {
                        "download".into()
                    } else {
                        name
                    },
                    entries: Vec::new(),
                    keep_owner: false,
                    inline: Some((bytes, 0o600)),
                    archive: None,
                    parents: None,
                })
            }
            MatchKind::Git(_) => Ok(Source {
                base_name,
                entries: source_context.walk_for_copy(path)?,
                keep_owner: false,
                inline: None,
                archive: None,
                parents: None,
            }),
            MatchKind::Context { unpack } => {
                let entries = source_context.walk_for_copy(path)?;
                let archive = if unpack
                    && entries.len() == 1
                    && entries[0].2.is_file()
                    && is_archive(&entries[0].1)
                {
                    Some(entries[0].1.clone())
                } else {
                    None
                };
                Ok(Source {
                    base_name,
                    entries,
                    keep_owner: false,
                    inline: None,
                    archive,
                    parents: None,
                })
            }
            MatchKind::Stage => {
                let view =
                    from.ok_or_else(|| BuildError::Layer("stage source without a stage".into()))?;
                let (host, meta) = view
                    .entry(path)?
                    .ok_or_else(|| BuildError::SourceNotFound {
                        path: path.to_owned(),
                        file: self.file().to_owned(),
                        line: instruction.span.line,
                        instruction: instruction.source.clone(),
                    })?;
                let mut entries = vec![(PathBuf::new(), host, meta.clone())];
                if meta.is_dir() {
                    hoist_layer::tree::walk_union_under(
                        &view.lowers,
                        Path::new(path.trim_start_matches('/')),
                        |rel, host, meta| {
                            entries.push((rel.to_path_buf(), host.to_path_buf(), meta.clone()));
                            Ok(())
                        },
                    )
                    .map_err(|e| BuildError::Layer(format!("cannot read {path}: {e}")))?;
                }
                Ok(Source {
                    base_name,
                    entries,
                    keep_owner: true,
                    inline: None,
                    archive: None,
                    parents: None,
                })
            }
        }
    }

    /// WORKDIR creates its directory (owned by the current USER) when the root lacks it.
    pub(crate) fn workdir(
        &mut self,
        state: &mut ImageState,
        instruction: &Instruction,
        path: &str,
    ) -> Result<(), BuildError> {
        let name = self.step_name(&instruction.source);
        let vertex = self.vertex(name.clone());
        let view = self.root_view(state)?;
        let resolved = view.resolve(path, true)?;
        if view.entry(&resolved)?.is_some() || resolved == "/" {
            state.push_history(format!("WORKDIR {path}"), true);
            vertex.done();
            return Ok(());
        }
        let user = state.user();
        let owner = if user.is_empty() {
            None
        } else {
            view.resolve_owner(&user).ok()
        };
        let key = hoist_spec::Digest::of(
            format!(
                "workdir\nfs {}\n{resolved}\n{owner:?}\n{:?}",
                state.fs_key(),
                self.opts.source_date_epoch
            )
            .as_bytes(),
        );
        if let Some(hit) = self.cache_lookup(0, &key)?
            && let Some(layer) = hit.layer
        {
            self.stamp(state, Some(hit.created));
            state.push_layer(layer);
            state.push_history(format!("WORKDIR {path}"), false);
            vertex.cached();
            return Ok(());
        }
        let workspace = self.store.new_layer_workspace()?;
        let fs_dir = workspace.path().join("fs");
        fs::create_dir(&fs_dir).map_err(io_error("create directory", &fs_dir))?;
        let writer = LayerWriter {
            fs: &fs_dir,
            view: &view,
            owner: None,
            chmod: None,
            epoch: Some(
                self.opts
                    .source_date_epoch
                    .unwrap_or(state_nanos(state) / 1_000_000_000),
            ),
            made: std::cell::RefCell::new(Vec::new()),
        };
        writer.ensure_dir(&resolved, owner)?;
        writer.finish()?;
        let now = state_nanos(state);
        let layer = self.commit_layer_dir(state, &fs_dir, &key, &name, now)?;
        self.stamp(state, Some(now));
        state.push_layer(layer);
        state.push_history(format!("WORKDIR {path}"), false);
        vertex.done();
        Ok(())
    }
}

enum MatchKind {
    /// From a build context; ADD (`unpack`) extracts local archives.
    Context {
        unpack: bool,
    },
    Stage,
    Inline(Vec<u8>),
    /// ADD of a git repository: the index of its clone (its whole tree is the source).
    Git(usize),
    /// ADD of a URL, with the `--checksum` it must match.
    Url(Option<String>),
}

/// The state's time in Unix nanoseconds (its last step's, or its base image's creation).
fn state_nanos(state: &ImageState) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&state.time)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(0)
}

/// The part of a `--parents` source before its `/./` pivot, cleaned and relative (`./src/./app` → `src`).
fn pivot_prefix(source: &str) -> Option<String> {
    let (before, _) = source.split_once("/./")?;
    let cleaned = hoist_dockerfile::ignore::clean_path(before.trim_start_matches('/'));
    Some(if cleaned == "." {
        String::new()
    } else {
        cleaned
    })
}

fn parent_of(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/".to_owned(),
        Some((parent, _)) => parent.to_owned(),
    }
}

/// Paths in a stage's root matching `source` (a literal path, or wildcards in its last component).
fn stage_matches(view: &RootView, source: &str) -> Result<Vec<String>, String> {
    let abs = clean_abs("/", source);
    if !has_wildcard(&abs) {
        let resolved = view.resolve(&abs, true).map_err(|e| e.to_string())?;
        return Ok(match view.entry(&resolved).map_err(|e| e.to_string())? {
            Some(_) => vec![resolved],
            None => Vec::new(),
        });
    }
    let (dir, pattern) = abs.rsplit_once('/').unwrap_or(("", &abs));
    if has_wildcard(dir) {
        return Err(format!(
            "wildcards are only supported in the last component of --from sources: {source}"
        ));
    }
    let dir = if dir.is_empty() { "/" } else { dir };
    let resolved = view.resolve(dir, true).map_err(|e| e.to_string())?;
    let mut found = Vec::new();
    hoist_layer::tree::walk_union_under(
        &view.lowers,
        Path::new(resolved.trim_start_matches('/')),
        |rel, _, _| {
            if rel.components().count() == 1
                && hoist_dockerfile::ignore::filepath_match(pattern, &rel.to_string_lossy())
                    .unwrap_or(false)
            {
                found.push(format!(
                    "{}/{}",
                    resolved.trim_end_matches('/'),
                    rel.to_string_lossy()
                ));
            }
            Ok(())
        },
    )
    .map_err(|e| e.to_string())?;
    found.sort();
    Ok(found)
}

fn is_archive(path: &Path) -> bool {
    let Ok(mut file) = fs::File::open(path) else {
        return false;
    };
    let mut head = vec![0u8; 512];
    let mut read = 0;
    while read < head.len() {
        match std::io::Read::read(&mut file, &mut head[read..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    head.truncate(read);
    let compressed = head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(b"BZh")
        || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    compressed || (head.len() >= 262 && &head[257..262] == b"ustar")
}

fn download(url: &str) -> Result<Vec<u8>, String> {
    let response = ureq::get(url)
        .call()
        .map_err(|e| format!("failed to download {url}: {e}"))?;
    let mut body = response.into_body();
    body.with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .map_err(|e| format!("failed to download {url}: {e}"))
}

/// Writes sources into a layer directory.
struct LayerWriter<'a> {
    fs: &'a Path,
    view: &'a RootView,
    owner: Option<(u32, u32)>,
    chmod: Option<u32>,
    epoch: Option<i64>,
    /// Directories `ensure_dir` made, with the mtime each should keep once everything is written
    /// (adding entries changes a directory's mtime; the layer must not depend on when it was built).
    made: std::cell::RefCell<Vec<(PathBuf, i64, i64)>>,
}

impl LayerWriter<'_> {
    /// Gives the directories `ensure_dir` made their intended mtimes, deepest first.
    fn finish(&self) -> Result<(), BuildError> {
        for (dir, secs, nsec) in self.made.borrow().iter().rev() {
            set_mtime(dir, *secs, *nsec)?;
        }
        Ok(())
    }

    fn host(&self, abs: &str) -> PathBuf {
        self.fs.join(abs.trim_start_matches('/'))
    }

    /// Creates `abs` and its parents in the layer: existing directories of the root keep their
    /// attributes, new ones are 0755 and owned by `new_owner` (else root).
    fn ensure_dir(&self, abs: &str, new_owner: Option<(u32, u32)>) -> Result<(), BuildError> {
        let mut current = String::new();
        for part in abs.split('/').filter(|p| !p.is_empty()) {
            current.push('/');
            current.push_str(part);
            let host = self.host(&current);
            if fs::symlink_metadata(&host).is_ok() {
                continue;
            }
            fs::create_dir(&host).map_err(io_error("create directory", &host))?;
            match self.view.entry(&current)? {
                Some((_, meta)) if meta.is_dir() => {
                    set_attrs(&host, meta.mode() & 0o7777, meta.uid(), meta.gid())?;
                    self.made
                        .borrow_mut()
                        .push((host.clone(), meta.mtime(), meta.mtime_nsec()));
                }
                _ => {
                    let (uid, gid) = new_owner.unwrap_or((0, 0));
                    set_attrs(&host, 0o755, uid, gid)?;
                    if let Some(epoch) = self.epoch {
                        self.made.borrow_mut().push((host.clone(), epoch, 0));
                    }
                }
            }
        }
        Ok(())
    }

    fn owner_of(&self, meta: &Metadata, keep: bool) -> (u32, u32) {
        match self.owner {
            Some(owner) => owner,
            None if keep => (meta.uid(), meta.gid()),
            None => (0, 0),
        }
    }

    fn write_source(&self, source: &Source, target: &str) -> Result<(), BuildError> {
        let target_host = self.host(target);
        if let Some((bytes, mode)) = &source.inline {
            if fs::symlink_metadata(&target_host).is_ok_and(|m| m.is_dir()) {
                fs::remove_dir_all(&target_host).map_err(io_error("replace", &target_host))?;
            }
            fs::write(&target_host, bytes).map_err(io_error("write", &target_host))?;
            let (uid, gid) = self.owner.unwrap_or((0, 0));
            set_attrs(&target_host, self.chmod.unwrap_or(*mode), uid, gid)?;
            return Ok(());
        }
        if let Some(archive) = &source.archive {
            let file = fs::File::open(archive).map_err(io_error("open", archive))?;
            let reader = hoist_layer::LayerDigestReader::new(std::io::BufReader::new(file))
                .map_err(io_error("read archive", archive))?;
            let mut reader = reader;
            let options = hoist_layer::ApplyOptions::for_current_process();
            hoist_layer::apply_layer(&mut reader, &target_host, &options).map_err(|e| {
                BuildError::Layer(format!("cannot extract {}: {e}", archive.display()))
            })?;
            return Ok(());
        }
        let mut dirs = Vec::new();
        for (rel, host, meta) in &source.entries {
            let dest = if rel.as_os_str().is_empty() {
                target_host.clone()
            } else {
                target_host.join(rel)
            };
            let (uid, gid) = self.owner_of(meta, source.keep_owner);
            let mode = self.chmod.unwrap_or(meta.mode() & 0o7777);
            let kind = meta.file_type();
            if kind.is_dir() {
                match fs::symlink_metadata(&dest) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        fs::remove_file(&dest).map_err(io_error("replace", &dest))?;
                        fs::create_dir(&dest).map_err(io_error("create directory", &dest))?;
                    }
                    Err(_) => fs::create_dir(&dest).map_err(io_error("create directory", &dest))?,
                }
                // The destination directory itself keeps the root's attributes when it exists there.
                if !(rel.as_os_str().is_empty() && self.view_has_dir(&dest)) {
                    set_attrs(&dest, mode, uid, gid)?;
                    dirs.push((dest, meta.mtime(), meta.mtime_nsec()));
                }
            } else if kind.is_symlink() {
                let link = fs::read_link(host).map_err(io_error("read link", host))?;
                remove_existing(&dest)?;
                std::os::unix::fs::symlink(&link, &dest)
                    .map_err(io_error("create symlink", &dest))?;
                rustix::fs::chownat(
                    rustix::fs::CWD,
                    &dest,
                    Some(rustix::fs::Uid::from_raw(uid)),
                    Some(rustix::fs::Gid::from_raw(gid)),
                    rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(|e| io_error("change owner of", &dest)(e.into()))?;
                set_mtime(&dest, meta.mtime(), meta.mtime_nsec())?;
            } else if kind.is_file() {
                remove_existing(&dest)?;
                fs::copy(host, &dest).map_err(io_error("copy to", &dest))?;
                set_attrs(&dest, mode, uid, gid)?;
                set_mtime(&dest, meta.mtime(), meta.mtime_nsec())?;
            }
            // Devices, fifos and sockets are not copied.
        }
        for (dir, secs, nsec) in dirs.into_iter().rev() {
            set_mtime(&dir, secs, nsec)?;
        }
        Ok(())
    }

    fn view_has_dir(&self, dest_host: &Path) -> bool {
        let Ok(rel) = dest_host.strip_prefix(self.fs) else {
            return false;
        };
        let abs = format!("/{}", rel.to_string_lossy());
        matches!(self.view.entry(&abs), Ok(Some((_, m))) if m.is_dir())
    }
}

fn remove_existing(path: &Path) -> Result<(), BuildError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(io_error("replace", path)),
        Ok(_) => fs::remove_file(path).map_err(io_error("replace", path)),
        Err(_) => Ok(()),
    }
}

fn set_attrs(path: &Path, mode: u32, uid: u32, gid: u32) -> Result<(), BuildError> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .map_err(io_error("change owner of", path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(io_error("set mode of", path))
}

fn set_mtime(path: &Path, secs: i64, nsec: i64) -> Result<(), BuildError> {
    use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, utimensat};
    let time = Timespec {
        tv_sec: secs,
        tv_nsec: nsec,
    };
    utimensat(
        CWD,
        path,
        &Timestamps {
            last_access: time,
            last_modification: time,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| io_error("set times of", path)(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_paths() {
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/a"), "/");
    }
}
