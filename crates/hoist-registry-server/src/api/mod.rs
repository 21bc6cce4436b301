//! The protocol vocabulary of the OCI distribution spec 1.1 (and distribution's extensions to it): error
//! codes and bodies, repository names, tags and references, routes, pagination, byte ranges, manifest
//! content negotiation, and the Docker Hub v1 search response. Pure functions, no I/O.

mod error;
mod name;
mod negotiate;
mod page;
mod query;
mod range;
mod route;
mod search;

pub use error::{ErrorCode, error_body};
pub use name::{
    NAME_TOTAL_LENGTH_MAX, NameError, Reference, ReferenceError, TAG_LENGTH_MAX, validate_name,
    validate_tag,
};
pub use negotiate::accepts_media_type;
pub use page::{Page, Pagination, PaginationError, next_link, paginate};
pub use query::{parse_query, percent_decode, percent_encode_query};
pub use range::{
    ByteRange, RangeError, parse_range, parse_upload_content_range, unsatisfied_content_range,
    upload_range_header,
};
pub use route::{Route, RouteError, parse_route};
pub use search::{SearchQuery, SearchResponse, SearchResult, search};

/// Response header naming the API version; Docker checks it on `GET /v2/`.
pub const API_VERSION_HEADER: &str = "Docker-Distribution-API-Version";
/// Its value.
pub const API_VERSION: &str = "registry/2.0";
/// Response header carrying the digest of the manifest or blob served or stored.
pub const CONTENT_DIGEST_HEADER: &str = "Docker-Content-Digest";
/// Response header carrying the upload session id.
pub const UPLOAD_UUID_HEADER: &str = "Docker-Upload-UUID";
/// Response header telling a client that a pushed manifest's `subject` was recorded (spec 1.1).
pub const OCI_SUBJECT_HEADER: &str = "OCI-Subject";
/// Response header listing the referrers filters the registry applied (`artifactType`).
pub const OCI_FILTERS_APPLIED_HEADER: &str = "OCI-Filters-Applied";
