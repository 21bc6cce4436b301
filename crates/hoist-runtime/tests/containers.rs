//! End-to-end runs of busybox containers through the runtime's two init stages (needs root and
//! /bin/busybox; skipped with a message otherwise).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hoist_runtime::{
    BindMount, ContainerSpec, CpuQuota, NetworkMode, Rootfs, RuntimeError, Stdio3, open_pty,
    send_signal, start,
};

const INIT: &str = env!("CARGO_BIN_EXE_hoist-runtime-init");
const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "id", "hostname", "ps", "ls", "sleep", "ip", "pwd", "env", "test", "stat",
];

#[allow(clippy::print_stderr)]
fn can_run() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: containers need root");
        return false;
    }
    if !Path::new("/bin/busybox").exists() {
        eprintln!("skipped: /bin/busybox is missing");
        return false;
    }
    true
}

/// A busybox root with a user `app` (uid 1000, group `staff` 1000, also in `extra` 1001).
fn busybox_root(root: &Path) {
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for applet in APPLETS {
        symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/group"),
        "root:x:0:\nstaff:x:1000:\nextra:x:1001:app\n",
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("etc/passwd"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
}

struct Fixture {
    dir: tempfile::TempDir,
}

struct Outcome {
    result: Result<hoist_runtime::ExitStatus, RuntimeError>,
    stdout: String,
    stderr: String,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        busybox_root(&dir.path().join("root"));
        std::fs::create_dir(dir.path().join("mnt")).unwrap();
        Fixture { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn spec(&self, args: &[&str]) -> ContainerSpec {
        ContainerSpec {
            rootfs: Rootfs::Directory(self.path("root")),
            mount_point: self.path("mnt"),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: vec!["PATH=/bin".into()],
            cwd: "/".into(),
            user: String::new(),
            hostname: "box".into(),
            network: NetworkMode::Isolated,
            mounts: Vec::new(),
            tmpfs: Vec::new(),
            shm_size: None,
            ulimits: Vec::new(),
            cpu_shares: None,
            tty: false,
            memory_limit: None,
            cpu_quota: None,
            cgroup_name: format!(
                "hoist-test-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst)
            ),
            confinement: Default::default(),
            slirp: None,
            join: None,
            extra_groups: Vec::new(),
            host_namespaces: Vec::new(),
        }
    }

    /// Starts `spec` with stdout and stderr going to files in the fixture.
    fn start(&self, spec: &ContainerSpec) -> Result<hoist_runtime::RunningContainer, RuntimeError> {
        let spec_file = self.path("spec.json");
        spec.save(&spec_file).unwrap();
        let stdio = Stdio3 {
            stdin: Stdio::null(),
            stdout: Stdio::from(File::create(self.path("stdout")).unwrap()),
            stderr: Stdio::from(File::create(self.path("stderr")).unwrap()),
        };
        start(Path::new(INIT), &spec_file, stdio)
    }

    fn run(&self, spec: &ContainerSpec) -> Outcome {
        let result = self.start(spec).and_then(|running| running.wait());
        self.assert_nothing_mounted();
        Outcome {
            result,
            stdout: self.read("stdout"),
            stderr: self.read("stderr"),
        }
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    fn assert_nothing_mounted(&self) {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let dir = self.dir.path().to_string_lossy().into_owned();
        assert!(
            !mountinfo.contains(&dir),
            "left mounted on the host: {mountinfo}"
        );
    }

    /// Waits until the container's stdout contains `text`.
    fn wait_for_output(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.read("stdout").contains(text) {
            assert!(
                Instant::now() < deadline,
                "no {text:?} in {:?}",
                self.read("stdout")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn code(outcome: &Outcome) -> i32 {
    match &outcome.result {
        Ok(status) => status.code,
        Err(error) => panic!("container failed: {error}; stderr: {}", outcome.stderr),
    }
}

#[test]
fn pid_one_hostname_and_loopback_only() {
    if !can_run() {
        return;
    }
    let fixture = Fixture::new();
    let spec = fixture.spec(&[
        "sh",
        "-c",
        "echo $$; hostname; ls /sys/class/net; cat /sys/class/net/lo/flags; ls /dev",
    ]);
    let outcome = fixture.run(&spec);
    assert_eq!(code(&outcome), 0, "{}", outcome.stderr);
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(lines[..4], ["1", "box", "lo", "0x9"], "{}", outcome.stdout);
    for device in [
        "null", "zero", "urandom", "pts", "ptmx", "shm", "fd", "stdout",
    ] {
        assert!(lines.contains(&device), "no /dev/{device} in {lines:?}");
    }
}

#[test]
fn host_network_sees_the_host_interfaces() {
    if !can_run() {
        return;
    }
    let fixture = Fixture::new();
    let mut spec = fixture.spec(&["ls", "/sys/class/net"]);
    spec.network = NetworkMode::Host;
    let outcome = fixture.run(&spec);
    assert_eq!(code(&outcome), 0, "{}", outcome.stderr);
    let host: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        outcome.stdout.lines().count(),
        host.len(),
        "{}",
        outcome.stdout
    );
}

#[test]
fn users_groups_home_and_env() {
    if !can_run() {
        return;
    }
    let fixture = Fixture::new();
    let mut spec = fixture.spec(&["sh", "-c", "id; echo home=$HOME foo=$FOO"]);
    spec.user = "app".into();
    spec.env.push("FOO=bar".into());
    let outcome = fixture.run(&spec);
    assert_eq!(code(&outcome), 0, "{}", outcome.stderr);
    assert!(
        outcome.stdout.starts_with("uid=1000(app) gid=1000(staff)"),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.contains("1001(extra)"), "{}", outcome.stdout);
    assert!(
        outcome.stdout.contains("home=/home/app foo=bar"),
        "{}",
        outcome.stdout
    );

    let mut numeric = fixture.spec(&["sh", "-c", "id; echo home=$HOME"]);
    numeric.user = "4242:1001".into();
    let outcome = fixture.run(&numeric);
    assert_eq!(code(&outcome), 0, "{}", outcome.stderr);
    assert!(
        outcome.stdout.starts_with("uid=4242 gid=1001(extra)"),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.contains("home=/\n"), "{}", outcome.stdout);

    let mut root = fixture.spec(&["sh", "-c", "echo $HOME"]);
    root.env.push("HOME=/custom".into());
    assert_eq!(fixture.run(&root).stdout, "/custom\n");
}

#[test]
fn unknown_user_fails_to_start() {
    if !can_run() {
        return;
    }
    let fixture = Fixture::new();
    let mut spec = fixture.spec(&["id"]);
    spec.user = "nobody".into();
    let error = fixture.run(&spec).result.unwrap_err();
    assert_eq!(
        error.to_string(),
        "unable to find user nobody: no matching entries in passwd file"
    );
    assert_eq!(error.exit_code(), 125);
}

#[test]
fn commands_that_cannot_run_get_dockers_codes() {
    if !can_run() {
        return;
    }
    let fixture = Fixture::new();
    let cases = [
        (
            "nosuch",
            127,
            "exec: \"nosuch\": executable file not found in $PATH",
        ),
        (
            "/nosuch",
            127,
            "exec: \"/nosuch\": stat /nosuch: no such file or directory",
        ),
        (
            "/etc/passwd",
            126,
            "exec: \"/etc/passwd\": permission denied",
        ),
        ("/etc", 126, "exec: \"/etc\": is a directory"),
    ];
    for (command, expected_code, message) in cases {
        let error = fixture.run(&fixture.spec(&[command])).result.unwrap_err();
        assert!(matches!(&error, RuntimeError::Start(_)), "{error:?}");
        assert_eq!(error.to_string(), message);
        assert_eq!(error.exit_code(), expected_code, "{message}");
    }
}

#[test]
fn exit_codes_pass_through() {
    if !can_run() {
        return;
    }
    let fixture = Fixture::new();
    let outcome = fixture.run(&fixture.spec(&["sh", "-c", "echo out; echo err >&2; exit 3"]));
    assert_eq!(code(&outcome), 3);
    assert_eq!(outcome.stdout, "out\n");
    assert_eq!(outcome.stderr, "err\n");
}

#[test]
fn signals_reach_the_container() {
    if !can_run() {
        return;
    }
    let fixture = Fixture::new();
    // Forwarded by stage 1 to a shell that traps it.
    let spec = fixture.spec(&[
        "sh",
        "-c",
        "trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.05; done",
    ]);
    let running = fixture.start(&spec).unwrap();
    assert_ne!(running.pid, running.init_pid);
    fixture.wait_for_output("ready");
    send_signal(running.init_pid, 15).unwrap();
    assert_eq!(running.wait().unwrap().code, 7);
    assert!(fixture.read("stdout").contains("got-term"));

    // SIGKILL straight to the container's PID 1.
    let running = fixture.start(&fixture.spec(&["sleep", "60"])).unwrap();
    send_signal(running.pid, 9).unwrap();
    assert_eq!(running.wait().unwrap().code, 137);
    fixture.assert_nothing_mounted();
}

#[test]
fn working_directory_is_created() {
    if !can_run() {
        return;
    }
    let fixture = Fixture::new();
    let mut spec = fixture.spec(&["pwd"]);
    spec.cwd = "/work/deep".into();
    spec.user = "app".into();
    let outcome = fixture.run(&spec);
    assert_eq!(code(&outcome), 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "/work/deep\n");
    let created = std::fs::metadata(fixture.path("root/work/deep")).unwrap();
    assert_eq!((created.uid(), created.mode() & 0o777), (0, 0o755));
}

#[test]
fn read_only_bind_mounts_refuse_writes() {
    if !can_run() {
        return;
    }
    let fixture = Fixture::new();
    let shared = fixture.path("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("file"), "host data\n").unwrap();
    let hosts = fixture.path("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let mut spec = fixture.spec(&[
        "sh",
        "-c",
        "cat /data/file /etc/hosts; echo changed > /data/file || echo refused; echo w > /rw/new",
    ]);
    spec.mounts = vec![
        BindMount {
            source: shared.clone(),
            destination: "/data".into(),
            read_only: true,
            copy_up: false,
        },
        BindMount {
            source: hosts,
            destination: "/etc/hosts".into(),
            read_only: false,
            copy_up: false,
        },
        BindMount {
            source: fixture.path("mnt").parent().unwrap().join("root/etc"),
            destination: "/rw".into(),
            read_only: false,
            copy_up: false,
        },
    ];
    let outcome = fixture.run(&spec);
    assert_eq!(code(&outcome), 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "host data\n127.0.0.1 localhost\nrefused\n");
    assert!(
        outcome.stderr.contains("Read-only file system"),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        std::fs::read_to_string(shared.join("file")).unwrap(),
        "host data\n"
    );
    assert_eq!(
        std::fs::read_to_string(fixture.path("root/etc/new")).unwrap(),
        "w\n"
    );
}

/// The container's cgroup directory for `controller` as the host sees it, from /proc/<pid>/cgroup.
fn host_cgroup_dir(pid: u32, controller: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        if controllers.split(',').any(|c| c == controller) {
            let mount = if controller == "cpu" && !Path::new("/sys/fs/cgroup/cpu").exists() {
                "cpu,cpuacct".to_string()
            } else {
                controller.to_string()
            };
            return Path::new("/sys/fs/cgroup")
                .join(mount)
                .join(path.trim_start_matches('/'));
        }
    }
    let unified = text.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    Path::new("/sys/fs/cgroup").join(unified.trim_start_matches('/'))
}

#[test]
fn cgroup_limits_apply_and_are_removed() {
    if !can_run() {
        return;
    }
    let fixture = Fixture::new();
    let mut spec = fixture.spec(&["sleep", "30"]);
    spec.memory_limit = Some(64 * 1024 * 1024);
    spec.cpu_quota = Some(CpuQuota {
        quota_us: 50_000,
        period_us: 100_000,
    });
    let running = fixture.start(&spec).unwrap();
    let memory_dir = host_cgroup_dir(running.pid, "memory");
    let cpu_dir = host_cgroup_dir(running.pid, "cpu");
    assert!(
        memory_dir.ends_with(&spec.cgroup_name),
        "{}",
        memory_dir.display()
    );
    let read = |dir: &Path, name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    if memory_dir.join("memory.limit_in_bytes").exists() {
        assert_eq!(
            read(&memory_dir, "memory.limit_in_bytes").trim(),
            "67108864"
        );
        assert_eq!(read(&cpu_dir, "cpu.cfs_quota_us").trim(), "50000");
    } else {
        assert_eq!(read(&memory_dir, "memory.max").trim(), "67108864");
        assert_eq!(read(&memory_dir, "cpu.max").trim(), "50000 100000");
    }
    send_signal(running.pid, 9).unwrap();
    assert_eq!(running.wait().unwrap().code, 137);
    assert!(!memory_dir.exists(), "{} left behind", memory_dir.display());
    assert!(!cpu_dir.exists(), "{} left behind", cpu_dir.display());
}

#[test]
fn overlay_root_writes_land_in_the_upper_dir() {
    if !can_run() {
        return;
    }
    let fixture = Fixture::new();
    let top = fixture.path("layers/top");
    std::fs::create_dir_all(top.join("etc")).unwrap();
    std::fs::write(top.join("etc/motd"), "from the top layer\n").unwrap();
    let upper = fixture.path("layers/upper");
    let work = fixture.path("layers/work");
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let mut spec = fixture.spec(&[
        "sh",
        "-c",
        "cat /etc/motd; echo new > /created; cat /created",
    ]);
    spec.rootfs = Rootfs::Overlay {
        lowers: vec![top.clone(), fixture.path("root")],
        upper: upper.clone(),
        work,
    };
    let outcome = fixture.run(&spec);
    assert_eq!(code(&outcome), 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "from the top layer\nnew\n");
    assert_eq!(
        std::fs::read_to_string(upper.join("created")).unwrap(),
        "new\n"
    );
    assert!(!fixture.path("root/created").exists());
    assert!(!top.join("created").exists());
}

#[test]
fn tty_is_the_controlling_terminal() {
    if !can_run() {
        return;
    }
    let fixture = Fixture::new();
    let mut spec = fixture.spec(&[
        "sh",
        "-c",
        "test -t 0 && test -t 1 && echo is-a-tty; exit 4",
    ]);
    spec.tty = true;
    spec.save(&fixture.path("spec.json")).unwrap();
    let pty = open_pty().unwrap();
    let stdio = Stdio3::from_fd(&pty.slave).unwrap();
    let running = start(Path::new(INIT), &fixture.path("spec.json"), stdio).unwrap();
    drop(pty.slave);
    let mut master = File::from(pty.master);
    let mut output = Vec::new();
    // The read ends with EIO once the last slave user is gone.
    let _ = master.read_to_end(&mut output);
    assert_eq!(running.wait().unwrap().code, 4);
    assert!(
        String::from_utf8_lossy(&output).contains("is-a-tty"),
        "{}",
        String::from_utf8_lossy(&output)
    );
}
