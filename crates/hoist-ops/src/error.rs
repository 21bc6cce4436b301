//! Errors of the operations layer, worded as Docker words them where Docker has a message for the case.

use hoist_spec::Digest;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpsError {
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("No such object: {0}")]
    NoSuchObject(String),
    #[error("{0}")]
    InvalidReference(String),
    #[error("Error parsing reference: {input:?} is not a valid repository/tag: {message}")]
    InvalidTarget { input: String, message: String },
    #[error("refusing to create a tag with a digest reference")]
    TagWithDigest,
    #[error("Invalid filter '{0}'")]
    InvalidFilter(String),
    #[error("{0}")]
    InvalidFilterValue(String),
    #[error(
        "conflict: unable to delete {id} (must be forced) - image is referenced in multiple repositories"
    )]
    ReferencedInMultipleRepositories { id: String },
    #[error(
        "conflict: unable to delete {id} (cannot be forced) - image has dependent child images"
    )]
    HasChildren { id: String },
    #[error("{0}")]
    InvalidChange(String),
    #[error("invalid platform: {0}")]
    InvalidPlatform(String),
    #[error("reading {source_name}: {error}")]
    Input {
        source_name: String,
        error: std::io::Error,
    },
    #[error("fetching {url}: {message}")]
    Http { url: String, message: String },
    #[error("invalid layer from {source_name}: {problem}")]
    BadLayer {
        source_name: String,
        problem: String,
    },
    #[error("image {id} is damaged: {message}")]
    Damaged { id: Digest, message: String },
    #[error(transparent)]
    Archive(#[from] hoist_archive::ArchiveError),
    #[error(transparent)]
    Store(#[from] hoist_store::StoreError),
    #[error(transparent)]
    Build(#[from] hoist_build::BuildError),
    /// A Dockerfile whose `# check=error=true` turns its check warnings into a failure.
    #[error("failed to solve: {0}")]
    Lint(String),
    /// Docker's wording for what a registry does not have (`manifest unknown`, no platform match).
    #[error("{0}")]
    NotFound(String),
    #[error("invalid manifest: {0}")]
    BadManifest(String),
    #[error("{what}: digest mismatch: expected {expected}, got {found}")]
    DigestMismatch {
        what: String,
        expected: Digest,
        found: Digest,
    },
    #[error("interrupted: {0}")]
    Interrupted(String),
    #[error(transparent)]
    Registry(#[from] hoist_registry_client::RegistryError),
    #[error(transparent)]
    Credentials(#[from] hoist_credentials::Error),
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("get {0}: no such volume")]
    NoSuchVolume(String),
    #[error("multiple IDs found with provided prefix: {0}")]
    AmbiguousContainer(String),
    #[error("container {id} is damaged: {message}")]
    ContainerDamaged { id: String, message: String },
    #[error(
        "You cannot remove a running container {id}. Stop the container before attempting removal or force remove"
    )]
    ContainerRunning { id: String },
    #[error("Cannot kill container: {name}: Container {id} is not running")]
    NotRunning { name: String, id: String },
    #[error("container {id} is already running")]
    AlreadyRunning { id: String },
    /// A detached start that failed, as its monitor recorded it.
    #[error("{message}")]
    StartFailed { message: String, exit_code: i32 },
    #[error("No command specified")]
    NoCommand,
    /// A flag value Docker would refuse (`-v`, `--network`, `--env-file`, `-m`, ...).
    #[error("{0}")]
    InvalidOption(String),
    /// `rmi` of an image a container uses.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Runtime(#[from] hoist_runtime::RuntimeError),
}
