//! Which proxy, if any, a request URL goes through: `http_proxy`/`https_proxy` by scheme, with Go's
//! `no_proxy` matching (hosts, domains, IPs, CIDRs, ports, `*`) and loopback left direct.

use std::net::IpAddr;

use url::Url;

use crate::config::ProxyConfig;
use crate::endpoint::Network;
use crate::error::RegistryError;

/// The proxy settings, parsed once.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProxyRules {
    http: Option<Url>,
    https: Option<Url>,
    bypass: NoProxy,
    proxy_loopback: bool,
}

impl ProxyRules {
    pub(crate) fn new(config: &ProxyConfig) -> Result<Self, RegistryError> {
        Ok(Self {
            http: parse_proxy("http_proxy", config.http_proxy.as_deref())?,
            https: parse_proxy("https_proxy", config.https_proxy.as_deref())?,
            bypass: NoProxy::parse(config.no_proxy.as_deref().unwrap_or("")),
            proxy_loopback: config.proxy_loopback,
        })
    }

    /// True when no request is ever proxied.
    pub(crate) fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }

    /// The proxy for a request to `url`, or `None` to connect directly.
    pub(crate) fn proxy_for(&self, url: &Url) -> Option<Url> {
        let proxy = match url.scheme() {
            "http" => self.http.as_ref(),
            "https" => self.https.as_ref(),
            _ => None,
        }?;
        let host = match url.host()? {
            url::Host::Domain(domain) => Host::Name(domain.to_ascii_lowercase()),
            url::Host::Ipv4(ip) => Host::Ip(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Host::Ip(IpAddr::V6(ip)),
        };
        if !self.proxy_loopback && host.is_loopback() {
            return None;
        }
        let port = url.port_or_known_default();
        if self.bypass.matches(&host, port) {
            return None;
        }
        Some(proxy.clone())
    }
}

fn parse_proxy(key: &str, value: Option<&str>) -> Result<Option<Url>, RegistryError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    // As Go does, a bare `host:port` means an HTTP proxy.
    let text = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    let invalid = |message: String| RegistryError::Config {
        key: key.to_owned(),
        value: value.to_owned(),
        message,
    };
    let url = Url::parse(&text).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            "expected an http:// or https:// proxy URL with a host".to_owned(),
        ));
    }
    Ok(Some(url))
}

enum Host {
    Name(String),
    Ip(IpAddr),
}

impl Host {
    fn is_loopback(&self) -> bool {
        match self {
            Host::Name(name) => name == "localhost" || name.ends_with(".localhost"),
            Host::Ip(ip) => ip.is_loopback(),
        }
    }
}

/// `no_proxy` entries.
#[derive(Debug, Clone, Default)]
struct NoProxy {
    everything: bool,
    entries: Vec<Bypass>,
}

#[derive(Debug, Clone)]
enum Bypass {
    Network(Network),
    Ip {
        ip: IpAddr,
        port: Option<u16>,
    },
    /// `example.com` (itself and its subdomains) or `.example.com` (subdomains only).
    Domain {
        name: String,
        port: Option<u16>,
        subdomains_only: bool,
    },
}

impl NoProxy {
    fn parse(text: &str) -> Self {
        let mut parsed = Self::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                parsed.everything = true;
                continue;
            }
            let entry = entry.to_ascii_lowercase();
            if let Some(network) = Network::parse(&entry) {
                parsed.entries.push(Bypass::Network(network));
                continue;
            }
            if let Ok(ip) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
                parsed.entries.push(Bypass::Ip { ip, port: None });
                continue;
            }
            let (host, port) = split_port(&entry);
            if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
                parsed.entries.push(Bypass::Ip { ip, port });
                continue;
            }
            let host = host.strip_prefix('*').unwrap_or(host);
            let (name, subdomains_only) = match host.strip_prefix('.') {
                Some(name) => (name, true),
                None => (host, false),
            };
            if !name.is_empty() {
                parsed.entries.push(Bypass::Domain {
                    name: name.to_owned(),
                    port,
                    subdomains_only,
                });
            }
        }
        parsed
    }

    fn matches(&self, host: &Host, port: Option<u16>) -> bool {
        if self.everything {
            return true;
        }
        let port_ok = |wanted: &Option<u16>| wanted.is_none() || *wanted == port;
        self.entries.iter().any(|entry| match (entry, host) {
            (Bypass::Network(network), Host::Ip(ip)) => network.contains(*ip),
            (Bypass::Ip { ip, port: wanted }, Host::Ip(address)) => {
                ip == address && port_ok(wanted)
            }
            (
                Bypass::Domain {
                    name,
                    port: wanted,
                    subdomains_only,
                },
                Host::Name(host),
            ) => {
                let subdomain = host
                    .strip_suffix(name.as_str())
                    .is_some_and(|rest| rest.ends_with('.'));
                let exact = host == name && !subdomains_only;
                (subdomain || exact) && port_ok(wanted)
            }
            _ => false,
        })
    }
}

