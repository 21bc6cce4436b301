//! hoist's distribution (OCI registry) client: ping and auth challenges (Basic, Bearer tokens with a
//! cache and OAuth2 refresh tokens), mirrors with fallback, endpoint overrides, insecure registries,
//! certs.d trust and client identities, proxies, retries with backoff, resumable ranged blob reads,
//! monolithic and chunked pushes that recover their offset, cross-repository mount, tags, catalog,
//! referrers and v1 search.
//!
//! The caller builds a [`RegistryConfig`] (from daemon.json and the environment) and a
//! [`CredentialProvider`]; this crate reads no configuration files of its own and never prints.

mod auth;
mod blob;
mod client;
mod config;
mod credentials;
mod endpoint;
mod error;
mod pagination;
mod repository;
mod retry;
mod transport;
mod upload;

pub use blob::BlobStream;
pub use client::{LoginOutcome, RegistryClient, SearchResult};
pub use config::{DOCKER_CERTS_DIR, ProxyConfig, RegistryConfig, RetryPolicy};
pub use credentials::{Anonymous, Credential, CredentialProvider, StaticCredentials};
pub use endpoint::Via;
pub use error::{RegistryError, StatusError};
pub use repository::{
    DEFAULT_MANIFEST_ACCEPT, FetchedManifest, MANIFEST_SIZE_LIMIT, ManifestInfo, ManifestRef,
    Referrers, Repository,
};
pub use upload::{
    BlobReader, BytesBlob, FileBlob, MountOutcome, ProgressCounter, PushOptions, UploadSession,
};
