//! Matching a request path to an endpoint of the distribution API. Repository names contain slashes, so
//! the name runs greedily up to the last endpoint keyword, as distribution's anchored route patterns do.

use hoist_spec::{Digest, DigestError};

use super::error::ErrorCode;
use super::name::{NameError, Reference, ReferenceError, validate_name};

/// An endpoint of the distribution API, with its parameters validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags { name: String },
    /// `/v2/<name>/manifests/<reference>`
    Manifest { name: String, reference: Reference },
    /// `/v2/<name>/blobs/<digest>`
    Blob { name: String, digest: Digest },
    /// `/v2/<name>/blobs/uploads/`
    UploadStart { name: String },
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload { name: String, id: String },
    /// `/v2/<name>/referrers/<digest>`
    Referrers { name: String, digest: Digest },
}

/// Why a path is not an endpoint, with the spec's error code for each case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("no such endpoint: {path}")]
    NotFound { path: String },
    #[error(transparent)]
    Name(NameError),
    #[error(transparent)]
    Reference(ReferenceError),
    #[error(transparent)]
    Digest(DigestError),
    #[error("upload id {id:?} is not valid")]
    UploadId { id: String },
}

impl RouteError {
    /// The spec's code for this error; `None` for an unknown path (a plain 404 without an error body,
    /// as distribution answers). An invalid tag is `MANIFEST_INVALID`, the code for a PUT; a server may
    /// prefer `MANIFEST_UNKNOWN` when reading.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            RouteError::NotFound { .. } => None,
            RouteError::Name(_) => Some(ErrorCode::NameInvalid),
            RouteError::Reference(ReferenceError::Tag(_)) => Some(ErrorCode::ManifestInvalid),
            RouteError::Reference(ReferenceError::Digest(_)) | RouteError::Digest(_) => {
                Some(ErrorCode::DigestInvalid)
            }
            RouteError::UploadId { .. } => Some(ErrorCode::BlobUploadUnknown),
        }
    }
}

