//! Containers from the CLI (`run`, `create`, `start`, `stop`, `kill`, `logs`, `ps`, `rm`, `container
//! prune`, `commit`, `export`, `import`, `diff`, `inspect`, `system df`) against the Docker Engine's
//! behaviour: its output, wording and exit codes (recorded from Docker 20.10), the layer tar a commit
//! writes, and that a failure leaves no mount or snapshot behind. The image is a static busybox made in
//! code. Needs root (namespaces, mounts, cgroups); each test skips with the reason printed otherwise, and
//! the Docker comparison skips when no Docker Engine answers (scripts/peers.sh start).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::hoist;
use hoist_layer::builder::LayerBuilder;
use hoist_test_support::cli::{Run, TestHoist, path_str};
use hoist_test_support::fixtures::{ImageFixture, busybox_layer, docker_archive};
use hoist_test_support::peers::{docker_available, run as peer, skip};
use serde_json::Value;

/// The image every test loads into its own store.
const IMAGE: &str = "bb:1";

/// busybox applets the tests call, linked next to `bin/sh` (busybox picks the applet from argv[0]).
const APPLETS: &[&str] = &[
    "cat", "chmod", "chown", "dd", "echo", "env", "hostname", "id", "ls", "mkdir", "pwd", "rm",
    "sleep", "stat", "test", "touch", "true",
];

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// busybox, its applets, a user `app` (1000:1000, also in group `staff`, gid 50) with a home it owns,
/// `/etc/hello` to delete and `/dir` (two files) to replace by a new directory. `None` without busybox.
fn busybox_image(tag: &str) -> Option<ImageFixture> {
    let mut second = LayerBuilder::new().dir("bin", 0o755);
    for applet in APPLETS {
        second = second.symlink(format!("bin/{applet}"), "busybox");
    }
    let second = second
        .dir("etc", 0o755)
        .file(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
            0o644,
        )
        .file(
            "etc/group",
            "root:x:0:\nstaff:x:50:app\napp:x:1000:\n",
            0o644,
        )
        .dir("dir", 0o755)
        .file("dir/a", "a\n", 0o644)
        .file("dir/b", "b\n", 0o644)
        .dir("tmp", 0o1777)
        .dir("root", 0o700)
        .file("root/secret", "s\n", 0o600)
        .dir("home", 0o755)
        .owner(1000, 1000)
        .dir("home/app", 0o750)
        .file("home/app/notes", "mine\n", 0o600)
        .build();
    Some(ImageFixture::new(vec![busybox_layer()?, second]).tag(tag))
}

/// `/proc/self` belongs to the effective user of the process reading it.
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A store holding [`IMAGE`], or `None` (reason printed) when containers cannot run here.
fn setup(test: &str) -> Option<TestHoist> {
    if !is_root() {
        skip(
            test,
            "not root: containers need namespaces, mounts and cgroups",
        );
        return None;
    }
    let Some(img) = busybox_image(IMAGE) else {
        skip(test, "busybox-static not installed");
        return None;
    };
    let h = hoist();
    h.load(&docker_archive(&[img]));
    Some(h)
}

/// Runs hoist with extra environment variables.
fn run_env(h: &TestHoist, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut c = h.command();
    for (k, v) in env {
        c.env(k, v);
    }
    match c.args(args).output() {
        Ok(o) => o.into(),
        Err(e) => panic!("running hoist {args:?}: {e}"),
    }
}

/// Runs a command that must return promptly although it leaves a container running (`run -d`,
/// `start`): fails when hoist (or a monitor it left behind) keeps stdout or stderr open, which would make
/// `id=$(hoist run -d …)` hang in a shell.
fn prompt(h: &TestHoist, args: &[&str]) -> Run {
    let mut child = match h
        .command()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("running hoist {args:?}: {e}"),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut err = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut out);
        }
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut err);
        }
        let _ = tx.send((out, err));
    });
    let Ok((out, err)) = rx.recv_timeout(Duration::from_secs(30)) else {
        let _ = child.kill();
        panic!(
            "hoist {args:?} kept stdout/stderr open for 30 s (a monitor holding the caller's pipes?)"
        );
    };
    let status = match child.wait() {
        Ok(s) => s.code().unwrap_or(-1),
        Err(e) => panic!("waiting for hoist {args:?}: {e}"),
    };
    Run {
        status,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    }
}

/// Like [`prompt`], requiring success; returns stdout.
fn prompt_ok(h: &TestHoist, args: &[&str]) -> String {
    let r = prompt(h, args);
    assert_eq!(
        r.status, 0,
        "hoist {args:?} failed:\nstdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    r.stdout
}

/// Polls `done` every 100 ms for up to `secs` seconds.
fn wait_until(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The full ID of a container.
fn container_id(h: &TestHoist, name: &str) -> String {
    let id = h.ok(&["inspect", "-f", "{{.Id}}", name]).trim().to_owned();
    assert!(is_hex(&id, 64), "{name}: {id:?}");
    id
}

/// Columns of a table line: Docker's tabwriter pads with at least two spaces (three with its padding).
fn columns(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// A size as the Docker CLI prints it in `ps -s` and `images`: `units.HumanSizeWithPrecision(n, 3)`,
/// decimal units, three significant digits (`0B`, `5kB`, `1.99MB`).
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if value == 0.0 {
        return "0B".to_owned();
    }
    let int_digits = value.log10().floor() as i32 + 1;
    let decimals = usize::try_from(3 - int_digits).unwrap_or(0);
    let mut s = format!("{value:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    format!("{s}{}", UNITS[unit])
}

/// The store's own mounts visible in the test's (the host's) mount namespace.
fn mounts_under(root: &Path) -> Vec<String> {
    let root = root.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&root))
        .map(str::to_owned)
        .collect()
}

fn dir_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// After a failure: no mount of the store is left in the host's namespace, and the container snapshots
/// and state directories are exactly those of the containers `ps -a` lists.
fn assert_nothing_left(h: &TestHoist, after: &str) {
    let mounts = mounts_under(&h.root());
    assert!(
        mounts.is_empty(),
        "after {after}: mounts left:\n{}",
        mounts.join("\n")
    );
    let ids: BTreeSet<String> = h
        .ok(&["ps", "-a", "-q", "--no-trunc"])
        .lines()
        .map(str::to_owned)
        .collect();
    for dir in [
        h.root().join("snapshots").join("containers"),
        h.root().join("containers"),
    ] {
        let left: BTreeSet<String> = dir_names(&dir)
            .into_iter()
            .filter(|n| !n.starts_with('.'))
            .collect();
        assert!(
            left.is_subset(&ids),
            "after {after}: {} holds {:?}, containers are {ids:?}",
            dir.display(),
            left.difference(&ids).collect::<Vec<_>>()
        );
    }
}

/// One tar entry: name without `./` and trailing `/`.
#[derive(Debug, Clone)]
struct TarEntry {
    name: String,
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    data: Vec<u8>,
}

fn tar_entries(bytes: &[u8]) -> Vec<TarEntry> {
    let plain;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        if let Err(e) = flate2::read::GzDecoder::new(bytes).read_to_end(&mut out) {
            panic!("gunzip: {e}");
        }
        plain = out;
        &plain[..]
    } else {
        bytes
    };
    let mut archive = tar::Archive::new(bytes);
    let mut entries = Vec::new();
    for entry in archive.entries().unwrap_or_else(|e| panic!("tar: {e}")) {
        let mut entry = entry.unwrap_or_else(|e| panic!("tar entry: {e}"));
        let name = entry
            .path()
            .unwrap_or_else(|e| panic!("tar path: {e}"))
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_owned();
        let header = entry.header();
        let (kind, mode) = (
            header.entry_type(),
            header.mode().unwrap_or_default() & 0o7777,
        );
        let (uid, gid) = (
            header.uid().unwrap_or_default(),
            header.gid().unwrap_or_default(),
        );
        let mut data = Vec::new();
        let _ = entry.read_to_end(&mut data);
        if !name.is_empty() {
            entries.push(TarEntry {
                name,
                kind,
                mode,
                uid,
                gid,
                data,
            });
        }
    }
    entries
}

/// The entries of the top layer of `image` as `hoist save` writes it (a docker-archive).
fn top_layer_entries(h: &TestHoist, image: &str) -> Vec<TarEntry> {
    let archive = h.path(&format!("{}.tar", image.replace([':', '/'], "_")));
    h.ok(&["save", "-o", path_str(&archive), image]);
    let outer: BTreeMap<String, Vec<u8>> = tar_entries(
        &std::fs::read(&archive).unwrap_or_else(|e| panic!("reading {}: {e}", archive.display())),
    )
    .into_iter()
    .map(|e| (e.name, e.data))
    .collect();
    let manifest: Value = serde_json::from_slice(
        outer
            .get("manifest.json")
            .unwrap_or_else(|| panic!("no manifest.json in the saved {image}")),
    )
    .unwrap_or_else(|e| panic!("manifest.json: {e}"));
    let top = manifest[0]["Layers"]
        .as_array()
        .and_then(|l| l.last())
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no layers in {manifest}"));
    tar_entries(
        outer
            .get(top)
            .unwrap_or_else(|| panic!("{top} missing from the saved {image}")),
    )
}

fn names(entries: &[TarEntry]) -> BTreeSet<String> {
    entries.iter().map(|e| e.name.clone()).collect()
}

/// The storage driver `info` reports (`overlay2` or `vfs`).
fn driver(h: &TestHoist) -> String {
    h.ok(&["info", "--format", "{{.Driver}}"]).trim().to_owned()
}

