//! `hoist build` from the CLI: Dockerfiles written here over a busybox image made in code, built into a
//! private store; the image's config, history and files checked with `inspect`, `run` and `export`; the
//! cache (hits, content keys, `--no-cache`, prune), bad input (file:line errors, exit codes, no tag
//! moved) and reproducibility. RUN needs root (namespaces, overlayfs); each test skips with the reason
//! printed otherwise.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::hoist;
use hoist_layer::builder::LayerBuilder;
use hoist_test_support::cli::{Run, TestHoist, path_str};
use hoist_test_support::fixtures::{ImageFixture, busybox_layer, docker_archive};
use hoist_test_support::peers::skip;
use serde_json::Value;

const APPLETS: &[&str] = &[
    "cat", "echo", "ls", "mkdir", "sh", "stat", "test", "touch", "true", "wc", "id", "env", "sleep",
];

/// busybox with its applets, `/etc/passwd` with a user `app` (1000:1000), `/tmp`.
fn base_image(tag: &str) -> Option<ImageFixture> {
    let mut second = LayerBuilder::new().dir("bin", 0o755);
    for applet in APPLETS.iter().filter(|a| **a != "sh") {
        second = second.symlink(format!("bin/{applet}"), "busybox");
    }
    let second = second
        .dir("etc", 0o755)
        .file(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
            0o644,
        )
        .file("etc/group", "root:x:0:\napp:x:1000:\n", 0o644)
        .dir("tmp", 0o1777)
        .build();
    Some(ImageFixture::new(vec![busybox_layer()?, second]).tag(tag))
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A store holding `busybox:latest`, or `None` (reason printed).
fn setup(test: &str) -> Option<TestHoist> {
    if !is_root() {
        skip(test, "not root: RUN needs namespaces and mounts");
        return None;
    }
    let Some(img) = base_image("busybox:latest") else {
        skip(test, "busybox-static not installed");
        return None;
    };
    let h = hoist();
    h.load(&docker_archive(&[img]));
    Some(h)
}

/// A context directory with these files (path, content) under the store's temp dir.
fn context(h: &TestHoist, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = h.path(name);
    for (path, content) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap_or(&dir)).expect("create context dir");
        std::fs::write(&full, content).expect("write context file");
    }
    dir
}

fn build(h: &TestHoist, dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    all.push(path_str(dir));
    h.run(&all)
}

fn inspect(h: &TestHoist, image: &str) -> Value {
    let text = h.ok(&["image", "inspect", image]);
    let docs: Value = serde_json::from_str(&text).expect("inspect JSON");
    docs[0].clone()
}

fn run_out(h: &TestHoist, args: &[&str]) -> String {
    let mut all = vec!["run", "--rm"];
    all.extend_from_slice(args);
    h.ok(&all)
}

const MULTI_STAGE: &str = r#"# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS builder
WORKDIR /src
COPY package*.json ./
RUN echo "installed $(cat package.json)" > deps.txt
COPY . .
ARG MODE=dev
RUN echo "built in $MODE" > /src/out.txt

FROM busybox AS production
WORKDIR /app
COPY --from=builder /src/out.txt /src/deps.txt ./
ENV GREETING="hello world" LEVEL=2
LABEL org.example.name="demo app" maintainer=me@example.com
EXPOSE 3000 53/udp
USER app
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s CMD test -f /app/out.txt
ENTRYPOINT ["cat"]
CMD ["/app/out.txt"]
"#;

#[test]
fn multi_stage_build_gives_docker_config_and_runs() {
    let Some(h) = setup("multi_stage_build_gives_docker_config_and_runs") else {
        return;
    };
    let dir = context(
        &h,
        "ctx",
        &[
            ("Dockerfile", MULTI_STAGE),
            ("package.json", "{\"name\":\"demo\"}"),
            ("package-lock.json", "{}"),
            ("main.js", "console.log(1)"),
        ],
    );
    let r = build(&h, &dir, &["-t", "demo:1.0", "--build-arg", "MODE=prod"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    for expected in [
        "[builder 1/6] FROM docker.io/library/busybox:latest",
        "[builder 3/6] COPY package*.json ./",
        "[production 3/3] COPY --from=builder /src/out.txt /src/deps.txt ./",
        "exporting to image",
        "naming to docker.io/library/demo:1.0 done",
    ] {
        assert!(
            r.stderr.contains(expected),
            "missing {expected:?} in\n{}",
            r.stderr
        );
    }
    let doc = inspect(&h, "demo:1.0");
    let config = &doc["Config"];
    assert_eq!(config["WorkingDir"], "/app");
    assert_eq!(config["User"], "app");
    assert_eq!(config["StopSignal"], "SIGTERM");
    assert_eq!(config["Entrypoint"], serde_json::json!(["cat"]));
    assert_eq!(config["Cmd"], serde_json::json!(["/app/out.txt"]));
    assert_eq!(
        config["ExposedPorts"],
        serde_json::json!({"3000/tcp": {}, "53/udp": {}})
    );
    assert_eq!(config["Labels"]["org.example.name"], "demo app");
    let env: Vec<String> = serde_json::from_value(config["Env"].clone()).expect("env");
    assert!(env.contains(&"GREETING=hello world".to_owned()), "{env:?}");
    assert!(env.contains(&"LEVEL=2".to_owned()), "{env:?}");
    assert_eq!(
        config["Healthcheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "test -f /app/out.txt"])
    );
    assert_eq!(config["Healthcheck"]["Interval"], 30_000_000_000i64);
    // Base (2 layers) + WORKDIR + COPY of the production stage.
    assert_eq!(doc["RootFS"]["Layers"].as_array().map(Vec::len), Some(4));
    // The run: ENTRYPOINT + CMD as the user `app`, with files from the builder stage.
    assert_eq!(run_out(&h, &["demo:1.0"]), "built in prod\n");
    assert_eq!(
        run_out(&h, &["demo:1.0", "/app/deps.txt"]),
        "installed {\"name\":\"demo\"}\n"
    );
    let id = run_out(&h, &["--entrypoint", "id", "demo:1.0"]);
    assert!(id.starts_with("uid=1000(app) gid=1000(app)"), "{id}");
    // History as BuildKit writes it: metadata instructions are empty layers.
    let history = h.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Size}}",
        "demo:1.0",
    ]);
    assert!(history.contains("CMD [\"/app/out.txt\"]|0B"), "{history}");
    assert!(
        history.contains("COPY /src/out.txt /src/deps.txt ./ # buildkit|"),
        "{history}"
    );
}

