//! Docker's client config.json: read, edit the `auths` section, write back atomically.
//!
//! The whole document is kept as JSON (in file order), so settings of other tools (`psFormat`,
//! `proxies`, `currentContext`, `plugins`, keys we have never heard of) survive a rewrite untouched.
//! Writes follow Docker's `ConfigFile.Save`: `auths` always present and sorted by key, tab
//! indentation, no trailing newline, a temporary file in the same directory renamed over the target,
//! a symlinked config.json updated at its target.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::alphabet;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use crate::address::{key_matches, server_key};
use crate::{Credential, Error, go_json};

/// The file name Docker uses inside its config directory.
pub const CONFIG_FILE_NAME: &str = "config.json";

/// Go's `base64.StdEncoding`: padded, and lenient about trailing bits when decoding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// One `auths` entry, decoded.
///
/// `registry_token` (Docker's `registrytoken`) is a bearer token sent to the registry as is; it has no
/// place in [`Credential`], so [`AuthEntry::credential`] leaves it out.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AuthEntry {
    pub username: String,
    pub password: String,
    pub identity_token: Option<String>,
    pub registry_token: Option<String>,
}

impl AuthEntry {
    /// The login this entry holds, or `None` when it holds no username, password or identity token
    /// (such as the `{}` placeholder Docker leaves when a helper keeps the secret).
    pub fn credential(&self) -> Option<Credential> {
        if self.username.is_empty() && self.password.is_empty() && self.identity_token.is_none() {
            return None;
        }
        Some(Credential {
            username: self.username.clone(),
            password: self.password.clone(),
            identity_token: self.identity_token.clone(),
        })
    }
}

impl std::fmt::Debug for AuthEntry {
    // Secrets never reach logs or error messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthEntry")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "registry_token",
                &self.registry_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Docker's config.json, as found on disk (a missing file reads as an empty configuration).
#[derive(Clone)]
pub struct ConfigFile {
    path: PathBuf,
    document: Map<String, Value>,
}

impl std::fmt::Debug for ConfigFile {
    // The document holds base64 passwords; show only where it lives and which servers it knows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigFile")
            .field("path", &self.path)
            .field("auths", &self.auth_keys())
            .field("credsStore", &self.creds_store())
            .finish_non_exhaustive()
    }
}

