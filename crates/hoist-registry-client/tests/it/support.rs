//! Fixtures made in code, all on 127.0.0.1: hoist's own registry server, a logging front that can
//! answer for the registry or cut a body short, a bearer-token registry with its token service, a TCP
//! relay that breaks an upload's PATCH mid-body, a test PKI, htpasswd files and small images.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt;
use hoist_registry_client::{
    Anonymous, BytesBlob, CredentialProvider, ManifestRef, PushOptions, RegistryClient,
    RegistryConfig, Repository, RetryPolicy,
};
use hoist_registry_server::config::Config;
use hoist_registry_server::server::Server;
use hoist_spec::{Digest, media_type};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// hoist's registry server on an ephemeral port, with its storage in a temporary directory.
pub(crate) struct Registry {
    pub(crate) addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// `127.0.0.1:<port>`, the registry name a reference would use.
    pub(crate) fn host(&self) -> String {
        self.addr.to_string()
    }

    pub(crate) fn http_base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Starts a registry; `http_extra` goes under `http:` (indented two spaces), `extra` at the top level.
pub(crate) async fn registry_with(http_extra: &str, extra: &str) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "version: 0.1\nhttp:\n  addr: 127.0.0.1:0\n{http_extra}storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n{extra}",
        dir.path().join("data").display()
    );
    let config = Config::load(Some(&yaml), Vec::<(String, String)>::new(), dir.path()).unwrap();
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));
    Registry { addr, _dir: dir }
}

pub(crate) async fn registry() -> Registry {
    registry_with("", "").await
}

/// Retries fast enough for tests, still counting attempts.
pub(crate) fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(40),
    }
}

pub(crate) fn config() -> RegistryConfig {
    RegistryConfig {
        retry: quick_retry(),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(10),
        ..RegistryConfig::default()
    }
}

pub(crate) fn client(config: RegistryConfig) -> RegistryClient {
    RegistryClient::new(config, Arc::new(Anonymous)).unwrap()
}

pub(crate) fn client_with(
    config: RegistryConfig,
    credentials: impl CredentialProvider + 'static,
) -> RegistryClient {
    RegistryClient::new(config, Arc::new(credentials)).unwrap()
}

/// Bytes that differ from blob to blob, of any length.
pub(crate) fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

/// What [`push_image`] pushed.
#[derive(Debug, Clone)]
pub(crate) struct PushedImage {
    pub(crate) manifest: Vec<u8>,
    pub(crate) digest: Digest,
    pub(crate) config: Digest,
    pub(crate) layer: Digest,
    pub(crate) layer_bytes: Vec<u8>,
}

/// Pushes a config, one layer and an OCI manifest tagged `tag` through the client under test.
pub(crate) async fn push_image(repository: &Repository, tag: &str, layer: &[u8]) -> PushedImage {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = Digest::of(config);
    let layer_digest = Digest::of(layer);
    for (digest, bytes) in [(&config_digest, &config[..]), (&layer_digest, layer)] {
        repository
            .push_blob(
                digest,
                bytes.len() as u64,
                &BytesBlob::new(bytes.to_vec()),
                &PushOptions::default(),
            )
            .await
            .unwrap();
    }
    let manifest = manifest_json(&config_digest, config.len(), &layer_digest, layer.len());
    let digest = repository
        .put_manifest(&ManifestRef::tag(tag), media_type::OCI_MANIFEST, &manifest)
        .await
        .unwrap();
    PushedImage {
        manifest,
        digest,
        config: config_digest,
        layer: layer_digest,
        layer_bytes: layer.to_vec(),
    }
}

pub(crate) fn manifest_json(
    config: &Digest,
    config_size: usize,
    layer: &Digest,
    layer_size: usize,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {"mediaType": media_type::OCI_CONFIG, "digest": config.to_string(), "size": config_size},
        "layers": [{"mediaType": media_type::OCI_LAYER_GZIP, "digest": layer.to_string(), "size": layer_size}],
    }))
    .unwrap()
}

/// An htpasswd file with one bcrypt user.
pub(crate) fn htpasswd(dir: &Path, user: &str, password: &str) -> PathBuf {
    let hash = bcrypt::hash(password, 4).unwrap();
    let path = dir.join("htpasswd");
    std::fs::write(&path, format!("{user}:{hash}\n")).unwrap();
    path
}

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// An address nothing listens on.
pub(crate) async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// A request a front saw.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What a front does with a request.
pub(crate) enum Action {
    Forward,
    Respond {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// Forward, but break the connection after this many body bytes of the answer.
    CutBodyAfter(usize),
}

pub(crate) type Hook = dyn Fn(&Seen, &[Seen]) -> Action + Send + Sync;

#[derive(Clone)]
struct FrontState {
    upstream: String,
    http: reqwest::Client,
    hook: Arc<Hook>,
    log: Arc<Mutex<Vec<Seen>>>,
}

/// An HTTP front for an upstream registry that logs requests and lets a hook answer them.
pub(crate) struct Front {
    pub(crate) addr: SocketAddr,
    pub(crate) log: Arc<Mutex<Vec<Seen>>>,
}

impl Front {
    pub(crate) fn host(&self) -> String {
        self.addr.to_string()
    }

