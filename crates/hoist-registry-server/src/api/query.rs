//! URL query strings: splitting `a=b&c=d`, percent-decoding values and encoding them back.

/// The `key=value` pairs of a query string (without the `?`), percent-decoded, `+` read as a space.
/// Pairs whose bytes do not decode to UTF-8 are skipped; a key without `=` has an empty value.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((
                percent_decode(&key.replace('+', " "))?,
                percent_decode(&value.replace('+', " "))?,
            ))
        })
        .collect()
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes.get(index + 1..index + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Encodes a query value: unreserved characters (RFC 3986) stay, everything else becomes `%XX`.
pub fn percent_encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        fn check(query: &str, expected: &[(&str, &str)]) {
            let expected: Vec<(String, String)> = expected
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            assert_eq!(parse_query(query), expected, "{query}");
        }
        check("", &[]);
        check("n=10&last=a%2Fb", &[("n", "10"), ("last", "a/b")]);
        check("q=two+words&flag", &[("q", "two words"), ("flag", "")]);
        check(
            "digest=sha256%3Aab&&x=%zz&y=1",
            &[("digest", "sha256:ab"), ("y", "1")],
        );
        check("a=%FF&b=%C3%A9", &[("b", "é")]);
    }

    #[test]
    fn round_trip() {
        for text in ["library/nginx", "a b&c=d", "é", "plain-._~"] {
            assert_eq!(
                percent_decode(&percent_encode_query(text)).as_deref(),
                Some(text)
            );
        }
        assert_eq!(percent_encode_query("a/b c"), "a%2Fb%20c");
        assert_eq!(percent_decode("%4"), None);
    }
}
