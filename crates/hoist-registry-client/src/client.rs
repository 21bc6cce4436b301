//! The registry client: endpoint fallback along each request's route (reads: mirrors, then the origin
//! over HTTPS, then plain HTTP for insecure registries; writes: the origin only), the `/v2/` ping that
//! learns each endpoint's auth scheme, credentials and tokens on every request with one
//! re-authentication after a 401, retries, and the registry-level operations (login, catalog, v1
//! search, each place a search may ask). Repository operations live in `repository`, `blob` and `upload`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use url::Url;

use crate::auth::scope::Scopes;
use crate::auth::token::{self, TokenCache, TokenKey, TokenRequest};
use crate::auth::{Authorization, EndpointAuth, challenge};
use crate::config::{RegistryConfig, RetryPolicy};
use crate::credentials::{Credential, CredentialProvider};
use crate::endpoint::{Endpoint, EndpointResolver, Route, Via, normalize_registry};
use crate::error::{ErrorBody, RegistryError, StatusError};
use crate::pagination;
use crate::repository::Repository;
use crate::retry;
use crate::transport::ClientPool;

/// How long an endpoint whose ping failed is skipped before being tried again.
const UNREACHABLE_MEMORY: Duration = Duration::from_secs(30);
/// Error bodies read at most, to quote the registry's message.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
/// Catalog, tag and search pages read at most.
const LIST_BODY_LIMIT: u64 = 16 * 1024 * 1024;

/// A client for OCI distribution registries. Cheap to clone: clones share connections, the token cache
/// and what was learnt about each endpoint.
#[derive(Clone, Debug)]
pub struct RegistryClient {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) retry: RetryPolicy,
    resolver: EndpointResolver,
    pool: ClientPool,
    credentials: Arc<dyn CredentialProvider>,
    known_credentials: Mutex<HashMap<String, Option<Credential>>>,
    endpoints: Mutex<HashMap<String, EndpointState>>,
    tokens: TokenCache,
    /// Scopes a 401 challenge added to what an operation asked for, by endpoint and the asked scopes,
    /// so later requests of the same kind ask for them straight away.
    learned_scopes: Mutex<HashMap<(String, Scopes), Scopes>>,
}

#[derive(Debug, Clone)]
enum EndpointState {
    Ready(EndpointAuth),
    Unreachable { since: Instant, message: String },
}

/// What `login` found out.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    /// The base URL the credential was verified against.
    pub endpoint: String,
    /// False when the registry let `/v2/` in without credentials (Docker still reports success).
    pub authentication_required: bool,
    /// An OAuth2 refresh token the token service handed back; store it as the identity token.
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for LoginOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginOutcome")
            .field("endpoint", &self.endpoint)
            .field("authentication_required", &self.authentication_required)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// One repository found by Docker Hub's v1 search.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SearchResult {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub star_count: u64,
    #[serde(default)]
    pub is_official: bool,
    #[serde(default)]
    pub is_automated: bool,
}

#[derive(Deserialize)]
struct SearchResponse {
    #[serde(default)]
    results: Vec<SearchResult>,
}

#[derive(Deserialize)]
struct CatalogPage {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

/// Who a request is about, for errors and logs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) registry: &'a str,
    pub(crate) repository: Option<&'a str>,
}

/// A request to send to one of a registry's endpoints.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) route: Route,
    pub(crate) scopes: Scopes,
    pub(crate) method: Method,
    /// Path and query under the endpoint's base (`/v2/...`).
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
}

impl Call {
    pub(crate) fn new(route: Route, scopes: Scopes, method: Method, path: String) -> Self {
        Self {
            route,
            scopes,
            method,
            path,
            headers: HeaderMap::new(),
            body: None,
        }
    }

    #[must_use]
    pub(crate) fn header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.append(name, value);
        }
        self
    }

    #[must_use]
    pub(crate) fn body(mut self, body: Bytes) -> Self {
        self.body = Some(body);
        self
    }
}

