//! The credential-helper protocol: `docker-credential-<name> get|store|erase|list`, as the Docker CLI
//! speaks it (docker-credential-helpers' `client` package).
//!
//! `get` and `erase` read the server URL on stdin; `store` reads `{"ServerURL","Username","Secret"}`;
//! `list` reads a dummy line and prints `{url: username}`. A helper reports a missing credential by
//! printing "credentials not found in native keychain" and exiting non-zero. Helpers write their
//! errors to stdout; we also look at stderr, which Docker lets through to the terminal.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Credential, Error, go_json};

/// What every helper prints when it holds nothing for a server.
const NOT_FOUND_MESSAGE: &str = "credentials not found in native keychain";

/// The `Username` that marks `Secret` as an identity token.
const TOKEN_USERNAME: &str = "<token>";

/// Helper programs are named `docker-credential-<name>`.
pub(crate) const PROGRAM_PREFIX: &str = "docker-credential-";

/// The directories of `$PATH` (absolute ones only: relative entries would depend on the current
/// directory).
pub(crate) fn path_dirs() -> Vec<PathBuf> {
    std::env::var_os("PATH")
        .map(|path| search_path_dirs(&path))
        .unwrap_or_default()
}

fn search_path_dirs(path: &OsString) -> Vec<PathBuf> {
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .collect()
}

/// A located `docker-credential-<name>` program.
#[derive(Debug)]
pub(crate) struct Helper {
    program: String,
    path: PathBuf,
}

#[derive(Serialize)]
struct HelperCredentials<'a> {
    #[serde(rename = "ServerURL")]
    server_url: &'a str,
    #[serde(rename = "Username")]
    username: &'a str,
    #[serde(rename = "Secret")]
    secret: &'a str,
}

impl Helper {
    /// Finds `docker-credential-<name>` in the first of `search_dirs` that has it as an executable file.
    /// `config_path` is only for the error when `name` cannot be a program name.
    pub(crate) fn locate(
        name: &str,
        search_dirs: &[PathBuf],
        config_path: &Path,
    ) -> Result<Self, Error> {
        if name.is_empty() || name.contains(['/', '\0']) {
            return Err(Error::InvalidHelperName {
                path: config_path.to_owned(),
                name: name.to_owned(),
            });
        }
        let program = format!("{PROGRAM_PREFIX}{name}");
        let found = search_dirs
            .iter()
            .map(|dir| dir.join(&program))
            .find(|candidate| is_executable_file(candidate));
        match found {
            Some(path) => Ok(Helper { program, path }),
            None => Err(Error::HelperNotFound {
                program,
                searched: search_dirs.to_vec(),
            }),
        }
    }

    /// `get`: the credential the helper holds for `server_url`, `None` when it holds none.
    pub(crate) fn get(&self, server_url: &str) -> Result<Option<Credential>, Error> {
        const ACTION: &str = "get";
        let output = self.run(ACTION, server_url.as_bytes())?;
        if !output.status.success() {
            return if is_not_found(&output) {
                Ok(None)
            } else {
                Err(self.failed(ACTION, &output))
            };
        }
        let answer = match first_json_value(&output.stdout) {
            Some(Ok(Value::Object(answer))) => answer,
            Some(Ok(Value::Null)) => Map::new(),
            Some(Ok(_)) => return Err(self.invalid_output(ACTION, "expected a JSON object")),
            Some(Err(error)) => {
                return Err(self.invalid_output(ACTION, &format!("not JSON: {error}")));
            }
            None => return Err(self.invalid_output(ACTION, "no output")),
        };
        let username = self.text_field(ACTION, &answer, "Username")?;
        let secret = self.text_field(ACTION, &answer, "Secret")?;
        if username == TOKEN_USERNAME {
            return Ok(Some(Credential {
                username: String::new(),
                password: String::new(),
                identity_token: Some(secret).filter(|token| !token.is_empty()),
            })
            .filter(|credential| credential.identity_token.is_some()));
        }
        if username.is_empty() && secret.is_empty() {
            return Ok(None);
        }
        Ok(Some(Credential {
            username,
            password: secret,
            identity_token: None,
        }))
    }

    /// `store`: hands the credential to the helper; an identity token goes as Username `<token>`.
    pub(crate) fn store(&self, server_url: &str, credential: &Credential) -> Result<(), Error> {
        const ACTION: &str = "store";
        let (username, secret) = match credential.identity_token.as_deref() {
            Some(token) if !token.is_empty() => (TOKEN_USERNAME, token),
            _ => (credential.username.as_str(), credential.password.as_str()),
        };
        // Serialising three strings to memory cannot fail.
        let input = go_json::encode_line(&HelperCredentials {
            server_url,
            username,
            secret,
        })
        .unwrap_or_default();
        let output = self.run(ACTION, &input)?;
        if output.status.success() {
            Ok(())
        } else {
            Err(self.failed(ACTION, &output))
        }
    }

