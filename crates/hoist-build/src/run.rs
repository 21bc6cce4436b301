//! RUN: the command in a container on a snapshot of the stage's layers (hoist's own runtime, re-executed),
//! its output streamed as progress, its overlay upper directory turned into the step's layer and adopted
//! as that layer's snapshot, so the next step mounts it without unpacking anything.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use hoist_dockerfile::{CommandLine, Instruction, MountKind, Run};
use hoist_runtime::{BindMount, ContainerSpec, NetworkMode, Rootfs, Stdio3};
use hoist_store::{BuildCacheRecord, RootfsLayout};
use sha2::{Digest as _, Sha256};

use crate::error::{BuildError, io_error};
use crate::executor::Builder;
use crate::rootview::clean_abs;
use crate::state::ImageState;

/// A RUN's fully resolved inputs (what its cache key is made of, secrets aside).
struct RunPlan {
    argv: Vec<String>,
    env: Vec<String>,
    /// `K=V` of the build args the command sees, for the history's `|N K=V` prefix.
    args_shown: Vec<String>,
    user: String,
    cwd: String,
    network: NetworkMode,
    mounts: Vec<PlannedMount>,
    /// `RUN --security=insecure` (allowed by `--allow security.insecure`): no confinement.
    insecure: bool,
}

enum PlannedMount {
    Cache {
        target: String,
        id: String,
    },
    Secret {
        target: String,
        id: String,
        required: bool,
        env: Option<String>,
    },
    Tmpfs {
        target: String,
        size: Option<u64>,
    },
    Bind {
        target: String,
        source: PathBuf,
        read_only: bool,
        identity: String,
    },
}

fn random_id() -> String {
    let mut bytes = [0u8; 8];
    let seed = format!(
        "{:?}{}{:?}",
        std::time::SystemTime::now(),
        std::process::id(),
        std::thread::current().id()
    );
    bytes.copy_from_slice(&Sha256::digest(seed.as_bytes())[..8]);
    hex::encode(bytes)
}

