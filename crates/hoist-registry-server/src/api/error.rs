//! The spec's error codes, their HTTP statuses and messages, and the JSON error body.

use serde_json::{Value, json};

/// An error code of the OCI distribution spec 1.1, plus the ones distribution adds that clients see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    /// distribution: an upload chunk out of order or a bad `Content-Range`.
    RangeInvalid,
    /// distribution: `n` in a list request is not a usable number.
    PaginationNumberInvalid,
    /// distribution's catch-all for server-side failures.
    Unknown,
    /// distribution: the service is unavailable (read-only mode, shutting down).
    Unavailable,
}

impl ErrorCode {
    /// Every code, in the spec's order then distribution's.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::BlobUnknown,
        ErrorCode::BlobUploadInvalid,
        ErrorCode::BlobUploadUnknown,
        ErrorCode::DigestInvalid,
        ErrorCode::ManifestBlobUnknown,
        ErrorCode::ManifestInvalid,
        ErrorCode::ManifestUnknown,
        ErrorCode::NameInvalid,
        ErrorCode::NameUnknown,
        ErrorCode::SizeInvalid,
        ErrorCode::Unauthorized,
        ErrorCode::Denied,
        ErrorCode::Unsupported,
        ErrorCode::TooManyRequests,
        ErrorCode::RangeInvalid,
        ErrorCode::PaginationNumberInvalid,
        ErrorCode::Unknown,
        ErrorCode::Unavailable,
    ];

    /// The code as it appears in the JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BlobUnknown => "BLOB_UNKNOWN",
            ErrorCode::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            ErrorCode::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            ErrorCode::DigestInvalid => "DIGEST_INVALID",
            ErrorCode::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ErrorCode::ManifestInvalid => "MANIFEST_INVALID",
            ErrorCode::ManifestUnknown => "MANIFEST_UNKNOWN",
            ErrorCode::NameInvalid => "NAME_INVALID",
            ErrorCode::NameUnknown => "NAME_UNKNOWN",
            ErrorCode::SizeInvalid => "SIZE_INVALID",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Denied => "DENIED",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::TooManyRequests => "TOOMANYREQUESTS",
            ErrorCode::RangeInvalid => "RANGE_INVALID",
            ErrorCode::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            ErrorCode::Unknown => "UNKNOWN",
            ErrorCode::Unavailable => "UNAVAILABLE",
        }
    }

    /// The HTTP status distribution answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BlobUnknown
            | ErrorCode::BlobUploadUnknown
            | ErrorCode::ManifestUnknown
            | ErrorCode::NameUnknown => 404,
            ErrorCode::BlobUploadInvalid
            | ErrorCode::DigestInvalid
            | ErrorCode::ManifestBlobUnknown
            | ErrorCode::ManifestInvalid
            | ErrorCode::NameInvalid
            | ErrorCode::SizeInvalid
            | ErrorCode::PaginationNumberInvalid => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Denied => 403,
            ErrorCode::Unsupported => 405,
            ErrorCode::RangeInvalid => 416,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::Unknown => 500,
            ErrorCode::Unavailable => 503,
        }
    }

    /// The spec's message for this code (distribution's for the codes the spec does not list).
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::BlobUnknown => "blob unknown to registry",
            ErrorCode::BlobUploadInvalid => "blob upload invalid",
            ErrorCode::BlobUploadUnknown => "blob upload unknown to registry",
            ErrorCode::DigestInvalid => "provided digest did not match uploaded content",
            ErrorCode::ManifestBlobUnknown => {
                "manifest references a manifest or blob unknown to registry"
            }
            ErrorCode::ManifestInvalid => "manifest invalid",
            ErrorCode::ManifestUnknown => "manifest unknown",
            ErrorCode::NameInvalid => "invalid repository name",
            ErrorCode::NameUnknown => "repository name not known to registry",
            ErrorCode::SizeInvalid => "provided length did not match content length",
            ErrorCode::Unauthorized => "authentication required",
            ErrorCode::Denied => "requested access to the resource is denied",
            ErrorCode::Unsupported => "the operation is unsupported",
            ErrorCode::TooManyRequests => "too many requests",
            ErrorCode::RangeInvalid => "invalid content range",
            ErrorCode::PaginationNumberInvalid => "invalid number of results requested",
            ErrorCode::Unknown => "unknown error",
            ErrorCode::Unavailable => "service unavailable",
        }
    }

    /// The code named by its JSON string, as a client reads it back.
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|known| known.as_str() == code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The spec's error body, `{"errors":[{"code","message","detail"}]}`. A `None` message is the code's
/// own message; a `None` detail is left out, as distribution leaves it out.
pub fn error_body(errors: &[(ErrorCode, Option<&str>, Option<Value>)]) -> Value {
    let errors: Vec<Value> = errors
        .iter()
        .map(|(code, message, detail)| {
            let mut entry = json!({
                "code": code.as_str(),
                "message": message.unwrap_or(code.message()),
            });
            if let (Some(detail), Value::Object(map)) = (detail, &mut entry) {
                map.insert("detail".to_owned(), detail.clone());
            }
            entry
        })
        .collect();
    json!({ "errors": errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_statuses_and_messages() {
        fn check(code: ErrorCode, text: &str, status: u16) {
            assert_eq!(code.as_str(), text);
            assert_eq!(code.http_status(), status, "{text}");
            assert_eq!(ErrorCode::from_code(text), Some(code));
            assert!(!code.message().is_empty());
        }
        check(ErrorCode::BlobUnknown, "BLOB_UNKNOWN", 404);
        check(ErrorCode::BlobUploadInvalid, "BLOB_UPLOAD_INVALID", 400);
        check(ErrorCode::BlobUploadUnknown, "BLOB_UPLOAD_UNKNOWN", 404);
        check(ErrorCode::DigestInvalid, "DIGEST_INVALID", 400);
        check(ErrorCode::ManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN", 400);
        check(ErrorCode::ManifestInvalid, "MANIFEST_INVALID", 400);
        check(ErrorCode::ManifestUnknown, "MANIFEST_UNKNOWN", 404);
        check(ErrorCode::NameInvalid, "NAME_INVALID", 400);
        check(ErrorCode::NameUnknown, "NAME_UNKNOWN", 404);
        check(ErrorCode::SizeInvalid, "SIZE_INVALID", 400);
        check(ErrorCode::Unauthorized, "UNAUTHORIZED", 401);
        check(ErrorCode::Denied, "DENIED", 403);
        check(ErrorCode::Unsupported, "UNSUPPORTED", 405);
        check(ErrorCode::TooManyRequests, "TOOMANYREQUESTS", 429);
        check(ErrorCode::RangeInvalid, "RANGE_INVALID", 416);
        check(
            ErrorCode::PaginationNumberInvalid,
            "PAGINATION_NUMBER_INVALID",
            400,
        );
        check(ErrorCode::Unknown, "UNKNOWN", 500);
        check(ErrorCode::Unavailable, "UNAVAILABLE", 503);
        assert_eq!(ErrorCode::from_code("NOPE"), None);
        assert_eq!(ErrorCode::ManifestUnknown.to_string(), "MANIFEST_UNKNOWN");
    }

    #[test]
    fn body_shape() {
        let body = error_body(&[
            (
                ErrorCode::BlobUnknown,
                None,
                Some(json!({"digest": "sha256:x"})),
            ),
            (ErrorCode::NameInvalid, Some("name too long"), None),
        ]);
        assert_eq!(
            body,
            json!({"errors": [
                {"code": "BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": {"digest": "sha256:x"}},
                {"code": "NAME_INVALID", "message": "name too long"},
            ]})
        );
        assert_eq!(error_body(&[]), json!({"errors": []}));
    }
}
