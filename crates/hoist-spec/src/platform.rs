//! Platforms (`os/arch[/variant]`): parsing, normalisation (`aarch64` = `arm64` = `arm64/v8`) and host matching.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An image platform as the OCI image index describes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// Why a platform string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error("invalid platform {0:?}: expected os[/arch[/variant]]")]
    Malformed(String),
    #[error("invalid platform {input:?}: unknown operating system or architecture {part:?}")]
    Unknown { input: String, part: String },
}

const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "illumos",
    "ios",
    "js",
    "linux",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
];
const KNOWN_ARCH: &[&str] = &[
    "386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64",
    "ppc64le", "riscv64", "s390x", "wasm",
];

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Self {
            architecture: architecture.to_owned(),
            os: os.to_owned(),
            os_version: None,
            os_features: Vec::new(),
            variant: variant.map(str::to_owned),
        }
        .normalized()
    }

    /// The platform this program runs on, in Go's names.
    pub fn host() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "riscv64" => "riscv64",
            "s390x" => "s390x",
            other => other,
        };
        let variant = (arch == "arm").then_some("v7");
        Self::new(std::env::consts::OS, arch, variant)
    }

    /// Parses `linux/arm64/v8`, `linux/amd64`, `arm64` or `linux` as containerd's `platforms.Parse` does.
    pub fn parse(s: &str) -> Result<Self, PlatformError> {
        let lower = s.to_lowercase();
        let parts: Vec<&str> = lower.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) || parts.len() > 3 {
            return Err(PlatformError::Malformed(s.to_owned()));
        }
        let unknown = |part: &str| PlatformError::Unknown {
            input: s.to_owned(),
            part: part.to_owned(),
        };
        let host = Self::host();
        let platform = match parts.as_slice() {
            [one] => {
                if KNOWN_OS.contains(one) {
                    Self::new(one, &host.architecture, host.variant.as_deref())
                } else {
                    let (arch, variant) = normalize_arch(one, "");
                    if !KNOWN_ARCH.contains(&arch.as_str()) {
                        return Err(unknown(one));
                    }
                    Self::new(&host.os, &arch, variant.as_deref())
                }
            }
            [os, arch] => Self::new(os, arch, None),
            [os, arch, variant] => Self::new(os, arch, Some(variant)),
            _ => return Err(PlatformError::Malformed(s.to_owned())),
        };
        if !KNOWN_OS.contains(&platform.os.as_str()) {
            return Err(unknown(&platform.os));
        }
        if !KNOWN_ARCH.contains(&platform.architecture.as_str()) {
            return Err(unknown(&platform.architecture));
        }
        Ok(platform)
    }

    /// The canonical form: Go architecture names and containerd's default variants.
    #[must_use]
    pub fn normalized(mut self) -> Self {
        self.os = self.os.to_lowercase();
        if self.os == "macos" {
            "darwin".clone_into(&mut self.os);
        }
        let (arch, variant) =
            normalize_arch(&self.architecture, self.variant.as_deref().unwrap_or(""));
        self.architecture = arch;
        self.variant = variant;
        self
    }

    /// Whether an image for `self` runs on `wanted` (exact after normalisation; arm variants run on newer ones).
    pub fn satisfies(&self, wanted: &Platform) -> bool {
        let have = self.clone().normalized();
        let want = wanted.clone().normalized();
        if have.os != want.os || have.architecture != want.architecture {
            return false;
        }
        match (have.variant.as_deref(), want.variant.as_deref()) {
            (a, b) if a == b => true,
            (None, _) => true,
            (Some(a), Some(b)) if have.architecture == "arm" => arm_level(a) <= arm_level(b),
            _ => false,
        }
    }
}

fn arm_level(variant: &str) -> u32 {
    variant.trim_start_matches('v').parse().unwrap_or(u32::MAX)
}

fn normalize_arch(arch: &str, variant: &str) -> (String, Option<String>) {
    let arch = arch.to_lowercase();
    let variant = variant.to_lowercase();
    let (a, v): (&str, &str) = match arch.as_str() {
        "i386" => ("386", ""),
        "x86_64" | "x86-64" | "amd64" => ("amd64", if variant == "v1" { "" } else { &variant }),
        "aarch64" | "arm64" => (
            "arm64",
            if matches!(variant.as_str(), "8" | "v8" | "v8.0") {
                ""
            } else {
                &variant
            },
        ),
        "armhf" => ("arm", "v7"),
        "armel" => ("arm", "v6"),
        "arm" => (
            "arm",
            match variant.as_str() {
                "" | "7" => "v7",
                "5" | "6" | "8" => return ("arm".to_owned(), Some(format!("v{variant}"))),
                _ => &variant,
            },
        ),
        other => (other, &variant),
    };
    (a.to_owned(), (!v.is_empty()).then(|| v.to_owned()))
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let p = |s| {
            Platform::parse(s)
                .map(|p| p.to_string())
                .unwrap_or_else(|e| format!("error: {e}"))
        };
        assert_eq!(p("linux/amd64"), "linux/amd64");
        assert_eq!(p("linux/x86_64"), "linux/amd64");
        assert_eq!(p("linux/arm64/v8"), "linux/arm64");
        assert_eq!(p("linux/aarch64"), "linux/arm64");
        assert_eq!(p("linux/arm"), "linux/arm/v7");
        assert_eq!(p("linux/arm/v6"), "linux/arm/v6");
        assert_eq!(p("linux/armhf"), "linux/arm/v7");
        assert_eq!(p("Linux/ARM64"), "linux/arm64");
        assert!(p("linux//amd64").starts_with("error"));
        assert!(p("linux/amd64/v2/x").starts_with("error"));
        assert!(p("plan10/amd64").starts_with("error"));
        assert!(p("linux/sparc").starts_with("error"));
    }

    #[test]
    fn matching() {
        let arm64 = Platform::parse("linux/arm64/v8").unwrap();
        assert!(Platform::new("linux", "arm64", None).satisfies(&arm64));
        assert!(!Platform::new("linux", "amd64", None).satisfies(&arm64));
        let v7 = Platform::parse("linux/arm/v7").unwrap();
        assert!(Platform::new("linux", "arm", Some("v6")).satisfies(&v7));
        assert!(
            !Platform::new("linux", "arm", Some("v7"))
                .satisfies(&Platform::parse("linux/arm/v6").unwrap())
        );
        assert!(
            !Platform::new("windows", "amd64", None)
                .satisfies(&Platform::new("linux", "amd64", None))
        );
    }
}
