//! Why a build failed, in words that name the Dockerfile line, the path or the command.

use std::path::PathBuf;

use crate::context::ContextError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The Dockerfile does not parse: `Dockerfile.prod:12:5: ...` and the offending text.
    #[error("failed to solve: {file}:{line}:{column}: {message}\n  {line:>4} | {source_line}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
        source_line: String,
    },
    /// A step refers to something wrong (an unknown stage, a bad flag value, ...).
    #[error("{file}:{line}: {message}")]
    Step {
        file: String,
        line: usize,
        message: String,
    },
    /// `--target` names no stage.
    #[error("failed to solve: target stage \"{0}\" could not be found")]
    NoTarget(String),
    /// A RUN exited non-zero.
    #[error(
        "failed to solve: process \"{command}\" did not complete successfully: exit code: {code}\n{file}:{line}: {instruction}"
    )]
    RunFailed {
        command: String,
        code: i32,
        file: String,
        line: usize,
        instruction: String,
    },
    /// A COPY/ADD source is missing.
    #[error(
        "failed to solve: failed to compute cache key: failed to calculate checksum of ref: \"{path}\": not found\n{file}:{line}: {instruction}"
    )]
    SourceNotFound {
        path: String,
        file: String,
        line: usize,
        instruction: String,
    },
    /// The base image could not be had.
    #[error("failed to solve: {reference}: {message}")]
    BaseImage { reference: String, message: String },
    /// An entitlement was asked for that BuildKit does not know.
    #[error(
        "invalid value {0}: entitlements must be one of network.host, security.insecure, device"
    )]
    UnknownEntitlement(String),
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error(transparent)]
    Store(#[from] hoist_store::StoreError),
    #[error(transparent)]
    Runtime(#[from] hoist_runtime::RuntimeError),
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Layer(String),
}

pub(crate) fn io_error<'a>(
    action: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(std::io::Error) -> BuildError + 'a {
    move |source| BuildError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
