//! Blob uploads: cross-repository mount (201 mounted, 202 an upload session to use), upload sessions,
//! monolithic (one PUT) and chunked (PATCHes) pushes streamed from a re-openable source, and recovery
//! after a failed PATCH or PUT by asking the registry how many bytes it kept and going on from there.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use hoist_spec::Digest;
use reqwest::header::{
    CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION,
};
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;
use url::Url;

use crate::auth::scope::Scopes;
use crate::client::{Call, Outgoing, Target, header_str, invalid, unexpected};
use crate::endpoint::Endpoint;
use crate::endpoint::Route;
use crate::error::RegistryError;
use crate::repository::Repository;

/// Read size when streaming a source into a request body.
const BODY_CHUNK: usize = 256 * 1024;

/// Blob content that can be read again from any offset, so an upload can go on after a failure.
pub trait BlobReader: Send + Sync {
    type Reader: AsyncRead + Send + Unpin + 'static;

    /// A reader positioned at `offset`.
    fn open_at(&self, offset: u64) -> impl Future<Output = io::Result<Self::Reader>> + Send;
}

/// Blob content held in memory.
#[derive(Debug, Clone)]
pub struct BytesBlob(Bytes);

impl BytesBlob {
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        Self(bytes.into())
    }
}

impl BlobReader for BytesBlob {
    type Reader = io::Cursor<Bytes>;

    async fn open_at(&self, offset: u64) -> io::Result<Self::Reader> {
        let mut cursor = io::Cursor::new(self.0.clone());
        cursor.set_position(offset);
        Ok(cursor)
    }
}

/// Blob content in a file.
#[derive(Debug, Clone)]
pub struct FileBlob {
    path: PathBuf,
}

impl FileBlob {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

impl BlobReader for FileBlob {
    type Reader = tokio::fs::File;

    async fn open_at(&self, offset: u64) -> io::Result<Self::Reader> {
        let mut file = tokio::fs::File::open(&self.path).await?;
        file.seek(io::SeekFrom::Start(offset)).await?;
        Ok(file)
    }
}

/// Bytes of an upload sent so far, for progress bars. It can move back after a recovery, to the
/// offset the registry confirmed.
#[derive(Debug, Clone, Default)]
pub struct ProgressCounter(Arc<AtomicU64>);

impl ProgressCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, bytes: u64) {
        self.0.store(bytes, Ordering::Relaxed);
    }
}

/// How to push a blob.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// `None`: one PUT with the whole body; `Some(n)`: PATCHes of `n` bytes (raised to the registry's
    /// `OCI-Chunk-Min-Length`), then a PUT.
    pub chunk_size: Option<u64>,
    pub progress: Option<ProgressCounter>,
}

/// An upload in progress at the registry.
#[derive(Debug, Clone)]
pub struct UploadSession {
    endpoint: Endpoint,
    location: Url,
    offset: u64,
    min_chunk: u64,
}

impl UploadSession {
    /// Where the next request for this upload goes.
    pub fn location(&self) -> &str {
        self.location.as_str()
    }