impl Builder<'_> {
    pub(crate) fn run(
        &mut self,
        state: &mut ImageState,
        stage_index: usize,
        instruction: &Instruction,
        run: &Run,
    ) -> Result<(), BuildError> {
        let plan = self.plan_run(state, instruction, run)?;
        let created_by = {
            let mut text = String::from("RUN ");
            if !plan.args_shown.is_empty() {
                text.push_str(&format!(
                    "|{} {} ",
                    plan.args_shown.len(),
                    plan.args_shown.join(" ")
                ));
            }
            text.push_str(&plan.argv.join(" "));
            text.push_str(" # buildkit");
            text
        };
        let key = self.run_key(state, &plan);
        let name = self.step_name(&instruction.source);
        let vertex = self.vertex(name.clone());
        if let Some(hit) = self.cache_lookup(stage_index, &key)? {
            self.stamp(state, Some(hit.created));
            match hit.layer {
                Some(layer) => {
                    state.push_layer(layer);
                    state.push_history(created_by, false);
                }
                None => state.push_history(created_by, true),
            }
            vertex.cached();
            return Ok(());
        }
        let id = format!("{}{}", hoist_store::BUILD_SNAPSHOT_PREFIX, random_id());
        // Held for the whole step: GC (which takes the lock exclusively) never runs beside a RUN, so a
        // build snapshot it finds is the leftover of an interrupted build and can go.
        let step_guard = self.store.write_guard()?;
        let outcome = self.execute(state, instruction, &plan, &id, &vertex);
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        let result = outcome.and_then(|upper| self.commit_run(state, &id, upper, &key, &name, now));
        let _ = self.store.remove_container_snapshot(&id);
        drop(step_guard);
        match result {
            Ok(empty) => {
                self.stamp(state, Some(now));
                state.push_history(created_by, empty);
                vertex.done();
                Ok(())
            }
            Err(e) => {
                vertex.failed(match &e {
                    BuildError::RunFailed { command, code, .. } => format!(
                        "process \"{command}\" did not complete successfully: exit code: {code}"
                    ),
                    other => other.to_string(),
                });
                Err(e)
            }
        }
    }

    fn plan_run(
        &mut self,
        state: &ImageState,
        instruction: &Instruction,
        run: &Run,
    ) -> Result<RunPlan, BuildError> {
        let argv = match &run.command {
            CommandLine::Exec(args) => args.clone(),
            CommandLine::Shell(text) => {
                let mut script = text.clone();
                let only_heredoc = run.heredocs.len() == 1
                    && text
                        .trim()
                        .trim_start_matches("<<-")
                        .trim_start_matches("<<")
                        .trim_matches(|c| c == '"' || c == '\'')
                        == run.heredocs[0].name;
                if only_heredoc {
                    script = run.heredocs[0].content.clone();
                } else {
                    for heredoc in &run.heredocs {
                        script.push('\n');
                        script.push_str(&heredoc.content);
                        script.push_str(&heredoc.name);
                    }
                }
                let mut argv = state.shell();
                argv.push(script);
                argv
            }
        };
        // The command sees the image's Env plus the stage's ARGs (ENV wins on a clash); proxy args too.
        let mut env: Vec<String> = state.config().env.clone().unwrap_or_default();
        // As BuildKit: a command always has a PATH, the default when the image sets none.
        if state.env_value("PATH").is_none() {
            env.push(crate::state::DEFAULT_PATH.to_owned());
        }
        let mut args_shown = Vec::new();
        // History lists every ARG declared in the stage, in order, unset ones as `NAME=` (BuildKit's
        // `|N K=V` prefix); the command's environment gets those with a value.
        for name in &state.arg_order {
            if state.env_value(name).is_some() {
                continue;
            }
            let value = state.args.get(name).cloned().flatten();
            args_shown.push(format!("{name}={}", value.clone().unwrap_or_default()));
            if let Some(value) = value {
                env.push(format!("{name}={value}"));
            }
        }
        for proxy in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "FTP_PROXY",
            "ftp_proxy",
            "NO_PROXY",
            "no_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            if let Some(value) = self.opts.build_args.get(proxy)
                && !state.args.contains_key(proxy)
                && state.env_value(proxy).is_none()
            {
                env.push(format!("{proxy}={value}"));
            }
        }
        let network_choice = run
            .network
            .clone()
            .or_else(|| self.opts.network.clone())
            .unwrap_or_else(|| "default".to_owned());
        let network = match network_choice.as_str() {
            "none" => NetworkMode::Isolated,
            "default" | "host" => NetworkMode::Host,
            other => {
                return Err(self.step_error(
                    instruction,
                    format!("unsupported network mode {other:?} (default, none, host)"),
                ));
            }
        };
        if run.security.as_deref() == Some("insecure")
            && !self
                .opts
                .entitlements
                .iter()
                .any(|e| e == "security.insecure")
        {
            return Err(self.step_error(
                instruction,
                "RUN --security=insecure needs --allow security.insecure",
            ));
        }
        check_platform(&state.platform).map_err(|m| self.step_error(instruction, m))?;
        let cwd = state.workdir();
        let mut mounts = Vec::new();
        for mount in &run.mounts {
            let target = mount.target.as_deref().map(|t| clean_abs(&cwd, t));
            match mount.kind {
                MountKind::Cache => {
                    let target = target.ok_or_else(|| {
                        self.step_error(instruction, "mount type=cache needs a target")
                    })?;
                    let id = mount.id.clone().unwrap_or_else(|| target.clone());
                    mounts.push(PlannedMount::Cache { target, id });
                }
                MountKind::Secret => {
                    let id = mount
                        .id
                        .clone()
                        .or_else(|| {
                            mount
                                .target
                                .as_ref()
                                .and_then(|t| t.rsplit('/').next().map(str::to_owned))
                        })
                        .ok_or_else(|| {
                            self.step_error(
                                instruction,
                                "mount type=secret needs an id or a target",
                            )
                        })?;
                    let target = target.unwrap_or_else(|| format!("/run/secrets/{id}"));
                    mounts.push(PlannedMount::Secret {
                        target,
                        id,
                        required: mount.required,
                        env: mount.env.clone(),
                    });
                }
                MountKind::Bind => {
                    let target = target.ok_or_else(|| {
                        self.step_error(instruction, "mount type=bind needs a target")
                    })?;
                    let source_rel = mount.source.clone().unwrap_or_else(|| "/".to_owned());
                    let (source, identity) = match &mount.from {
                        None => {
                            let rel = clean_abs("/", &source_rel);
                            let path = self.context.root().join(rel.trim_start_matches('/'));
                            let digest = self.context.checksum(rel.trim_start_matches('/'))?;
                            (path, format!("context:{rel}:{digest}"))
                        }
                        Some(from) => {
                            let index = self
                                .stage_ref(from, usize::MAX)
                                .ok_or_else(|| self.step_error(instruction, format!("mount from={from}: only build stages are supported as sources")))?;
                            let other = self.finished.get(&index).cloned().ok_or_else(|| {
                                self.step_error(instruction, format!("stage {from} is not built"))
                            })?;
                            let view = self.root_view(&other)?;
                            let resolved = view.resolve(&source_rel, true)?;
                            let (host, _) = view.entry(&resolved)?.ok_or_else(|| {
                                self.step_error(
                                    instruction,
                                    format!("mount source {source_rel} not found in stage {from}"),
                                )
                            })?;
                            (host, format!("stage:{}:{resolved}", other.fs_key()))
                        }
                    };
                    // Writes to a bind mount are discarded in BuildKit; hoist mounts it read-only.
                    let read_only = true;
                    mounts.push(PlannedMount::Bind {
                        target,
                        source,
                        read_only,
                        identity,
                    });
                }
                MountKind::Tmpfs => {
                    let target = target.ok_or_else(|| {
                        self.step_error(instruction, "mount type=tmpfs needs a target")
                    })?;
                    mounts.push(PlannedMount::Tmpfs {
                        target,
                        size: mount.size,
                    });
                }
                MountKind::Ssh => {
                    return Err(self.step_error(
                        instruction,
                        "RUN --mount=type=ssh is not supported by hoist yet (no --ssh agent forwarding)",
                    ));
                }
            }
        }
        Ok(RunPlan {
            argv,
            env,
            args_shown,
            user: state.user(),
            cwd,
            network,
            mounts,
            insecure: run.security.as_deref() == Some("insecure"),
        })
    }

    fn run_key(&self, state: &ImageState, plan: &RunPlan) -> hoist_spec::Digest {
        let mut text = format!(
            "run\nfs {}\nuser {}\ncwd {}\nnet {:?}\n",
            state.fs_key(),
            plan.user,
            plan.cwd,
            plan.network
        );
        for arg in &plan.argv {
            text.push_str(&format!(
                "arg {}\n",
                serde_json::to_string(arg).unwrap_or_default()
            ));
        }
        for env in &plan.env {
            text.push_str(&format!(
                "env {}\n",
                serde_json::to_string(env).unwrap_or_default()
            ));
        }
        for mount in &plan.mounts {
            match mount {
                PlannedMount::Cache { target, id } => {
                    text.push_str(&format!("cache {id} {target}\n"))
                }
                // The secret's name and place, never its value.
                PlannedMount::Secret {
                    target, id, env, ..
                } => {
                    text.push_str(&format!("secret {id} {target} {env:?}\n"));
                }
                PlannedMount::Tmpfs { target, size } => {
                    text.push_str(&format!("tmpfs {target} {size:?}\n"));
                }
                PlannedMount::Bind {
                    target, identity, ..
                } => {
                    text.push_str(&format!("bind {identity} {target}\n"));
                }
            }
        }
        hoist_spec::Digest::of(text.as_bytes())
    }

    /// Runs the command; returns the snapshot's upper directory (overlay) or root (vfs).
    fn execute(
        &mut self,
        state: &ImageState,
        instruction: &Instruction,
        plan: &RunPlan,
        id: &str,
        vertex: &crate::executor::Vertex<'_>,
    ) -> Result<PathBuf, BuildError> {
        let layout = self
            .store
            .create_snapshot_on_layers(id, &state.layers, self.driver)?;
        let work_parent = self.store.root().join("build");
        std::fs::create_dir_all(&work_parent)
            .map_err(io_error("create directory", &work_parent))?;
        let work = tempfile::Builder::new()
            .prefix(".tmp-run-")
            .tempdir_in(&work_parent)
            .map_err(io_error("create a temporary directory in", &work_parent))?;
        let hosts = work.path().join("hosts");
        let mut hosts_text = String::from(
            "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        );
        for entry in &self.opts.add_hosts {
            if let Some((host, ip)) = entry.split_once(':').or_else(|| entry.split_once('=')) {
                hosts_text.push_str(&format!("{ip}\t{host}\n"));
            }
        }
        std::fs::write(&hosts, hosts_text).map_err(io_error("write", &hosts))?;
        let resolv = work.path().join("resolv.conf");
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        std::fs::write(&resolv, host_resolv).map_err(io_error("write", &resolv))?;
        let mut mounts = vec![
            BindMount {
                source: resolv,
                destination: "/etc/resolv.conf".into(),
                read_only: false,
                copy_up: false,
            },
            BindMount {
                source: hosts,
                destination: "/etc/hosts".into(),
                read_only: false,
                copy_up: false,
            },
        ];
        let mut env = plan.env.clone();
        let mut tmpfs = Vec::new();
        let mut stubs = vec!["/etc/resolv.conf".to_owned(), "/etc/hosts".to_owned()];
        for mount in &plan.mounts {
            match mount {
                PlannedMount::Cache { target, id } => {
                    let dir = self.cache_mount_dir(id);
                    std::fs::create_dir_all(&dir).map_err(io_error("create directory", &dir))?;
                    mounts.push(BindMount {
                        source: dir,
                        destination: target.clone(),
                        read_only: false,
                        copy_up: false,
                    });
                    stubs.push(target.clone());
                }
                PlannedMount::Secret {
                    target,
                    id,
                    required,
                    env: as_env,
                } => {
                    let Some(value) = self.opts.secrets.get(id) else {
                        if *required {
                            return Err(
                                self.step_error(instruction, format!("secret {id} not found"))
                            );
                        }
                        continue;
                    };
                    if let Some(name) = as_env {
                        env.push(format!("{name}={}", String::from_utf8_lossy(value)));
                        continue;
                    }
                    let file = work.path().join(format!("secret-{}", stubs.len()));
                    write_private(&file, value)?;
                    mounts.push(BindMount {
                        source: file,
                        destination: target.clone(),
                        read_only: true,
                        copy_up: false,
                    });
                    stubs.push(target.clone());
                }
                PlannedMount::Tmpfs { target, size } => {
                    tmpfs.push(hoist_runtime::TmpfsMount {
                        destination: target.clone(),
                        size: *size,
                        options: Vec::new(),
                    });
                    stubs.push(target.clone());
                }
                PlannedMount::Bind {
                    target,
                    source,
                    read_only,
                    ..
                } => {
                    mounts.push(BindMount {
                        source: source.clone(),
                        destination: target.clone(),
                        read_only: *read_only,
                        copy_up: false,
                    });
                    stubs.push(target.clone());
                }
            }
        }
        let (rootfs, upper) = match layout {
            RootfsLayout::Overlay {
                lowers,
                upper,
                work,
            } => (
                Rootfs::Overlay {
                    lowers,
                    upper: upper.clone(),
                    work,
                },
                upper,
            ),
            RootfsLayout::Directory(dir) => (Rootfs::Directory(dir.clone()), dir),
        };
        // Mount targets that do not exist yet appear in the upper directory; remember which so they can
        // be removed afterwards, as BuildKit does.
        let view = self.root_view(state)?;
        let mut created_stubs = Vec::new();
        for stub in stubs.iter().skip(2) {
            if view.entry(stub)?.is_none() {
                created_stubs.push(stub.clone());
            }
        }
        let mount_point = work.path().join("rootfs");
        std::fs::create_dir(&mount_point).map_err(io_error("create directory", &mount_point))?;
        let spec = ContainerSpec {
            rootfs,
            mount_point,
            args: plan.argv.clone(),
            env,
            cwd: plan.cwd.clone(),
            user: plan.user.clone(),
            hostname: "buildkitsandbox".to_owned(),
            network: plan.network,
            mounts,
            tmpfs,
            shm_size: self.opts.shm_size,
            ulimits: self.opts.ulimits.clone(),
            cpu_shares: self.opts.cpu_shares,
            tty: false,
            memory_limit: self.opts.memory,
            cpu_quota: self.opts.cpu_quota,
            cgroup_name: format!("hoist-{id}"),
            // A RUN step is confined as a container is, as BuildKit confines it.
            confinement: if plan.insecure {
                hoist_runtime::Confinement::privileged()
            } else {
                hoist_runtime::Confinement::default()
            },
            slirp: None,
            join: None,
            extra_groups: Vec::new(),
            host_namespaces: Vec::new(),
        };
        let spec_file = work.path().join("spec.json");
        spec.save(&spec_file)?;
        let (reader, writer) =
            std::io::pipe().map_err(io_error("create a pipe for", work.path()))?;
        let writer2 = writer
            .try_clone()
            .map_err(io_error("create a pipe for", work.path()))?;
        let stdio = Stdio3 {
            stdin: Stdio::null(),
            stdout: Stdio::from(writer),
            stderr: Stdio::from(writer2),
        };
        let command = plan.argv.join(" ");
        let started = hoist_runtime::start(&self.opts.self_exe, &spec_file, stdio);
        let running = match started {
            Ok(r) => r,
            Err(hoist_runtime::RuntimeError::Start(failure)) => {
                vertex.output(failure.to_string());
                return Err(BuildError::RunFailed {
                    command,
                    code: failure.exit_code(),
                    file: self.file().to_owned(),
                    line: instruction.span.line,
                    instruction: instruction.source.clone(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let mut tail: Vec<String> = Vec::new();
        for line in BufReader::new(reader).split(b'\n') {
            let Ok(line) = line else { break };
            let text = String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_owned();
            tail.push(text.clone());
            vertex.output(text);
        }
        let status = running.wait()?;
        if status.code != 0 {
            return Err(BuildError::RunFailed {
                command,
                code: status.code,
                file: self.file().to_owned(),
                line: instruction.span.line,
                instruction: instruction.source.clone(),
            });
        }
        remove_stubs(&upper, &created_stubs);
        Ok(upper)
    }

    fn cache_mount_dir(&self, id: &str) -> PathBuf {
        let digest = hoist_spec::Digest::of(id.as_bytes());
        self.store
            .root()
            .join("build")
            .join("cache-mounts")
            .join(&digest.hex()[..32])
    }

    /// The RUN's changes become a layer; an overlay upper directory becomes that layer's snapshot.
    fn commit_run(
        &mut self,
        state: &mut ImageState,
        id: &str,
        upper: PathBuf,
        key: &hoist_spec::Digest,
        name: &str,
        now: i64,
    ) -> Result<bool, BuildError> {
        let changes = self.store.container_changes(id)?;
        let mut record = BuildCacheRecord {
            key: key.clone(),
            kind: "regular".to_owned(),
            description: name.to_owned(),
            layer: None,
            size: 0,
            chain: None,
            created: now,
            last_used: now,
            usage_count: 1,
        };
        if changes.is_empty() {
            let guard = self.store.write_guard()?;
            self.store.put_build_cache(&guard, &record)?;
            return Ok(true);
        }
        if let Some(epoch) = self.opts.source_date_epoch {
            crate::layers::clamp_mtimes(&upper, epoch)?;
        }
        let overlay = self.driver == hoist_store::StorageDriver::Overlay2;
        let pending = if overlay {
            crate::layers::tar_overlay_diff(self.store, &upper)?
        } else {
            let ingest = self.store.ingest()?;
            let pending = self.store.write_container_diff(id, ingest)?.finish()?;
            let size = self.store.container_sizes(id)?.0;
            crate::layers::PendingLayer {
                record: hoist_store::LayerRecord {
                    diff_id: pending.digest().clone(),
                    blob: pending.digest().clone(),
                    media_type: hoist_spec::media_type::OCI_LAYER.to_owned(),
                    blob_size: pending.size(),
                    size,
                },
                pending,
            }
        };
        let layer = pending.record.clone();
        let chain = state.chain_with(&layer);
        let guard = self.store.write_guard()?;
        pending
            .pending
            .commit(Some(&layer.blob), Some(layer.blob_size))?;
        if overlay {
            self.store.adopt_layer_snapshot(&upper, &chain)?;
        }
        record.size = layer.size;
        record.layer = Some(layer.clone());
        record.chain = Some(chain);
        self.store.put_build_cache(&guard, &record)?;
        drop(guard);
        state.push_layer(layer);
        Ok(false)
    }
}

/// qemu's name for an architecture, as binfmt_misc handlers are named (`qemu-aarch64`).
fn qemu_arch(platform: &hoist_spec::Platform) -> &str {
    match (platform.architecture.as_str(), platform.variant.as_deref()) {
        ("amd64", _) => "x86_64",
        ("386", _) => "i386",
        ("arm64", _) => "aarch64",
        ("arm", _) => "arm",
        ("ppc64le", _) => "ppc64le",
        ("s390x", _) => "s390x",
        ("riscv64", _) => "riscv64",
        ("mips64le", _) => "mips64el",
        ("loong64", _) => "loongarch64",
        (other, _) => other,
    }
}

/// A RUN for another architecture needs the kernel to run its binaries: a binfmt_misc handler (Debian's
/// qemu-user-static registers them). Without one, say so instead of failing with "exec format error".
fn check_platform(platform: &hoist_spec::Platform) -> Result<(), String> {
    let host = hoist_spec::Platform::host();
    if platform.architecture == host.architecture
        || (host.architecture == "amd64" && platform.architecture == "386")
    {
        return Ok(());
    }
    let arch = qemu_arch(platform);
    let handlers = Path::new("/proc/sys/fs/binfmt_misc");
    let enabled = std::fs::read_dir(handlers)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(arch))
        .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|text| text.starts_with("enabled")));
    if enabled {
        Ok(())
    } else {
        Err(format!(
            "RUN for {}/{} on this {}/{} host needs a binfmt_misc handler for {arch} \
             (install qemu-user-static and make sure /proc/sys/fs/binfmt_misc/qemu-{arch} is enabled)",
            platform.os, platform.architecture, host.os, host.architecture
        ))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file: File = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(path)
        .map_err(io_error("create", path))?;
    file.write_all(bytes).map_err(io_error("write", path))
}

/// Removes mount targets the runtime created in the writable layer (empty files and directories only),
/// and then parents left empty that did not exist before.
fn remove_stubs(upper: &Path, stubs: &[String]) {
    for stub in stubs {
        let path = upper.join(stub.trim_start_matches('/'));
        let removed = match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir(&path).is_ok(),
            Ok(meta) if meta.is_file() && meta.len() == 0 => std::fs::remove_file(&path).is_ok(),
            _ => false,
        };
        if removed {
            let mut parent = path.parent();
            while let Some(dir) = parent {
                if dir == upper || std::fs::remove_dir(dir).is_err() {
                    break;
                }
                parent = dir.parent();
            }
        }
    }
}
