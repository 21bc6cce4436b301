//! The retry policy's arithmetic: which answers are worth another attempt, how long to wait before
//! it (doubling backoff, or the registry's `Retry-After` in seconds or as an HTTP date, capped).

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::config::RetryPolicy;
use crate::error::RegistryError;

/// 408, 429 and 5xx other than 501 (not implemented) and 505 (version not supported), which do not change.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429) || (status >= 500 && status != 501 && status != 505)
}

impl RetryPolicy {
    /// At least one attempt, whatever the configuration says.
    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// The wait after failed attempt number `attempt` (1-based): `initial_backoff` doubled per
    /// attempt, at most `max_backoff`.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }

    /// The wait after a retryable answer: the registry's `Retry-After` when it gave one (capped at
    /// `max_backoff`), the backoff otherwise.
    pub(crate) fn delay_after(&self, attempt: u32, headers: Option<&HeaderMap>) -> Duration {
        headers
            .and_then(|h| retry_after(h, Utc::now()))
            .map_or_else(|| self.backoff(attempt), |d| d.min(self.max_backoff))
    }
}

/// Sends the request `build` makes, up to `attempts` times: again after a connection failure or
/// timeout, and after a retryable status as long as attempts remain. The last response is returned
/// whatever its status; the caller judges it.
pub(crate) async fn send(
    policy: &RetryPolicy,
    attempts: u32,
    registry: &str,
    repository: Option<&str>,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, RegistryError> {
    let attempts = attempts.max(1);
    let mut attempt = 1;
    loop {
        let (http, request) = build().build_split();
        let request = request.map_err(|source| RegistryError::Transport {
            registry: registry.to_owned(),
            method: String::new(),
            url: String::new(),
            error: source,
        })?;
        let method = request.method().to_string();
        let url = request.url().to_string();
        match http.execute(request).await {
            Ok(response) => {
                let status = response.status().as_u16();
                if attempt < attempts && is_retryable_status(status) {
                    let wait = policy.delay_after(attempt, Some(response.headers()));
                    tracing::debug!(registry, repository, %method, %url, status, attempt, ?wait, "retrying");
                    drop(response);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                return Ok(response);
            }
            Err(source) => {
                if attempt < attempts
                    && !source.is_builder()
                    && !source.is_redirect()
                    && !is_certificate_error(&source)
                {
                    let wait = policy.backoff(attempt);
                    tracing::debug!(registry, repository, %method, %url, error = %source, attempt, ?wait, "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                return Err(RegistryError::Transport {
                    registry: registry.to_owned(),
                    method,
                    url,
                    error: source,
                });
            }
        }
    }
}

/// `Retry-After: <seconds>` or `Retry-After: <HTTP date>`, relative to `now`.
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&Utc) - now;
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// An untrusted or invalid certificate: asking again gets the same certificate, so it is not retried.
fn is_certificate_error(error: &reqwest::Error) -> bool {
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(current) = cause {
        let text = current.to_string();
        if text.contains("certificate") || text.contains("UnknownIssuer") {
            return true;
        }
        cause = current.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(3),
        };
        let waits: Vec<_> = (1..=5).map(|a| policy.backoff(a).as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 3000, 3000]);
        assert_eq!(policy.backoff(1000), Duration::from_secs(3));
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:30 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:27:00 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn retry_after_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
        };
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3600"));
        assert_eq!(
            policy.delay_after(1, Some(&headers)),
            Duration::from_millis(50)
        );
        assert_eq!(policy.delay_after(2, None), Duration::from_millis(20));
    }

    #[test]
    fn retryable_statuses() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 416, 501, 505] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }
}