    /// Bytes the registry has confirmed.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// What a cross-repository mount did.
#[derive(Debug, Clone)]
pub enum MountOutcome {
    /// The blob is now in the repository.
    Mounted,
    /// The registry did not mount it and opened an upload session instead.
    NotMounted(UploadSession),
}

/// `Range: 0-<last>` as bytes received. `0-0` is what distribution answers for an empty upload too,
/// so it counts as nothing unless exactly one byte is known to have been sent.
fn parse_upload_range(value: &str, sent_end: Option<u64>) -> Option<u64> {
    let value = value.trim();
    let value = value.strip_prefix("bytes=").unwrap_or(value);
    let (first, last) = value.split_once('-')?;
    let first: u64 = first.trim().parse().ok()?;
    let last: u64 = last.trim().parse().ok()?;
    if first != 0 {
        return None;
    }
    if last == 0 {
        return Some(if sent_end == Some(1) { 1 } else { 0 });
    }
    Some(last + 1)
}

/// A source failure seen while streaming a request body (kept so the error says it was the source).
type SourceFailure = Arc<Mutex<Option<io::Error>>>;

/// The request body for `len` bytes of `reader` starting at blob offset `start`, counting progress
/// and recording a read failure or a source that ends early.
fn body_stream<Rd: AsyncRead + Send + Unpin + 'static>(
    reader: Rd,
    start: u64,
    len: u64,
    progress: Option<ProgressCounter>,
    failure: SourceFailure,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let chunks = ReaderStream::with_capacity(reader.take(len), BODY_CHUNK);
    futures_util::stream::unfold(
        (chunks, 0u64, false),
        move |(mut chunks, mut sent, done)| {
            let progress = progress.clone();
            let failure = Arc::clone(&failure);
            async move {
                if done {
                    return None;
                }
                let record = |error: io::Error| {
                    let copy = io::Error::new(error.kind(), error.to_string());
                    *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
                    copy
                };
                match chunks.next().await {
                    Some(Ok(bytes)) => {
                        sent += bytes.len() as u64;
                        if let Some(progress) = &progress {
                            progress.set(start + sent);
                        }
                        Some((Ok(bytes), (chunks, sent, false)))
                    }
                    Some(Err(error)) => Some((Err(record(error)), (chunks, sent, true))),
                    None if sent < len => {
                        let error = io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("the content ended after {sent} of {len} bytes"),
                        );
                        Some((Err(record(error)), (chunks, sent, true)))
                    }
                    None => None,
                }
            }
        },
    )
}

/// What a request body is: nothing, or `len` bytes of a source from `start`.
struct BodyPart<'a, R> {
    source: &'a R,
    start: u64,
    len: u64,
}

impl Repository {
    /// Asks the registry to link `digest` from `from_repository` (same registry) into this repository,
    /// with a token for both (`repository:<this>:pull,push repository:<from>:pull`).
    pub async fn mount_blob(
        &self,
        digest: &Digest,
        from_repository: &str,
    ) -> Result<MountOutcome, RegistryError> {
        let target = self.target();
        // The serializer is not Send; it must be gone before the first await.
        let query = {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("mount", &digest.to_string());
            query.append_pair("from", from_repository);
            query.finish()
        };
        let scopes = self
            .push_scopes()
            .union(&Scopes::repository(from_repository, &["pull"]));
        let call = Call::new(
            Route::Write,
            scopes,
            Method::POST,
            format!("/v2/{}/blobs/uploads/?{query}", self.path()),
        );
        let exchange = self.client.execute(target, &call).await?;
        match exchange.response.status() {
            StatusCode::CREATED => Ok(MountOutcome::Mounted),
            StatusCode::ACCEPTED => Ok(MountOutcome::NotMounted(self.session_from(
                exchange.endpoint,
                &exchange.response,
                None,
            )?)),
            _ => Err(unexpected(target, &call.method, exchange.response).await),
        }
    }

    /// Opens an upload session.
    pub async fn start_upload(&self) -> Result<UploadSession, RegistryError> {
        let target = self.target();
        let call = Call::new(
            Route::Write,
            self.push_scopes(),
            Method::POST,
            format!("/v2/{}/blobs/uploads/", self.path()),
        );
        let exchange = self.client.execute(target, &call).await?;
        if exchange.response.status() != StatusCode::ACCEPTED {
            return Err(unexpected(target, &call.method, exchange.response).await);
        }
        self.session_from(exchange.endpoint, &exchange.response, None)
    }

    /// How many bytes of the upload the registry holds (GET on the upload URL, `Range: 0-<last>`).
    pub async fn upload_status(&self, session: &UploadSession) -> Result<u64, RegistryError> {
        Ok(self.status(session).await?.offset)
    }

    /// Abandons an upload session.
    pub async fn cancel_upload(&self, session: UploadSession) -> Result<(), RegistryError> {
        self.cancel(&session, self.client.inner.retry.attempts())
            .await
    }

