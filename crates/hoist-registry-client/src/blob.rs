//! Blob reads: existence checks, a byte stream from an offset (`Range`, with the 206 `Content-Range`
//! checked and redirects to other hosts followed without credentials), and a download that resumes
//! from the bytes already delivered when the connection breaks, so the caller sees each byte once.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use hoist_spec::Digest;
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::{Method, StatusCode};

use crate::client::{Call, content_length, header_str, invalid, unexpected};
use crate::endpoint::{Route, Via};
use crate::error::RegistryError;
use crate::repository::Repository;

/// A blob's bytes from some offset on, as the registry streams them.
pub struct BlobStream {
    offset: u64,
    total_size: Option<u64>,
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, RegistryError>> + Send>>,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream")
            .field("offset", &self.offset)
            .field("total_size", &self.total_size)
            .finish_non_exhaustive()
    }
}

impl BlobStream {
    /// Where in the blob the first streamed byte is.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The whole blob's size, when the registry said.
    pub fn total_size(&self) -> Option<u64> {
        self.total_size
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes, RegistryError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// `bytes <first>-<last>/<total or *>`.
fn parse_content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let first: u64 = first.trim().parse().ok()?;
    let last: u64 = last.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        number => Some(number.parse().ok()?),
    };
    (first <= last).then_some((first, last, total))
}

impl Repository {
    /// The blob's size if the registry has it in this repository (HEAD on the registry itself, never a
    /// mirror: pushes rely on this to skip uploads).
    pub async fn blob_exists(&self, digest: &Digest) -> Result<Option<u64>, RegistryError> {
        let target = self.target();
        let call = Call::new(
            Route::At(Via::Registry),
            self.pull_scopes(),
            Method::HEAD,
            format!("/v2/{}/blobs/{digest}", self.path()),
        );
        let exchange = self.client.execute(target, &call).await?;
        let response = exchange.response;
        match response.status() {
            StatusCode::OK => content_length(response.headers()).map(Some).ok_or_else(|| {
                invalid(
                    target,
                    response.url().as_str(),
                    "the blob HEAD has no Content-Length",
                )
            }),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(unexpected(target, &call.method, response).await),
        }
    }

    /// Streams the blob from `offset` (mirrors first). With an offset, `Range: bytes=<offset>-` is
    /// sent and a 206's `Content-Range` must start there; a registry that ignores the range (200) has
    /// the skipped bytes dropped here. The digest is not checked: the caller hashes what it stores.
    pub async fn get_blob(
        &self,
        digest: &Digest,
        offset: u64,
    ) -> Result<BlobStream, RegistryError> {
        let target = self.target();
        let mut call = Call::new(
            Route::Read,
            self.pull_scopes(),
            Method::GET,
            format!("/v2/{}/blobs/{digest}", self.path()),
        );
        if offset > 0 {
            call = call.header(RANGE, &format!("bytes={offset}-"));
        }
        let exchange = self.client.execute(target, &call).await?;
        let response = exchange.response;
        let url = response.url().to_string();
        let length = content_length(response.headers());
        let (skip, total_size) = match response.status() {
            StatusCode::OK => {
                if offset > 0 {
                    tracing::debug!(%url, offset, "registry ignored the Range header; skipping bytes");
                }
                (offset, length)
            }
            StatusCode::PARTIAL_CONTENT if offset > 0 => {
                let header = header_str(response.headers(), CONTENT_RANGE).unwrap_or_default();
                match parse_content_range(header) {
                    Some((first, _, total)) if first == offset => {
                        (0, total.or(length.map(|l| l + offset)))
                    }
                    _ => {
                        return Err(invalid(
                            target,
                            &url,
                            &format!(
                                "asked for bytes from {offset}, the registry sent Content-Range {header:?}"
                            ),
                        ));
                    }
                }
            }
            _ => return Err(unexpected(target, &call.method, response).await),
        };
        let registry = self.registry().to_owned();
        let repository = self.path().to_owned();
        let digest = digest.clone();
        struct State {
            body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
            position: u64,
            skip: u64,
            failed: bool,
        }
        let state = State {
            body: Box::pin(response.bytes_stream()),
            position: offset,
            skip,
            failed: false,
        };
        let inner = futures_util::stream::unfold(state, move |mut state| {
            let registry = registry.clone();
            let repository = repository.clone();
            let digest = digest.clone();
            async move {
                if state.failed {
                    return None;
                }
                loop {
                    match state.body.next().await? {
                        Ok(mut chunk) => {
                            if state.skip > 0 {
                                let dropped = state.skip.min(chunk.len() as u64);
                                state.skip -= dropped;
                                chunk =
                                    chunk.slice(usize::try_from(dropped).unwrap_or(chunk.len())..);
                            }
                            if chunk.is_empty() {
                                continue;
                            }
                            state.position += chunk.len() as u64;
                            return Some((Ok(chunk), state));
                        }
                        Err(source) => {
                            state.failed = true;
                            let error = RegistryError::BlobBody {
                                registry,
                                repository,
                                digest,
                                offset: state.position,
                                source,
                            };
                            return Some((Err(error), state));
                        }
                    }
                }
            }
        });
        Ok(BlobStream {
            offset,
            total_size,
            inner: Box::pin(inner),
        })
    }

