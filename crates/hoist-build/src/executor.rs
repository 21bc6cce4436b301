//! The build: parse, pick the stages `--target` needs, run each stage's instructions in order (RUN and
//! COPY/ADD through the cache, the rest on the config), and store the final image.
//!
//! Calls go down: [`build`] → stage planning → per-instruction dispatch, which uses `run` (RUN on the
//! runtime), `copy` (COPY/ADD into a new layer directory) and `layers` (directories into stored layers).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use hoist_dockerfile::{
    ArgDecl, Command, CommandLine, Dockerfile, Expander, Healthcheck, Instruction, Stage,
};
use hoist_spec::{Digest, ImageConfig, Platform, RawConfig, Reference};
use hoist_store::{BuildCacheRecord, ImageRecord, StorageDriver, Store};
use serde_json::Value;

use crate::context::BuildContext;
use crate::error::BuildError;
use crate::options::{BaseImages, BuildEvent, BuildOptions, BuildResult};
use crate::rootview::{RootView, clean_abs};
use crate::state::ImageState;

/// What a stage built on its own thread hands back: its index, its result, its warnings, and whether
/// it showed the "load build context" vertex.
type StageOutcome = (usize, Result<ImageState, BuildError>, Vec<String>, bool);

/// Progress sink: the CLI draws these; an API streams them.
pub type Progress<'a> = &'a (dyn Fn(BuildEvent) + Sync);

/// Everything one build shares between its stages.
pub(crate) struct Builder<'a> {
    pub(crate) store: &'a Store,
    pub(crate) context: &'a BuildContext,
    pub(crate) opts: &'a BuildOptions,
    pub(crate) bases: &'a dyn BaseImages,
    pub(crate) progress: Progress<'a>,
    pub(crate) dockerfile: &'a Dockerfile,
    pub(crate) driver: StorageDriver,
    vertices: std::sync::Arc<AtomicUsize>,
    /// Global ARG values (meta args, build args and the automatic platform args), for FROM.
    pub(crate) meta_args: BTreeMap<String, String>,
    pub(crate) target_platform: Platform,
    /// Finished stages by index.
    pub(crate) finished: HashMap<usize, ImageState>,
    pub(crate) warnings: Vec<String>,
    /// The stage being built, for step names.
    pub(crate) stage_label: String,
    pub(crate) stage_steps: usize,
    pub(crate) step: usize,
    /// Cache keys of every step looked up, for `--cache-to`.
    pub(crate) used_keys: std::sync::Arc<std::sync::Mutex<Vec<Digest>>>,
    /// `--build-context` directories, opened.
    pub(crate) named: BTreeMap<String, std::sync::Arc<BuildContext>>,
    /// Whether the "load build context" vertex was shown.
    pub(crate) context_loaded: bool,
    /// When the build started, as RFC 3339 (history `created`), clamped by SOURCE_DATE_EPOCH.
    pub(crate) created: String,
}

/// A vertex of the progress output, timed from its start.
pub(crate) struct Vertex<'a> {
    pub(crate) id: usize,
    started: Instant,
    progress: Progress<'a>,
}

impl Vertex<'_> {
    pub(crate) fn status(&self, text: impl Into<String>) {
        (self.progress)(BuildEvent::Status {
            vertex: self.id,
            text: text.into(),
        });
    }
    pub(crate) fn output(&self, line: String) {
        (self.progress)(BuildEvent::Output {
            vertex: self.id,
            elapsed: self.started.elapsed().as_secs_f64(),
            line,
        });
    }
    pub(crate) fn cached(self) {
        (self.progress)(BuildEvent::Cached { vertex: self.id });
    }
    pub(crate) fn done(self) {
        (self.progress)(BuildEvent::Done {
            vertex: self.id,
            seconds: self.started.elapsed().as_secs_f64(),
        });
    }
    pub(crate) fn failed(self, message: String) {
        (self.progress)(BuildEvent::Failed {
            vertex: self.id,
            seconds: self.started.elapsed().as_secs_f64(),
            message,
        });
    }
}

