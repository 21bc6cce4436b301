//! Seccomp confinement as Docker does it: Docker's default profile, profiles in Docker's JSON format
//! (`--security-opt seccomp=FILE`), their compilation into a BPF filter for this host (evaluating
//! rules against the container's capabilities, the architecture and the kernel version) and its
//! installation on the calling thread.
//!
//! The filter is generated here rather than by libseccomp (no C library to link); `seccompiler` gives
//! the instruction type. It is installed with one raw seccomp(2) call of ours ([`install`]), because
//! seccompiler's installer always sets no_new_privs, which Docker sets only when asked.

mod bpf;
mod docker_default;
mod profile;
mod table;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use profile::{
    Action, Arch, ArchMap, ArgCondition, KernelVersion, Op, Profile, Scope, SyscallRule,
};

/// What can go wrong reading, compiling or installing a seccomp profile, in Docker's and runc's words
/// where they have them.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// Not JSON, or not a profile; serde's text names the field or value and its line and column.
    #[error("Decoding seccomp profile failed: {0}")]
    Decode(#[source] serde_json::Error),
    #[error("opening seccomp profile ({}) failed: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "both 'architectures' and 'archMap' are specified in the seccomp profile, use either \
         'architectures' or 'archMap'"
    )]
    ArchitecturesAndArchMap,
    #[error(
        "both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'"
    )]
    NameAndNames,
    #[error("the seccomp profile has syscall rules but no defaultAction")]
    NoDefaultAction,
    #[error("empty string is not a valid syscall")]
    EmptySyscallName,
    #[error(
        "seccomp rule for {syscall}: argument index {index} is out of range (a syscall has arguments 0 to 5)"
    )]
    ArgIndex { syscall: String, index: u32 },
    #[error("seccomp rule for {syscall}: errnoRet {value} is out of range (0 to 65535)")]
    ErrnoOutOfRange { syscall: String, value: u32 },
    #[error("seccomp filters are not supported on {0}")]
    UnsupportedArchitecture(&'static str),
    #[error("failed to parse kernel version {release:?}")]
    KernelVersion { release: String },
    #[error("the seccomp filter has {0} instructions, more than the kernel's limit of 4096")]
    TooLarge(usize),
    #[error("compiling the seccomp filter: {0}")]
    Internal(&'static str),
    #[error("installing the seccomp filter: {0}")]
    Install(#[source] std::io::Error),
}

/// A compiled filter, ready to install. Empty when the profile is Docker's "no filter" form (no
/// default action and no rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    program: Option<Vec<seccompiler::sock_filter>>,
}

/// Compiles `profile` for this host and the running kernel, for a container whose capabilities
/// (bounding set, Docker's names such as `CAP_SYS_ADMIN`) are `capabilities`.
pub(crate) fn compile(profile: &Profile, capabilities: &[&str]) -> Result<Filter, SeccompError> {
    let host = bpf::Host::current().ok_or(SeccompError::UnsupportedArchitecture(
        std::env::consts::ARCH,
    ))?;
    let program = bpf::compile_program(profile, capabilities, host, &running_kernel())?;
    Ok(Filter { program })
}

/// Installs `filter` on the calling thread (and so on what it execs). An empty filter installs
/// nothing. no_new_privs is left as the caller set it: Docker sets it only for `--security-opt
/// no-new-privileges`, so without it the caller must still hold CAP_SYS_ADMIN.
pub(crate) fn install(filter: &Filter) -> Result<(), SeccompError> {
    match &filter.program {
        Some(program) => set_mode_filter(program).map_err(SeccompError::Install),
        None => Ok(()),
    }
}

/// seccomp(SECCOMP_SET_MODE_FILTER) on `program`. The one `unsafe` in hoist: neither nix nor rustix
/// wraps this call, and seccompiler's safe wrapper always sets no_new_privs, which would stop setuid
/// programs in every container where Docker lets them run.
#[allow(
    unsafe_code,
    reason = "a raw syscall no safe wrapper offers; see the function's comment"
)]
fn set_mode_filter(program: &[seccompiler::sock_filter]) -> std::io::Result<()> {
    let len = u16::try_from(program.len())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let fprog = libc::sock_fprog {
        len,
        // seccompiler's sock_filter is #[repr(C)] with the kernel's layout, as libc's is.
        filter: program.as_ptr().cast::<libc::sock_filter>().cast_mut(),
    };
    // SAFETY: `fprog` points at `len` initialised instructions that live until the call returns (the
    // kernel copies them); the other arguments are plain integers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &raw const fprog,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The running kernel's `<kernel>.<major>`, or its release string when that cannot be read so.
fn running_kernel() -> Result<KernelVersion, String> {
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    KernelVersion::from_release(&release).ok_or_else(|| release.into_owned())
}