/// Checks `docker diff`'s shape: one `A`/`C`/`D` line per change and every directory before what is in
/// it. Docker's order beyond that is Go map order (it differs from call to call), so the lines are
/// returned as a set; hoist's order must at least be stable.
fn diff_lines(h: &TestHoist, container: &str) -> BTreeSet<String> {
    let out = h.ok(&["diff", container]);
    assert_eq!(out, h.ok(&["diff", container]), "diff order is not stable");
    let mut seen = BTreeSet::new();
    for line in out.lines() {
        let (kind, path) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("bad diff line {line:?}"));
        assert!(matches!(kind, "A" | "C" | "D"), "bad diff line {line:?}");
        let parent = Path::new(path).parent().map(Path::to_path_buf);
        if let Some(parent) = parent.filter(|p| p != Path::new("/")) {
            let parent = parent.to_string_lossy().into_owned();
            assert!(
                seen.iter()
                    .any(|l: &String| l.get(2..) == Some(parent.as_str())),
                "{line:?} listed before its directory {parent} in:\n{out}"
            );
        }
        seen.insert(line.to_owned());
    }
    seen
}

fn set(lines: &[&str]) -> BTreeSet<String> {
    lines.iter().map(|&l| l.to_owned()).collect()
}

/// The cgroup directory of a process for a controller: the v1 hierarchy when that controller is mounted
/// there, else the v2 (unified) one.
fn cgroup_dir(pid: &str, v1_controller: &str) -> Option<PathBuf> {
    let table = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for line in table.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        if controllers.split(',').any(|c| c == v1_controller) {
            let mount = Path::new("/sys/fs/cgroup").join(controllers);
            let mount = if mount.exists() {
                mount
            } else {
                Path::new("/sys/fs/cgroup").join(v1_controller)
            };
            return Some(mount.join(path.trim_start_matches('/')));
        }
    }
    let unified = table.lines().find_map(|l| l.strip_prefix("0::"))?;
    Path::new("/sys/fs/cgroup/cgroup.controllers")
        .exists()
        .then(|| Path::new("/sys/fs/cgroup").join(unified.trim_start_matches('/')))
}

fn read_trimmed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------------

#[test]
fn run_gets_its_own_pid_uts_and_network_namespaces() {
    let Some(h) = setup("run_gets_its_own_pid_uts_and_network_namespaces") else {
        return;
    };
    let script = "echo $$; hostname; ls /sys/class/net";
    let out = h.ok(&["run", "--rm", IMAGE, "sh", "-c", script]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], "1", "the command is PID 1:\n{out}");
    assert!(is_hex(lines[1], 12), "hostname is the short ID:\n{out}");
    assert_eq!(
        lines[2], "lo",
        "a new network namespace has only lo:\n{out}"
    );
    assert_eq!(h.ok(&["ps", "-a", "-q"]), "", "--rm removed it");

    // The hostname is the container's ID prefix, and Docker also exports it as HOSTNAME.
    let out = h.ok(&[
        "run",
        "--name",
        "ns1",
        IMAGE,
        "sh",
        "-c",
        "hostname; echo $HOSTNAME",
    ]);
    let id = container_id(&h, "ns1");
    assert_eq!(out, format!("{0}\n{0}\n", &id[..12]));
    assert_eq!(h.ok(&["rm", "ns1"]), "ns1\n");

    assert_eq!(
        h.ok(&[
            "run",
            "--rm",
            "-h",
            "myhost",
            IMAGE,
            "sh",
            "-c",
            "hostname; cat /etc/hostname"
        ]),
        "myhost\nmyhost\n"
    );
    assert_eq!(
        h.ok(&["run", "--rm", "--hostname", "other", IMAGE, "hostname"]),
        "other\n"
    );

    // --network host: the host's interfaces and, as in Docker, the host's name.
    let mut host_ifaces: Vec<String> = dir_names(Path::new("/sys/class/net")).into_iter().collect();
    host_ifaces.sort();
    let host_name = read_trimmed(Path::new("/proc/sys/kernel/hostname"));
    assert_eq!(
        h.ok(&[
            "run",
            "--rm",
            "--network",
            "host",
            IMAGE,
            "sh",
            "-c",
            "hostname; ls /sys/class/net"
        ]),
        format!("{host_name}\n{}\n", host_ifaces.join("\n"))
    );
    assert_eq!(
        h.ok(&[
            "run",
            "--rm",
            "--net",
            "none",
            IMAGE,
            "ls",
            "/sys/class/net"
        ]),
        "lo\n"
    );
    assert_nothing_left(&h, "runs with --rm");
}

#[test]
fn writes_stay_in_the_container_and_diff_lists_them() {
    let Some(h) = setup("writes_stay_in_the_container_and_diff_lists_them") else {
        return;
    };
    let r = h.run(&[
        "run",
        "--name",
        "c1",
        IMAGE,
        "sh",
        "-c",
        "echo hi > /etc/new; rm /etc/hello",
    ]);
    assert_eq!((r.status, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    assert_eq!(
        h.ok(&["run", "--rm", IMAGE, "cat", "/etc/hello"]),
        "hello from a layer made in code\n"
    );
    let r = h.run(&["run", "--rm", IMAGE, "cat", "/etc/new"]);
    assert_eq!(r.status, 1, "{r:?}");
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr
            .contains("cat: can't open '/etc/new': No such file or directory"),
        "{}",
        r.stderr
    );
    assert_eq!(
        diff_lines(&h, "c1"),
        set(&["C /etc", "A /etc/new", "D /etc/hello"])
    );
    // A container that changed nothing has no diff (the mount points hoist adds — /proc, /dev, /sys,
    // /etc/hosts, … — are not changes, as Docker's init layer hides its own).
    h.ok(&["run", "--name", "quiet", IMAGE, "true"]);
    assert_eq!(h.ok(&["diff", "quiet"]), "");
    // -w creates a missing working directory in the container, and that is a change.
    h.ok(&["run", "--name", "wd", "-w", "/work/x", IMAGE, "true"]);
    assert_eq!(diff_lines(&h, "wd"), set(&["A /work", "A /work/x"]));
    // A directory removed and made again: Docker lists the old files as deleted and the directory as
    // changed.
    h.ok(&["run", "--name", "c2", IMAGE, "sh", "-c", "rm -rf /dir; mkdir /dir; touch /dir/x; echo q >> /etc/group; mkdir -p /b/c; echo 1 > /b/c/d"]);
    assert_eq!(
        diff_lines(&h, "c2"),
        set(&[
            "C /dir",
            "A /dir/x",
            "D /dir/a",
            "D /dir/b",
            "C /etc",
            "C /etc/group",
            "A /b",
            "A /b/c",
            "A /b/c/d",
        ])
    );
    let r = h.run(&["diff", "nosuch"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("No such container: nosuch"),
        "{}",
        r.stderr
    );
}

#[test]
fn commit_writes_the_changes_as_one_layer() {
    let Some(h) = setup("commit_writes_the_changes_as_one_layer") else {
        return;
    };
    let script = "echo hi > /etc/new; rm /etc/hello";
    h.ok(&["run", "--name", "c1", IMAGE, "sh", "-c", script]);
    let out = h.ok(&["commit", "-m", "msg", "-a", "me", "c1", "bb:2"]);
    let id = out
        .trim()
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("commit prints the image ID: {out:?}"));
    assert!(is_hex(id, 64), "{out:?}");
    assert_eq!(
        h.ok(&["inspect", "-f", "{{.Id}}", "bb:2"]),
        format!("sha256:{id}\n")
    );
    assert_eq!(
        h.ok(&[
            "inspect",
            "-f",
            "{{.Comment}}|{{.Author}}|{{json .Config.Cmd}}",
            "bb:2"
        ]),
        format!("msg|me|[\"sh\",\"-c\",\"{script}\"]\n")
    );
    let history = h.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        "bb:2",
    ]);
    assert_eq!(
        history.lines().next(),
        Some(format!("sh -c {script}|msg").as_str()),
        "{history}"
    );
    assert_eq!(
        h.ok(&["image", "inspect", "-f", "{{len .RootFS.Layers}}", "bb:2"]),
        "3\n"
    );

    // The new layer holds the change and a whiteout for the deletion, nothing else.
    let layer = top_layer_entries(&h, "bb:2");
    assert_eq!(names(&layer), set(&["etc", "etc/new", "etc/.wh.hello"]));
    for e in &layer {
        match e.name.as_str() {
            "etc" => assert_eq!((e.kind, e.mode), (tar::EntryType::Directory, 0o755)),
            "etc/new" => {
                assert_eq!(
                    (e.kind, e.mode, e.uid, e.gid),
                    (tar::EntryType::Regular, 0o644, 0, 0)
                );
                assert_eq!(e.data, b"hi\n");
            }
            _ => assert!(
                e.kind == tar::EntryType::Regular && e.data.is_empty(),
                "{e:?}"
            ),
        }
    }
    // The committed image runs with the change.
    assert_eq!(
        h.ok(&[
            "run",
            "--rm",
            "bb:2",
            "sh",
            "-c",
            "cat /etc/new; test -e /etc/hello || echo gone"
        ]),
        "hi\ngone\n"
    );

    // A directory deleted and made again: overlayfs marks it opaque, and Docker writes that as
    // `.wh..wh..opq`; a copying driver sees the old files deleted one by one.
    h.ok(&[
        "run",
        "--name",
        "c2",
        IMAGE,
        "sh",
        "-c",
        "rm -rf /dir; mkdir /dir; touch /dir/x",
    ]);
    h.ok(&["commit", "c2", "bb:opaque"]);
    let expected = if driver(&h) == "overlay2" {
        set(&["dir", "dir/.wh..wh..opq", "dir/x"])
    } else {
        set(&["dir", "dir/.wh.a", "dir/.wh.b", "dir/x"])
    };
    assert_eq!(names(&top_layer_entries(&h, "bb:opaque")), expected);
    assert_eq!(h.ok(&["run", "--rm", "bb:opaque", "ls", "/dir"]), "x\n");

    // --change applies Dockerfile instructions to the new image's config.
    h.ok(&[
        "commit",
        "--change",
        "CMD [\"/bin/echo\",\"changed\"]",
        "c1",
        "bb:3",
    ]);
    assert_eq!(h.ok(&["run", "--rm", "bb:3"]), "changed\n");
    h.ok(&[
        "commit",
        "-c",
        "ENV GREETING=hey",
        "-c",
        "WORKDIR /etc",
        "c1",
        "bb:4",
    ]);
    assert_eq!(
        h.ok(&["run", "--rm", "bb:4", "sh", "-c", "echo $GREETING; pwd"]),
        "hey\n/etc\n"
    );
    // A commit without a tag makes a dangling image.
    let out = h.ok(&["commit", "c1"]);
    assert!(out.starts_with("sha256:") && out.len() == 72, "{out:?}");
    let r = h.run(&["commit", "nosuch", "bb:5"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("No such container: nosuch"),
        "{}",
        r.stderr
    );
}

