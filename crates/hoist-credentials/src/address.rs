//! Server addresses as Docker keys them in config.json and in credential helpers.
//!
//! A reference names a registry by host (`docker.io`, `localhost:5000`); config.json keys logins by the
//! address `docker login` was given, which for Docker Hub is the historical `https://index.docker.io/v1/`
//! and, in files written by older clients, may carry a scheme or a `/v1/` path.

/// The key Docker uses for Docker Hub logins, in config.json and in credential helpers.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// Host names that all mean Docker Hub.
const DOCKER_HUB_HOSTS: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

/// The key Docker writes for a registry: [`DOCKER_HUB_KEY`] for Docker Hub, else the bare `host[:port]`.
///
/// Accepts a host as it appears in image references (`docker.io`, `localhost:5000`) or a server URL as
/// users type it after `docker login` (`https://myregistry.example.com/v1/`). An empty address means the
/// default registry, Docker Hub, as `docker login` with no argument does.
pub fn server_key(registry: &str) -> String {
    let registry = registry.trim();
    if registry.is_empty() {
        return DOCKER_HUB_KEY.to_owned();
    }
    let host = convert_to_hostname(registry);
    if is_docker_hub_host(&host) {
        DOCKER_HUB_KEY.to_owned()
    } else {
        host
    }
}

/// Whether `registry` (a host or a server URL) is Docker Hub.
pub fn is_docker_hub(registry: &str) -> bool {
    server_key(registry) == DOCKER_HUB_KEY
}

fn is_docker_hub_host(host: &str) -> bool {
    DOCKER_HUB_HOSTS
        .iter()
        .any(|hub| hub.eq_ignore_ascii_case(host))
}

/// Docker's `ConvertToHostname`: the `host[:port]` of a server address that may carry a scheme and a path.
///
/// `https://host:5000/v1/` → `host:5000`, `host/v1/` → `host`, `http://[::1]:5000` → `[::1]:5000`.
/// User information in a URL is dropped; a bracketed IPv6 address without a port loses its brackets, as
/// Go's `url.Hostname` does.
pub fn convert_to_hostname(maybe_url: &str) -> String {
    if let Some((_scheme, rest)) = maybe_url.split_once("://")
        && let Some(host) = host_of_url(rest).or_else(|| host_from_url_fallback(rest))
    {
        return host;
    }
    maybe_url
        .split_once('/')
        .map_or(maybe_url, |(host, _path)| host)
        .to_owned()
}

/// The host of the part of a URL after `scheme://`, when Go's URL parser would accept it.
fn host_of_url(rest: &str) -> Option<String> {
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_user_info, host_port)| host_port);
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        let port = if after.is_empty() {
            ""
        } else {
            after.strip_prefix(':')?
        };
        (host, port)
    } else {
        match host_port.split_once(':') {
            // More than one colon without brackets: Go refuses the URL.
            Some((_, port)) if port.contains(':') => return None,
            Some((host, port)) => (host, port),
            None => (host_port, ""),
        }
    };
    if host.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(if port.is_empty() {
        host.to_owned()
    } else {
        join_host_port(host, port)
    })
}

/// Docker's fallback for URLs Go refuses, such as an unbracketed IPv6 address with a port.
fn host_from_url_fallback(rest: &str) -> Option<String> {
    let host = rest.split_once('/').map_or(rest, |(host, _path)| host);
    if host.is_empty() {
        return None;
    }
    if host.matches(':').count() > 1
        && !host.starts_with('[')
        && let Some((address, port)) = host.rsplit_once(':')
        && !address.is_empty()
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(join_host_port(address, port));
    }
    Some(host.to_owned())
}

fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Whether a config.json key written by any Docker version names the server whose key is `key`.
pub(crate) fn key_matches(entry_key: &str, key: &str) -> bool {
    entry_key == key || server_key(entry_key) == key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_aliases_map_to_the_index_key() {
        for hub in [
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "Docker.IO",
            "https://index.docker.io/v1/",
            "https://index.docker.io/v1",
            "https://registry-1.docker.io",
            "index.docker.io/v1/",
            "",
        ] {
            assert_eq!(server_key(hub), DOCKER_HUB_KEY, "{hub:?}");
            assert!(is_docker_hub(hub), "{hub:?}");
        }
    }

    #[test]
    fn other_registries_are_keyed_by_host_and_port() {
        for (registry, key) in [
            ("localhost:5000", "localhost:5000"),
            ("127.0.0.1:5000", "127.0.0.1:5000"),
            ("myregistry.example.com", "myregistry.example.com"),
            ("https://myregistry.example.com", "myregistry.example.com"),
            (
                "http://myregistry.example.com/v1/",
                "myregistry.example.com",
            ),
            ("myregistry.example.com/v1/", "myregistry.example.com"),
            ("https://localhost:5000/v2/", "localhost:5000"),
            ("quay.io", "quay.io"),
        ] {
            assert_eq!(server_key(registry), key, "{registry:?}");
            assert!(!is_docker_hub(registry), "{registry:?}");
        }
    }

    #[test]
    fn convert_to_hostname_follows_docker() {
        for (url, host) in [
            ("https://host:5000/v1/", "host:5000"),
            ("http://host", "host"),
            ("host/v1/", "host"),
            ("host", "host"),
            ("https://user:secret@host:443/", "host:443"),
            ("http://[::1]:5000/v2/", "[::1]:5000"),
            ("https://[::1]/", "::1"),
            ("https://::1:5000/", "[::1]:5000"),
            ("https://host?x=1", "host"),
        ] {
            assert_eq!(convert_to_hostname(url), host, "{url:?}");
        }
    }

    #[test]
    fn legacy_keys_match_their_host() {
        assert!(key_matches(
            "https://myreg.example.com/v1/",
            "myreg.example.com"
        ));
        assert!(key_matches("http://localhost:5000", "localhost:5000"));
        assert!(key_matches("docker.io", DOCKER_HUB_KEY));
        assert!(!key_matches(
            "https://other.example.com",
            "myreg.example.com"
        ));
        assert!(!key_matches("localhost:5001", "localhost:5000"));
    }
}