impl ConfigFile {
    /// Reads `path`. A missing file (or missing directory) or an empty file is an empty configuration,
    /// as for Docker; a file that is not JSON, or whose `auths`, `credsStore` or `credHelpers` have the
    /// wrong shape, is an error naming the file.
    pub fn load(path: impl Into<PathBuf>) -> Result<Self, Error> {
        let path = path.into();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(Error::Read { path, source }),
        };
        let document = if bytes.trim_ascii().is_empty() {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(document)) => document,
                // Go decodes `null` into a struct as "nothing set".
                Ok(Value::Null) => Map::new(),
                Ok(_) => {
                    return Err(Error::InvalidField {
                        path,
                        field: "(top level)".to_owned(),
                        reason: "expected a JSON object".to_owned(),
                    });
                }
                Err(source) => return Err(Error::InvalidJson { path, source }),
            }
        };
        let config = ConfigFile { path, document };
        config.validate()?;
        Ok(config)
    }

    /// Where this configuration is read from and written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Any top-level setting, as JSON (`psFormat`, `proxies`, `currentContext`, ...).
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.document.get(key)
    }

    /// The default credential helper (`credsStore`), if one is set.
    pub fn creds_store(&self) -> Option<&str> {
        self.document
            .get("credsStore")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
    }

    /// The `credHelpers` table: server key → helper name, in file order.
    pub fn cred_helpers(&self) -> Vec<(&str, &str)> {
        self.document
            .get("credHelpers")
            .and_then(Value::as_object)
            .map(|helpers| {
                helpers
                    .iter()
                    .filter_map(|(key, name)| Some((key.as_str(), name.as_str()?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The helper that keeps the secret for `registry`, as Docker chooses it: `credHelpers[key]` when
    /// that entry exists (an empty name there means "plain text", not "fall back"), else `credsStore`.
    pub fn helper_for(&self, registry: &str) -> Option<&str> {
        let key = server_key(registry);
        let per_registry = self
            .document
            .get("credHelpers")
            .and_then(Value::as_object)
            .and_then(|helpers| helpers.get(&key))
            .and_then(Value::as_str);
        match per_registry {
            Some("") => None,
            Some(name) => Some(name),
            None => self.creds_store(),
        }
    }

    /// The keys of `auths`, in file order.
    pub fn auth_keys(&self) -> Vec<&str> {
        self.auths()
            .map(|auths| auths.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The `auths` entry for `registry` and the key it is stored under: the exact key Docker writes
    /// first, else the first entry (in file order) written in a legacy form of the same server
    /// (`https://host`, `http://host/v1/`, `host/v1/`, `docker.io` for Docker Hub, ...).
    pub fn find_auth(&self, registry: &str) -> Result<Option<(String, AuthEntry)>, Error> {
        let key = server_key(registry);
        let Some(auths) = self.auths() else {
            return Ok(None);
        };
        let found = auths.get_key_value(&key).or_else(|| {
            auths
                .iter()
                .find(|(entry_key, _)| key_matches(entry_key, &key))
        });
        match found {
            Some((entry_key, entry)) => Ok(Some((
                entry_key.clone(),
                self.decode_entry(entry_key, entry)?,
            ))),
            None => Ok(None),
        }
    }

    /// The JSON Docker would write for this configuration.
    pub fn to_docker_json(&self) -> Vec<u8> {
        let mut document = self.document.clone();
        if let Some(Value::Object(auths)) = document.get_mut("auths") {
            // Go writes maps sorted by key.
            auths.sort_keys();
        }
        // Serialising a JSON value to memory cannot fail.
        go_json::marshal_indent(&document).unwrap_or_default()
    }

    /// Writes the configuration back atomically (see the module documentation).
    pub fn save(&self) -> Result<(), Error> {
        write_atomically(&self.path, &self.to_docker_json())
    }

    /// Sets `auths[key]` to `entry` (replacing any entry there, as Docker does). Returns whether the
    /// document changed, so an unchanged login does not rewrite the file.
    pub(crate) fn put_auth(&mut self, key: &str, entry: Map<String, Value>) -> bool {
        let entry = Value::Object(entry);
        if !matches!(self.document.get("auths"), Some(Value::Object(_))) {
            // Docker's struct writes `auths` first.
            self.document
                .shift_insert(0, "auths".to_owned(), Value::Object(Map::new()));
        }
        let Some(Value::Object(auths)) = self.document.get_mut("auths") else {
            return false;
        };
        if auths.get(key) == Some(&entry) {
            return false;
        }
        auths.insert(key.to_owned(), entry);
        true
    }

    /// Removes every `auths` entry for the server `key` names, legacy forms included; returns the keys
    /// removed.
    pub(crate) fn remove_auths(&mut self, key: &str) -> Vec<String> {
        let Some(Value::Object(auths)) = self.document.get_mut("auths") else {
            return Vec::new();
        };
        let removed: Vec<String> = auths
            .keys()
            .filter(|entry_key| key_matches(entry_key, key))
            .cloned()
            .collect();
        for entry_key in &removed {
            auths.shift_remove(entry_key);
        }
        removed
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.document.get("auths").and_then(Value::as_object)
    }

    /// Checks the shape of everything Docker itself would refuse to load, so errors name the file at
    /// load time rather than surfacing later.
    fn validate(&self) -> Result<(), Error> {
        match self.document.get("auths") {
            None | Some(Value::Null) => {}
            Some(Value::Object(auths)) => {
                for (key, entry) in auths {
                    self.decode_entry(key, entry)?;
                }
            }
            Some(_) => return Err(self.invalid("auths", "expected an object")),
        }
        match self.document.get("credsStore") {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(_) => return Err(self.invalid("credsStore", "expected a string")),
        }
        match self.document.get("credHelpers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(helpers)) => {
                if let Some((key, _)) = helpers.iter().find(|(_, name)| !name.is_string()) {
                    return Err(self.invalid(&format!("credHelpers.{key}"), "expected a string"));
                }
            }
            Some(_) => return Err(self.invalid("credHelpers", "expected an object")),
        }
        Ok(())
    }

    /// Decodes one `auths` entry as Docker's `LoadFromReader` does: `auth` (base64 `user:password`)
    /// wins over separate `username`/`password` fields.
    fn decode_entry(&self, key: &str, entry: &Value) -> Result<AuthEntry, Error> {
        let entry = match entry {
            Value::Object(entry) => entry,
            Value::Null => return Ok(AuthEntry::default()),
            _ => return Err(self.invalid(&format!("auths.{key}"), "expected an object")),
        };
        let text = |name: &str| -> Result<String, Error> {
            match field(entry, name) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(text)) => Ok(text.clone()),
                Some(_) => Err(self.invalid(&format!("auths.{key}.{name}"), "expected a string")),
            }
        };
        let auth = text("auth")?;
        let (username, password) = if auth.is_empty() {
            (text("username")?, text("password")?)
        } else {
            decode_auth(&auth)
                .map_err(|reason| self.invalid(&format!("auths.{key}.auth"), reason))?
        };
        let non_empty = |value: String| Some(value).filter(|value| !value.is_empty());
        Ok(AuthEntry {
            username,
            password,
            identity_token: non_empty(text("identitytoken")?),
            registry_token: non_empty(text("registrytoken")?),
        })
    }

    fn invalid(&self, field: &str, reason: &str) -> Error {
        Error::InvalidField {
            path: self.path.clone(),
            field: field.to_owned(),
            reason: reason.to_owned(),
        }
    }
}

/// Go's decoder matches struct fields case-insensitively; prefer the exact spelling.
fn field<'a>(entry: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    entry.get(name).or_else(|| {
        entry
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// The `auth` field Docker writes: base64 of `user:password`, or nothing when both are empty.
pub(crate) fn encode_auth(username: &str, password: &str) -> Option<String> {
    if username.is_empty() && password.is_empty() {
        return None;
    }
    Some(BASE64.encode(format!("{username}:{password}")))
}

/// Docker's `decodeAuth`. The reason never quotes the decoded text: it holds the password.
fn decode_auth(auth: &str) -> Result<(String, String), &'static str> {
    // Go's decoder skips line breaks inside base64.
    let compact: String = auth.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    let decoded = BASE64.decode(compact).map_err(|_| "not valid base64")?;
    let decoded = String::from_utf8(decoded).map_err(|_| "not valid UTF-8 once decoded")?;
    match decoded.split_once(':') {
        Some((username, password)) if !username.is_empty() => {
            Ok((username.to_owned(), password.trim_matches('\0').to_owned()))
        }
        _ => Err("expected base64 of \"username:password\""),
    }
}

/// Replaces `path` with `contents` so that readers see the old file or the new one, never a mixture.
///
/// Like Docker: the directory is created 0700; the new file is 0600, or keeps the mode of the file it
/// replaces; a symlinked config.json is updated at its target.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let write_error = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let target = resolve_symlinks(path).map_err(write_error)?;
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        // A bare file name: the caller chose a relative path.
        _ => PathBuf::from("."),
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(write_error)?;
    let existing_mode = fs::metadata(&target)
        .ok()
        .map(|metadata| metadata.permissions().mode() & 0o7777);

    let (temp_path, mut temp) = create_temp_file(&dir, &target).map_err(write_error)?;
    let written = (|| {
        temp.write_all(contents)?;
        if let Some(mode) = existing_mode {
            temp.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        temp.sync_all()?;
        drop(temp);
        fs::rename(&temp_path, &target)?;
        // Make the rename itself durable.
        fs::File::open(&dir)?.sync_all()
    })();
    if let Err(source) = written {
        // Best effort: the temporary file is ours and useless now; the write error is what matters.
        let _ = fs::remove_file(&temp_path);
        return Err(write_error(source));
    }
    Ok(())
}

/// Follows `path` while it is a symlink (dangling targets included, as Docker allows).
fn resolve_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_owned();
    // The kernel's own limit for nested symlinks.
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other(format!(
        "too many levels of symbolic links at {}",
        path.display()
    )))
}

/// Creates a new file, mode 0600, next to `target`, under a name no one else is using.
fn create_temp_file(dir: &Path, target: &Path) -> io::Result<(PathBuf, fs::File)> {
    let base = target
        .file_name()
        .map_or_else(|| CONFIG_FILE_NAME.into(), |name| name.to_string_lossy());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let mut last_error = None;
    for attempt in 0..100u32 {
        let temp_path = dir.join(format!(
            ".{base}.{}.{}.tmp",
            std::process::id(),
            nanos.wrapping_add(attempt)
        ));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp_path)
        {
            Ok(file) => return Ok((temp_path, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last_error = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_auth_follows_docker() {
        assert_eq!(
            decode_auth(&BASE64.encode("user:pa:ss\0")).unwrap(),
            ("user".to_owned(), "pa:ss".to_owned())
        );
        assert_eq!(
            decode_auth(&BASE64.encode("user:")).unwrap(),
            ("user".to_owned(), String::new())
        );
        assert!(decode_auth(&BASE64.encode(":password")).is_err());
        assert!(decode_auth(&BASE64.encode("no-colon")).is_err());
        assert!(decode_auth("%%%").is_err());
    }

    #[test]
    fn encode_auth_is_empty_for_an_empty_login() {
        assert_eq!(encode_auth("", ""), None);
        assert_eq!(encode_auth("user", "pass").as_deref(), Some("dXNlcjpwYXNz"));
        assert_eq!(encode_auth("user", "").as_deref(), Some("dXNlcjo="));
    }
}
