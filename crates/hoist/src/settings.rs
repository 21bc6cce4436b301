//! Where hoist keeps its data and which daemon.json it reads: `--root`/`HOIST_ROOT`, `HOIST_CONFIG`, then
//! `~/.config/hoist/daemon.json`, `/etc/hoist/daemon.json`, and the keys hoist understands from
//! `/etc/docker/daemon.json`.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use hoist_ops::Settings;
use serde::Deserialize;

/// The daemon.json keys hoist reads; unknown keys are ignored, as they belong to dockerd.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct DaemonJson {
    #[serde(default)]
    data_root: Option<PathBuf>,
    #[serde(default)]
    registry_mirrors: Vec<String>,
    #[serde(default)]
    insecure_registries: Vec<String>,
    #[serde(default)]
    max_concurrent_downloads: Option<usize>,
    #[serde(default)]
    max_concurrent_uploads: Option<usize>,
    #[serde(default)]
    proxies: DaemonProxies,
    /// hoist-only: mirrors for registries other than docker.io.
    #[serde(default)]
    mirrors: BTreeMap<String, Vec<String>>,
    /// hoist-only: where to reach a registry host instead of the host itself.
    #[serde(default)]
    registry_endpoints: BTreeMap<String, String>,
    /// hoist-only: certs.d directories to read instead of /etc/docker/certs.d.
    #[serde(default)]
    certs_d: Vec<PathBuf>,
    #[serde(default)]
    storage_driver: Option<String>,
}

/// daemon.json's `proxies` object.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct DaemonProxies {
    #[serde(default)]
    http_proxy: Option<String>,
    #[serde(default)]
    https_proxy: Option<String>,
    #[serde(default)]
    no_proxy: Option<String>,
}

/// A proxy variable, upper or lower case, as curl and Go read them.
fn proxy_env(name: &str) -> Option<String> {
    [name.to_ascii_uppercase(), name.to_ascii_lowercase()]
        .iter()
        .find_map(|n| std::env::var(n).ok())
        .filter(|v| !v.is_empty())
}

fn is_root() -> bool {
    // /proc/self belongs to the effective user; this avoids an unsafe geteuid call.
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// The daemon.json to read, if any.
fn config_path() -> Result<Option<PathBuf>> {
    if let Some(p) = std::env::var_os("HOIST_CONFIG").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("HOIST_CONFIG names {}, which does not exist", p.display());
        }
        return Ok(Some(p));
    }
    let user = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))
        .map(|d| d.join("hoist/daemon.json"));
    let candidates = user.into_iter().chain([
        PathBuf::from("/etc/hoist/daemon.json"),
        PathBuf::from("/etc/docker/daemon.json"),
    ]);
    Ok(candidates.into_iter().find(|p| p.is_file()))
}

fn read_daemon_json(path: &Path) -> Result<DaemonJson> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("invalid configuration file {}", path.display()))
}

fn default_root() -> PathBuf {
    if is_root() {
        return PathBuf::from("/var/lib/hoist");
    }
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("/tmp"))
        .join("hoist")
}

/// Resolves settings from the command line (`--root`, `--config`), the environment and daemon.json.
pub(crate) fn resolve(
    root_flag: Option<PathBuf>,
    config_flag: Option<PathBuf>,
) -> Result<Settings> {
    let config_file = config_path()?;
    let daemon = match &config_file {
        Some(p) => read_daemon_json(p)?,
        None => DaemonJson::default(),
    };
    let root = root_flag
        .or_else(|| {
            std::env::var_os("HOIST_ROOT")
                .filter(|r| !r.is_empty())
                .map(PathBuf::from)
        })
        .or(daemon.data_root)
        .unwrap_or_else(default_root);
    Ok(Settings {
        root,
        config_file,
        registry_mirrors: daemon.registry_mirrors,
        insecure_registries: daemon.insecure_registries,
        max_concurrent_downloads: daemon.max_concurrent_downloads.unwrap_or(3),
        max_concurrent_uploads: daemon.max_concurrent_uploads.unwrap_or(5),
        mirrors: daemon.mirrors,
        registry_endpoints: daemon.registry_endpoints,
        certs_dirs: match std::env::var_os("HOIST_CERTS_D").filter(|d| !d.is_empty()) {
            Some(dirs) => std::env::split_paths(&dirs).collect(),
            None if !daemon.certs_d.is_empty() => daemon.certs_d,
            None => vec![PathBuf::from("/etc/docker/certs.d")],
        },
        http_proxy: daemon
            .proxies
            .http_proxy
            .or_else(|| proxy_env("http_proxy")),
        https_proxy: daemon
            .proxies
            .https_proxy
            .or_else(|| proxy_env("https_proxy")),
        no_proxy: daemon.proxies.no_proxy.or_else(|| proxy_env("no_proxy")),
        docker_config_dir: config_flag
            .or_else(|| {
                std::env::var_os("DOCKER_CONFIG")
                    .filter(|d| !d.is_empty())
                    .map(PathBuf::from)
            })
            .or_else(|| home().map(|h| h.join(".docker")))
            .unwrap_or_else(|| PathBuf::from("/root/.docker")),
        storage_driver: std::env::var("HOIST_STORAGE_DRIVER")
            .ok()
            .filter(|d| !d.is_empty())
            .or(daemon.storage_driver),
        // /proc/self/exe names this very binary even if its file is replaced while containers run.
        self_exe: PathBuf::from("/proc/self/exe"),
    })
}
