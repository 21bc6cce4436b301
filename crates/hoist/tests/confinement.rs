//! Confinement: inside a container, try what Docker's defaults forbid (setting the clock, loading a module,
//! opening a disk made with mknod, mounting, writing /proc/sys and /proc/sysrq-trigger, reading masked
//! /proc files, new namespaces, swapon, iopl, keyrings) with a static probe built from
//! `confinement/probe.c`, and check each fails as under Docker; then the same probe in the Docker Engine,
//! whose results must be the same; then the flags that loosen or tighten it, and the two runtime CVEs
//! (a leaked descriptor as working directory, a container rewriting the runtime through /proc). Every
//! attempt is harmless if it succeeds. Needs root; the Docker comparison needs a Docker Engine.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::hoist;
use hoist_layer::builder::LayerBuilder;
use hoist_test_support::cli::{TestHoist, path_str};
use hoist_test_support::fixtures::{ImageFixture, busybox_layer, docker_archive};
use hoist_test_support::peers::{docker_available, run as peer, skip};

const IMAGE: &str = "probe:1";

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The probe, compiled static for this machine; `None` (reason printed) without a C compiler.
fn probe_binary(test: &str) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().ok()?;
    let out = dir.path().join("probe");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/confinement/probe.c");
    let built = Command::new("cc")
        .args(["-static", "-O1", "-Wall", "-o"])
        .arg(&out)
        .arg(&source)
        .status();
    match built {
        Ok(status) if status.success() => std::fs::read(&out).ok(),
        _ => {
            skip(
                test,
                "no C compiler with static glibc (apt-get install build-essential)",
            );
            None
        }
    }
}

/// A store holding busybox plus `/probe`, or `None` (reason printed) where containers cannot run.
fn setup(test: &str) -> Option<TestHoist> {
    if !is_root() {
        skip(
            test,
            "not root: containers need namespaces, mounts and cgroups",
        );
        return None;
    }
    let Some(busybox) = busybox_layer() else {
        skip(test, "busybox-static not installed");
        return None;
    };
    let probe = probe_binary(test)?;
    let mut tools = LayerBuilder::new().dir("bin", 0o755);
    for applet in [
        "cat", "ls", "pwd", "touch", "ulimit", "grep", "head", "wc", "mknod", "sleep",
    ] {
        tools = tools.symlink(format!("bin/{applet}"), "busybox");
    }
    let tools = tools.file("probe", probe, 0o755).dir("tmp", 0o1777).build();
    let h = hoist();
    h.load(&docker_archive(&[
        ImageFixture::new(vec![busybox, tools]).tag(IMAGE)
    ]));
    Some(h)
}

/// The probe's report as `attempt -> result`.
fn report(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn probe(h: &TestHoist, flags: &[&str]) -> BTreeMap<String, String> {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[IMAGE, "/probe"]);
    report(&h.ok(&args))
}