/// The seeds' `docker commit -a "someone" -m "snap" -p my_container myapp:snap` (`-p` is a boolean, never
/// the container), and the `run`/`create` flags hoist reads as Docker does.
#[test]
fn seed_commit_line_and_docker_flags_of_create_and_stop() {
    let Some(h) = setup("seed_commit_line_and_docker_flags_of_create_and_stop") else {
        return;
    };
    h.ok(&[
        "run",
        "--name",
        "my_container",
        IMAGE,
        "sh",
        "-c",
        "echo hi > /etc/snap",
    ]);
    let out = h.ok(&[
        "commit",
        "-a",
        "someone",
        "-m",
        "snap",
        "-p",
        "my_container",
        "myapp:snap",
    ]);
    assert!(out.starts_with("sha256:"), "{out}");
    assert_eq!(
        h.ok(&["inspect", "-f", "{{.Author}}|{{.Comment}}", "myapp:snap"]),
        "someone|snap\n"
    );
    h.ok(&["commit", "--pause=false", "my_container", "myapp:unpaused"]);

    let cidfile = h.path("cid");
    let label_file = h.path("labels");
    std::fs::write(&label_file, "# team labels\na=1\n\nb=2\n").unwrap();
    let id = h.ok(&[
        "create",
        "-q",
        "--cidfile",
        path_str(&cidfile),
        "--label-file",
        path_str(&label_file),
        "-l",
        "c=3",
        "--stop-signal",
        "SIGUSR1",
        "--stop-timeout",
        "3",
        "--isolation",
        "default",
        "--disable-content-trust",
        "--name",
        "flags",
        IMAGE,
        "sleep",
        "60",
    ]);
    let id = id.trim();
    assert_eq!(std::fs::read_to_string(&cidfile).unwrap(), id);
    assert_eq!(
        h.ok(&[
            "container",
            "inspect",
            "-f",
            "{{json .Config.Labels}}|{{.Config.StopSignal}}|{{.Config.StopTimeout}}",
            "flags"
        ]),
        "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}|SIGUSR1|3\n"
    );
    // The ID file exists: Docker refuses, with its status for run/create errors, and creates nothing.
    let before = h.ok(&["ps", "-aq"]);
    let r = h.run(&["create", "--cidfile", path_str(&cidfile), IMAGE]);
    assert_eq!(r.status, 125, "{r:?}");
    assert!(r.stderr.contains("container ID file found"), "{}", r.stderr);
    assert_eq!(h.ok(&["ps", "-aq"]), before);
    let r = h.run(&["create", "--stop-signal", "SIGNOPE", IMAGE]);
    assert_eq!(r.status, 125, "{r:?}");
    let r = h.run(&["run", "--disable-content-trust=false", IMAGE, "true"]);
    assert_eq!(r.status, 125, "{r:?}");
    assert!(
        r.stderr
            .contains("content trust is not supported by hoist yet"),
        "{}",
        r.stderr
    );
    let r = h.run(&["run", "--pull=never", "nosuch:1"]);
    assert_eq!(r.status, 125, "{r:?}");

    // `stop -s KILL` sends KILL at once (busybox's sleep as PID 1 ignores the default SIGTERM).
    h.ok(&["start", "flags"]);
    let started = Instant::now();
    h.ok(&["stop", "-s", "KILL", "--timeout", "30", "flags"]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        h.ok(&["inspect", "-f", "{{.State.ExitCode}}", "flags"]),
        "137\n"
    );
    h.ok(&["rm", "flags", "my_container"]);
}

/// `wait`, `rename`, `restart`, `top` and the `--tmpfs` and CPU flags, as Docker's.
#[test]
fn wait_rename_restart_top_tmpfs_and_cpu_flags() {
    let Some(h) = setup("wait_rename_restart_top_tmpfs_and_cpu_flags") else {
        return;
    };
    h.ok(&[
        "run",
        "-d",
        "--name",
        "w1",
        IMAGE,
        "sh",
        "-c",
        "sleep 1; exit 3",
    ]);
    assert_eq!(h.ok(&["wait", "w1"]), "3\n");
    assert_eq!(h.ok(&["container", "wait", "w1"]), "3\n");
    let r = h.run(&["wait", "nosuch"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("No such container: nosuch"),
        "{}",
        r.stderr
    );

    h.ok(&["rename", "w1", "w2"]);
    assert_eq!(h.ok(&["inspect", "-f", "{{.Name}}", "w2"]), "/w2\n");
    assert!(h.run(&["inspect", "w1"]).status != 0);
    h.ok(&["create", "--name", "other", IMAGE, "true"]);
    let r = h.run(&["rename", "w2", "other"]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("is already in use"), "{}", r.stderr);
    let r = h.run(&["container", "rename", "w2", "w2"]);
    assert!(
        r.stderr.contains("same name as its current name"),
        "{}",
        r.stderr
    );

    // restart: a stopped container starts again (and runs its command again).
    h.ok(&[
        "run",
        "-d",
        "--name",
        "r1",
        IMAGE,
        "sh",
        "-c",
        "echo run >> /count; sleep 60",
    ]);
    assert_eq!(h.ok(&["restart", "-t", "1", "r1"]), "r1\n");
    wait_until("the restarted container runs", 10, || {
        h.ok(&["inspect", "-f", "{{.State.Running}}", "r1"]) == "true\n"
    });
    wait_until("the command ran twice", 10, || {
        let exported = h.run(&["export", "r1"]);
        exported.status == 0 && exported.stdout.contains("run\nrun\n")
    });
    // top: the container's processes through the host's ps, Docker's default columns.
    let top = h.ok(&["top", "r1"]);
    let mut lines = top.lines();
    assert!(lines.next().unwrap_or_default().contains("PID"), "{top}");
    assert!(top.contains("sleep 60"), "{top}");
    assert!(!top.contains("hoist __monitor"), "{top}");
    let pids = h.ok(&["container", "top", "r1", "-o", "pid"]);
    assert!(pids.lines().count() >= 2, "{pids}");
    h.ok(&["rm", "-f", "r1", "w2", "other"]);
    let r = h.run(&["top", "nosuch"]);
    assert_ne!(r.status, 0);

    // --tmpfs with options; -c/--cpu-shares, --cpu-period/--cpu-quota recorded as Docker's.
    let mounts = h.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/scratch:rw,size=2m,mode=755",
        IMAGE,
        "sh",
        "-c",
        "grep ' /scratch ' /proc/mounts; stat -c %a /scratch",
    ]);
    assert!(
        mounts.contains("tmpfs /scratch tmpfs rw,nosuid,nodev,noexec"),
        "{mounts}"
    );
    assert!(mounts.contains("size=2048k"), "{mounts}");
    assert!(mounts.ends_with("755\n"), "{mounts}");
    let r = h.run(&["run", "--rm", "--tmpfs", "/x:bogus", IMAGE, "true"]);
    assert_eq!(r.status, 125, "{r:?}");
    h.ok(&[
        "create",
        "--name",
        "cpu",
        "-c",
        "512",
        "--cpu-period",
        "50000",
        "--cpu-quota",
        "25000",
        IMAGE,
        "true",
    ]);
    assert_eq!(
        h.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.CpuShares}} {{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}}",
            "cpu"
        ]),
        "512 50000 25000\n"
    );
    h.ok(&["start", "-a", "cpu"]);
    let r = h.run(&["create", "--cpus", "1", "--cpu-quota", "5000", IMAGE]);
    assert_eq!(r.status, 125);
    assert!(r.stderr.contains("Conflicting options"), "{}", r.stderr);
    h.ok(&["rm", "cpu"]);
}

