//! Runs a process in a container: new namespaces, optional cgroup limits, an overlay or bind-mounted root
//! with /proc, /sys and a minimal /dev, bind mounts, pivot_root, user and groups from the root's own
//! /etc/passwd and /etc/group, and exec with Docker's error wording and exit codes.
//!
//! The work happens in two re-executed stages of the caller's binary (so each starts single-threaded,
//! without `fork` or `pre_exec`): [`start`] spawns `exe __init <spec> <report-fd>` (stage 1, the monitor:
//! cgroup, `unshare`, signal forwarding, reaping), which spawns `/proc/self/exe __init-child ...`
//! (stage 2, PID 1 of the new PID namespace: mounts, identity, exec). The binary's `main` must hand
//! those two subcommands to [`init_main`] before doing anything else.

pub mod capabilities;
mod cgroup;
pub use cgroup::freeze;
mod command;
mod error;
mod init;
mod launch;
mod netlink;
mod rootfs;
pub mod seccomp;
mod slirp;
mod spec;
mod users;

pub use error::{RuntimeError, StartFailure, io_error_text};
pub use init::{INIT_CHILD_SUBCOMMAND, INIT_SUBCOMMAND, init_main, is_init_subcommand};
pub use launch::{
    ExitStatus, Pty, RunningContainer, Stdio3, open_pty, parse_signal, send_signal, start,
};
pub use spec::{
    BindMount, Confinement, ContainerSpec, CpuQuota, Device, NetworkMode, PortForward, Rootfs,
    SeccompPolicy, SlirpNetwork, TmpfsMount, Ulimit,
};