/// What Docker's default confinement answers (Docker 20.10 and later, on cgroup v1 or v2 with its
/// device program).
fn docker_defaults() -> BTreeMap<String, String> {
    let mut expected: BTreeMap<String, String> = [
        ("settimeofday", "EPERM"),
        ("clock_settime", "EPERM"),
        ("init_module", "EPERM"),
        ("finit_module", "EPERM"),
        ("delete_module", "EPERM"),
        ("mknod_block", "ok"),
        ("open_block", "EPERM"),
        ("mount", "EPERM"),
        ("write_proc_sys", "EROFS"),
        ("open_sysrq_trigger", "EROFS"),
        ("read_kcore", "ENODEV"),
        ("read_keys", "ENODEV"),
        ("read_timer_list", "ENODEV"),
        ("unshare_user", "EPERM"),
        ("unshare_mount", "EPERM"),
        ("sethostname", "EPERM"),
        ("swapon", "EPERM"),
        ("add_key", "EPERM"),
        ("chroot", "ok"),
        ("CapEff", "00000000a80425fb"),
        ("CapBnd", "00000000a80425fb"),
        ("NoNewPrivs", "0"),
        ("Seccomp", "2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    if cfg!(target_arch = "x86_64") {
        expected.insert("iopl".to_owned(), "EPERM".to_owned());
    }
    // A kernel built without them has nothing to hide or protect.
    for (attempt, path) in [
        ("open_sysrq_trigger", "/proc/sysrq-trigger"),
        ("read_kcore", "/proc/kcore"),
        ("read_keys", "/proc/keys"),
        ("read_timer_list", "/proc/timer_list"),
    ] {
        if !Path::new(path).exists() {
            expected.insert(attempt.to_owned(), "ENOENT".to_owned());
        }
    }
    expected
}

#[test]
fn defaults_forbid_what_dockers_forbid() {
    let Some(h) = setup("defaults_forbid_what_dockers_forbid") else {
        return;
    };
    let got = probe(&h, &[]);
    let expected = docker_defaults();
    for (attempt, result) in &expected {
        // On a cgroup v2 host hoist loads no device program and drops CAP_MKNOD instead.
        if attempt == "mknod_block" && got.get(attempt).map(String::as_str) == Some("EPERM") {
            continue;
        }
        if attempt == "open_block" && !got.contains_key(attempt) {
            continue;
        }
        assert_eq!(got.get(attempt), Some(result), "{attempt}: {got:#?}");
    }
    // A build's RUN steps are confined the same way.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {IMAGE}\nRUN /probe > /report\n"),
    )
    .unwrap();
    h.ok(&["build", "-q", "-t", "built:1", path_str(dir.path())]);
    let built = report(&h.ok(&["run", "--rm", "built:1", "cat", "/report"]));
    for attempt in ["settimeofday", "mount", "unshare_user", "CapEff", "Seccomp"] {
        assert_eq!(
            built.get(attempt),
            expected.get(attempt),
            "RUN {attempt}: {built:#?}"
        );
    }
}

