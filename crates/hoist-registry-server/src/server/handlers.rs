//! Request handling: one entry point that authenticates, routes with [`parse_route`], answers each
//! endpoint of the distribution API (and search, health, metrics), then adds the common headers, counts
//! the request and logs one line for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use hoist_spec::Digest;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Value, json};
use tokio::io::AsyncRead;
use tokio_util::io::{ReaderStream, StreamReader};

use super::AppState;
use super::response::{ApiError, empty, error, json_response, not_found, registry_error};
use crate::api::{
    API_VERSION, API_VERSION_HEADER, CONTENT_DIGEST_HEADER, ErrorCode, OCI_FILTERS_APPLIED_HEADER,
    OCI_SUBJECT_HEADER, Pagination, Reference, Route, SearchQuery, UPLOAD_UUID_HEADER,
    accepts_media_type, next_link, paginate, parse_query, parse_range, parse_route,
    parse_upload_content_range, search, unsatisfied_content_range, upload_range_header,
    validate_name,
};
use crate::storage::{ByteRange, ManifestReference, RegistryError, UploadId};

/// Largest manifest accepted, as distribution limits it.
const MANIFEST_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Read size when streaming blobs out. Large on purpose: hyper's write buffer is capped (see
/// `CONNECTION_READ_BUFFER`), so it flushes one chunk before it takes the next, and each flush should
/// be one big write; with 256 KiB chunks blob GETs fell to 0.8x nginx, with 1 MiB they match it.
const STREAM_CHUNK: usize = 1024 * 1024;
const OCI_INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// The answer, or the error to answer with.
type Reply = Result<Response, ApiError>;

/// The single handler every request goes through.
pub(super) async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let bytes_in = content_length(request.headers()).unwrap_or(0);
    let mut response = dispatch(&state, request).await;
    let headers = response.headers_mut();
    headers.insert(API_VERSION_HEADER, HeaderValue::from_static(API_VERSION));
    for (name, value) in &state.extra_headers {
        headers.append(name.clone(), value.clone());
    }
    let status = response.status().as_u16();
    let bytes_out = if method == Method::HEAD {
        0
    } else {
        content_length(response.headers()).unwrap_or(0)
    };
    state.metrics.record(&method, status, bytes_out, bytes_in);
    tracing::info!(
        method = %method,
        path = %path,
        status,
        bytes = bytes_out,
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

async fn dispatch(state: &AppState, request: Request) -> Response {
    let full_path = request.uri().path();
    let Some(path) = full_path.strip_prefix(state.prefix.as_str()) else {
        return not_found();
    };
    let path = if path.is_empty() { "/" } else { path };
    match path {
        "/health" | "/debug/health" => return json_response(StatusCode::OK, &json!({})),
        // `docker search` pings the v1 endpoint first (it only needs an answer).
        "/v1/_ping" => return json_response(StatusCode::OK, &json!({"standalone": true})),
        "/metrics" => {
            let mut response = Response::new(Body::from(state.metrics.render()));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            return response;
        }
        _ => {}
    }
    let protected = path == "/v2" || path.starts_with("/v2/") || path == "/v1/search";
    if protected && let Some(auth) = &state.auth {
        let credentials = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        if !auth.authorized(credentials).await {
            let mut response = error(ErrorCode::Unauthorized, None);
            if let Ok(challenge) = HeaderValue::try_from(auth.challenge()) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, challenge);
            }
            return response;
        }
    }
    let query = request.uri().query().unwrap_or("").to_owned();
    if path == "/v1/search" {
        return search_repositories(state, &query).await;
    }
    let route = match parse_route(path) {
        Ok(route) => route,
        Err(route_error) => {
            return match route_error.error_code() {
                // An invalid tag is a malformed push, but for a read it simply names nothing.
                Some(ErrorCode::ManifestInvalid) if request.method() != Method::PUT => {
                    error(ErrorCode::ManifestUnknown, Some(route_error.to_string()))
                }
                Some(code) => error(code, Some(route_error.to_string())),
                None => not_found(),
            };
        }
    };
    let (parts, body) = request.into_parts();
    let context = Context {
        state,
        method: &parts.method,
        headers: &parts.headers,
        query: &query,
    };
    let reply = match route {
        Route::Base => match *context.method {
            Method::GET | Method::HEAD => Ok(json_response(StatusCode::OK, &json!({}))),
            _ => Err(method_not_allowed()),
        },
        Route::Catalog => context.catalog().await,
        Route::Tags { name } => context.tags(&name).await,
        Route::Manifest { name, reference } => match *context.method {
            Method::GET | Method::HEAD => context.get_manifest(&name, &reference).await,
            Method::PUT => context.put_manifest(&name, &reference, body).await,
            Method::DELETE => context.delete_manifest(&name, &reference).await,
            _ => Err(method_not_allowed()),
        },
        Route::Blob { name, digest } => match *context.method {
            Method::GET | Method::HEAD => context.get_blob(&name, &digest).await,
            Method::DELETE => context.delete_blob(&name, &digest).await,
            _ => Err(method_not_allowed()),
        },
        Route::UploadStart { name } => match *context.method {
            Method::POST => context.start_upload(&name, body).await,
            _ => Err(method_not_allowed()),
        },
        Route::Upload { name, id } => {
            let id = UploadId::parse(&name, &id).map_err(ApiError::from);
            match id {
                Err(response) => Err(response),
                Ok(id) => match *context.method {
                    Method::GET => context.upload_status(&name, &id).await,
                    Method::PATCH => context.patch_upload(&name, &id, body).await,
                    Method::PUT => context.finish_upload(&name, &id, body).await,
                    Method::DELETE => context.cancel_upload(&name, &id).await,
                    _ => Err(method_not_allowed()),
                },
            }
        }
        Route::Referrers { name, digest } => match *context.method {
            Method::GET => context.referrers(&name, &digest).await,
            _ => Err(method_not_allowed()),
        },
    };
    reply.unwrap_or_else(ApiError::into_response)
}

fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::Unsupported,
        Some("method not allowed on this endpoint".to_owned()),
    )
    .with_status(StatusCode::METHOD_NOT_ALLOWED)
}

async fn search_repositories(state: &AppState, query: &str) -> Response {
    let search_query = SearchQuery::from_query(query);
    match state.storage.catalog().await {
        Ok(repositories) => {
            let found = search(
                &repositories,
                &search_query.q,
                search_query.n,
                search_query.page,
            );
            match serde_json::to_value(&found) {
                Ok(body) => json_response(StatusCode::OK, &body),
                Err(serialize_error) => {
                    tracing::error!(%serialize_error, "search response");
                    error(ErrorCode::Unknown, None)
                }
            }
        }
        Err(storage_error) => registry_error(&storage_error),
    }
}

/// How long an upload body may stall before the request is given up (a vanished client).
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Remembers whether reading a request body failed (the client vanished or stalled), so that the
/// storage error this causes is answered as the client's fault, not logged as a server failure.
#[derive(Debug, Clone, Default)]
struct BodyFailure(Arc<AtomicBool>);

impl BodyFailure {
    fn explain(&self, failure: RegistryError) -> ApiError {
        if self.0.load(Ordering::Relaxed) {
            ApiError::new(
                ErrorCode::BlobUploadInvalid,
                Some(format!("reading the request body failed: {failure}")),
            )
        } else {
            ApiError::from(failure)
        }
    }
}

/// A request stream as a reader for the storage layer, never buffered whole, failing when the client
/// sends nothing for [`BODY_IDLE_TIMEOUT`].
fn body_reader(body: Body) -> (impl AsyncRead + Send + Unpin, BodyFailure) {
    let failure = BodyFailure::default();
    let flag = failure.clone();
    let chunks = futures_util::stream::unfold(
        (body.into_data_stream(), flag),
        |(mut stream, flag)| async move {
            let item = match tokio::time::timeout(BODY_IDLE_TIMEOUT, stream.next()).await {
                Ok(None) => return None,
                Ok(Some(Ok(bytes))) => Ok(bytes),
                Ok(Some(Err(read_error))) => Err(std::io::Error::other(read_error)),
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no request body data for {BODY_IDLE_TIMEOUT:?}"),
                )),
            };
            if item.is_err() {
                flag.0.store(true, Ordering::Relaxed);
            }
            Some((item, (stream, flag)))
        },
    );
    (StreamReader::new(Box::pin(chunks)), failure)
}

