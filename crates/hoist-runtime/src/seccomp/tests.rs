//! Tests of the seccomp module: the profile format, Docker's default rules as the compiled filter
//! applies them (run through a small BPF interpreter, for each host and ABI), and a real filter
//! installed in a child process.

use std::collections::BTreeSet;

use seccompiler::sock_filter;

use super::bpf::{Host, compile_program};
use super::profile::{Action, KernelVersion, Profile};
use super::table::{Abi, SYSCALLS, X32_SYSCALL_BIT};
use super::{SeccompError, compile, install};

const ALLOW: u32 = 0x7fff_0000;
const EPERM: u32 = 0x0005_0001;
const ENOSYS: u32 = 0x0005_0026;
const KILL_PROCESS: u32 = 0x8000_0000;

/// Docker's default capability set.
const DOCKER_CAPS: &[&str] = crate::capabilities::DOCKER_DEFAULT;

const KERNEL_6_1: KernelVersion = KernelVersion {
    kernel: 6,
    major: 1,
};

// ---- a classic BPF interpreter, as the kernel runs seccomp filters --------------------------------

/// The kernel's checks on a seccomp program, then its verdict for one call.
fn run(program: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, arg) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_le_bytes());
    }
    let mut a = 0u32;
    let mut pc = 0usize;
    loop {
        let insn = program.get(pc).expect("the program ran off its end");
        let k = insn.k;
        match insn.code {
            0x20 => {
                let at = k as usize;
                assert!(at.is_multiple_of(4) && at + 4 <= 64, "bad load offset {k}");
                a = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
            }
            0x54 => a &= k,
            0x05 => pc += k as usize,
            0x15 | 0x25 | 0x35 => {
                let taken = match insn.code {
                    0x15 => a == k,
                    0x25 => a > k,
                    _ => a >= k,
                };
                pc += usize::from(if taken { insn.jt } else { insn.jf });
            }
            0x06 => return k,
            other => panic!("unexpected opcode {other:#x} at {pc}"),
        }
        pc += 1;
    }
}

/// What the kernel's checker requires: a length within its limit, jumps inside the program, a
/// return at the end.
fn assert_valid(program: &[sock_filter]) {
    assert!(
        !program.is_empty() && program.len() <= 4096,
        "length {}",
        program.len()
    );
    for (pc, insn) in program.iter().enumerate() {
        let reach = match insn.code {
            0x05 => insn.k as usize,
            0x15 | 0x25 | 0x35 => usize::from(insn.jt.max(insn.jf)),
            _ => continue,
        };
        assert!(
            pc + 1 + reach < program.len(),
            "jump out of the program at {pc}"
        );
    }
    assert_eq!(program.last().map(|i| i.code), Some(0x06));
}

/// A compiled filter and the ABI calls go through.
struct Calls {
    program: Vec<sock_filter>,
    abi: Abi,
}

impl Calls {
    fn new(profile: &Profile, host: Host, caps: &[&str], kernel: KernelVersion, abi: Abi) -> Self {
        let program = compile_program(profile, caps, host, &Ok(kernel))
            .expect("the profile compiles")
            .expect("the profile is a filter");
        assert_valid(&program);
        Calls { program, abi }
    }

    fn docker(host: Host, caps: &[&str], abi: Abi) -> Self {
        Calls::new(&Profile::docker_default(), host, caps, KERNEL_6_1, abi)
    }

    fn nr(&self, name: &str) -> u32 {
        self.abi
            .syscall_number(name)
            .unwrap_or_else(|| panic!("{name} on {:?}", self.abi))
    }

    fn call(&self, name: &str, args: &[u64]) -> u32 {
        self.raw(self.nr(name), args)
    }

    fn raw(&self, nr: u32, args: &[u64]) -> u32 {
        let mut all = [0u64; 6];
        all[..args.len()].copy_from_slice(args);
        run(&self.program, self.abi.audit_arch(), nr, all)
    }

    fn verdicts(&self, names: &[&str]) -> Vec<(String, u32)> {
        names
            .iter()
            .map(|name| ((*name).to_owned(), self.call(name, &[])))
            .collect()
    }
}

fn all(names: &[&str], verdict: u32) -> Vec<(String, u32)> {
    names.iter().map(|n| ((*n).to_owned(), verdict)).collect()
}

// ---- the syscall table ----------------------------------------------------------------------------

#[test]
fn syscall_table_is_sorted_for_lookup() {
    for pair in SYSCALLS.windows(2) {
        assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
    }
    assert_eq!(Abi::X86_64.syscall_number("read"), Some(0));
    assert_eq!(Abi::X32.syscall_number("read"), Some(X32_SYSCALL_BIT));
    assert_eq!(
        Abi::X32.syscall_number("rt_sigaction"),
        Some(X32_SYSCALL_BIT | 512)
    );
    assert_eq!(Abi::I386.syscall_number("socketcall"), Some(102));
    assert_eq!(Abi::Arm.syscall_number("set_tls"), Some(0xf0005));
    assert_eq!(Abi::Aarch64.syscall_number("open"), None);
    assert_eq!(Abi::X86_64.syscall_number("no_such_call"), None);
}