    /// Downloads the blob from `offset` to `expected_size`, giving each byte to `sink` exactly once,
    /// in order. A connection that breaks mid-body is resumed with `Range` from the next byte, within
    /// the retry policy (the count starts again whenever bytes arrive). More bytes than
    /// `expected_size` is an error and the excess never reaches the sink. Returns the bytes delivered.
    pub async fn download_blob(
        &self,
        digest: &Digest,
        expected_size: u64,
        offset: u64,
        mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64, RegistryError> {
        let policy = self.client.inner.retry;
        let mut position = offset;
        let mut failures = 0u32;
        let too_many = |received: u64| RegistryError::BlobSize {
            registry: self.registry().to_owned(),
            repository: self.path().to_owned(),
            digest: digest.clone(),
            expected: expected_size,
            received,
        };
        while position < expected_size {
            let mut stream = self.get_blob(digest, position).await?;
            if let Some(total) = stream.total_size()
                && total > expected_size
            {
                return Err(too_many(total));
            }
            let started_at = position;
            let broke = loop {
                match stream.next().await {
                    Some(Ok(chunk)) => {
                        let end = position + chunk.len() as u64;
                        if end > expected_size {
                            return Err(too_many(end));
                        }
                        sink(&chunk).map_err(|source| RegistryError::Sink {
                            digest: digest.clone(),
                            offset: position,
                            source,
                        })?;
                        position = end;
                    }
                    Some(Err(error)) => break Some(error),
                    None => break None,
                }
            };
            if position > started_at {
                failures = 0;
            }
            match broke {
                None if position == expected_size => break,
                None => {
                    tracing::warn!(
                        registry = self.registry(),
                        repository = self.path(),
                        %digest,
                        position,
                        expected_size,
                        "blob body ended early; resuming"
                    );
                }
                Some(error) => {
                    tracing::warn!(
                        registry = self.registry(),
                        repository = self.path(),
                        %digest,
                        position,
                        %error,
                        "blob download broke off; resuming"
                    );
                    failures += 1;
                    if failures >= policy.attempts() {
                        return Err(error);
                    }
                    tokio::time::sleep(policy.backoff(failures)).await;
                    continue;
                }
            }
            failures += 1;
            if failures >= policy.attempts() {
                return Err(RegistryError::BlobSize {
                    registry: self.registry().to_owned(),
                    repository: self.path().to_owned(),
                    digest: digest.clone(),
                    expected: expected_size,
                    received: position,
                });
            }
            tokio::time::sleep(policy.backoff(failures)).await;
        }
        Ok(position - offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some((100, 199, Some(1000)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, 9, None)));
        assert_eq!(parse_content_range("bytes 9-5/10"), None);
        assert_eq!(parse_content_range("items 1-2/3"), None);
        assert_eq!(parse_content_range("bytes */1000"), None);
    }
}