/// The seeds' `docker run -d -p 5000:5000 --name registry registry:2`, with busybox's httpd: a published
/// port answers on the host through slirp4netns; `port`, `ps` and `inspect` show it as Docker does.
#[test]
fn published_ports_answer_on_the_host() {
    let Some(h) = setup("published_ports_answer_on_the_host") else {
        return;
    };
    if Command::new("slirp4netns")
        .arg("--version")
        .output()
        .is_err()
    {
        return skip(
            "published_ports_answer_on_the_host",
            "slirp4netns not installed (apt-get install slirp4netns)",
        );
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let publish = format!("127.0.0.1:{port}:8080");
    let script = "mkdir -p /www && echo served from the container > /www/index.html && exec busybox httpd -f -p 8080 -h /www";
    let id_of_web = h.ok(&[
        "run", "-d", "-p", &publish, "--name", "web", IMAGE, "sh", "-c", script,
    ]);
    let url = format!("http://127.0.0.1:{port}/index.html");
    let mut body = String::new();
    wait_until("the published port answers", 15, || {
        let out = Command::new("curl")
            .args(["-s", "--max-time", "2", &url])
            .output();
        body = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        body == "served from the container\n"
    });
    assert_eq!(
        h.ok(&["port", "web"]),
        format!("8080/tcp -> 127.0.0.1:{port}\n")
    );
    assert_eq!(
        h.ok(&["port", "web", "8080"]),
        format!("127.0.0.1:{port}\n")
    );
    assert!(
        h.run(&["port", "web", "9999"])
            .stderr
            .contains("No public port '9999/tcp' published for web")
    );
    assert_eq!(
        h.ok(&["ps", "--format", "{{.Ports}}", "--filter", "name=web"]),
        format!("127.0.0.1:{port}->8080/tcp\n")
    );
    assert_eq!(
        h.ok(&[
            "inspect",
            "-f",
            "{{json .NetworkSettings.Ports}} {{.HostConfig.NetworkMode}}",
            "web"
        ]),
        format!("{{\"8080/tcp\":[{{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"{port}\"}}]}} bridge\n")
    );
    // The port is taken: Docker's wording, status 125, no container started.
    let r = h.run(&["run", "--rm", "-p", &publish, IMAGE, "true"]);
    assert_eq!(r.status, 125, "{r:?}");
    assert!(
        r.stderr.contains("port is already allocated"),
        "{}",
        r.stderr
    );
    // The container has its own network: tap0 beside lo, a default route through slirp4netns.
    let interfaces = h.ok(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        IMAGE,
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(interfaces, "lo\ntap0\n");
    h.ok(&["rm", "-f", "web"]);
    // Nothing listens once the container is gone, and slirp4netns's socket is gone with it.
    let socket = std::env::temp_dir().join(format!("hoist-slirp-{}.sock", &id_of_web[..12]));
    wait_until("the port is released", 10, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && !socket.exists()
    });
    // Bad specs and conflicting modes: Docker's status 125.
    for args in [
        &["-p", "70000:80"][..],
        &["-p", "80", "--network", "none"],
        &["--expose", "x"],
    ] {
        let mut line = vec!["run", "--rm"];
        line.extend_from_slice(args);
        line.extend_from_slice(&[IMAGE, "true"]);
        let r = h.run(&line);
        assert_eq!(r.status, 125, "{args:?}: {r:?}");
    }
}

/// `exec` runs in the container's namespaces and root, confined as the container, with Docker's exit
/// codes; `-d`, `-i`, `-e`, `-w`, `-u` and `--privileged` as Docker's.
#[test]
fn exec_runs_inside_the_running_container() {
    let Some(h) = setup("exec_runs_inside_the_running_container") else {
        return;
    };
    h.ok(&[
        "run",
        "-d",
        "--name",
        "ex",
        IMAGE,
        "sh",
        "-c",
        "echo made > /tmp/x; exec sleep 60",
    ]);
    wait_until("the container wrote its file", 10, || {
        h.run(&["exec", "ex", "cat", "/tmp/x"]).stdout == "made\n"
    });
    let r = h.run(&["exec", "ex", "sh", "-c", "exit 7"]);
    assert_eq!(r.status, 7);
    let r = h.run(&["exec", "ex", "nope"]);
    assert_eq!(r.status, 126, "{r:?}");
    assert!(
        r.stderr.starts_with("OCI runtime exec failed: exec failed: unable to start container process: exec: \"nope\": executable file not found in $PATH"),
        "{}",
        r.stderr
    );
    let id = container_id(&h, "ex");
    assert_eq!(
        h.ok(&[
            "exec",
            "-w",
            "/tmp",
            "-e",
            "A=1",
            "-u",
            "app",
            "ex",
            "sh",
            "-c",
            "pwd; echo $A $HOSTNAME; id -u"
        ]),
        format!("/tmp\n1 {}\n1000\n", &id[..12])
    );
    // The same confinement as the container's, unless --privileged.
    let status = h.ok(&["exec", "ex", "cat", "/proc/self/status"]);
    assert!(status.contains("CapEff:\t00000000a80425fb"), "{status}");
    assert!(status.contains("Seccomp:\t2"), "{status}");
    let status = h.ok(&["exec", "--privileged", "ex", "cat", "/proc/self/status"]);
    assert!(!status.contains("CapEff:\t00000000a80425fb"), "{status}");
    // -i passes stdin; -d returns at once.
    let mut child = h
        .command()
        .args(["exec", "-i", "ex", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"through stdin\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "through stdin\n");
    assert_eq!(h.ok(&["exec", "-d", "ex", "touch", "/tmp/detached"]), "");
    wait_until("the detached exec ran", 10, || {
        h.run(&["exec", "ex", "test", "-e", "/tmp/detached"]).status == 0
    });
    h.ok(&["stop", "-t", "1", "ex"]);
    let r = h.run(&["exec", "ex", "true"]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("is not running"), "{}", r.stderr);
    h.ok(&["rm", "ex"]);
}

/// Named volumes: `-v NAME:/path` creates the volume on first use and fills it from the image there,
/// data outlives the container, `volume create/ls/inspect/rm/prune` as Docker's.
#[test]
fn named_volumes_keep_data_across_containers() {
    let Some(h) = setup("named_volumes_keep_data_across_containers") else {
        return;
    };
    assert_eq!(
        h.ok(&["volume", "create", "--label", "team=core", "data"]),
        "data\n"
    );
    // Created again: the same volume, as Docker.
    assert_eq!(h.ok(&["volume", "create", "data"]), "data\n");
    h.ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        "data:/etc",
        IMAGE,
        "sh",
        "-c",
        "cat /etc/hello && echo kept > /etc/new",
    ]);
    let out = h.ok(&[
        "run",
        "--rm",
        "-v",
        "data:/mnt:ro",
        IMAGE,
        "cat",
        "/mnt/new",
        "/mnt/hello",
    ]);
    assert_eq!(out, "kept\nhello from a layer made in code\n");
    let r = h.run(&[
        "run",
        "--rm",
        "-v",
        "data:/mnt:ro",
        IMAGE,
        "touch",
        "/mnt/x",
    ]);
    assert_ne!(r.status, 0);
    let mountpoint = h.ok(&[
        "volume",
        "inspect",
        "-f",
        "{{.Mountpoint}} {{.Driver}} {{.Labels.team}}",
        "data",
    ]);
    let (path, rest) = mountpoint.trim().split_once(' ').unwrap();
    assert!(Path::new(path).join("new").is_file(), "{mountpoint}");
    assert_eq!(rest, "local core");
    let listed = h.ok(&["volume", "ls"]);
    assert!(listed.starts_with("DRIVER    VOLUME NAME\n"), "{listed}");
    assert!(listed.contains("local     data\n"), "{listed}");
    let r = h.run(&["volume", "rm", "data"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("remove data: volume is in use - ["),
        "{}",
        r.stderr
    );
    assert_eq!(
        h.ok(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}",
            "writer"
        ]),
        "volume data /etc\n"
    );
    h.ok(&["rm", "writer"]);
    assert_eq!(
        h.ok(&["volume", "ls", "-q", "--filter", "dangling=true"]),
        "data\n"
    );
    // First use creates it; prune without -a keeps named volumes (Docker 23+), with -a removes them.
    h.ok(&["run", "--rm", "-v", "other:/x", IMAGE, "true"]);
    assert_eq!(h.ok(&["volume", "ls", "-q"]), "data\nother\n");
    assert_eq!(
        h.ok(&["volume", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    let pruned = h.ok(&["volume", "prune", "-a", "-f"]);
    assert!(
        pruned.starts_with("Deleted Volumes:\ndata\nother\n\n"),
        "{pruned}"
    );
    assert_eq!(h.ok(&["volume", "ls", "-q"]), "");
    let r = h.run(&["volume", "inspect", "data"]);
    assert!(
        r.stderr.contains("get data: no such volume"),
        "{}",
        r.stderr
    );
    let r = h.run(&["run", "--rm", "-v", "b@d:/x", IMAGE, "true"]);
    assert_eq!(r.status, 125);
    assert!(
        r.stderr
            .contains("includes invalid characters for a local volume name"),
        "{}",
        r.stderr
    );
}

/// `logs --since/--until` keep the lines logged in the window (absolute or relative times).
#[test]
fn logs_since_and_until() {
    let Some(h) = setup("logs_since_and_until") else {
        return;
    };
    h.ok(&[
        "run",
        "--name",
        "talk",
        IMAGE,
        "sh",
        "-c",
        "echo one; sleep 1; echo two",
    ]);
    assert_eq!(h.ok(&["logs", "--since", "1h", "talk"]), "one\ntwo\n");
    assert_eq!(h.ok(&["logs", "--until", "1h", "talk"]), "");
    let stamped = h.ok(&["logs", "-t", "talk"]);
    let second = stamped
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{stamped}"))
        .to_owned();
    assert_eq!(h.ok(&["logs", "--since", &second, "talk"]), "two\n");
    assert_eq!(
        h.ok(&["logs", "--until", &second, "--details", "talk"]),
        "one\n"
    );
    let r = h.run(&["logs", "--since", "yesterday-ish", "talk"]);
    assert_ne!(r.status, 0);
    h.ok(&["rm", "talk"]);
}

/// `--group-add` (by name and number), `--uts/--ipc/--pid host`, and their bad values.
#[test]
fn group_add_and_host_namespaces() {
    let Some(h) = setup("group_add_and_host_namespaces") else {
        return;
    };
    assert_eq!(
        h.ok(&[
            "run",
            "--rm",
            "-u",
            "app",
            "--group-add",
            "root",
            "--group-add",
            "4242",
            IMAGE,
            "id",
            "-G"
        ]),
        "1000 0 50 4242\n"
    );
    let r = h.run(&["run", "--rm", "--group-add", "nosuchgroup", IMAGE, "true"]);
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains("unable to find group nosuchgroup"),
        "{}",
        r.stderr
    );
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(
        h.ok(&["run", "--rm", "--uts", "host", IMAGE, "hostname"]),
        host_name
    );
    let own = |kind: &str| std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
    let seen = |flag: &str, kind: &str| {
        h.ok(&[
            "run",
            "--rm",
            flag,
            "host",
            IMAGE,
            "sh",
            "-c",
            &format!("ls -l /proc/self/ns/{kind}"),
        ])
    };
    assert!(seen("--ipc", "ipc").contains(&own("ipc").display().to_string()));
    assert!(seen("--pid", "pid").contains(&own("pid").display().to_string()));
    assert!(!seen("--ipc", "pid").contains(&own("pid").display().to_string()));
    for (flag, value) in [
        ("--pid", "container:x"),
        ("--ipc", "none"),
        ("--uts", "private"),
    ] {
        let r = h.run(&["run", "--rm", flag, value, IMAGE, "true"]);
        assert_eq!(r.status, 125, "{flag} {value}: {r:?}");
    }
}

/// `pause` freezes the container (nothing it runs moves until `unpause`); ps, inspect, exec, kill and
/// stop treat a paused container as Docker does.
#[test]
fn pause_and_unpause_freeze_the_container() {
    let Some(h) = setup("pause_and_unpause_freeze_the_container") else {
        return;
    };
    let out = h.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let bind = format!("{}:/out", path_str(&out));
    h.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "-v",
        &bind,
        IMAGE,
        "sh",
        "-c",
        "while true; do echo x >> /out/ticks; sleep 0.05; done",
    ]);
    let ticks = || std::fs::read_to_string(out.join("ticks")).map_or(0, |t| t.lines().count());
    wait_until("the container ticks", 10, || ticks() > 2);
    assert_eq!(h.ok(&["pause", "busy"]), "busy\n");
    let frozen = ticks();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(ticks(), frozen, "a paused container kept running");
    assert!(
        h.ok(&["ps", "--format", "{{.Status}}"])
            .contains("(Paused)")
    );
    assert_eq!(
        h.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}}",
            "busy"
        ]),
        "paused true\n"
    );
    let r = h.run(&["exec", "busy", "true"]);
    assert!(
        r.stderr
            .contains("is paused, unpause the container before exec"),
        "{}",
        r.stderr
    );
    let r = h.run(&["kill", "-s", "TERM", "busy"]);
    assert!(
        r.stderr.contains("is paused. Unpause the container"),
        "{}",
        r.stderr
    );
    let r = h.run(&["pause", "busy"]);
    assert!(r.stderr.contains("is already paused"), "{}", r.stderr);
    assert_eq!(h.ok(&["unpause", "busy"]), "busy\n");
    wait_until("the container ticks again", 10, || ticks() > frozen + 2);
    h.ok(&["container", "pause", "busy"]);
    // stop thaws first: a frozen process would take no signal.
    h.ok(&["stop", "-t", "1", "busy"]);
    assert_eq!(
        h.ok(&["inspect", "-f", "{{.State.Status}}", "busy"]),
        "exited\n"
    );
    let r = h.run(&["unpause", "busy"]);
    assert!(r.stderr.contains("is not paused"), "{}", r.stderr);
    h.ok(&["rm", "busy"]);
}

