//! Paths inside a layer, normalised lexically: relative to the layer root, without `.`, `..` or empty parts.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use crate::error::PathProblem;

/// A normalised path inside a layer. The empty path is the layer root.
///
/// Parsing resolves `.` and `..` lexically, as Docker's `filepath.Clean` does, so `a/../b` is `b`; a `..`
/// that would climb above the root is refused rather than clamped, because no honest tar writer emits one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct LayerPath(PathBuf);

impl LayerPath {
    pub fn root() -> Self {
        Self(PathBuf::new())
    }

    /// Normalises a path as written in a tar entry. Leading `./` (as Docker writes) and trailing `/` (on
    /// directories) are accepted; a leading `/` or a `..` above the root is not.
    pub fn parse(raw: &Path) -> Result<Self, PathProblem> {
        let mut normal = PathBuf::new();
        for component in raw.components() {
            match component {
                Component::RootDir | Component::Prefix(_) => return Err(PathProblem::Absolute),
                Component::CurDir => {}
                Component::ParentDir => {
                    if !normal.pop() {
                        return Err(PathProblem::EscapesRoot);
                    }
                }
                Component::Normal(part) => normal.push(part),
            }
        }
        Ok(Self(normal))
    }

    pub fn as_path(&self) -> &Path {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.as_os_str().is_empty()
    }

    /// The parent directory; the root's parent is the root.
    pub fn parent(&self) -> LayerPath {
        Self(self.0.parent().map(Path::to_path_buf).unwrap_or_default())
    }

    /// The last component; `None` for the root.
    pub fn file_name(&self) -> Option<&OsStr> {
        self.0.file_name()
    }

    /// This path with one more component. `name` must be a single normal component (no `/`, not `.` or
    /// `..`); callers check that, since it comes from a parsed path.
    pub(crate) fn child(&self, name: &OsStr) -> LayerPath {
        Self(self.0.join(name))
    }

    /// Whether `other` is this path or lies below it.
    pub fn starts_with(&self, other: &LayerPath) -> bool {
        self.0.starts_with(&other.0)
    }

    /// The proper ancestors, nearest first, excluding the root.
    pub(crate) fn proper_ancestors(&self) -> impl Iterator<Item = &Path> {
        self.0
            .ancestors()
            .skip(1)
            .filter(|p| !p.as_os_str().is_empty())
    }
}

impl fmt::Display for LayerPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            f.write_str(".")
        } else {
            write!(f, "{}", self.0.display())
        }
    }
}

impl fmt::Debug for LayerPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LayerPath({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<String, PathProblem> {
        LayerPath::parse(Path::new(raw)).map(|p| p.to_string())
    }

    #[test]
    fn normalises_the_forms_docker_layers_use() {
        assert_eq!(parse("./etc/passwd").unwrap(), "etc/passwd");
        assert_eq!(parse("etc/").unwrap(), "etc");
        assert_eq!(parse("./").unwrap(), ".");
        assert_eq!(parse("").unwrap(), ".");
        assert_eq!(parse("a//b/./c").unwrap(), "a/b/c");
        assert_eq!(parse("a/../b").unwrap(), "b");
        assert_eq!(parse("a/b/..").unwrap(), "a");
    }

    #[test]
    fn refuses_absolute_and_escaping_paths() {
        assert_eq!(parse("/etc/passwd"), Err(PathProblem::Absolute));
        assert_eq!(parse("//etc"), Err(PathProblem::Absolute));
        assert_eq!(parse("../etc/passwd"), Err(PathProblem::EscapesRoot));
        assert_eq!(parse("./../x"), Err(PathProblem::EscapesRoot));
        assert_eq!(parse("a/../../x"), Err(PathProblem::EscapesRoot));
        assert_eq!(parse(".."), Err(PathProblem::EscapesRoot));
        // Climbing back down after escaping does not make it safe.
        assert_eq!(parse("a/../../a/b"), Err(PathProblem::EscapesRoot));
    }

    #[test]
    fn parent_name_and_ancestors() {
        let p = LayerPath::parse(Path::new("usr/lib/x.so")).unwrap();
        assert_eq!(p.parent().to_string(), "usr/lib");
        assert_eq!(p.file_name(), Some(OsStr::new("x.so")));
        let ancestors: Vec<_> = p
            .proper_ancestors()
            .map(|a| a.display().to_string())
            .collect();
        assert_eq!(ancestors, ["usr/lib", "usr"]);
        assert!(LayerPath::root().parent().is_root());
        assert!(p.starts_with(&LayerPath::parse(Path::new("usr")).unwrap()));
        assert!(!p.starts_with(&LayerPath::parse(Path::new("us")).unwrap()));
    }
}
