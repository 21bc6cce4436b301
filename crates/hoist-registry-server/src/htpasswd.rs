//! htpasswd files (bcrypt only, as distribution) and HTTP Basic authentication: the `Authorization`
//! header, the `WWW-Authenticate` challenge, and checking a user's password.
//!
//! Like distribution, a file is refused only for a line that is not `user:hash`; an entry whose hash is
//! not bcrypt (`$apr1$`, `{SHA}`, crypt) loads but can never log in. hoist also reports such entries in
//! [`Htpasswd::refused`] so the server can say why that user is locked out.

use std::collections::BTreeMap;
use std::str::FromStr;

/// Salt of the hash that unknown users are checked against, so that an unknown name costs the same
/// bcrypt work as a wrong password and response times do not reveal which names exist.
const DUMMY_SALT: [u8; 16] = *b"hoist-dummy-salt";

/// The bcrypt cost of the dummy hash when the file has no bcrypt entry (htpasswd -B's default).
const DEFAULT_COST: u32 = 5;

/// Why an htpasswd file, or one entry of it, is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HtpasswdError {
    #[error("htpasswd line {line}: expected `user:hash`, found {text:?}")]
    MalformedLine { line: usize, text: String },
    #[error(
        "htpasswd line {line}: user {user:?} has a {scheme} hash; only bcrypt ($2y$, $2a$, $2b$) is \
         accepted (make it with `htpasswd -B`), so this user cannot log in"
    )]
    UnsupportedHash {
        line: usize,
        user: String,
        scheme: &'static str,
    },
    #[error(
        "htpasswd line {line}: user {user:?} has a malformed bcrypt hash, so this user cannot log in"
    )]
    MalformedHash { line: usize, user: String },
}

/// A parsed htpasswd file.
#[derive(Debug, Clone)]
pub struct Htpasswd {
    /// User name to bcrypt hash; later lines win, as in distribution.
    users: BTreeMap<String, String>,
    /// Entries loaded but refused, with the reason.
    refused: Vec<HtpasswdError>,
    /// Checked against when the user is unknown or refused.
    dummy_hash: String,
}

impl Htpasswd {
    /// Parses the file's text. Blank lines and lines beginning with `#` are skipped; surrounding
    /// whitespace is ignored.
    pub fn parse(text: &str) -> Result<Htpasswd, HtpasswdError> {
        let mut users = BTreeMap::new();
        let mut refused = Vec::new();
        let mut max_cost = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = trimmed.split_once(':') else {
                return Err(HtpasswdError::MalformedLine {
                    line,
                    text: raw.to_owned(),
                });
            };
            let user = user.to_owned();
            users.remove(&user);
            refused.retain(|entry: &HtpasswdError| refused_user(entry) != user);
            let scheme = hash_scheme(hash);
            if scheme != "bcrypt" {
                refused.push(HtpasswdError::UnsupportedHash { line, user, scheme });
                continue;
            }
            match bcrypt::HashParts::from_str(hash) {
                Ok(parts) => {
                    max_cost = max_cost.max(Some(parts.get_cost()));
                    users.insert(user, hash.to_owned());
                }
                Err(_) => refused.push(HtpasswdError::MalformedHash { line, user }),
            }
        }
        let cost = max_cost.unwrap_or(DEFAULT_COST);
        let dummy_hash = bcrypt::hash_with_salt("hoist dummy password", cost, DUMMY_SALT)
            .map(|parts| parts.format_for_version(bcrypt::Version::TwoY))
            // Only reachable with a cost bcrypt itself refused above; fall back to a cost it accepts.
            .or_else(|_| {
                bcrypt::hash_with_salt("hoist dummy password", DEFAULT_COST, DUMMY_SALT)
                    .map(|parts| parts.format_for_version(bcrypt::Version::TwoY))
            })
            .unwrap_or_default();
        Ok(Htpasswd {
            users,
            refused,
            dummy_hash,
        })
    }

    /// Whether `password` is `user`'s password. Unknown and refused users are checked against a dummy
    /// hash of the same cost and always fail; a malformed hash fails rather than panicking.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        match self.users.get(user) {
            Some(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            None => {
                // The result is discarded: this only spends the same time a known user would.
                let _ = bcrypt::verify(password, &self.dummy_hash);
                false
            }
        }
    }

    /// The users that can log in, in name order.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    /// Entries that were loaded but refused (non-bcrypt or malformed hashes), for the server to log.
    pub fn refused(&self) -> &[HtpasswdError] {
        &self.refused
    }
}

