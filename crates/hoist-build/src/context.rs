//! The build context: where it comes from (a directory used in place, a tar, a Git repository, an HTTP
//! download, nothing), its Dockerfile and `.dockerignore`, and what COPY/ADD see of it.
//!
//! Paths in this API are relative to the context root, `/`-separated, with `.` for the root itself.
//! Everything a `.dockerignore` excludes is treated as absent, as if the context had been sent to a
//! daemon: excluded files are never found, walked or hashed, and an excluded directory is only looked
//! into when an exception (`!`) may re-include something below it (fsutil's rule, see
//! [`IgnorePatterns::may_reinclude_under`]). Symbolic links are resolved *inside* the root, as if the
//! root were `/`, so no path given to this API leads out of the context.

mod source;
mod tree;

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hoist_dockerfile::ignore::{IgnoreError, IgnorePatterns, clean_path};
use hoist_layer::LayerError;
use hoist_spec::Digest;

pub use source::{GitRemote, is_git_url, is_url};

/// Where the build context comes from (the `PATH | URL | -` argument of `docker build`).
pub enum ContextSource {
    /// A local directory, used in place.
    Directory(PathBuf),
    /// A tar stream (plain, gzip, bzip2, xz or zstd), as `docker build - < context.tar`. A stream that is
    /// not an archive is a Dockerfile, as Docker reads `docker build - < Dockerfile`: the context is then
    /// empty.
    Tar(Box<dyn Read + Send>),
    /// A Git repository URL with Docker's `#ref:subdir` fragment.
    Git(String),
    /// A git repository cloned with its `.git` directory kept (`ADD --keep-git-dir`).
    GitKeepingDir(String),
    /// An HTTP(S) URL of a tar (or of a plain Dockerfile).
    Http(String),
    /// No context at all (the Dockerfile comes from elsewhere, e.g. `-f -`).
    Empty,
}

impl ContextSource {
    /// Classifies the context argument as the docker CLI does, except `-` (stdin), which the caller turns
    /// into [`ContextSource::Tar`]: an existing directory, else a Git URL ([`is_git_url`]), else an HTTP(S)
    /// URL, else a directory (that [`BuildContext::open`] will report missing).
    pub fn from_argument(argument: &str) -> Self {
        if Path::new(argument).is_dir() {
            Self::Directory(PathBuf::from(argument))
        } else if is_git_url(argument) {
            Self::Git(argument.to_owned())
        } else if is_url(argument) {
            Self::Http(argument.to_owned())
        } else {
            Self::Directory(PathBuf::from(argument))
        }
    }
}

impl fmt::Debug for ContextSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Directory(path) => f.debug_tuple("Directory").field(path).finish(),
            Self::Tar(_) => f
                .debug_tuple("Tar")
                .field(&format_args!("<reader>"))
                .finish(),
            Self::Git(url) => f.debug_tuple("Git").field(url).finish(),
            Self::GitKeepingDir(url) => f.debug_tuple("GitKeepingDir").field(url).finish(),
            Self::Http(url) => f.debug_tuple("Http").field(url).finish(),
            Self::Empty => f.write_str("Empty"),
        }
    }
}