/// Parses `dockerfile_text` and builds it; stores the final image (untagged: the caller tags it).
pub fn build(
    store: &Store,
    context: &BuildContext,
    dockerfile_text: &str,
    opts: &BuildOptions,
    bases: &dyn BaseImages,
    progress: Progress<'_>,
) -> Result<BuildResult, BuildError> {
    for entitlement in &opts.entitlements {
        if !matches!(
            entitlement.as_str(),
            "network.host" | "security.insecure" | "device"
        ) {
            return Err(BuildError::UnknownEntitlement(entitlement.clone()));
        }
    }
    let file = opts.dockerfile_name.clone();
    let first = Vertex {
        id: 1,
        started: Instant::now(),
        progress,
    };
    progress(BuildEvent::Started {
        vertex: 1,
        name: format!("[internal] load build definition from {file}"),
    });
    first.status(format!(
        "transferring dockerfile: {}B done",
        dockerfile_text.len()
    ));
    let dockerfile = match hoist_dockerfile::parse(dockerfile_text) {
        Ok(d) => d,
        Err(diagnostic) => {
            first.failed(diagnostic.message.clone());
            return Err(BuildError::Parse {
                file,
                line: diagnostic.span.line,
                column: diagnostic.span.column,
                message: diagnostic.message,
                source_line: diagnostic.source_line,
            });
        }
    };
    first.done();
    let driver = store.storage_driver(opts.storage_driver)?;
    let target_platform = opts.platform.clone().unwrap_or_else(Platform::host);
    let epoch = opts.source_date_epoch;
    let now = chrono::Utc::now();
    let created = match epoch.and_then(|e| chrono::DateTime::from_timestamp(e, 0)) {
        Some(t) if t < now => t,
        _ => now,
    };
    let mut builder = Builder {
        store,
        context,
        opts,
        bases,
        progress,
        dockerfile: &dockerfile,
        driver,
        vertices: std::sync::Arc::new(AtomicUsize::new(1)),
        meta_args: BTreeMap::new(),
        target_platform,
        finished: HashMap::new(),
        // The parser's warnings come back through `hoist_dockerfile::check`, which the caller runs.
        warnings: Vec::new(),
        stage_label: String::new(),
        stage_steps: 0,
        step: 0,
        context_loaded: false,
        used_keys: std::sync::Arc::default(),
        named: BTreeMap::new(),
        created: hoist_render_time(&created),
    };
    for (name, named) in &opts.named_contexts {
        if let crate::options::NamedContext::Directory(dir) = named {
            let scratch = store.root().join("build");
            let opened = BuildContext::open(
                crate::context::ContextSource::Directory(dir.clone()),
                &scratch,
            )?;
            builder
                .named
                .insert(name.clone(), std::sync::Arc::new(opened));
        }
    }
    for location in &opts.cache_from {
        // Registry caches were fetched into directories by the caller.
        let crate::cache_io::CacheLocation::Local(dir) = location else {
            continue;
        };
        let vertex = builder.vertex(format!(
            "importing cache manifest from local:{}",
            dir.display()
        ));
        let imported = crate::cache_io::import(store, dir)?;
        vertex.status(format!("{imported} records"));
        vertex.done();
    }
    builder.meta_args = builder.global_args()?;
    let target = builder.target_stage()?;
    let order = builder.stage_order(target)?;
    builder.build_stages(&order)?;
    let state = builder
        .finished
        .remove(&target)
        .ok_or_else(|| BuildError::NoTarget(target.to_string()))?;
    builder.export(state)
}

