//! The client's typed errors, each carrying its evidence (registry, repository, URL, HTTP status, the
//! registry's error code and message, digests expected and found), and the parsing of registry error bodies.

use std::fmt;

use hoist_spec::Digest;
use serde::Deserialize;

/// Everything a registry operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A configuration value cannot be used (a mirror URL, an insecure-registry CIDR, a proxy URL).
    #[error("invalid registry configuration {key} = {value:?}: {message}")]
    Config {
        key: String,
        value: String,
        message: String,
    },
    /// A registry name that is not `host[:port]`.
    #[error("invalid registry name {registry:?}: {message}")]
    InvalidRegistry { registry: String, message: String },
    /// A request was aimed at a mirror the configuration does not list for the registry.
    #[error("{mirror} is not a configured mirror of {registry}")]
    NotAMirror { registry: String, mirror: String },
    /// Trust or identity files under a certs.d directory are unreadable or invalid.
    #[error("TLS setup for {host} from {path}: {message}")]
    TlsFiles {
        host: String,
        path: String,
        message: String,
    },
    /// The HTTP client for a host could not be built.
    #[error("cannot set up the HTTP client for {host}: {message}")]
    ClientSetup { host: String, message: String },
    /// The credential store could not answer.
    #[error("cannot read credentials for {registry}: {message}")]
    Credentials { registry: String, message: String },
    /// No answer at all: connection refused, TLS failure, timeout, a connection dropped.
    // Not a `#[source]`: the message already spells out the whole cause chain (reqwest's own Display
    // stops at "error sending request"), and `{:#}` would print it twice.
    #[error("{method} {url}: {}", transport_message(error))]
    Transport {
        registry: String,
        method: String,
        url: String,
        error: reqwest::Error,
    },
    /// An endpoint that failed its `/v2/` check moments ago, skipped for now.
    #[error("{registry}: endpoint {endpoint} skipped: it failed recently ({message})")]
    EndpointUnavailable {
        registry: String,
        endpoint: String,
        message: String,
    },
    /// The registry (or its token service) refused the credentials, or wants some.
    #[error("{registry}: unauthorized: {message} (HTTP {status})")]
    Unauthorized {
        registry: String,
        repository: Option<String>,
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// An HTTP status the operation does not expect, with the registry's error code and message.
    #[error("{0}")]
    Status(Box<StatusError>),
    /// The token service answered with something that is not a token.
    #[error("token service {realm} for {registry}: {message}")]
    Token {
        registry: String,
        realm: String,
        message: String,
    },
    /// A response is malformed: a missing Location, unparsable JSON, a bad Content-Range.
    #[error("{registry}: invalid response from {url}: {message}")]
    InvalidResponse {
        registry: String,
        url: String,
        message: String,
    },
    /// Content does not hash to the digest it was asked for or announced with.
    #[error(
        "{registry}/{repository}: {what} digest mismatch: expected {expected}, the received bytes hash to {found}"
    )]
    DigestMismatch {
        registry: String,
        repository: String,
        what: &'static str,
        expected: Digest,
        found: Digest,
    },
    /// The registry's `Docker-Content-Digest` header names other content than what was received or sent.
    #[error(
        "{registry}/{repository}: the registry's Docker-Content-Digest {header} differs from the content's digest {computed}"
    )]
    HeaderDigestMismatch {
        registry: String,
        repository: String,
        header: String,
        computed: Digest,
    },
    /// A manifest above the size limit.
    #[error(
        "{registry}/{repository}: manifest {reference} is larger than the {limit} bytes allowed"
    )]
    ManifestTooLarge {
        registry: String,
        repository: String,
        reference: String,
        limit: u64,
    },
    /// A Docker schema 1 manifest, which hoist does not read.
    #[error(
        "{registry}/{repository}: manifest {reference} is Docker image manifest schema 1 ({media_type}), which is deprecated and not supported; re-push the image with a current client"
    )]
    SchemaV1 {
        registry: String,
        repository: String,
        reference: String,
        media_type: String,
    },
    /// The registry sent more (or fewer) bytes than the blob's size.
    #[error(
        "{registry}/{repository}: blob {digest} should be {expected} bytes but the registry sent {received}"
    )]
    BlobSize {
        registry: String,
        repository: String,
        digest: Digest,
        expected: u64,
        received: u64,
    },
    /// A blob body broke off and could not be resumed within the retry policy.
    #[error("{registry}/{repository}: reading blob {digest} broke off at byte {offset}: {source}")]
    BlobBody {
        registry: String,
        repository: String,
        digest: Digest,
        offset: u64,
        #[source]
        source: reqwest::Error,
    },
    /// The caller's sink refused bytes.
    #[error("writing blob {digest} at byte {offset}: {source}")]
    Sink {
        digest: Digest,
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    /// The caller's blob source could not be read (or ended early).
    #[error("reading the content of blob {digest} at byte {offset} for upload: {source}")]
    Source {
        digest: Digest,
        offset: u64,
        #[source]
        source: std::io::Error,
    },
}