/// What went wrong opening or reading the build context. Each variant names the path or URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The context directory does not exist (docker CLI wording).
    #[error("unable to prepare context: path {path:?} not found")]
    DirectoryNotFound { path: PathBuf },
    /// The context path is not a directory (docker CLI wording).
    #[error("unable to prepare context: context must be a directory: {}", path.display())]
    NotADirectory { path: PathBuf },
    /// The scratch directory for temporary contexts cannot be used.
    #[error("unable to prepare context: creating a temporary directory in {}: {source}", path.display())]
    Scratch {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Reading the context stream failed.
    #[error("unable to prepare context: reading the {what}: {source}")]
    ReadStream {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The context archive is corrupt or unsafe (an entry with `..` or an absolute path, a link out of the
    /// tree): nothing of it is used.
    #[error("unable to prepare context: unpacking the {what}: {source}")]
    Archive {
        what: String,
        #[source]
        source: LayerError,
    },
    /// A Git URL Docker refuses (e.g. a ref starting with `-`).
    #[error("unable to prepare context: invalid git URL {url:?}: {reason}")]
    InvalidGitUrl { url: String, reason: String },
    /// Cloning or checking out failed; `message` carries git's own output.
    #[error(
        "unable to prepare context: unable to 'git clone' to temporary context directory: {message}"
    )]
    Git { url: String, message: String },
    /// The `:subdir` of a Git URL is missing, not a directory or outside the repository.
    #[error("unable to prepare context: error setting git context of {url}: {message}")]
    GitSubdir { url: String, message: String },
    /// The download of a remote context failed.
    #[error("unable to prepare context: unable to download remote context {url}: {message}")]
    Http { url: String, message: String },
    /// The Dockerfile does not exist (BuildKit: `failed to read dockerfile: open Dockerfile: no such file
    /// or directory`; the builder adds `failed to solve: ` as for every solve error).
    #[error("failed to read dockerfile: open {name}: no such file or directory")]
    DockerfileNotFound { name: String },
    /// The Dockerfile exists but cannot be read (a directory, permissions).
    #[error("failed to read dockerfile: read {name}: {source}")]
    DockerfileRead {
        name: String,
        #[source]
        source: io::Error,
    },
    /// A relative Dockerfile name that leaves the context (`../Dockerfile`); pass an absolute path instead.
    #[error("failed to read dockerfile: {name:?} is outside the build context")]
    DockerfileOutside { name: String },
    /// The `.dockerignore` exists but cannot be read.
    #[error("failed to read {}: {source}", path.display())]
    IgnoreRead {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The `.dockerignore` has a bad pattern.
    #[error("{}: {source}", path.display())]
    Ignore {
        path: PathBuf,
        #[source]
        source: IgnoreError,
    },
    /// A COPY/ADD source that matches nothing in the context (BuildKit: `failed to calculate checksum of
    /// ref ...: "/missing": not found`).
    #[error("\"/{}\": not found", path.trim_start_matches('/'))]
    NotFound { path: String },
    /// A COPY/ADD source pattern `filepath.Match` rejects.
    #[error("invalid source pattern {pattern:?}: {source}")]
    BadPattern {
        pattern: String,
        #[source]
        source: IgnoreError,
    },
    /// Too many symbolic links while resolving a path.
    #[error("{path:?}: too many levels of symbolic links")]
    SymlinkLoop { path: String },
    /// A file name or link target in the context that is not UTF-8.
    #[error("{}: file name or link target is not valid UTF-8", path.display())]
    NonUtf8 { path: PathBuf },
    /// An I/O error on a path inside the context.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// An opened build context. Temporary directories it made (unpacked tars, clones, downloads) are removed
/// when it is dropped.
pub struct BuildContext {
    /// The context directory (for Git, the `:subdir` inside the clone).
    root: PathBuf,
    /// What the context was opened from, for messages.
    origin: String,
    /// The Dockerfile text when the source was a Dockerfile rather than an archive.
    dockerfile_text: Option<Vec<u8>>,
    ignore: IgnorePatterns,
    ignore_file: Option<PathBuf>,
    /// Digests of paths (after symlink resolution) already hashed, valid while the patterns stay the same.
    digests: Mutex<HashMap<String, [u8; 32]>>,
    /// Dropped last: the tree the root lives in, when hoist made it.
    _temp: Option<tempfile::TempDir>,
}

impl fmt::Debug for BuildContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuildContext")
            .field("root", &self.root)
            .field("origin", &self.origin)
            .field(
                "dockerfile_text",
                &self.dockerfile_text.as_ref().map(Vec::len),
            )
            .field("ignore_patterns", &self.ignore.len())
            .field("ignore_file", &self.ignore_file)
            .finish_non_exhaustive()
    }
}

/// The name BuildKit looks for when none is given, and the one it tries next.
const DEFAULT_DOCKERFILE: &str = "Dockerfile";
const DEFAULT_DOCKERFILE_LOWER: &str = "dockerfile";

