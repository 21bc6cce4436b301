//! `WWW-Authenticate` parsing (RFC 7235): several challenges per header or across headers, each a
//! scheme with `key=value` parameters whose values may be quoted strings holding commas and escapes.

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};

/// One challenge: a scheme (lowercased) and its parameters (keys lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub(crate) scheme: String,
    pub(crate) params: BTreeMap<String, String>,
}

impl Challenge {
    pub(crate) fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
}

/// Every challenge in every `WWW-Authenticate` header.
pub(crate) fn challenges(headers: &HeaderMap) -> Vec<Challenge> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(parse)
        .collect()
}

/// Parses one header value.
pub(crate) fn parse(value: &str) -> Vec<Challenge> {
    let mut parser = Parser {
        chars: value.chars().collect(),
        at: 0,
    };
    let mut found = Vec::new();
    loop {
        parser.skip(|c| c.is_whitespace() || c == ',');
        let scheme = parser.token();
        if scheme.is_empty() {
            break;
        }
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: BTreeMap::new(),
        };
        parser.skip(char::is_whitespace);
        if parser.token68_ahead() {
            // `Negotiate abc==`: credentials-like data, no parameters follow.
            parser.token();
            parser.skip(|c| c == '=');
            found.push(challenge);
            continue;
        }
        loop {
            parser.skip(|c| c.is_whitespace() || c == ',');
            let checkpoint = parser.at;
            let key = parser.token();
            parser.skip(char::is_whitespace);
            if key.is_empty() || !parser.eat('=') {
                // The next challenge's scheme (or nothing usable): leave it for the outer loop.
                parser.at = checkpoint;
                break;
            }
            parser.skip(char::is_whitespace);
            let value = if parser.eat('"') {
                parser.quoted()
            } else {
                parser.token()
            };
            challenge.params.insert(key.to_ascii_lowercase(), value);
        }
        found.push(challenge);
    }
    found
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~/:".contains(c) || !c.is_ascii()
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, wanted: char) -> bool {
        if self.peek() == Some(wanted) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn skip(&mut self, what: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&what) {
            self.at += 1;
        }
    }

    /// An RFC 7230 token (also accepting `/` and `:` so unquoted URLs and scopes survive).
    fn token(&mut self) -> String {
        let start = self.at;
        self.skip(is_token_char);
        self.chars[start..self.at].iter().collect()
    }

    /// A quoted string after its opening quote; backslash escapes the next character.
    fn quoted(&mut self) -> String {
        let mut value = String::new();
        while let Some(c) = self.peek() {
            self.at += 1;
            match c {
                '"' => break,
                '\\' => {
                    if let Some(escaped) = self.peek() {
                        self.at += 1;
                        value.push(escaped);
                    }
                }
                other => value.push(other),
            }
        }
        value
    }

    /// Whether a token68 (`abc123==`) comes next: token characters, `=` padding, then a comma or the
    /// end, as opposed to `key=value` parameters.
    fn token68_ahead(&self) -> bool {
        let mut at = self.at;
        let start = at;
        while self.chars.get(at).is_some_and(|c| is_token_char(*c)) {
            at += 1;
        }
        if at == start {
            return false;
        }
        while self.chars.get(at) == Some(&'=') {
            at += 1;
        }
        while self.chars.get(at).is_some_and(|c| c.is_whitespace()) {
            at += 1;
        }
        matches!(self.chars.get(at), None | Some(','))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(challenge: &Challenge) -> Vec<(&str, &str)> {
        challenge
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn docker_hub_bearer() {
        let found = parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push""#,
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].scheme, "bearer");
        assert_eq!(
            params(&found[0]),
            [
                ("realm", "https://auth.docker.io/token"),
                ("scope", "repository:library/nginx:pull,push"),
                ("service", "registry.docker.io"),
            ]
        );
    }

    #[test]
    fn basic_and_spacing_and_case() {
        let found = parse(r#"Basic Realm = "Registry Realm" "#);
        assert_eq!(found[0].scheme, "basic");
        assert_eq!(found[0].param("realm"), Some("Registry Realm"));
    }

    #[test]
    fn several_challenges_in_one_value() {
        let found = parse(
            r#"Basic realm="a, b", Bearer realm="https://t.example/token",error="insufficient_scope", scope=repository:x:pull"#,
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].param("realm"), Some("a, b"));
        assert_eq!(found[1].scheme, "bearer");
        assert_eq!(found[1].param("error"), Some("insufficient_scope"));
        assert_eq!(found[1].param("scope"), Some("repository:x:pull"));
    }

    #[test]
    fn escapes_token68_and_bare_schemes() {
        let found = parse(r#"Bearer realm="say \"hi\"""#);
        assert_eq!(found[0].param("realm"), Some(r#"say "hi""#));
        let found = parse("Negotiate abc123==, Basic realm=x");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].scheme, "negotiate");
        assert_eq!(found[1].param("realm"), Some("x"));
        let found = parse("Basic");
        assert_eq!(found.len(), 1);
        assert!(found[0].params.is_empty());
        assert!(parse("").is_empty());
    }

    #[test]
    fn headers_are_read_together() {
        let mut headers = HeaderMap::new();
        headers.append(WWW_AUTHENTICATE, "Basic realm=one".parse().unwrap());
        headers.append(
            WWW_AUTHENTICATE,
            r#"Bearer realm="two",service=s"#.parse().unwrap(),
        );
        let found = challenges(&headers);
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].param("service"), Some("s"));
    }
}