/// A blob body read one chunk ahead of the socket. hyper writes a chunk and only then asks for the
/// next (its write buffer is bounded by the same per-connection limit that keeps uploads small), so
/// without this the file read and the socket write would take turns.
fn read_ahead<R: AsyncRead + Send + Unpin + 'static>(reader: R) -> Body {
    let (chunks_in, chunks_out) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        let mut chunks = ReaderStream::with_capacity(reader, STREAM_CHUNK);
        while let Some(chunk) = chunks.next().await {
            if chunks_in.send(chunk).await.is_err() {
                break; // the client went away
            }
        }
    });
    Body::from_stream(futures_util::stream::unfold(
        chunks_out,
        |mut chunks_out| async move { chunks_out.recv().await.map(|chunk| (chunk, chunks_out)) },
    ))
}

fn insert(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::try_from(value) {
        response.headers_mut().insert(name, value);
    }
}

fn storage_reference(reference: &Reference) -> ManifestReference {
    match reference {
        Reference::Tag(tag) => ManifestReference::Tag(tag.clone()),
        Reference::Digest(digest) => ManifestReference::Digest(digest.clone()),
    }
}

/// One request's shared inputs.
struct Context<'a> {
    state: &'a AppState,
    method: &'a Method,
    headers: &'a HeaderMap,
    query: &'a str,
}

