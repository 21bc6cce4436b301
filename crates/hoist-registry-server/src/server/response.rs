//! Building responses: the spec's JSON error bodies, and the mapping from storage errors to error codes
//! (a server fault is logged and answered `UNKNOWN`, a client mistake never is).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use crate::api::{ErrorCode, error_body};
use crate::storage::{RegistryError, StorageError};

/// A response with a JSON body.
pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = body.to_string();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An empty response with `status` and `Content-Length: 0`.
pub(super) fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

/// The spec's error response for `code`, with its status.
pub(super) fn error(code: ErrorCode, detail: Option<String>) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    error_with_status(status, code, detail)
}

/// The spec's error body under a status of our choosing (413 for an oversized manifest).
pub(super) fn error_with_status(
    status: StatusCode,
    code: ErrorCode,
    detail: Option<String>,
) -> Response {
    json_response(
        status,
        &error_body(&[(code, None, detail.map(Value::String))]),
    )
}

/// A plain 404 for paths that are no endpoint, as distribution answers.
pub(super) fn not_found() -> Response {
    let mut response = Response::new(Body::from("404 page not found\n"));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The spec's code for a storage error.
pub(super) fn registry_error_code(error: &RegistryError) -> ErrorCode {
    match error {
        RegistryError::BlobUnknown { .. } => ErrorCode::BlobUnknown,
        RegistryError::ManifestUnknown { .. } => ErrorCode::ManifestUnknown,
        RegistryError::RepositoryUnknown { .. } => ErrorCode::NameUnknown,
        RegistryError::UploadUnknown { .. } => ErrorCode::BlobUploadUnknown,
        RegistryError::UploadOffsetMismatch { .. } => ErrorCode::RangeInvalid,
        RegistryError::DigestMismatch { .. } | RegistryError::InvalidDigest { .. } => {
            ErrorCode::DigestInvalid
        }
        RegistryError::ManifestBlobUnknown { .. } => ErrorCode::ManifestBlobUnknown,
        RegistryError::ManifestInvalid(_) | RegistryError::InvalidTag { .. } => {
            ErrorCode::ManifestInvalid
        }
        RegistryError::Storage(StorageError::InvalidRange { .. }) => ErrorCode::RangeInvalid,
        RegistryError::Storage(StorageError::InvalidPath { .. }) => ErrorCode::NameInvalid,
        RegistryError::Storage(StorageError::NotFound { .. }) => ErrorCode::BlobUnknown,
        RegistryError::CorruptLink { .. } | RegistryError::Storage(StorageError::Io { .. }) => {
            ErrorCode::Unknown
        }
    }
}

/// The error response for a storage error; server faults are logged.
pub(super) fn registry_error(failure: &RegistryError) -> Response {
    let code = registry_error_code(failure);
    if code == ErrorCode::Unknown {
        tracing::error!(error = %failure, "storage failure");
    }
    error(code, Some(failure.to_string()))
}

/// An error answer in the making: the spec's code, its status (or one of our choosing), a detail and at
/// most one extra header. Small, so handlers can return it through `?`.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    detail: Option<String>,
    header: Option<(&'static str, String)>,
}

impl ApiError {
    pub(super) fn new(code: ErrorCode, detail: Option<String>) -> Self {
        Self {
            status: StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            detail,
            header: None,
        }
    }

    pub(super) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub(super) fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.header = Some((name, value));
        self
    }

    pub(super) fn into_response(self) -> Response {
        let mut response = error_with_status(self.status, self.code, self.detail);
        if let Some((name, value)) = self.header
            && let Ok(value) = HeaderValue::try_from(value)
        {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<RegistryError> for ApiError {
    fn from(failure: RegistryError) -> Self {
        let code = registry_error_code(&failure);
        if code == ErrorCode::Unknown {
            tracing::error!(error = %failure, "storage failure");
        }
        ApiError::new(code, Some(failure.to_string()))
    }
}