    pub(crate) fn http_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    /// How many requests had this method and a path containing `fragment`.
    pub(crate) fn count(&self, method: &str, fragment: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.path.contains(fragment))
            .count()
    }
}

pub(crate) fn upstream_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

pub(crate) async fn front(
    upstream: &str,
    hook: impl Fn(&Seen, &[Seen]) -> Action + Send + Sync + 'static,
) -> Front {
    let log = Arc::new(Mutex::new(Vec::new()));
    let state = FrontState {
        upstream: upstream.to_owned(),
        http: upstream_client(),
        hook: Arc::new(hook),
        log: Arc::clone(&log),
    };
    let router = Router::new().fallback(front_handler).with_state(state);
    Front {
        addr: serve(router).await,
        log,
    }
}

fn seen(request: &Request) -> Seen {
    Seen {
        method: request.method().to_string(),
        path: request
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers: request.headers().clone(),
    }
}

async fn front_handler(State(state): State<FrontState>, request: Request) -> Response {
    let this = seen(&request);
    let action = {
        let mut log = state.log.lock().unwrap();
        log.push(this.clone());
        (state.hook)(&this, &log)
    };
    match action {
        Action::Forward => forward(&state.http, &state.upstream, request, None, false).await,
        Action::CutBodyAfter(bytes) => {
            forward(&state.http, &state.upstream, request, Some(bytes), false).await
        }
        Action::Respond {
            status,
            headers,
            body,
        } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            for (name, value) in headers {
                response
                    .headers_mut()
                    .append(name, HeaderValue::from_str(&value).unwrap());
            }
            response
        }
    }
}

/// Forwards `request` to `upstream` and streams the answer back, cut after `cut` body bytes if set.
async fn forward(
    http: &reqwest::Client,
    upstream: &str,
    request: Request,
    cut: Option<usize>,
    strip_authorization: bool,
) -> Response {
    let (parts, body) = request.into_parts();
    let url = format!(
        "{upstream}{}",
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut headers = parts.headers.clone();
    headers.remove(header::HOST);
    if strip_authorization {
        headers.remove(header::AUTHORIZATION);
    }
    let has_body = headers.contains_key(header::CONTENT_LENGTH)
        || headers.contains_key(header::TRANSFER_ENCODING);
    let mut outgoing = http.request(parts.method, url).headers(headers);
    if has_body {
        outgoing = outgoing.body(reqwest::Body::wrap_stream(body.into_data_stream()));
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(error) => {
            let mut response = Response::new(Body::from(error.to_string()));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            return response;
        }
    };
    let status = answer.status();
    let mut response_headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if name != header::TRANSFER_ENCODING && name != header::CONNECTION {
            response_headers.append(name.clone(), value.clone());
        }
    }
    let stream = answer.bytes_stream();
    let body = match cut {
        None => Body::from_stream(stream),
        Some(limit) => Body::from_stream(cut_stream(stream, limit)),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = response_headers;
    response
}

fn cut_stream(
    stream: impl futures_util::Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
    limit: usize,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::unfold(
        (Box::pin(stream), 0usize, false),
        move |(mut stream, mut sent, done)| async move {
            if done {
                return None;
            }
            if sent >= limit {
                return Some((
                    Err(std::io::Error::other("connection cut by the test front")),
                    (stream, sent, true),
                ));
            }
            match stream.next().await? {
                Ok(chunk) => {
                    let take = chunk.len().min(limit - sent);
                    sent += take;
                    Some((Ok(chunk.slice(..take)), (stream, sent, false)))
                }
                Err(error) => Some((Err(std::io::Error::other(error)), (stream, sent, true))),
            }
        },
    )
}

/// One request to the token service.
#[derive(Debug, Clone)]
pub(crate) struct TokenCall {
    pub(crate) method: String,
    pub(crate) basic_user: Option<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) params: BTreeMap<String, String>,
}

/// The shared state of a bearer-token registry and its token service.
pub(crate) struct TokenService {
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) refresh_token: String,
    pub(crate) allow_anonymous: bool,
    pub(crate) calls: Mutex<Vec<TokenCall>>,
    tokens: Mutex<HashMap<String, BTreeSet<(String, String)>>>,
    issued: AtomicUsize,
    upstream: String,
    http: reqwest::Client,
    pub(crate) realm: Mutex<String>,
    /// Scopes every repository request needs on top of its own (as a registry enforcing a policy would).
    pub(crate) extra_required: Mutex<Vec<String>>,
}

