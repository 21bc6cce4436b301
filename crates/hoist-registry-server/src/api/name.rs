//! Repository names, tags and manifest references as the spec defines them.

use std::fmt;

use hoist_spec::{Digest, DigestError};

/// distribution's limit on the length of a repository name.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;
/// The spec's limit on the length of a tag.
pub const TAG_LENGTH_MAX: usize = 128;

/// Why a repository name or tag is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("repository name is empty")]
    EmptyName,
    #[error(
        "repository name {name:?} is {length} characters long; at most {NAME_TOTAL_LENGTH_MAX} are allowed"
    )]
    NameTooLong { name: String, length: usize },
    #[error(
        "repository name {name:?} is invalid: path components are lowercase letters and digits, \
         separated by `.`, `_`, `__` or dashes, and joined by `/`"
    )]
    InvalidName { name: String },
    #[error("tag {tag:?} is invalid: it must match [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}")]
    InvalidTag { tag: String },
}

/// Checks `name` against the spec's
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*` and the length limit.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::EmptyName);
    }
    if name.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(NameError::NameTooLong {
            name: name.to_owned(),
            length: name.len(),
        });
    }
    if name.split('/').all(is_path_component) {
        Ok(())
    } else {
        Err(NameError::InvalidName {
            name: name.to_owned(),
        })
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_path_component(component: &str) -> bool {
    let alphanumeric = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    let mut index = 0;
    loop {
        // One run of [a-z0-9]+.
        let run_start = index;
        while index < bytes.len() && alphanumeric(bytes[index]) {
            index += 1;
        }
        if index == run_start {
            return false;
        }
        if index == bytes.len() {
            return true;
        }
        // One separator: `.`, `_`, `__` or `-+`.
        match bytes[index] {
            b'.' => index += 1,
            b'_' => {
                index += 1;
                if bytes.get(index) == Some(&b'_') {
                    index += 1;
                }
            }
            b'-' => {
                while bytes.get(index) == Some(&b'-') {
                    index += 1;
                }
            }
            _ => return false,
        }
    }
}

/// Checks `tag` against the spec's `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<(), NameError> {
    let bytes = tag.as_bytes();
    let valid = match bytes.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphanumeric() || *first == b'_')
                && rest.len() < TAG_LENGTH_MAX
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(NameError::InvalidTag {
            tag: tag.to_owned(),
        })
    }
}

/// The `<reference>` of a manifest URL: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

/// Why a URL segment is neither a tag nor a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error(transparent)]
    Tag(NameError),
    #[error(transparent)]
    Digest(DigestError),
}

impl Reference {
    /// A reference containing `:` is a digest (tags cannot contain one); anything else is a tag.
    pub fn parse(segment: &str) -> Result<Reference, ReferenceError> {
        if segment.contains(':') {
            segment
                .parse()
                .map(Reference::Digest)
                .map_err(ReferenceError::Digest)
        } else {
            validate_tag(segment).map_err(ReferenceError::Tag)?;
            Ok(Reference::Tag(segment.to_owned()))
        }
    }

    pub fn as_digest(&self) -> Option<&Digest> {
        match self {
            Reference::Digest(digest) => Some(digest),
            Reference::Tag(_) => None,
        }
    }

    pub fn as_tag(&self) -> Option<&str> {
        match self {
            Reference::Tag(tag) => Some(tag),
            Reference::Digest(_) => None,
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(tag) => f.write_str(tag),
            Reference::Digest(digest) => write!(f, "{digest}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        fn check(name: &str, valid: bool) {
            assert_eq!(validate_name(name).is_ok(), valid, "{name:?}");
        }
        for name in [
            "nginx",
            "library/nginx",
            "a",
            "0",
            "foo.bar",
            "foo_bar",
            "foo__bar",
            "foo-bar",
            "foo---bar",
            "a/b/c/d",
            "my-org.io/some_team/app2",
            "blobs/manifests",
        ] {
            check(name, true);
        }
        for name in [
            "",
            "Nginx",
            "../x",
            "x/..",
            "./x",
            "foo___bar",
            "foo._bar",
            "-foo",
            "foo-",
            "foo.",
            "_foo",
            "/foo",
            "foo/",
            "foo//bar",
            "foo bar",
            "foo:bar",
            "fóo",
        ] {
            check(name, false);
        }
        check(&"a".repeat(255), true);
        assert_eq!(
            validate_name(&"a".repeat(256)),
            Err(NameError::NameTooLong {
                name: "a".repeat(256),
                length: 256
            })
        );
        assert_eq!(validate_name(""), Err(NameError::EmptyName));
    }

    #[test]
    fn tags() {
        fn check(tag: &str, valid: bool) {
            assert_eq!(validate_tag(tag).is_ok(), valid, "{tag:?}");
        }
        for tag in [
            "latest",
            "v1.2.3",
            "_private",
            "A-b_C.d",
            "1",
            "x".repeat(128).as_str(),
        ] {
            check(tag, true);
        }
        for tag in [
            "",
            ".hidden",
            "-dash",
            "a:b",
            "a/b",
            "tag with space",
            "x".repeat(129).as_str(),
        ] {
            check(tag, false);
        }
    }

    #[test]
    fn references() {
        let digest = Digest::of(b"x");
        fn check(segment: &str, expected: Result<Reference, ()>) {
            assert_eq!(
                Reference::parse(segment).map_err(|_| ()),
                expected,
                "{segment}"
            );
        }
        check("latest", Ok(Reference::Tag("latest".to_owned())));
        check(&digest.to_string(), Ok(Reference::Digest(digest.clone())));
        check("sha256:abc", Err(()));
        check("sha512:abc", Err(()));
        check("-bad", Err(()));
        let parsed = Reference::parse(&digest.to_string()).unwrap();
        assert_eq!(parsed.as_digest(), Some(&digest));
        assert_eq!(parsed.as_tag(), None);
        assert_eq!(parsed.to_string(), digest.to_string());
        assert_eq!(Reference::parse("v1").unwrap().as_tag(), Some("v1"));
    }
}