    async fn cancel(&self, session: &UploadSession, attempts: u32) -> Result<(), RegistryError> {
        let target = self.target();
        let response = self
            .client
            .send_to(
                &session.endpoint,
                target,
                &self.push_scopes(),
                attempts,
                Outgoing {
                    method: Method::DELETE,
                    url: session.location.clone(),
                    headers: HeaderMap::new(),
                    body: None,
                },
            )
            .await?;
        if response.status().is_success() || response.status() == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(unexpected(target, &Method::DELETE, response).await)
        }
    }

    /// Pushes a blob of `size` bytes whose content hashes to `digest` in a new upload session.
    pub async fn push_blob<R: BlobReader>(
        &self,
        digest: &Digest,
        size: u64,
        source: &R,
        options: &PushOptions,
    ) -> Result<(), RegistryError> {
        let session = self.start_upload().await?;
        self.upload(session, digest, size, source, options).await
    }

    /// Pushes a blob through an existing session (from [`Repository::start_upload`] or a mount the
    /// registry declined). After a failed request (no answer, a dropped connection, 5xx, 429, 408,
    /// or 416 for an offset the registry disputes) it asks the registry for the upload's offset and
    /// goes on from there, within the retry policy; the count starts again whenever the offset
    /// advances. A session the registry forgot is restarted, unless the blob turns out to be complete.
    pub async fn upload<R: BlobReader>(
        &self,
        mut session: UploadSession,
        digest: &Digest,
        size: u64,
        source: &R,
        options: &PushOptions,
    ) -> Result<(), RegistryError> {
        let policy = self.client.inner.retry;
        let chunk = options
            .chunk_size
            .filter(|c| *c > 0)
            .map(|c| c.max(session.min_chunk));
        let mut failures = 0u32;
        let mut best_offset = session.offset;
        loop {
            let error = match self
                .upload_round(&mut session, digest, size, chunk, source, options)
                .await
            {
                Ok(()) => {
                    if let Some(progress) = &options.progress {
                        progress.set(size);
                    }
                    return Ok(());
                }
                Err(error) => error,
            };
            let recoverable = error.is_transient() || error.status() == Some(416);
            failures += 1;
            if !recoverable || failures >= policy.attempts() {
                // Leave nothing behind at the registry; its own expiry would too, later.
                if let Err(cancel_error) = self.cancel(&session, 1).await {
                    tracing::debug!(%cancel_error, "could not cancel the failed upload");
                }
                return Err(error);
            }
            tracing::warn!(
                registry = self.registry(),
                repository = self.path(),
                %digest,
                offset = session.offset,
                %error,
                "blob upload failed; asking the registry where to resume"
            );
            tokio::time::sleep(policy.backoff(failures)).await;
            match self.status(&session).await {
                Ok(status) => {
                    session.offset = status.offset;
                    if let Some(location) = status.location {
                        session.location = location;
                    }
                }
                Err(status_error) if status_error.is_not_found() => {
                    if self.blob_exists(digest).await? == Some(size) {
                        return Ok(());
                    }
                    tracing::warn!(registry = self.registry(), repository = self.path(), %digest, "upload session gone; starting again");
                    session = self.start_upload().await?;
                    best_offset = 0;
                }
                Err(status_error) => return Err(status_error),
            }
            if session.offset > best_offset {
                best_offset = session.offset;
                failures = 0;
            }
            if let Some(progress) = &options.progress {
                progress.set(session.offset);
            }
        }
    }

    /// One pass from the session's offset to the end: PATCHes (chunked) then the final PUT.
    async fn upload_round<R: BlobReader>(
        &self,
        session: &mut UploadSession,
        digest: &Digest,
        size: u64,
        chunk: Option<u64>,
        source: &R,
        options: &PushOptions,
    ) -> Result<(), RegistryError> {
        let target = self.target();
        if let Some(chunk) = chunk {
            while session.offset < size {
                let start = session.offset;
                let len = chunk.min(size - start);
                let mut headers = HeaderMap::new();
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                if let Ok(range) = HeaderValue::try_from(format!("{start}-{}", start + len - 1)) {
                    headers.insert(CONTENT_RANGE, range);
                }
                let response = self
                    .send_body(
                        session,
                        Method::PATCH,
                        session.location.clone(),
                        headers,
                        Some(BodyPart { source, start, len }),
                        digest,
                        options,
                    )
                    .await?;
                if response.status() != StatusCode::ACCEPTED
                    && response.status() != StatusCode::NO_CONTENT
                {
                    return Err(unexpected(target, &Method::PATCH, response).await);
                }
                let updated =
                    self.session_from(session.endpoint.clone(), &response, Some(start + len))?;
                session.location = updated.location;
                session.offset = updated.offset;
                if session.offset <= start {
                    return Err(invalid(
                        target,
                        session.location.as_str(),
                        &format!(
                            "the registry took none of the {len} bytes sent from offset {start}"
                        ),
                    ));
                }
            }
        }
        let mut url = session.location.clone();
        url.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let mut headers = HeaderMap::new();
        let body = if chunk.is_none() && session.offset < size {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            Some(BodyPart {
                source,
                start: session.offset,
                len: size - session.offset,
            })
        } else {
            None
        };
        let response = self
            .send_body(session, Method::PUT, url, headers, body, digest, options)
            .await?;
        if !response.status().is_success() {
            return Err(unexpected(target, &Method::PUT, response).await);
        }
        self.check_content_digest(response.headers(), digest)?;
        Ok(())
    }

    /// Sends an upload request with its body streamed from the source. After a 401 that renewed the
    /// credentials it is sent once more (the source is re-opened); other failures go to the caller.
    #[expect(
        clippy::too_many_arguments,
        reason = "one request's parts; a struct would only rename them"
    )]
    async fn send_body<R: BlobReader>(
        &self,
        session: &UploadSession,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Option<BodyPart<'_, R>>,
        digest: &Digest,
        options: &PushOptions,
    ) -> Result<reqwest::Response, RegistryError> {
        let target = self.target();
        let endpoint = &session.endpoint;
        let http = self.client.http(endpoint)?;
        let asked = self.push_scopes();
        let mut scopes = self.client.scopes_for(endpoint, &asked);
        let mut renewed = false;
        loop {
            let authorization = if endpoint.same_origin(&url) {
                self.client.authorization(endpoint, target, &scopes).await?
            } else {
                None
            };
            let failure = SourceFailure::default();
            let mut request = http
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            match &body {
                Some(part) => {
                    let reader = part.source.open_at(part.start).await.map_err(|source| {
                        RegistryError::Source {
                            digest: digest.clone(),
                            offset: part.start,
                            source,
                        }
                    })?;
                    let stream = body_stream(
                        reader,
                        part.start,
                        part.len,
                        options.progress.clone(),
                        Arc::clone(&failure),
                    );
                    request = request
                        .header(CONTENT_LENGTH, part.len)
                        .body(reqwest::Body::wrap_stream(stream));
                }
                None => request = request.header(CONTENT_LENGTH, 0).body(Vec::new()),
            }
            if let Some(authorization) = &authorization {
                request = authorization.apply(request);
            }
            let sent = request.send().await;
            if let Some(source) = failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                return Err(RegistryError::Source {
                    digest: digest.clone(),
                    offset: body.as_ref().map_or(0, |p| p.start),
                    source,
                });
            }
            let response = sent.map_err(|source| RegistryError::Transport {
                registry: self.registry().to_owned(),
                method: method.to_string(),
                url: url.to_string(),
                error: source,
            })?;
            if response.status() == StatusCode::UNAUTHORIZED
                && !renewed
                && self
                    .client
                    .learn_from_unauthorized(
                        endpoint,
                        authorization.as_ref(),
                        response.headers(),
                        &asked,
                        &mut scopes,
                    )
                    .await
            {
                renewed = true;
                continue;
            }
            return Ok(response);
        }
    }

    async fn status(&self, session: &UploadSession) -> Result<UploadStatus, RegistryError> {
        let target = self.target();
        let response = self
            .client
            .send_to(
                &session.endpoint,
                target,
                &self.push_scopes(),
                self.client.attempts_for(&session.endpoint, true),
                Outgoing {
                    method: Method::GET,
                    url: session.location.clone(),
                    headers: HeaderMap::new(),
                    body: None,
                },
            )
            .await?;
        if response.status() != StatusCode::NO_CONTENT && response.status() != StatusCode::OK {
            return Err(unexpected(target, &Method::GET, response).await);
        }
        let url = response.url().to_string();
        let offset = header_str(response.headers(), "range")
            .and_then(|range| parse_upload_range(range, None))
            .ok_or_else(|| invalid(target, &url, "the upload status has no usable Range header"))?;
        let location = header_str(response.headers(), LOCATION)
            .and_then(|location| response.url().join(location).ok());
        Ok(UploadStatus { offset, location })
    }

    /// The session a 202 describes: its `Location` (resolved against the request URL), `Range`, and
    /// `OCI-Chunk-Min-Length`. `sent_end` is the offset after the bytes just sent, if any.
    fn session_from(
        &self,
        endpoint: Endpoint,
        response: &reqwest::Response,
        sent_end: Option<u64>,
    ) -> Result<UploadSession, RegistryError> {
        let target: Target<'_> = self.target();
        let headers = response.headers();
        let location = header_str(headers, LOCATION)
            .ok_or_else(|| {
                invalid(
                    target,
                    response.url().as_str(),
                    "no Location for the upload",
                )
            })
            .and_then(|location| {
                response.url().join(location).map_err(|e| {
                    invalid(
                        target,
                        response.url().as_str(),
                        &format!("bad upload Location {location:?}: {e}"),
                    )
                })
            })?;
        let offset = header_str(headers, "range")
            .and_then(|range| parse_upload_range(range, sent_end))
            .or(sent_end)
            .unwrap_or(0);
        let min_chunk = header_str(headers, "oci-chunk-min-length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        Ok(UploadSession {
            endpoint,
            location,
            offset,
            min_chunk,
        })
    }
}

