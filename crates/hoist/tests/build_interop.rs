//! `hoist build` against the Docker Engine's own builders: the same Dockerfiles, over the same busybox
//! image (made in code, loaded into both stores with the same image ID), built with BuildKit
//! (`DOCKER_BUILDKIT=1 docker build`), with the legacy builder (`DOCKER_BUILDKIT=0`) and with hoist.
//! Compared: the files of a container created from each image (`export`, without what the runtime adds),
//! the config `image inspect` shows, the history the saved config holds (BuildKit's `created_by` exactly;
//! the legacy builder's, which reads `/bin/sh -c #(nop) …`, by count and empty-layer pattern only) and
//! the number of layers; the image hoist built, saved and loaded into Docker, runs there and prints what
//! the Docker-built one prints.
//!
//! The rule: where Docker's two builders agree, hoist must give the same; where they differ, hoist
//! follows BuildKit (what `docker build` is today). Every mismatch is listed with the Dockerfile's name,
//! the key and each builder's value before the test fails. Differences between Docker's two builders,
//! and where Docker 20.10's BuildKit differs from current BuildKit (which hoist may follow: `ARG`'s
//! value and HEALTHCHECK's StartInterval in `created_by`), are printed, not failed.
//!
//! The engine's BuildKit is reached through a CLI that still speaks to it without the buildx plugin
//! (Debian's 20.10 `docker`, also when a newer CLI comes first on PATH); without one, the legacy builder
//! is the reference, its known departures from BuildKit accepted. Docker 20.10 has no heredocs: that
//! test skips. Needs root (hoist's RUN) and a Docker Engine (scripts/peers.sh start); each test skips
//! with the reason printed otherwise. What a test adds to the engine (images by ID, containers with
//! their volumes) is removed when it ends, also when it fails; something else removing images from the
//! same engine meanwhile (bench/build.sh does) makes it fail.
//!
//! `HOIST_INTEROP_DUMP=1` prints every builder's files, config and history; `HOIST_INTEROP_BUILDKIT=none`
//! compares with the legacy builder only, `=PATH` names the Docker CLI to build with BuildKit.

#![allow(
    clippy::print_stderr,
    reason = "the comparisons print what differs without failing, and why a test skips"
)]

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::hoist;
use hoist_layer::builder::LayerBuilder;
use hoist_spec::Digest;
use hoist_test_support::cli::{TestHoist, path_str};
use hoist_test_support::fixtures::{ImageFixture, busybox_layer, docker_archive};
use hoist_test_support::peers::{docker_available, skip};
use serde_json::Value;

/// busybox applets linked next to `bin/sh` (busybox picks the applet from argv[0]).
const APPLETS: &[&str] = &[
    "cat", "chmod", "echo", "env", "id", "ln", "ls", "mkdir", "pwd", "rm", "stat", "test", "touch",
    "true", "wc",
];

/// What the runtime adds to a container's filesystem at create time, left out of the comparison.
const RUNTIME_FILES: &[&str] = &[
    ".dockerenv",
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
    "etc/mtab",
];
const RUNTIME_TREES: &[&str] = &["proc", "sys", "dev"];

/// busybox with its applets; `/etc/passwd` with `app` (1000:1000) and `svc` (1001, primary group
/// `staff` 50); `/tmp`. A label naming the test makes the image ID differ from test to test, so each
/// test can remove its base image by ID without touching another's.
fn base_image(tag: &str, test: &str) -> Option<ImageFixture> {
    let mut second = LayerBuilder::new().dir("bin", 0o755);
    for applet in APPLETS {
        second = second.symlink(format!("bin/{applet}"), "busybox");
    }
    let second = second
        .dir("etc", 0o755)
        .file(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nsvc:x:1001:50:svc:/srv:/bin/sh\n",
            0o644,
        )
        .file("etc/group", "root:x:0:\nstaff:x:50:\napp:x:1000:\n", 0o644)
        .dir("tmp", 0o1777)
        .build();
    Some(
        ImageFixture::new(vec![busybox_layer()?, second])
            .tag(tag)
            .label("org.hoist.interop.test", test),
    )
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

// ---------------------------------------------------------------------------------------------------
// Running the peers

#[derive(Debug)]
struct Out {
    status: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Out {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

fn exec(program: &str, env: &[(&str, &str)], args: &[&str]) -> Out {
    match Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) => Out {
            status: o.status.code().unwrap_or(-1),
            stdout: o.stdout,
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        },
        Err(e) => Out {
            status: -1,
            stdout: Vec::new(),
            stderr: format!("running {program}: {e}"),
        },
    }
}

/// Runs the Docker CLI and requires success; returns stdout.
fn docker(args: &[&str]) -> String {
    let o = exec("docker", &[], args);
    assert_eq!(o.status, 0, "docker {args:?} failed: {}", o.stderr);
    o.text()
}

fn docker_bytes(args: &[&str]) -> Vec<u8> {
    let o = exec("docker", &[], args);
    assert_eq!(o.status, 0, "docker {args:?} failed: {}", o.stderr);
    o.stdout
}

fn hoist_bytes(h: &TestHoist, args: &[&str]) -> Vec<u8> {
    let o = match h.command().args(args).output() {
        Ok(o) => o,
        Err(e) => panic!("running hoist {args:?}: {e}"),
    };
    assert!(
        o.status.success(),
        "hoist {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// The Docker CLI that builds with the engine's BuildKit: `docker` when it can (buildx, or an older
/// CLI), else Debian's 20.10 CLI at `/usr/bin/docker`, which speaks to the engine's BuildKit itself
/// (newer CLIs refuse `DOCKER_BUILDKIT=1` without the buildx plugin). Probed once with a build that
/// writes to a local directory, so no image is left in the engine. `Err` holds why none can.
fn buildkit_client() -> &'static Result<String, String> {
    static CLIENT: OnceLock<Result<String, String>> = OnceLock::new();
    CLIENT.get_or_init(|| {
        // HOIST_INTEROP_BUILDKIT=none tries the legacy-builder-only comparison; =PATH names the CLI.
        let forced = std::env::var("HOIST_INTEROP_BUILDKIT").ok();
        if forced.as_deref() == Some("none") {
            return Err("HOIST_INTEROP_BUILDKIT=none".to_owned());
        }
        let Ok(dir) = tempfile::tempdir() else {
            return Err("no temp dir for the BuildKit probe".to_owned());
        };
        let ctx = dir.path().join("ctx");
        let dest = dir.path().join("out");
        if std::fs::create_dir(&ctx).is_err()
            || std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY Dockerfile /\n").is_err()
        {
            return Err("could not write the BuildKit probe".to_owned());
        }
        let output = format!("type=local,dest={}", dest.display());
        let mut reasons = Vec::new();
        let candidates = match &forced {
            Some(path) => vec![path.clone()],
            None => vec!["docker".to_owned(), "/usr/bin/docker".to_owned()],
        };
        for client in &candidates {
            let o = exec(
                client,
                &[("DOCKER_BUILDKIT", "1")],
                &["build", "-q", "-o", &output, path_str(&ctx)],
            );
            if o.status == 0 && dest.join("Dockerfile").is_file() {
                return Ok(client.clone());
            }
            reasons.push(format!(
                "{client}: {}",
                o.stderr.lines().next().unwrap_or_default()
            ));
        }
        Err(reasons.join("; "))
    })
}

// ---------------------------------------------------------------------------------------------------
// What is compared

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Builder {
    BuildKit,
    Legacy,
    Hoist,
}

impl Builder {
    fn name(self) -> &'static str {
        match self {
            Self::BuildKit => "buildkit",
            Self::Legacy => "legacy",
            Self::Hoist => "hoist",
        }
    }
}

/// One file of an exported container, as a line: kind, mode, owner, size, content digest, link target.
/// Hard links are shown as regular files naming the other paths of their group (which of them a tar
/// writes as the link differs between exporters).
#[derive(Debug, Clone)]
struct TarEntry {
    kind: char,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    digest: String,
    link: String,
}

impl std::fmt::Display for TarEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:04o} {}:{}",
            self.kind, self.mode, self.uid, self.gid
        )?;
        if self.kind == 'f' {
            write!(f, " {}B {}", self.size, &self.digest)?;
        }
        if !self.link.is_empty() {
            write!(f, " -> {}", self.link)?;
        }
        Ok(())
    }
}