/// The native column agrees with the C library's numbers.
#[test]
fn syscall_table_matches_libc_on_this_host() {
    let Some(host) = Host::current() else {
        return;
    };
    let abi = match host {
        Host::X86_64 => Abi::X86_64,
        Host::Aarch64 => Abi::Aarch64,
        Host::Riscv64 => Abi::Riscv64,
    };
    let expected: &[(&str, libc::c_long)] = &[
        ("read", libc::SYS_read),
        ("write", libc::SYS_write),
        ("clone", libc::SYS_clone),
        ("clone3", libc::SYS_clone3),
        ("execve", libc::SYS_execve),
        ("mount", libc::SYS_mount),
        ("umount2", libc::SYS_umount2),
        ("unshare", libc::SYS_unshare),
        ("personality", libc::SYS_personality),
        ("socket", libc::SYS_socket),
        ("ptrace", libc::SYS_ptrace),
        ("clock_settime", libc::SYS_clock_settime),
        ("finit_module", libc::SYS_finit_module),
        ("kexec_load", libc::SYS_kexec_load),
        ("pivot_root", libc::SYS_pivot_root),
        ("openat2", libc::SYS_openat2),
        ("mseal", libc::SYS_mseal),
    ];
    for (name, number) in expected {
        assert_eq!(
            abi.syscall_number(name).map(i64::from),
            Some(*number),
            "{name}"
        );
    }
}

// ---- the profile format ---------------------------------------------------------------------------

#[test]
fn default_profile_round_trips_through_json() {
    let profile = Profile::docker_default();
    let json = serde_json::to_string_pretty(&profile).unwrap();
    assert_eq!(Profile::parse(&json).unwrap(), profile);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(value["defaultErrnoRet"], 1);
    assert_eq!(value["archMap"][0]["architecture"], "SCMP_ARCH_X86_64");
    assert_eq!(
        value["archMap"][0]["subArchitectures"],
        serde_json::json!(["SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    );
    let clone3 = value["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| rule["names"] == serde_json::json!(["clone3"]))
        .unwrap();
    assert_eq!(
        clone3,
        &serde_json::json!({
            "names": ["clone3"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 38,
            "excludes": {"caps": ["CAP_SYS_ADMIN"]}
        })
    );
}

#[test]
fn default_profile_names_syscalls_the_table_knows() {
    let mut unknown = BTreeSet::new();
    for rule in Profile::docker_default().syscalls {
        for name in rule.syscall_names() {
            if !SYSCALLS.iter().any(|(entry, _)| *entry == name) {
                unknown.insert(name.to_owned());
            }
        }
    }
    // Only calls of architectures hoist builds no filters for.
    let expected: BTreeSet<String> = [
        "s390_pci_mmio_read",
        "s390_pci_mmio_write",
        "s390_runtime_instr",
        "swapcontext",
        "sync_file_range2",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(unknown, expected);
}

#[test]
fn profiles_in_dockers_format_parse() {
    let json = r#"{
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "args": null},
            {"names": ["clone"], "action": "SCMP_ACT_KILL", "errnoRet": 5,
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
             "comment": "", "includes": {}, "excludes": {"minKernel": ""}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8", "caps": null}}
        ]
    }"#;
    let profile = Profile::parse(json).unwrap();
    assert_eq!(profile.default_action, Some(Action::Allow));
    assert_eq!(profile.syscalls[0].syscall_names(), ["mkdir"]);
    assert_eq!(profile.syscalls[1].args[0].value, 0x7E02_0000);
    assert!(profile.syscalls[1].excludes.is_empty());
    assert_eq!(
        profile.syscalls[2].includes.min_kernel,
        Some(KernelVersion {
            kernel: 4,
            major: 8
        })
    );
    // Docker's "no filter" form.
    for disabled in ["{}", r#"{"defaultAction": "", "syscalls": null}"#] {
        let profile = Profile::parse(disabled).unwrap();
        assert!(profile.is_disabled());
        let host = Host::current().unwrap_or(Host::X86_64);
        assert_eq!(
            compile_program(&profile, &[], host, &Ok(KERNEL_6_1)).unwrap(),
            None
        );
    }
}

fn parse_error(json: &str) -> String {
    Profile::parse(json).unwrap_err().to_string()
}

#[test]
fn parse_errors_say_what_is_wrong() {
    let bad_json = parse_error("{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [\n}");
    assert!(
        bad_json.starts_with("Decoding seccomp profile failed: "),
        "{bad_json}"
    );
    assert!(bad_json.contains("line 4 column 1"), "{bad_json}");

    let action = parse_error(
        r#"{"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALOW"}]}"#,
    );
    assert!(
        action
            .contains("unknown seccomp action \"SCMP_ACT_ALOW\" (expected one of SCMP_ACT_ALLOW, "),
        "{action}"
    );
    assert!(action.contains("line 2"), "{action}");

    let op = parse_error(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
            "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQUAL"}]}]}"#,
    );
    assert!(
        op.contains("unknown seccomp comparison operator \"SCMP_CMP_EQUAL\""),
        "{op}"
    );

    let arch = parse_error(r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["x86_64"]}"#);
    assert!(
        arch.contains("unknown seccomp architecture \"x86_64\""),
        "{arch}"
    );

    let missing =
        parse_error(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"]}]}"#);
    assert!(missing.contains("missing field `action`"), "{missing}");

    for (version, why) in [
        ("4", "expected \"<kernel>.<major>\""),
        ("4.8.1", "each part is a number from 0 to 255"),
        ("4.256", "each part is a number from 0 to 255"),
        ("0.0", "version cannot be 0.0"),
    ] {
        let json = format!(
            r#"{{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{{"names": ["ptrace"],
                "action": "SCMP_ACT_ALLOW", "includes": {{"minKernel": "{version}"}}}}]}}"#
        );
        let error = parse_error(&json);
        assert!(error.contains("invalid kernel version"), "{error}");
        assert!(error.contains(why), "{version}: {error}");
    }

    assert_eq!(
        parse_error(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": null}]}"#
        ),
        "both 'architectures' and 'archMap' are specified in the seccomp profile, use either \
         'architectures' or 'archMap'"
    );
    assert_eq!(
        parse_error(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_ALLOW"}]}"#
        ),
        "both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'"
    );
    assert_eq!(
        parse_error(r#"{"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#),
        "the seccomp profile has syscall rules but no defaultAction"
    );
    assert_eq!(
        parse_error(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "pread64"],
                "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#
        ),
        "seccomp rule for read, pread64: argument index 6 is out of range (a syscall has arguments 0 to 5)"
    );
    assert_eq!(
        parse_error(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ERRNO", "errnoRet": 65536}]}"#
        ),
        "seccomp rule for read: errnoRet 65536 is out of range (0 to 65535)"
    );
    assert_eq!(
        parse_error(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [""], "action": "SCMP_ACT_ALLOW"}]}"#
        ),
        "empty string is not a valid syscall"
    );
    let negative = parse_error(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
            "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}"#,
    );
    assert!(
        negative.contains("invalid value: integer `-1`"),
        "{negative}"
    );
}