#[test]
fn export_holds_what_the_container_saw_and_imports_back() {
    let Some(h) = setup("export_holds_what_the_container_saw_and_imports_back") else {
        return;
    };
    // The container lists its own files (owner and mode as it sees them) after changing some; the bind
    // mounted /etc/hosts, /etc/hostname and /etc/resolv.conf are the host's files, so they are left out.
    let script = "echo hi > /etc/new; chown 1000:50 /etc/new; chmod 640 /etc/new; rm /etc/hello; \
                  for f in /bin /bin/* /etc /etc/* /dir /dir/* /tmp /root /home /home/app /home/app/*; do \
                  case $f in /etc/hosts|/etc/hostname|/etc/resolv.conf) ;; *) stat -c '%n %a %u %g' $f;; esac; done";
    let seen = h.ok(&["run", "--name", "c1", IMAGE, "sh", "-c", script]);
    assert!(seen.contains("/etc/new 640 1000 50\n"), "{seen}");
    assert!(seen.contains("/home/app/notes 600 1000 1000\n"), "{seen}");

    let x = h.path("x.tar");
    let y = h.path("y.tar");
    let r = h.run(&["export", "c1", "-o", path_str(&x)]);
    assert_eq!((r.status, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    let file = std::fs::File::create(&y).unwrap_or_else(|e| panic!("creating y.tar: {e}"));
    let status = h
        .command()
        .args(["export", "c1"])
        .stdout(file)
        .status()
        .unwrap_or_else(|e| panic!("running hoist export: {e}"));
    assert!(status.success());
    let x_bytes = std::fs::read(&x).unwrap_or_default();
    assert!(
        x_bytes == std::fs::read(&y).unwrap_or_default(),
        "export -o and export > differ"
    );

    let entries = tar_entries(&x_bytes);
    let by_name: BTreeMap<&str, &TarEntry> = entries.iter().map(|e| (e.name.as_str(), e)).collect();
    for line in seen.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let [path, mode, uid, gid] = parts[..] else {
            panic!("bad stat line {line:?}");
        };
        let name = path.trim_start_matches('/');
        let entry = by_name
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the export"));
        assert_eq!(
            (
                format!("{:o}", entry.mode),
                entry.uid.to_string(),
                entry.gid.to_string()
            ),
            (mode.to_owned(), uid.to_owned(), gid.to_owned()),
            "{name}: the export differs from what the container saw"
        );
    }
    assert_eq!(
        by_name.get("etc/new").map(|e| e.data.as_slice()),
        Some(&b"hi\n"[..])
    );
    assert!(
        !by_name.contains_key("etc/hello"),
        "a deleted file is exported"
    );
    assert!(
        entries.iter().all(|e| !e.name.contains(".wh.")),
        "the export is a flat filesystem, without whiteouts"
    );
    assert_eq!(
        by_name.get("bin/sh").map(|e| e.kind),
        Some(tar::EntryType::Symlink)
    );

    let out = h.ok(&["import", path_str(&x), "imp:1"]);
    assert!(out.starts_with("sha256:"), "{out}");
    // An imported image has no config; Docker still gives the process a PATH.
    assert_eq!(
        h.ok(&[
            "run",
            "--rm",
            "imp:1",
            "sh",
            "-c",
            "cat /etc/new; stat -c '%a %u %g' /etc/new; ls /dir; echo $PATH"
        ]),
        format!("hi\n640 1000 50\na\nb\n{}\n", &PATH_ENV[5..])
    );
    // export of an unknown container fails and writes no file.
    let z = h.path("z.tar");
    let r = h.run(&["export", "-o", path_str(&z), "nosuch"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("No such container: nosuch"),
        "{}",
        r.stderr
    );
    assert!(!z.exists(), "a failed export left {}", z.display());
}

#[test]
fn errors_use_dockers_wording_and_leave_nothing_behind() {
    let Some(h) = setup("errors_use_dockers_wording_and_leave_nothing_behind") else {
        return;
    };
    // An image that is neither local nor pullable (nothing listens on port 9).
    let r = h.run(&["run", "--rm", "127.0.0.1:9/nosuch:1", "true"]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("127.0.0.1:9/nosuch:1"), "{}", r.stderr);
    assert_nothing_left(&h, "run of a missing image");

    // Docker: `exec: "nosuchcmd": executable file not found in $PATH`, exit 127.
    let r = h.run(&["run", "--rm", IMAGE, "nosuchcmd"]);
    assert_eq!(r.status, 127, "{r:?}");
    assert!(
        r.stderr
            .contains("exec: \"nosuchcmd\": executable file not found in $PATH"),
        "{}",
        r.stderr
    );
    assert_eq!(
        h.ok(&["ps", "-a", "-q"]),
        "",
        "--rm removes a container that failed to start"
    );
    assert_nothing_left(&h, "a missing command");

    let r = h.run(&["run", "--rm", IMAGE, "/etc/passwd"]);
    assert_eq!(r.status, 126, "{r:?}");
    assert!(
        r.stderr
            .contains("exec: \"/etc/passwd\": permission denied"),
        "{}",
        r.stderr
    );
    assert_nothing_left(&h, "a command that is not executable");

    let r = h.run(&["run", "--rm", "-u", "nosuch", IMAGE, "id"]);
    assert_eq!(r.status, 125, "{r:?}");
    assert!(
        r.stderr
            .contains("unable to find user nosuch: no matching entries in passwd file"),
        "{}",
        r.stderr
    );
    assert_nothing_left(&h, "an unknown user");

    // Without --rm the container that failed to start stays, as Created, with the exit code.
    let r = h.run(&["run", "--name", "failed", IMAGE, "nosuchcmd"]);
    assert_eq!(r.status, 127, "{r:?}");
    assert_eq!(
        h.ok(&["ps", "-a", "--format", "{{.Names}}|{{.Status}}"]),
        "failed|Created\n"
    );
    assert_eq!(
        h.ok(&[
            "inspect",
            "-f",
            "{{.State.ExitCode}} {{.State.Status}}",
            "failed"
        ]),
        "127 created\n"
    );
    assert_nothing_left(&h, "a failed start without --rm");
    assert_eq!(h.ok(&["rm", "failed"]), "failed\n");

    // A name in use.
    h.ok(&["run", "--name", "c1", IMAGE, "true"]);
    let id = container_id(&h, "c1");
    let r = h.run(&["run", "--name", "c1", IMAGE, "true"]);
    assert_eq!(r.status, 125, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "Conflict. The container name \"/c1\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
        )),
        "{}",
        r.stderr
    );
    let r = h.run(&["create", "--name", "c1", IMAGE, "true"]);
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains("Conflict. The container name \"/c1\""),
        "{}",
        r.stderr
    );
    assert_nothing_left(&h, "a name in use");

    // rm of a running container needs -f.
    let busy = prompt_ok(&h, &["run", "-d", "--name", "busy", IMAGE, "sleep", "100"]);
    let busy = busy.trim();
    let r = h.run(&["rm", "busy"]);
    assert_eq!(r.status, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "You cannot remove a running container {busy}. Stop the container before attempting removal or force remove"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(
        h.ok(&["ps", "-q", "--no-trunc"]),
        format!("{busy}\n"),
        "still running"
    );
    assert_eq!(h.ok(&["rm", "-f", "busy"]), "busy\n");
    assert_nothing_left(&h, "rm -f of a running container");

    // Unknown containers.
    for (args, words) in [
        (&["start", "nosuch"][..], "No such container: nosuch"),
        (&["stop", "nosuch"][..], "No such container: nosuch"),
        (&["kill", "nosuch"][..], "No such container: nosuch"),
        (&["logs", "nosuch"][..], "No such container: nosuch"),
        (&["rm", "nosuch"][..], "No such container: nosuch"),
        (&["diff", "nosuch"][..], "No such container: nosuch"),
    ] {
        let r = h.run(args);
        assert_eq!(r.status, 1, "{args:?}: {r:?}");
        assert!(r.stderr.contains(words), "{args:?}: {}", r.stderr);
    }
    let r = h.run(&["start", "nosuch"]);
    assert!(
        r.stderr.contains("failed to start containers: nosuch"),
        "{}",
        r.stderr
    );
    // rm goes on past a missing name and still fails.
    h.ok(&["create", "--name", "gone", IMAGE, "true"]);
    let r = h.run(&["rm", "nosuch", "gone"]);
    assert_eq!((r.status, r.stdout.as_str()), (1, "gone\n"), "{r:?}");
    assert_eq!(h.ok(&["ps", "-a", "--format", "{{.Names}}"]), "c1\n");
    assert_nothing_left(&h, "the unknown-container errors");
}

