//! Which base URLs serve a registry, in the order to try them: the one place a request's [`Route`]
//! becomes endpoints. Reads go to the mirrors in order and then the origin (an override, Docker Hub's
//! `registry-1.docker.io`, or `https://<host>`); writes go to the origin only; Docker's insecure
//! registries are reached over HTTPS without verification and then plain HTTP.

use std::collections::BTreeMap;
use std::net::IpAddr;

use url::Url;

use crate::config::RegistryConfig;
use crate::error::RegistryError;

/// Docker Hub as references name it.
pub(crate) const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's distribution API lives.
const DOCKER_HUB_ORIGIN: &str = "https://registry-1.docker.io";
/// Where Docker Hub's v1 search lives.
const DOCKER_HUB_INDEX: &str = "https://index.docker.io";

/// Which of a registry's endpoints a request may go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// Reads (manifests, blobs, referrers, tags, catalog): every mirror in order, then the origin, so
    /// a registry mirrored for pulls is listed through the same mirrors.
    Read,
    /// Writes and login: the origin only, as mirrors are read-only caches with no accounts of theirs.
    Write,
    /// A read of one place the caller picked, for callers that must see the registry itself (push's
    /// blob check) or that try each mirror in turn to say which answered (search's catalog).
    At(Via),
    /// Docker Hub's v1 search at one place: a mirror, or the registry itself (for Docker Hub its index).
    Search(Via),
}

/// One place a registry-level request is sent when the caller walks the endpoints itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// One of the registry's mirrors, by a base URL [`crate::RegistryClient::search_mirrors`] gave.
    Mirror(String),
    /// The registry itself: its endpoint override or origin (Docker Hub's index for search).
    Registry,
}

/// One base URL to send a registry's requests to, and how to trust it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `scheme://host[:port][/prefix]`, without a trailing slash.
    pub(crate) base: String,
    /// False for insecure registries: any certificate is accepted.
    pub(crate) verify_tls: bool,
    /// The certs.d directory name whose CAs and client identity apply.
    pub(crate) certs_host: String,
    /// Mirrors are given up on at their first failure; the origin answers for good.
    pub(crate) mirror: bool,
}

impl Endpoint {
    /// The URL of `path_and_query` (which starts with `/`) on this endpoint.
    pub(crate) fn url(&self, path_and_query: &str) -> Result<Url, RegistryError> {
        let text = format!("{}{path_and_query}", self.base);
        Url::parse(&text).map_err(|error| RegistryError::Config {
            key: "endpoint".to_owned(),
            value: text,
            message: error.to_string(),
        })
    }

    /// True when `url` is on this endpoint's scheme, host and port (credentials may go there).
    pub(crate) fn same_origin(&self, url: &Url) -> bool {
        Url::parse(&self.base).is_ok_and(|base| {
            base.scheme() == url.scheme()
                && base.host_str() == url.host_str()
                && base.port_or_known_default() == url.port_or_known_default()
        })
    }
}

/// The mirrors, overrides and insecure list, checked once.
#[derive(Debug, Clone)]
pub(crate) struct EndpointResolver {
    mirrors: BTreeMap<String, Vec<Url>>,
    overrides: BTreeMap<String, Url>,
    insecure: InsecureRegistries,
}

impl EndpointResolver {
    pub(crate) fn new(config: &RegistryConfig) -> Result<Self, RegistryError> {
        let mut mirrors = BTreeMap::new();
        for (registry, urls) in &config.mirrors {
            let parsed = urls
                .iter()
                .map(|u| parse_base_url(&format!("mirrors.{registry}"), u))
                .collect::<Result<Vec<_>, _>>()?;
            mirrors.insert(normalize_registry(registry), parsed);
        }
        let mut overrides = BTreeMap::new();
        for (registry, url) in &config.endpoint_overrides {
            overrides.insert(
                normalize_registry(registry),
                parse_base_url(&format!("endpoint_overrides.{registry}"), url)?,
            );
        }
        Ok(Self {
            mirrors,
            overrides,
            insecure: InsecureRegistries::parse(&config.insecure_registries)?,
        })
    }

