//! Errors of the credential store; each carries the file or the helper program it concerns.

use std::path::PathBuf;

/// What can go wrong reading or writing credentials.
///
/// No variant carries a password or a token: helper output is kept only when the helper failed, and
/// then it is the helper's own error message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{} is not valid JSON: {source}", path.display())]
    InvalidJson {
        path: PathBuf,
        source: serde_json::Error,
    },

    /// The file is JSON, but a field Docker reads has the wrong shape (`auths` not an object, an `auth`
    /// that is not base64 `user:password`, ...).
    #[error("{}: {field}: {reason}", path.display())]
    InvalidField {
        path: PathBuf,
        field: String,
        reason: String,
    },

    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A `credsStore` or `credHelpers` value that cannot name a `docker-credential-*` program.
    #[error("invalid credential helper name {name:?} in {}", path.display())]
    InvalidHelperName { path: PathBuf, name: String },

    #[error("credential helper {program} not found in {}", display_dirs(searched))]
    HelperNotFound {
        program: String,
        searched: Vec<PathBuf>,
    },

    #[error("cannot run credential helper {}: {source}", program.display())]
    HelperSpawn {
        program: PathBuf,
        source: std::io::Error,
    },

    /// The helper exited unsuccessfully; `output` is what it printed (stdout, then stderr).
    #[error("credential helper {program} {action} failed ({status}): {output}")]
    HelperFailed {
        program: String,
        action: &'static str,
        status: String,
        output: String,
    },

    /// The helper succeeded but printed something that is not the protocol's JSON. The output itself is
    /// not kept: it may hold a secret.
    #[error("credential helper {program} {action} printed an invalid answer: {reason}")]
    HelperInvalidOutput {
        program: String,
        action: &'static str,
        reason: String,
    },
}

fn display_dirs(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "an empty search path".to_owned();
    }
    let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    dirs.join(":")
}