    /// `erase`: `true` when the helper removed a credential, `false` when it held none.
    pub(crate) fn erase(&self, server_url: &str) -> Result<bool, Error> {
        const ACTION: &str = "erase";
        let output = self.run(ACTION, server_url.as_bytes())?;
        if output.status.success() {
            Ok(true)
        } else if is_not_found(&output) {
            Ok(false)
        } else {
            Err(self.failed(ACTION, &output))
        }
    }

    /// `list`: the server URLs the helper holds credentials for.
    pub(crate) fn list(&self) -> Result<Vec<String>, Error> {
        const ACTION: &str = "list";
        let output = self.run(ACTION, b"unused")?;
        if !output.status.success() {
            return if is_not_found(&output) {
                Ok(Vec::new())
            } else {
                Err(self.failed(ACTION, &output))
            };
        }
        match first_json_value(&output.stdout) {
            Some(Ok(Value::Object(servers))) => Ok(servers.keys().cloned().collect()),
            Some(Ok(Value::Null)) => Ok(Vec::new()),
            Some(Ok(_)) => Err(self.invalid_output(ACTION, "expected a JSON object")),
            Some(Err(error)) => Err(self.invalid_output(ACTION, &format!("not JSON: {error}"))),
            None => Err(self.invalid_output(ACTION, "no output")),
        }
    }

    /// Runs `<program> <action>` with `input` on stdin and collects its output.
    fn run(&self, action: &'static str, input: &[u8]) -> Result<Output, Error> {
        let spawn_error = |source| Error::HelperSpawn {
            program: self.path.clone(),
            source,
        };
        let mut child = Command::new(&self.path)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        let stdin = child.stdin.take();
        // Feed stdin while the output is drained, so neither side can fill a pipe and stall the other.
        std::thread::scope(|scope| {
            if let Some(mut stdin) = stdin {
                scope.spawn(move || {
                    // A helper may exit without reading its input; its exit status says what happened.
                    let _ = stdin.write_all(input);
                });
            }
            child.wait_with_output()
        })
        .map_err(spawn_error)
    }

    fn text_field(
        &self,
        action: &'static str,
        answer: &Map<String, Value>,
        name: &str,
    ) -> Result<String, Error> {
        // Go's decoder matches field names case-insensitively; prefer the exact spelling.
        let value = answer.get(name).or_else(|| {
            answer
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value)
        });
        match value {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(text)) => Ok(text.clone()),
            Some(_) => Err(self.invalid_output(action, &format!("{name} is not a string"))),
        }
    }

    fn failed(&self, action: &'static str, output: &Output) -> Error {
        let printed: Vec<String> = [&output.stdout, &output.stderr]
            .into_iter()
            .map(|bytes| String::from_utf8_lossy(bytes).trim().to_owned())
            .filter(|text| !text.is_empty())
            .collect();
        Error::HelperFailed {
            program: self.program.clone(),
            action,
            status: output.status.to_string(),
            output: if printed.is_empty() {
                "no output".to_owned()
            } else {
                printed.join("\n")
            },
        }
    }

    fn invalid_output(&self, action: &'static str, reason: &str) -> Error {
        Error::HelperInvalidOutput {
            program: self.program.clone(),
            action,
            reason: reason.to_owned(),
        }
    }
}

fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

fn is_not_found(output: &Output) -> bool {
    [&output.stdout, &output.stderr]
        .into_iter()
        .any(|bytes| String::from_utf8_lossy(bytes).trim() == NOT_FOUND_MESSAGE)
}

/// The first JSON value of `bytes`, ignoring what follows, as Go's `json.Decoder.Decode` reads it.
fn first_json_value(bytes: &[u8]) -> Option<serde_json::Result<Value>> {
    serde_json::Deserializer::from_slice(bytes)
        .into_iter::<Value>()
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_path_entries_are_ignored() {
        let dirs = search_path_dirs(&OsString::from("/usr/bin:bin::./x:/opt/tools"));
        assert_eq!(
            dirs,
            [PathBuf::from("/usr/bin"), PathBuf::from("/opt/tools")]
        );
    }

    #[test]
    fn helper_names_cannot_escape_the_search_dirs() {
        let error = Helper::locate(
            "../evil",
            &[PathBuf::from("/usr/bin")],
            Path::new("/c.json"),
        )
        .unwrap_err();
        assert!(matches!(error, Error::InvalidHelperName { .. }), "{error}");
    }

    #[test]
    fn a_missing_program_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let error =
            Helper::locate("nothere", &[dir.path().to_owned()], Path::new("/c.json")).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("docker-credential-nothere"), "{message}");
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
    }

    #[test]
    fn a_file_that_is_not_executable_is_not_a_helper() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-credential-plain"), "#!/bin/sh\n").unwrap();
        let error =
            Helper::locate("plain", &[dir.path().to_owned()], Path::new("/c.json")).unwrap_err();
        assert!(matches!(error, Error::HelperNotFound { .. }), "{error}");
    }
}