/// `host:port` into its parts; a host without a (numeric) port is returned whole.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some((host, port)) = entry.rsplit_once(':')
        && !host.is_empty()
        && (!host.contains(':') || host.ends_with(']'))
        && let Ok(port) = port.parse::<u16>()
    {
        return (host, Some(port));
    }
    (entry, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(no_proxy: &str, proxy_loopback: bool) -> ProxyRules {
        ProxyRules::new(&ProxyConfig {
            http_proxy: Some("proxy.example:3128".into()),
            https_proxy: Some("http://secure-proxy.example:3129".into()),
            no_proxy: Some(no_proxy.into()),
            proxy_loopback,
        })
        .unwrap()
    }

    fn proxied(rules: &ProxyRules, url: &str) -> Option<String> {
        rules
            .proxy_for(&Url::parse(url).unwrap())
            .map(|u| u.to_string())
    }

    #[test]
    fn scheme_picks_the_proxy() {
        let r = rules("", false);
        assert_eq!(
            proxied(&r, "http://registry.example/v2/"),
            Some("http://proxy.example:3128/".into())
        );
        assert_eq!(
            proxied(&r, "https://registry.example/v2/"),
            Some("http://secure-proxy.example:3129/".into())
        );
    }

    #[test]
    fn loopback_goes_direct_unless_asked() {
        let r = rules("", false);
        assert_eq!(proxied(&r, "http://127.0.0.1:5000/v2/"), None);
        assert_eq!(proxied(&r, "http://localhost:5000/v2/"), None);
        assert_eq!(proxied(&r, "http://[::1]:5000/v2/"), None);
        let r = rules("", true);
        assert!(proxied(&r, "http://127.0.0.1:5000/v2/").is_some());
    }

    #[test]
    fn no_proxy_matching_follows_go() {
        let r = rules(
            "example.com, .sub.test,10.0.0.0/8,192.168.1.1,registry.lan:5000,*.wild.test",
            false,
        );
        assert_eq!(proxied(&r, "https://example.com/"), None);
        assert_eq!(proxied(&r, "https://a.example.com/"), None);
        assert!(proxied(&r, "https://notexample.com/").is_some());
        assert!(proxied(&r, "https://sub.test/").is_some());
        assert_eq!(proxied(&r, "https://x.sub.test/"), None);
        assert_eq!(proxied(&r, "https://10.9.8.7/"), None);
        assert_eq!(proxied(&r, "https://192.168.1.1:5000/"), None);
        assert!(proxied(&r, "https://192.168.1.2/").is_some());
        assert_eq!(proxied(&r, "https://registry.lan:5000/"), None);
        assert!(proxied(&r, "https://registry.lan/").is_some());
        assert_eq!(proxied(&r, "https://a.wild.test/"), None);
        assert!(proxied(&r, "https://wild.test/").is_some());
        let all = rules("*", true);
        assert_eq!(proxied(&all, "https://anything.example/"), None);
    }

    #[test]
    fn bad_proxy_urls_are_refused() {
        let error = ProxyRules::new(&ProxyConfig {
            https_proxy: Some("ftp://proxy".into()),
            ..ProxyConfig::default()
        });
        assert!(matches!(error, Err(RegistryError::Config { .. })));
    }
}