#[test]
fn rebuilds_hit_the_cache_by_content_not_mtime() {
    let Some(h) = setup("rebuilds_hit_the_cache_by_content_not_mtime") else {
        return;
    };
    let dir = context(
        &h,
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\nCOPY c.txt /c.txt\n",
            ),
            ("a.txt", "one\n"),
            ("c.txt", "c\n"),
        ],
    );
    let first = build(&h, &dir, &["-q", "-t", "x:1"]);
    assert_eq!(first.status, 0, "{}", first.stderr);
    let again = build(&h, &dir, &["-t", "x:1"]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert_eq!(
        again.stderr.matches(" CACHED").count(),
        4,
        "{}",
        again.stderr
    );
    let id = |h: &TestHoist| h.ok(&["images", "-q", "--no-trunc", "x:1"]);
    assert_eq!(
        id(&h).trim(),
        first.stdout.trim(),
        "a fully cached rebuild keeps the image ID"
    );
    // Touching a file (mtime only) still hits.
    let now = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(dir.join("a.txt"))
        .and_then(|f| f.set_modified(now))
        .expect("touch");
    let touched = build(&h, &dir, &["-q", "-t", "x:1"]);
    assert_eq!(touched.stdout.trim(), first.stdout.trim());
    // Changing the content reruns that COPY and the steps after it.
    std::fs::write(dir.join("a.txt"), "two\n").expect("edit");
    let changed = build(&h, &dir, &["-t", "x:2"]);
    assert_eq!(changed.status, 0, "{}", changed.stderr);
    assert!(
        changed.stderr.contains("COPY a.txt /a.txt\n#"),
        "{}",
        changed.stderr
    );
    assert_eq!(
        changed.stderr.matches(" CACHED").count(),
        1,
        "only FROM hits:\n{}",
        changed.stderr
    );
    assert_eq!(run_out(&h, &["x:2", "cat", "/b.txt"]), "two\n");
    // --no-cache runs everything again.
    let fresh = build(&h, &dir, &["--no-cache", "-t", "x:3"]);
    assert_eq!(
        fresh.stderr.matches(" CACHED").count(),
        1,
        "{}",
        fresh.stderr
    );
    // The cache is listed and pruned.
    let du = h.ok(&["builder", "du"]);
    assert!(du.contains("RECLAIMABLE"), "{du}");
    let df = h.ok(&["system", "df"]);
    // Six records at least (three steps, each for two contents); a --no-cache RUN that lands in
    // another second makes a different layer and so one more record after it.
    let records: usize = df
        .lines()
        .find_map(|l| l.strip_prefix("Build Cache"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(records >= 6, "{df}");
    let pruned = h.ok(&["builder", "prune", "-af"]);
    assert!(
        pruned.starts_with("Deleted build cache objects:\n"),
        "{pruned}"
    );
    assert!(pruned.contains("Total reclaimed space: "), "{pruned}");
    let du = h.ok(&["builder", "du"]);
    assert!(du.contains("Total:          0B"), "{du}");
}

#[test]
fn failing_run_names_the_command_code_and_line_and_moves_no_tag() {
    let Some(h) = setup("failing_run_names_the_command_code_and_line_and_moves_no_tag") else {
        return;
    };
    let good = context(
        &h,
        "good",
        &[("Dockerfile", "FROM busybox\nCMD [\"true\"]\n")],
    );
    assert_eq!(build(&h, &good, &["-t", "app:1"]).status, 0);
    let before = h.ok(&["images", "-q", "app:1"]);
    let bad = context(
        &h,
        "bad",
        &[(
            "Dockerfile.prod",
            "FROM busybox\nRUN echo start\nRUN echo failing >&2; exit 3\n",
        )],
    );
    let r = h.run(&[
        "build",
        "-f",
        path_str(&bad.join("Dockerfile.prod")),
        "-t",
        "app:1",
        path_str(&bad),
    ]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("#5 0."),
        "output of the step is shown: {}",
        r.stderr
    );
    assert!(r.stderr.contains("failing"), "{}", r.stderr);
    assert!(
        r.stderr.contains("process \"/bin/sh -c echo failing >&2; exit 3\" did not complete successfully: exit code: 3"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Dockerfile.prod:3:"), "{}", r.stderr);
    assert_eq!(
        h.ok(&["images", "-q", "app:1"]),
        before,
        "the tag did not move"
    );
}

#[test]
fn bad_dockerfiles_and_sources_are_named_with_file_and_line() {
    let Some(h) = setup("bad_dockerfiles_and_sources_are_named_with_file_and_line") else {
        return;
    };
    // The seeds' Dockerfile with comments after instructions: FROM takes no trailing words.
    let seed = context(
        &h,
        "seed",
        &[(
            "Dockerfile",
            "FROM busybox       # 基础镜像\nWORKDIR /app              # 设置工作目录\n",
        )],
    );
    let r = build(&h, &seed, &[]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("Dockerfile:1:"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("FROM requires either one or three arguments"),
        "{}",
        r.stderr
    );
    let missing = context(
        &h,
        "missing",
        &[("Dockerfile", "FROM busybox\n\nCOPY nothere.txt /x\n")],
    );
    let r = build(&h, &missing, &[]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("\"/nothere.txt\": not found"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("Dockerfile:3: COPY nothere.txt /x"),
        "{}",
        r.stderr
    );
    let unknown = context(
        &h,
        "unknown",
        &[("Dockerfile", "FROM busybox\nRUNN true\n")],
    );
    let r = build(&h, &unknown, &[]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("Dockerfile:2:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("unknown instruction: RUNN"),
        "{}",
        r.stderr
    );
    let r = build(&h, &unknown, &["--target", "nope"]);
    assert_eq!(r.status, 1);
    let r = build(&h, &seed, &["--allow", "platform.mismatch"]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("platform.mismatch"), "{}", r.stderr);
    let r = build(&h, &h.path("no-such-dir"), &[]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("not found"), "{}", r.stderr);
}

#[test]
fn target_build_args_ignore_heredocs_and_owners() {
    let Some(h) = setup("target_build_args_ignore_heredocs_and_owners") else {
        return;
    };
    let dockerfile = r#"FROM busybox AS builder
ARG VERSION=1.0
RUN echo "v$VERSION" > /version
RUN <<EOF
echo line1 > /heredoc
echo line2 >> /heredoc
EOF
COPY <<-EOT /etc/motd
	welcome
	EOT
COPY --chown=app:app src/ /home/app/src/
COPY . /ctx/

FROM builder AS never
RUN exit 9
"#;
    let dir = context(
        &h,
        "ctx",
        &[
            ("Dockerfile", dockerfile),
            ("src/main.txt", "main\n"),
            ("node_modules/big.js", "x"),
            ("notes.md", "doc"),
            ("keep/keep.md", "kept"),
            (".dockerignore", "node_modules\n*.md\n!keep/*.md\n"),
        ],
    );
    let r = build(
        &h,
        &dir,
        &[
            "--target",
            "builder",
            "--build-arg",
            "VERSION=2.5",
            "-t",
            "b:1",
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        !r.stderr.contains("exit 9"),
        "the never stage was not built: {}",
        r.stderr
    );
    assert_eq!(run_out(&h, &["b:1", "cat", "/version"]), "v2.5\n");
    assert_eq!(run_out(&h, &["b:1", "cat", "/heredoc"]), "line1\nline2\n");
    assert_eq!(run_out(&h, &["b:1", "cat", "/etc/motd"]), "welcome\n");
    assert_eq!(
        run_out(
            &h,
            &["b:1", "stat", "-c", "%u:%g", "/home/app/src/main.txt"]
        ),
        "1000:1000\n"
    );
    let listing = run_out(&h, &["b:1", "ls", "-R", "/ctx"]);
    let names: BTreeSet<&str> = listing.split_whitespace().collect();
    assert!(
        names.contains("Dockerfile") && names.contains("keep.md"),
        "{listing}"
    );
    assert!(
        !names.contains("node_modules") && !names.contains("notes.md"),
        "{listing}"
    );
}

#[test]
fn secrets_and_cache_mounts_never_land_in_a_layer() {
    let Some(h) = setup("secrets_and_cache_mounts_never_land_in_a_layer") else {
        return;
    };
    let dockerfile = "FROM busybox\n\
RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /secret-length\n\
RUN --mount=type=cache,target=/cache echo x >> /cache/log && wc -l < /cache/log > /count\n\
RUN --mount=type=tmpfs,target=/scratch,size=1m echo t > /scratch/t && cat /scratch/t > /from-tmpfs\n";
    let dir = context(&h, "ctx", &[("Dockerfile", dockerfile)]);
    let secret = h.write("token.txt", b"hunter2");
    let src = format!("id=token,src={}", path_str(&secret));
    let r = build(&h, &dir, &["--secret", &src, "-t", "s:1"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let r = build(&h, &dir, &["--no-cache", "--secret", &src, "-t", "s:2"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        run_out(&h, &["s:2", "cat", "/count"]).trim(),
        "2",
        "the cache mount persisted"
    );
    assert_eq!(
        run_out(&h, &["s:2", "cat", "/secret-length"]).trim(),
        "7",
        "the secret was readable"
    );
    let exported = h.run(&["save", "s:2"]);
    assert!(!String::from_utf8_lossy(exported.stdout.as_bytes()).contains("hunter2"));
    let history = h.ok(&["history", "--no-trunc", "s:2"]);
    assert!(!history.contains("hunter2"), "{history}");
    let stub = h.run(&["run", "--rm", "s:2", "test", "-e", "/run/secrets/token"]);
    assert_eq!(
        stub.status, 1,
        "the mount target was removed from the layer"
    );
    assert_eq!(run_out(&h, &["s:2", "cat", "/from-tmpfs"]), "t\n");
    let scratch = h.run(&["run", "--rm", "s:2", "test", "-e", "/scratch"]);
    assert_eq!(
        scratch.status, 1,
        "the tmpfs mount point is not in the layer"
    );
    let cache = h.run(&["run", "--rm", "s:2", "test", "-e", "/cache/log"]);
    assert_eq!(
        cache.status, 1,
        "the cache mount's content stays out of the layer"
    );
    // A required secret that is missing fails the step.
    let r = build(&h, &dir, &["--no-cache"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
}

#[test]
fn source_date_epoch_makes_builds_reproducible_across_stores() {
    let Some(a) = setup("source_date_epoch_makes_builds_reproducible_across_stores") else {
        return;
    };
    let Some(b) = setup("source_date_epoch_makes_builds_reproducible_across_stores") else {
        return;
    };
    let files = [
        (
            "Dockerfile",
            "FROM busybox\nCOPY app.txt /app/\nRUN echo hi > /app/hi\nENV X=1\n",
        ),
        ("app.txt", "app\n"),
    ];
    let da = context(&a, "ctx", &files);
    let db = context(&b, "ctx", &files);
    let args = ["-q", "--build-arg", "SOURCE_DATE_EPOCH=1700000000"];
    let ia = build(&a, &da, &args);
    let ib = build(&b, &db, &args);
    assert_eq!(ia.status, 0, "{}", ia.stderr);
    assert_eq!(ia.stdout, ib.stdout, "same inputs, same image ID");
    let doc = inspect(&a, ia.stdout.trim());
    assert_eq!(doc["Created"], "2023-11-14T22:13:20Z");
    // Without SOURCE_DATE_EPOCH a Dockerfile without RUN still gives the same ID in both stores.
    let copy_only = [
        (
            "Dockerfile",
            "FROM busybox\nWORKDIR /srv/app\nCOPY app.txt ./\nENV X=1\n",
        ),
        ("app.txt", "app\n"),
    ];
    let ca = context(&a, "copy-only", &copy_only);
    let cb = context(&b, "copy-only", &copy_only);
    let modified = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    for dir in [&ca, &cb] {
        std::fs::File::options()
            .write(true)
            .open(dir.join("app.txt"))
            .and_then(|f| f.set_modified(modified))
            .expect("set mtime");
    }
    let first = build(&a, &ca, &["-q"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = build(&b, &cb, &["-q"]);
    assert_eq!(first.status, 0, "{}", first.stderr);
    assert_eq!(
        first.stdout, second.stdout,
        "a COPY-only build is reproducible"
    );
}

#[test]
fn stdin_dockerfile_squash_onbuild_and_iidfile() {
    let Some(h) = setup("stdin_dockerfile_squash_onbuild_and_iidfile") else {
        return;
    };
    let r = h.run_stdin(
        &["build", "-t", "parent:1", "-"],
        b"FROM busybox\nONBUILD RUN echo triggered > /onbuild\nRUN echo a > /a\nRUN echo b > /b\n",
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let doc = inspect(&h, "parent:1");
    assert_eq!(
        doc["Config"]["OnBuild"],
        serde_json::json!(["RUN echo triggered > /onbuild"])
    );
    let dir = context(
        &h,
        "child",
        &[("Dockerfile", "FROM parent:1\nRUN echo c > /c\n")],
    );
    let iid = h.path("iid");
    let r = build(
        &h,
        &dir,
        &["--squash", "--iidfile", path_str(&iid), "-t", "child:1"],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(run_out(&h, &["child:1", "cat", "/onbuild"]), "triggered\n");
    let doc = inspect(&h, "child:1");
    assert_eq!(
        doc["Config"]["OnBuild"],
        Value::Null,
        "triggers do not carry over"
    );
    assert_eq!(
        std::fs::read_to_string(&iid).expect("iidfile"),
        doc["Id"].as_str().unwrap_or("")
    );
    // parent has 2 base + 2 RUN layers; the child's own layers (trigger + RUN) squash into one.
    assert_eq!(doc["RootFS"]["Layers"].as_array().map(Vec::len), Some(5));
    assert_eq!(run_out(&h, &["child:1", "cat", "/a", "/c"]), "a\nc\n");
}

#[test]
fn outputs_go_to_a_directory_a_tar_archives_and_a_registry() {
    let Some(h) = setup("outputs_go_to_a_directory_a_tar_archives_and_a_registry") else {
        return;
    };
    let dir = context(
        &h,
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo made > /made\nCMD [\"cat\", \"/made\"]\n",
        )],
    );
    let local = h.path("rootfs");
    let r = build(
        &h,
        &dir,
        &["-o", &format!("type=local,dest={}", path_str(&local))],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(local.join("made")).expect("local output"),
        "made\n"
    );
    assert!(local.join("bin/busybox").is_file());
    let tar_path = h.path("rootfs.tar");
    let r = build(
        &h,
        &dir,
        &["-o", &format!("type=tar,dest={}", path_str(&tar_path))],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let mut names = BTreeSet::new();
    let mut archive = tar::Archive::new(std::fs::File::open(&tar_path).expect("tar output"));
    for entry in archive.entries().expect("tar entries") {
        let entry = entry.expect("tar entry");
        names.insert(entry.path().expect("path").to_string_lossy().into_owned());
    }
    assert!(
        names.contains("made") && names.contains("bin/busybox"),
        "{names:?}"
    );
    let docker_tar = h.path("image.tar");
    let r = build(
        &h,
        &dir,
        &[
            "-t",
            "out:1",
            "-o",
            &format!("type=docker,dest={}", path_str(&docker_tar)),
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let other = hoist();
    let loaded = other.ok(&["load", "-i", path_str(&docker_tar)]);
    assert!(loaded.contains("Loaded image: out:1"), "{loaded}");
    let oci = h.path("image-oci.tar");
    let r = build(
        &h,
        &dir,
        &[
            "-t",
            "out:1",
            "-o",
            &format!("type=oci,dest={}", path_str(&oci)),
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(std::fs::metadata(&oci).is_ok_and(|m| m.len() > 1024));
    // --push: into `hoist registry serve`, then pulled into a fresh store and run.
    let registry = hoist_test_support::registry::serve_hoist(&h, "registry", &[]);
    let name = format!("{}/built/app:1", registry.addr);
    let r = build(&h, &dir, &["-t", &name, "--push"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("digest: sha256:"), "{}", r.stdout);
    let r = build(&h, &dir, &["--push"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("tag is needed when pushing to registry"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_dockerfile_with_many_layers_builds_past_the_mount_option_limit() {
    let Some(h) = setup("a_dockerfile_with_many_layers_builds_past_the_mount_option_limit") else {
        return;
    };
    // 80 RUN layers: the overlay's lowerdir option outgrows a page at about 50 of them.
    let mut dockerfile = String::from("FROM busybox\n");
    for i in 1..=80 {
        dockerfile.push_str(&format!("RUN echo {i} > /f{i}\n"));
    }
    let dir = context(&h, "ctx", &[("Dockerfile", &dockerfile)]);
    let r = build(&h, &dir, &["-q", "-t", "many:1"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(run_out(&h, &["many:1", "cat", "/f1", "/f80"]), "1\n80\n");
}

#[test]
fn foreign_platform_copy_builds_and_run_needs_binfmt() {
    let Some(h) = setup("foreign_platform_copy_builds_and_run_needs_binfmt") else {
        return;
    };
    let rootfs = h.write(
        "rootfs.tar",
        &hoist_test_support::fixtures::layer("d etc 755\nf etc/os 644 arm\n"),
    );
    h.ok(&[
        "import",
        "--platform",
        "linux/arm64",
        path_str(&rootfs),
        "armbase:1",
    ]);
    let dir = context(
        &h,
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM armbase:1\nARG TARGETARCH\nCOPY app.txt /app-$TARGETARCH.txt\n",
            ),
            ("Dockerfile.run", "FROM armbase:1\nRUN true\n"),
            ("app.txt", "app\n"),
        ],
    );
    let r = build(&h, &dir, &["--platform", "linux/arm64", "-t", "arm:1"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let doc = inspect(&h, "arm:1");
    assert_eq!(doc["Architecture"], "arm64");
    let out = h.path("arm.tar");
    let r = build(
        &h,
        &dir,
        &[
            "--platform",
            "linux/arm64",
            "-o",
            &format!("type=tar,dest={}", path_str(&out)),
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let mut archive = tar::Archive::new(std::fs::File::open(&out).expect("tar output"));
    let names: BTreeSet<String> = archive
        .entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(
        names.contains("app-arm64.txt"),
        "TARGETARCH is the target's: {names:?}"
    );
    let r = h.run(&[
        "build",
        "--platform",
        "linux/arm64",
        "-f",
        path_str(&dir.join("Dockerfile.run")),
        path_str(&dir),
    ]);
    let handler = std::fs::read_to_string("/proc/sys/fs/binfmt_misc/qemu-aarch64")
        .is_ok_and(|t| t.starts_with("enabled"));
    if !handler {
        assert_eq!(r.status, 1);
        assert!(
            r.stderr.contains("needs a binfmt_misc handler for aarch64"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("Dockerfile.run:2"), "{}", r.stderr);
    }
}

#[test]
fn named_build_contexts_feed_from_and_copy_from() {
    let Some(h) = setup("named_build_contexts_feed_from_and_copy_from") else {
        return;
    };
    let extra = context(&h, "extra", &[("conf/app.conf", "port=80\n")]);
    let dir = context(
        &h,
        "ctx",
        &[(
            "Dockerfile",
            "FROM base AS b\nCOPY --from=configs conf/app.conf /etc/app.conf\nCOPY --from=tools /bin/busybox /tools/busybox\n",
        )],
    );
    let r = build(
        &h,
        &dir,
        &[
            "--build-context",
            &format!("configs={}", path_str(&extra)),
            "--build-context",
            "base=docker-image://busybox:latest",
            "--build-context",
            "tools=docker-image://busybox",
            "-t",
            "named:1",
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        run_out(&h, &["named:1", "cat", "/etc/app.conf"]),
        "port=80\n"
    );
    assert_eq!(
        run_out(&h, &["named:1", "/tools/busybox", "echo", "ok"]),
        "ok\n"
    );
    // oci-layout://DIR:TAG: an image in an OCI layout directory.
    let layout = h.path("layout");
    h.ok(&[
        "copy",
        "hoist:busybox:latest",
        &format!("oci:{}:v1", path_str(&layout)),
    ]);
    let from_layout = context(
        &h,
        "from-layout",
        &[("Dockerfile", "FROM base\nRUN echo layout > /l\n")],
    );
    let r = build(
        &h,
        &from_layout,
        &[
            "--build-context",
            &format!("base=oci-layout://{}:v1", path_str(&layout)),
            "-t",
            "layout:1",
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(run_out(&h, &["layout:1", "cat", "/l"]), "layout\n");
    assert!(
        !h.ok(&["images"]).contains("hoist-build-context"),
        "the temporary tag is gone"
    );
}

#[test]
fn cache_exported_to_a_directory_is_hit_by_another_store() {
    let Some(a) = setup("cache_exported_to_a_directory_is_hit_by_another_store") else {
        return;
    };
    let Some(b) = setup("cache_exported_to_a_directory_is_hit_by_another_store") else {
        return;
    };
    let files = [
        (
            "Dockerfile",
            "FROM busybox\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy.txt\n",
        ),
        ("app.txt", "app\n"),
    ];
    let cache = a.path("cache");
    let r = build(
        &a,
        &context(&a, "ctx", &files),
        &[
            "--cache-to",
            &format!("type=local,dest={}", path_str(&cache)),
            "-q",
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(cache.join("hoist-build-cache.json").is_file());
    let r = build(
        &b,
        &context(&b, "ctx", &files),
        &[
            "--cache-from",
            &format!("type=local,src={}", path_str(&cache)),
            "-t",
            "from-cache:1",
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches(" CACHED").count(),
        3,
        "FROM, COPY and RUN hit:\n{}",
        r.stderr
    );
    assert_eq!(run_out(&b, &["from-cache:1", "cat", "/copy.txt"]), "app\n");
    // Through a registry: hoist's cache artifact pushed by one store, fetched by a third.
    let registry = hoist_test_support::registry::serve_hoist(&a, "registry", &[]);
    let cache_ref = format!("{}/cache/app:buildcache", registry.addr);
    let r = build(
        &a,
        &context(&a, "ctx3", &files),
        &[
            "--cache-to",
            &format!("type=registry,ref={cache_ref}"),
            "-q",
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let Some(c) = setup("cache_exported_to_a_directory_is_hit_by_another_store") else {
        return;
    };
    let r = build(
        &c,
        &context(&c, "ctx", &files),
        &["--cache-from", &cache_ref, "-t", "from-registry:1"],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.stderr.matches(" CACHED").count(), 3, "{}", r.stderr);
    // Inline: the records ride in the pushed image's config; --cache-from IMAGE pulls and uses them.
    let image_ref = format!("{}/cache/inline:1", registry.addr);
    let r = build(
        &a,
        &context(&a, "ctx6", &files),
        &["--cache-to", "type=inline", "-t", &image_ref, "--push"],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let Some(d) = setup("cache_exported_to_a_directory_is_hit_by_another_store") else {
        return;
    };
    let r = build(
        &d,
        &context(&d, "ctx", &files),
        &["--cache-from", &image_ref, "-t", "inline:1"],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.stderr.matches(" CACHED").count(), 3, "{}", r.stderr);
    // A cache that does not exist yet is no error (a first build), an unknown type is.
    let missing = format!("type=registry,ref={}/cache/none:1", registry.addr);
    let r = build(
        &c,
        &context(&c, "ctx4", &files),
        &["--cache-from", &missing, "-q"],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let r = build(
        &c,
        &context(&c, "ctx5", &files),
        &["--cache-from", "type=gha"],
    );
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("not supported by hoist yet"),
        "{}",
        r.stderr
    );
}

#[test]
fn check_reports_buildkit_rules_and_advice_and_error_true_fails_the_build() {
    let Some(h) = setup("check_reports_buildkit_rules_and_advice_and_error_true_fails_the_build")
    else {
        return;
    };
    let dir = context(
        &h,
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM busybox as Builder\nRUN echo one\nRUN echo two\nCMD echo hi\n",
            ),
            (
                "Dockerfile.strict",
                "# check=error=true\nFROM busybox:1 AS b\nCMD echo hi\n",
            ),
            (
                "Dockerfile.clean",
                "FROM busybox:1 AS b\nUSER 1000\nCMD [\"echo\", \"hi\"]\n",
            ),
        ],
    );
    let r = build(&h, &dir, &["--check"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    for expected in [
        "WARNING: FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)",
        "WARNING: StageNameCasing: Stage name 'Builder' should be lowercase (line 1)",
        "WARNING: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 4)",
        "WARNING: ConsecutiveRunInstructions:",
        "Check complete, ",
    ] {
        assert!(
            r.stdout.contains(expected),
            "missing {expected:?} in\n{}",
            r.stdout
        );
    }
    assert_eq!(
        h.ok(&["images", "-q"]).lines().count(),
        1,
        "--check builds nothing"
    );
    let clean = h.run(&[
        "build",
        "--check",
        "-f",
        path_str(&dir.join("Dockerfile.clean")),
        path_str(&dir),
    ]);
    assert_eq!(clean.status, 0, "{}", clean.stdout);
    assert_eq!(clean.stdout, "Check complete, no warnings found.\n");
    let built = build(&h, &dir, &["-t", "warned:1"]);
    assert_eq!(built.status, 0, "{}", built.stderr);
    assert!(built.stderr.contains("warnings found"), "{}", built.stderr);
    assert!(
        built.stderr.contains(" - FromAsCasing:"),
        "{}",
        built.stderr
    );
    let strict = h.run(&[
        "build",
        "-f",
        path_str(&dir.join("Dockerfile.strict")),
        path_str(&dir),
    ]);
    assert_eq!(strict.status, 1);
    assert!(
        strict
            .stderr
            .contains("lint violation found for rules: JSONArgsRecommended"),
        "{}",
        strict.stderr
    );
}

#[test]
fn an_interrupted_build_tags_nothing_and_leaves_nothing_after_gc() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    let Some(h) = setup("an_interrupted_build_tags_nothing_and_leaves_nothing_after_gc") else {
        return;
    };
    let dir = context(
        &h,
        "ctx",
        &[("Dockerfile", "FROM busybox\nRUN echo started; sleep 30\n")],
    );
    let mut child = h
        .command()
        .args([
            "build",
            "--progress",
            "plain",
            "-t",
            "never:1",
            path_str(&dir),
        ])
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start hoist build");
    let stderr = child.stderr.take().expect("stderr");
    for line in BufReader::new(stderr).lines() {
        if line.expect("progress line").ends_with(" started") {
            break;
        }
    }
    // Ctrl-C: SIGINT to the whole process group, as a terminal sends it.
    let group = nix::unistd::Pid::from_raw(-i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let status = child.wait().expect("wait for hoist build");
    assert!(!status.success());
    assert_eq!(
        h.run(&["images", "-q", "never:1"]).stdout,
        "",
        "no tag moved"
    );
    h.ok(&["system", "gc"]);
    let leftovers: Vec<_> = std::fs::read_dir(h.root().join("snapshots/containers"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !mounts.contains(path_str(&h.root())),
        "nothing stays mounted"
    );
}

/// `git-daemon` serving `base` on 127.0.0.1, killed when dropped.
struct GitDaemon {
    child: std::process::Child,
    port: u16,
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run git");
    assert!(status.success(), "git {args:?}");
}

/// A repository `repo.git` (branch main: `app/Dockerfile`, `app/hello.txt`, `README`) served by git-daemon.
fn git_repository(h: &TestHoist) -> Option<GitDaemon> {
    let exec_path = std::process::Command::new("git")
        .arg("--exec-path")
        .output()
        .ok()?;
    let daemon_bin =
        PathBuf::from(String::from_utf8_lossy(&exec_path.stdout).trim()).join("git-daemon");
    if !daemon_bin.is_file() {
        return None;
    }
    let work = context(
        h,
        "repo-work",
        &[
            (
                "app/Dockerfile",
                "FROM busybox\nCOPY hello.txt /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n",
            ),
            ("app/hello.txt", "hello from git\n"),
            ("README", "readme\n"),
        ],
    );
    git(&work, &["init", "-q"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "first"]);
    let base = h.path("git-base");
    std::fs::create_dir_all(&base).expect("git base");
    git(
        &base,
        &["clone", "-q", "--bare", path_str(&work), "repo.git"],
    );
    let port = hoist_test_support::registry::free_port();
    let child = std::process::Command::new(daemon_bin)
        .args(["--export-all", "--reuseaddr", "--listen=127.0.0.1"])
        .arg(format!("--base-path={}", path_str(&base)))
        .arg(format!("--port={port}"))
        .arg(&base)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let daemon = GitDaemon { child, port };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "git daemon did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(daemon)
}

#[test]
fn git_url_contexts_and_add_of_a_repository() {
    let Some(h) = setup("git_url_contexts_and_add_of_a_repository") else {
        return;
    };
    let Some(daemon) = git_repository(&h) else {
        skip(
            "git_url_contexts_and_add_of_a_repository",
            "git-daemon not installed",
        );
        return;
    };
    // The seeds' `docker build -t my-app:1.0.0 https://…/repo.git#branch:directory`.
    let url = format!("git://127.0.0.1:{}/repo.git", daemon.port);
    let r = h.run(&["build", "-t", "from-git:1", &format!("{url}#main:app")]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(run_out(&h, &["from-git:1"]), "hello from git\n");
    let dir = context(
        &h,
        "ctx",
        &[(
            "Dockerfile",
            &format!("FROM busybox\nADD {url}#main /src/\n"),
        )],
    );
    let r = build(&h, &dir, &["-t", "added:1"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        run_out(&h, &["added:1", "cat", "/src/README", "/src/app/hello.txt"]),
        "readme\nhello from git\n"
    );
    let r = h.run(&["run", "--rm", "added:1", "test", "-e", "/src/.git"]);
    assert_eq!(r.status, 1, "the .git directory is not kept");
    let keep = context(
        &h,
        "keep",
        &[(
            "Dockerfile",
            &format!("FROM busybox\nADD --keep-git-dir {url}#main /src/\n"),
        )],
    );
    let r = build(&h, &keep, &["-t", "kept:1"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let r = h.run(&["run", "--rm", "kept:1", "test", "-d", "/src/.git"]);
    assert_eq!(r.status, 0, "--keep-git-dir keeps .git");
}

#[test]
fn copy_exclude_and_parents() {
    let Some(h) = setup("copy_exclude_and_parents") else {
        return;
    };
    let dir = context(
        &h,
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY --exclude=*.log --exclude=tmp app/ /app/\nCOPY --parents web/*/package.json /deps/\nCOPY --parents ./web/./b/index.js /pivot/\n",
            ),
            ("app/main.js", "main"),
            ("app/debug.log", "noise"),
            ("app/tmp/x", "x"),
            ("app/lib/util.js", "util"),
            ("web/a/package.json", "{\"a\":1}"),
            ("web/b/package.json", "{\"b\":1}"),
            ("web/b/index.js", "b"),
        ],
    );
    let r = build(&h, &dir, &["-t", "ex:1"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let listing = run_out(&h, &["ex:1", "ls", "-R", "/app", "/deps"]);
    let names: BTreeSet<&str> = listing.split_whitespace().collect();
    assert!(
        names.contains("main.js") && names.contains("util.js"),
        "{listing}"
    );
    assert!(
        !names.contains("debug.log") && !names.contains("tmp"),
        "{listing}"
    );
    assert_eq!(
        run_out(
            &h,
            &[
                "ex:1",
                "cat",
                "/deps/web/a/package.json",
                "/deps/web/b/package.json"
            ]
        ),
        "{\"a\":1}{\"b\":1}"
    );
    assert!(!names.contains("index.js"), "{listing}");
    assert_eq!(run_out(&h, &["ex:1", "cat", "/pivot/b/index.js"]), "b");
}

#[test]
fn several_platforms_push_an_index() {
    let Some(h) = setup("several_platforms_push_an_index") else {
        return;
    };
    let rootfs = h.write(
        "rootfs.tar",
        &hoist_test_support::fixtures::layer("d etc 755\nf etc/os 644 any\n"),
    );
    h.ok(&[
        "import",
        "--platform",
        "linux/arm64",
        path_str(&rootfs),
        "multibase:arm64",
    ]);
    h.ok(&[
        "import",
        "--platform",
        "linux/amd64",
        path_str(&rootfs),
        "multibase:amd64",
    ]);
    let dir = context(
        &h,
        "ctx",
        &[
            (
                "Dockerfile",
                "ARG TARGETARCH\nFROM multibase:${TARGETARCH}\nARG TARGETPLATFORM\nCOPY app.txt /app/\nLABEL built.for=${TARGETPLATFORM}\n",
            ),
            ("app.txt", "app\n"),
        ],
    );
    let r = build(
        &h,
        &dir,
        &["--platform", "linux/amd64,linux/arm64", "-t", "multi:1"],
    );
    assert_eq!(r.status, 1, "an index needs --push");
    // An OCI archive holding the index, each image, and every blob once.
    let archive = h.path("multi.tar");
    let r = build(
        &h,
        &dir,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "-t",
            "multi:1",
            "-o",
            &format!("type=oci,dest={}", path_str(&archive)),
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let mut files = std::collections::BTreeMap::new();
    let mut tar = tar::Archive::new(std::fs::File::open(&archive).expect("oci archive"));
    for entry in tar.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).expect("read entry");
        files.insert(path, bytes);
    }
    let top: Value = serde_json::from_slice(&files["index.json"]).expect("index.json");
    assert_eq!(
        top["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "1"
    );
    let nested_digest = top["manifests"][0]["digest"].as_str().expect("digest");
    let nested: Value = serde_json::from_slice(
        &files[&format!(
            "blobs/sha256/{}",
            nested_digest.trim_start_matches("sha256:")
        )],
    )
    .expect("nested index");
    let platforms: Vec<&str> = nested["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| {
            let digest = m["digest"].as_str().unwrap_or_default();
            assert!(files.contains_key(&format!(
                "blobs/sha256/{}",
                digest.trim_start_matches("sha256:")
            )));
            m["platform"]["architecture"].as_str().unwrap_or_default()
        })
        .collect();
    assert_eq!(platforms, vec!["amd64", "arm64"]);
    let registry = hoist_test_support::registry::serve_hoist(&h, "registry", &[]);
    let name = format!("{}/multi/app:1", registry.addr);
    let r = build(
        &h,
        &dir,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "-t",
            &name,
            "--push",
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("pushing manifest list for"),
        "{}",
        r.stderr
    );
    let manifest = h.ok(&["manifest", "inspect", &name]);
    let doc: Value = serde_json::from_str(&manifest).expect("manifest JSON");
    let archs: Vec<&str> = doc["manifests"]
        .as_array()
        .expect("an index")
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(archs, vec!["amd64", "arm64"]);
    let other = hoist();
    other.ok(&["pull", "--platform", "linux/arm64", &name]);
    let pulled = inspect(&other, &name);
    assert_eq!(pulled["Architecture"], "arm64");
    assert_eq!(pulled["Config"]["Labels"]["built.for"], "linux/arm64");
}

#[test]
fn annotations_shm_size_and_unsupported_flags() {
    let Some(h) = setup("annotations_shm_size_and_unsupported_flags") else {
        return;
    };
    let dir = context(
        &h,
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN cat /proc/mounts | grep /dev/shm > /shm.txt\n",
        )],
    );
    let r = build(
        &h,
        &dir,
        &[
            "--annotation",
            "org.opencontainers.image.source=https://example.com/x",
            "--shm-size",
            "128m",
            "-t",
            "ann:1",
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let shm = run_out(&h, &["ann:1", "cat", "/shm.txt"]);
    // The legacy builder's -m limits each RUN: a cgroup with that memory.max.
    let limited = context(
        &h,
        "limited",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN cat /sys/fs/cgroup/memory.max > /limit || echo none > /limit\n",
        )],
    );
    let r = build(&h, &limited, &["-m", "64m", "-t", "limited:1"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let limit = run_out(&h, &["limited:1", "cat", "/limit"]);
    assert!(limit == "67108864\n" || limit == "none\n", "{limit}");
    assert!(shm.contains("size=131072k"), "{shm}");
    let saved = h.path("ann.tar");
    h.ok(&["save", "-o", path_str(&saved), "ann:1"]);
    let mut archive = tar::Archive::new(std::fs::File::open(&saved).expect("saved"));
    let mut annotated = false;
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let mut text = String::new();
        if std::io::Read::read_to_string(&mut entry, &mut text).is_ok()
            && text.contains("\"org.opencontainers.image.source\":\"https://example.com/x\"")
        {
            annotated = true;
        }
    }
    assert!(annotated, "the manifest carries the annotation");
    let r = build(&h, &dir, &["--ssh", "default"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("not supported by hoist yet"),
        "{}",
        r.stderr
    );
    let ulimited = context(
        &h,
        "ulimited",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN sh -c 'ulimit -n > /soft; ulimit -Hn > /hard'\n",
        )],
    );
    let r = build(
        &h,
        &ulimited,
        &["--ulimit", "nofile=512:1024", "-t", "ulimited:1"],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        run_out(&h, &["ulimited:1", "cat", "/soft", "/hard"]),
        "512\n1024\n"
    );
    let weighted = context(
        &h,
        "weighted",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN cat /sys/fs/cgroup/cpu.weight > /w || echo none > /w\n",
        )],
    );
    let r = build(&h, &weighted, &["--cpu-shares", "512", "-t", "weighted:1"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let weight = run_out(&h, &["weighted:1", "cat", "/w"]);
    assert!(weight == "20\n" || weight == "none\n", "{weight}");
    // Flags hoist refuses are usage errors (Docker's 125) that name the flag.
    for flags in [
        ["--cpuset-cpus", "0"],
        ["--security-opt", "seccomp=unconfined"],
    ] {
        let r = build(&h, &weighted, &flags);
        assert_eq!(r.status, 125, "{flags:?}");
        assert!(
            r.stderr.contains(flags[0]) && r.stderr.contains("not supported by hoist"),
            "{}",
            r.stderr
        );
    }
    let r = build(&h, &weighted, &["--isolation", "hyperv"]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let r = build(&h, &ulimited, &["--ulimit", "nofiles=1"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("invalid ulimit type: nofiles"),
        "{}",
        r.stderr
    );
}

#[test]
fn independent_stages_build_at_the_same_time() {
    let Some(h) = setup("independent_stages_build_at_the_same_time") else {
        return;
    };
    // Each stage waits (10 s at most) for the other to have started, through a shared cache mount: built
    // one after the other, the first would give up with exit code 7.
    let wait_for = |me: &str, other: &str| {
        format!(
            "RUN --mount=type=cache,id=rendezvous,target=/sync touch /sync/{me} && i=0 && \\\n    until test -e /sync/{other}; do sleep 0.1; i=$((i+1)); test $i -lt 100 || exit 7; done && echo {me} > /{me}.txt\n"
        )
    };
    let dockerfile = format!(
        "FROM busybox AS a\n{}\nFROM busybox AS b\n{}\nFROM busybox\nCOPY --from=a /a.txt /\nCOPY --from=b /b.txt /\n",
        wait_for("a", "b"),
        wait_for("b", "a")
    );
    let dir = context(&h, "ctx", &[("Dockerfile", &dockerfile)]);
    let r = build(&h, &dir, &["-t", "par:1"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(run_out(&h, &["par:1", "cat", "/a.txt", "/b.txt"]), "a\nb\n");
}

#[test]
fn a_missing_base_image_is_pulled_through_the_registry_settings() {
    let Some(h) = setup("a_missing_base_image_is_pulled_through_the_registry_settings") else {
        return;
    };
    // docker.io reached at a registry on loopback: the seeds' `FROM node:18-alpine` pulls, offline.
    let registry = hoist_test_support::registry::serve_hoist(&h, "registry", &[]);
    h.ok(&[
        "tag",
        "busybox:latest",
        &format!("{}/library/node:18-alpine", registry.addr),
    ]);
    h.ok(&["push", &format!("{}/library/node:18-alpine", registry.addr)]);
    let fresh = hoist();
    std::fs::write(
        fresh.path("daemon.json"),
        format!(
            r#"{{"registry-endpoints": {{"docker.io": "http://{}"}}}}"#,
            registry.addr
        ),
    )
    .expect("daemon.json");
    let dir = context(
        &fresh,
        "ctx",
        &[("Dockerfile", "FROM node:18-alpine\nRUN echo pulled > /p\n")],
    );
    let r = build(&fresh, &dir, &["-t", "pulled:1"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("[internal] load metadata for docker.io/library/node:18-alpine"),
        "{}",
        r.stderr
    );
    assert_eq!(run_out(&fresh, &["pulled:1", "cat", "/p"]), "pulled\n");
    assert!(
        fresh.ok(&["images"]).contains("node"),
        "the base stays in the store, as Docker keeps it"
    );
    let r = build(&fresh, &dir, &["--pull", "-q"]);
    assert_eq!(r.status, 0, "--pull asks the registry again: {}", r.stderr);
}
