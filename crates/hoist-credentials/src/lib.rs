//! Docker's credential store: where `login` writes and every registry request reads usernames, passwords and
//! identity tokens (config.json `auths`, `credsStore`, `credHelpers`).
//!
//! Byte-compatible with the Docker CLI: the same config.json keys (Docker Hub is
//! `https://index.docker.io/v1/`), the same file layout when written, the same helper protocol. Open a
//! [`CredentialStore`] on the directory the caller resolved (`$DOCKER_CONFIG` or `~/.docker`); every
//! operation reads config.json afresh, so logins made meanwhile by `docker` itself are seen.

mod address;
mod config;
mod error;
mod go_json;
mod helper;
mod store;

pub use address::{DOCKER_HUB_KEY, convert_to_hostname, is_docker_hub, server_key};
pub use config::{AuthEntry, CONFIG_FILE_NAME, ConfigFile};
pub use error::Error;
pub use store::CredentialStore;

/// What a registry login holds for one server.
///
/// With an `identity_token`, the password is not used: the token is an OAuth2 refresh token that the
/// registry's token service exchanges for access tokens (Docker stores it as `identitytoken`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Credential {
    pub username: String,
    pub password: String,
    pub identity_token: Option<String>,
}

impl std::fmt::Debug for Credential {
    // Secrets never reach logs or error messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}
