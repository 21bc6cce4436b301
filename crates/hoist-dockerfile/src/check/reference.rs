//! Image references for the checks: whether a base is a reference `docker build` would accept
//! (distribution's `ParseNormalizedNamed`), and its tag and digest.

/// Whether `text` parses as a normalized Docker reference: `[domain/]path[:tag][@digest]`, the path in
/// lower case, not a bare 64-hex image ID.
pub(super) fn is_valid(text: &str) -> bool {
    if text.is_empty() || (text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())) {
        return false;
    }
    let (named, digest) = match text.split_once('@') {
        Some((named, digest)) => (named, Some(digest)),
        None => (text, None),
    };
    if digest.is_some_and(|d| !is_digest(d)) {
        return false;
    }
    let (name, tag) = split_tag(named);
    if tag.is_some_and(|t| !is_tag(t)) {
        return false;
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => ("docker.io", name),
    };
    let full_len = domain.len() + 1 + path.len();
    is_domain(domain) && path.split('/').all(is_path_component) && full_len <= 255
}

/// The name and the tag: the tag follows the last `:` after the last `/`.
pub(super) fn split_tag(named: &str) -> (&str, Option<&str>) {
    let slash = named.rfind('/').map_or(0, |i| i + 1);
    match named[slash..].rfind(':') {
        Some(colon) => (&named[..slash + colon], Some(&named[slash + colon + 1..])),
        None => (named, None),
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(part: &str) -> bool {
    let bytes = part.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().copied().is_some_and(alnum) || !bytes.last().copied().is_some_and(alnum) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &part[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A registry host: dot-separated labels of letters, digits and inner `-`, or `[IPv6]`, then an
/// optional `:port`.
fn is_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return false;
        };
        if inside.is_empty() || !inside.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        }
    };
    let label = |l: &str| {
        !l.is_empty()
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let host_ok = host.is_empty() && domain.starts_with('[') || host.split('.').all(label);
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// `[\w][\w.-]{0,127}`
fn is_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    tag.len() <= 128
        && tag.chars().next().is_some_and(word)
        && tag.chars().all(|c| word(c) || c == '.' || c == '-')
}

/// `algorithm:hex` with at least 32 hex digits.
fn is_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.split(['-', '_', '+', '.']).all(|part| {
        part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && part.chars().all(|c| c.is_ascii_alphanumeric())
    });
    algorithm_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        for good in [
            "busybox",
            "busybox:latest",
            "busybox:stable-musl",
            "library/busybox",
            "localhost:5000/a/b:1",
            "ghcr.io/owner/image:v1.2",
            "registry.example.com/myapp@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "[::1]:5000/x",
            "my_image__x",
            "a--b",
            "scratch",
        ] {
            assert!(is_valid(good), "{good}");
        }
        for bad in [
            "",
            "busybox:",
            "Busybox",
            "busybox:stable@",
            "a/-b",
            "a__b_",
            "x@sha256:short",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "a:b:c",
            ":tag",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn tags() {
        assert_eq!(split_tag("alpine:3.20"), ("alpine", Some("3.20")));
        assert_eq!(
            split_tag("localhost:5000/alpine"),
            ("localhost:5000/alpine", None)
        );
        assert_eq!(split_tag("alpine"), ("alpine", None));
    }
}