#[test]
fn flags_loosen_and_tighten_as_dockers() {
    let Some(h) = setup("flags_loosen_and_tighten_as_dockers") else {
        return;
    };
    let privileged = probe(&h, &["--privileged"]);
    assert_eq!(privileged["Seccomp"], "0", "{privileged:#?}");
    assert_eq!(privileged["mount"], "ok");
    assert_eq!(privileged["write_proc_sys"], "ok");
    assert_ne!(privileged["CapEff"], "00000000a80425fb");

    let time = probe(&h, &["--cap-add", "SYS_TIME"]);
    assert_eq!(time["settimeofday"], "ok", "{time:#?}");
    // CAP_SYS_TIME is bit 25.
    assert_eq!(time["CapEff"], "00000000aa0425fb");

    let none = probe(&h, &["--cap-drop", "ALL"]);
    assert_eq!(none["CapEff"], "0000000000000000", "{none:#?}");
    assert_eq!(none["chroot"], "EPERM");

    let unconfined = probe(&h, &["--security-opt", "seccomp=unconfined"]);
    assert_eq!(unconfined["Seccomp"], "0", "{unconfined:#?}");
    // Without the filter the missing capability still forbids it.
    assert_eq!(unconfined["settimeofday"], "EPERM");

    let nnp = probe(&h, &["--security-opt", "no-new-privileges"]);
    assert_eq!(nnp["NoNewPrivs"], "1", "{nnp:#?}");
    assert_eq!(nnp["Seccomp"], "2");

    // A profile of one's own: everything allowed but chroot.
    let profile = h.path("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let own = probe(
        &h,
        &["--security-opt", &format!("seccomp={}", path_str(&profile))],
    );
    assert_eq!(own["chroot"], "EACCES", "{own:#?}");
    assert_eq!(own["settimeofday"], "EPERM");

    // Bad input: Docker's wording, status 125, no container left.
    for (flags, message) in [
        (
            &["--cap-add", "NOPE"][..],
            "unknown capability: \"CAP_NOPE\"",
        ),
        (
            &["--security-opt", "seccomp=/no/such.json"],
            "opening seccomp profile (/no/such.json) failed",
        ),
        (
            &["--security-opt", "bogus"],
            "Invalid --security-opt: \"bogus\"",
        ),
        (&["--ulimit", "nofiles=1"], "invalid ulimit type: nofiles"),
        (
            &["--device", "/no/such/device"],
            "error gathering device information",
        ),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[IMAGE, "true"]);
        let r = h.run(&args);
        assert_eq!(r.status, 125, "{flags:?}: {r:?}");
        assert!(r.stderr.contains(message), "{flags:?}: {}", r.stderr);
    }
    assert_eq!(h.ok(&["ps", "-aq"]), "");

    // --read-only: the root is read-only, /dev/shm is not.
    let r = h.run(&["run", "--rm", "--read-only", IMAGE, "touch", "/x"]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    h.ok(&["run", "--rm", "--read-only", IMAGE, "touch", "/dev/shm/x"]);

    // --ulimit, --shm-size, --pids-limit, --device.
    assert_eq!(
        h.ok(&[
            "run",
            "--rm",
            "--ulimit",
            "nofile=100:200",
            IMAGE,
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn"
        ]),
        "100\n200\n"
    );
    let mounts = h.ok(&[
        "run",
        "--rm",
        "--shm-size",
        "1m",
        IMAGE,
        "grep",
        "/dev/shm",
        "/proc/mounts",
    ]);
    assert!(mounts.contains("size=1024k"), "{mounts}");
    let forks = h.run(&[
        "run",
        "--rm",
        "--pids-limit",
        "4",
        IMAGE,
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6; do sleep 2 & done; wait",
    ]);
    assert!(forks.stderr.contains("can't fork"), "{forks:?}");
    assert_eq!(
        h.ok(&[
            "run",
            "--rm",
            "--device",
            "/dev/zero:/dev/myzero",
            IMAGE,
            "sh",
            "-c",
            "head -c 3 /dev/myzero | wc -c"
        ])
        .trim(),
        "3"
    );
}

/// CVE-2024-21626: no host descriptor is open when the command starts, so `-w /proc/self/fd/N` cannot
/// land outside the container.
#[test]
fn no_host_descriptor_reaches_the_container() {
    let Some(h) = setup("no_host_descriptor_reaches_the_container") else {
        return;
    };
    // ls's own directory descriptor is 3.
    assert_eq!(
        h.ok(&["run", "--rm", IMAGE, "ls", "/proc/self/fd"]),
        "0\n1\n2\n3\n"
    );
    for fd in 3..=12 {
        let dir = format!("/proc/self/fd/{fd}");
        let r = h.run(&["run", "--rm", "-w", &dir, IMAGE, "pwd"]);
        if r.status == 0 {
            let cwd = r.stdout.trim();
            assert!(
                cwd.starts_with("/proc/self/fd") || cwd == "/",
                "-w {dir} put the command in {cwd:?}"
            );
            assert!(!cwd.contains("unreachable"), "-w {dir}: {cwd}");
        }
    }
}