    /// The endpoints `route` allows for `registry`, in the order to try them.
    pub(crate) fn route(
        &self,
        registry: &str,
        route: &Route,
    ) -> Result<Vec<Endpoint>, RegistryError> {
        let registry = normalize_registry(registry);
        match route {
            Route::Read => {
                let mut endpoints = self.mirror_endpoints(&registry);
                endpoints.extend(self.origin(&registry)?);
                Ok(endpoints)
            }
            Route::Write | Route::At(Via::Registry) => self.origin(&registry),
            Route::Search(Via::Registry) => self.search_origin(&registry),
            Route::At(Via::Mirror(base)) | Route::Search(Via::Mirror(base)) => self
                .mirror_endpoints(&registry)
                .into_iter()
                .find(|mirror| mirror.base == *base)
                .map(|mirror| vec![mirror])
                .ok_or_else(|| RegistryError::NotAMirror {
                    registry: registry.clone(),
                    mirror: base.clone(),
                }),
        }
    }

    /// The mirrors a search of `registry` asks before the registry itself, in order: none when an
    /// endpoint override says where the registry is (it stands for the registry, index and all).
    pub(crate) fn search_mirrors(&self, registry: &str) -> Vec<Endpoint> {
        let registry = normalize_registry(registry);
        if self.overrides.contains_key(&registry) {
            return Vec::new();
        }
        self.mirror_endpoints(&registry)
    }

    fn mirror_endpoints(&self, registry: &str) -> Vec<Endpoint> {
        let Some(mirrors) = self.mirrors.get(registry) else {
            return Vec::new();
        };
        mirrors
            .iter()
            .map(|mirror| {
                let host = host_and_port(mirror);
                Endpoint {
                    base: base_string(mirror),
                    verify_tls: !self.insecure.contains(&host),
                    certs_host: host,
                    mirror: true,
                }
            })
            .collect()
    }

    /// The registry itself: its override, Docker Hub's `registry-1.docker.io`, or `https://<host>`.
    fn origin(&self, registry: &str) -> Result<Vec<Endpoint>, RegistryError> {
        let origin = match self.overrides.get(registry) {
            Some(url) => url.clone(),
            None if registry == DOCKER_HUB => registry_url(registry, DOCKER_HUB_ORIGIN)?,
            None => registry_url(registry, &format!("https://{registry}"))?,
        };
        Ok(self.origin_endpoints(registry, origin))
    }

    /// Where the registry itself answers v1 search: Docker Hub's index, or the origin.
    fn search_origin(&self, registry: &str) -> Result<Vec<Endpoint>, RegistryError> {
        if registry == DOCKER_HUB && !self.overrides.contains_key(registry) {
            let index = registry_url(registry, DOCKER_HUB_INDEX)?;
            return Ok(self.origin_endpoints(registry, index));
        }
        self.origin(registry)
    }

    fn origin_endpoints(&self, registry: &str, origin: Url) -> Vec<Endpoint> {
        let insecure = self.insecure.contains(registry);
        let mut endpoints = vec![Endpoint {
            base: base_string(&origin),
            verify_tls: !insecure || origin.scheme() == "http",
            certs_host: registry.to_owned(),
            mirror: false,
        }];
        if insecure && origin.scheme() == "https" {
            let mut plain = origin;
            if plain.set_scheme("http").is_ok() {
                endpoints.push(Endpoint {
                    base: base_string(&plain),
                    verify_tls: true,
                    certs_host: registry.to_owned(),
                    mirror: false,
                });
            }
        }
        endpoints
    }
}

/// `index.docker.io` and `registry-1.docker.io` are Docker Hub, named `docker.io` everywhere else.
pub(crate) fn normalize_registry(registry: &str) -> String {
    match registry {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
        other => other.to_owned(),
    }
}