#[test]
fn detached_container_lifecycle() {
    let Some(h) = setup("detached_container_lifecycle") else {
        return;
    };
    let out = prompt_ok(
        &h,
        &[
            "run",
            "-d",
            "--name",
            "bg",
            IMAGE,
            "sh",
            "-c",
            "echo started; sleep 100",
        ],
    );
    let id = out.trim().to_owned();
    assert!(is_hex(&id, 64), "run -d prints the full ID: {out:?}");
    let short = &id[..12];

    let ps = h.ok(&["ps"]);
    let lines: Vec<&str> = ps.lines().collect();
    assert_eq!(lines.len(), 2, "{ps}");
    assert_eq!(
        columns(lines[0]),
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ],
        "{ps}"
    );
    let row = columns(lines[1]);
    assert_eq!(row.len(), 6, "PORTS is empty: {ps}");
    assert_eq!(row[0], short);
    assert_eq!(row[1], IMAGE);
    assert_eq!(
        row[2], "\"sh -c 'echo started…\"",
        "Docker quotes and cuts the command"
    );
    assert!(row[3].ends_with(" ago"), "{ps}");
    assert!(row[4].starts_with("Up "), "{ps}");
    assert_eq!(row[5], "bg");
    assert_eq!(
        h.ok(&["ps", "--no-trunc", "--format", "{{.Command}}"]),
        "\"sh -c 'echo started; sleep 100'\"\n"
    );
    assert_eq!(h.ok(&["ps", "-q"]), format!("{short}\n"));
    assert_eq!(h.ok(&["ps", "-q", "--no-trunc"]), format!("{id}\n"));
    wait_until("the log line", 10, || h.ok(&["logs", "bg"]) == "started\n");
    let pid = h
        .ok(&["inspect", "-f", "{{.State.Pid}}", "bg"])
        .trim()
        .to_owned();
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "State.Pid {pid} is not running"
    );

    // busybox sh as PID 1 ignores SIGTERM: stop waits the timeout, then kills (137).
    let started = Instant::now();
    assert_eq!(h.ok(&["stop", "-t", "1", "bg"]), "bg\n");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "stop -t 1 took {took:?}"
    );
    assert_eq!(h.ok(&["ps", "-q"]), "");
    let exited = h.ok(&["ps", "-a", "--filter", "status=exited"]);
    let rows: Vec<&str> = exited.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{exited}");
    assert!(
        columns(rows[0])
            .get(4)
            .is_some_and(|s| s.starts_with("Exited (137) ")),
        "{exited}"
    );
    let status = h.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        status.starts_with("bg Exited (137) ") && status.ends_with(" ago\n"),
        "{status:?}"
    );
    assert_eq!(h.ok(&["ps", "-a", "--filter", "status=running", "-q"]), "");
    assert_eq!(
        h.ok(&[
            "inspect",
            "-f",
            "{{.State.ExitCode}} {{.State.Status}} {{.State.Running}}",
            "bg"
        ]),
        "137 exited false\n"
    );

    // Started again: same container, the log grows.
    assert_eq!(prompt_ok(&h, &["start", "bg"]), "bg\n");
    assert_eq!(h.ok(&["ps", "-q"]), format!("{short}\n"));
    wait_until("the second log line", 10, || {
        h.ok(&["logs", "bg"]) == "started\nstarted\n"
    });
    assert_eq!(h.ok(&["logs", "--tail", "1", "bg"]), "started\n");
    assert_eq!(h.ok(&["kill", "bg"]), "bg\n");
    wait_until("the kill", 10, || h.ok(&["ps", "-q"]).is_empty());
    assert_eq!(
        h.ok(&["inspect", "-f", "{{.State.ExitCode}}", "bg"]),
        "137\n"
    );
    let r = h.run(&["kill", "bg"]);
    assert_eq!(r.status, 1, "kill of a stopped container: {r:?}");
    assert!(
        r.stderr.contains(&format!(
            "Cannot kill container: bg: Container {id} is not running"
        )),
        "{}",
        r.stderr
    );
    // stop of a stopped container is no error.
    assert_eq!(h.ok(&["stop", "bg"]), "bg\n");
    assert_eq!(h.ok(&["rm", "bg"]), "bg\n");
    assert_eq!(h.ok(&["ps", "-a", "-q"]), "");
    assert_nothing_left(&h, "the lifecycle");
}

#[test]
fn exit_codes_and_output_pass_through() {
    let Some(h) = setup("exit_codes_and_output_pass_through") else {
        return;
    };
    let out = h.ok(&[
        "create",
        "--name",
        "cr",
        IMAGE,
        "sh",
        "-c",
        "echo from create; exit 5",
    ]);
    assert!(is_hex(out.trim(), 64), "create prints the full ID: {out:?}");
    assert_eq!(
        h.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]),
        "cr Created\n"
    );
    let r = h.run(&["start", "-a", "cr"]);
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (5, "from create\n"),
        "{}",
        r.stderr
    );
    let status = h.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(status.starts_with("Exited (5) "), "{status}");

    let r = h.run(&["run", "--rm", IMAGE, "sh", "-c", "exit 3"]);
    assert_eq!(r.status, 3, "{r:?}");
    let r = h.run(&[
        "run",
        "--rm",
        IMAGE,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 0",
    ]);
    assert_eq!((r.status, r.stdout.as_str()), (0, "out\n"));
    assert!(r.stderr.ends_with("err\n"), "{}", r.stderr);
    // A child killed by a signal: the shell reports 128 + 9 (the `exit` keeps busybox from exec'ing the
    // child as PID 1, which ignores the signal).
    let r = h.run(&[
        "run",
        "--rm",
        IMAGE,
        "sh",
        "-c",
        "sh -c 'kill -9 $$'; exit $?",
    ]);
    assert_eq!(r.status, 137, "{r:?}");
    // stdin is not attached without -i.
    let r = h.run_stdin(&["run", "--rm", IMAGE, "cat"], b"not read\n");
    assert_eq!((r.status, r.stdout.as_str()), (0, ""), "{r:?}");
    let r = h.run_stdin(&["run", "--rm", "-i", IMAGE, "cat"], b"read\n");
    assert_eq!((r.status, r.stdout.as_str()), (0, "read\n"), "{r:?}");
    assert_eq!(h.ok(&["rm", "cr"]), "cr\n");
    assert_nothing_left(&h, "the exit codes");
}

