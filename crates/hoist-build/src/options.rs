//! What a build is asked to do, what it reports while it works, and what it returns.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hoist_spec::{Digest, Platform};
use hoist_store::ImageRecord;

/// One build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Dockerfile's name as the user gave it (for messages: `Dockerfile.prod:12:5: ...`).
    pub dockerfile_name: String,
    /// `--build-arg NAME=VALUE` (a `NAME` alone was already resolved from the environment by the caller).
    pub build_args: BTreeMap<String, String>,
    /// `--target`.
    pub target: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--no-cache-filter`: stage names whose steps never hit the cache.
    pub no_cache_filter: Vec<String>,
    /// `--pull`: always ask the registry for base images.
    pub pull: bool,
    /// `--label`: set on the final image.
    pub labels: BTreeMap<String, String>,
    /// `--platform` (one); `None` builds for the host.
    pub platform: Option<Platform>,
    /// `--network` for RUN: `default`, `none`, `host`.
    pub network: Option<String>,
    /// `--add-host host:ip` lines for RUN's /etc/hosts.
    pub add_hosts: Vec<String>,
    /// `--secret id=...,src=...|env=...`, resolved by the caller to their bytes.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// The legacy builder's `-m/--memory`: a memory limit for each RUN, in bytes.
    pub memory: Option<u64>,
    /// The legacy builder's `--cpu-quota`/`--cpu-period`: CPU bandwidth for each RUN.
    pub cpu_quota: Option<hoist_runtime::CpuQuota>,
    /// The legacy builder's `--cpu-shares`: the relative CPU weight of RUN steps.
    pub cpu_shares: Option<u64>,
    /// `--ulimit`: resource limits of RUN steps.
    pub ulimits: Vec<hoist_runtime::Ulimit>,
    /// `--shm-size`: /dev/shm of RUN steps, in bytes.
    pub shm_size: Option<u64>,
    /// `--annotation`: OCI annotations on the image manifest.
    pub annotations: BTreeMap<String, String>,
    /// `--squash`: the final stage's new layers as one.
    pub squash: bool,
    /// SOURCE_DATE_EPOCH (environment or build arg): clamps timestamps for reproducible images.
    pub source_date_epoch: Option<i64>,
    /// `--allow security.insecure` etc.
    pub entitlements: Vec<String>,
    /// hoist's own executable, re-executed as the container runtime for RUN.
    pub self_exe: PathBuf,
    /// daemon.json `storage-driver` preference.
    pub storage_driver: Option<hoist_store::StorageDriver>,
    /// `--cache-from`: records imported into the store before the build.
    pub cache_from: Vec<crate::cache_io::CacheLocation>,
    /// `--cache-to`: the records this build used, exported after it.
    pub cache_to: Vec<crate::cache_io::CacheLocation>,
    /// `--build-context name=...`: named contexts usable in `FROM name` and `COPY --from=name`.
    pub named_contexts: BTreeMap<String, NamedContext>,
}

/// A `--build-context` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// A local directory: `COPY --from=name` reads it like the main context.
    Directory(PathBuf),
    /// `docker-image://REF`: the stage or source named so is that image.
    Image(String),
    /// `oci-layout://DIR[:TAG]` (or `@sha256:...`): an image in an OCI layout directory. The operations
    /// layer loads it into the store and hands the builder an [`NamedContext::Image`].
    OciLayout(PathBuf, Option<String>),
}

/// What the build made.
#[derive(Debug, Clone)]
pub struct BuildResult {
    /// The image ID (config digest).
    pub image: Digest,
    /// The stored record (for tagging and output).
    pub record: ImageRecord,
    /// Warnings the build found (undefined variables, deprecated forms), as `file:line: message`.
    pub warnings: Vec<String>,
}

/// One line of BuildKit-style progress. Vertices are numbered in the order they start.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildEvent {
    /// A vertex begins: `#5 [builder 3/6] RUN npm ci`.
    Started { vertex: usize, name: String },
    /// A status line of a vertex: `#1 transferring dockerfile: 97B done`.
    Status { vertex: usize, text: String },
    /// Output of a RUN step, one line, with seconds since the vertex started: `#7 0.215 hi`.
    Output {
        vertex: usize,
        elapsed: f64,
        line: String,
    },
    /// The vertex's result came from the cache: `#5 CACHED`.
    Cached { vertex: usize },
    /// The vertex finished: `#5 DONE 0.4s`.
    Done { vertex: usize, seconds: f64 },
    /// The vertex failed: `#5 ERROR: process "/bin/sh -c false" did not complete successfully: exit code: 1`.
    Failed {
        vertex: usize,
        seconds: f64,
        message: String,
    },
}

/// Where base images come from: the store, pulled when missing (or always, with `--pull`). Implemented by
/// the operations layer, which owns the registry client.
pub trait BaseImages: Sync {
    /// The stored image for `reference` (normalised, e.g. `docker.io/library/busybox:latest`) for
    /// `platform`, pulling it if needed. Errors are the text to show.
    fn resolve(
        &self,
        reference: &str,
        platform: &Platform,
        always_pull: bool,
    ) -> Result<ImageRecord, String>;
}
