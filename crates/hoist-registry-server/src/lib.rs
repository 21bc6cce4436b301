//! The registry server library (`hoist registry serve`): distribution's configuration and environment
//! overrides, htpasswd authentication, the storage backend trait with its filesystem backend and
//! conformance suite, and the protocol vocabulary of the OCI distribution spec.
//!
//! It stands alone (ARCHITECTURE.md): it depends on hoist-spec only, never on ops, build, runtime or the
//! CLI, so it can serve in tests and scale out on its own.

pub mod api;
pub mod config;
pub mod htpasswd;
pub mod server;
pub mod storage;