fn normalise_path(name: &str) -> String {
    name.trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_owned()
}

fn is_runtime_file(path: &str) -> bool {
    RUNTIME_FILES.contains(&path)
        || RUNTIME_TREES
            .iter()
            .any(|t| path == *t || path.starts_with(&format!("{t}/")))
}

/// The files of an exported container, path to entry, without what the runtime adds.
fn export_entries(tar_bytes: &[u8]) -> BTreeMap<String, TarEntry> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut entries = BTreeMap::new();
    let mut hard_links: Vec<(String, String)> = Vec::new();
    for entry in archive.entries().expect("reading the exported tar") {
        let mut entry = entry.expect("reading an entry of the exported tar");
        let header = entry.header().clone();
        let path = normalise_path(&String::from_utf8_lossy(&entry.path_bytes()));
        if path.is_empty() || path == "." || is_runtime_file(&path) {
            continue;
        }
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .unwrap_or_default();
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => 'f',
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Link => {
                hard_links.push((path.clone(), normalise_path(&link)));
                'h'
            }
            tar::EntryType::Char => 'c',
            tar::EntryType::Block => 'b',
            tar::EntryType::Fifo => 'p',
            other => panic!("unexpected entry type {other:?} for {path} in an export"),
        };
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .expect("reading a file of the exported tar");
        entries.insert(
            path,
            TarEntry {
                kind,
                mode: header.mode().unwrap_or_default() & 0o7777,
                uid: header.uid().unwrap_or_default(),
                gid: header.gid().unwrap_or_default(),
                size: data.len() as u64,
                digest: Digest::of(&data)
                    .hex()
                    .get(..12)
                    .unwrap_or_default()
                    .to_owned(),
                link: if kind == 'h' { String::new() } else { link },
            },
        );
    }
    // Hard links: every path of a group becomes the regular file, naming the others.
    let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, target) in &hard_links {
        let root = {
            let mut t = target.clone();
            while let Some((_, next)) = hard_links.iter().find(|(p, _)| *p == t) {
                t.clone_from(next);
            }
            t
        };
        let group = groups.entry(root.clone()).or_default();
        group.insert(root);
        group.insert(path.clone());
    }
    for (root, group) in &groups {
        let Some(file) = entries.get(root).cloned() else {
            continue;
        };
        for path in group {
            let mut e = file.clone();
            e.link = format!(
                "hard links {}",
                group
                    .iter()
                    .filter(|p| *p != path)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(",")
            );
            entries.insert(path.clone(), e);
        }
    }
    entries
}

/// The `.Config` keys of `image inspect` that a Dockerfile sets.
const CONFIG_KEYS: &[&str] = &[
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Volumes",
    "Labels",
    "Healthcheck",
    "Shell",
    "StopSignal",
    "OnBuild",
];

/// The config blob of the first image in a docker-archive (`docker save`, `hoist save`).
fn saved_config(archive: &[u8]) -> Value {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries().expect("reading a saved image") {
        let mut entry = entry.expect("reading a saved image");
        let path = normalise_path(&String::from_utf8_lossy(&entry.path_bytes()));
        // Configs are small; layers (which may sit next to them as blobs) need not be read.
        if entry.header().size().unwrap_or(u64::MAX) < 1 << 20 {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("reading a saved image");
            files.insert(path, data);
        }
    }
    let manifest: Value = serde_json::from_slice(
        files
            .get("manifest.json")
            .expect("manifest.json in the archive"),
    )
    .expect("manifest.json");
    let config = manifest[0]["Config"]
        .as_str()
        .expect("Config in manifest.json");
    serde_json::from_slice(
        files
            .get(config)
            .expect("the config named by manifest.json"),
    )
    .expect("the config JSON")
}

/// BuildKit marks what it ran or copied with ` # buildkit`; that is not part of the comparison.
fn normalise_created_by(s: &str) -> String {
    s.strip_suffix(" # buildkit").unwrap_or(s).to_owned()
}

/// What one builder made of a Dockerfile: facts `key → value` that the builders are compared on
/// (`file <path>`, `config.<Key>`, `Author`, `layers`, `history` as the pattern of layer `L` and empty
/// `E` entries), and the history entries (`created_by`, marked when empty), compared with BuildKit's.
#[derive(Debug)]
struct Built {
    builder: Builder,
    image: String,
    id: String,
    facts: BTreeMap<String, String>,
    history: Vec<String>,
}

fn history_entries(config: &Value) -> Vec<String> {
    config["history"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|h| {
            let created_by = normalise_created_by(h["created_by"].as_str().unwrap_or_default());
            if h["empty_layer"].as_bool().unwrap_or(false) {
                format!("{created_by}  (empty layer)")
            } else {
                created_by
            }
        })
        .collect()
}

fn facts(
    inspect: &Value,
    config: &Value,
    files: &BTreeMap<String, TarEntry>,
) -> BTreeMap<String, String> {
    let mut facts = BTreeMap::new();
    for key in CONFIG_KEYS {
        let v = inspect["Config"].get(*key).cloned().unwrap_or(Value::Null);
        facts.insert(format!("config.{key}"), v.to_string());
    }
    facts.insert(
        "Author".to_owned(),
        inspect
            .get("Author")
            .cloned()
            .unwrap_or(Value::Null)
            .to_string(),
    );
    facts.insert(
        "layers".to_owned(),
        inspect["RootFS"]["Layers"]
            .as_array()
            .map_or(0, Vec::len)
            .to_string(),
    );
    let history = config["history"].as_array().cloned().unwrap_or_default();
    let pattern: String = history
        .iter()
        .map(|h| {
            if h["empty_layer"].as_bool().unwrap_or(false) {
                'E'
            } else {
                'L'
            }
        })
        .collect();
    facts.insert("history".to_owned(), pattern);
    for (path, entry) in files {
        facts.insert(format!("file /{path}"), entry.to_string());
    }
    facts
}

// ---------------------------------------------------------------------------------------------------
// The Dockerfiles