/// CVE-2019-5736: a container whose command is `/proc/self/exe` runs the runtime's own binary inside;
/// the attack keeps a handle on it (O_PATH, as the exploit does) and, once it has exited, reopens it for
/// writing to replace the host's binary. Here the host-side test plays the attacker with the handle the
/// container's PID 1 exposes, which is strictly more than a container process could do.
#[test]
fn the_runtime_binary_cannot_be_rewritten_through_the_container() {
    let test = "the_runtime_binary_cannot_be_rewritten_through_the_container";
    if !is_root() {
        return skip(test, "not root");
    }
    let Some(busybox) = busybox_layer() else {
        return skip(test, "busybox-static not installed");
    };
    // A private copy of hoist, so no other test's hoist keeps it busy (ETXTBSY would hide the result).
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("hoist");
    std::fs::copy(env!("CARGO_BIN_EXE_hoist"), &binary).unwrap();
    let original = std::fs::read(&binary).unwrap();
    // hoist is dynamically linked: the image carries its loader and libraries, as an attacker's would.
    let ldd = Command::new("ldd").arg(&binary).output().unwrap();
    let mut libs = LayerBuilder::new();
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let path = line
            .split("=>")
            .last()
            .and_then(|rest| rest.split_whitespace().next())
            .filter(|p| p.starts_with('/'));
        if let Some(path) = path {
            let relative = path.trim_start_matches('/');
            let mut built = String::new();
            for part in Path::new(relative)
                .parent()
                .into_iter()
                .flat_map(|p| p.iter())
            {
                if !built.is_empty() {
                    built.push('/');
                }
                built.push_str(&part.to_string_lossy());
                libs = libs.dir(built.clone(), 0o755);
            }
            libs = libs.file(relative, std::fs::read(path).unwrap(), 0o755);
        }
    }
    let h = TestHoist::new(&binary);
    h.load(&docker_archive(&[ImageFixture::new(vec![
        busybox,
        libs.build(),
    ])
    .tag(IMAGE)]));
    // `hoist load` inside waits on stdin: PID 1 of the container is the runtime's binary meanwhile.
    let mut child = h
        .command()
        .args([
            "run",
            "-i",
            "--name",
            "victim",
            IMAGE,
            "/proc/self/exe",
            "load",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let pid = loop {
        let pid = h.run(&["inspect", "-f", "{{.State.Pid}}", "victim"]).stdout;
        let pid = pid.trim().to_owned();
        if pid != "0" && !pid.is_empty() {
            break pid;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the container ended before it could be inspected: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the container never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_o_path())
        .open(format!("/proc/{pid}/exe"))
        .expect("the container's PID 1 shows its executable");
    drop(child.stdin.take());
    let _ = child.wait();
    let _ = h.run(&["rm", "-f", "victim"]);
    let reopened = std::fs::OpenOptions::new().write(true).open(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&handle)
    ));
    match reopened {
        Ok(mut file) => {
            let _ = file.write_all(b"");
            panic!("the runtime binary could be opened for writing through the container's handle");
        }
        Err(error) => assert_eq!(error.raw_os_error(), Some(30), "expected EROFS: {error}"),
    }
    assert_eq!(std::fs::read(&binary).unwrap(), original);
}

/// O_PATH, which std does not name.
fn libc_o_path() -> i32 {
    0o10000000
}

/// The same probe in the Docker Engine answers the same.
#[test]
fn the_probe_answers_the_same_in_docker() {
    let test = "the_probe_answers_the_same_in_docker";
    if !docker_available() {
        return skip(test, "no Docker Engine (run scripts/peers.sh start)");
    }
    let Some(h) = setup(test) else {
        return;
    };
    let tag = format!("hoist-confinement-probe:{}", std::process::id());
    h.ok(&["tag", IMAGE, &tag]);
    let archive = h.path("probe.tar");
    h.ok(&["save", "-o", path_str(&archive), &tag]);
    let (status, _, err) = peer("docker", &["load", "-i", path_str(&archive)]);
    assert_eq!(status, 0, "{err}");
    let id = h.ok(&["inspect", "-f", "{{.Id}}", &tag]);
    for flags in [
        &[][..],
        &["--cap-drop", "ALL"],
        &["--cap-add", "SYS_ADMIN"],
        &["--security-opt", "no-new-privileges"],
    ] {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[tag.as_str(), "/probe"]);
        let (status, docker_out, err) = peer("docker", &args);
        assert_eq!(status, 0, "docker {args:?}: {err}");
        let ours = probe(&h, flags);
        assert_eq!(ours, report(&docker_out), "with {flags:?}");
    }
    let _ = peer("docker", &["rmi", "-f", id.trim()]);
}