fn registry_url(registry: &str, text: &str) -> Result<Url, RegistryError> {
    match Url::parse(text) {
        Ok(url) if url.host_str().is_some() && url.path() == "/" => Ok(url),
        Ok(_) => Err(RegistryError::InvalidRegistry {
            registry: registry.to_owned(),
            message: "a registry is a host name or address with an optional port".to_owned(),
        }),
        Err(error) => Err(RegistryError::InvalidRegistry {
            registry: registry.to_owned(),
            message: error.to_string(),
        }),
    }
}

fn parse_base_url(key: &str, text: &str) -> Result<Url, RegistryError> {
    let invalid = |message: &str| RegistryError::Config {
        key: key.to_owned(),
        value: text.to_owned(),
        message: message.to_owned(),
    };
    let url = Url::parse(text.trim()).map_err(|e| invalid(&e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none() {
        return Err(invalid("a host is required"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query or fragment is not allowed"));
    }
    Ok(url)
}

fn base_string(url: &Url) -> String {
    let mut base = format!("{}://{}", url.scheme(), host_and_port(url));
    base.push_str(url.path().trim_end_matches('/'));
    base
}

/// `host[:port]` as certs.d and the insecure list name it (the port only when explicit).
fn host_and_port(url: &Url) -> String {
    let host = match url.host() {
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        Some(host) => host.to_string(),
        None => String::new(),
    };
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// Docker's insecure registries: exact `host[:port]` names and CIDRs, plus loopback always.
/// Host names are not resolved to match CIDRs (Docker resolves them); IP literals and `localhost` are.
#[derive(Debug, Clone)]
pub(crate) struct InsecureRegistries {
    names: Vec<String>,
    networks: Vec<Network>,
}

impl InsecureRegistries {
    pub(crate) fn parse(entries: &[String]) -> Result<Self, RegistryError> {
        let mut names = Vec::new();
        let mut networks = vec![
            Network {
                address: IpAddr::from([127, 0, 0, 0]),
                prefix: 8,
            },
            Network {
                address: IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1u16]),
                prefix: 128,
            },
        ];
        for entry in entries {
            let entry = entry.trim();
            // Docker accepts (and ignores) a scheme on insecure-registries entries.
            let entry = entry
                .strip_prefix("http://")
                .or_else(|| entry.strip_prefix("https://"))
                .unwrap_or(entry)
                .trim_end_matches('/');
            if entry.contains('/') {
                networks.push(Network::parse(entry).ok_or_else(|| RegistryError::Config {
                    key: "insecure_registries".to_owned(),
                    value: entry.to_owned(),
                    message: "not a host[:port] or an IP network such as 10.0.0.0/8".to_owned(),
                })?);
            } else if !entry.is_empty() {
                names.push(normalize_registry(entry));
            }
        }
        Ok(Self { names, networks })
    }

    /// Whether `registry` (`host[:port]`) is insecure.
    pub(crate) fn contains(&self, registry: &str) -> bool {
        if self.names.iter().any(|name| name == registry) {
            return true;
        }
        let host = host_of(registry);
        if host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        host.parse::<IpAddr>()
            .is_ok_and(|ip| self.networks.iter().any(|network| network.contains(ip)))
    }
}

/// The host part of `host[:port]`, `[v6]:port` or a bare IPv6 address.
pub(crate) fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    if registry.parse::<IpAddr>().is_ok() {
        return registry;
    }
    registry.rsplit_once(':').map_or(registry, |(host, _)| host)
}

/// An IP network (`address/prefix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = text.split_once('/')?;
        let address: IpAddr = address.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        (prefix <= bits).then_some(Self { address, prefix })
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) if self.address.is_ipv4() => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            other => other,
        };
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_matches(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_matches(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_matches(network: &[u8], ip: &[u8], prefix: u8) -> bool {
    let mut remaining = u32::from(prefix);
    for (n, i) in network.iter().zip(ip) {
        if remaining == 0 {
            return true;
        }
        let bits = remaining.min(8);
        let mask = (0xffu16 << (8 - bits)) as u8;
        if n & mask != i & mask {
            return false;
        }
        remaining -= bits;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(config: RegistryConfig) -> EndpointResolver {
        EndpointResolver::new(&config).unwrap()
    }

    fn bases(endpoints: &[Endpoint]) -> Vec<(&str, bool, bool)> {
        endpoints
            .iter()
            .map(|e| (e.base.as_str(), e.verify_tls, e.mirror))
            .collect()
    }

    #[test]
    fn docker_hub_and_plain_registries() {
        let r = resolver(RegistryConfig::default());
        assert_eq!(
            bases(&r.route("docker.io", &Route::Read).unwrap()),
            [("https://registry-1.docker.io", true, false)]
        );
        assert_eq!(
            bases(&r.route("index.docker.io", &Route::Read).unwrap()),
            [("https://registry-1.docker.io", true, false)]
        );
        assert_eq!(
            bases(&r.route("registry.example:5000", &Route::Read).unwrap()),
            [("https://registry.example:5000", true, false)]
        );
        assert_eq!(
            bases(&r.route("docker.io", &Route::Search(Via::Registry)).unwrap()),
            [("https://index.docker.io", true, false)]
        );
    }

    #[test]
    fn loopback_is_insecure_and_falls_back_to_http() {
        let r = resolver(RegistryConfig::default());
        for registry in [
            "localhost:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "127.1.2.3",
        ] {
            let endpoints = r.route(registry, &Route::Write).unwrap();
            assert_eq!(endpoints.len(), 2, "{registry}");
            assert!(!endpoints[0].verify_tls);
            assert!(endpoints[0].base.starts_with("https://"));
            assert!(endpoints[1].base.starts_with("http://"));
            assert_eq!(endpoints[1].certs_host, registry);
        }
    }

    #[test]
    fn mirrors_come_first_for_reads_only() {
        let mut config = RegistryConfig::default();
        config.mirrors.insert(
            "docker.io".into(),
            vec![
                "https://mirror.example/".into(),
                "http://10.0.0.5:5001".into(),
            ],
        );
        config.insecure_registries = vec!["10.0.0.0/8".into()];
        let r = resolver(config);
        let hub = [("https://registry-1.docker.io", true, false)];
        assert_eq!(
            bases(&r.route("docker.io", &Route::Read).unwrap()),
            [
                ("https://mirror.example", true, true),
                ("http://10.0.0.5:5001", false, true),
                hub[0]
            ]
        );
        assert_eq!(bases(&r.route("docker.io", &Route::Write).unwrap()), hub);
        assert_eq!(
            bases(&r.route("docker.io", &Route::At(Via::Registry)).unwrap()),
            hub
        );
        assert_eq!(
            r.route("docker.io", &Route::Read).unwrap()[1].certs_host,
            "10.0.0.5:5001"
        );
        // Search asks each mirror by name, then Docker Hub's index.
        let mirrors: Vec<String> = r
            .search_mirrors("index.docker.io")
            .into_iter()
            .map(|m| m.base)
            .collect();
        assert_eq!(mirrors, ["https://mirror.example", "http://10.0.0.5:5001"]);
        for route in [Route::Search, Route::At] {
            assert_eq!(
                bases(
                    &r.route("docker.io", &route(Via::Mirror(mirrors[1].clone())))
                        .unwrap()
                ),
                [("http://10.0.0.5:5001", false, true)]
            );
        }
        assert!(matches!(
            r.route(
                "docker.io",
                &Route::At(Via::Mirror("https://elsewhere".into()))
            ),
            Err(RegistryError::NotAMirror { .. })
        ));
        assert!(r.search_mirrors("registry.example").is_empty());
    }

    #[test]
    fn other_registries_mirrors_and_an_override_against_search() {
        let mut config = RegistryConfig::default();
        config.mirrors.insert(
            "registry.example".into(),
            vec!["http://10.0.0.5:5001".into()],
        );
        config
            .mirrors
            .insert("docker.io".into(), vec!["https://mirror.example".into()]);
        config
            .endpoint_overrides
            .insert("docker.io".into(), "http://127.0.0.1:5999".into());
        let r = resolver(config);
        assert_eq!(
            bases(&r.route("registry.example", &Route::Read).unwrap()),
            [
                ("http://10.0.0.5:5001", true, true),
                ("https://registry.example", true, false)
            ]
        );
        assert_eq!(r.search_mirrors("registry.example").len(), 1);
        // Reads still try the mirror before the override; search asks the override alone.
        assert_eq!(
            bases(&r.route("docker.io", &Route::Read).unwrap()),
            [
                ("https://mirror.example", true, true),
                ("http://127.0.0.1:5999", true, false)
            ]
        );
        assert!(r.search_mirrors("docker.io").is_empty());
    }

    #[test]
    fn overrides_replace_the_origin() {
        let mut config = RegistryConfig::default();
        config
            .endpoint_overrides
            .insert("docker.io".into(), "http://127.0.0.1:5999".into());
        config.endpoint_overrides.insert(
            "secure.test".into(),
            "https://127.0.0.1:6000/prefix/".into(),
        );
        let r = resolver(config);
        assert_eq!(
            bases(&r.route("docker.io", &Route::Read).unwrap()),
            [("http://127.0.0.1:5999", true, false)]
        );
        assert_eq!(
            bases(&r.route("docker.io", &Route::Search(Via::Registry)).unwrap()),
            [("http://127.0.0.1:5999", true, false)]
        );
        let secure = r.route("secure.test", &Route::Read).unwrap();
        assert_eq!(
            bases(&secure),
            [("https://127.0.0.1:6000/prefix", true, false)]
        );
        assert_eq!(secure[0].certs_host, "secure.test");
        assert_eq!(
            secure[0].url("/v2/").unwrap().as_str(),
            "https://127.0.0.1:6000/prefix/v2/"
        );
    }

    #[test]
    fn bad_configuration_is_refused() {
        let mut config = RegistryConfig::default();
        config
            .mirrors
            .insert("docker.io".into(), vec!["ftp://mirror".into()]);
        assert!(matches!(
            EndpointResolver::new(&config),
            Err(RegistryError::Config { .. })
        ));
        let config = RegistryConfig {
            insecure_registries: vec!["10.0.0.0/33".into()],
            ..RegistryConfig::default()
        };
        assert!(EndpointResolver::new(&config).is_err());
    }

    #[test]
    fn insecure_names_and_networks() {
        let insecure = InsecureRegistries::parse(&[
            "registry.lan:5000".into(),
            "http://other.lan".into(),
            "10.0.0.0/8".into(),
            "fd00::/8".into(),
        ])
        .unwrap();
        assert!(insecure.contains("registry.lan:5000"));
        assert!(!insecure.contains("registry.lan"));
        assert!(insecure.contains("other.lan"));
        assert!(insecure.contains("10.20.30.40:443"));
        assert!(!insecure.contains("11.0.0.1"));
        assert!(insecure.contains("[fd12::1]:5000"));
        assert!(insecure.contains("localhost"));
        assert!(insecure.contains("127.0.0.1:5000"));
        assert!(insecure.contains("::1"));
        assert!(!insecure.contains("registry.example"));
    }

    #[test]
    fn networks_match_by_prefix() {
        let net = Network::parse("192.168.4.0/22").unwrap();
        assert!(net.contains("192.168.7.255".parse().unwrap()));
        assert!(!net.contains("192.168.8.0".parse().unwrap()));
        assert!(net.contains("::ffff:192.168.5.1".parse().unwrap()));
        assert!(
            Network::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert_eq!(Network::parse("10.0.0.0"), None);
    }
}