/// Parses the path of a request (no query; the server strips `http.prefix` first).
pub fn parse_route(path: &str) -> Result<Route, RouteError> {
    let not_found = || RouteError::NotFound {
        path: path.to_owned(),
    };
    let rest = path.strip_prefix("/v2").ok_or_else(not_found)?;
    if rest.is_empty() || rest == "/" {
        return Ok(Route::Base);
    }
    let rest = rest.strip_prefix('/').ok_or_else(not_found)?;
    if rest == "_catalog" {
        return Ok(Route::Catalog);
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let name_of = |taken: usize| -> Result<String, RouteError> {
        let count = segments.len().saturating_sub(taken);
        if count == 0 {
            return Err(not_found());
        }
        let name = segments[..count].join("/");
        validate_name(&name).map_err(RouteError::Name)?;
        Ok(name)
    };
    // Longest keyword patterns first, in distribution's route order.
    match segments.as_slice() {
        [.., "tags", "list"] => Ok(Route::Tags { name: name_of(2)? }),
        [.., "manifests", reference] => {
            let name = name_of(2)?;
            let reference = Reference::parse(reference).map_err(RouteError::Reference)?;
            Ok(Route::Manifest { name, reference })
        }
        [.., "blobs", "uploads", ""] => Ok(Route::UploadStart { name: name_of(3)? }),
        [.., "blobs", "uploads"] => Ok(Route::UploadStart { name: name_of(2)? }),
        [.., "blobs", "uploads", id] => {
            let name = name_of(3)?;
            if !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
            {
                return Err(RouteError::UploadId {
                    id: (*id).to_owned(),
                });
            }
            Ok(Route::Upload {
                name,
                id: (*id).to_owned(),
            })
        }
        [.., "blobs", digest] => {
            let name = name_of(2)?;
            let digest = digest.parse().map_err(RouteError::Digest)?;
            Ok(Route::Blob { name, digest })
        }
        [.., "referrers", digest] => {
            let name = name_of(2)?;
            let digest = digest.parse().map_err(RouteError::Digest)?;
            Ok(Route::Referrers { name, digest })
        }
        _ => Err(not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> Digest {
        Digest::of(b"hello")
    }

    #[test]
    fn routes() {
        let d = digest();
        fn check(path: &str, expected: Route) {
            assert_eq!(parse_route(path), Ok(expected), "{path}");
        }
        let name = |n: &str| n.to_owned();
        check("/v2/", Route::Base);
        check("/v2", Route::Base);
        check("/v2/_catalog", Route::Catalog);
        check(
            "/v2/nginx/tags/list",
            Route::Tags {
                name: name("nginx"),
            },
        );
        check(
            "/v2/library/nginx/manifests/latest",
            Route::Manifest {
                name: name("library/nginx"),
                reference: Reference::Tag("latest".to_owned()),
            },
        );
        check(
            &format!("/v2/a/b/c/manifests/{d}"),
            Route::Manifest {
                name: name("a/b/c"),
                reference: Reference::Digest(d.clone()),
            },
        );
        check(
            &format!("/v2/a/blobs/{d}"),
            Route::Blob {
                name: name("a"),
                digest: d.clone(),
            },
        );
        check(
            "/v2/a/b/blobs/uploads/",
            Route::UploadStart { name: name("a/b") },
        );
        check(
            "/v2/a/b/blobs/uploads",
            Route::UploadStart { name: name("a/b") },
        );
        check(
            "/v2/a/blobs/uploads/0f6c-42_x.y=",
            Route::Upload {
                name: name("a"),
                id: "0f6c-42_x.y=".to_owned(),
            },
        );
        check(
            &format!("/v2/a/referrers/{d}"),
            Route::Referrers {
                name: name("a"),
                digest: d.clone(),
            },
        );
        // Keywords inside the name: the last one decides.
        check(
            "/v2/manifests/blobs/tags/list",
            Route::Tags {
                name: name("manifests/blobs"),
            },
        );
        check(
            "/v2/tags/list/manifests/v1",
            Route::Manifest {
                name: name("tags/list"),
                reference: Reference::Tag("v1".to_owned()),
            },
        );
        check(
            &format!("/v2/blobs/uploads/x/blobs/{d}"),
            Route::Blob {
                name: name("blobs/uploads/x"),
                digest: d,
            },
        );
    }

    #[test]
    fn route_errors() {
        fn check(path: &str, expected: Option<ErrorCode>) {
            match parse_route(path) {
                Ok(route) => panic!("{path} matched {route:?}"),
                Err(error) => assert_eq!(error.error_code(), expected, "{path}: {error}"),
            }
        }
        check("/", None);
        check("/v1/search", None);
        check("/v2x", None);
        check("/v2/nginx", None);
        check("/v2/nginx/tags", None);
        check("/v2/manifests/latest", None);
        check("/v2/tags/list", None);
        check("/v2/Nginx/tags/list", Some(ErrorCode::NameInvalid));
        check("/v2/../x/manifests/latest", Some(ErrorCode::NameInvalid));
        check("/v2//x/manifests/latest", Some(ErrorCode::NameInvalid));
        check(
            &format!("/v2/{}/manifests/latest", "a".repeat(256)),
            Some(ErrorCode::NameInvalid),
        );
        check("/v2/x/manifests/-bad", Some(ErrorCode::ManifestInvalid));
        check("/v2/x/manifests/sha256:abc", Some(ErrorCode::DigestInvalid));
        check("/v2/x/blobs/notadigest", Some(ErrorCode::DigestInvalid));
        check("/v2/x/referrers/latest", Some(ErrorCode::DigestInvalid));
        check(
            "/v2/x/blobs/uploads/a%2Fb",
            Some(ErrorCode::BlobUploadUnknown),
        );
    }
}
