//! The HTTP layer under the protocol code: one reqwest client per (certs.d host, verification) built
//! with that host's trust and identity, the proxy rules, timeouts, user agent and redirect policy.
//! Redirects are followed (up to 10); reqwest drops `Authorization` when one leaves the host.

pub(crate) mod proxy;
pub(crate) mod tls;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::config::RegistryConfig;
use crate::endpoint::Endpoint;
use crate::error::RegistryError;
use proxy::ProxyRules;

/// Built clients, reused for every request to the same host with the same trust settings.
#[derive(Debug)]
pub(crate) struct ClientPool {
    certs_dirs: Vec<PathBuf>,
    proxies: Arc<ProxyRules>,
    user_agent: String,
    connect_timeout: Duration,
    read_timeout: Duration,
    clients: Mutex<HashMap<(String, bool), reqwest::Client>>,
}

impl ClientPool {
    pub(crate) fn new(config: &RegistryConfig) -> Result<Self, RegistryError> {
        Ok(Self {
            certs_dirs: config.certs_dirs.clone(),
            proxies: Arc::new(ProxyRules::new(&config.proxies)?),
            user_agent: config.user_agent.clone(),
            connect_timeout: config.connect_timeout,
            read_timeout: config.read_timeout,
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// The client for `endpoint`, built on first use. Reading certs.d is a few small files, done once.
    pub(crate) fn client(&self, endpoint: &Endpoint) -> Result<reqwest::Client, RegistryError> {
        let key = (endpoint.certs_host.clone(), endpoint.verify_tls);
        if let Some(client) = self.lock().get(&key) {
            return Ok(client.clone());
        }
        let client = self.build(&endpoint.certs_host, endpoint.verify_tls)?;
        self.lock().insert(key, client.clone());
        Ok(client)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, bool), reqwest::Client>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn build(&self, host: &str, verify_tls: bool) -> Result<reqwest::Client, RegistryError> {
        let trust = tls::load_host_trust(&self.certs_dirs, host)?;
        let mut builder = reqwest::Client::builder()
            .user_agent(self.user_agent.clone())
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .redirect(reqwest::redirect::Policy::limited(10));
        builder = if self.proxies.is_empty() {
            // Only the caller's settings count: no environment variables read behind its back.
            builder.no_proxy()
        } else {
            let rules = Arc::clone(&self.proxies);
            builder.proxy(reqwest::Proxy::custom(move |url| rules.proxy_for(url)))
        };
        if !trust.roots.is_empty() {
            builder = builder.tls_certs_merge(trust.roots);
        }
        if let Some(identity) = trust.identity {
            builder = builder.identity(identity);
        }
        if !verify_tls {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        builder.build().map_err(|error| RegistryError::ClientSetup {
            host: host.to_owned(),
            message: error.to_string(),
        })
    }
}
