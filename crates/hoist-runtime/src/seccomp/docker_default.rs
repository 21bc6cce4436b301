//! Docker's default seccomp profile (moby's `profiles/seccomp`), as data: the same rules, written as
//! a list of always-allowed syscalls and the conditional groups (capabilities, architectures, kernel
//! version, argument values) that Docker's profile adds to it.

use super::profile::{
    Action, Arch, ArchMap, ArgCondition, KernelVersion, Op, Profile, Scope, SyscallRule,
};

/// Syscalls every container may make: the unprivileged kernel interface (files, memory, signals,
/// processes, sockets, timers, ...). Names missing on an architecture are skipped there.
const ALWAYS_ALLOWED: &str = "
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown
chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod
fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr
flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate
ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat
getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32
getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority
getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage
getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr
getxattrat inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl
io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup
io_submit ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown
lchown32 lgetxattr link linkat listen listmount listxattr listxattrat llistxattr _llseek
lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier memfd_create
memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect
mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock
munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2
pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv
recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat rename
renameat renameat2 restart_syscall riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending
rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32
setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4
sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statmount
statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create
timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64
timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times
tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat uretprobe utime utimensat
utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
";

/// Syscalls allowed when the container holds a capability, in the order of Docker's profile: these
/// two groups come before the rules for clone and clone3 without CAP_SYS_ADMIN, [`BY_CAPABILITY`]
/// after them.
const BY_ADMIN_CAPABILITY: &[(&str, &str)] = &[
    ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
    (
        "CAP_SYS_ADMIN",
        "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie \
         lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount \
         open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog \
         umount umount2 unshare",
    ),
];

/// The other capability-gated syscalls.
const BY_CAPABILITY: &[(&str, &str)] = &[
    ("CAP_SYS_BOOT", "reboot"),
    ("CAP_SYS_CHROOT", "chroot"),
    ("CAP_SYS_MODULE", "delete_module init_module finit_module"),
    ("CAP_SYS_PACCT", "acct"),
    (
        "CAP_SYS_PTRACE",
        "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
    ),
    ("CAP_SYS_RAWIO", "iopl ioperm"),
    (
        "CAP_SYS_TIME",
        "settimeofday stime clock_settime clock_settime64",
    ),
    ("CAP_SYS_TTY_CONFIG", "vhangup"),
    (
        "CAP_SYS_NICE",
        "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    ),
    ("CAP_SYSLOG", "syslog"),
    ("CAP_BPF", "bpf"),
    ("CAP_PERFMON", "perf_event_open"),
];

/// Architecture-specific syscalls, by the native architecture names (Go's) they are allowed on.
const BY_ARCHITECTURE: &[(&[&str], &str)] = &[
    (&["ppc64le"], "sync_file_range2 swapcontext"),
    (
        &["arm", "arm64"],
        "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
    ),
    (&["amd64", "x32"], "arch_prctl"),
    (&["amd64", "x32", "x86"], "modify_ldt"),
    (
        &["s390", "s390x"],
        "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr",
    ),
    (&["riscv64"], "riscv_flush_icache"),
];

/// `personality(2)` values a container may set: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
/// and 0xffffffff, which only queries.
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// Socket families refused to containers: AF_ALG (kernel crypto) and AF_VSOCK (host-guest sockets).
const AF_ALG: u64 = 38;
const AF_VSOCK: u64 = 40;

/// The namespace flags clone(2) may not carry without CAP_SYS_ADMIN: NEWNS, NEWCGROUP, NEWUTS, NEWIPC,
/// NEWUSER, NEWPID, NEWNET.
const CLONE_NAMESPACE_FLAGS: u64 =
    0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

fn rule(action: Action, names: &str) -> SyscallRule {
    SyscallRule {
        names: names.split_whitespace().map(str::to_owned).collect(),
        name: String::new(),
        action,
        errno_ret: None,
        args: Vec::new(),
        comment: String::new(),
        includes: Scope::default(),
        excludes: Scope::default(),
    }
}

fn allow(names: &str) -> SyscallRule {
    rule(Action::Allow, names)
}

fn compare(index: u32, op: Op, value: u64) -> ArgCondition {
    ArgCondition {
        index,
        value,
        value_two: 0,
        op,
    }
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|item| (*item).to_owned()).collect()
}

