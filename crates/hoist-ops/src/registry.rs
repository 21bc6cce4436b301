//! The registry client every transfer uses, built from hoist's settings, with Docker's credential
//! store (config.json, credsStore, credHelpers) behind it.

use std::sync::Arc;

use hoist_credentials::CredentialStore;
use hoist_registry_client::{
    Credential, CredentialProvider, ProxyConfig, RegistryClient, RegistryConfig,
};

use crate::{OpsError, Settings};

/// Docker's config.json credentials as the client's provider.
#[derive(Debug, Clone)]
pub struct DockerCredentials(pub CredentialStore);

impl CredentialProvider for DockerCredentials {
    fn credential(&self, registry: &str) -> Result<Option<Credential>, String> {
        self.0.get(registry).map_err(|e| e.to_string())
    }
}

/// The credential store under `settings.docker_config_dir`.
pub fn credential_store(settings: &Settings) -> CredentialStore {
    CredentialStore::new(settings.docker_config_dir.clone())
}

/// The client configuration the settings describe: docker.io's `registry-mirrors` first among its
/// mirrors, hoist's own `mirrors` for every other registry, endpoints, insecure registries, certs.d
/// and proxies.
pub fn client_config(settings: &Settings) -> RegistryConfig {
    let mut mirrors = settings.mirrors.clone();
    if !settings.registry_mirrors.is_empty() {
        let docker_io = mirrors.entry("docker.io".to_owned()).or_default();
        let mut ordered = settings.registry_mirrors.clone();
        ordered.append(docker_io);
        *docker_io = ordered;
    }
    RegistryConfig {
        mirrors,
        endpoint_overrides: settings.registry_endpoints.clone(),
        insecure_registries: settings.insecure_registries.clone(),
        certs_dirs: settings.certs_dirs.clone(),
        proxies: ProxyConfig {
            http_proxy: settings.http_proxy.clone(),
            https_proxy: settings.https_proxy.clone(),
            no_proxy: settings.no_proxy.clone(),
            proxy_loopback: false,
        },
        ..RegistryConfig::default()
    }
}

/// A client for the settings, reading logins from Docker's credential store.
pub fn client(settings: &Settings) -> Result<RegistryClient, OpsError> {
    let credentials = Arc::new(DockerCredentials(credential_store(settings)));
    Ok(RegistryClient::new(client_config(settings), credentials)?)
}