/// A Dockerfile and its context. In the Dockerfile, `@BASE@` stands for the busybox image and
/// `@PARENT@` for the image `parent` builds (with the same builder).
#[derive(Debug, Default)]
struct Case {
    name: &'static str,
    dockerfile: String,
    /// Context files: path, content, mode.
    files: Vec<(String, Vec<u8>, u32)>,
    /// Context symlinks (path, target) and empty directories (path, mode).
    links: Vec<(String, String)>,
    dirs: Vec<(String, u32)>,
    /// Extra `build` arguments (`--build-arg`, `--target`).
    args: Vec<String>,
    parent: Option<String>,
    /// `docker run --rm --network none OPTS IMAGE ARGS` and the stdout expected.
    runs: Vec<(Vec<String>, Vec<String>, String)>,
    /// The legacy builder cannot build it (a BuildKit-only flag).
    buildkit_only: bool,
    /// Keys (prefixes) whose difference is known and accepted, with the reason.
    accepted: Vec<(&'static str, &'static str)>,
}

impl Case {
    fn new(name: &'static str, dockerfile: &str) -> Self {
        Self {
            name,
            dockerfile: dockerfile.to_owned(),
            ..Self::default()
        }
    }

    fn file(mut self, path: &str, content: impl Into<Vec<u8>>, mode: u32) -> Self {
        self.files.push((path.to_owned(), content.into(), mode));
        self
    }

    /// Accepts a difference in the keys starting with `prefix`, for the reason given.
    #[allow(
        dead_code,
        reason = "for the differences that are found to be intended"
    )]
    fn accept(mut self, prefix: &'static str, why: &'static str) -> Self {
        self.accepted.push((prefix, why));
        self
    }

    fn symlink(mut self, path: &str, target: &str) -> Self {
        self.links.push((path.to_owned(), target.to_owned()));
        self
    }

    fn dir(mut self, path: &str, mode: u32) -> Self {
        self.dirs.push((path.to_owned(), mode));
        self
    }

    fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|&a| a.to_owned()));
        self
    }

    fn run(mut self, opts: &[&str], args: &[&str], expected: &str) -> Self {
        self.runs.push((
            opts.iter().map(|&a| a.to_owned()).collect(),
            args.iter().map(|&a| a.to_owned()).collect(),
            expected.to_owned(),
        ));
        self
    }
}

// ---------------------------------------------------------------------------------------------------
// One test's engine state

/// A private hoist store and the Docker Engine, both holding the same base image; what the test adds to
/// the engine is removed on drop.
#[derive(Debug)]
struct Interop {
    test: &'static str,
    h: TestHoist,
    base: String,
    /// Image IDs and containers made in the engine, in the order made.
    images: RefCell<Vec<String>>,
    containers: RefCell<Vec<String>>,
}

impl Drop for Interop {
    fn drop(&mut self) {
        for c in self.containers.borrow().iter().rev() {
            let _ = exec("docker", &[], &["rm", "-f", "-v", c]);
        }
        // Newest first: a child goes before its parent. Untagged parents of the legacy builder's
        // images go with them; a second pass catches what a child still held.
        for _ in 0..2 {
            for id in self.images.borrow().iter().rev() {
                let _ = exec("docker", &[], &["rmi", "-f", id]);
            }
        }
    }
}

impl Interop {
    /// `None` (reason printed) when the Docker Engine, root or busybox is missing.
    fn new(test: &'static str) -> Option<Self> {
        if !is_root() {
            skip(test, "not root: RUN needs namespaces and mounts");
            return None;
        }
        if !docker_available() {
            skip(test, "no Docker Engine (run scripts/peers.sh start)");
            return None;
        }
        let base = format!(
            "hoist-interop-busybox:{}-{}",
            std::process::id(),
            test.replace('_', "-")
        );
        let Some(img) = base_image(&base, test) else {
            skip(test, "busybox-static not installed");
            return None;
        };
        let me = Self {
            test,
            h: hoist(),
            base: base.clone(),
            images: RefCell::new(Vec::new()),
            containers: RefCell::new(Vec::new()),
        };
        let archive =
            me.h.write("base.tar", &docker_archive(std::slice::from_ref(&img)));
        me.images.borrow_mut().push(img.id().to_string());
        let loaded = docker(&["load", "-i", path_str(&archive)]);
        assert!(
            loaded.contains(&format!("Loaded image: {base}")),
            "{loaded}"
        );
        me.h.ok(&["load", "-i", path_str(&archive)]);
        let docker_id = docker(&["image", "inspect", "-f", "{{.Id}}", &base]);
        let hoist_id = me.h.ok(&["image", "inspect", "-f", "{{.Id}}", &base]);
        assert_eq!(
            docker_id.trim(),
            img.id().to_string(),
            "Docker's base image ID"
        );
        assert_eq!(
            hoist_id.trim(),
            img.id().to_string(),
            "hoist's base image ID"
        );
        if let Err(reason) = buildkit_client() {
            eprintln!(
                "NOTE {test}: no Docker CLI builds with BuildKit here ({reason}); the legacy builder is the reference"
            );
        }
        Some(me)
    }

    fn tag(&self, case: &str, builder: Builder, what: &str) -> String {
        format!(
            "hoist-interop-{what}-{}:{}-{}",
            builder.name(),
            std::process::id(),
            case
        )
    }

    /// Writes the context of `case` (once) and returns its directory.
    fn context(&self, case: &Case) -> PathBuf {
        let dir = self.h.path(&format!("ctx-{}", case.name));
        if dir.exists() {
            return dir;
        }
        std::fs::create_dir_all(&dir).expect("creating the context");
        for (path, content, mode) in &case.files {
            let full = dir.join(path);
            std::fs::create_dir_all(full.parent().unwrap_or(&dir)).expect("creating a context dir");
            std::fs::write(&full, content).expect("writing a context file");
            std::fs::set_permissions(&full, std::fs::Permissions::from_mode(*mode))
                .expect("chmod of a context file");
        }
        for (path, mode) in &case.dirs {
            let full = dir.join(path);
            std::fs::create_dir_all(&full).expect("creating a context dir");
            std::fs::set_permissions(&full, std::fs::Permissions::from_mode(*mode))
                .expect("chmod of a context dir");
        }
        for (path, target) in &case.links {
            let full = dir.join(path);
            std::fs::create_dir_all(full.parent().unwrap_or(&dir)).expect("creating a context dir");
            std::os::unix::fs::symlink(target, &full).expect("creating a context symlink");
        }
        dir
    }

    /// Builds `dockerfile` with `builder` into `tag`; the image ID, or the build's error output.
    fn build_one(
        &self,
        builder: Builder,
        ctx: &Path,
        dockerfile: &str,
        name: &str,
        tag: &str,
        extra: &[String],
    ) -> Result<String, String> {
        let dockerfile = dockerfile.replace("@BASE@", &self.base);
        let file = self.h.write(
            &format!("Dockerfile.{name}.{}", builder.name()),
            dockerfile.as_bytes(),
        );
        let iid = self.h.path(&format!("iid.{name}.{}", builder.name()));
        let mut args: Vec<&str> = vec![
            "build",
            "--network",
            "none",
            "-t",
            tag,
            "--iidfile",
            path_str(&iid),
            "-f",
            path_str(&file),
        ];
        args.extend(extra.iter().map(String::as_str));
        args.push(path_str(ctx));
        let (status, stdout, stderr) = match builder {
            Builder::Hoist => {
                let r = self.h.run(&args);
                (r.status, r.stdout, r.stderr)
            }
            Builder::BuildKit => {
                let client = buildkit_client().as_ref().map_err(Clone::clone)?;
                let o = exec(client, &[("DOCKER_BUILDKIT", "1")], &args);
                (o.status, o.text(), o.stderr)
            }
            Builder::Legacy => {
                args.insert(1, "--force-rm");
                let o = exec("docker", &[("DOCKER_BUILDKIT", "0")], &args);
                // Every image the legacy builder made (the stages that are not the result included).
                for line in o.text().lines() {
                    if let Some(id) = line.trim().strip_prefix("---> ")
                        && id.len() == 12
                        && id.bytes().all(|b| b.is_ascii_hexdigit())
                    {
                        self.images.borrow_mut().push(id.to_owned());
                    }
                }
                (o.status, o.text(), o.stderr)
            }
        };
        let id = std::fs::read_to_string(&iid).unwrap_or_default();
        if builder != Builder::Hoist && !id.is_empty() {
            self.images.borrow_mut().push(id.clone());
        }
        if status != 0 {
            // stderr last: its last line is the error.
            return Err(format!("{stdout}\n{stderr}"));
        }
        Ok(id)
    }