impl Profile {
    /// Docker's default profile: everything not allowed fails with EPERM; capability-gated groups
    /// follow the container's capabilities when the profile is compiled.
    pub fn docker_default() -> Profile {
        let mut syscalls = vec![allow(ALWAYS_ALLOWED)];
        // Unprivileged ptrace became safe to allow with the kernel's 4.8 seccomp/ptrace fix.
        let mut ptrace = allow("process_vm_readv process_vm_writev ptrace");
        ptrace.includes.min_kernel = Some(KernelVersion {
            kernel: 4,
            major: 8,
        });
        syscalls.push(ptrace);
        // Every socket family but AF_ALG and AF_VSOCK: below the first, the one between, above the second.
        for (op, value) in [
            (Op::LessThan, AF_ALG),
            (Op::EqualTo, AF_ALG + 1),
            (Op::GreaterThan, AF_VSOCK),
        ] {
            let mut socket = allow("socket");
            socket.args.push(compare(0, op, value));
            syscalls.push(socket);
        }
        for persona in PERSONALITIES {
            let mut personality = allow("personality");
            personality.args.push(compare(0, Op::EqualTo, *persona));
            syscalls.push(personality);
        }
        for (arches, names) in BY_ARCHITECTURE {
            let mut group = allow(names);
            group.includes.arches = owned(arches);
            syscalls.push(group);
        }
        for (cap, names) in BY_ADMIN_CAPABILITY {
            let mut group = allow(names);
            group.includes.caps = owned(&[cap]);
            syscalls.push(group);
        }
        // Without CAP_SYS_ADMIN, clone may not create namespaces (its flags are the second argument
        // on s390).
        let masked = ArgCondition {
            index: 0,
            value: CLONE_NAMESPACE_FLAGS,
            value_two: 0,
            op: Op::MaskedEqual,
        };
        let mut clone = allow("clone");
        clone.args.push(masked);
        clone.excludes.caps = owned(&["CAP_SYS_ADMIN"]);
        clone.excludes.arches = owned(&["s390", "s390x"]);
        syscalls.push(clone);
        let mut clone_s390 = allow("clone");
        clone_s390.args.push(ArgCondition { index: 1, ..masked });
        clone_s390.comment = "s390 passes clone's flags second".into();
        clone_s390.includes.arches = owned(&["s390", "s390x"]);
        clone_s390.excludes.caps = owned(&["CAP_SYS_ADMIN"]);
        syscalls.push(clone_s390);
        // clone3 passes its flags in memory, out of a filter's reach: without CAP_SYS_ADMIN it answers
        // ENOSYS so that libc falls back to clone, whose flags are checked.
        let mut clone3 = rule(Action::Errno, "clone3");
        clone3.errno_ret = Some(ENOSYS);
        clone3.excludes.caps = owned(&["CAP_SYS_ADMIN"]);
        syscalls.push(clone3);
        for (cap, names) in BY_CAPABILITY {
            let mut group = allow(names);
            group.includes.caps = owned(&[cap]);
            syscalls.push(group);
        }
        let arch_map = |architecture: Arch, subs: &[Arch]| ArchMap {
            architecture,
            sub_architectures: subs.to_vec(),
        };
        Profile {
            default_action: Some(Action::Errno),
            default_errno_ret: Some(EPERM),
            architectures: Vec::new(),
            arch_map: vec![
                arch_map(Arch::X86_64, &[Arch::X86, Arch::X32]),
                arch_map(Arch::Aarch64, &[Arch::Arm]),
                arch_map(Arch::Mips64, &[Arch::Mips, Arch::Mips64N32]),
                arch_map(Arch::Mips64N32, &[Arch::Mips, Arch::Mips64]),
                arch_map(Arch::Mipsel64, &[Arch::Mipsel, Arch::Mipsel64N32]),
                arch_map(Arch::Mipsel64N32, &[Arch::Mipsel, Arch::Mipsel64]),
                arch_map(Arch::S390X, &[Arch::S390]),
                arch_map(Arch::Riscv64, &[]),
                arch_map(Arch::Loongarch64, &[]),
            ],
            syscalls,
        }
    }
}
