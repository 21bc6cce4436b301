//! Published ports: Docker's `-p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]` (with ranges), `--expose`, the
//! host ports chosen for `-p CONTAINER_PORT` and `-P`, and the `port` listing.

use std::collections::BTreeMap;

use super::{Container, PortBinding, find};
use crate::{Hoist, OpsError};

fn invalid(spec: &str, why: &str) -> OpsError {
    OpsError::InvalidOption(format!("invalid port specification: \"{spec}\": {why}"))
}

/// `80`, `8000-8010` as a list of ports.
fn port_range(text: &str, spec: &str) -> Result<Vec<u16>, OpsError> {
    let number = |t: &str| {
        t.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| invalid(spec, &format!("invalid port {t:?}")))
    };
    match text.split_once('-') {
        Some((start, end)) => {
            let (start, end) = (number(start)?, number(end)?);
            if end < start {
                return Err(invalid(spec, "the range ends before it starts"));
            }
            Ok((start..=end).collect())
        }
        None => Ok(vec![number(text)?]),
    }
}

fn protocol(text: &str, spec: &str) -> Result<String, OpsError> {
    match text {
        "" | "tcp" => Ok("tcp".to_owned()),
        "udp" => Ok("udp".to_owned()),
        other => Err(invalid(spec, &format!("unsupported protocol {other:?}"))),
    }
}

/// `--expose 80`, `--expose 53/udp`, `--expose 8000-8010`: Docker's `80/tcp` keys.
pub fn parse_expose(spec: &str) -> Result<Vec<String>, OpsError> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, ""));
    let proto = protocol(proto, spec)?;
    Ok(port_range(ports, spec)?
        .into_iter()
        .map(|p| format!("{p}/{proto}"))
        .collect())
}

/// One `-p` spec as `(80/tcp, binding)` pairs; a binding's empty host port is chosen by [`allocate`].
pub fn parse_publish(spec: &str) -> Result<Vec<(String, PortBinding)>, OpsError> {
    let (address, proto) = spec.rsplit_once('/').unwrap_or((spec, ""));
    let proto = protocol(proto, spec)?;
    // An IPv6 host address is bracketed: `[::1]:8080:80`.
    let (host_ip, rest) = match address.strip_prefix('[') {
        Some(bracketed) => {
            let (ip, rest) = bracketed
                .split_once("]:")
                .ok_or_else(|| invalid(spec, "unclosed IPv6 address"))?;
            (Some(ip.to_owned()), rest.to_owned())
        }
        None => (None, address.to_owned()),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match (host_ip, parts.as_slice()) {
        (None, [container]) => (String::new(), "", *container),
        (None, [host, container]) => (String::new(), *host, *container),
        (None, [ip, host, container]) => ((*ip).to_owned(), *host, *container),
        (Some(ip), [host, container]) => (ip, *host, *container),
        _ => return Err(invalid(spec, "too many colons")),
    };
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(invalid(spec, &format!("invalid IP address {ip:?}")));
    }
    let container_ports = port_range(container, spec)?;
    let host_ports: Vec<Option<u16>> = if host.is_empty() {
        vec![None; container_ports.len()]
    } else {
        let hosts = port_range(host, spec)?;
        if hosts.len() != container_ports.len() {
            return Err(invalid(
                spec,
                "the host and container port ranges differ in length",
            ));
        }
        hosts.into_iter().map(Some).collect()
    };
    let ip = if ip.is_empty() {
        "0.0.0.0".to_owned()
    } else {
        ip
    };
    Ok(container_ports
        .into_iter()
        .zip(host_ports)
        .map(|(container, host)| {
            (
                format!("{container}/{proto}"),
                PortBinding {
                    host_ip: ip.clone(),
                    host_port: host.map(|p| p.to_string()).unwrap_or_default(),
                },
            )
        })
        .collect())
}

/// A host port free right now on `ip` for `protocol`, as the kernel picks one.
pub(crate) fn free_port(ip: &str, protocol: &str) -> Result<u16, OpsError> {
    let address = (ip, 0u16);
    let port = if protocol == "udp" {
        std::net::UdpSocket::bind(address).and_then(|s| s.local_addr())
    } else {
        std::net::TcpListener::bind(address).and_then(|s| s.local_addr())
    };
    port.map(|a| a.port()).map_err(|error| OpsError::Input {
        source_name: format!("a free port on {ip}"),
        error,
    })
}