    /// Builds the case (its parent first) and reads back what is compared.
    fn build(&self, case: &Case, builder: Builder) -> Result<Built, String> {
        let ctx = self.context(case);
        let mut dockerfile = case.dockerfile.clone();
        if let Some(parent) = &case.parent {
            let tag = self.tag(case.name, builder, "parent");
            self.build_one(
                builder,
                &ctx,
                parent,
                &format!("{}-parent", case.name),
                &tag,
                &[],
            )
            .map_err(|e| format!("building the parent: {e}"))?;
            dockerfile = dockerfile.replace("@PARENT@", &tag);
        }
        let image = self.tag(case.name, builder, "built");
        let id = self.build_one(builder, &ctx, &dockerfile, case.name, &image, &case.args)?;
        let (inspect, config, files) = if builder == Builder::Hoist {
            let h = &self.h;
            let inspect: Value = serde_json::from_str(&h.ok(&["image", "inspect", &image]))
                .expect("hoist image inspect JSON");
            let config = saved_config(&hoist_bytes(h, &["save", &image]));
            let container = h.ok(&["create", &image, "true"]).trim().to_owned();
            let files = export_entries(&hoist_bytes(h, &["export", &container]));
            h.ok(&["rm", "-v", &container]);
            (inspect[0].clone(), config, files)
        } else {
            let inspect: Value = serde_json::from_str(&docker(&["image", "inspect", &image]))
                .expect("docker image inspect JSON");
            let config = saved_config(&docker_bytes(&["save", &image]));
            let container = docker(&["create", "--network", "none", &image, "true"])
                .trim()
                .to_owned();
            self.containers.borrow_mut().push(container.clone());
            let files = export_entries(&docker_bytes(&["export", &container]));
            docker(&["rm", "-v", &container]);
            (inspect[0].clone(), config, files)
        };
        Ok(Built {
            builder,
            facts: facts(&inspect, &config, &files),
            history: history_entries(&config),
            image,
            id: id.trim().to_owned(),
        })
    }

    /// Builds `case` with every builder, compares, runs; panics with every mismatch listed.
    fn check(&self, case: &Case) {
        self.check_all(std::slice::from_ref(case));
    }

    /// [`Self::check`] for several Dockerfiles: all are built and compared before the test fails.
    fn check_all(&self, cases: &[Case]) {
        let reports: Vec<String> = cases.iter().filter_map(|c| self.verify(c)).collect();
        assert!(reports.is_empty(), "{}", reports.join("\n"));
    }

    /// Builds and compares one Dockerfile; the failures as text, `None` when hoist matches.
    fn verify(&self, case: &Case) -> Option<String> {
        let mut builders = vec![Builder::Hoist];
        if buildkit_client().is_ok() {
            builders.push(Builder::BuildKit);
        }
        if !case.buildkit_only {
            builders.push(Builder::Legacy);
        }
        let mut built = BTreeMap::new();
        let mut failures = Vec::new();
        let mut notes = Vec::new();
        for &b in &builders {
            match self.build(case, b) {
                Ok(x) => {
                    built.insert(b, x);
                }
                Err(e) => failures.push(format!("the {} build failed:\n{e}", b.name())),
            }
        }
        // HOIST_INTEROP_DUMP=1 prints what each builder made, for looking into a difference.
        if std::env::var_os("HOIST_INTEROP_DUMP").is_some() {
            for b in built.values() {
                let mut text = String::new();
                for (k, v) in &b.facts {
                    let _ = writeln!(text, "  {k} = {v}");
                }
                for (i, h) in b.history.iter().enumerate() {
                    let _ = writeln!(text, "  history[{i}] = {h}");
                }
                eprintln!(
                    "{} / {} built by {}:\n{text}",
                    self.test,
                    case.name,
                    b.builder.name()
                );
            }
        }
        // What did build is compared, also when another builder failed.
        compare(case, &built, &mut failures, &mut notes);
        if let Some(hoist_built) = built.get(&Builder::Hoist) {
            self.runs_in_docker(case, hoist_built, &built, &mut failures);
        }
        if failures.iter().any(|f| {
            f.contains("No such image")
                || f.contains("Unable to find image")
                || f.contains("unknown parent image")
        }) {
            failures.push(
                "an image this test made vanished from the engine: was it removed by another user of the \
                 same engine (bench/build.sh removes every image it did not see at its start)?"
                    .to_owned(),
            );
        }
        let mut report = String::new();
        for n in &notes {
            let _ = writeln!(report, "  note: {n}");
        }
        if !report.is_empty() {
            eprintln!(
                "{} / {}: differences that do not fail:\n{report}",
                self.test, case.name
            );
        }
        if !failures.is_empty() {
            let mut text = format!(
                "{} / Dockerfile {:?} ({} failures):\n",
                self.test,
                case.name,
                failures.len()
            );
            for f in &failures {
                let _ = writeln!(text, "  - {f}");
            }
            let _ = writeln!(text, "Dockerfile:\n{}", case.dockerfile);
            eprintln!("{text}");
            return Some(text);
        }
        eprintln!(
            "{} / {}: hoist matches {}",
            self.test,
            case.name,
            built
                .keys()
                .filter(|b| **b != Builder::Hoist)
                .map(|b| b.name())
                .collect::<Vec<_>>()
                .join(" and ")
        );
        None
    }