#[test]
fn run_options_env_workdir_user_entrypoint_volumes() {
    let Some(h) = setup("run_options_env_workdir_user_entrypoint_volumes") else {
        return;
    };
    // Docker's environment: the image's, HOSTNAME, and HOME from the user's passwd entry.
    let out = h.ok(&["run", "--rm", "--name", "envs", IMAGE, "env"]);
    let mut env: Vec<&str> = out.lines().collect();
    env.sort_unstable();
    assert_eq!(env.len(), 3, "{out}");
    assert_eq!(env[0], "HOME=/root");
    assert!(
        env[1]
            .strip_prefix("HOSTNAME=")
            .is_some_and(|h| is_hex(h, 12)),
        "{out}"
    );
    assert_eq!(env[2], PATH_ENV);

    let env_file = h.write("env.list", b"A=1\n# a comment\nB=two words\nC\n");
    let r = run_env(
        &h,
        &[("C", "fromhost")],
        &[
            "run",
            "--rm",
            "-e",
            "X=y",
            "--env",
            "C",
            "--env-file",
            path_str(&env_file),
            "-w",
            "/work/dir",
            IMAGE,
            "sh",
            "-c",
            "echo $X $A $B $C; pwd",
        ],
    );
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (0, "y 1 two words fromhost\n/work/dir\n"),
        "{}",
        r.stderr
    );

    // Users from the image's /etc/passwd and /etc/group.
    assert_eq!(
        h.ok(&["run", "--rm", "-u", "app", IMAGE, "id"]),
        "uid=1000(app) gid=1000(app) groups=50(staff),1000(app)\n"
    );
    assert_eq!(
        h.ok(&["run", "--rm", "-u", "1000", IMAGE, "id"]),
        "uid=1000(app) gid=1000(app) groups=50(staff),1000(app)\n"
    );
    assert_eq!(
        h.ok(&["run", "--rm", "-u", "app:staff", IMAGE, "id"]),
        "uid=1000(app) gid=50(staff) groups=50(staff)\n"
    );
    assert_eq!(
        h.ok(&[
            "run",
            "--rm",
            "--user",
            "app",
            IMAGE,
            "sh",
            "-c",
            "echo $HOME; cat /home/app/notes; cat /root/secret 2>/dev/null || echo denied"
        ]),
        "/home/app\nmine\ndenied\n"
    );
    assert_eq!(
        h.ok(&["run", "--rm", IMAGE, "id"]),
        "uid=0(root) gid=0(root) groups=0(root)\n"
    );

    // --entrypoint replaces the image's command as well (Docker drops CMD then).
    assert_eq!(
        h.ok(&["run", "--rm", "--entrypoint", "/bin/echo", IMAGE, "a", "b"]),
        "a b\n"
    );
    assert_eq!(h.ok(&["run", "--rm", "--entrypoint", "echo", IMAGE]), "\n");

    // Bind mounts, read-write and read-only.
    let host_dir = h.path("hostdir");
    std::fs::create_dir(&host_dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
    std::fs::write(host_dir.join("f"), "fromhost\n").unwrap_or_else(|e| panic!("write: {e}"));
    let rw = format!("{}:/data", host_dir.display());
    assert_eq!(
        h.ok(&[
            "run",
            "--rm",
            "-v",
            &rw,
            IMAGE,
            "sh",
            "-c",
            "cat /data/f; echo w > /data/g"
        ]),
        "fromhost\n"
    );
    assert_eq!(
        std::fs::read_to_string(host_dir.join("g")).unwrap_or_default(),
        "w\n"
    );
    let ro = format!("{}:/data:ro", host_dir.display());
    let r = h.run(&[
        "run",
        "--rm",
        "-v",
        &ro,
        IMAGE,
        "sh",
        "-c",
        "cat /data/f; echo w > /data/h",
    ]);
    assert_eq!((r.status, r.stdout.as_str()), (1, "fromhost\n"), "{r:?}");
    assert!(
        r.stderr
            .contains("can't create /data/h: Read-only file system"),
        "{}",
        r.stderr
    );
    assert!(!host_dir.join("h").exists());
    // A bind mount is not part of the container's changes.
    h.ok(&[
        "run",
        "--name",
        "vol",
        "-v",
        &rw,
        IMAGE,
        "sh",
        "-c",
        "echo again > /data/g",
    ]);
    assert_eq!(diff_lines(&h, "vol"), set(&["A /data"]));
    h.ok(&["rm", "vol"]);
    assert_nothing_left(&h, "the run options");
}

#[test]
fn memory_and_cpu_limits_reach_the_cgroup() {
    let Some(h) = setup("memory_and_cpu_limits_reach_the_cgroup") else {
        return;
    };
    // Seen from inside: Docker's containers see their own cgroup's limit; accept v1 or v2 files, and
    // no file at all when the runtime does not mount cgroupfs in the container.
    let inside = h.ok(&[
        "run",
        "--rm",
        "-m",
        "64m",
        IMAGE,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max 2>/dev/null || true",
    ]);
    assert!(
        inside.is_empty() || inside == "67108864\n",
        "limit seen in the container: {inside:?}"
    );

    // Seen from the host, through the container's PID 1.
    prompt_ok(
        &h,
        &[
            "run", "-d", "-m", "64m", "--cpus", "0.5", "--name", "lim", IMAGE, "sleep", "100",
        ],
    );
    let pid = h
        .ok(&["inspect", "-f", "{{.State.Pid}}", "lim"])
        .trim()
        .to_owned();
    let memory = cgroup_dir(&pid, "memory").unwrap_or_else(|| panic!("no memory cgroup for {pid}"));
    let limit = ["memory.limit_in_bytes", "memory.max"]
        .iter()
        .map(|f| memory.join(f))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no memory limit file in {}", memory.display()));
    assert_eq!(read_trimmed(&limit), "67108864", "{}", limit.display());
    let cpu = cgroup_dir(&pid, "cpu").unwrap_or_else(|| panic!("no cpu cgroup for {pid}"));
    let quota = if cpu.join("cpu.max").exists() {
        read_trimmed(&cpu.join("cpu.max"))
    } else {
        format!(
            "{} {}",
            read_trimmed(&cpu.join("cpu.cfs_quota_us")),
            read_trimmed(&cpu.join("cpu.cfs_period_us"))
        )
    };
    assert_eq!(quota, "50000 100000", "{}", cpu.display());
    assert_eq!(
        h.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}",
            "lim"
        ]),
        "67108864 500000000\n"
    );
    assert_eq!(h.ok(&["rm", "-f", "lim"]), "lim\n");
    // The cgroups go with the container.
    wait_until("the cgroups to be removed", 10, || {
        !memory.exists() && !cpu.exists()
    });
    assert_nothing_left(&h, "the limits");
}