impl BuildContext {
    /// Opens the context: a directory is used in place (never copied); a tar (plain, gzip, bzip2, xz,
    /// zstd) is unpacked with hoist-layer's path-safe applier into a temporary directory under `scratch`;
    /// a Git URL is cloned there with the system `git`; an HTTP URL is downloaded there and then read as a
    /// tar, or as the Dockerfile itself when it is not an archive; `Empty` is an empty directory.
    pub fn open(source: ContextSource, scratch: &Path) -> Result<Self, ContextError> {
        match source {
            ContextSource::Directory(path) => Self::open_directory(&path),
            ContextSource::Tar(reader) => {
                let temp = temp_dir(scratch)?;
                let text = source::unpack_or_text(reader, temp.path(), "build context archive")?;
                Ok(Self::with_temp(temp, "build context archive".into(), text))
            }
            ContextSource::Git(url) => {
                let temp = temp_dir(scratch)?;
                let root = source::clone_git(&url, temp.path(), false)?;
                let mut context = Self::with_temp(temp, url, None);
                context.root = root;
                Ok(context)
            }
            ContextSource::GitKeepingDir(url) => {
                let temp = temp_dir(scratch)?;
                let root = source::clone_git(&url, temp.path(), true)?;
                let mut context = Self::with_temp(temp, url, None);
                context.root = root;
                Ok(context)
            }
            ContextSource::Http(url) => {
                let temp = temp_dir(scratch)?;
                let download = source::download(&url, scratch)?;
                let what = format!("remote context {url}");
                let text = source::unpack_or_text(download, temp.path(), &what)?;
                Ok(Self::with_temp(temp, url, text))
            }
            ContextSource::Empty => {
                let temp = temp_dir(scratch)?;
                Ok(Self::with_temp(temp, "empty context".into(), None))
            }
        }
    }