    /// `hoist save | docker load` gives Docker hoist's image ID, and the image runs in Docker printing
    /// what the case expects, as the Docker-built images do.
    fn runs_in_docker(
        &self,
        case: &Case,
        ours: &Built,
        built: &BTreeMap<Builder, Built>,
        failures: &mut Vec<String>,
    ) {
        let saved = self.h.path(&format!("{}.hoist.tar", case.name));
        self.h.ok(&["save", "-o", path_str(&saved), &ours.image]);
        self.images.borrow_mut().push(ours.id.clone());
        let loaded = docker(&["load", "-i", path_str(&saved)]);
        if !loaded.contains(&format!("Loaded image: {}", ours.image)) {
            failures.push(format!("docker load of hoist's image printed {loaded:?}"));
        }
        let id = docker(&["image", "inspect", "-f", "{{.Id}}", &ours.image]);
        if id.trim() != ours.id {
            failures.push(format!(
                "docker load gave the image ID {}, hoist built {}",
                id.trim(),
                ours.id
            ));
        }
        for (opts, args, expected) in &case.runs {
            for b in built.values() {
                let mut all: Vec<&str> = vec!["run", "--rm", "--network", "none"];
                all.extend(opts.iter().map(String::as_str));
                all.push(&b.image);
                all.extend(args.iter().map(String::as_str));
                let o = exec("docker", &[], &all);
                let what = format!(
                    "docker run {} {}-built {}",
                    opts.join(" "),
                    b.builder.name(),
                    args.join(" ")
                );
                if o.status != 0 || o.text() != *expected {
                    failures.push(format!(
                        "{what}: exit {}, stdout {:?}, expected {expected:?}; stderr {:?}",
                        o.status,
                        o.text(),
                        o.stderr
                    ));
                }
            }
            // And in hoist, the image it built.
            let mut all: Vec<&str> = vec!["run", "--rm"];
            all.extend(opts.iter().map(String::as_str));
            all.push(&ours.image);
            all.extend(args.iter().map(String::as_str));
            let r = self.h.run(&all);
            if r.status != 0 || r.stdout != *expected {
                failures.push(format!(
                    "hoist run {} hoist-built {}: exit {}, stdout {:?}, expected {expected:?}; stderr {:?}",
                    opts.join(" "),
                    args.join(" "),
                    r.status,
                    r.stdout,
                    r.stderr
                ));
            }
        }
    }
}

/// Compares the facts: hoist against BuildKit (or, without it, against the legacy builder);
/// hoist against the legacy builder where Docker's two builders agree; the history entries with
/// BuildKit's.
fn compare(
    case: &Case,
    built: &BTreeMap<Builder, Built>,
    failures: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    let Some(ours) = built.get(&Builder::Hoist) else {
        return;
    };
    let bk = built.get(&Builder::BuildKit);
    let legacy = built.get(&Builder::Legacy);
    let keys: BTreeSet<&String> = built.values().flat_map(|b| b.facts.keys()).collect();
    let show = |v: Option<&String>| v.map_or_else(|| "(absent)".to_owned(), Clone::clone);
    let mut mismatches: Vec<(String, &str, String, String)> = Vec::new();
    let mut report = |key: &str, against: &'static str, theirs: String, hoist: String| {
        mismatches.push((key.to_owned(), against, theirs, hoist));
    };
    for key in keys {
        let h = ours.facts.get(key);
        let k = bk.map(|b| b.facts.get(key));
        let l = legacy.map(|b| b.facts.get(key));
        match (k, l) {
            (Some(k), l) => {
                // The history entries (below) show where hoist's pattern differs from BuildKit's.
                if h != k && key != "history" {
                    let both = l.is_some_and(|l| l == k);
                    let against = if both {
                        "buildkit (and legacy)"
                    } else {
                        "buildkit"
                    };
                    report(key, against, show(k), show(h));
                }
                if let Some(l) = l
                    && k != l
                {
                    notes.push(format!(
                        "{key}: Docker's builders differ: buildkit {}, legacy {}; hoist {}",
                        show(k),
                        show(l),
                        show(h)
                    ));
                }
            }
            (None, Some(l)) => {
                // With a VOLUME, the legacy builder's RUN under it commits an empty layer.
                let volume_run = (key == "layers" || key == "history")
                    && ours
                        .facts
                        .get("config.Volumes")
                        .is_some_and(|v| v != "null");
                if h != l && !volume_run {
                    report(key, "legacy", show(l), show(h));
                }
            }
            (None, None) => {}
        }
    }
    if let Some(bk) = bk {
        for (i, theirs, hoist) in align(&bk.history, &ours.history) {
            let key = format!("history[{i}]");
            report(
                &key,
                "buildkit",
                theirs.map_or_else(|| NO_ENTRY.to_owned(), Clone::clone),
                hoist.map_or_else(|| NO_ENTRY.to_owned(), Clone::clone),
            );
        }
    }
    for (key, against, theirs, hoist) in mismatches {
        // History entries are quoted: their spaces and quotes matter.
        let quote = |v: &str| {
            if key.starts_with("history[") && v != NO_ENTRY {
                format!("{v:?}")
            } else {
                v.to_owned()
            }
        };
        let line = format!(
            "{key}: {against} gives {}, hoist gives {}",
            quote(&theirs),
            quote(&hoist)
        );
        let why = accepted(case, &key, &theirs, &hoist).or_else(|| {
            (against == "legacy")
                .then(|| legacy_quirk(&key, &theirs, &hoist, ours))
                .flatten()
        });
        match why {
            Some(why) => notes.push(format!("{line} (accepted: {why})")),
            None => failures.push(line),
        }
    }
}

const NO_ENTRY: &str = "(no entry)";

