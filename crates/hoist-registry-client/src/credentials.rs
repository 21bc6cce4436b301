//! Where the client gets credentials: the [`CredentialProvider`] the caller plugs in (Docker's
//! config.json and helpers, in practice), plus an anonymous and a fixed-map provider.

use std::collections::BTreeMap;
use std::fmt::Debug;

pub use hoist_credentials::Credential;

/// Answers "which credential for this registry?". `registry` is `host[:port]` as in a reference
/// (`docker.io` for Docker Hub); mapping that onto config.json keys is the provider's business.
/// It may run a credential helper, so the client calls it off the async threads and caches the answer.
pub trait CredentialProvider: Send + Sync + Debug {
    fn credential(&self, registry: &str) -> Result<Option<Credential>, String>;
}

/// No credentials for any registry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Anonymous;

impl CredentialProvider for Anonymous {
    fn credential(&self, _registry: &str) -> Result<Option<Credential>, String> {
        Ok(None)
    }
}

/// A fixed map from registry to credential.
#[derive(Debug, Clone, Default)]
pub struct StaticCredentials {
    by_registry: BTreeMap<String, Credential>,
}

impl StaticCredentials {
    pub fn new() -> Self {
        Self::default()
    }

    /// The same map with `registry` → `credential` added.
    #[must_use]
    pub fn with(mut self, registry: impl Into<String>, credential: Credential) -> Self {
        self.by_registry.insert(registry.into(), credential);
        self
    }
}

impl CredentialProvider for StaticCredentials {
    fn credential(&self, registry: &str) -> Result<Option<Credential>, String> {
        Ok(self.by_registry.get(registry).cloned())
    }
}
