//! The application layer: every image command (images, inspect, history, tag, rmi, prune, df, save, load,
//! import) as a function over the store that takes an options struct and returns data and events.
//!
//! The CLI (and later the Engine API socket) are thin front ends over this crate; nothing here prints.

pub mod build;
pub mod build_cache;
pub mod builder;
pub mod change;
pub mod container;
pub mod copy;
pub mod df;
pub mod docker_config;
pub mod error;
pub mod filters;
pub mod history;
pub mod import;
pub mod inspect;
pub mod list;
pub mod login;
pub mod lookup;
pub mod manifest;
pub mod pull;
pub mod push;
pub mod registry;
pub mod remove;
pub mod search;
pub mod transfer;
pub mod volume;

use std::path::PathBuf;

pub use error::OpsError;
use std::collections::BTreeMap;

use hoist_store::Store;

/// Settings from the command line and daemon.json that operations need.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The data root holding the store.
    pub root: PathBuf,
    /// The daemon.json-format file the settings came from, if any.
    pub config_file: Option<PathBuf>,
    /// `registry-mirrors`: mirrors for docker.io, tried in order.
    pub registry_mirrors: Vec<String>,
    /// `insecure-registries`.
    pub insecure_registries: Vec<String>,
    pub max_concurrent_downloads: usize,
    pub max_concurrent_uploads: usize,
    /// hoist's `mirrors`: mirrors for any registry host, tried in order before it (docker.io's
    /// `registry-mirrors` come first for docker.io).
    pub mirrors: BTreeMap<String, Vec<String>>,
    /// hoist's `registry-endpoints`: a base URL to use for a registry host instead of its own
    /// (`{"docker.io": "http://127.0.0.1:5000"}`).
    pub registry_endpoints: BTreeMap<String, String>,
    /// Directories of per-registry TLS material (`<dir>/<host[:port]>/ca.crt`, `client.cert`,
    /// `client.key`), as Docker's `/etc/docker/certs.d`.
    pub certs_dirs: Vec<PathBuf>,
    /// Proxies for registry traffic (daemon.json `proxies`, else the environment).
    pub http_proxy: Option<String>,
    pub https_proxy: Option<String>,
    pub no_proxy: Option<String>,
    /// Where Docker's client config.json (credentials) lives: `$DOCKER_CONFIG` or `~/.docker`.
    pub docker_config_dir: PathBuf,
    /// daemon.json `storage-driver` (or `HOIST_STORAGE_DRIVER`): `overlay2` or `vfs`; probed when unset.
    pub storage_driver: Option<String>,
    /// hoist's own executable, re-executed as the container runtime (`__init`) and monitor (`__monitor`).
    pub self_exe: PathBuf,
}

/// An open store plus the settings: what every operation works on.
#[derive(Debug)]
pub struct Hoist {
    pub store: Store,
    pub settings: Settings,
}

impl Hoist {
    /// Opens (creating if needed) the store under `settings.root`.
    pub fn open(settings: Settings) -> Result<Self, OpsError> {
        let store = Store::open(&settings.root)?;
        Ok(Self { store, settings })
    }
}

/// Now, in Unix nanoseconds.
pub fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}