/// A request for one endpoint, already resolved to a URL.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
}

/// A response and the endpoint that gave it (later requests of the same operation go there too).
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) endpoint: Endpoint,
    pub(crate) response: reqwest::Response,
}

impl RegistryClient {
    /// A client for `config`, asking `credentials` for logins. Fails on unusable configuration
    /// (mirror or override URLs, insecure-registry entries, proxy URLs).
    pub fn new(
        config: RegistryConfig,
        credentials: Arc<dyn CredentialProvider>,
    ) -> Result<Self, RegistryError> {
        Ok(Self {
            inner: Arc::new(Inner {
                retry: config.retry,
                resolver: EndpointResolver::new(&config)?,
                pool: ClientPool::new(&config)?,
                credentials,
                known_credentials: Mutex::new(HashMap::new()),
                endpoints: Mutex::new(HashMap::new()),
                tokens: TokenCache::default(),
                learned_scopes: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The repository `path` (`library/nginx`) of `registry` (`docker.io`, `host:port`).
    pub fn repository(&self, registry: &str, path: &str) -> Repository {
        Repository::new(self.clone(), normalize_registry(registry), path.to_owned())
    }

    /// The repository a reference names.
    pub fn repository_of(&self, reference: &hoist_spec::Reference) -> Repository {
        self.repository(reference.domain(), reference.path())
    }

    /// Checks `credential` against `registry` as `docker login` does: pings `/v2/`, then sends the
    /// credential (Basic) or has the token service issue a token with it (asking for a refresh token).
    /// On success the client uses this credential for `registry` from now on.
    pub async fn login(
        &self,
        registry: &str,
        credential: &Credential,
    ) -> Result<LoginOutcome, RegistryError> {
        let registry = normalize_registry(registry);
        let target = Target {
            registry: &registry,
            repository: None,
        };
        let endpoints = self.inner.resolver.route(&registry, &Route::Write)?;
        let endpoint = self.first_reachable(target, &endpoints).await?;
        let auth = self
            .endpoint_auth(&endpoint, target, false, self.attempts_for(&endpoint, true))
            .await?;
        let http = self.inner.pool.client(&endpoint)?;
        let url = endpoint.url("/v2/")?;
        let (authorization, refresh_token) = match &auth {
            EndpointAuth::Anonymous => {
                self.remember_credential(&registry, credential);
                return Ok(LoginOutcome {
                    endpoint: endpoint.base.clone(),
                    authentication_required: false,
                    refresh_token: None,
                });
            }
            EndpointAuth::Basic => (Authorization::Basic(credential.clone()), None),
            EndpointAuth::Bearer { realm, service } => {
                let scopes = Scopes::none();
                let token = token::fetch(
                    &http,
                    &self.inner.retry,
                    TokenRequest {
                        registry: &registry,
                        realm,
                        service: service.as_deref(),
                        scopes: &scopes,
                        credential: Some(credential),
                        offline: true,
                    },
                )
                .await?;
                let key = TokenKey {
                    realm: realm.clone(),
                    service: service.clone(),
                    scopes,
                };
                (
                    Authorization::Bearer {
                        key,
                        token: token.token,
                    },
                    token.refresh_token,
                )
            }
        };
        let response = retry::send(
            &self.inner.retry,
            self.inner.retry.attempts(),
            &registry,
            None,
            || authorization.apply(http.get(url.clone())),
        )
        .await?;
        if response.status().is_success() {
            self.remember_credential(&registry, credential);
            return Ok(LoginOutcome {
                endpoint: endpoint.base.clone(),
                authentication_required: true,
                refresh_token,
            });
        }
        let status = response.status().as_u16();
        let body = read_limited(target, &Method::GET, response, ERROR_BODY_LIMIT)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let error = ErrorBody::parse(&body);
        Err(if status == 401 {
            RegistryError::Unauthorized {
                registry: registry.clone(),
                repository: None,
                status,
                code: error.code,
                message: error
                    .message
                    .unwrap_or_else(|| "incorrect username or password".to_owned()),
            }
        } else {
            RegistryError::Status(Box::new(StatusError {
                registry: registry.clone(),
                repository: None,
                method: "GET".to_owned(),
                url: url.to_string(),
                status,
                code: error.code,
                message: error.message,
            }))
        })
    }

    /// Every repository in `registry`'s catalog (mirrors first, then the origin), following `Link`
    /// pages of `page_size` entries.
    pub async fn catalog(
        &self,
        registry: &str,
        page_size: Option<usize>,
    ) -> Result<Vec<String>, RegistryError> {
        self.list_catalog(registry, catalog_call(None, page_size))
            .await
    }

    /// `registry`'s catalog as one place has it: a mirror, or the registry itself.
    pub async fn catalog_via(
        &self,
        registry: &str,
        via: &Via,
        page_size: Option<usize>,
    ) -> Result<Vec<String>, RegistryError> {
        self.list_catalog(registry, catalog_call(Some(via), page_size))
            .await
    }

    async fn list_catalog(&self, registry: &str, call: Call) -> Result<Vec<String>, RegistryError> {
        let registry = normalize_registry(registry);
        let target = Target {
            registry: &registry,
            repository: None,
        };
        self.list_pages(target, call, |page: CatalogPage| {
            page.repositories.unwrap_or_default()
        })
        .await
    }

    /// The base URLs of the mirrors a search of `registry` asks, in order, before the registry itself
    /// ([`Via::Registry`]): its mirrors, or none when an endpoint override says where the registry is.
    pub fn search_mirrors(&self, registry: &str) -> Vec<String> {
        self.inner
            .resolver
            .search_mirrors(registry)
            .into_iter()
            .map(|mirror| mirror.base)
            .collect()
    }

    /// Docker Hub's v1 search (`/v1/search?q=&n=`) on `registry` itself (Docker Hub's index for Docker
    /// Hub). A registry without it answers 404, which comes back as an error with that status so the
    /// caller can filter the catalog instead.
    pub async fn search_v1(
        &self,
        registry: &str,
        term: &str,
        limit: Option<usize>,
    ) -> Result<Vec<SearchResult>, RegistryError> {
        self.search_v1_via(registry, &Via::Registry, term, limit)
            .await
    }

    /// [`Self::search_v1`] at one place: a mirror from [`Self::search_mirrors`], or the registry itself.
    pub async fn search_v1_via(
        &self,
        registry: &str,
        via: &Via,
        term: &str,
        limit: Option<usize>,
    ) -> Result<Vec<SearchResult>, RegistryError> {
        let registry = normalize_registry(registry);
        let target = Target {
            registry: &registry,
            repository: None,
        };
        // The serializer is not Send; it must be gone before the first await.
        let query = {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("q", term);
            if let Some(limit) = limit {
                query.append_pair("n", &limit.to_string());
            }
            query.finish()
        };
        let call = Call::new(
            Route::Search(via.clone()),
            Scopes::none(),
            Method::GET,
            format!("/v1/search?{query}"),
        );
        let exchange = self.execute(target, &call).await?;
        if exchange.response.status() != StatusCode::OK {
            return Err(unexpected(target, &call.method, exchange.response).await);
        }
        let url = exchange.response.url().to_string();
        let body = read_limited(target, &call.method, exchange.response, LIST_BODY_LIMIT)
            .await?
            .ok_or_else(|| invalid(target, &url, "the search answer is too large"))?;
        let parsed: SearchResponse = serde_json::from_slice(&body)
            .map_err(|e| invalid(target, &url, &format!("the search answer is not JSON: {e}")))?;
        Ok(parsed.results)
    }

    /// Reads every page of a listing: the first through `call`'s route, the rest from the endpoint
    /// that answered, each page's entries extracted by `entries`.
    pub(crate) async fn list_pages<T: serde::de::DeserializeOwned>(
        &self,
        target: Target<'_>,
        call: Call,
        entries: impl Fn(T) -> Vec<String>,
    ) -> Result<Vec<String>, RegistryError> {
        let exchange = self.execute(target, &call).await?;
        let endpoint = exchange.endpoint;
        let mut response = exchange.response;
        let mut all = Vec::new();
        for _ in 0..pagination::MAX_PAGES {
            if response.status() != StatusCode::OK {
                return Err(unexpected(target, &call.method, response).await);
            }
            let url = response.url().clone();
            let next = pagination::next_page(response.headers(), &url);
            let body = read_limited(target, &call.method, response, LIST_BODY_LIMIT)
                .await?
                .ok_or_else(|| invalid(target, url.as_str(), "the listing page is too large"))?;
            let page: T = serde_json::from_slice(&body).map_err(|e| {
                invalid(
                    target,
                    url.as_str(),
                    &format!("the listing is not the expected JSON: {e}"),
                )
            })?;
            all.extend(entries(page));
            let Some(next) = next.filter(|next| *next != url) else {
                return Ok(all);
            };
            response = self
                .send_to(
                    &endpoint,
                    target,
                    &call.scopes,
                    self.attempts_for(&endpoint, true),
                    Outgoing {
                        method: Method::GET,
                        url: next,
                        headers: call.headers.clone(),
                        body: None,
                    },
                )
                .await?;
        }
        Ok(all)
    }

    /// Sends `call` to the first endpoint of its route that works. An endpoint whose ping fails is
    /// skipped when another follows; a mirror is also left for the next endpoint when it answers
    /// anything but success or fails in any way, with a warning. The origin's answer is final.
    pub(crate) async fn execute(
        &self,
        target: Target<'_>,
        call: &Call,
    ) -> Result<Exchange, RegistryError> {
        let endpoints = self.inner.resolver.route(target.registry, &call.route)?;
        let mut last_error = None;
        for (index, endpoint) in endpoints.iter().enumerate() {
            let is_last = index + 1 == endpoints.len();
            let attempts = self.attempts_for(endpoint, is_last);
            if let Err(error) = self
                .endpoint_auth(endpoint, target, !is_last, attempts)
                .await
            {
                if is_last {
                    return Err(error);
                }
                self.note_fallback(endpoint, target, &error.to_string());
                last_error = Some(error);
                continue;
            }
            let outgoing = Outgoing {
                method: call.method.clone(),
                url: endpoint.url(&call.path)?,
                headers: call.headers.clone(),
                body: call.body.clone(),
            };
            match self
                .send_to(endpoint, target, &call.scopes, attempts, outgoing)
                .await
            {
                Ok(response) if endpoint.mirror && !is_last && !response.status().is_success() => {
                    let status = response.status().as_u16();
                    self.note_fallback(endpoint, target, &format!("HTTP {status}"));
                }
                Ok(response) => {
                    return Ok(Exchange {
                        endpoint: endpoint.clone(),
                        response,
                    });
                }
                Err(error) if endpoint.mirror && !is_last => {
                    self.note_fallback(endpoint, target, &error.to_string());
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(
            last_error.unwrap_or_else(|| RegistryError::InvalidRegistry {
                registry: target.registry.to_owned(),
                message: "no endpoint to reach it".to_owned(),
            }),
        )
    }

    fn note_fallback(&self, endpoint: &Endpoint, target: Target<'_>, reason: &str) {
        if endpoint.mirror {
            tracing::warn!(
                registry = target.registry,
                repository = target.repository,
                mirror = %endpoint.base,
                reason,
                "mirror failed; trying the next endpoint"
            );
        } else {
            tracing::debug!(
                registry = target.registry,
                endpoint = %endpoint.base,
                reason,
                "endpoint unusable; trying the next one"
            );
        }
    }

    /// The first endpoint whose ping works (the last one is returned regardless, to fail for real).
    async fn first_reachable(
        &self,
        target: Target<'_>,
        endpoints: &[Endpoint],
    ) -> Result<Endpoint, RegistryError> {
        for (index, endpoint) in endpoints.iter().enumerate() {
            let is_last = index + 1 == endpoints.len();
            let attempts = self.attempts_for(endpoint, is_last);
            match self
                .endpoint_auth(endpoint, target, !is_last, attempts)
                .await
            {
                Ok(_) => return Ok(endpoint.clone()),
                Err(error) if is_last => return Err(error),
                Err(error) => self.note_fallback(endpoint, target, &error.to_string()),
            }
        }
        Err(RegistryError::InvalidRegistry {
            registry: target.registry.to_owned(),
            message: "no endpoint to reach it".to_owned(),
        })
    }

    /// Mirrors and endpoints with a fallback after them get one attempt; the final endpoint the policy's.
    pub(crate) fn attempts_for(&self, endpoint: &Endpoint, is_last: bool) -> u32 {
        if endpoint.mirror || !is_last {
            1
        } else {
            self.inner.retry.attempts()
        }
    }

    pub(crate) fn http(&self, endpoint: &Endpoint) -> Result<reqwest::Client, RegistryError> {
        self.inner.pool.client(endpoint)
    }

    /// How `endpoint` wants requests authenticated, pinging `/v2/` the first time. A failed ping is
    /// remembered for a while when `skip_if_recently_down`, so a dead mirror costs one connection attempt.
    async fn endpoint_auth(
        &self,
        endpoint: &Endpoint,
        target: Target<'_>,
        skip_if_recently_down: bool,
        attempts: u32,
    ) -> Result<EndpointAuth, RegistryError> {
        let known = self.endpoint_states().get(&endpoint.base).cloned();
        match known {
            Some(EndpointState::Ready(auth)) => return Ok(auth),
            Some(EndpointState::Unreachable { since, message })
                if skip_if_recently_down && since.elapsed() < UNREACHABLE_MEMORY =>
            {
                return Err(RegistryError::EndpointUnavailable {
                    registry: target.registry.to_owned(),
                    endpoint: endpoint.base.clone(),
                    message,
                });
            }
            _ => {}
        }
        let http = self.http(endpoint)?;
        let url = endpoint.url("/v2/")?;
        let result = retry::send(
            &self.inner.retry,
            attempts,
            target.registry,
            target.repository,
            || http.get(url.clone()),
        )
        .await;
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                self.set_endpoint_state(
                    endpoint,
                    EndpointState::Unreachable {
                        since: Instant::now(),
                        message: error.to_string(),
                    },
                );
                return Err(error);
            }
        };
        let status = response.status();
        let auth = if status == StatusCode::UNAUTHORIZED {
            EndpointAuth::from_challenges(&challenge::challenges(response.headers()))
                .unwrap_or(EndpointAuth::Basic)
        } else if status.is_success() {
            EndpointAuth::Anonymous
        } else if endpoint.mirror || status.is_server_error() {
            let error = unexpected(target, &Method::GET, response).await;
            self.set_endpoint_state(
                endpoint,
                EndpointState::Unreachable {
                    since: Instant::now(),
                    message: error.to_string(),
                },
            );
            return Err(error);
        } else {
            // Docker only needs an answer here; the request itself will say what is wrong.
            tracing::debug!(endpoint = %endpoint.base, status = status.as_u16(), "unexpected /v2/ answer");
            EndpointAuth::Anonymous
        };
        self.set_endpoint_state(endpoint, EndpointState::Ready(auth.clone()));
        Ok(auth)
    }

    fn endpoint_states(&self) -> std::sync::MutexGuard<'_, HashMap<String, EndpointState>> {
        self.inner
            .endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn set_endpoint_state(&self, endpoint: &Endpoint, state: EndpointState) {
        self.endpoint_states().insert(endpoint.base.clone(), state);
    }

    /// The credential for `registry`: asked of the provider once (off the async threads), then cached.
    pub(crate) async fn credential(
        &self,
        registry: &str,
    ) -> Result<Option<Credential>, RegistryError> {
        if let Some(known) = self.known_credentials().get(registry) {
            return Ok(known.clone());
        }
        let provider = Arc::clone(&self.inner.credentials);
        let key = registry.to_owned();
        let answer = tokio::task::spawn_blocking(move || provider.credential(&key))
            .await
            .map_err(|error| RegistryError::Credentials {
                registry: registry.to_owned(),
                message: error.to_string(),
            })?
            .map_err(|message| RegistryError::Credentials {
                registry: registry.to_owned(),
                message,
            })?;
        self.known_credentials()
            .insert(registry.to_owned(), answer.clone());
        Ok(answer)
    }

    /// Uses `credential` for `registry` from now on; tokens issued for other credentials are dropped.
    fn remember_credential(&self, registry: &str, credential: &Credential) {
        let previous = self
            .known_credentials()
            .insert(registry.to_owned(), Some(credential.clone()));
        if previous != Some(Some(credential.clone())) {
            self.inner.tokens.clear();
        }
    }

    fn known_credentials(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<Credential>>> {
        self.inner
            .known_credentials
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The credentials a request to `endpoint` for `scopes` carries, fetching a token if needed.
    pub(crate) async fn authorization(
        &self,
        endpoint: &Endpoint,
        target: Target<'_>,
        scopes: &Scopes,
    ) -> Result<Option<Authorization>, RegistryError> {
        let auth = self
            .endpoint_auth(endpoint, target, false, self.inner.retry.attempts())
            .await?;
        self.authorization_for(endpoint, target, &auth, scopes)
            .await
    }

    async fn authorization_for(
        &self,
        endpoint: &Endpoint,
        target: Target<'_>,
        auth: &EndpointAuth,
        scopes: &Scopes,
    ) -> Result<Option<Authorization>, RegistryError> {
        match auth {
            EndpointAuth::Anonymous => Ok(None),
            EndpointAuth::Basic => Ok(self
                .credential(target.registry)
                .await?
                .map(Authorization::Basic)),
            EndpointAuth::Bearer { realm, service } => {
                let credential = self.credential(target.registry).await?;
                let key = TokenKey {
                    realm: realm.clone(),
                    service: service.clone(),
                    scopes: scopes.clone(),
                };
                let http = self.http(endpoint)?;
                let retry = self.inner.retry;
                let token = self
                    .inner
                    .tokens
                    .get_or_fetch(&key, || async {
                        token::fetch(
                            &http,
                            &retry,
                            TokenRequest {
                                registry: target.registry,
                                realm,
                                service: service.as_deref(),
                                scopes,
                                credential: credential.as_ref(),
                                offline: false,
                            },
                        )
                        .await
                    })
                    .await?;
                Ok(Some(Authorization::Bearer { key, token }))
            }
        }
    }

    /// `asked` plus whatever earlier challenges added to it on this endpoint.
    pub(crate) fn scopes_for(&self, endpoint: &Endpoint, asked: &Scopes) -> Scopes {
        let learned = self
            .inner
            .learned_scopes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match learned.get(&(endpoint.base.clone(), asked.clone())) {
            Some(extra) => asked.union(extra),
            None => asked.clone(),
        }
    }

    /// After a 401: learns the challenge (a new scheme, the scopes a Bearer challenge names, remembered
    /// for requests that ask for `asked` again) and forgets the refused token. True when something
    /// changed, so one more attempt is worth it.
    pub(crate) async fn learn_from_unauthorized(
        &self,
        endpoint: &Endpoint,
        used: Option<&Authorization>,
        headers: &HeaderMap,
        asked: &Scopes,
        scopes: &mut Scopes,
    ) -> bool {
        let challenges = challenge::challenges(headers);
        let mut changed = false;
        if let Some(learned) = EndpointAuth::from_challenges(&challenges) {
            if let Some(scope) = challenges
                .iter()
                .find(|c| c.scheme == "bearer")
                .and_then(|c| c.param("scope"))
            {
                let mut wanted = scopes.clone();
                wanted.add_text(scope);
                if wanted != *scopes {
                    self.inner
                        .learned_scopes
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert((endpoint.base.clone(), asked.clone()), wanted.clone());
                    *scopes = wanted;
                    changed = true;
                }
            }
            let known = self.endpoint_states().get(&endpoint.base).cloned();
            if !matches!(known, Some(EndpointState::Ready(ref auth)) if *auth == learned) {
                self.set_endpoint_state(endpoint, EndpointState::Ready(learned));
                changed = true;
            }
        }
        if let Some(Authorization::Bearer { key, token }) = used {
            self.inner.tokens.invalidate(key, token).await;
            changed = true;
        }
        changed
    }

    /// Sends one request to `endpoint` with credentials (when the URL is on the endpoint's origin),
    /// retrying per the policy, and once more with fresh credentials after a 401 that taught something.
    pub(crate) async fn send_to(
        &self,
        endpoint: &Endpoint,
        target: Target<'_>,
        scopes: &Scopes,
        attempts: u32,
        outgoing: Outgoing,
    ) -> Result<reqwest::Response, RegistryError> {
        let http = self.http(endpoint)?;
        let asked = scopes;
        let mut scopes = self.scopes_for(endpoint, asked);
        let mut reauthenticated = false;
        loop {
            let authorization = if endpoint.same_origin(&outgoing.url) {
                self.authorization(endpoint, target, &scopes).await?
            } else {
                None
            };
            let response = retry::send(
                &self.inner.retry,
                attempts,
                target.registry,
                target.repository,
                || {
                    let mut request = http
                        .request(outgoing.method.clone(), outgoing.url.clone())
                        .headers(outgoing.headers.clone());
                    if let Some(body) = &outgoing.body {
                        request = request.body(body.clone());
                    }
                    match &authorization {
                        Some(authorization) => authorization.apply(request),
                        None => request,
                    }
                },
            )
            .await?;
            if response.status() == StatusCode::UNAUTHORIZED
                && !reauthenticated
                && self
                    .learn_from_unauthorized(
                        endpoint,
                        authorization.as_ref(),
                        response.headers(),
                        asked,
                        &mut scopes,
                    )
                    .await
            {
                reauthenticated = true;
                continue;
            }
            return Ok(response);
        }
    }
}

/// The first page of the catalog: a read through the mirrors, or of the one place `via` names.
fn catalog_call(via: Option<&Via>, page_size: Option<usize>) -> Call {
    let path = match page_size {
        Some(n) => format!("/v2/_catalog?n={n}"),
        None => "/v2/_catalog".to_owned(),
    };
    let route = via.map_or(Route::Read, |via| Route::At(via.clone()));
    Call::new(route, Scopes::catalog(), Method::GET, path)
}

/// The error for an answer the operation does not expect, quoting the registry's error body.
pub(crate) async fn unexpected(
    target: Target<'_>,
    method: &Method,
    response: reqwest::Response,
) -> RegistryError {
    let status = response.status().as_u16();
    let url = response.url().to_string();
    let body = read_limited(target, method, response, ERROR_BODY_LIMIT)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let error = ErrorBody::parse(&body);
    if status == 401 {
        return RegistryError::Unauthorized {
            registry: target.registry.to_owned(),
            repository: target.repository.map(str::to_owned),
            status,
            code: error.code,
            message: error
                .message
                .unwrap_or_else(|| "authentication required".to_owned()),
        };
    }
    RegistryError::Status(Box::new(StatusError {
        registry: target.registry.to_owned(),
        repository: target.repository.map(str::to_owned),
        method: method.to_string(),
        url,
        status,
        code: error.code,
        message: error.message,
    }))
}

/// A response body, or `None` when it is longer than `limit` bytes.
pub(crate) async fn read_limited(
    target: Target<'_>,
    method: &Method,
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Option<Vec<u8>>, RegistryError> {
    if content_length(response.headers()).is_some_and(|length| length > limit) {
        return Ok(None);
    }
    let url = response.url().to_string();
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() as u64 + chunk.len() as u64 > limit {
                    return Ok(None);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(Some(body)),
            Err(source) => {
                return Err(RegistryError::Transport {
                    registry: target.registry.to_owned(),
                    method: method.to_string(),
                    url,
                    error: source,
                });
            }
        }
    }
}

pub(crate) fn invalid(target: Target<'_>, url: &str, message: &str) -> RegistryError {
    RegistryError::InvalidResponse {
        registry: target.registry.to_owned(),
        url: url.to_owned(),
        message: message.to_owned(),
    }
}

/// The `Content-Length` header (reqwest's own answer is 0 for HEAD).
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    header_str(headers, reqwest::header::CONTENT_LENGTH)?
        .trim()
        .parse()
        .ok()
}

pub(crate) fn header_str(
    headers: &HeaderMap,
    name: impl reqwest::header::AsHeaderName,
) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Anonymous;

    fn mirrored_client() -> RegistryClient {
        let mut config = RegistryConfig::default();
        config.mirrors.insert(
            "docker.io".into(),
            vec![
                "http://127.0.0.1:5001".into(),
                "http://127.0.0.1:5002".into(),
            ],
        );
        config.mirrors.insert(
            "registry.example".into(),
            vec!["http://127.0.0.1:5003".into()],
        );
        RegistryClient::new(config, Arc::new(Anonymous)).unwrap()
    }

    fn bases(client: &RegistryClient, registry: &str, call: &Call) -> Vec<String> {
        client
            .inner
            .resolver
            .route(registry, &call.route)
            .unwrap()
            .into_iter()
            .map(|endpoint| endpoint.base)
            .collect()
    }

    #[test]
    fn tags_and_catalog_are_reads_through_the_mirrors() {
        let client = mirrored_client();
        let tags = client
            .repository("docker.io", "library/redis")
            .tags_call(None);
        assert_eq!(tags.route, Route::Read);
        assert_eq!(tags.path, "/v2/library/redis/tags/list");
        assert_eq!(
            bases(&client, "docker.io", &tags),
            [
                "http://127.0.0.1:5001",
                "http://127.0.0.1:5002",
                "https://registry-1.docker.io"
            ]
        );
        let tags = client
            .repository("registry.example", "app")
            .tags_call(Some(5));
        assert_eq!(tags.path, "/v2/app/tags/list?n=5");
        assert_eq!(
            bases(&client, "registry.example", &tags),
            ["http://127.0.0.1:5003", "https://registry.example"]
        );

        let catalog = catalog_call(None, Some(10));
        assert_eq!(catalog.route, Route::Read);
        assert_eq!(catalog.path, "/v2/_catalog?n=10");
        assert_eq!(
            bases(&client, "docker.io", &catalog),
            [
                "http://127.0.0.1:5001",
                "http://127.0.0.1:5002",
                "https://registry-1.docker.io"
            ]
        );
        // Search lists one place at a time.
        let mirrors = client.search_mirrors("docker.io");
        assert_eq!(mirrors, ["http://127.0.0.1:5001", "http://127.0.0.1:5002"]);
        let pinned = catalog_call(Some(&Via::Mirror(mirrors[1].clone())), None);
        assert_eq!(
            bases(&client, "docker.io", &pinned),
            ["http://127.0.0.1:5002"]
        );
        let origin = catalog_call(Some(&Via::Registry), None);
        assert_eq!(
            bases(&client, "docker.io", &origin),
            ["https://registry-1.docker.io"]
        );
    }
}
