//! Bearer tokens from a registry's token service: the GET flow (Basic credentials or anonymous), the
//! OAuth2 refresh-token POST flow for identity tokens, reading `token`/`access_token`, `expires_in`,
//! `issued_at` and `refresh_token`, and a cache that hands out one token per scope set until shortly
//! before it expires (one fetch at a time per key).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::scope::Scopes;
use crate::config::RetryPolicy;
use crate::credentials::Credential;
use crate::error::{ErrorBody, RegistryError, StatusError};
use crate::retry;

/// The client id hoist names itself by to token services (Docker says `docker`).
const CLIENT_ID: &str = "hoist";
/// Docker's floor for a token's lifetime when the service says less or nothing.
const MINIMUM_LIFETIME: Duration = Duration::from_secs(60);

/// What to ask a token service for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenRequest<'a> {
    pub(crate) registry: &'a str,
    pub(crate) realm: &'a str,
    pub(crate) service: Option<&'a str>,
    pub(crate) scopes: &'a Scopes,
    pub(crate) credential: Option<&'a Credential>,
    /// Ask for a refresh token too (login).
    pub(crate) offline: bool,
}

/// A token and when it stops being usable.
#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) token: String,
    pub(crate) expires_at: Instant,
    pub(crate) lifetime: Duration,
    pub(crate) refresh_token: Option<String>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("expires_at", &self.expires_at)
            .field("refresh_token", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

impl Token {
    /// Usable for a while yet: not within a tenth of its lifetime (at most 30 s) of expiring.
    fn is_fresh(&self, now: Instant) -> bool {
        let margin = (self.lifetime / 10).min(Duration::from_secs(30));
        now + margin < self.expires_at
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
    issued_at: Option<String>,
    refresh_token: Option<String>,
}

/// Fetches a token: OAuth2 POST with an identity token (falling back to GET when the service has no
/// POST endpoint), GET otherwise, with Basic credentials when there are any.
pub(crate) async fn fetch(
    http: &reqwest::Client,
    policy: &RetryPolicy,
    request: TokenRequest<'_>,
) -> Result<Token, RegistryError> {
    if let Some(refresh_token) = request
        .credential
        .and_then(|c| c.identity_token.as_deref())
        .filter(|t| !t.is_empty())
    {
        let response = post_oauth(http, policy, &request, refresh_token).await?;
        if !matches!(response.status().as_u16(), 404 | 405) {
            return read_token(request, "POST", response).await;
        }
        tracing::debug!(
            realm = request.realm,
            "token service has no OAuth2 POST; using GET"
        );
    }
    let response = get_token(http, policy, &request).await?;
    read_token(request, "GET", response).await
}

async fn get_token(
    http: &reqwest::Client,
    policy: &RetryPolicy,
    request: &TokenRequest<'_>,
) -> Result<reqwest::Response, RegistryError> {
    let mut url = realm_url(request)?;
    {
        let mut query = url.query_pairs_mut();
        if let Some(service) = request.service {
            query.append_pair("service", service);
        }
        for scope in request.scopes.to_strings() {
            query.append_pair("scope", &scope);
        }
        if let Some(credential) = request.credential.filter(|c| !c.username.is_empty()) {
            query.append_pair("account", &credential.username);
        }
        if request.offline {
            query.append_pair("offline_token", "true");
            query.append_pair("client_id", CLIENT_ID);
        }
    }
    let basic = request
        .credential
        .filter(|c| !c.username.is_empty() || !c.password.is_empty());
    retry::send(policy, policy.attempts(), request.registry, None, || {
        let builder = http.get(url.clone());
        match basic {
            Some(c) => builder.basic_auth(&c.username, Some(&c.password)),
            None => builder,
        }
    })
    .await
}

async fn post_oauth(
    http: &reqwest::Client,
    policy: &RetryPolicy,
    request: &TokenRequest<'_>,
    refresh_token: &str,
) -> Result<reqwest::Response, RegistryError> {
    let url = realm_url(request)?;
    // The serializer is not Send; it must be gone before the first await.
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "refresh_token");
        form.append_pair("refresh_token", refresh_token);
        if let Some(service) = request.service {
            form.append_pair("service", service);
        }
        form.append_pair("scope", &request.scopes.to_strings().join(" "));
        form.append_pair("client_id", CLIENT_ID);
        if request.offline {
            form.append_pair("access_type", "offline");
        }
        form.finish()
    };
    retry::send(policy, policy.attempts(), request.registry, None, || {
        http.post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body.clone())
    })
    .await
}

