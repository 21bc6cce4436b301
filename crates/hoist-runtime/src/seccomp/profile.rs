//! Docker's seccomp profile format (`--security-opt seccomp=FILE`, moby's `default.json`): the JSON
//! model, its parsing with errors that say what is wrong and where, and the checks Docker and runc
//! make before a profile is used.

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::SeccompError;

/// A seccomp profile in Docker's JSON format. A rule's `includes` and `excludes` are evaluated when
/// the profile is compiled, for the container's capabilities and the host's architecture and kernel.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// What happens to a syscall no rule matches. `None` (absent or `""`) only makes sense with no
    /// rules either: Docker reads such a profile as "no filter".
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_action: Option<Action>,
    /// The errno of an `SCMP_ACT_ERRNO` (or the message of an `SCMP_ACT_TRACE`) default action;
    /// EPERM when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// The ABIs the filter lets through besides the native one (all others are killed).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub architectures: Vec<Arch>,
    /// Per native architecture, the ABIs it also runs (x86-64: i386 and x32); the alternative to
    /// `architectures` that lets one profile serve every host.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arch_map: Vec<ArchMap>,
    /// The rules, in order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub syscalls: Vec<SyscallRule>,
}

/// One `archMap` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    /// The native architecture the entry is for.
    pub architecture: Arch,
    /// The other ABIs a host of that architecture runs.
    #[serde(default, deserialize_with = "null_as_default")]
    pub sub_architectures: Vec<Arch>,
}

/// One entry of `syscalls`: an action for some syscalls, optionally only when arguments match and
/// only for some capabilities, architectures or kernels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    /// The syscalls the rule is for; names unknown on an architecture are skipped there.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub names: Vec<String>,
    /// The older single-name form; a rule has this or `names`, not both.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// What a matching call gets.
    pub action: Action,
    /// The errno of an `SCMP_ACT_ERRNO` (the message of an `SCMP_ACT_TRACE`); EPERM when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Conditions on the arguments, all of which must hold; several conditions on the same argument
    /// are alternatives instead (runc makes each a rule of its own).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub args: Vec<ArgCondition>,
    /// Free text, ignored.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// The rule applies only when all of these hold.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Scope::is_empty"
    )]
    pub includes: Scope,
    /// The rule does not apply when any of these holds.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Scope::is_empty"
    )]
    pub excludes: Scope,
}

impl SyscallRule {
    /// The syscall names of the rule, from `name` or `names`.
    pub fn syscall_names(&self) -> Vec<&str> {
        if self.name.is_empty() {
            self.names.iter().map(String::as_str).collect()
        } else {
            vec![self.name.as_str()]
        }
    }
}

/// A comparison of one syscall argument with `value` (with `MASKED_EQ`: `arg & value == valueTwo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgCondition {
    /// Which argument, 0-5.
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub value: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value_two: u64,
    pub op: Op,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The conditions of `includes` and `excludes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    /// Capability names (`CAP_SYS_ADMIN`), matched against the container's.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub caps: Vec<String>,
    /// Native architecture names as Go and libseccomp spell them (`amd64`, `arm64`, `x86`, ...),
    /// matched against the host's.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arches: Vec<String>,
    /// A kernel version (`"4.8"`), compared with the running kernel's.
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_kernel: Option<KernelVersion>,
}

impl Scope {
    /// Whether there is no condition at all (the rule applies everywhere).
    pub fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}

/// A kernel version reduced to what profiles compare: `4.8` for `4.8.0-rc1-generic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion {
    pub kernel: u64,
    pub major: u64,
}

impl KernelVersion {
    /// The leading `<kernel>.<major>` of a release string such as uname's (`6.1.0-18-amd64`).
    pub(super) fn from_release(release: &str) -> Option<KernelVersion> {
        let mut parts = release.splitn(3, '.');
        let number = |part: Option<&str>| -> Option<u64> {
            let part = part?;
            let end = part
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(part.len());
            part.get(..end)?.parse().ok()
        };
        Some(KernelVersion {
            kernel: number(parts.next())?,
            major: number(parts.next())?,
        })
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kernel, self.major)
    }
}

impl std::str::FromStr for KernelVersion {
    type Err = String;

    /// Docker's rules: exactly `<kernel>.<major>`, each 0-255, not both 0.
    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = |why: &str| {
            format!("invalid kernel version: {text:?}, expected \"<kernel>.<major>\"{why}")
        };
        let (kernel, major) = text.split_once('.').ok_or_else(|| invalid(""))?;
        let part = |p: &str| {
            p.parse::<u8>()
                .map(u64::from)
                .map_err(|_| invalid(": each part is a number from 0 to 255"))
        };
        let version = KernelVersion {
            kernel: part(kernel)?,
            major: part(major)?,
        };
        if version.kernel == 0 && version.major == 0 {
            return Err(invalid(": version cannot be 0.0"));
        }
        Ok(version)
    }
}

impl Serialize for KernelVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KernelVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// Defines a string-valued enum with its JSON spelling and an error that lists the valid values.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in the order the format documents them.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The name the JSON format uses.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        concat!("unknown ", $what, " {:?} (expected one of {})"),
                        text,
                        $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(de::Error::custom)
            }
        }
    };
}