/// The differences between two histories, aligned (longest common subsequence) so that one entry
/// too many or too few is reported once: (index in `theirs`, their entry, our entry).
fn align<'a>(
    theirs: &'a [String],
    ours: &'a [String],
) -> Vec<(usize, Option<&'a String>, Option<&'a String>)> {
    let (n, m) = (theirs.len(), ours.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if theirs[i] == ours[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut removed: Vec<(usize, &String)> = Vec::new();
    let mut added: Vec<&String> = Vec::new();
    let mut out = Vec::new();
    let flush = |removed: &mut Vec<(usize, &'a String)>,
                 added: &mut Vec<&'a String>,
                 at: usize,
                 out: &mut Vec<_>| {
        let pairs = removed.len().max(added.len());
        for k in 0..pairs {
            let index = removed.get(k).map_or(at, |r| r.0);
            out.push((index, removed.get(k).map(|r| r.1), added.get(k).copied()));
        }
        removed.clear();
        added.clear();
    };
    while i < n || j < m {
        if i < n && j < m && theirs[i] == ours[j] {
            flush(&mut removed, &mut added, i, &mut out);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            added.push(&ours[j]);
            j += 1;
        } else {
            removed.push((i, &theirs[i]));
            i += 1;
        }
    }
    flush(&mut removed, &mut added, n, &mut out);
    out
}

/// Where the legacy builder is known to differ from BuildKit, which hoist follows: only asked when
/// no BuildKit is at hand and the legacy builder is the reference.
fn legacy_quirk(key: &str, legacy: &str, hoist: &str, ours: &Built) -> Option<&'static str> {
    let path = key.strip_prefix("file ")?;
    let fields = |s: &str| -> Vec<String> { s.split(' ').map(str::to_owned).collect() };
    let (l, h) = (fields(legacy), fields(hoist));
    let volumes: Value = ours
        .facts
        .get("config.Volumes")
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or(Value::Null);
    let in_volume = volumes
        .as_object()
        .is_some_and(|v| v.keys().any(|vol| path.starts_with(&format!("{vol}/"))));
    if path.ends_with("/.dockerignore") {
        return Some("the legacy CLI rewrites .dockerignore in the context it sends");
    }
    if legacy == "(absent)" && in_volume {
        return Some("the legacy builder drops what RUN writes under a VOLUME; BuildKit keeps it");
    }
    let mode = |f: &[String]| f.get(1).and_then(|m| u32::from_str_radix(m, 8).ok());
    if l.len() == h.len()
        && l.first() == h.first()
        && l.get(2..) == h.get(2..)
        && let (Some(lm), Some(hm)) = (mode(&l), mode(&h))
        && lm == hm & 0o777
    {
        return Some(
            "the legacy builder drops setuid/setgid/sticky bits in COPY; BuildKit keeps them",
        );
    }
    if l.first().map(String::as_str) == Some("d")
        && l.first() == h.first()
        && l.get(1) == h.get(1)
        && l.get(2).map(String::as_str) == Some("0:0")
    {
        return Some(
            "the legacy builder creates WORKDIR and ADD/COPY --chown destinations as root; BuildKit as the user",
        );
    }
    None
}

/// Why a difference is accepted (not failed), or `None`: what differs between Docker versions, where
/// hoist follows current BuildKit, and what the case names.
fn accepted(case: &Case, key: &str, theirs: &str, hoist: &str) -> Option<&'static str> {
    if let Some((_, why)) = case
        .accepted
        .iter()
        .find(|(prefix, _)| key.starts_with(prefix))
    {
        return Some(why);
    }
    // `ARG NAME=VALUE`: Docker 20.10's BuildKit records the default written in the Dockerfile;
    // current BuildKit records the value in effect (a --build-arg's, or the expanded default).
    let arg_names = |s: &str| -> Option<Vec<String>> {
        let body = s.strip_prefix("ARG ")?;
        let body = body.strip_suffix("  (empty layer)").unwrap_or(body);
        Some(
            body.split(' ')
                .map(|kv| kv.split('=').next().unwrap_or_default().to_owned())
                .collect(),
        )
    };
    // `HEALTHCHECK %q` of the config: current BuildKit's has StartInterval before Retries.
    if let Some(at) = theirs.rfind(" '")
        && theirs.contains("HEALTHCHECK &{")
        && format!("{} \"0s\"{}", &theirs[..at], &theirs[at..]) == hoist
    {
        return Some("current BuildKit writes StartInterval, which Docker 20.10's does not have");
    }
    if key.starts_with("history[")
        && let (Some(a), Some(b)) = (arg_names(theirs), arg_names(hoist))
        && a == b
    {
        return Some(
            "Docker 20.10's BuildKit writes the Dockerfile's default; current BuildKit, like hoist, the value in effect",
        );
    }
    None
}

// ---------------------------------------------------------------------------------------------------
// The tests

/// Every metadata instruction, as `image inspect` shows it.
#[test]
fn metadata_instructions_match_docker() {
    let Some(t) = Interop::new("metadata_instructions_match_docker") else {
        return;
    };
    let case = Case::new(
        "metadata",
        r#"FROM @BASE@ AS base
MAINTAINER Jane Doe <jane@example.com>
LABEL org.example.name="demo app" version=1.0 "multi.word"="a b"
LABEL single=one \
      continued="over two lines"
EXPOSE 80 443/tcp 53/udp 8000-8002 80/tcp
ENV A=1 B="two words" C=three\ words
ENV D four five  six
ENV E=${A}-$B
ENTRYPOINT ["/bin/echo", "entry"]
CMD ["cmd", "args"]
VOLUME /data /logs
VOLUME ["/cache"]
USER app:app
WORKDIR /home/app
WORKDIR sub
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 CMD ["test", "-f", "/tmp/ok"]
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo triggered
ONBUILD LABEL from.onbuild=yes
"#,
    )
    .run(&[], &[], "entry cmd args\n")
    .run(&["--entrypoint", "pwd"], &[], "/home/app/sub\n")
    .run(&["--entrypoint", "id"], &["-u"], "1000\n");
    t.check(&case);
}

/// RUN in both forms, SHELL, ARG defaults and `--build-arg`, ENV in RUN, WORKDIR, USER, links, a
/// deleted file, a replaced directory, a changed mode, a continued line, a RUN after VOLUME (whose
/// changes the legacy builder drops and BuildKit keeps).
#[test]
fn run_instructions_match_docker() {
    let Some(t) = Interop::new("run_instructions_match_docker") else {
        return;
    };
    let case = Case::new(
        "run",
        r#"FROM @BASE@
ARG VERSION=1.0
ARG UNUSED
ARG FROM_CLI=default
ENV HOMEDIR=/opt
RUN echo "v$VERSION $FROM_CLI $HOMEDIR" > /version
RUN ["/bin/sh", "-c", "echo exec form > /exec"]
RUN ["mkdir", "-p", "/made/by/exec"]
SHELL ["/bin/sh", "-ec"]
RUN echo "with shell $VERSION" > /shell
WORKDIR /work
RUN echo rel > rel.txt && mkdir -p sub/dir && chmod 700 sub && touch sub/dir/empty
USER app
RUN echo mine > /tmp/mine && id -u > /tmp/id
USER root
RUN ln -s /version /version.link && ln /version /version.hard && rm /etc/hello
RUN echo continued \
    && echo lines > /continued
RUN mkdir -p /gone/deep && touch /gone/deep/f && mkdir -p /vol && echo before > /vol/a
RUN rm -rf /gone && mkdir /gone && touch /gone/new && chmod 640 /etc/group
VOLUME /vol
RUN echo after > /vol/b
ENTRYPOINT ["cat"]
CMD ["/version"]
HEALTHCHECK NONE
"#,
    )
    .args(&["--build-arg", "FROM_CLI=cli"])
    .run(&[], &[], "v1.0 cli /opt\n")
    .run(
        &[],
        &["/tmp/mine", "/tmp/id", "/work/rel.txt"],
        "mine\n1000\nrel\n",
    );
    t.check(&case);
}

/// A tar made in code for ADD: a directory, files and a link, owned by 123:456.
fn archive_for_add() -> Vec<u8> {
    LayerBuilder::new()
        .owner(123, 456)
        .dir("pkg", 0o750)
        .file("pkg/file.txt", "in a tar\n", 0o640)
        .symlink("pkg/link", "file.txt")
        .owner(0, 0)
        .file("top.txt", "top\n", 0o600)
        .build()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

/// COPY of files, directories and globs, renamed and relative, with `--chown`; ADD of a tar (plain and
/// gzip, unpacked) and of a plain file; `.dockerignore`.
#[test]
fn copy_and_add_match_docker() {
    let Some(t) = Interop::new("copy_and_add_match_docker") else {
        return;
    };
    let tar = archive_for_add();
    let mut dockerfile = r#"FROM @BASE@
COPY single.txt /single.txt
COPY single.txt /dest/dir/
COPY app /app/
COPY app/ /app2
COPY docs/*.md /docs/
COPY d?cs/[ab].md /docs2/
COPY docs /docs-all
COPY . /ctx/
COPY --chown=app:app single.txt /home/app/owned.txt
COPY --chown=app:app single.txt /tmp/
COPY --chown=1234:5678 app /numeric/
COPY --chown=1001 single.txt /uid-only.txt
COPY --chown=app:staff app/lib /mixed/
ADD archive.tar /extracted/
ADD archive.tar /extracted-noslash
ADD archive.tar.gz /extracted-gz/
ADD --chown=app:app archive.tar /extracted-owned/
ADD data.bin /data.bin
COPY archive.tar /not-extracted/
WORKDIR /relative
COPY single.txt ./rel/
COPY single.txt renamed.txt
COPY single.txt app/main.sh /multi/
"#
    .to_owned();
    let mut case = Case::new("copy", "")
        .file("single.txt", "single\n", 0o644)
        .file("app/main.sh", "#!/bin/sh\necho main\n", 0o755)
        .file("app/suid", "setuid\n", 0o4755)
        .file("app/lib/util.txt", "util\n", 0o600)
        .file("app/lib/more.txt", "more\n", 0o664)
        .symlink("app/run", "main.sh")
        .symlink("app/dangling", "../nowhere")
        .dir("app/empty", 0o750)
        .file("docs/a.md", "a\n", 0o644)
        .file("docs/b.md", "b\n", 0o644)
        .file("docs/c.txt", "c\n", 0o644)
        .file("docs/skip.tmp", "ignored\n", 0o644)
        .file("docs/keep.tmp", "kept\n", 0o644)
        .file(
            ".dockerignore",
            "**/*.tmp\n!docs/keep.tmp\nDockerfile*\n",
            0o644,
        )
        .file("archive.tar", tar.clone(), 0o644)
        .file("archive.tar.gz", gzip(&tar), 0o644)
        .file("data.bin", vec![0u8, 1, 2, 3, 255], 0o640)
        .run(
            &[],
            &["cat", "/extracted/pkg/link", "/relative/renamed.txt"],
            "in a tar\nsingle\n",
        );
    // ADD unpacks bzip2 and xz tars too (compressed here with the tools, when present).
    for (tool, ext) in [("bzip2", "bz2"), ("xz", "xz")] {
        if let Some(bytes) = compress(tool, &tar) {
            let name = format!("archive.tar.{ext}");
            let _ = writeln!(dockerfile, "ADD {name} /extracted-{ext}/");
            case.files.push((name, bytes, 0o644));
        } else {
            eprintln!(
                "NOTE copy_and_add_match_docker: no {tool}; ADD of a .{ext} tar is not compared"
            );
        }
    }
    case.dockerfile = dockerfile;
    t.check(&case);
}

/// `bytes` compressed by `tool -c` (bzip2, xz), or `None` when the tool is missing.
fn compress(tool: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut child = Command::new(tool)
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().ok()?;
    writer.join().ok()?.ok()?;
    out.status.success().then_some(out.stdout)
}

/// `COPY --chmod`, `ADD --chmod` and `--chown=USER` for a user without a group of that name: the
/// legacy builder refuses all three (`--chmod requires BuildKit`; `can't find gid for group svc`).
#[test]
fn buildkit_only_copy_flags_match_buildkit() {
    let Some(t) = Interop::new("buildkit_only_copy_flags_match_buildkit") else {
        return;
    };
    let mut case = Case::new(
        "buildkit-only",
        r#"FROM @BASE@
COPY --chown=svc single.txt /svc-only.txt
COPY --chmod=0640 single.txt /chmod.txt
COPY --chmod=755 app /chmod-dir/
COPY --chown=app:app --chmod=600 single.txt /both.txt
ADD --chmod=444 single.txt /added.txt
"#,
    )
    .file("single.txt", "single\n", 0o644)
    .file("app/main.sh", "#!/bin/sh\necho main\n", 0o700)
    .file("app/lib/util.txt", "util\n", 0o600)
    .run(
        &[],
        &["stat", "-c", "%a %u:%g", "/chmod.txt", "/both.txt"],
        "640 0:0\n600 1000:1000\n",
    );
    case.buildkit_only = true;
    if buildkit_client().is_err() {
        return skip(t.test, "no Docker CLI builds with BuildKit here");
    }
    t.check(&case);
}

/// Stages: a global ARG in FROM, `--from` by name, by index and by image, a stage built on a stage,
/// `--target` (the stage after it is not built), `--build-arg`.
#[test]
fn multi_stage_target_matches_docker() {
    let Some(t) = Interop::new("multi_stage_target_matches_docker") else {
        return;
    };
    let case = Case::new(
        "multistage",
        r#"ARG BASE=@BASE@
FROM ${BASE} AS builder
ARG MODE=dev
WORKDIR /src
RUN echo "built $MODE" > out.txt && mkdir -p /src/tree/a && echo x > /src/tree/a/x

FROM builder AS tester
RUN echo tested > /src/tested

FROM ${BASE} AS final
ARG MODE
COPY --from=builder /src/out.txt /app/
COPY --from=builder /src/tree /app/tree
COPY --from=0 --chown=app:app /src/out.txt /app/owned.txt
COPY --from=tester /src/tested /app/
COPY --from=@BASE@ /etc/passwd /app/passwd
ENV MODE=${MODE:-unset}
CMD ["cat", "/app/out.txt", "/app/tested"]

FROM final AS never
RUN exit 9
"#,
    )
    .args(&["--target", "final", "--build-arg", "MODE=prod"])
    .run(&[], &[], "built prod\ntested\n")
    .run(&[], &["sh", "-c", "echo $MODE"], "prod\n");
    t.check(&case);
}

/// Variable substitution in every instruction that takes it: `${X:-default}`, `${X:+alt}`, quotes and
/// escapes in ENV, LABEL, EXPOSE, WORKDIR, USER.
#[test]
fn substitution_matches_docker() {
    let Some(t) = Interop::new("substitution_matches_docker") else {
        return;
    };
    let case = Case::new(
        "substitution",
        r#"FROM @BASE@
ARG PORT=8080
ARG DIR=/srv
ARG EMPTY
ENV APP_HOME=${DIR}/app UNSET_DEFAULT=${NOPE:-fallback} SET_ALT=${PORT:+yes} EMPTY_ALT=${EMPTY:+no}
ENV QUOTED="a \"quoted\" value" SINGLE='single $PORT' ESCAPED=\$PORT
ENV X=old
ENV X=new Y=$X Z=${X}-z
LABEL port=$PORT home="${APP_HOME}" literal='$PORT'
EXPOSE ${PORT}/tcp
WORKDIR $APP_HOME
USER ${UID:-1000}:${GID:-1000}
RUN echo "$APP_HOME $PORT $SINGLE" > /tmp/sub.txt
STOPSIGNAL SIGQUIT
"#,
    )
    .args(&["--build-arg", "PORT=9090"])
    .run(
        &[],
        &["cat", "/tmp/sub.txt"],
        "/srv/app 9090 single $PORT\n",
    )
    .run(&[], &["pwd"], "/srv/app\n");
    t.check(&case);
}

/// Shell-form CMD and ENTRYPOINT under SHELL, ENTRYPOINT clearing the inherited CMD, `[]` clearing
/// both, a stage built on a stage, HEALTHCHECK's shell form and defaults.
#[test]
fn command_forms_match_docker() {
    let Some(t) = Interop::new("command_forms_match_docker") else {
        return;
    };
    let dockerfile = r#"FROM @BASE@ AS entry-only
ENTRYPOINT ["echo", "only-entry"]

FROM entry-only AS shell-forms
SHELL ["/bin/sh", "-ec"]
CMD echo "shell form" $HOME
HEALTHCHECK CMD echo healthy

FROM @BASE@ AS cleared
ENTRYPOINT []
CMD []

FROM @BASE@ AS shell-entry
ENTRYPOINT echo "entry in a shell" $0
CMD ["ignored"]
"#;
    let entry_only = Case::new("entry-only", dockerfile)
        .args(&["--target", "entry-only"])
        .run(&[], &[], "only-entry\n")
        .run(&[], &["more"], "only-entry more\n");
    let cleared = Case::new("cleared", dockerfile)
        .args(&["--target", "cleared"])
        .run(&[], &["echo", "hi"], "hi\n");
    let shell_forms = Case::new("shell-forms", dockerfile)
        .args(&["--target", "shell-forms"])
        .run(
            &[],
            &[],
            "only-entry /bin/sh -ec echo \"shell form\" $HOME\n",
        );
    let shell_entry =
        Case::new("shell-entry", dockerfile).run(&[], &[], "entry in a shell ignored\n");
    t.check_all(&[entry_only, cleared, shell_forms, shell_entry]);
}

/// ONBUILD triggers (ARG, RUN, COPY) run in the child, which does not inherit them.
#[test]
fn onbuild_triggers_match_docker() {
    let Some(t) = Interop::new("onbuild_triggers_match_docker") else {
        return;
    };
    let mut case = Case::new(
        "onbuild",
        r#"FROM @PARENT@
RUN cat /triggered /child.txt > /both
CMD ["cat", "/both"]
"#,
    )
    .file("child.txt", "from the child context\n", 0o644)
    .run(&[], &[], "hi from trigger\nfrom the child context\n");
    case.parent = Some(
        r#"FROM @BASE@
ONBUILD ARG GREETING=hi
ONBUILD RUN echo "$GREETING from trigger" > /triggered
ONBUILD COPY child.txt /child.txt
LABEL role=parent
"#
        .to_owned(),
    );
    t.check(&case);
}

/// Heredocs (`RUN <<EOF`, `COPY <<EOF`): compared with BuildKit where the engine's Dockerfile frontend
/// has them. Docker 20.10's built-in frontend does not (it reads the heredoc's lines as instructions,
/// `unknown instruction`), nor does the legacy builder; the test is then skipped with that reason.
#[test]
fn heredocs_match_buildkit_where_docker_has_them() {
    let test = "heredocs_match_buildkit_where_docker_has_them";
    let Some(t) = Interop::new(test) else {
        return;
    };
    let mut case = Case::new(
        "heredoc",
        r#"FROM @BASE@
RUN <<EOT
echo line1 > /heredoc
echo line2 >> /heredoc
EOT
COPY <<-EOT /etc/motd
	welcome
	EOT
CMD ["cat", "/heredoc", "/etc/motd"]
"#,
    )
    .run(&[], &[], "line1\nline2\nwelcome\n");
    case.buildkit_only = true;
    if let Err(reason) = buildkit_client() {
        return skip(
            test,
            &format!("no Docker CLI builds with BuildKit here ({reason})"),
        );
    }
    match t.build(&case, Builder::BuildKit) {
        Ok(_) => t.check(&case),
        Err(e) => skip(
            test,
            &format!(
                "Docker's BuildKit here does not build heredocs: {}",
                e.lines()
                    .find(|l| l.contains("error") || l.contains("unknown"))
                    .unwrap_or_else(|| e.lines().next().unwrap_or_default())
            ),
        ),
    }
}

/// Dockerfiles that Docker refuses, or that only one of its builders takes: hoist refuses what
/// BuildKit refuses (exit 1, no tag) and builds what BuildKit builds, unless the case says why not.
#[test]
fn dockerfile_errors_match_docker() {
    let Some(t) = Interop::new("dockerfile_errors_match_docker") else {
        return;
    };
    // (name, Dockerfile, build arguments, why hoist may refuse although BuildKit builds it)
    let cases: &[(&str, &str, &[&str], Option<&str>)] = &[
        ("unknown-instruction", "FROM @BASE@\nRUNN true\n", &[], None),
        (
            "missing-source",
            "FROM @BASE@\nCOPY nothere.txt /x\n",
            &[],
            None,
        ),
        // BuildKit copies nothing (AllowEmptyWildcard); the legacy builder refuses.
        (
            "glob-matching-nothing",
            "FROM @BASE@\nCOPY *.nomatch /x/\n",
            &[],
            None,
        ),
        (
            "failing-run",
            "FROM @BASE@\nRUN echo failing >&2; exit 3\n",
            &[],
            None,
        ),
        (
            "unknown-target",
            "FROM @BASE@ AS a\nRUN true\n",
            &["--target", "nope"],
            None,
        ),
        (
            "unknown-chown-user",
            "FROM @BASE@\nCOPY --chown=nosuchuser single.txt /x\n",
            &[],
            Some(
                "BuildKit silently copies as 0:0 for a user missing from /etc/passwd; the legacy builder and hoist refuse",
            ),
        ),
        (
            "unknown-user-in-run",
            "FROM @BASE@\nUSER nosuchuser\nRUN true\n",
            &[],
            None,
        ),
        (
            "bad-stopsignal",
            "FROM @BASE@\nSTOPSIGNAL NOTASIGNAL\n",
            &[],
            None,
        ),
        ("bad-expose", "FROM @BASE@\nEXPOSE notaport\n", &[], None),
        (
            "bad-healthcheck-interval",
            "FROM @BASE@\nHEALTHCHECK --interval=xyz CMD true\n",
            &[],
            None,
        ),
        (
            "onbuild-from",
            "FROM @BASE@\nONBUILD FROM busybox\n",
            &[],
            None,
        ),
        (
            "copy-outside-context",
            "FROM @BASE@\nCOPY ../outside /x\n",
            &[],
            None,
        ),
    ];
    let reference = if buildkit_client().is_ok() {
        Builder::BuildKit
    } else {
        Builder::Legacy
    };
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    for &(name, dockerfile, args, may_refuse) in cases {
        let mut case = Case::new(name, dockerfile).file("single.txt", "single\n", 0o644);
        case.args = args.iter().map(|&a| a.to_owned()).collect();
        let ctx = t.context(&case);
        std::fs::write(ctx.join("..").join("outside"), "outside\n").expect("writing a file");
        let mut outcome = BTreeMap::new();
        for b in [reference, Builder::Legacy, Builder::Hoist] {
            if outcome.contains_key(&b) {
                continue;
            }
            let tag = t.tag(name, b, "bad");
            let built = t.build_one(b, &ctx, dockerfile, name, &tag, &case.args);
            if b == Builder::Hoist && built.is_err() {
                let listed = t.h.ok(&["images", "-q", &tag]);
                if !listed.trim().is_empty() {
                    failures.push(format!(
                        "{name}: hoist tagged {tag} although its build failed"
                    ));
                }
            }
            outcome.insert(
                b,
                built.map_err(|e| {
                    e.lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or_default()
                        .to_owned()
                }),
            );
        }
        let show = |b: Builder| match &outcome[&b] {
            Ok(_) => "builds it".to_owned(),
            Err(e) => format!("refuses it ({e})"),
        };
        let (theirs, ours) = (
            outcome[&reference].is_ok(),
            outcome[&Builder::Hoist].is_ok(),
        );
        let mut line = format!("{name}: {} {}", reference.name(), show(reference));
        if reference != Builder::Legacy {
            let _ = write!(line, ", legacy {}", show(Builder::Legacy));
        }
        let _ = write!(line, ", hoist {}", show(Builder::Hoist));
        match (theirs, ours, may_refuse) {
            (a, b, _) if a == b => {}
            (true, false, Some(why)) => notes.push(format!("{line} (accepted: {why})")),
            _ => failures.push(format!("{line}\nDockerfile:\n{dockerfile}")),
        }
    }
    for n in &notes {
        eprintln!("dockerfile_errors_match_docker: note: {n}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