fn realm_url(request: &TokenRequest<'_>) -> Result<Url, RegistryError> {
    let url = Url::parse(request.realm).map_err(|error| RegistryError::Token {
        registry: request.registry.to_owned(),
        realm: request.realm.to_owned(),
        message: format!("the realm is not a URL: {error}"),
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(RegistryError::Token {
            registry: request.registry.to_owned(),
            realm: request.realm.to_owned(),
            message: "the realm is not an http(s) URL".to_owned(),
        });
    }
    Ok(url)
}

async fn read_token(
    request: TokenRequest<'_>,
    method: &str,
    response: reqwest::Response,
) -> Result<Token, RegistryError> {
    let status = response.status().as_u16();
    let url = response.url().to_string();
    let body = response
        .bytes()
        .await
        .map_err(|source| RegistryError::Transport {
            registry: request.registry.to_owned(),
            method: method.to_owned(),
            url: url.clone(),
            error: source,
        })?;
    if !(200..300).contains(&status) {
        let error = ErrorBody::parse(&body);
        if status == 401 || status == 403 {
            let message = error.message.unwrap_or_else(|| {
                if request.credential.is_some() {
                    "incorrect username or password".to_owned()
                } else {
                    "authentication required".to_owned()
                }
            });
            return Err(RegistryError::Unauthorized {
                registry: request.registry.to_owned(),
                repository: None,
                status,
                code: error.code,
                message,
            });
        }
        return Err(RegistryError::Status(Box::new(StatusError {
            registry: request.registry.to_owned(),
            repository: None,
            method: method.to_owned(),
            url,
            status,
            code: error.code,
            message: error.message,
        })));
    }
    let parsed: TokenResponse =
        serde_json::from_slice(&body).map_err(|error| RegistryError::Token {
            registry: request.registry.to_owned(),
            realm: request.realm.to_owned(),
            message: format!("the answer is not a token response: {error}"),
        })?;
    let token = parsed
        .token
        .filter(|t| !t.is_empty())
        .or(parsed.access_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| RegistryError::Token {
            registry: request.registry.to_owned(),
            realm: request.realm.to_owned(),
            message: "the answer holds neither token nor access_token".to_owned(),
        })?;
    let lifetime = parsed
        .expires_in
        .map(Duration::from_secs)
        .unwrap_or(MINIMUM_LIFETIME)
        .max(MINIMUM_LIFETIME);
    let remaining = remaining_lifetime(lifetime, parsed.issued_at.as_deref(), Utc::now());
    Ok(Token {
        token,
        expires_at: Instant::now() + remaining,
        lifetime,
        refresh_token: parsed.refresh_token.filter(|t| !t.is_empty()),
    })
}

/// How much of `lifetime` is left when the token was issued at `issued_at` (RFC 3339) and it is now
/// `now`; an unreadable or future `issued_at` (clock skew) counts as "just now".
fn remaining_lifetime(lifetime: Duration, issued_at: Option<&str>, now: DateTime<Utc>) -> Duration {
    let Some(issued) = issued_at.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) else {
        return lifetime;
    };
    let age = (now - issued.with_timezone(&Utc))
        .to_std()
        .unwrap_or(Duration::ZERO);
    lifetime.saturating_sub(age)
}

/// What a cached token is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey {
    pub(crate) realm: String,
    pub(crate) service: Option<String>,
    pub(crate) scopes: Scopes,
}

type Slot = Arc<tokio::sync::Mutex<Option<Token>>>;

/// Tokens by key. Each key has its own async lock so concurrent requests wait for one fetch.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    slots: Mutex<HashMap<TokenKey, Slot>>,
}

impl TokenCache {
    fn slot(&self, key: &TokenKey) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(slots.entry(key.clone()).or_default())
    }

    /// The cached token for `key` if still fresh, otherwise the one `fetch` returns (then cached).
    pub(crate) async fn get_or_fetch<F, Fut>(
        &self,
        key: &TokenKey,
        fetch: F,
    ) -> Result<String, RegistryError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Token, RegistryError>>,
    {
        let slot = self.slot(key);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref()
            && token.is_fresh(Instant::now())
        {
            return Ok(token.token.clone());
        }
        let token = fetch().await?;
        let value = token.token.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// Forgets every token (the credentials they were issued for changed).
    pub(crate) fn clear(&self) {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Forgets `key`'s token if it is still `used` (the registry refused it).
    pub(crate) async fn invalidate(&self, key: &TokenKey, used: &str) {
        let slot = self.slot(key);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|t| t.token == used) {
            *cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_at_shortens_the_lifetime() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let lifetime = Duration::from_secs(300);
        assert_eq!(
            remaining_lifetime(lifetime, Some("2024-05-01T09:58:00Z"), now),
            Duration::from_secs(180)
        );
        assert_eq!(
            remaining_lifetime(lifetime, Some("2024-05-01T09:00:00.123456789Z"), now),
            Duration::ZERO
        );
        assert_eq!(
            remaining_lifetime(lifetime, Some("2024-05-01T10:05:00+00:00"), now),
            lifetime
        );
        assert_eq!(
            remaining_lifetime(lifetime, Some("yesterday"), now),
            lifetime
        );
        assert_eq!(remaining_lifetime(lifetime, None, now), lifetime);
    }

    #[test]
    fn freshness_keeps_a_margin() {
        let now = Instant::now();
        let token = |secs_left: u64, lifetime: u64| Token {
            token: "t".into(),
            expires_at: now + Duration::from_secs(secs_left),
            lifetime: Duration::from_secs(lifetime),
            refresh_token: None,
        };
        assert!(token(60, 60).is_fresh(now));
        assert!(!token(5, 60).is_fresh(now));
        assert!(token(40, 3600).is_fresh(now));
        assert!(!token(29, 3600).is_fresh(now));
    }

    #[tokio::test]
    async fn cache_reuses_until_invalidated() {
        let cache = TokenCache::default();
        let key = TokenKey {
            realm: "https://auth.example/token".into(),
            service: None,
            scopes: Scopes::repository("a", &["pull"]),
        };
        let issue = |value: &str| {
            let token = Token {
                token: value.to_owned(),
                expires_at: Instant::now() + Duration::from_secs(300),
                lifetime: Duration::from_secs(300),
                refresh_token: None,
            };
            async move { Ok(token) }
        };
        assert_eq!(
            cache.get_or_fetch(&key, || issue("one")).await.unwrap(),
            "one"
        );
        assert_eq!(
            cache.get_or_fetch(&key, || issue("two")).await.unwrap(),
            "one"
        );
        cache.invalidate(&key, "other").await;
        assert_eq!(
            cache.get_or_fetch(&key, || issue("two")).await.unwrap(),
            "one"
        );
        cache.invalidate(&key, "one").await;
        assert_eq!(
            cache.get_or_fetch(&key, || issue("two")).await.unwrap(),
            "two"
        );
    }
}