#[test]
fn profile_files_are_read_with_dockers_wording() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let error = Profile::from_file(&missing).unwrap_err();
    assert!(matches!(error, SeccompError::Open { .. }));
    assert!(
        error.to_string().starts_with(&format!(
            "opening seccomp profile ({}) failed: ",
            missing.display()
        )),
        "{error}"
    );
    let file = dir.path().join("profile.json");
    std::fs::write(
        &file,
        serde_json::to_string(&Profile::docker_default()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        Profile::from_file(&file).unwrap(),
        Profile::docker_default()
    );
}

// ---- Docker's default profile, as compiled --------------------------------------------------------

const CLONE_NEWNS: u64 = 0x0002_0000;
const CLONE_NEWUSER: u64 = 0x1000_0000;
const CLONE_NEWNET: u64 = 0x4000_0000;
const CLONE_NEWCGROUP: u64 = 0x0200_0000;
/// What glibc's fork and pthread_create pass.
const FORK_FLAGS: u64 = 0x0120_0011;
const THREAD_FLAGS: u64 = 0x003d_0f00;

const DENIED_WITHOUT_CAPS: &[&str] = &[
    "settimeofday",
    "clock_settime",
    "init_module",
    "finit_module",
    "delete_module",
    "mount",
    "umount2",
    "unshare",
    "setns",
    "reboot",
    "kexec_load",
    "kexec_file_load",
    "swapon",
    "swapoff",
    "acct",
    "keyctl",
    "add_key",
    "request_key",
    "pivot_root",
    "sethostname",
    "setdomainname",
    "bpf",
    "perf_event_open",
    "open_by_handle_at",
    "iopl",
    "ioperm",
    "vhangup",
    "kcmp",
    "process_madvise",
    "pidfd_getfd",
    "userfaultfd",
    "fanotify_init",
    "quotactl",
    "syslog",
    "mbind",
    "set_mempolicy",
    "move_mount",
    "fsopen",
    "open_tree",
    "lookup_dcookie",
    "nfsservctl",
    "_sysctl",
    "uselib",
    "ustat",
    "sysfs",
    "create_module",
    "get_kernel_syms",
    "query_module",
];

#[test]
fn default_profile_allows_the_ordinary_kernel_interface() {
    let calls = Calls::docker(Host::X86_64, &[], Abi::X86_64);
    let allowed = [
        "read",
        "write",
        "openat",
        "close",
        "execve",
        "execveat",
        "exit_group",
        "mmap",
        "brk",
        "futex",
        "getpid",
        "rt_sigaction",
        "wait4",
        "fork",
        "vfork",
        "pipe2",
        "epoll_wait",
        "statx",
        "getrandom",
        "rseq",
        "seccomp",
        "prctl",
        "arch_prctl",
        "modify_ldt",
        "setuid",
        "capset",
        "mknod",
        "ptrace",
        "process_vm_readv",
        "landlock_create_ruleset",
        "memfd_secret",
        "mseal",
        "cachestat",
        "ioctl",
        "kill",
    ];
    assert_eq!(calls.verdicts(&allowed), all(&allowed, ALLOW));
    // Docker dropped io_uring from its list.
    let io_uring = ["io_uring_setup", "io_uring_enter", "io_uring_register"];
    assert_eq!(calls.verdicts(&io_uring), all(&io_uring, EPERM));
}

