//! `login` and `logout` as Docker does them: which server an address means, the stored login that a bare
//! `login` re-checks, verifying a credential against the registry, and saving or erasing it in Docker's
//! credential store (config.json, `credsStore`, `credHelpers`).

use std::path::PathBuf;

use hoist_credentials::{Credential, DOCKER_HUB_KEY, server_key};
use hoist_registry_client::{LoginOutcome, RegistryClient, RegistryError};

use crate::Settings;
use crate::registry::credential_store;

/// What registries answer when they want credentials; after a login attempt it means "not these".
const GENERIC_CHALLENGE: &str = "authentication required";

/// The server a `login` or `logout` acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginServer {
    /// The key the login is stored under, which is also how Docker names the server in messages:
    /// `https://index.docker.io/v1/` for Docker Hub, else `host[:port]`.
    pub key: String,
    /// The registry as image references name it, for the client: `docker.io` or `host[:port]`.
    pub registry: String,
}

impl LoginServer {
    /// The server `docker login [SERVER]` means: Docker Hub when none is given (or `docker.io`, or any
    /// of its aliases), else the `host[:port]` of the address, which may carry a scheme and a path.
    pub fn resolve(server: Option<&str>) -> Self {
        let key = server_key(server.unwrap_or(""));
        let registry = if key == DOCKER_HUB_KEY {
            "docker.io".to_owned()
        } else {
            key.clone()
        };
        Self { key, registry }
    }

    /// Whether this is Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.key == DOCKER_HUB_KEY
    }
}

/// Why a login or logout failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The registry (or its token service) refused the credential.
    #[error("login to {registry} failed: unauthorized: {message}")]
    Unauthorized { registry: String, message: String },
    /// The registry could not be asked, or answered something other than yes or no.
    // Messages quote their cause, so none is also given as `source` (it would be printed twice).
    #[error("login to {registry} failed: {error}")]
    Registry {
        registry: String,
        error: Box<RegistryError>,
    },
    /// The credential store could not be read.
    #[error("{0}")]
    ReadCredentials(hoist_credentials::Error),
    /// The verified login could not be saved (Docker's wording).
    #[error("Error saving credentials: {0}")]
    SaveCredentials(hoist_credentials::Error),
    /// The login could not be removed.
    #[error("could not erase credentials for {server}: {error}")]
    EraseCredentials {
        server: String,
        error: hoist_credentials::Error,
    },
}

impl LoginError {
    /// True when the registry said the credential is wrong (rather than being unreachable).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Unauthorized { .. })
    }
}

/// The stored login a `login` without `--username` and `--password` verifies again, as Docker does:
/// only one holding both a username and a password (an identity token alone is not re-checked; the user
/// is asked instead). The identity token is left out, so the password itself is verified.
pub fn stored_login(
    settings: &Settings,
    server: &LoginServer,
) -> Result<Option<Credential>, LoginError> {
    let stored = credential_store(settings)
        .get(&server.key)
        .map_err(LoginError::ReadCredentials)?;
    Ok(stored
        .filter(|c| !c.username.is_empty() && !c.password.is_empty())
        .map(|c| Credential {
            username: c.username,
            password: c.password,
            identity_token: None,
        }))
}

/// Checks `credential` against the server, as `docker login` does before saving anything.
pub async fn verify(
    client: &RegistryClient,
    server: &LoginServer,
    credential: &Credential,
) -> Result<LoginOutcome, LoginError> {
    client
        .login(&server.registry, credential)
        .await
        .map_err(|error| match error {
            RegistryError::Unauthorized { message, .. } => LoginError::Unauthorized {
                registry: server.registry.clone(),
                message: if message.is_empty() || message.eq_ignore_ascii_case(GENERIC_CHALLENGE) {
                    "incorrect username or password".to_owned()
                } else {
                    message
                },
            },
            error => LoginError::Registry {
                registry: server.registry.clone(),
                error: Box::new(error),
            },
        })
}

/// What saving a verified login did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// Set when a password was newly written in plain text to this file (no credential helper), which is
    /// when Docker warns that it is stored unencrypted.
    pub unencrypted_in: Option<PathBuf>,
}

