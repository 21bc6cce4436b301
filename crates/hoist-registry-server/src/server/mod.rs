//! The HTTP server of `hoist registry serve`: binds the configured address (plain TCP or rustls TLS),
//! serves the OCI distribution API, Docker Hub's v1 search, health and Prometheus metrics over
//! [`RegistryStorage`], and shuts down gracefully.

mod auth;
mod handlers;
mod metrics;
mod response;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, parse_go_duration};
use crate::htpasswd::Htpasswd;
use crate::storage::{FsBackend, RegistryStorage};

use auth::BasicAuth;
use metrics::Metrics;

/// How long a client may take to finish the TLS handshake before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP/2 ping interval, and how long a ping may go unanswered before the connection is closed.
const HTTP2_KEEP_ALIVE: Duration = Duration::from_secs(60);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("http.net {net:?} is not supported; the registry listens on tcp")]
    UnsupportedNet { net: String },
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("htpasswd file {path:?}: {message}")]
    Htpasswd { path: PathBuf, message: String },
    #[error("invalid response header {name:?} in http.headers: {message}")]
    Header { name: String, message: String },
    #[error("I/O on {path:?}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("http.draintimeout {value:?} is not a duration such as `10s`")]
    DrainTimeout { value: String },
}

/// What every request handler shares.
#[derive(Debug)]
struct AppState {
    storage: RegistryStorage<FsBackend>,
    auth: Option<BasicAuth>,
    delete_enabled: bool,
    /// `http.headers`, added to every response.
    extra_headers: Vec<(HeaderName, HeaderValue)>,
    /// `http.prefix` without its trailing slash ("" when the registry is served at the root).
    prefix: String,
    /// `http.host` without its trailing slash, prepended to Location headers ("" for relative ones).
    host: String,
    metrics: Metrics,
}

/// A bound registry server, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Option<TlsAcceptor>,
    /// `http.draintimeout`: how long shutdown waits for in-flight requests (`None`: as long as they take).
    drain_timeout: Option<Duration>,
    state: Arc<AppState>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls.is_some())
            .field("drain_timeout", &self.drain_timeout)
            .field("state", &self.state)
            .finish()
    }
}

impl Server {
    /// Binds `config.http.addr` (":5000" means all interfaces port 5000; "127.0.0.1:0" picks a free
    /// port), loads the htpasswd file and TLS certificate/key if configured, and opens storage at
    /// `config.storage.filesystem.rootdirectory` (creating it).
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        if !config.http.net.is_empty() && config.http.net != "tcp" {
            return Err(ServerError::UnsupportedNet {
                net: config.http.net.clone(),
            });
        }
        let root = config.storage.filesystem.rootdirectory.clone();
        tokio::fs::create_dir_all(&root)
            .await
            .map_err(|source| ServerError::Io {
                path: root.clone(),
                source,
            })?;
        let auth = match &config.auth.htpasswd {
            Some(htpasswd) => {
                let text = tokio::fs::read_to_string(&htpasswd.path)
                    .await
                    .map_err(|source| ServerError::Htpasswd {
                        path: htpasswd.path.clone(),
                        message: source.to_string(),
                    })?;
                let parsed = Htpasswd::parse(&text).map_err(|error| ServerError::Htpasswd {
                    path: htpasswd.path.clone(),
                    message: error.to_string(),
                })?;
                for refused in parsed.refused() {
                    tracing::warn!(path = %htpasswd.path.display(), "{refused}");
                }
                Some(BasicAuth::new(htpasswd.realm.clone(), parsed))
            }
            None => None,
        };
        let tls = match (&config.http.tls.certificate, &config.http.tls.key) {
            (Some(certificate), Some(key)) => Some(tls_acceptor(certificate, key)?),
            (None, None) => None,
            _ => {
                return Err(ServerError::Tls(
                    "http.tls needs both certificate and key".to_owned(),
                ));
            }
        };
        let mut extra_headers = Vec::new();
        for (name, values) in &config.http.headers {
            let header_name =
                HeaderName::try_from(name.as_str()).map_err(|error| ServerError::Header {
                    name: name.clone(),
                    message: error.to_string(),
                })?;
            for value in values {
                let header_value =
                    HeaderValue::try_from(value.as_str()).map_err(|error| ServerError::Header {
                        name: name.clone(),
                        message: error.to_string(),
                    })?;
                extra_headers.push((header_name.clone(), header_value));
            }
        }
        let drain_timeout = if config.http.draintimeout.trim().is_empty() {
            None
        } else {
            let parsed = parse_go_duration(config.http.draintimeout.trim()).ok_or_else(|| {
                ServerError::DrainTimeout {
                    value: config.http.draintimeout.clone(),
                }
            })?;
            Some(parsed).filter(|timeout| !timeout.is_zero())
        };
        let addr = listen_address(&config.http.addr);
        let listener = bind_listener(&addr).await?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: addr.clone(),
            source,
        })?;
        let state = AppState {
            storage: RegistryStorage::new(FsBackend::new(root)),
            auth,
            delete_enabled: config.storage.delete.enabled,
            extra_headers,
            prefix: config.http.prefix.trim_end_matches('/').to_owned(),
            host: config.http.host.trim_end_matches('/').to_owned(),
            metrics: Metrics::default(),
        };
        Ok(Server {
            listener,
            local_addr,
            tls,
            drain_timeout,
            state: Arc::new(state),
        })
    }

    /// The address actually bound (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then stops accepting and lets in-flight requests finish
    /// (for at most `http.draintimeout` when one is configured).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let router = Router::new()
            .fallback(handlers::handle)
            .with_state(Arc::clone(&self.state));
        tracing::info!(addr = %self.local_addr, tls = self.tls.is_some(), "registry listening");
        let (stopping_sender, mut stopping) = tokio::sync::watch::channel(false);
        let shutdown = async move {
            shutdown.await;
            let _ = stopping_sender.send(true);
        };
        let abandon = CancellationToken::new();
        let serving = serve_connections(self.listener, self.tls, router, shutdown, abandon.clone());
        let Some(drain_timeout) = self.drain_timeout else {
            serving.await;
            return Ok(());
        };
        let drained = async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(drain_timeout).await;
        };
        tokio::select! {
            () = serving => Ok(()),
            () = drained => {
                tracing::warn!(?drain_timeout, "drain timeout passed; dropping in-flight requests");
                abandon.cancel();
                Ok(())
            }
        }
    }
}