#[test]
fn default_profile_denies_privileged_calls_without_capabilities() {
    let calls = Calls::docker(Host::X86_64, &[], Abi::X86_64);
    assert_eq!(
        calls.verdicts(DENIED_WITHOUT_CAPS),
        all(DENIED_WITHOUT_CAPS, EPERM)
    );
    // chroot needs CAP_SYS_CHROOT, which Docker's default set has.
    assert_eq!(calls.call("chroot", &[]), EPERM);
    let with_docker_caps = Calls::docker(Host::X86_64, DOCKER_CAPS, Abi::X86_64);
    assert_eq!(with_docker_caps.call("chroot", &[]), ALLOW);
    assert_eq!(
        with_docker_caps.verdicts(DENIED_WITHOUT_CAPS),
        all(DENIED_WITHOUT_CAPS, EPERM)
    );
}

#[test]
fn capabilities_open_their_groups() {
    let cases: &[(&str, &[&str])] = &[
        (
            "CAP_SYS_ADMIN",
            &[
                "mount",
                "umount2",
                "unshare",
                "setns",
                "sethostname",
                "bpf",
                "perf_event_open",
                "syslog",
                "fsopen",
                "quotactl",
            ],
        ),
        ("CAP_SYS_TIME", &["settimeofday", "clock_settime"]),
        (
            "CAP_SYS_MODULE",
            &["init_module", "finit_module", "delete_module"],
        ),
        ("CAP_SYS_BOOT", &["reboot"]),
        ("CAP_SYS_PACCT", &["acct"]),
        (
            "CAP_SYS_PTRACE",
            &["kcmp", "pidfd_getfd", "process_madvise"],
        ),
        ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
        ("CAP_SYS_NICE", &["mbind", "set_mempolicy", "get_mempolicy"]),
        ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
        ("CAP_SYSLOG", &["syslog"]),
        ("CAP_BPF", &["bpf"]),
        ("CAP_PERFMON", &["perf_event_open"]),
        ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    ];
    for (cap, names) in cases {
        let calls = Calls::docker(Host::X86_64, &[cap], Abi::X86_64);
        assert_eq!(calls.verdicts(names), all(names, ALLOW), "{cap}");
        // Still nothing else: one capability opens only its own group.
        let others: Vec<&str> = DENIED_WITHOUT_CAPS
            .iter()
            .copied()
            .filter(|n| !cases.iter().any(|(c, ns)| c == cap && ns.contains(n)))
            .filter(|n| {
                !(*cap == "CAP_SYS_ADMIN"
                    && [
                        "move_mount",
                        "open_tree",
                        "fanotify_init",
                        "lookup_dcookie",
                        "setdomainname",
                    ]
                    .contains(n))
            })
            .collect();
        assert_eq!(calls.verdicts(&others), all(&others, EPERM), "{cap}");
    }
    // Never allowed, whatever the capabilities.
    let every = [
        "CAP_SYS_ADMIN",
        "CAP_SYS_TIME",
        "CAP_SYS_MODULE",
        "CAP_SYS_BOOT",
        "CAP_SYS_PACCT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_NICE",
    ];
    let calls = Calls::docker(Host::X86_64, &every, Abi::X86_64);
    let never = [
        "kexec_load",
        "swapon",
        "keyctl",
        "add_key",
        "pivot_root",
        "userfaultfd",
        "uselib",
    ];
    assert_eq!(calls.verdicts(&never), all(&never, EPERM));
}

#[test]
fn clone_may_not_create_namespaces_without_cap_sys_admin() {
    let calls = Calls::docker(Host::X86_64, DOCKER_CAPS, Abi::X86_64);
    assert_eq!(calls.call("clone", &[FORK_FLAGS]), ALLOW);
    assert_eq!(calls.call("clone", &[THREAD_FLAGS]), ALLOW);
    // The high word of the flags is outside the mask.
    assert_eq!(calls.call("clone", &[FORK_FLAGS | 1 << 40]), ALLOW);
    for flag in [CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWCGROUP] {
        assert_eq!(
            calls.call("clone", &[FORK_FLAGS | flag]),
            EPERM,
            "{flag:#x}"
        );
    }
    // clone3 answers ENOSYS, so that libc falls back to clone.
    assert_eq!(calls.call("clone3", &[]), ENOSYS);

    let admin = Calls::docker(Host::X86_64, &["CAP_SYS_ADMIN"], Abi::X86_64);
    assert_eq!(admin.call("clone", &[FORK_FLAGS | CLONE_NEWUSER]), ALLOW);
    assert_eq!(admin.call("clone3", &[]), ALLOW);
}

#[test]
fn personality_and_socket_are_allowed_for_some_arguments() {
    let calls = Calls::docker(Host::X86_64, DOCKER_CAPS, Abi::X86_64);
    for persona in [0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff] {
        assert_eq!(calls.call("personality", &[persona]), ALLOW, "{persona:#x}");
    }
    for persona in [
        0x1,
        0x4_0000,
        0x0040_0000,
        0x1_0000_0000,
        0xffff_ffff_ffff_ffff,
    ] {
        assert_eq!(calls.call("personality", &[persona]), EPERM, "{persona:#x}");
    }
    // AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, 39 (between the two), AF_XDP.
    for family in [1, 2, 10, 16, 17, 37, 39, 41, 44] {
        assert_eq!(calls.call("socket", &[family, 1, 0]), ALLOW, "{family}");
    }
    // AF_ALG and AF_VSOCK.
    for family in [38, 40] {
        assert_eq!(calls.call("socket", &[family, 1, 0]), EPERM, "{family}");
    }
    // As with libseccomp, arguments are 64-bit numbers: high bits make a family "above AF_VSOCK"
    // (the kernel reads an int from it).
    assert_eq!(calls.call("socket", &[1 << 32 | 40, 1, 0]), ALLOW);
}