    fn open_directory(path: &Path) -> Result<Self, ContextError> {
        let meta = fs::metadata(path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => ContextError::DirectoryNotFound {
                path: path.to_path_buf(),
            },
            _ => ContextError::Io {
                path: path.to_path_buf(),
                source,
            },
        })?;
        if !meta.is_dir() {
            return Err(ContextError::NotADirectory {
                path: path.to_path_buf(),
            });
        }
        // The CLI resolves symlinks in the context path (`filepath.EvalSymlinks`).
        let root = fs::canonicalize(path).map_err(|source| ContextError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            origin: root.display().to_string(),
            root,
            dockerfile_text: None,
            ignore: IgnorePatterns::default(),
            ignore_file: None,
            digests: Mutex::default(),
            _temp: None,
        })
    }

    fn with_temp(temp: tempfile::TempDir, origin: String, text: Option<Vec<u8>>) -> Self {
        Self {
            root: temp.path().to_path_buf(),
            origin,
            dockerfile_text: text,
            ignore: IgnorePatterns::default(),
            ignore_file: None,
            digests: Mutex::default(),
            _temp: Some(temp),
        }
    }

    /// The context directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the source was a Dockerfile rather than a context (a non-archive stdin or URL): the context
    /// is then empty and [`BuildContext::read_dockerfile`] returns that text whatever the name.
    pub fn is_dockerfile_only(&self) -> bool {
        self.dockerfile_text.is_some()
    }

    /// The `.dockerignore` that [`BuildContext::load_ignore`] loaded, if any.
    pub fn ignore_file(&self) -> Option<&Path> {
        self.ignore_file.as_deref()
    }

    /// The loaded patterns (empty until [`BuildContext::load_ignore`] found a file).
    pub fn ignore_patterns(&self) -> &IgnorePatterns {
        &self.ignore
    }

    /// Replaces the patterns (e.g. from `--ignorefile`-style options); cached digests are dropped.
    pub fn set_ignore(&mut self, patterns: IgnorePatterns) {
        self.ignore = patterns;
        self.ignore_file = None;
        self.clear_digests();
    }

    /// The Dockerfile: `name` relative to the context root (symlinks resolved inside it), or an absolute
    /// path anywhere (`docker build -f /elsewhere/Dockerfile .`: the CLI makes `-f` absolute for local
    /// contexts, where it is relative to the working directory). For the default name `Dockerfile`, a
    /// missing file is looked for as `dockerfile` too, as BuildKit does. When the source was itself a
    /// Dockerfile (URL or stdin that is not an archive), that text is returned. The `.dockerignore` does
    /// not apply: Docker always sends the Dockerfile.
    pub fn read_dockerfile(&self, name: &str) -> Result<Vec<u8>, ContextError> {
        if let Some(text) = &self.dockerfile_text {
            return Ok(text.clone());
        }
        if Path::new(name).is_absolute() {
            return read_dockerfile_at(Path::new(name), name);
        }
        let path = self.dockerfile_path(name)?;
        match read_dockerfile_at(&path, name) {
            Err(ContextError::DockerfileNotFound { .. }) if name == DEFAULT_DOCKERFILE => {
                let lower = self.dockerfile_path(DEFAULT_DOCKERFILE_LOWER)?;
                read_dockerfile_at(&lower, name)
            }
            other => other,
        }
    }

    /// Where a relative Dockerfile name lives, resolved inside the root.
    fn dockerfile_path(&self, name: &str) -> Result<PathBuf, ContextError> {
        let cleaned = clean_path(name);
        if cleaned == ".." || cleaned.starts_with("../") {
            return Err(ContextError::DockerfileOutside {
                name: name.to_owned(),
            });
        }
        Ok(match self.resolve(&cleaned, true)? {
            Some(resolved) => self.abs(&resolved.rel),
            None => self.abs(&cleaned),
        })
    }

    /// Loads the `.dockerignore` as BuildKit does: `<dockerfile>.dockerignore` next to the Dockerfile when
    /// present (`dockerfile` as passed to [`BuildContext::read_dockerfile`], relative or absolute), else
    /// `.dockerignore` at the root; neither means no patterns. A URL or stdin Dockerfile has none.
    pub fn load_ignore(&mut self, dockerfile: &str) -> Result<(), ContextError> {
        self.clear_digests();
        self.ignore = IgnorePatterns::default();
        self.ignore_file = None;
        if self.dockerfile_text.is_some() {
            return Ok(());
        }
        let specific = format!("{dockerfile}.dockerignore");
        let candidates = [
            if Path::new(&specific).is_absolute() {
                Some(PathBuf::from(&specific))
            } else {
                self.dockerfile_path(&specific).ok()
            },
            Some(self.root.join(".dockerignore")),
        ];
        for path in candidates.into_iter().flatten() {
            let bytes = match fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    continue;
                }
                Err(source) => return Err(ContextError::IgnoreRead { path, source }),
            };
            let text = String::from_utf8_lossy(&bytes);
            self.ignore = IgnorePatterns::parse(&text).map_err(|source| ContextError::Ignore {
                path: path.clone(),
                source,
            })?;
            self.ignore_file = Some(path);
            return Ok(());
        }
        Ok(())
    }

    /// Whether the `.dockerignore` leaves `rel` out of the context: it matches the patterns, or one of its
    /// parent directories is excluded with no exception that could re-include anything below it. (An
    /// excluded directory holding re-included files is reported excluded here, although [`walk`] and
    /// [`resolve_sources`] still show it as the parent of those files.)
    ///
    /// [`walk`]: BuildContext::walk
    /// [`resolve_sources`]: BuildContext::resolve_sources
    pub fn is_excluded(&self, rel: &str) -> bool {
        let cleaned = clean_path(&format!("/{rel}"));
        let rel = cleaned.trim_start_matches('/');
        if rel.is_empty() || self.ignore.is_empty() {
            return false;
        }
        self.ancestor_skipped(rel) || self.ignore.matches(rel)
    }

    /// COPY/ADD source resolution, as BuildKit does it: the source is cleaned and made relative to the
    /// root (a leading `/` or `..` cannot leave it); wildcards (`*`, `?`, `[...]`, per path component, Go's
    /// `filepath.Match`; `\` escapes) are expanded against what the context holds; the result is sorted
    /// and names paths as written (symlinks not resolved; see [`BuildContext::resolve_path`]). A source
    /// that matches nothing, or only excluded paths or dangling links, is [`ContextError::NotFound`].
    pub fn resolve_sources(&self, pattern: &str) -> Result<Vec<String>, ContextError> {
        self.resolve_sources_impl(pattern)
    }

    /// Resolves every symbolic link in `rel` (the last component too) inside the root and returns the
    /// real path relative to the root; [`ContextError::NotFound`] when it does not exist or is excluded.
    pub fn resolve_path(&self, rel: &str) -> Result<String, ContextError> {
        Ok(self.resolve_visible(rel)?.rel)
    }

    /// A content digest of a context path (a file, a symlink or a directory tree), following symlinks in
    /// `rel` itself inside the root. It covers names, file types, permission bits with setuid, setgid and
    /// sticky, uid/gid, file contents, symlink targets and device numbers, never times or inode numbers;
    /// excluded paths are left out. For a directory the digest does not cover its own name, and for the
    /// context root not its own mode or owner either (a temporary directory's 0700 is no content).
    /// Digests are cached per path, so hashing a directory twice, or a directory after a file in it,
    /// reads each file once.
    pub fn checksum(&self, rel: &str) -> Result<Digest, ContextError> {
        self.checksum_impl(rel)
    }

    /// The entries of a source path for copying, as `(path relative to the root, symlink_metadata)`: the
    /// path itself first (symlinks in `rel` resolved inside the root, so its path is the real one, see
    /// [`BuildContext::resolve_path`]), then, for a directory, its entries depth-first with children
    /// sorted by name. Symlinks below it are entries, not followed. Excluded entries are left out; an
    /// excluded directory that holds re-included (`!`) entries appears as their parent, and only then.
    pub fn walk(&self, rel: &str) -> Result<Vec<(String, fs::Metadata)>, ContextError> {
        self.walk_impl(rel)
    }

    /// [`BuildContext::walk`] shaped for copying: `(path inside the source, empty for the source itself;
    /// absolute path on the host; symlink_metadata)`. The inner paths are what goes under the destination,
    /// whether the source was `.`, a directory or a symlink to one.
    pub fn walk_for_copy(
        &self,
        rel: &str,
    ) -> Result<Vec<(PathBuf, PathBuf, fs::Metadata)>, ContextError> {
        let entries = self.walk_impl(rel)?;
        let top = entries.first().map(|(p, _)| p.clone()).unwrap_or_default();
        Ok(entries
            .into_iter()
            .map(|(path, meta)| {
                let inner = if top == "." {
                    if path == "." { "" } else { path.as_str() }
                } else {
                    path.strip_prefix(top.as_str())
                        .unwrap_or("")
                        .trim_start_matches('/')
                };
                (PathBuf::from(inner), self.abs(&path), meta)
            })
            .collect())
    }

    fn clear_digests(&mut self) {
        self.digests
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// The absolute path of a context-relative path.
    fn abs(&self, rel: &str) -> PathBuf {
        if rel == "." || rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }
}

/// A fresh temporary directory under `scratch` (made if missing).
fn temp_dir(scratch: &Path) -> Result<tempfile::TempDir, ContextError> {
    let scratch_error = |source| ContextError::Scratch {
        path: scratch.to_path_buf(),
        source,
    };
    fs::create_dir_all(scratch).map_err(scratch_error)?;
    tempfile::Builder::new()
        .prefix("context-")
        .tempdir_in(scratch)
        .map_err(scratch_error)
}

fn read_dockerfile_at(path: &Path, name: &str) -> Result<Vec<u8>, ContextError> {
    fs::read(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
            ContextError::DockerfileNotFound {
                name: name.to_owned(),
            }
        }
        _ => ContextError::DockerfileRead {
            name: name.to_owned(),
            source,
        },
    })
}
