//! Image references (`[registry[:port]/]repository[:tag][@digest]`) with Docker's grammar, normalisation and wording.
//!
//! Parsing follows distribution/reference: `nginx` is `docker.io/library/nginx`, a first path component is a
//! registry only if it contains `.` or `:`, is `localhost`, or has uppercase letters; errors use Docker's messages
//! so that a Docker user sees the same text.

use std::fmt;

use crate::digest::Digest;

/// The registry Docker Hub references normalise to.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The tag an untagged, undigested reference means.
pub const DEFAULT_TAG: &str = "latest";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a string is not a valid reference; the messages are Docker's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    InvalidFormat,
    #[error("invalid tag format")]
    InvalidTag,
    #[error("invalid digest format")]
    InvalidDigest,
    #[error("invalid reference format: repository name must be lowercase")]
    NameContainsUppercase,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    RemoteNameContainsUppercase(String),
    #[error("repository name must have at least one component")]
    NameEmpty,
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    LooksLikeImageId(String),
}

/// A normalised reference: a registry domain, a repository path and an optional tag and digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference the way the Docker CLI does (`ParseNormalizedNamed`): short names gain
    /// `docker.io/` and `library/`; no default tag is added (see [`Reference::with_default_tag`]).
    pub fn parse_normalized(s: &str) -> Result<Self, ReferenceError> {
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ReferenceError::LooksLikeImageId(s.to_owned()));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote_name = remainder.split([':', '@']).next().unwrap_or_default();
        if remote_name.to_lowercase() != remote_name {
            return Err(ReferenceError::RemoteNameContainsUppercase(
                remote_name.to_owned(),
            ));
        }
        Self::parse(&format!("{domain}/{remainder}"))
    }

    /// Parses a fully qualified reference exactly as written (`reference.Parse`), without normalisation.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::NameEmpty);
        }
        match parse_parts(s) {
            Ok(r) => Ok(r),
            Err(ReferenceError::InvalidFormat) if parse_parts(&s.to_lowercase()).is_ok() => {
                Err(ReferenceError::NameContainsUppercase)
            }
            Err(e) => Err(e),
        }
    }

    /// The same reference with `:latest` when it has neither tag nor digest (`TagNameOnly`).
    #[must_use]
    pub fn with_default_tag(mut self) -> Self {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_owned());
        }
        self
    }

    /// The same repository with another tag and no digest.
    #[must_use]
    pub fn with_tag(&self, tag: &str) -> Self {
        Self {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_owned()),
            digest: None,
        }
    }

    /// The same repository with a digest and no tag.
    #[must_use]
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: Some(digest),
        }
    }

    /// The registry host, with its port if any (`docker.io`, `localhost:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }
    /// The repository path inside the registry (`library/nginx`).
    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The fully qualified repository name (`docker.io/library/nginx`).
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository as Docker displays it (`nginx`, `user/app`, `localhost:5000/app`).
    pub fn familiar_repository(&self) -> String {
        familiar_repository(&self.domain, &self.path)
    }

    /// The whole reference as Docker displays it (`nginx:latest`, `nginx@sha256:…`).
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_repository();
        self.push_suffix(&mut s);
        s
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(&digest.to_string());
        }
    }
}

/// The display form of a fully qualified repository name (`docker.io/library/nginx` → `nginx`).
pub fn familiar_repository(domain: &str, path: &str) -> String {
    if domain == DEFAULT_DOMAIN {
        match path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_owned(),
            _ => path.to_owned(),
        }
    } else {
        format!("{domain}/{path}")
    }
}

/// The display form of a fully qualified name string such as `docker.io/library/nginx:latest`.
pub fn familiar_string(full: &str) -> String {
    match Reference::parse(full) {
        Ok(r) => r.familiar(),
        Err(_) => full.to_owned(),
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.repository();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.find('/') {
        None => (DEFAULT_DOMAIN.to_owned(), name.to_owned()),
        Some(i) => {
            let first = &name[..i];
            if !first.contains(['.', ':']) && first != "localhost" && first.to_lowercase() == first
            {
                (DEFAULT_DOMAIN.to_owned(), name.to_owned())
            } else {
                (first.to_owned(), name[i + 1..].to_owned())
            }
        }
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_owned();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    (domain, remainder)
}

fn parse_parts(s: &str) -> Result<Reference, ReferenceError> {
    let (name_and_tag, digest) = match s.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (s, None),
    };
    let (name, tag) = match name_and_tag.rfind(':') {
        Some(i) if !name_and_tag[i..].contains('/') => {
            (&name_and_tag[..i], Some(&name_and_tag[i + 1..]))
        }
        _ => (name_and_tag, None),
    };
    if let Some(tag) = tag
        && !is_tag(tag)
    {
        return Err(ReferenceError::InvalidFormat);
    }
    let digest = match digest {
        None => None,
        Some(d) => {
            if !is_digest_shape(d) {
                return Err(ReferenceError::InvalidFormat);
            }
            Some(
                d.parse::<Digest>()
                    .map_err(|_| ReferenceError::InvalidDigest)?,
            )
        }
    };
    let (domain, path) = split_name(name)?;
    if name.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ReferenceError::NameTooLong);
    }
    let domain = domain.ok_or(ReferenceError::InvalidFormat)?;
    Ok(Reference {
        domain: domain.to_owned(),
        path: path.to_owned(),
        tag: tag.map(str::to_owned),
        digest,
    })
}