/// Saves a verified login the way Docker does: the refresh token the registry returned replaces the
/// password as identity token; a credential helper keeps the secret when one is configured for the
/// server, else config.json does.
pub fn save(
    settings: &Settings,
    server: &LoginServer,
    credential: &Credential,
    outcome: &LoginOutcome,
) -> Result<Saved, LoginError> {
    let mut to_store = credential.clone();
    to_store.identity_token = None;
    if let Some(token) = outcome.refresh_token.as_ref().filter(|t| !t.is_empty()) {
        to_store.password.clear();
        to_store.identity_token = Some(token.clone());
    }
    let store = credential_store(settings);
    let plain_text = store
        .is_plain_text(&server.key)
        .map_err(LoginError::SaveCredentials)?;
    // Docker warns only when it writes a password it did not have already.
    let newly_written = plain_text
        && !to_store.password.is_empty()
        && store
            .get(&server.key)
            .map_err(LoginError::SaveCredentials)?
            .as_ref()
            != Some(&to_store);
    store
        .store(&server.key, &to_store)
        .map_err(LoginError::SaveCredentials)?;
    Ok(Saved {
        unencrypted_in: newly_written.then(|| store.config_path()),
    })
}

/// Removes the login for the server (legacy forms of its key and a helper's copy included). Returns
/// whether there was one.
pub fn logout(settings: &Settings, server: &LoginServer) -> Result<bool, LoginError> {
    credential_store(settings)
        .erase(&server.key)
        .map_err(|error| LoginError::EraseCredentials {
            server: server.key.clone(),
            error,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path) -> Settings {
        Settings {
            docker_config_dir: dir.to_owned(),
            ..Settings::default()
        }
    }

    fn outcome(refresh_token: Option<&str>) -> LoginOutcome {
        LoginOutcome {
            endpoint: "http://127.0.0.1:5000".to_owned(),
            authentication_required: true,
            refresh_token: refresh_token.map(str::to_owned),
        }
    }

    fn credential(username: &str, password: &str) -> Credential {
        Credential {
            username: username.to_owned(),
            password: password.to_owned(),
            identity_token: None,
        }
    }

    #[test]
    fn servers_resolve_as_docker_names_them() {
        for hub in [None, Some("docker.io"), Some("https://index.docker.io/v1/")] {
            let server = LoginServer::resolve(hub);
            assert_eq!(server.key, DOCKER_HUB_KEY, "{hub:?}");
            assert_eq!(server.registry, "docker.io");
            assert!(server.is_docker_hub());
        }
        let server = LoginServer::resolve(Some("https://localhost:5000/v2/"));
        assert_eq!(server.key, "localhost:5000");
        assert_eq!(server.registry, "localhost:5000");
        assert!(!server.is_docker_hub());
    }

    #[test]
    fn a_new_password_is_reported_as_stored_unencrypted_once() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(dir.path());
        let server = LoginServer::resolve(Some("127.0.0.1:5000"));
        let alice = credential("alice", "wonderland");

        let saved = save(&settings, &server, &alice, &outcome(None)).unwrap();
        assert_eq!(saved.unencrypted_in, Some(dir.path().join("config.json")));
        assert_eq!(
            stored_login(&settings, &server).unwrap(),
            Some(alice.clone())
        );
        let again = save(&settings, &server, &alice, &outcome(None)).unwrap();
        assert_eq!(again.unencrypted_in, None, "unchanged login, no warning");

        assert!(logout(&settings, &server).unwrap());
        assert!(!logout(&settings, &server).unwrap());
        assert_eq!(stored_login(&settings, &server).unwrap(), None);
    }

    #[test]
    fn a_refresh_token_is_stored_instead_of_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(dir.path());
        let server = LoginServer::resolve(None);
        let saved = save(
            &settings,
            &server,
            &credential("alice", "wonderland"),
            &outcome(Some("refresh-me")),
        )
        .unwrap();
        assert_eq!(saved.unencrypted_in, None, "no password written");
        let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let entry = &json["auths"][DOCKER_HUB_KEY];
        assert_eq!(entry["identitytoken"], "refresh-me");
        assert!(!text.contains("wonderland"));
        // An identity token alone is not re-checked by a bare `login`.
        assert_eq!(stored_login(&settings, &server).unwrap(), None);
    }
}