named_enum! {
    /// What the filter does with a matching syscall.
    Action, "seccomp action" {
        Allow = "SCMP_ACT_ALLOW",
        /// Fail with `errnoRet` (EPERM when absent).
        Errno = "SCMP_ACT_ERRNO",
        /// Kill the calling thread (libseccomp's old name for `SCMP_ACT_KILL_THREAD`).
        Kill = "SCMP_ACT_KILL",
        KillProcess = "SCMP_ACT_KILL_PROCESS",
        KillThread = "SCMP_ACT_KILL_THREAD",
        /// Send SIGSYS.
        Trap = "SCMP_ACT_TRAP",
        /// Notify a ptrace tracer (with `errnoRet` as the message); ENOSYS without one.
        Trace = "SCMP_ACT_TRACE",
        /// Allow and log.
        Log = "SCMP_ACT_LOG",
    }
}

named_enum! {
    /// How an argument is compared.
    Op, "seccomp comparison operator" {
        NotEqual = "SCMP_CMP_NE",
        LessThan = "SCMP_CMP_LT",
        LessOrEqual = "SCMP_CMP_LE",
        EqualTo = "SCMP_CMP_EQ",
        GreaterOrEqual = "SCMP_CMP_GE",
        GreaterThan = "SCMP_CMP_GT",
        /// `arg & value == valueTwo`.
        MaskedEqual = "SCMP_CMP_MASKED_EQ",
    }
}

named_enum! {
    /// An ABI as libseccomp names it.
    Arch, "seccomp architecture" {
        X86 = "SCMP_ARCH_X86",
        X86_64 = "SCMP_ARCH_X86_64",
        X32 = "SCMP_ARCH_X32",
        Arm = "SCMP_ARCH_ARM",
        Aarch64 = "SCMP_ARCH_AARCH64",
        Mips = "SCMP_ARCH_MIPS",
        Mips64 = "SCMP_ARCH_MIPS64",
        Mips64N32 = "SCMP_ARCH_MIPS64N32",
        Mipsel = "SCMP_ARCH_MIPSEL",
        Mipsel64 = "SCMP_ARCH_MIPSEL64",
        Mipsel64N32 = "SCMP_ARCH_MIPSEL64N32",
        Ppc = "SCMP_ARCH_PPC",
        Ppc64 = "SCMP_ARCH_PPC64",
        Ppc64Le = "SCMP_ARCH_PPC64LE",
        S390 = "SCMP_ARCH_S390",
        S390X = "SCMP_ARCH_S390X",
        Parisc = "SCMP_ARCH_PARISC",
        Parisc64 = "SCMP_ARCH_PARISC64",
        Riscv64 = "SCMP_ARCH_RISCV64",
        Loongarch64 = "SCMP_ARCH_LOONGARCH64",
        M68k = "SCMP_ARCH_M68K",
        Sh = "SCMP_ARCH_SH",
        Sheb = "SCMP_ARCH_SHEB",
    }
}

/// Go's encoding/json reads `null` as an empty list or struct; so does this.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Docker writes an unset action or kernel version as `""` (or leaves it out, or `null`).
fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr<Err = String>,
{
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => text.parse().map(Some).map_err(de::Error::custom),
    }
}

/// The largest errno or trace message the kernel can return (`SECCOMP_RET_DATA`).
const MAX_RET_DATA: u32 = 0xffff;

impl Profile {
    /// Parses a profile in Docker's JSON format and checks it as Docker and runc would before use.
    pub fn parse(json: &str) -> Result<Profile, SeccompError> {
        let profile: Profile = serde_json::from_str(json).map_err(SeccompError::Decode)?;
        profile.validate()?;
        Ok(profile)
    }

    /// Reads and parses a profile file, as `--security-opt seccomp=FILE` does.
    pub fn from_file(path: &Path) -> Result<Profile, SeccompError> {
        let json = std::fs::read_to_string(path).map_err(|source| SeccompError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Profile::parse(&json)
    }

    /// Whether this is the form Docker reads as "no filter": no default action and no rules.
    pub fn is_disabled(&self) -> bool {
        self.default_action.is_none() && self.syscalls.is_empty()
    }

    /// The checks [`Profile::parse`] makes, for a profile built or deserialized some other way.
    pub fn validate(&self) -> Result<(), SeccompError> {
        if !self.architectures.is_empty() && !self.arch_map.is_empty() {
            return Err(SeccompError::ArchitecturesAndArchMap);
        }
        if self.default_action.is_none() && !self.syscalls.is_empty() {
            return Err(SeccompError::NoDefaultAction);
        }
        if let Some(value) = self.default_errno_ret.filter(|v| *v > MAX_RET_DATA) {
            return Err(SeccompError::ErrnoOutOfRange {
                syscall: "the default action".into(),
                value,
            });
        }
        for rule in &self.syscalls {
            if !rule.name.is_empty() && !rule.names.is_empty() {
                return Err(SeccompError::NameAndNames);
            }
            let names = rule.syscall_names();
            let label = || names.join(", ");
            if names.iter().any(|name| name.is_empty()) {
                return Err(SeccompError::EmptySyscallName);
            }
            if let Some(value) = rule.errno_ret.filter(|v| *v > MAX_RET_DATA) {
                return Err(SeccompError::ErrnoOutOfRange {
                    syscall: label(),
                    value,
                });
            }
            if let Some(arg) = rule.args.iter().find(|arg| arg.index > 5) {
                return Err(SeccompError::ArgIndex {
                    syscall: label(),
                    index: arg.index,
                });
            }
        }
        Ok(())
    }
}