struct UploadStatus {
    offset: u64,
    location: Option<Url>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ranges() {
        assert_eq!(parse_upload_range("0-1023", None), Some(1024));
        assert_eq!(parse_upload_range("bytes=0-9", None), Some(10));
        assert_eq!(parse_upload_range("0-0", None), Some(0));
        assert_eq!(parse_upload_range("0-0", Some(1)), Some(1));
        assert_eq!(parse_upload_range("5-9", None), None);
        assert_eq!(parse_upload_range("junk", None), None);
    }

    #[tokio::test]
    async fn a_short_source_is_reported() {
        let failure = SourceFailure::default();
        let reader = io::Cursor::new(Bytes::from_static(b"abc"));
        let stream = body_stream(reader, 0, 5, None, Arc::clone(&failure));
        let items: Vec<_> = stream.collect().await;
        assert_eq!(items.len(), 2);
        assert!(items[1].is_err());
        let recorded = failure.lock().unwrap().take().unwrap();
        assert_eq!(recorded.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn progress_counts_from_the_start_offset() {
        let progress = ProgressCounter::new();
        let reader = BytesBlob::new(vec![7u8; 1000]).open_at(400).await.unwrap();
        let stream = body_stream(
            reader,
            400,
            600,
            Some(progress.clone()),
            SourceFailure::default(),
        );
        let total: usize = stream
            .map(|b| b.unwrap().len())
            .collect::<Vec<_>>()
            .await
            .iter()
            .sum();
        assert_eq!(total, 600);
        assert_eq!(progress.get(), 1000);
    }
}
