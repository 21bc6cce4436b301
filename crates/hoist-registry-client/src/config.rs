//! What the caller configures (mirrors, endpoint overrides, insecure registries, certs.d directories,
//! proxies, retries, timeouts, user agent), as plain data built from daemon.json and the environment.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Docker's directory of per-registry trust and client identities; callers pass it in `certs_dirs`.
pub const DOCKER_CERTS_DIR: &str = "/etc/docker/certs.d";

/// Where the client connects and how. Nothing here is read from files by this crate.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Registry host (`docker.io`, `registry.example:5000`) to mirror base URLs tried in order for
    /// pulls before the registry itself (daemon.json `registry-mirrors` is the `docker.io` entry).
    pub mirrors: BTreeMap<String, Vec<String>>,
    /// Registry host to the base URL used instead of its default (`docker.io` →
    /// `https://registry-1.docker.io`, anything else → `https://<host>`).
    pub endpoint_overrides: BTreeMap<String, String>,
    /// `host[:port]` or CIDR entries whose certificates are not verified and which may be reached
    /// over plain HTTP. `localhost`, 127.0.0.0/8 and ::1 are always insecure, as in Docker.
    pub insecure_registries: Vec<String>,
    /// Directories holding `<host[:port]>/*.crt` (extra CA roots) and `*.cert`/`*.key` pairs
    /// (client identities), as Docker's certs.d. Usually `[DOCKER_CERTS_DIR]`.
    pub certs_dirs: Vec<PathBuf>,
    pub proxies: ProxyConfig,
    pub retry: RetryPolicy,
    /// Sent as `User-Agent` on every request.
    pub user_agent: String,
    /// How long a TCP connection plus TLS handshake may take.
    pub connect_timeout: Duration,
    /// How long a response may stall between two reads before the request counts as failed.
    pub read_timeout: Duration,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            mirrors: BTreeMap::new(),
            endpoint_overrides: BTreeMap::new(),
            insecure_registries: Vec::new(),
            certs_dirs: Vec::new(),
            proxies: ProxyConfig::default(),
            retry: RetryPolicy::default(),
            user_agent: concat!("hoist/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
        }
    }
}

/// HTTP proxies, from `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` or daemon.json `proxies`, with Go's
/// meaning: `no_proxy` lists hosts, domains (`example.com` covers its subdomains, `.example.com` only
/// them), IPs, CIDRs and `host:port`, or `*` for everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Proxy for `http://` registries.
    pub http_proxy: Option<String>,
    /// Proxy for `https://` registries.
    pub https_proxy: Option<String>,
    pub no_proxy: Option<String>,
    /// Loopback destinations (`localhost`, 127.0.0.0/8, ::1) bypass the proxy, as in Go's net/http,
    /// unless this is set.
    pub proxy_loopback: bool,
}

/// How often and how patiently idempotent requests are retried after a connection failure, a 5xx,
/// 429 or 408. Other 4xx answers are never retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 means no retry).
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles for each further one.
    pub initial_backoff: Duration,
    /// The longest wait, also the cap on a registry's `Retry-After`.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
        }
    }
}