#[test]
fn ptrace_depends_on_the_kernel_version() {
    let profile = Profile::docker_default();
    let old = KernelVersion {
        kernel: 4,
        major: 4,
    };
    let calls = Calls::new(&profile, Host::X86_64, DOCKER_CAPS, old, Abi::X86_64);
    assert_eq!(calls.call("ptrace", &[]), EPERM);
    assert_eq!(calls.call("process_vm_writev", &[]), EPERM);
    let traced = Calls::new(
        &profile,
        Host::X86_64,
        &["CAP_SYS_PTRACE"],
        old,
        Abi::X86_64,
    );
    assert_eq!(traced.call("ptrace", &[]), ALLOW);
    let new = KernelVersion {
        kernel: 4,
        major: 8,
    };
    let calls = Calls::new(&profile, Host::X86_64, DOCKER_CAPS, new, Abi::X86_64);
    assert_eq!(calls.call("ptrace", &[]), ALLOW);
    // A kernel whose release cannot be read fails only when a rule asks for it.
    let unreadable = Err("weird".to_owned());
    let error = compile_program(&profile, &[], Host::X86_64, &unreadable).unwrap_err();
    assert_eq!(
        error.to_string(),
        "failed to parse kernel version \"weird\""
    );
    let plain = Profile::parse(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#).unwrap();
    assert!(compile_program(&plain, &[], Host::X86_64, &unreadable).is_ok());
}

#[test]
fn calls_beyond_the_profile_answer_enosys() {
    let calls = Calls::docker(Host::X86_64, DOCKER_CAPS, Abi::X86_64);
    let newest = calls.nr("removexattrat");
    assert_eq!(calls.raw(newest, &[]), ALLOW);
    assert_eq!(calls.raw(newest + 1, &[]), ENOSYS);
    assert_eq!(calls.raw(1000, &[]), ENOSYS);
    // Known to the kernel, not to the profile: the default action, or ENOSYS past the newest call.
    assert_eq!(calls.call("kexec_file_load", &[]), EPERM);
    assert_eq!(calls.call("open_tree_attr", &[]), ENOSYS);
    // Holes in the table below the newest call get the default action too.
    assert_eq!(calls.raw(400, &[]), EPERM);
    // A default that allows, or already answers ENOSYS, has no such stub.
    let permissive = Profile::parse(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let calls = Calls::new(&permissive, Host::X86_64, &[], KERNEL_6_1, Abi::X86_64);
    assert_eq!(calls.raw(1000, &[]), ALLOW);
    assert_eq!(calls.call("mount", &[]), EPERM);
    let nosys = Profile::parse(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    let calls = Calls::new(&nosys, Host::X86_64, &[], KERNEL_6_1, Abi::X86_64);
    assert_eq!(calls.raw(1000, &[]), ENOSYS);
    assert_eq!(calls.call("write", &[]), ENOSYS);
}

#[test]
fn docker_default_covers_i386_and_x32_on_x86_64() {
    let i386 = Calls::docker(Host::X86_64, DOCKER_CAPS, Abi::I386);
    let allowed = [
        "read",
        "write",
        "socketcall",
        "ipc",
        "_llseek",
        "mmap2",
        "set_thread_area",
        "arch_prctl",
        "modify_ldt",
        "execve",
    ];
    assert_eq!(i386.verdicts(&allowed), all(&allowed, ALLOW));
    let denied: Vec<&str> = DENIED_WITHOUT_CAPS
        .iter()
        .copied()
        .filter(|name| Abi::I386.syscall_number(name).is_some())
        .collect();
    assert!(denied.len() > 30);
    assert_eq!(i386.verdicts(&denied), all(&denied, EPERM));
    assert_eq!(i386.call("clone", &[FORK_FLAGS]), ALLOW);
    assert_eq!(i386.call("clone", &[FORK_FLAGS | CLONE_NEWUSER]), EPERM);
    // 32-bit arguments: only the low word is compared.
    assert_eq!(i386.call("personality", &[1 << 32]), ALLOW);
    assert_eq!(i386.call("socket", &[40, 1, 0]), EPERM);
    assert_eq!(i386.call("clone3", &[]), ENOSYS);

    let x32 = Calls::docker(Host::X86_64, DOCKER_CAPS, Abi::X32);
    let allowed = ["read", "rt_sigaction", "execve", "ioctl", "arch_prctl"];
    assert_eq!(x32.verdicts(&allowed), all(&allowed, ALLOW));
    assert_eq!(
        x32.verdicts(&["mount", "kexec_load"]),
        all(&["mount", "kexec_load"], EPERM)
    );
    assert_eq!(x32.raw(X32_SYSCALL_BIT | 1000, &[]), ENOSYS);

    // A foreign audit architecture is killed.
    assert_eq!(
        run(&i386.program, Abi::Aarch64.audit_arch(), 63, [0; 6]),
        KILL_PROCESS
    );
    assert_eq!(
        run(&i386.program, Abi::Arm.audit_arch(), 3, [0; 6]),
        KILL_PROCESS
    );
}

#[test]
fn docker_default_on_aarch64() {
    let native = Calls::docker(Host::Aarch64, DOCKER_CAPS, Abi::Aarch64);
    let allowed = ["read", "openat", "execve", "ptrace", "personality"];
    assert_eq!(native.verdicts(&allowed), all(&allowed, ALLOW));
    let denied: Vec<&str> = DENIED_WITHOUT_CAPS
        .iter()
        .copied()
        .filter(|name| Abi::Aarch64.syscall_number(name).is_some())
        .collect();
    assert!(denied.len() > 30);
    assert_eq!(native.verdicts(&denied), all(&denied, EPERM));
    assert_eq!(native.call("clone", &[FORK_FLAGS | CLONE_NEWNS]), EPERM);
    assert_eq!(native.call("clone", &[FORK_FLAGS]), ALLOW);
    assert_eq!(native.call("clone3", &[]), ENOSYS);
    // arch_prctl is x86's; aarch64 has no such call, and its number is not some other call's.
    assert_eq!(Abi::Aarch64.syscall_number("arch_prctl"), None);

    let arm = Calls::docker(Host::Aarch64, DOCKER_CAPS, Abi::Arm);
    let allowed = [
        "read",
        "set_tls",
        "cacheflush",
        "breakpoint",
        "arm_fadvise64_64",
        "arm_sync_file_range",
        "_llseek",
    ];
    assert_eq!(arm.verdicts(&allowed), all(&allowed, ALLOW));
    assert_eq!(
        arm.verdicts(&["mount", "reboot"]),
        all(&["mount", "reboot"], EPERM)
    );
    assert_eq!(
        run(&arm.program, Abi::X86_64.audit_arch(), 0, [0; 6]),
        KILL_PROCESS
    );
}

// ---- rule semantics on custom profiles ------------------------------------------------------------

fn custom(rules: &str) -> Profile {
    Profile::parse(&format!(
        r#"{{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [{rules}]}}"#
    ))
    .unwrap()
}

fn arg_rule(op: &str, value: u64, value_two: u64) -> String {
    format!(
        r#"{{"names": ["read"], "action": "SCMP_ACT_ALLOW",
            "args": [{{"index": 2, "value": {value}, "valueTwo": {value_two}, "op": "{op}"}}]}}"#
    )
}

#[test]
fn comparisons_use_all_64_bits_on_64_bit_abis() {
    let values = [
        0,
        1,
        0xffff_fffe,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0001,
        0x2_0000_0000,
        0x2_ffff_ffff,
        u64::MAX - 1,
        u64::MAX,
    ];
    type Holds = fn(u64, u64) -> bool;
    let ops: &[(&str, Holds)] = &[
        ("SCMP_CMP_EQ", |a, v| a == v),
        ("SCMP_CMP_NE", |a, v| a != v),
        ("SCMP_CMP_LT", |a, v| a < v),
        ("SCMP_CMP_LE", |a, v| a <= v),
        ("SCMP_CMP_GT", |a, v| a > v),
        ("SCMP_CMP_GE", |a, v| a >= v),
    ];
    for (op, holds) in ops {
        for value in values {
            let profile = custom(&arg_rule(op, value, 0));
            let x86_64 = Calls::new(&profile, Host::X86_64, &[], KERNEL_6_1, Abi::X86_64);
            let i386 = Calls::new(&profile, Host::X86_64, &[], KERNEL_6_1, Abi::I386);
            for arg in values {
                let expected = if holds(arg, value) { ALLOW } else { EPERM };
                assert_eq!(
                    x86_64.call("read", &[0, 0, arg]),
                    expected,
                    "{arg:#x} {op} {value:#x}"
                );
                let low = |v: u64| v & 0xffff_ffff;
                let expected = if holds(low(arg), low(value)) {
                    ALLOW
                } else {
                    EPERM
                };
                assert_eq!(
                    i386.call("read", &[0, 0, arg]),
                    expected,
                    "i386: {arg:#x} {op} {value:#x}"
                );
            }
        }
    }
    let masked = custom(&arg_rule(
        "SCMP_CMP_MASKED_EQ",
        0x0000_00f0_0000_00f0,
        0x0000_0010_0000_0020,
    ));
    let calls = Calls::new(&masked, Host::X86_64, &[], KERNEL_6_1, Abi::X86_64);
    assert_eq!(calls.call("read", &[0, 0, 0x0000_001f_0000_002f]), ALLOW);
    assert_eq!(calls.call("read", &[0, 0, 0x0000_0010_0000_0010]), EPERM);
    assert_eq!(calls.call("read", &[0, 0, 0x0000_0020_0000_0020]), EPERM);
}

#[test]
fn rules_for_one_syscall_combine_as_runc_and_libseccomp_do() {
    let cond = |index: u32, op: &str, value: u64| {
        format!(r#"{{"index": {index}, "value": {value}, "op": "{op}"}}"#)
    };
    // Conditions on different arguments must all hold; on one argument, any may.
    let profile = custom(&format!(
        r#"{{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{}, {}]}},
           {{"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{}, {}]}}"#,
        cond(0, "SCMP_CMP_EQ", 1),
        cond(1, "SCMP_CMP_EQ", 2),
        cond(0, "SCMP_CMP_EQ", 1),
        cond(0, "SCMP_CMP_EQ", 2),
    ));
    let calls = Calls::new(&profile, Host::X86_64, &[], KERNEL_6_1, Abi::X86_64);
    assert_eq!(calls.call("read", &[1, 2]), ALLOW);
    assert_eq!(calls.call("read", &[1, 3]), EPERM);
    assert_eq!(calls.call("write", &[1]), ALLOW);
    assert_eq!(calls.call("write", &[2]), ALLOW);
    assert_eq!(calls.call("write", &[3]), EPERM);

    // The first unconditional rule wins; a later one replaces conditional rules before it.
    let profile = custom(&format!(
        r#"{{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5}},
           {{"names": ["read"], "action": "SCMP_ACT_ALLOW"}},
           {{"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{}]}},
           {{"names": ["write"], "action": "SCMP_ACT_TRAP"}},
           {{"names": ["close"], "action": "SCMP_ACT_ALLOW", "args": [{}]}},
           {{"names": ["close"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9, "args": [{}]}}"#,
        cond(0, "SCMP_CMP_EQ", 1),
        cond(0, "SCMP_CMP_LT", 10),
        cond(0, "SCMP_CMP_LT", 20),
    ));
    let calls = Calls::new(&profile, Host::X86_64, &[], KERNEL_6_1, Abi::X86_64);
    assert_eq!(calls.call("read", &[]), 0x0005_0005);
    assert_eq!(calls.call("write", &[1]), 0x0003_0000);
    assert_eq!(calls.call("close", &[5]), ALLOW);
    assert_eq!(calls.call("close", &[15]), 0x0005_0009);
    assert_eq!(calls.call("close", &[25]), EPERM);

    // A rule with the default action is dropped (runc), so a later rule still counts.
    let profile = custom(
        r#"{"names": ["read"], "action": "SCMP_ACT_ERRNO"},
           {"names": ["read"], "action": "SCMP_ACT_LOG"}"#,
    );
    let calls = Calls::new(&profile, Host::X86_64, &[], KERNEL_6_1, Abi::X86_64);
    assert_eq!(calls.call("read", &[]), 0x7ffc_0000);
}

#[test]
fn actions_map_to_the_kernels_return_values() {
    let profile = custom(
        r#"{"names": ["read"], "action": "SCMP_ACT_KILL"},
           {"names": ["write"], "action": "SCMP_ACT_KILL_THREAD"},
           {"names": ["close"], "action": "SCMP_ACT_KILL_PROCESS"},
           {"names": ["openat"], "action": "SCMP_ACT_TRAP"},
           {"names": ["mmap"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
           {"name": "brk", "action": "SCMP_ACT_LOG"},
           {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0},
           {"names": ["no_such_syscall", "gettid"], "action": "SCMP_ACT_ALLOW"}"#,
    );
    let calls = Calls::new(&profile, Host::X86_64, &[], KERNEL_6_1, Abi::X86_64);
    let names = [
        "read", "write", "close", "openat", "mmap", "brk", "getpid", "gettid", "getuid",
    ];
    assert_eq!(
        calls
            .verdicts(&names)
            .into_iter()
            .map(|(_, v)| v)
            .collect::<Vec<_>>(),
        [
            0,
            0,
            KILL_PROCESS,
            0x0003_0000,
            0x7ff0_0007,
            0x7ffc_0000,
            0x0005_0000,
            ALLOW,
            EPERM
        ]
    );
}

#[test]
fn includes_and_excludes_follow_docker() {
    let profile = custom(
        r#"{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
           {"names": ["write"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"], "caps": ["CAP_A", "CAP_B"]}},
           {"names": ["close"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_A", "CAP_C"]}},
           {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
           {"names": ["gettid"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "6.2"}},
           {"names": ["getuid"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.10"}}"#,
    );
    let verdicts = |host: Host, abi: Abi, caps: &[&str]| {
        let calls = Calls::new(&profile, host, caps, KERNEL_6_1, abi);
        calls
            .verdicts(&["read", "write", "close", "getpid", "gettid", "getuid"])
            .into_iter()
            .map(|(_, v)| v == ALLOW)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        verdicts(Host::X86_64, Abi::X86_64, &["CAP_A"]),
        [false, false, false, false, true, true]
    );
    assert_eq!(
        verdicts(Host::X86_64, Abi::X86_64, &["CAP_A", "CAP_B"]),
        [false, true, false, false, true, true]
    );
    assert_eq!(
        verdicts(Host::X86_64, Abi::X86_64, &["CAP_B"]),
        [false, false, true, false, true, true]
    );
    // The host's architecture decides, for every ABI of the filter.
    assert_eq!(
        verdicts(Host::X86_64, Abi::I386, &["CAP_B"]),
        [false, false, true, false, true, true]
    );
    assert_eq!(
        verdicts(Host::Aarch64, Abi::Aarch64, &[]),
        [true, false, true, true, true, true]
    );
}

#[test]
fn only_listed_abis_get_through() {
    // Only x86-64: i386 and x32 calls are killed, but -1 (a tracer skipping a call) is not.
    let profile = Profile::parse(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_PPC"],
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    let calls = Calls::new(&profile, Host::X86_64, &[], KERNEL_6_1, Abi::X86_64);
    assert_eq!(calls.call("read", &[]), ALLOW);
    assert_eq!(calls.raw(X32_SYSCALL_BIT, &[]), KILL_PROCESS);
    assert_eq!(calls.raw(u32::MAX, &[]), EPERM);
    assert_eq!(
        run(&calls.program, Abi::I386.audit_arch(), 3, [0; 6]),
        KILL_PROCESS
    );
    // No architectures at all: the native one only.
    let native = Profile::parse(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
    let calls = Calls::new(&native, Host::Aarch64, &[], KERNEL_6_1, Abi::Aarch64);
    assert_eq!(calls.raw(63, &[]), ALLOW);
    assert_eq!(
        run(&calls.program, Abi::Arm.audit_arch(), 3, [0; 6]),
        KILL_PROCESS
    );
}

#[test]
fn long_programs_reach_far_targets() {
    // Enough conditional rules that jumps exceed the 255 instructions a conditional jump reaches.
    let names: Vec<&str> = SYSCALLS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| Abi::X86_64.syscall_number(name).is_some())
        .step_by(3)
        .collect();
    let rules: Vec<String> = names
        .iter()
        .map(|name| {
            format!(
                r#"{{"names": ["{name}"], "action": "SCMP_ACT_ALLOW", "args": [{{"index": 1, "value": 7, "op": "SCMP_CMP_NE"}}]}}"#
            )
        })
        .collect();
    let profile = custom(&rules.join(","));
    let calls = Calls::new(&profile, Host::X86_64, &[], KERNEL_6_1, Abi::X86_64);
    assert!(calls.program.len() > 1000, "{}", calls.program.len());
    assert!(calls.program.iter().any(|i| i.code == 0x05 && i.k > 255));
    for name in &names {
        assert_eq!(calls.call(name, &[0, 1]), ALLOW, "{name}");
        assert_eq!(calls.call(name, &[0, 7]), EPERM, "{name}");
    }
    // Past the kernel's limit, compiling fails instead.
    let conditions: Vec<String> = (0..6)
        .map(|index| format!(r#"{{"index": {index}, "value": 1, "op": "SCMP_CMP_GT"}}"#))
        .collect();
    let huge = custom(
        &names
            .iter()
            .map(|name| {
                format!(
                    r#"{{"names": ["{name}"], "action": "SCMP_ACT_ALLOW", "args": [{}]}}"#,
                    conditions.join(",")
                )
            })
            .collect::<Vec<_>>()
            .join(","),
    );
    let error = compile_program(&huge, &[], Host::X86_64, &Ok(KERNEL_6_1)).unwrap_err();
    assert!(matches!(error, SeccompError::TooLarge(_)), "{error}");
}

// ---- a real filter ---------------------------------------------------------------------------------

/// Set in the child process the installation test starts: the file it writes its result to.
const PROBE_ENV: &str = "HOIST_SECCOMP_PROBE_RESULT";

/// Installs Docker's default filter in a child process (this test binary again), which then checks
/// what the kernel does with it.
#[test]
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
))]
fn installed_default_filter_confines_the_process() {
    if let Some(result) = std::env::var_os(PROBE_ENV) {
        probe_under_the_default_filter(std::path::Path::new(&result));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result");
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "seccomp::tests::installed_default_filter_confines_the_process",
            "--test-threads=1",
        ])
        .env(PROBE_ENV, &result)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(std::fs::read_to_string(&result).unwrap(), "confined\n");
}

#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
))]
fn probe_under_the_default_filter(result: &std::path::Path) {
    use nix::errno::Errno;
    use nix::sys::personality::{self, Persona};
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

    let vsock = || {
        socket(
            AddressFamily::Vsock,
            SockType::Stream,
            SockFlag::empty(),
            None,
        )
        .map(drop)
    };
    // Before: these are not refused with EPERM (vsock may be missing from the kernel).
    assert_ne!(vsock(), Err(Errno::EPERM));
    assert!(personality::set(Persona::ADDR_NO_RANDOMIZE).is_ok());

    let filter = compile(&Profile::docker_default(), DOCKER_CAPS).unwrap();
    install(&filter).unwrap();

    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    assert!(status.contains("\nSeccomp:\t2\n"), "{status}");
    // Installed without no_new_privs, as Docker does (the test runs as root, with CAP_SYS_ADMIN).
    assert!(status.contains("\nNoNewPrivs:\t0\n"), "{status}");
    // Refused: all harmless had they succeeded (a private UTS namespace, paths that do not exist).
    assert_eq!(vsock(), Err(Errno::EPERM));
    assert_eq!(
        personality::set(Persona::ADDR_NO_RANDOMIZE).map(drop),
        Err(Errno::EPERM)
    );
    assert_eq!(
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS),
        Err(Errno::EPERM)
    );
    assert_eq!(
        nix::mount::umount2("/nonexistent-hoist-probe", nix::mount::MntFlags::empty()),
        Err(Errno::EPERM)
    );
    // Not in the profile at all.
    assert_eq!(
        nix::unistd::pivot_root("/nonexistent-hoist-a", "/nonexistent-hoist-b"),
        Err(Errno::EPERM)
    );
    // Allowed: ordinary calls, allowed argument values, and process and thread creation, which go
    // through clone3's ENOSYS to clone with flags the filter accepts.
    assert!(nix::unistd::getpid().as_raw() > 0);
    assert!(personality::get().is_ok());
    assert!(
        socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::empty(),
            None
        )
        .is_ok()
    );
    assert_eq!(std::thread::spawn(|| 7).join().unwrap(), 7);
    let child = std::process::Command::new("true").status().unwrap();
    assert!(child.success());
    std::fs::write(result, "confined\n").unwrap();
}