fn hoist_render_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl<'a> Builder<'a> {
    pub(crate) fn vertex(&self, name: String) -> Vertex<'a> {
        let id = self.vertices.fetch_add(1, Ordering::SeqCst) + 1;
        (self.progress)(BuildEvent::Started { vertex: id, name });
        Vertex {
            id,
            started: Instant::now(),
            progress: self.progress,
        }
    }

    pub(crate) fn file(&self) -> &str {
        &self.opts.dockerfile_name
    }

    pub(crate) fn step_error(
        &self,
        instruction: &Instruction,
        message: impl Into<String>,
    ) -> BuildError {
        BuildError::Step {
            file: self.file().to_owned(),
            line: instruction.span.line,
            message: message.into(),
        }
    }

    /// The ARGs in scope for FROM lines: the automatic platform args, then each meta ARG (its default
    /// expanded against those before it), overridden by `--build-arg`.
    fn global_args(&self) -> Result<BTreeMap<String, String>, BuildError> {
        let mut args = self.platform_args();
        for instruction in &self.dockerfile.meta_args {
            if let Command::Arg(decls) = &instruction.command {
                for decl in decls {
                    let value = self.arg_value(decl, &args, instruction)?;
                    if let Some(value) = value {
                        args.insert(decl.name.clone(), value);
                    }
                }
            }
        }
        Ok(args)
    }

    fn arg_value(
        &self,
        decl: &ArgDecl,
        scope: &BTreeMap<String, String>,
        instruction: &Instruction,
    ) -> Result<Option<String>, BuildError> {
        if let Some(value) = self.opts.build_args.get(&decl.name) {
            return Ok(Some(value.clone()));
        }
        match &decl.default {
            None => Ok(None),
            Some(default) => {
                let lookup = |name: &str| scope.get(name).cloned();
                let expander = Expander {
                    escape: self.dockerfile.directives.escape,
                    lookup: &lookup,
                };
                expander
                    .expand(default)
                    .map(|e| Some(e.value))
                    .map_err(|e| self.step_error(instruction, e.to_string()))
            }
        }
    }

    fn platform_args(&self) -> BTreeMap<String, String> {
        let mut args = BTreeMap::new();
        let host = Platform::host();
        for (prefix, platform) in [("TARGET", &self.target_platform), ("BUILD", &host)] {
            let variant = platform.variant.clone().unwrap_or_default();
            let mut full = format!("{}/{}", platform.os, platform.architecture);
            if !variant.is_empty() {
                full.push('/');
                full.push_str(&variant);
            }
            args.insert(format!("{prefix}PLATFORM"), full);
            args.insert(format!("{prefix}OS"), platform.os.clone());
            args.insert(format!("{prefix}ARCH"), platform.architecture.clone());
            args.insert(format!("{prefix}VARIANT"), variant);
        }
        args
    }

    fn expand_with(
        &self,
        text: &str,
        vars: &BTreeMap<String, String>,
        instruction: Option<&Instruction>,
    ) -> Result<String, BuildError> {
        let lookup = |name: &str| vars.get(name).cloned();
        let expander = Expander {
            escape: self.dockerfile.directives.escape,
            lookup: &lookup,
        };
        expander
            .expand(text)
            .map(|e| e.value)
            .map_err(|e| match instruction {
                Some(i) => self.step_error(i, e.to_string()),
                None => BuildError::Layer(e.to_string()),
            })
    }

    fn stage_index(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.dockerfile
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
    }

    fn target_stage(&self) -> Result<usize, BuildError> {
        match &self.opts.target {
            None => Ok(self.dockerfile.stages.len().saturating_sub(1)),
            Some(name) => self
                .stage_index(name)
                .ok_or_else(|| BuildError::NoTarget(name.clone())),
        }
    }

    /// The stage `reference` (from FROM or `--from`) names among those before `before`, if any: a
    /// name, or an index.
    pub(crate) fn stage_ref(&self, reference: &str, before: usize) -> Option<usize> {
        if let Some(index) = self.stage_index(reference) {
            return (index < before).then_some(index);
        }
        reference.parse::<usize>().ok().filter(|i| *i < before)
    }

    /// Stages `index` depends on: its FROM, COPY --from and RUN --mount from=.
    fn dependencies(&self, index: usize) -> Result<Vec<usize>, BuildError> {
        let stage = &self.dockerfile.stages[index];
        let mut deps = Vec::new();
        let base = self.expand_with(&stage.base, &self.meta_args, None)?;
        if let Some(dep) = self.stage_ref(&base, index) {
            deps.push(dep);
        }
        for instruction in &stage.instructions {
            let from = match &instruction.command {
                Command::Copy(copy) | Command::Add(copy) => copy.from.clone().into_iter().collect(),
                Command::Run(run) => run.mounts.iter().filter_map(|m| m.from.clone()).collect(),
                _ => Vec::new(),
            };
            for name in from {
                // `--from` may use the stage's ARGs; a stage name never needs them.
                let name = self.expand_with(&name, &self.meta_args, Some(instruction))?;
                if let Some(dep) = self.stage_ref(&name, index) {
                    deps.push(dep);
                }
            }
        }
        Ok(deps)
    }

    /// The stages to build for `target`, dependencies first.
    fn stage_order(&self, target: usize) -> Result<Vec<usize>, BuildError> {
        let mut order = Vec::new();
        let mut visiting = vec![target];
        let mut seen = std::collections::HashSet::new();
        // Depth-first post-order without recursion; stage references only point backwards, so no cycles.
        let mut stack = vec![(target, false)];
        while let Some((index, expanded)) = stack.pop() {
            if expanded {
                if seen.insert(index) {
                    order.push(index);
                }
                continue;
            }
            if seen.contains(&index) {
                continue;
            }
            stack.push((index, true));
            for dep in self.dependencies(index)? {
                if !seen.contains(&dep) {
                    visiting.push(dep);
                    stack.push((dep, false));
                }
            }
        }
        Ok(order)
    }

    /// Builds `order` (dependencies first), stages whose dependencies are all built at the same time,
    /// each on its own thread.
    fn build_stages(&mut self, order: &[usize]) -> Result<(), BuildError> {
        let mut deps = HashMap::new();
        for &index in order {
            deps.insert(index, self.dependencies(index)?);
        }
        let mut remaining: Vec<usize> = order.to_vec();
        while !remaining.is_empty() {
            let ready: Vec<usize> = remaining
                .iter()
                .copied()
                .filter(|i| {
                    deps[i]
                        .iter()
                        .all(|d| self.finished.contains_key(d) || !remaining.contains(d))
                })
                .collect();
            remaining.retain(|i| !ready.contains(i));
            if let [index] = ready.as_slice() {
                let state = self.build_stage(*index)?;
                self.finished.insert(*index, state);
                continue;
            }
            let results: Vec<StageOutcome> = std::thread::scope(|scope| {
                let handles: Vec<_> = ready
                    .iter()
                    .map(|&index| {
                        let mut fork = self.fork();
                        scope.spawn(move || {
                            let state = fork.build_stage(index);
                            (index, state, fork.warnings, fork.context_loaded)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            (
                                usize::MAX,
                                Err(BuildError::Layer("a stage's thread panicked".to_owned())),
                                Vec::new(),
                                false,
                            )
                        })
                    })
                    .collect()
            });
            let mut first_error = None;
            for (index, state, warnings, context_loaded) in results {
                self.context_loaded |= context_loaded;
                for warning in warnings {
                    if !self.warnings.contains(&warning) {
                        self.warnings.push(warning);
                    }
                }
                match state {
                    Ok(state) => {
                        self.finished.insert(index, state);
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        Ok(())
    }

    /// A builder for one stage on another thread: the same build, its own step counters.
    fn fork(&self) -> Builder<'a> {
        Builder {
            store: self.store,
            context: self.context,
            opts: self.opts,
            bases: self.bases,
            progress: self.progress,
            dockerfile: self.dockerfile,
            driver: self.driver,
            vertices: self.vertices.clone(),
            meta_args: self.meta_args.clone(),
            target_platform: self.target_platform.clone(),
            finished: self.finished.clone(),
            warnings: Vec::new(),
            stage_label: String::new(),
            stage_steps: 0,
            step: 0,
            context_loaded: self.context_loaded,
            used_keys: self.used_keys.clone(),
            named: self.named.clone(),
            created: self.created.clone(),
        }
    }

    fn label_for(&self, index: usize) -> String {
        let stage = &self.dockerfile.stages[index];
        match &stage.name {
            Some(name) => format!("{name} "),
            None if self.dockerfile.stages.len() == 1 => String::new(),
            None => format!("stage-{index} "),
        }
    }

    /// The next step's name, `[builder 3/6] RUN npm ci`.
    pub(crate) fn step_name(&mut self, text: &str) -> String {
        self.step += 1;
        format!(
            "[{}{}/{}] {}",
            self.stage_label, self.step, self.stage_steps, text
        )
    }

    fn build_stage(&mut self, index: usize) -> Result<ImageState, BuildError> {
        let stage: &'a Stage = &self.dockerfile.stages[index];
        self.stage_label = self.label_for(index);
        self.stage_steps = 1 + stage
            .instructions
            .iter()
            .filter(|i| {
                matches!(
                    i.command,
                    Command::Run(_) | Command::Copy(_) | Command::Add(_) | Command::Workdir(_)
                )
            })
            .count();
        self.step = 0;
        let base = self.expand_with(&stage.base, &self.meta_args, None)?;
        let platform = match &stage.platform {
            Some(p) => {
                let text = self.expand_with(p, &self.meta_args, None)?;
                Platform::parse(&text).map_err(|e| BuildError::Step {
                    file: self.file().to_owned(),
                    line: stage.span.line,
                    message: e.to_string(),
                })?
            }
            None => self.target_platform.clone(),
        };
        let mut state = self.base_state(index, &base, &platform, stage)?;
        let mut triggers = Vec::new();
        if let Some(onbuild) = state.config_mut().on_build.take() {
            triggers = onbuild;
        }
        for trigger in &triggers {
            self.run_trigger(&mut state, stage, trigger)?;
        }
        for instruction in &stage.instructions {
            self.dispatch(&mut state, index, instruction)?;
        }
        Ok(state)
    }

    fn run_trigger(
        &mut self,
        state: &mut ImageState,
        stage: &Stage,
        trigger: &str,
    ) -> Result<(), BuildError> {
        let text = format!("FROM scratch\n{trigger}\n");
        let parsed = hoist_dockerfile::parse(&text).map_err(|d| BuildError::Step {
            file: self.file().to_owned(),
            line: stage.span.line,
            message: format!(
                "invalid ONBUILD trigger {trigger:?} of the base image: {}",
                d.message
            ),
        })?;
        let Some(parsed_stage) = parsed.stages.into_iter().next() else {
            return Ok(());
        };
        for mut instruction in parsed_stage.instructions {
            instruction.span = stage.span;
            self.stage_steps += usize::from(matches!(
                instruction.command,
                Command::Run(_) | Command::Copy(_) | Command::Add(_) | Command::Workdir(_)
            ));
            let index = self
                .dockerfile
                .stages
                .iter()
                .position(|s| std::ptr::eq(s, stage))
                .unwrap_or(0);
            self.dispatch(state, index, &instruction)?;
        }
        Ok(())
    }

    fn base_state(
        &mut self,
        index: usize,
        base: &str,
        platform: &Platform,
        stage: &Stage,
    ) -> Result<ImageState, BuildError> {
        if let Some(dep) = self.stage_ref(base, index) {
            let name = self.step_name(&format!("FROM {base}"));
            let vertex = self.vertex(name);
            let mut state = self
                .finished
                .get(&dep)
                .cloned()
                .ok_or_else(|| BuildError::NoTarget(base.to_owned()))?;
            state.args.clear();
            state.arg_order.clear();
            state.cmd_set = false;
            state.base_layers = state.layers.len();
            vertex.done();
            return Ok(state);
        }
        if let Some(crate::options::NamedContext::Image(image)) = self.opts.named_contexts.get(base)
        {
            let image = image.clone();
            return self.base_state(index, &image, platform, stage);
        }
        if self.named.contains_key(base) {
            return Err(BuildError::Step {
                file: self.file().to_owned(),
                line: stage.span.line,
                message: format!(
                    "FROM {base}: a directory build context can only be a COPY --from source"
                ),
            });
        }
        if base.eq_ignore_ascii_case("scratch") {
            // BuildKit shows no vertex for scratch; the step number still counts.
            self.step += 1;
            let mut state = ImageState::scratch(platform);
            if self.opts.source_date_epoch.is_some() {
                state.time = self.created.clone();
            }
            return Ok(state);
        }
        let reference = Reference::parse_normalized(base)
            .map_err(|e| BuildError::Step {
                file: self.file().to_owned(),
                line: stage.span.line,
                message: format!("failed to parse stage name \"{base}\": {e}"),
            })?
            .with_default_tag();
        let name = reference.to_string();
        let metadata = self.vertex(format!("[internal] load metadata for {name}"));
        let record = match self.bases.resolve(&name, platform, self.opts.pull) {
            Ok(record) => record,
            Err(message) => {
                metadata.failed(message.clone());
                return Err(BuildError::BaseImage {
                    reference: name,
                    message,
                });
            }
        };
        metadata.done();
        let step = self.step_name(&format!("FROM {name}"));
        let vertex = self.vertex(step);
        let config = self.store.read_blob(&record.id)?;
        let raw = RawConfig::parse(config).map_err(|e| BuildError::BaseImage {
            reference: name.clone(),
            message: e.to_string(),
        })?;
        vertex.status(format!("resolve {name} done"));
        vertex.cached();
        let mut state = ImageState::from_image(raw.config, record.layers);
        if self.opts.source_date_epoch.is_some() {
            state.time = self.created.clone();
        }
        Ok(state)
    }

    /// Variables `$VAR` in this stage's instructions see: the declared ARGs, then ENV (which wins).
    pub(crate) fn stage_vars(&self, state: &ImageState) -> BTreeMap<String, String> {
        let mut vars: BTreeMap<String, String> = state
            .args
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        for entry in state.config().env.iter().flatten() {
            let (k, v) = entry.split_once('=').unwrap_or((entry, ""));
            vars.insert(k.to_owned(), v.to_owned());
        }
        vars
    }

    pub(crate) fn expand(
        &mut self,
        state: &ImageState,
        text: &str,
        instruction: &Instruction,
    ) -> Result<String, BuildError> {
        let vars = self.stage_vars(state);
        let lookup = |name: &str| vars.get(name).cloned();
        let expander = Expander {
            escape: self.dockerfile.directives.escape,
            lookup: &lookup,
        };
        let expanded = expander
            .expand(text)
            .map_err(|e| self.step_error(instruction, e.to_string()))?;
        for name in &expanded.unmatched {
            let declared = state.args.contains_key(name);
            if !declared {
                let warning = format!(
                    "UndefinedVar: Usage of undefined variable '${name}' (line {})",
                    instruction.span.line
                );
                if !self.warnings.contains(&warning) {
                    self.warnings.push(warning);
                }
            }
        }
        Ok(expanded.value)
    }

    /// ENV/LABEL pairs, every key and value expanded against the variables before the instruction.
    fn expand_pairs(
        &mut self,
        state: &ImageState,
        pairs: &[hoist_dockerfile::KeyValue],
        instruction: &Instruction,
    ) -> Result<Vec<(String, String)>, BuildError> {
        let mut expanded = Vec::with_capacity(pairs.len());
        for pair in pairs {
            let key = self.expand(state, &pair.key, instruction)?;
            let value = self.expand(state, &pair.value, instruction)?;
            expanded.push((key, value));
        }
        Ok(expanded)
    }

    fn dispatch(
        &mut self,
        state: &mut ImageState,
        stage_index: usize,
        instruction: &Instruction,
    ) -> Result<(), BuildError> {
        match &instruction.command {
            Command::Run(run) => return self.run(state, stage_index, instruction, run),
            Command::Copy(copy) => {
                return self.copy(state, stage_index, instruction, copy, false);
            }
            Command::Add(copy) => return self.copy(state, stage_index, instruction, copy, true),
            Command::Workdir(dir) => {
                let dir = self.expand(state, dir, instruction)?;
                let path = clean_abs(&state.workdir(), &dir);
                state.config_mut().working_dir = Some(path.clone());
                return self.workdir(state, instruction, &path);
            }
            Command::Env(pairs) => {
                // Every value is expanded against the variables before this instruction, as BuildKit
                // does: `ENV X=new Y=$X` gives Y the old X.
                let mut shown = Vec::new();
                for (key, value) in self.expand_pairs(state, pairs, instruction)? {
                    state.set_env(&key, &value);
                    shown.push(format!("{key}={value}"));
                }
                state.push_history(format!("ENV {}", shown.join(" ")), true);
            }
            Command::Label(pairs) => {
                let mut shown = Vec::new();
                for (key, value) in self.expand_pairs(state, pairs, instruction)? {
                    shown.push(format!("{key}={value}"));
                    state
                        .config_mut()
                        .labels
                        .get_or_insert_with(BTreeMap::new)
                        .insert(key, value);
                }
                state.push_history(format!("LABEL {}", shown.join(" ")), true);
            }
            Command::Maintainer(name) => {
                state.image.author = Some(name.clone());
                state.push_history(format!("MAINTAINER {name}"), true);
            }
            Command::Expose(ports) => {
                let mut keys = Vec::new();
                for port in ports {
                    let port = self.expand(state, port, instruction)?;
                    for key in expose_keys(&port).map_err(|m| self.step_error(instruction, m))? {
                        keys.push(key.clone());
                        state
                            .config_mut()
                            .exposed_ports
                            .get_or_insert_with(BTreeMap::new)
                            .insert(key, Value::Object(Default::default()));
                    }
                }
                // Go prints the instruction's port map with sorted, unique keys.
                let unique: std::collections::BTreeSet<&String> = keys.iter().collect();
                let shown: Vec<String> = unique.iter().map(|k| format!("{k}:{{}}")).collect();
                state.push_history(format!("EXPOSE map[{}]", shown.join(" ")), true);
            }
            Command::Volume(paths) => {
                let mut shown = Vec::new();
                for path in paths {
                    let path = self.expand(state, path, instruction)?;
                    if path.trim().is_empty() {
                        return Err(self.step_error(
                            instruction,
                            "VOLUME specified can not be an empty string",
                        ));
                    }
                    shown.push(path.clone());
                    state
                        .config_mut()
                        .volumes
                        .get_or_insert_with(BTreeMap::new)
                        .insert(path, Value::Object(Default::default()));
                }
                state.push_history(format!("VOLUME [{}]", shown.join(" ")), true);
            }
            Command::User(user) => {
                let user = self.expand(state, user, instruction)?;
                state.config_mut().user = Some(user.clone());
                state.push_history(format!("USER {user}"), true);
            }
            Command::Arg(decls) => {
                let mut shown = Vec::new();
                for decl in decls {
                    let vars = self.stage_vars(state);
                    let value = match self.opts.build_args.get(&decl.name) {
                        Some(v) => Some(v.clone()),
                        None => match &decl.default {
                            Some(default) => {
                                Some(self.expand_with(default, &vars, Some(instruction))?)
                            }
                            // A global ARG (or automatic platform arg) re-declared without a value.
                            None => self.meta_args.get(&decl.name).cloned(),
                        },
                    };
                    shown.push(match &value {
                        Some(v) => format!("{}={v}", decl.name),
                        None => decl.name.clone(),
                    });
                    state.declare_arg(&decl.name, value);
                }
                state.push_history(format!("ARG {}", shown.join(" ")), true);
            }
            Command::Onbuild(trigger) => {
                state
                    .config_mut()
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(trigger.clone());
                // BuildKit writes no history entry for ONBUILD.
            }
            Command::Stopsignal(signal) => {
                let signal = self.expand(state, signal, instruction)?;
                if hoist_runtime::parse_signal(&signal).is_err() {
                    return Err(self.step_error(instruction, format!("Invalid signal: {signal}")));
                }
                state.config_mut().stop_signal = Some(signal.clone());
                state.push_history(format!("STOPSIGNAL {signal}"), true);
            }
            Command::Shell(shell) => {
                state.config_mut().shell = Some(shell.clone());
                state.push_history(format!("SHELL [{}]", shell.join(" ")), true);
            }
            Command::Cmd(line) => {
                let args = self.command_args(state, line);
                // `CMD []` leaves no command, as BuildKit writes it (null).
                state.config_mut().cmd = (!args.is_empty()).then(|| args.clone());
                state.cmd_set = true;
                state.config_mut().args_escaped = None;
                state.push_history(format!("CMD [{}]", go_quote_list(&args)), true);
            }
            Command::Entrypoint(line) => {
                let args = self.command_args(state, line);
                state.config_mut().entrypoint = (!args.is_empty()).then(|| args.clone());
                if !state.cmd_set {
                    state.config_mut().cmd = None;
                }
                state.push_history(format!("ENTRYPOINT [{}]", go_quote_list(&args)), true);
            }
            Command::Healthcheck(check) => {
                let value = self.healthcheck(state, check);
                let shown = healthcheck_history(&value);
                state.config_mut().healthcheck = Some(value);
                state.push_history(shown, true);
            }
        }
        Ok(())
    }

    /// CMD/ENTRYPOINT/HEALTHCHECK argv: exec form as is, shell form through the stage's SHELL.
    fn command_args(&self, state: &ImageState, line: &CommandLine) -> Vec<String> {
        match line {
            CommandLine::Exec(args) => args.clone(),
            CommandLine::Shell(text) => {
                let mut args = state.shell();
                args.push(text.clone());
                args
            }
        }
    }

    fn healthcheck(&self, _state: &ImageState, check: &Healthcheck) -> Value {
        let mut map = serde_json::Map::new();
        match check {
            Healthcheck::None => {
                map.insert("Test".into(), Value::from(vec!["NONE"]));
            }
            Healthcheck::Check {
                command,
                interval,
                timeout,
                start_period,
                start_interval,
                retries,
            } => {
                let test: Vec<String> = match command {
                    CommandLine::Exec(args) => std::iter::once("CMD".to_owned())
                        .chain(args.iter().cloned())
                        .collect(),
                    CommandLine::Shell(text) => vec!["CMD-SHELL".to_owned(), text.clone()],
                };
                map.insert("Test".into(), Value::from(test));
                for (key, value) in [
                    ("Interval", interval),
                    ("Timeout", timeout),
                    ("StartPeriod", start_period),
                    ("StartInterval", start_interval),
                ] {
                    if let Some(v) = value.filter(|v| *v != 0) {
                        map.insert(key.into(), Value::from(v));
                    }
                }
                if let Some(r) = retries.filter(|r| *r != 0) {
                    map.insert("Retries".into(), Value::from(r));
                }
            }
        }
        Value::Object(map)
    }

    /// Sets the state's time for a step that ran (`None`) or hit the cache (the record's creation, Unix
    /// nanoseconds); SOURCE_DATE_EPOCH fixes it.
    pub(crate) fn stamp(&self, state: &mut ImageState, cached: Option<i64>) {
        state.time = if self.opts.source_date_epoch.is_some() {
            self.created.clone()
        } else {
            let when = cached.map_or_else(chrono::Utc::now, chrono::DateTime::from_timestamp_nanos);
            hoist_render_time(&when)
        };
    }

    /// Looks up a cached step unless the cache is off for this stage.
    pub(crate) fn cache_lookup(
        &self,
        stage_index: usize,
        key: &Digest,
    ) -> Result<Option<BuildCacheRecord>, BuildError> {
        self.used_keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(key.clone());
        if self.opts.no_cache {
            return Ok(None);
        }
        if let Some(name) = &self.dockerfile.stages[stage_index].name
            && self
                .opts
                .no_cache_filter
                .iter()
                .any(|f| f.eq_ignore_ascii_case(name))
        {
            return Ok(None);
        }
        Ok(self.store.build_cache_hit(key)?)
    }

    /// The root view of a state's layers (unpacking any not yet unpacked).
    pub(crate) fn root_view(&self, state: &ImageState) -> Result<RootView, BuildError> {
        let mut lowers = self.store.unpack_layers(&state.layers)?;
        lowers.reverse();
        Ok(RootView { lowers })
    }

    /// Writes the final image: config, manifest, record. Applies `--label` and `--squash`.
    fn export(mut self, mut state: ImageState) -> Result<BuildResult, BuildError> {
        let vertex = self.vertex("exporting to image".to_owned());
        for (key, value) in &self.opts.labels {
            state
                .config_mut()
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert(key.clone(), value.clone());
        }
        if self.opts.squash && state.layers.len() > state.base_layers + 1 {
            crate::squash::squash(&self, &mut state)?;
        }
        state.image.created = Some(state.time.clone());
        if state
            .image
            .config
            .as_ref()
            .is_some_and(|c| c.on_build.as_ref().is_some_and(Vec::is_empty))
        {
            state.config_mut().on_build = None;
        }
        if self
            .opts
            .cache_to
            .contains(&crate::cache_io::CacheLocation::Inline)
        {
            let keys = self
                .used_keys
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let records =
                crate::cache_io::inline_records(self.store, &keys, &state.image.rootfs.diff_ids)?;
            state
                .image
                .extra
                .insert(crate::cache_io::INLINE_KEY.to_owned(), records);
        }
        let image: &ImageConfig = &state.image;
        let bytes = serde_json::to_vec(image)
            .map_err(|e| BuildError::Layer(format!("cannot encode the image config: {e}")))?;
        let raw = RawConfig::parse(bytes)
            .map_err(|e| BuildError::Layer(format!("cannot encode the image config: {e}")))?;
        let manifest = hoist_archive::record::synthesize_annotated_manifest(
            &raw,
            state.layers.iter(),
            self.opts.annotations.clone(),
        );
        vertex.status("exporting layers done");
        let guard = self.store.write_guard()?;
        self.store.put_blob(&raw.bytes)?;
        self.store.put_blob(&manifest.bytes)?;
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        let record: ImageRecord =
            hoist_archive::record::image_record(&raw, &manifest, state.layers.clone(), now);
        self.store.put_image(&guard, &record)?;
        drop(guard);
        vertex.status(format!("writing image {} done", raw.digest));
        let warnings = std::mem::take(&mut self.warnings);
        vertex.done();
        let keys = std::mem::take(
            &mut *self
                .used_keys
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for location in &self.opts.cache_to {
            let crate::cache_io::CacheLocation::Local(dir) = location else {
                continue;
            };
            let export = self.vertex(format!(
                "exporting cache to client directory {}",
                dir.display()
            ));
            let written = crate::cache_io::export(self.store, &keys, dir)?;
            export.status(format!("{written} records"));
            export.done();
        }
        Ok(BuildResult {
            image: raw.digest,
            record,
            warnings,
        })
    }
}

/// BuildKit's history text for HEALTHCHECK: Go's `%v` of the config struct, `&{["CMD" "x"] "5s" "2s"
/// "1s" "0s" '\x04'}` (test, interval, timeout, start period, start interval, retries as a rune).
fn healthcheck_history(value: &Value) -> String {
    let test: Vec<String> = value["Test"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| hoist_dockerfile::go_quote(v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let duration = |key: &str| format!("\"{}\"", go_duration(value[key].as_i64().unwrap_or(0)));
    let retries = value["Retries"].as_i64().unwrap_or(0);
    format!(
        "HEALTHCHECK &{{[{}] {} {} {} {} {}}}",
        test.join(" "),
        duration("Interval"),
        duration("Timeout"),
        duration("StartPeriod"),
        duration("StartInterval"),
        go_quote_rune(retries)
    )
}

/// Go's `time.Duration.String`: `0s`, `1.5s`, `1m30s`, `2h0m0s`, `500ms`, `1.5µs`, `10ns`.
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let negative = nanos < 0;
    let n = nanos.unsigned_abs();
    let trim = |whole: u64, frac: u64, digits: usize| {
        let mut text = whole.to_string();
        if frac > 0 {
            let f = format!("{frac:0digits$}");
            text.push('.');
            text.push_str(f.trim_end_matches('0'));
        }
        text
    };
    let body = if n < 1_000 {
        format!("{n}ns")
    } else if n < 1_000_000 {
        format!("{}µs", trim(n / 1_000, n % 1_000, 3))
    } else if n < 1_000_000_000 {
        format!("{}ms", trim(n / 1_000_000, n % 1_000_000, 6))
    } else {
        let secs = n / 1_000_000_000;
        let frac = n % 1_000_000_000;
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        let seconds = format!("{}s", trim(s, frac, 9));
        if h > 0 {
            format!("{h}h{m}m{seconds}")
        } else if m > 0 {
            format!("{m}m{seconds}")
        } else {
            seconds
        }
    };
    if negative { format!("-{body}") } else { body }
}

/// Go's `%q` of an integer printed as a rune: `'A'`, `'\x04'`, `'\x00'`.
fn go_quote_rune(value: i64) -> String {
    match u32::try_from(value).ok().and_then(char::from_u32) {
        Some('\'') => "'\\''".to_owned(),
        Some('\\') => "'\\\\'".to_owned(),
        Some(c) if (' '..='~').contains(&c) => format!("'{c}'"),
        Some(c) if u32::from(c) < 0x80 => format!("'\\x{:02x}'", u32::from(c)),
        Some(c) if !c.is_control() => format!("'{c}'"),
        Some(c) => format!("'\\u{:04x}'", u32::from(c)),
        None => "'\\ufffd'".to_owned(),
    }
}

/// EXPOSE's port spec to ExposedPorts keys: `80` → `80/tcp`, ranges expanded.
fn expose_keys(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = match spec.rsplit_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_owned()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    // An `ip:` prefix is not allowed in EXPOSE but Docker strips a host part; keep the port only.
    let ports = ports.rsplit(':').next().unwrap_or(ports);
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (a, b),
        None => (ports, ports),
    };
    let parse = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("invalid containerPort: {ports}"))
    };
    let (start, end) = (parse(start)?, parse(end)?);
    if end < start {
        return Err(format!(
            "invalid range specified for container port: {ports}"
        ));
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// Go's `%q`-free list printing BuildKit uses in history: `["node" "dist/main.js"]` → `"node" "dist/main.js"`.
fn go_quote_list(args: &[String]) -> String {
    args.iter()
        .map(|a| serde_json::to_string(a).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_history_is_gos_struct_print() {
        let value = serde_json::json!({"Test": ["CMD", "test", "-f", "/tmp/ok"], "Interval": 5_000_000_000i64, "Timeout": 2_000_000_000i64, "StartPeriod": 1_000_000_000i64, "Retries": 4});
        assert_eq!(
            healthcheck_history(&value),
            r#"HEALTHCHECK &{["CMD" "test" "-f" "/tmp/ok"] "5s" "2s" "1s" "0s" '\x04'}"#
        );
        let none = serde_json::json!({"Test": ["NONE"]});
        assert_eq!(
            healthcheck_history(&none),
            r#"HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" '\x00'}"#
        );
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(500_000_000), "500ms");
        assert_eq!(go_duration(7_200_000_000_000), "2h0m0s");
        assert_eq!(go_quote_rune(65), "'A'");
    }

    #[test]
    fn expose_keys_follow_docker() {
        assert_eq!(expose_keys("80").unwrap(), vec!["80/tcp"]);
        assert_eq!(expose_keys("53/udp").unwrap(), vec!["53/udp"]);
        assert_eq!(
            expose_keys("8000-8002").unwrap(),
            vec!["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert!(expose_keys("80/xyz").is_err());
        assert!(expose_keys("http").is_err());
    }
}