/// Chooses a host port for every binding that has none.
pub(crate) fn allocate(bindings: &mut BTreeMap<String, Vec<PortBinding>>) -> Result<(), OpsError> {
    for (port, list) in bindings.iter_mut() {
        let protocol = port.rsplit('/').next().unwrap_or("tcp");
        for binding in list.iter_mut().filter(|b| b.host_port.is_empty()) {
            binding.host_port = free_port(&binding.host_ip, protocol)?.to_string();
        }
    }
    Ok(())
}

/// The runtime's port forwards for a container's bindings.
pub(crate) fn forwards(
    bindings: &BTreeMap<String, Vec<PortBinding>>,
) -> Result<Vec<hoist_runtime::PortForward>, OpsError> {
    let mut forwards = Vec::new();
    for (port, list) in bindings {
        let (number, protocol) = port.split_once('/').unwrap_or((port, "tcp"));
        let container_port = number
            .parse()
            .map_err(|_| OpsError::InvalidOption(format!("invalid container port {port}")))?;
        for binding in list {
            forwards.push(hoist_runtime::PortForward {
                protocol: protocol.to_owned(),
                host_ip: binding.host_ip.clone(),
                host_port: binding.host_port.parse().map_err(|_| {
                    OpsError::InvalidOption(format!("invalid host port {}", binding.host_port))
                })?,
                container_port,
            });
        }
    }
    Ok(forwards)
}

/// `80/tcp -> 0.0.0.0:8080` lines, in `docker port`'s order and form.
pub fn mappings(container: &Container) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    for (port, list) in &container.setup.host.port_bindings {
        for binding in list {
            lines.push((
                port.clone(),
                format!("{}:{}", binding.host_ip, binding.host_port),
            ));
        }
    }
    lines
}

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's mappings, or those of one port.
pub fn port(
    hoist: &Hoist,
    input: &str,
    private: Option<&str>,
) -> Result<Vec<(String, String)>, OpsError> {
    let container = find(hoist, input)?;
    let all = mappings(&container);
    let Some(private) = private else {
        return Ok(all);
    };
    let wanted = if private.contains('/') {
        private.to_owned()
    } else {
        format!("{private}/tcp")
    };
    let found: Vec<(String, String)> = all.into_iter().filter(|(p, _)| *p == wanted).collect();
    if found.is_empty() {
        return Err(OpsError::InvalidOption(format!(
            "No public port '{wanted}' published for {}",
            container.name
        )));
    }
    Ok(found)
}

/// Docker's `ps` PORTS text: `0.0.0.0:8080->80/tcp, 0.0.0.0:5353->53/udp`.
pub fn ps_text(container: &Container) -> String {
    mappings(container)
        .iter()
        .map(|(port, host)| format!("{host}->{port}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: ip.to_owned(),
            host_port: port.to_owned(),
        }
    }

    #[test]
    fn publish_specs_as_docker_reads_them() {
        assert_eq!(
            parse_publish("5000:5000").unwrap(),
            [("5000/tcp".to_owned(), binding("0.0.0.0", "5000"))]
        );
        assert_eq!(
            parse_publish("127.0.0.1:8080:80/udp").unwrap(),
            [("80/udp".to_owned(), binding("127.0.0.1", "8080"))]
        );
        assert_eq!(
            parse_publish("80").unwrap(),
            [("80/tcp".to_owned(), binding("0.0.0.0", ""))]
        );
        assert_eq!(
            parse_publish("127.0.0.1::80").unwrap(),
            [("80/tcp".to_owned(), binding("127.0.0.1", ""))]
        );
        assert_eq!(
            parse_publish("[::1]:8080:80").unwrap(),
            [("80/tcp".to_owned(), binding("::1", "8080"))]
        );
        assert_eq!(parse_publish("8000-8001:9000-9001").unwrap().len(), 2);
        for bad in [
            "x:80",
            "80:70000",
            "8000-8002:80-81",
            "80/sctpx",
            "1.2.3:80:80",
            "a:b:c:d",
        ] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_expose("53/udp").unwrap(), ["53/udp"]);
        assert_eq!(parse_expose("8000-8001").unwrap(), ["8000/tcp", "8001/tcp"]);
    }
}