impl TokenService {
    pub(crate) fn calls(&self) -> Vec<TokenCall> {
        self.calls.lock().unwrap().clone()
    }

    /// Every token issued so far stops working.
    pub(crate) fn revoke_all(&self) {
        self.tokens.lock().unwrap().clear();
    }
}

/// A registry that wants Bearer tokens from its own `/token` service (user `alice`, password
/// `secret`; anonymous callers get pull-only tokens when allowed), in front of `upstream`.
pub(crate) struct BearerRegistry {
    pub(crate) addr: SocketAddr,
    pub(crate) service: Arc<TokenService>,
}

impl BearerRegistry {
    pub(crate) fn host(&self) -> String {
        self.addr.to_string()
    }
}

pub(crate) async fn bearer_registry(upstream: &Registry, allow_anonymous: bool) -> BearerRegistry {
    let service = Arc::new(TokenService {
        user: "alice".into(),
        password: "secret".into(),
        refresh_token: "refresh-for-alice".into(),
        allow_anonymous,
        calls: Mutex::new(Vec::new()),
        tokens: Mutex::new(HashMap::new()),
        issued: AtomicUsize::new(0),
        upstream: upstream.http_base(),
        http: upstream_client(),
        realm: Mutex::new(String::new()),
        extra_required: Mutex::new(Vec::new()),
    });
    let router = Router::new()
        .fallback(bearer_handler)
        .with_state(Arc::clone(&service));
    let addr = serve(router).await;
    *service.realm.lock().unwrap() = format!("http://{addr}/token");
    BearerRegistry { addr, service }
}

fn decode_basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `repository:x:pull,push` → {("repository:x", "pull"), ("repository:x", "push")}.
fn scope_pairs(scope: &str) -> Vec<(String, String)> {
    let Some((resource, actions)) = scope.rsplit_once(':') else {
        return Vec::new();
    };
    actions
        .split(',')
        .map(|a| (resource.to_owned(), a.to_owned()))
        .collect()
}

async fn bearer_handler(State(service): State<Arc<TokenService>>, request: Request) -> Response {
    if request.uri().path() == "/token" {
        return token_endpoint(&service, request).await;
    }
    let mut required = required_scopes(&request);
    if !required.is_empty() {
        required.extend(service.extra_required.lock().unwrap().iter().cloned());
    }
    let granted = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| service.tokens.lock().unwrap().get(token).cloned());
    let challenge = |error: Option<&str>| {
        let realm = service.realm.lock().unwrap().clone();
        let mut value = format!(r#"Bearer realm="{realm}",service="test-registry""#);
        if !required.is_empty() {
            value.push_str(&format!(r#",scope="{}""#, required.join(" ")));
        }
        if let Some(error) = error {
            value.push_str(&format!(r#",error="{error}""#));
        }
        let mut response = json_response(
            StatusCode::UNAUTHORIZED,
            json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}),
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&value).unwrap(),
        );
        response
    };
    let Some(granted) = granted else {
        return challenge(None);
    };
    let covered = required
        .iter()
        .flat_map(|scope| scope_pairs(scope))
        .all(|pair| granted.contains(&pair));
    if !covered {
        return challenge(Some("insufficient_scope"));
    }
    forward(&service.http, &service.upstream, request, None, true).await
}

/// The scopes a registry request needs, as distribution's token auth would ask.
fn required_scopes(request: &Request) -> Vec<String> {
    let path = request.uri().path();
    let method = request.method().as_str();
    if path == "/v2/" || path == "/v2" {
        return Vec::new();
    }
    if path == "/v2/_catalog" {
        return vec!["registry:catalog:*".to_owned()];
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Vec::new();
    };
    let name = ["/manifests/", "/blobs/", "/tags/", "/referrers/"]
        .iter()
        .filter_map(|marker| rest.find(marker))
        .min()
        .map(|at| &rest[..at])
        .unwrap_or(rest);
    let action = if matches!(method, "GET" | "HEAD") && !rest.contains("/blobs/uploads/") {
        "pull"
    } else {
        "push"
    };
    let mut scopes = vec![format!("repository:{name}:{action}")];
    if let Some(query) = request.uri().query()
        && let Some((_, from)) =
            url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "from")
    {
        scopes.push(format!("repository:{from}:pull"));
    }
    scopes
}