fn refused_user(entry: &HtpasswdError) -> &str {
    match entry {
        HtpasswdError::UnsupportedHash { user, .. } | HtpasswdError::MalformedHash { user, .. } => {
            user
        }
        HtpasswdError::MalformedLine { .. } => "",
    }
}

/// Names the hash scheme by its prefix, as Apache's htpasswd writes them.
fn hash_scheme(hash: &str) -> &'static str {
    if ["$2y$", "$2a$", "$2b$"]
        .iter()
        .any(|prefix| hash.starts_with(prefix))
    {
        "bcrypt"
    } else if hash.starts_with("$apr1$") {
        "Apache MD5 ($apr1$)"
    } else if hash.starts_with("{SHA}") {
        "SHA-1 ({SHA})"
    } else if hash.starts_with("$5$") {
        "SHA-256 crypt ($5$)"
    } else if hash.starts_with("$6$") {
        "SHA-512 crypt ($6$)"
    } else if hash.starts_with('$') {
        "unknown"
    } else {
        "crypt or plain-text"
    }
}

/// The user and password of a `Basic` `Authorization` header value; `None` for any other scheme or
/// malformed credentials. The scheme name is case-insensitive; the password may contain `:`.
pub fn parse_basic_authorization(header_value: &str) -> Option<(String, String)> {
    let (scheme, credentials) = header_value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = decode_base64(credentials.trim())?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The `WWW-Authenticate` value that makes Docker ask for (or send) credentials.
pub fn basic_challenge(realm: &str) -> String {
    let mut quoted = String::with_capacity(realm.len() + 2);
    for c in realm.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    format!("Basic realm=\"{quoted}\"")
}

/// Standard base64 with `=` padding (RFC 4648 section 4), strict like Go's `StdEncoding`, which is
/// what Basic credentials use. Padding may be omitted, as some clients do.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn sextet(byte: u8) -> Option<u32> {
        Some(match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let unpadded = text.trim_end_matches('=');
    let padding = text.len() - unpadded.len();
    if padding > 2 || (padding > 0 && !text.len().is_multiple_of(4)) || unpadded.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(unpadded.len() * 3 / 4);
    for chunk in unpadded.as_bytes().chunks(4) {
        let mut bits = 0u32;
        for &byte in chunk {
            bits = (bits << 6) | sextet(byte)?;
        }
        // A short final chunk carries 2 or 3 sextets: 1 or 2 bytes, the rest of its bits must be zero.
        match chunk.len() {
            4 => out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]),
            3 => {
                if bits & 0b11 != 0 {
                    return None;
                }
                out.extend_from_slice(&[(bits >> 10) as u8, (bits >> 2) as u8]);
            }
            2 => {
                if bits & 0b1111 != 0 {
                    return None;
                }
                out.push((bits >> 4) as u8);
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with Debian's apache2-utils: `htpasswd -nbB alice wonderland`,
    // `htpasswd -nbB -C 4 bob 's3cret:with colon'`, `htpasswd -nbB -C 4 ünï 'pässwörd'`,
    // `htpasswd -nbm md5user pass` and `htpasswd -nbs shauser pass`.
    const ALICE: &str = "alice:$2y$05$smZK7oZwexTbMcZitVW2be3sL5FF6qC5n9Ctsyym/AWojvq3/IWZm";
    const BOB: &str = "bob:$2y$04$UeShonFN2rT6LH0h5iWup.5y6tPrPOQspw2TEkyZLJR4X8NvVeclC";
    const UNICODE: &str = "ünï:$2y$04$gfaiYAFE4ZXJFA/LK6XB2OmM6RathIpNag9IVjA3QnMGeLiCF8tN6";
    const MD5: &str = "md5user:$apr1$Vmm4YT9A$H8g50k1gyl7rgVDNQUa5u0";
    const SHA: &str = "shauser:{SHA}nU4eI71bcnBGqeO0t9tXvY1u5oQ=";

    fn file() -> Htpasswd {
        let text = format!(
            "# registry users\n\n{ALICE}\n  {BOB}  \r\n{UNICODE}\n{MD5}\n{SHA}\nbroken:$2y$05$short\n"
        );
        Htpasswd::parse(&text).unwrap()
    }

    #[test]
    fn verifies_bcrypt_entries_made_by_htpasswd() {
        let file = file();
        fn check(file: &Htpasswd, user: &str, password: &str, expected: bool) {
            assert_eq!(file.verify(user, password), expected, "{user}:{password}");
        }
        check(&file, "alice", "wonderland", true);
        check(&file, "alice", "Wonderland", false);
        check(&file, "alice", "", false);
        check(&file, "bob", "s3cret:with colon", true);
        check(&file, "bob", "s3cret", false);
        check(&file, "ünï", "pässwörd", true);
        check(&file, "nobody", "wonderland", false);
        check(&file, "md5user", "pass", false);
        check(&file, "shauser", "pass", false);
        check(&file, "broken", "anything", false);
        assert_eq!(file.users().collect::<Vec<_>>(), ["alice", "bob", "ünï"]);
    }

    #[test]
    fn refused_entries_name_user_line_and_scheme() {
        assert_eq!(
            file().refused(),
            [
                HtpasswdError::UnsupportedHash {
                    line: 6,
                    user: "md5user".to_owned(),
                    scheme: "Apache MD5 ($apr1$)",
                },
                HtpasswdError::UnsupportedHash {
                    line: 7,
                    user: "shauser".to_owned(),
                    scheme: "SHA-1 ({SHA})",
                },
                HtpasswdError::MalformedHash {
                    line: 8,
                    user: "broken".to_owned(),
                },
            ]
        );
    }

    #[test]
    fn later_lines_replace_earlier_ones() {
        let text = format!("{MD5}\n{ALICE}\nalice:{{SHA}}x\n");
        let file = Htpasswd::parse(&text).unwrap();
        assert!(!file.verify("alice", "wonderland"));
        assert_eq!(file.refused().len(), 2);
        let text = format!("alice:{{SHA}}x\n{ALICE}\n");
        let file = Htpasswd::parse(&text).unwrap();
        assert!(file.verify("alice", "wonderland"));
        assert!(file.refused().is_empty());
    }

    #[test]
    fn a_line_without_a_colon_refuses_the_file() {
        assert_eq!(
            Htpasswd::parse(&format!("{ALICE}\njust-a-name\n")).unwrap_err(),
            HtpasswdError::MalformedLine {
                line: 2,
                text: "just-a-name".to_owned(),
            }
        );
    }

    #[test]
    fn an_empty_file_knows_nobody() {
        let file = Htpasswd::parse("").unwrap();
        assert!(!file.verify("", ""));
        assert!(!file.verify("alice", "wonderland"));
    }

    #[test]
    fn basic_authorization() {
        fn check(header: &str, expected: Option<(&str, &str)>) {
            let expected = expected.map(|(u, p)| (u.to_owned(), p.to_owned()));
            assert_eq!(parse_basic_authorization(header), expected, "{header}");
        }
        // `printf 'alice:wonderland' | base64` and friends.
        check(
            "Basic YWxpY2U6d29uZGVybGFuZA==",
            Some(("alice", "wonderland")),
        );
        check(
            "basic YWxpY2U6d29uZGVybGFuZA==",
            Some(("alice", "wonderland")),
        );
        check(
            "Basic YWxpY2U6d29uZGVybGFuZA",
            Some(("alice", "wonderland")),
        );
        check(
            "Basic Ym9iOnMzY3JldDp3aXRoIGNvbG9u",
            Some(("bob", "s3cret:with colon")),
        );
        check("Basic YTo=", Some(("a", "")));
        check("Basic OnA=", Some(("", "p")));
        check("Basic w7xuw686cMOkc3N3w7ZyZA==", Some(("ünï", "pässwörd")));
        check("Basic +/+/", None); // decodes to bytes that are not UTF-8
        check("Basic YWxpY2U=", None); // no colon
        check("Basic YWxpY2U6d29uZGVybGFuZA=", None); // bad padding
        check("Basic YWxp!2U6", None);
        check("Basic YR", None); // the unused bits of `R` are not zero
        check("Bearer YWxpY2U6d29uZGVybGFuZA==", None);
        check("Basic", None);
        check("", None);
    }

    #[test]
    fn base64_round_numbers() {
        fn check(text: &str, expected: Option<&[u8]>) {
            assert_eq!(decode_base64(text).as_deref(), expected, "{text}");
        }
        check("", Some(b""));
        check("Zg==", Some(b"f"));
        check("Zm8=", Some(b"fo"));
        check("Zm9v", Some(b"foo"));
        check("Zm9vYg==", Some(b"foob"));
        check("Zm9vYmE=", Some(b"fooba"));
        check("Zm9vYmFy", Some(b"foobar"));
        check("Zm9vY", None);
        check("Zg===", None);
        check("Z===", None);
    }

    #[test]
    fn challenge() {
        assert_eq!(
            basic_challenge("Registry Realm"),
            "Basic realm=\"Registry Realm\""
        );
        assert_eq!(basic_challenge(r#"a"b\c"#), r#"Basic realm="a\"b\\c""#);
    }
}