/// Splits `domain/path` following the reference grammar: the domain is optional there, so `a/b` with no
/// domain-looking first component still parses (callers that need a domain check for `None`).
fn split_name(name: &str) -> Result<(Option<&str>, &str), ReferenceError> {
    if let Some((first, rest)) = name.split_once('/')
        && is_domain(first)
        && is_path(rest)
    {
        return Ok((Some(first), rest));
    }
    if is_path(name) {
        Ok((None, name))
    } else {
        Err(ReferenceError::InvalidFormat)
    }
}

fn is_path(path: &str) -> bool {
    !path.is_empty() && path.split('/').all(is_path_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    let mut expect_alnum = true;
    while i < b.len() {
        if alnum(b[i]) {
            expect_alnum = false;
            i += 1;
            continue;
        }
        if expect_alnum {
            return false;
        }
        // A separator: ".", "_", "__" or a run of "-".
        match b[i] {
            b'.' => i += 1,
            b'_' => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        expect_alnum = true;
    }
    !b.is_empty() && !expect_alnum
}

fn is_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        // [ipv6]:port
        let Some(end) = rest.find(']') else {
            return false;
        };
        let inner = &rest[..end];
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        let after = &rest[end + 1..];
        match after.strip_prefix(':') {
            Some(p) => return !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()),
            None => return after.is_empty(),
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

/// `[\w][\w.-]{0,127}`
fn is_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
fn is_digest_shape(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    let alg_ok = alg.split(['-', '_', '+', '.']).all(|part| {
        let b = part.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    });
    alg_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse_normalized(s)
            .map(|r| r.to_string())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn normalises_like_docker() {
        let cases = [
            ("nginx", "docker.io/library/nginx"),
            ("nginx:1.23-alpine", "docker.io/library/nginx:1.23-alpine"),
            ("bitnami/nginx:latest", "docker.io/bitnami/nginx:latest"),
            (
                "docker.io/library/nginx:latest",
                "docker.io/library/nginx:latest",
            ),
            ("index.docker.io/nginx", "docker.io/library/nginx"),
            ("localhost/app", "localhost/app"),
            ("localhost:5000/myimage:tag", "localhost:5000/myimage:tag"),
            ("127.0.0.1:5000/a/b/c:v1", "127.0.0.1:5000/a/b/c:v1"),
            (
                "gcr.io/google-containers/busybox:latest",
                "gcr.io/google-containers/busybox:latest",
            ),
            (
                "registry.example.com/myapp:v2",
                "registry.example.com/myapp:v2",
            ),
            ("Foo/bar", "Foo/bar"),
            ("[::1]:5000/app", "[::1]:5000/app"),
            ("a__b/c-d---e.f_g", "docker.io/a__b/c-d---e.f_g"),
            (
                "nginx@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "docker.io/library/nginx@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                "nginx:1.2@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "docker.io/library/nginx:1.2@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input), want, "input {input}");
        }
    }

    #[test]
    fn errors_use_dockers_wording() {
        let cases = [
            (
                "Nginx",
                "error: invalid reference format: repository name (library/Nginx) must be lowercase",
            ),
            ("nginx:", "error: invalid reference format"),
            (":tag", "error: invalid reference format"),
            ("", "error: invalid reference format"),
            ("nginx:-bad", "error: invalid reference format"),
            ("a/../b", "error: invalid reference format"),
            ("nginx@sha256:abc", "error: invalid reference format"),
            (
                "UPPER:tag",
                "error: invalid reference format: repository name (library/UPPER) must be lowercase",
            ),
            (
                "nginx@sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                "error: invalid digest format",
            ),
            (
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "error: invalid repository name (e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855), cannot specify 64-byte hexadecimal strings",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input), want, "input {input:?}");
        }
        let long = format!("a/{}", "b".repeat(300));
        assert_eq!(
            norm(&long),
            "error: repository name must not be more than 255 characters"
        );
    }

    #[test]
    fn familiar_forms() {
        let r = Reference::parse_normalized("nginx")
            .unwrap()
            .with_default_tag();
        assert_eq!(r.familiar(), "nginx:latest");
        assert_eq!(r.repository(), "docker.io/library/nginx");
        let r = Reference::parse_normalized("user/app:1").unwrap();
        assert_eq!(r.familiar(), "user/app:1");
        let r = Reference::parse_normalized("docker.io/library/a/b").unwrap();
        assert_eq!(r.familiar(), "library/a/b");
        let r = Reference::parse_normalized("localhost:5000/x").unwrap();
        assert_eq!(r.familiar(), "localhost:5000/x");
        assert_eq!(
            familiar_string("docker.io/library/redis:alpine"),
            "redis:alpine"
        );
    }
}