impl RegistryError {
    /// The HTTP status the registry answered with, when the failure is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { status, .. } => Some(*status),
            Self::Status(failure) => Some(failure.status),
            _ => None,
        }
    }

    /// The registry's error code (`MANIFEST_UNKNOWN`, `DENIED`, ...), when it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Unauthorized { code, .. } => code.as_deref(),
            Self::Status(failure) => failure.code.as_deref(),
            _ => None,
        }
    }

    /// True when the registry said the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True when the failure is one a later attempt may not meet: no answer, a 5xx, 429 or 408.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::BlobBody { .. } | Self::EndpointUnavailable { .. } => {
                true
            }
            Self::Status(failure) => crate::retry::is_retryable_status(failure.status),
            _ => false,
        }
    }
}

fn transport_message(error: &reqwest::Error) -> String {
    // reqwest's Display stops at the outermost layer ("error sending request"); the cause says why.
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// An answer with an unexpected HTTP status: who was asked what, and what the registry said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusError {
    pub registry: String,
    pub repository: Option<String>,
    pub method: String,
    pub url: String,
    pub status: u16,
    /// The registry's error code (`MANIFEST_UNKNOWN`, `DENIED`, ...).
    pub code: Option<String>,
    pub message: Option<String>,
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.method, self.url)?;
        match (self.code.as_deref(), self.message.as_deref()) {
            (Some(code), Some(message)) => {
                write!(
                    f,
                    "{}: {message}",
                    code.to_ascii_lowercase().replace('_', " ")
                )?;
            }
            (Some(code), None) => write!(f, "{}", code.to_ascii_lowercase().replace('_', " "))?,
            (None, Some(message)) => write!(f, "{message}")?,
            (None, None) => write!(f, "unexpected response")?,
        }
        write!(f, " (HTTP {})", self.status)
    }
}

/// The first error a registry or token service put in a response body, in whichever of the usual shapes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
}

#[derive(Deserialize)]
struct DistributionErrors {
    #[serde(default)]
    errors: Vec<DistributionError>,
    /// Docker Hub's token service: `{"details": "incorrect username or password"}`.
    details: Option<String>,
    /// OAuth2: `{"error": "invalid_grant", "error_description": "..."}`.
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct DistributionError {
    code: Option<String>,
    message: Option<String>,
}

impl ErrorBody {
    /// Reads `{"errors":[{"code","message"}]}`, `{"details"}` or OAuth2's `{"error","error_description"}`;
    /// a short plain-text body is kept as the message.
    pub(crate) fn parse(body: &[u8]) -> Self {
        if let Ok(parsed) = serde_json::from_slice::<DistributionErrors>(body) {
            if let Some(first) = parsed.errors.into_iter().next() {
                return Self {
                    code: first.code.filter(|c| !c.is_empty()),
                    message: first.message.filter(|m| !m.is_empty()),
                };
            }
            if let Some(details) = parsed.details.filter(|d| !d.is_empty()) {
                return Self {
                    code: None,
                    message: Some(details),
                };
            }
            if parsed.error.is_some() || parsed.error_description.is_some() {
                return Self {
                    code: parsed.error,
                    message: parsed.error_description,
                };
            }
            return Self::default();
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() || text.len() > 200 || text.starts_with('<') {
            Self::default()
        } else {
            Self {
                code: None,
                message: Some(text.to_owned()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_in_each_shape() {
        assert_eq!(
            ErrorBody::parse(
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#
            ),
            ErrorBody {
                code: Some("MANIFEST_UNKNOWN".into()),
                message: Some("manifest unknown".into())
            }
        );
        assert_eq!(
            ErrorBody::parse(br#"{"details":"incorrect username or password"}"#).message,
            Some("incorrect username or password".into())
        );
        assert_eq!(
            ErrorBody::parse(br#"{"error":"invalid_grant","error_description":"expired"}"#),
            ErrorBody {
                code: Some("invalid_grant".into()),
                message: Some("expired".into())
            }
        );
        assert_eq!(
            ErrorBody::parse(b"404 page not found\n").message,
            Some("404 page not found".into())
        );
        assert_eq!(ErrorBody::parse(b"<html>...</html>"), ErrorBody::default());
    }

    #[test]
    fn status_errors_read_like_docker() {
        let error = RegistryError::Status(Box::new(StatusError {
            registry: "r.example".into(),
            repository: Some("app".into()),
            method: "GET".into(),
            url: "https://r.example/v2/app/manifests/x".into(),
            status: 404,
            code: Some("MANIFEST_UNKNOWN".into()),
            message: Some("manifest unknown".into()),
        }));
        assert_eq!(
            error.to_string(),
            "GET https://r.example/v2/app/manifests/x: manifest unknown: manifest unknown (HTTP 404)"
        );
        assert!(error.is_not_found());
        assert_eq!(error.code(), Some("MANIFEST_UNKNOWN"));
    }
}