impl Context<'_> {
    fn param(&self, key: &str) -> Option<String> {
        parse_query(self.query)
            .into_iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// A path under the registry's base, as Location and Link headers carry it.
    fn location(&self, path: &str) -> String {
        format!("{}{}{path}", self.state.host, self.state.prefix)
    }

    fn pagination(&self) -> Result<Pagination, ApiError> {
        Pagination::from_query(self.query)
            .map_err(|e| ApiError::new(e.error_code(), Some(e.to_string())))
    }

    fn list_response(&self, path: &str, body: Value, next: Option<(usize, &str)>) -> Response {
        let mut response = json_response(StatusCode::OK, &body);
        if let Some((n, last)) = next {
            insert(
                &mut response,
                "link",
                &next_link(&format!("{}{path}", self.state.prefix), n, last),
            );
        }
        response
    }

    async fn catalog(&self) -> Reply {
        if *self.method != Method::GET {
            return Err(method_not_allowed());
        }
        let pagination = self.pagination()?;
        let repositories = self.state.storage.catalog().await?;
        let page = paginate(&repositories, &pagination);
        let next = page
            .next_last
            .map(|last| (pagination.n.unwrap_or(page.entries.len()), last));
        Ok(self.list_response(
            "/v2/_catalog",
            json!({ "repositories": page.entries }),
            next,
        ))
    }

    async fn tags(&self, name: &str) -> Reply {
        if *self.method != Method::GET {
            return Err(method_not_allowed());
        }
        let pagination = self.pagination()?;
        let tags = self.state.storage.tags(name).await?;
        if tags.is_empty() && !self.has_manifests(name).await {
            return Err(ApiError::new(
                ErrorCode::NameUnknown,
                Some(format!("repository {name} has no manifests")),
            ));
        }
        let page = paginate(&tags, &pagination);
        let next = page
            .next_last
            .map(|last| (pagination.n.unwrap_or(page.entries.len()), last));
        Ok(self.list_response(
            &format!("/v2/{name}/tags/list"),
            json!({ "name": name, "tags": page.entries }),
            next,
        ))
    }

    async fn has_manifests(&self, name: &str) -> bool {
        use crate::storage::StorageBackend as _;
        self.state
            .storage
            .backend()
            .list(&format!("repositories/{name}/_manifests/revisions/sha256"))
            .await
            .is_ok_and(|entries| !entries.is_empty())
    }

    async fn get_manifest(&self, name: &str, reference: &Reference) -> Reply {
        let content = self
            .state
            .storage
            .get_manifest(name, &storage_reference(reference))
            .await?;
        let accept = self
            .headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok());
        if !accepts_media_type(accept, &content.media_type) {
            return Err(ApiError::new(
                ErrorCode::ManifestUnknown,
                Some(format!(
                    "manifest {reference} is a {}, which the Accept header does not list",
                    content.media_type
                )),
            ));
        }
        let length = content.bytes.len();
        let mut response = Response::new(if *self.method == Method::HEAD {
            Body::empty()
        } else {
            Body::from(content.bytes)
        });
        insert(&mut response, "content-type", &content.media_type);
        insert(&mut response, "content-length", &length.to_string());
        insert(
            &mut response,
            CONTENT_DIGEST_HEADER,
            &content.digest.to_string(),
        );
        insert(&mut response, "etag", &format!("\"{}\"", content.digest));
        Ok(response)
    }

    async fn put_manifest(&self, name: &str, reference: &Reference, body: Body) -> Reply {
        let too_large = || {
            ApiError::new(
                ErrorCode::SizeInvalid,
                Some(format!(
                    "manifests are limited to {MANIFEST_BODY_LIMIT} bytes"
                )),
            )
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
        };
        if content_length(self.headers).is_some_and(|length| length > MANIFEST_BODY_LIMIT as u64) {
            return Err(too_large());
        }
        let bytes = match Limited::new(body, MANIFEST_BODY_LIMIT).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(read_error) if read_error.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(too_large());
            }
            Err(read_error) => {
                return Err(ApiError::new(
                    ErrorCode::ManifestInvalid,
                    Some(format!("reading the manifest failed: {read_error}")),
                ));
            }
        };
        let media_type = self
            .header(header::CONTENT_TYPE)
            .map(|value| value.split(';').next().unwrap_or("").trim().to_owned())
            .filter(|value| !value.is_empty());
        let subject = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|value| {
                value
                    .get("subject")?
                    .get("digest")?
                    .as_str()
                    .map(str::to_owned)
            });
        let digest = self
            .state
            .storage
            .put_manifest(
                name,
                &storage_reference(reference),
                bytes.to_vec(),
                media_type.as_deref(),
            )
            .await?;
        let mut response = empty(StatusCode::CREATED);
        insert(
            &mut response,
            "location",
            &self.location(&format!("/v2/{name}/manifests/{digest}")),
        );
        insert(&mut response, CONTENT_DIGEST_HEADER, &digest.to_string());
        if let Some(subject) = subject {
            insert(&mut response, OCI_SUBJECT_HEADER, &subject);
        }
        Ok(response)
    }

    async fn delete_manifest(&self, name: &str, reference: &Reference) -> Reply {
        self.require_delete()?;
        let storage = &self.state.storage;
        match reference {
            Reference::Digest(digest) => storage.delete_manifest(name, digest).await,
            Reference::Tag(tag) => storage.delete_tag(name, tag).await,
        }?;
        Ok(empty(StatusCode::ACCEPTED))
    }

    fn require_delete(&self) -> Result<(), ApiError> {
        if self.state.delete_enabled {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Unsupported,
                Some("deletion is disabled (storage.delete.enabled)".to_owned()),
            ))
        }
    }

    async fn get_blob(&self, name: &str, digest: &Digest) -> Reply {
        let storage = &self.state.storage;
        let info = storage.blob_stat(name, digest).await?;
        let total = info.size;
        let range = match (self.method, self.header(header::RANGE)) {
            (&Method::GET, Some(range_header)) => match parse_range(range_header, total) {
                Ok(range) => range,
                Err(range_error) => {
                    return Err(ApiError::new(
                        range_error.error_code(),
                        Some(range_error.to_string()),
                    )
                    .with_header("content-range", unsatisfied_content_range(total)));
                }
            },
            _ => None,
        };
        let (status, length) = match range {
            Some(range) => (StatusCode::PARTIAL_CONTENT, range.len()),
            None => (StatusCode::OK, total),
        };
        let body = if *self.method == Method::HEAD {
            Body::empty()
        } else {
            let reader = storage
                .blob_read(
                    name,
                    digest,
                    range.map(|range| ByteRange {
                        offset: range.start,
                        len: range.len(),
                    }),
                )
                .await?;
            read_ahead(reader)
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        insert(&mut response, "content-type", "application/octet-stream");
        insert(&mut response, "content-length", &length.to_string());
        insert(&mut response, "accept-ranges", "bytes");
        insert(&mut response, CONTENT_DIGEST_HEADER, &digest.to_string());
        insert(&mut response, "etag", &format!("\"{digest}\""));
        if let Some(range) = range {
            insert(&mut response, "content-range", &range.content_range(total));
        }
        Ok(response)
    }

    async fn delete_blob(&self, name: &str, digest: &Digest) -> Reply {
        self.require_delete()?;
        self.state.storage.delete_blob(name, digest).await?;
        Ok(empty(StatusCode::ACCEPTED))
    }

    fn blob_created(&self, name: &str, digest: &Digest) -> Response {
        let mut response = empty(StatusCode::CREATED);
        insert(
            &mut response,
            "location",
            &self.location(&format!("/v2/{name}/blobs/{digest}")),
        );
        insert(&mut response, CONTENT_DIGEST_HEADER, &digest.to_string());
        response
    }

    fn upload_accepted(
        &self,
        status: StatusCode,
        name: &str,
        id: &UploadId,
        received: u64,
    ) -> Response {
        let mut response = empty(status);
        insert(
            &mut response,
            "location",
            &self.location(&format!("/v2/{name}/blobs/uploads/{id}")),
        );
        insert(&mut response, "range", &upload_range_header(received));
        insert(&mut response, UPLOAD_UUID_HEADER, id.as_str());
        response
    }

    fn digest_param(&self, key: &str) -> Result<Option<Digest>, ApiError> {
        match self.param(key) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|parse_error| {
                ApiError::new(
                    ErrorCode::DigestInvalid,
                    Some(format!("{key}={text:?}: {parse_error}")),
                )
            }),
        }
    }

    async fn start_upload(&self, name: &str, body: Body) -> Reply {
        let storage = &self.state.storage;
        if let Some(mount) = self.digest_param("mount")? {
            // A mount that cannot be honoured falls back to an ordinary upload session, as the spec
            // allows and Docker expects.
            if let Some(from) = self.param("from")
                && validate_name(&from).is_ok()
                && storage.blob_stat(&from, &mount).await.is_ok()
                && storage.link_blob(name, &mount).await.is_ok()
            {
                return Ok(self.blob_created(name, &mount));
            }
        } else if let Some(digest) = self.digest_param("digest")? {
            let id = storage.start_upload(name).await?;
            let (reader, failure) = body_reader(body);
            let stored = storage
                .finish_upload(name, &id, &digest, reader)
                .await
                .map_err(|e| failure.explain(e))?;
            return Ok(self.blob_created(name, &stored));
        }
        let id = storage.start_upload(name).await?;
        Ok(self.upload_accepted(StatusCode::ACCEPTED, name, &id, 0))
    }

    async fn upload_status(&self, name: &str, id: &UploadId) -> Reply {
        let received = self.state.storage.upload_status(name, id).await?;
        Ok(self.upload_accepted(StatusCode::NO_CONTENT, name, id, received))
    }

    async fn patch_upload(&self, name: &str, id: &UploadId, body: Body) -> Reply {
        let expected_offset = match self.header(header::CONTENT_RANGE) {
            None => None,
            Some(range_header) => {
                let range = parse_upload_content_range(range_header).map_err(|range_error| {
                    ApiError::new(range_error.error_code(), Some(range_error.to_string()))
                })?;
                Some(range.start)
            }
        };
        let (reader, failure) = body_reader(body);
        let received = self
            .state
            .storage
            .append_upload(name, id, expected_offset, reader)
            .await
            .map_err(|e| failure.explain(e))?;
        Ok(self.upload_accepted(StatusCode::ACCEPTED, name, id, received))
    }

    async fn finish_upload(&self, name: &str, id: &UploadId, body: Body) -> Reply {
        let Some(digest) = self.digest_param("digest")? else {
            return Err(ApiError::new(
                ErrorCode::DigestInvalid,
                Some("the digest query parameter is required to finish an upload".to_owned()),
            ));
        };
        let (reader, failure) = body_reader(body);
        let stored = self
            .state
            .storage
            .finish_upload(name, id, &digest, reader)
            .await
            .map_err(|e| failure.explain(e))?;
        Ok(self.blob_created(name, &stored))
    }

    async fn cancel_upload(&self, name: &str, id: &UploadId) -> Reply {
        self.state.storage.cancel_upload(name, id).await?;
        Ok(empty(StatusCode::NO_CONTENT))
    }

    async fn referrers(&self, name: &str, digest: &Digest) -> Reply {
        let artifact_type = self.param("artifactType").filter(|value| !value.is_empty());
        let descriptors = self
            .state
            .storage
            .referrers(name, digest, artifact_type.as_deref())
            .await?;
        let body = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX_MEDIA_TYPE,
            "manifests": descriptors,
        });
        let mut response = json_response(StatusCode::OK, &body);
        insert(&mut response, "content-type", OCI_INDEX_MEDIA_TYPE);
        if artifact_type.is_some() {
            insert(&mut response, OCI_FILTERS_APPLIED_HEADER, "artifactType");
        }
        Ok(response)
    }
}