/// distribution's `:5000` means every interface.
fn listen_address(addr: &str) -> String {
    if addr.starts_with(':') {
        format!("[::]{addr}")
    } else {
        addr.to_owned()
    }
}

/// Binds `addr`; the IPv6 wildcard falls back to IPv4's on hosts without IPv6.
async fn bind_listener(addr: &str) -> Result<TcpListener, ServerError> {
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(listener),
        Err(source) => {
            if let Some(port) = addr.strip_prefix("[::]")
                && let Ok(listener) = TcpListener::bind(format!("0.0.0.0{port}")).await
            {
                return Ok(listener);
            }
            Err(ServerError::Bind {
                addr: addr.to_owned(),
                source,
            })
        }
    }
}

fn tls_acceptor(
    certificate: &std::path::Path,
    key: &std::path::Path,
) -> Result<TlsAcceptor, ServerError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| {
            ServerError::Tls(format!("certificate {}: {error}", certificate.display()))
        })?;
    if certificates.is_empty() {
        return Err(ServerError::Tls(format!(
            "certificate {} holds no PEM certificate",
            certificate.display()
        )));
    }
    let private_key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| ServerError::Tls(format!("key {}: {error}", key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| ServerError::Tls(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certificates, private_key)
        .map_err(|error| ServerError::Tls(error.to_string()))?;
    server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server_config)))
}

/// The accept loop: each connection (handshaken first when TLS is on) is served by hyper's auto
/// (HTTP/1.1 or HTTP/2) builder, and watched so that shutdown waits for in-flight requests. Headers must
/// arrive within [`HEADER_READ_TIMEOUT`], and idle HTTP/2 peers are pinged, so slow or vanished clients
/// do not hold connections for ever. Cancelling `abandon` drops every connection still open (the drain
/// timeout passed).
/// The most a connection buffers from its socket (headers included); see `serve_connections`.
const CONNECTION_READ_BUFFER: usize = 64 * 1024;

async fn serve_connections(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    abandon: CancellationToken,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        // hyper's read buffer grows to ~400 KiB per connection under a fast upload; with hundreds
        // of concurrent pushes that, not the data, would set the server's memory. The same cap
        // bounds its write buffer, which blob GETs answer with large read-ahead chunks.
        .max_buf_size(CONNECTION_READ_BUFFER);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(HTTP2_KEEP_ALIVE)
        .keep_alive_timeout(HTTP2_KEEP_ALIVE);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Small responses (manifests, HEADs) must not wait for Nagle's algorithm.
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let service = TowerToHyperService::new(router.clone());
                let builder = builder.clone();
                let watcher = graceful.watcher();
                let abandon = abandon.clone();
                tokio::spawn(abandon.run_until_cancelled_owned(async move {
                    let Some(acceptor) = acceptor else {
                        let connection = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
                        if let Err(error) = watcher.watch(connection).await {
                            tracing::debug!(%peer, %error, "connection ended with an error");
                        }
                        return;
                    };
                    let stream = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    if let Err(error) = watcher.watch(connection).await {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                }));
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

#[cfg(test)]
mod tests;
