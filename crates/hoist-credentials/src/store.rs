//! `CredentialStore`: get, store, erase and list logins the way the Docker CLI does, choosing per
//! registry between a credential helper and plain text in config.json.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::address::{DOCKER_HUB_KEY, server_key};
use crate::config::{CONFIG_FILE_NAME, ConfigFile, encode_auth};
use crate::helper::{self, Helper};
use crate::{Credential, Error};

/// Docker's client credential store in one config directory.
///
/// Registries are named as in image references (`docker.io`, `localhost:5000`) or as server URLs
/// (`https://myregistry.example.com/v1/`); see [`server_key`](crate::server_key) for the key each maps to.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    config_dir: PathBuf,
    helper_search_dirs: Option<Vec<PathBuf>>,
}

impl CredentialStore {
    /// The store in `config_dir` (which need not exist yet: it is created, mode 0700, on first write).
    /// Helper programs are looked up in `$PATH` unless [`with_helper_search_dirs`](Self::with_helper_search_dirs)
    /// says otherwise.
    pub fn new(config_dir: impl Into<PathBuf>) -> Self {
        CredentialStore {
            config_dir: config_dir.into(),
            helper_search_dirs: None,
        }
    }

    /// Looks up `docker-credential-<name>` programs in `dirs`, in order, instead of `$PATH`.
    pub fn with_helper_search_dirs<I>(mut self, dirs: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<PathBuf>,
    {
        self.helper_search_dirs = Some(dirs.into_iter().map(Into::into).collect());
        self
    }

    /// The config directory.
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// The config.json this store reads and writes.
    pub fn config_path(&self) -> PathBuf {
        self.config_dir.join(CONFIG_FILE_NAME)
    }

    /// Reads config.json now.
    pub fn load_config(&self) -> Result<ConfigFile, Error> {
        ConfigFile::load(self.config_path())
    }

    /// The name of the helper (`credHelpers` entry or `credsStore`) that keeps `registry`'s secret.
    pub fn helper_for(&self, registry: &str) -> Result<Option<String>, Error> {
        Ok(self.load_config()?.helper_for(registry).map(str::to_owned))
    }

    /// Whether a login to `registry` is kept in plain text in [`config_path`](Self::config_path) (no
    /// helper configured for it), for `login`'s "stored unencrypted" warning.
    pub fn is_plain_text(&self, registry: &str) -> Result<bool, Error> {
        Ok(self.helper_for(registry)?.is_none())
    }

    /// The login stored for `registry`: from its `credHelpers` helper, else the `credsStore` helper,
    /// else config.json `auths` (exact key first, then legacy forms such as `https://host/v1/`).
    ///
    /// A helper that holds nothing is `None`, not an error, even when config.json still has an old
    /// plain-text entry (Docker ignores it too once a helper is configured). With a helper, an identity
    /// token comes back without its username, as in Docker.
    pub fn get(&self, registry: &str) -> Result<Option<Credential>, Error> {
        let config = self.load_config()?;
        let key = server_key(registry);
        match config.helper_for(&key) {
            Some(name) => self.locate(name, &config)?.get(&key),
            None => Ok(config
                .find_auth(&key)?
                .and_then(|(_, entry)| entry.credential())),
        }
    }

    /// Saves a login for `registry` under the key Docker uses.
    ///
    /// With a helper: the helper's `store`, then an empty `{}` under `auths` (Docker's marker, and it
    /// removes any plain-text secret left from before). Without: `{"auth": base64(user:password)}`, plus
    /// `identitytoken` when there is one. config.json is only rewritten when its content changes.
    pub fn store(&self, registry: &str, credential: &Credential) -> Result<(), Error> {
        let mut config = self.load_config()?;
        let key = server_key(registry);
        let mut entry = Map::new();
        match config.helper_for(&key) {
            Some(name) => self.locate(name, &config)?.store(&key, credential)?,
            None => {
                if let Some(auth) = encode_auth(&credential.username, &credential.password) {
                    entry.insert("auth".to_owned(), Value::String(auth));
                }
                if let Some(token) = credential.identity_token.as_deref()
                    && !token.is_empty()
                {
                    entry.insert("identitytoken".to_owned(), Value::String(token.to_owned()));
                }
            }
        }
        if config.put_auth(&key, entry) {
            config.save()?;
        }
        Ok(())
    }

    /// Removes the login for `registry`: every `auths` entry for that server (legacy forms included)
    /// and, with a helper, the helper's copy. Returns `false` when nothing was stored, so `logout` can
    /// say "Not logged in to …".
    ///
    /// Like `docker logout`, the helper is also asked to erase the `http://host` and `https://host`
    /// forms older clients stored; only a failure for the key itself is an error, since helpers word
    /// "nothing there" differently. When that fails, config.json is left as it was.
    pub fn erase(&self, registry: &str) -> Result<bool, Error> {
        let mut config = self.load_config()?;
        let key = server_key(registry);
        let mut erased = false;
        if let Some(name) = config.helper_for(&key) {
            let helper = self.locate(name, &config)?;
            erased |= helper.erase(&key)?;
            if key != DOCKER_HUB_KEY {
                for legacy in [format!("http://{key}"), format!("https://{key}")] {
                    erased |= helper.erase(&legacy).unwrap_or(false);
                }
            }
        }
        if !config.remove_auths(&key).is_empty() {
            config.save()?;
            erased = true;
        }
        Ok(erased)
    }

    /// The server keys with a stored login: the `auths` keys of config.json (including the `{}`
    /// markers of helper logins) and what the `credsStore` helper lists. Sorted, without duplicates.
    pub fn list(&self) -> Result<Vec<String>, Error> {
        let config = self.load_config()?;
        let mut servers: Vec<String> = config.auth_keys().into_iter().map(str::to_owned).collect();
        if let Some(name) = config.creds_store() {
            servers.extend(self.locate(name, &config)?.list()?);
        }
        servers.sort();
        servers.dedup();
        Ok(servers)
    }

    fn locate(&self, name: &str, config: &ConfigFile) -> Result<Helper, Error> {
        match &self.helper_search_dirs {
            Some(dirs) => Helper::locate(name, dirs, config.path()),
            None => Helper::locate(name, &helper::path_dirs(), config.path()),
        }
    }
}