#[test]
fn prune_sizes_formats_inspect_and_df() {
    let Some(h) = setup("prune_sizes_formats_inspect_and_df") else {
        return;
    };
    h.ok(&[
        "run",
        "--name",
        "s1",
        IMAGE,
        "sh",
        "-c",
        "dd if=/dev/zero of=/big bs=1000 count=5 2>/dev/null",
    ]);
    h.ok(&["run", "--name", "s2", IMAGE, "true"]);
    let running = prompt_ok(&h, &["run", "-d", "--name", "up", IMAGE, "sleep", "100"]);
    let running = running.trim().to_owned();
    let (s1, s2) = (container_id(&h, "s1"), container_id(&h, "s2"));

    let image_bytes: u64 = h
        .ok(&["image", "inspect", "-f", "{{.Size}}", IMAGE])
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("image size: {e}"));
    assert_eq!(
        h.ok(&["ps", "-a", "-s", "--format", "{{.Names}}|{{.Size}}"]),
        format!(
            "up|0B (virtual {0})\ns2|0B (virtual {0})\ns1|5kB (virtual {1})\n",
            human_size(image_bytes),
            human_size(image_bytes + 5000)
        ),
        "newest first; the writable layer's bytes and the whole root's"
    );
    let sized = h.ok(&["ps", "-a", "-s"]);
    assert_eq!(
        columns(sized.lines().next().unwrap_or_default()),
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
            "SIZE"
        ]
    );
    let formatted = h.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    let lines: Vec<&str> = formatted.lines().collect();
    assert_eq!(lines.len(), 3, "{formatted}");
    assert!(lines[0].starts_with("up Up "), "{formatted}");
    assert!(
        lines[1].starts_with("s2 Exited (0) ") && lines[1].ends_with(" ago"),
        "{formatted}"
    );
    assert!(lines[2].starts_with("s1 Exited (0) "), "{formatted}");
    assert_eq!(
        h.ok(&[
            "ps",
            "-a",
            "--filter",
            "name=s1",
            "--format",
            "{{.ID}} {{.Image}}"
        ]),
        format!("{} {IMAGE}\n", &s1[..12])
    );
    assert_eq!(
        h.ok(&["ps", "-n", "1", "-q"]),
        format!("{}\n", &running[..12])
    );
    assert_eq!(h.ok(&["ps", "-l", "--format", "{{.Names}}"]), "up\n");

    // inspect: Docker's container JSON.
    let v: Value = serde_json::from_str(&h.ok(&["inspect", "s1"]))
        .unwrap_or_else(|e| panic!("inspect is JSON: {e}"));
    let c = &v[0];
    assert_eq!(c["Id"], s1.as_str());
    assert_eq!(c["Name"], "/s1");
    assert_eq!(c["State"]["ExitCode"], 0);
    assert_eq!(c["State"]["Status"], "exited");
    assert_eq!(
        c["Config"]["Cmd"],
        serde_json::json!([
            "sh",
            "-c",
            "dd if=/dev/zero of=/big bs=1000 count=5 2>/dev/null"
        ])
    );
    assert_eq!(c["Config"]["Image"], IMAGE);
    let image_id = h.ok(&["image", "inspect", "-f", "{{.Id}}", IMAGE]);
    assert_eq!(c["Image"], image_id.trim());
    assert_eq!(
        h.ok(&[
            "container",
            "inspect",
            "-f",
            "{{.Name}} {{.State.ExitCode}}",
            "s2"
        ]),
        "/s2 0\n"
    );

    // system df counts the containers (one running) and the writable layers' bytes.
    let df = h.ok(&["system", "df"]);
    let rows: Vec<Vec<&str>> = df.lines().map(columns).collect();
    assert_eq!(
        rows.first().map(Vec::as_slice),
        Some(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"][..]),
        "{df}"
    );
    assert!(
        rows.iter()
            .any(|r| r[..] == ["Containers", "3", "1", "5kB", "5kB (100%)"]),
        "{df}"
    );
    assert!(
        rows.iter()
            .any(|r| r.first() == Some(&"Images") && r.get(2) == Some(&"1")),
        "the image is in use: {df}"
    );

    // prune removes the stopped ones only.
    let out = h.ok(&["container", "prune", "-f"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"Deleted Containers:"), "{out}");
    assert_eq!(
        lines
            .get(1..3)
            .map(|ids| ids.iter().copied().collect::<BTreeSet<_>>()),
        Some([s1.as_str(), s2.as_str()].into_iter().collect()),
        "{out}"
    );
    assert_eq!(
        lines.get(3..),
        Some(&["", "Total reclaimed space: 5kB"][..]),
        "{out}"
    );
    assert_eq!(
        h.ok(&["ps", "-a", "-q", "--no-trunc"]),
        format!("{running}\n")
    );
    assert_eq!(
        h.ok(&["container", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    assert_eq!(h.ok(&["rm", "-f", "up"]), "up\n");
    let df = h.ok(&["system", "df"]);
    assert!(
        df.lines()
            .map(columns)
            .any(|r| r[..] == ["Containers", "0", "0", "0B", "0B"]),
        "{df}"
    );
    assert_nothing_left(&h, "prune");
}

#[test]
fn committed_image_runs_the_same_in_docker() {
    let test = "committed_image_runs_the_same_in_docker";
    if !docker_available() {
        return skip(test, "no Docker Engine (run scripts/peers.sh start)");
    }
    let Some(h) = setup(test) else {
        return;
    };
    let docker = |args: &[&str]| -> String {
        let (status, out, err) = peer("docker", args);
        assert_eq!(status, 0, "docker {args:?} failed: {err}");
        out
    };
    let pid = std::process::id();
    let base = format!("hoist-containers-base:{pid}");
    let committed = format!("hoist-containers-commit:{pid}");
    let docker_commit = format!("hoist-containers-dcommit:{pid}");
    let docker_name = format!("hoist-containers-{pid}");
    let _cleanup = DockerCleanup {
        containers: vec![docker_name.clone()],
        images: vec![committed.clone(), docker_commit.clone(), base.clone()],
    };
    let write = "echo hi > /etc/new; chown app:staff /etc/new; rm /etc/hello; rm -rf /dir; mkdir /dir; touch /dir/x; mkdir -p /b/c";
    let check = "cat /etc/new; stat -c '%n %a %u %g' /etc/new /dir /dir/x /b/c; ls /dir /b; test -e /etc/hello || echo hello gone; id app; echo $$; ls /sys/class/net";

    // The same base image in both (through hoist save), and the same changes made in each.
    h.ok(&["tag", IMAGE, &base]);
    let base_tar = h.path("base.tar");
    h.ok(&["save", "-o", path_str(&base_tar), &base]);
    docker(&["load", "-i", path_str(&base_tar)]);
    h.ok(&["run", "--name", "writer", &base, "sh", "-c", write]);
    docker(&[
        "run",
        "--name",
        &docker_name,
        "--network",
        "none",
        &base,
        "sh",
        "-c",
        write,
    ]);
    let (_, docker_diff, _) = peer("docker", &["diff", &docker_name]);
    assert_eq!(
        diff_lines(&h, "writer"),
        docker_diff
            .lines()
            .map(str::to_owned)
            .collect::<BTreeSet<_>>(),
        "hoist diff and docker diff list different changes"
    );

    // hoist's commit loads into Docker and runs there as it runs in hoist.
    h.ok(&["commit", "-m", "from hoist", "writer", &committed]);
    let committed_tar = h.path("committed.tar");
    h.ok(&["save", "-o", path_str(&committed_tar), &committed]);
    let loaded = docker(&["load", "-i", path_str(&committed_tar)]);
    assert!(
        loaded.contains(&format!("Loaded image: {committed}")),
        "{loaded}"
    );
    let theirs = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &committed,
        "sh",
        "-c",
        check,
    ]);
    let ours = h.ok(&["run", "--rm", &committed, "sh", "-c", check]);
    assert_eq!(ours, theirs);
    assert_eq!(
        h.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{.Comment}} {{json .Config.Cmd}}",
            &committed
        ]),
        docker(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{.Comment}} {{json .Config.Cmd}}",
            &committed
        ])
    );

    // Docker's own commit of the same changes writes the same layer entries (with the same driver).
    docker(&["commit", &docker_name, &docker_commit]);
    let docker_driver = docker(&["info", "--format", "{{.Driver}}"]);
    if docker_driver.trim() == driver(&h) {
        let docker_tar = h.path("docker-commit.tar");
        docker(&["save", "-o", path_str(&docker_tar), &docker_commit]);
        h.ok(&["load", "-i", path_str(&docker_tar)]);
        let entries = |image: &str| -> BTreeSet<(String, u32, u64, u64)> {
            top_layer_entries(&h, image)
                .into_iter()
                .map(|e| (e.name, e.mode, e.uid, e.gid))
                .collect()
        };
        assert_eq!(entries(&committed), entries(&docker_commit));
    }
}

/// Removes what a test made in the shared Docker Engine, also when the test fails.
#[derive(Debug)]
struct DockerCleanup {
    containers: Vec<String>,
    images: Vec<String>,
}

impl Drop for DockerCleanup {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = peer("docker", &["rm", "-f", c]);
        }
        for i in &self.images {
            let _ = peer("docker", &["rmi", "-f", i]);
        }
    }
}

/// `-t` gives the container a terminal (stdin and stdout are ttys, TERM=xterm, output with CRLF as a pty
/// writes it) and `-it` carries what is typed into it. util-linux's `script` plays the user's terminal.
#[test]
fn tty_gives_the_container_a_terminal() {
    let Some(h) = setup("tty_gives_the_container_a_terminal") else {
        return;
    };
    if Command::new("script").arg("--version").output().is_err() {
        skip(
            "tty_gives_the_container_a_terminal",
            "no `script` (util-linux)",
        );
        return;
    }
    let in_terminal = |hoist_args: &str, input: &str| -> String {
        let line = format!("{} {hoist_args}", env!("CARGO_BIN_EXE_hoist"));
        let mut child = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env("HOIST_ROOT", h.root())
            .env("HOIST_CONFIG", h.path("daemon.json"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running script: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(input.as_bytes());
        }
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("waiting for script: {e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = in_terminal(
        &format!(
            "run --rm -t {IMAGE} sh -c 'test -t 0 && echo in; test -t 1 && echo out; echo $TERM'"
        ),
        "",
    );
    assert_eq!(out, "in\r\nout\r\nxterm\r\n");
    let out = in_terminal(
        &format!("run --rm -it {IMAGE} sh -c 'read line; echo got $line'"),
        "typed\n",
    );
    assert!(out.ends_with("got typed\r\n"), "{out:?}");
    // Without -t the same command sees no terminal.
    let r = h.run(&["run", "--rm", IMAGE, "sh", "-c", "test -t 1 || echo none"]);
    assert_eq!(r.stdout, "none\n");
    assert_nothing_left(&h, "tty runs");
}

/// The copying snapshotter (`vfs`, what hoist falls back to where overlayfs cannot mount), chosen here
/// through `HOIST_STORAGE_DRIVER`: `info` reports it, and run, diff, commit and export work the same.
#[test]
fn vfs_driver_runs_diffs_and_commits() {
    let Some(h) = setup("vfs_driver_runs_diffs_and_commits") else {
        return;
    };
    let vfs = [("HOIST_STORAGE_DRIVER", "vfs")];
    let ok = |args: &[&str]| {
        let r = run_env(&h, &vfs, args);
        assert_eq!(r.status, 0, "hoist {args:?}: {}", r.stderr);
        r.stdout
    };
    assert_eq!(ok(&["info", "--format", "{{.Driver}}"]), "vfs\n");
    ok(&[
        "run",
        "--name",
        "v1",
        IMAGE,
        "sh",
        "-c",
        "echo hi > /etc/new; rm /etc/hello",
    ]);
    assert_eq!(ok(&["inspect", "--format", "{{.Driver}}", "v1"]), "vfs\n");
    assert_eq!(
        diff_lines(&h, "v1"),
        set(&["C /etc", "A /etc/new", "D /etc/hello"])
    );
    ok(&["commit", "v1", "vfs:1"]);
    assert_eq!(
        names(&top_layer_entries(&h, "vfs:1")),
        set(&["etc", "etc/new", "etc/.wh.hello"])
    );
    assert_eq!(ok(&["run", "--rm", "vfs:1", "cat", "/etc/new"]), "hi\n");
    let export = h.run(&["export", "v1"]);
    assert_eq!(export.status, 0, "{}", export.stderr);
    ok(&["rm", "v1"]);
    assert_nothing_left(&h, "vfs runs");
}