async fn token_endpoint(service: &TokenService, request: Request) -> Response {
    let method = request.method().to_string();
    let basic = decode_basic(request.headers());
    let params: Vec<(String, String)> = if method == "POST" {
        let body = axum::body::to_bytes(request.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        url::form_urlencoded::parse(&body).into_owned().collect()
    } else {
        url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    };
    let mut scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    scopes.sort();
    service.calls.lock().unwrap().push(TokenCall {
        method: method.clone(),
        basic_user: basic.as_ref().map(|(u, _)| u.clone()),
        scopes: scopes.clone(),
        params: params.iter().cloned().collect(),
    });
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let authenticated = if method == "POST" {
        if param("grant_type") != Some("refresh_token")
            || param("refresh_token") != Some(service.refresh_token.as_str())
        {
            return json_response(
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_grant", "error_description": "unknown refresh token"}),
            );
        }
        true
    } else {
        match &basic {
            Some((user, password)) if *user == service.user && *password == service.password => {
                true
            }
            Some(_) => {
                return json_response(
                    StatusCode::UNAUTHORIZED,
                    json!({"details": "incorrect username or password"}),
                );
            }
            None if service.allow_anonymous => false,
            None => {
                return json_response(
                    StatusCode::UNAUTHORIZED,
                    json!({"details": "authentication required"}),
                );
            }
        }
    };
    let granted: BTreeSet<(String, String)> = scopes
        .iter()
        .flat_map(|scope| scope_pairs(scope))
        .filter(|(_, action)| authenticated || action == "pull")
        .collect();
    let token = format!("token-{}", service.issued.fetch_add(1, Ordering::SeqCst));
    service
        .tokens
        .lock()
        .unwrap()
        .insert(token.clone(), granted);
    let mut body = if method == "POST" {
        json!({"access_token": token, "expires_in": 300, "refresh_token": service.refresh_token})
    } else {
        json!({"token": token, "expires_in": 300})
    };
    if method == "GET" && authenticated && param("offline_token") == Some("true") {
        body["refresh_token"] = json!(service.refresh_token);
    }
    json_response(StatusCode::OK, body)
}

/// A TCP relay to `upstream` that, once armed, breaks the first `PATCH` it sees after forwarding
/// `cut_after` bytes of it, and records every `content-range` request header that passes.
pub(crate) struct PatchCutter {
    pub(crate) addr: SocketAddr,
    pub(crate) ranges: Arc<Mutex<Vec<String>>>,
    pub(crate) cuts: Arc<AtomicUsize>,
}

pub(crate) async fn patch_cutter(upstream: SocketAddr, cut_after: usize) -> PatchCutter {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let cuts = Arc::new(AtomicUsize::new(0));
    let armed = Arc::new(AtomicBool::new(true));
    let (ranges_log, cut_count) = (Arc::clone(&ranges), Arc::clone(&cuts));
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else {
                continue;
            };
            let ranges = Arc::clone(&ranges_log);
            let armed = Arc::clone(&armed);
            let cuts = Arc::clone(&cut_count);
            tokio::spawn(relay(client, server, cut_after, armed, ranges, cuts));
        }
    });
    PatchCutter { addr, ranges, cuts }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    cut_after: usize,
    armed: Arc<AtomicBool>,
    ranges: Arc<Mutex<Vec<String>>>,
    cuts: Arc<AtomicUsize>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let back = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    });
    let mut buffer = vec![0u8; 64 * 1024];
    // Bytes still allowed through once a PATCH is being cut.
    let mut allowance: Option<usize> = None;
    loop {
        let read = match client_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let chunk = &buffer[..read];
        for line in chunk.split(|b| *b == b'\n') {
            if let Some(value) = line.strip_prefix(b"content-range: ") {
                ranges
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(value).trim().to_owned());
            }
        }
        if allowance.is_none()
            && let Some(at) = chunk.windows(6).position(|w| w == b"PATCH ")
            && armed.swap(false, Ordering::SeqCst)
        {
            allowance = Some(cut_after + at);
        }
        let mut forward = chunk.len();
        if let Some(left) = allowance.as_mut() {
            forward = forward.min(*left);
            *left -= forward;
        }
        if server_write.write_all(&chunk[..forward]).await.is_err() {
            break;
        }
        if allowance == Some(0) {
            cuts.fetch_add(1, Ordering::SeqCst);
            back.abort();
            return;
        }
    }
    let _ = server_write.shutdown().await;
    let _ = back.await;
}

/// A CA and a server certificate for 127.0.0.1 and localhost signed by it, as PEM.
pub(crate) struct TestPki {
    pub(crate) ca_pem: String,
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

pub(crate) fn pki() -> TestPki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa,
        KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hoist test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server_params.signed_by(&server_key, &ca).unwrap();
    TestPki {
        ca_pem: ca.pem(),
        cert_pem: server_cert.pem(),
        key_pem: server_key.serialize_pem(),
    }
}

/// A registry serving TLS with `pki`'s server certificate.
pub(crate) async fn tls_registry(pki: &TestPki) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("server.crt");
    let key = dir.path().join("server.key");
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    let registry = registry_with(
        &format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert.display(),
            key.display()
        ),
        "",
    )
    .await;
    // The server read the files while binding; `dir` may go now.
    drop(dir);
    registry
}
