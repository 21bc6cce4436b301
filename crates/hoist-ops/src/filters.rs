//! `--filter key=value` arguments: parsing, validation against a command's accepted keys, and the matchers
//! Docker uses for them (glob references, labels, timestamps).

use std::collections::BTreeMap;

use crate::OpsError;

/// Filters grouped by key, values in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    by_key: BTreeMap<String, Vec<String>>,
}

impl Filters {
    /// Parses `key=value` strings; `accepted` lists the keys the command understands.
    pub fn parse(args: &[String], accepted: &[&str]) -> Result<Self, OpsError> {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for arg in args {
            let Some((key, value)) = arg.split_once('=') else {
                return Err(OpsError::InvalidFilterValue(format!(
                    "bad format of filter (expected name=value): {arg}"
                )));
            };
            let key = key.trim().to_lowercase();
            if !accepted.contains(&key.as_str()) {
                return Err(OpsError::InvalidFilter(key));
            }
            by_key.entry(key).or_default().push(value.to_owned());
        }
        Ok(Self { by_key })
    }

    pub fn get(&self, key: &str) -> &[String] {
        self.by_key.get(key).map_or(&[], Vec::as_slice)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    /// A boolean filter (`dangling=true`); Docker accepts true/false/1/0 only.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, OpsError> {
        let values = self.get(key);
        let mut result = None;
        for v in values {
            let b = match v.to_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(OpsError::InvalidFilterValue(format!(
                        "Invalid filter '{key}={v}'"
                    )));
                }
            };
            if result.is_some_and(|r| r != b) {
                return Err(OpsError::InvalidFilterValue(format!(
                    "Invalid filter '{key}': conflicting values"
                )));
            }
            result = Some(b);
        }
        Ok(result)
    }

    /// Whether labels satisfy every `label=` (and `label!=`) filter: `key` or `key=value`.
    pub fn labels_match(&self, labels: &BTreeMap<String, String>) -> bool {
        let matches = |spec: &String| match spec.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
            None => labels.contains_key(spec.as_str()),
        };
        self.get("label").iter().all(matches) && !self.get("label!").iter().any(matches)
    }
}

/// Go's `path.Match`: `*` and `?` never cross `/`, `[…]` classes with ranges and `^`/`!` negation, `\` escapes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // Returns (matched, length of the class including brackets).
        let mut i = 1;
        let negate = matches!(p.get(i), Some('^' | '!'));
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        loop {
            let ch = *p.get(i)?;
            if ch == ']' && !first {
                break;
            }
            first = false;
            let lo = if ch == '\\' {
                i += 1;
                *p.get(i)?
            } else {
                ch
            };
            i += 1;
            let hi = if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|c| *c != ']') {
                i += 1;
                let h = if p[i] == '\\' {
                    i += 1;
                    *p.get(i)?
                } else {
                    p[i]
                };
                i += 1;
                h
            } else {
                lo
            };
            if lo <= c && c <= hi {
                matched = true;
            }
        }
        Some((matched != negate, i + 1))
    }
    fn go(p: &[char], n: &[char]) -> bool {
        if p.is_empty() {
            return n.is_empty();
        }
        match p[0] {
            '*' => (0..=n.len())
                .take_while(|&k| k == 0 || n[k - 1] != '/')
                .any(|k| go(&p[1..], &n[k..])),
            '?' => !n.is_empty() && n[0] != '/' && go(&p[1..], &n[1..]),
            '[' => match (n.first(), class(p, n.first().copied().unwrap_or('\0'))) {
                (Some(&c), Some((true, len))) if c != '/' => go(&p[len..], &n[1..]),
                _ => false,
            },
            '\\' if p.len() > 1 => !n.is_empty() && n[0] == p[1] && go(&p[2..], &n[1..]),
            c => !n.is_empty() && n[0] == c && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// Parses a Docker filter time value (`24h`, RFC 3339, `2006-01-02`, Unix seconds, …) into Unix
/// nanoseconds; durations count back from `now` (Unix nanoseconds).
pub fn parse_timestamp(value: &str, now: i64) -> Result<i64, OpsError> {
    let now = chrono::DateTime::from_timestamp_nanos(now).fixed_offset();
    hoist_render::gotime::parse_until_timestamp(value, now)
        .map_err(|e| OpsError::InvalidFilterValue(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_like_go_path_match() {
        assert!(glob_match("nginx*", "nginx"));
        assert!(glob_match("nginx*", "nginx:latest"));
        assert!(glob_match("*:test", "myapp:test"));
        assert!(!glob_match("*", "a/b"));
        assert!(glob_match("*/*", "a/b"));
        assert!(glob_match("my-app:*", "my-app:1.0"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[^a-c]x", "bx"));
        assert!(!glob_match("nginx", "nginx:latest"));
    }

    #[test]
    fn times() {
        let now = 1_700_000_000_000_000_000;
        assert_eq!(
            parse_timestamp("24h", now).unwrap(),
            now - 86_400_000_000_000
        );
        assert_eq!(
            parse_timestamp("1690000000", now).unwrap(),
            1_690_000_000_000_000_000
        );
        assert_eq!(
            parse_timestamp("2023-01-01T00:00:00Z", now).unwrap(),
            1_672_531_200_000_000_000
        );
        assert!(parse_timestamp("yesterday", now).is_err());
    }

    #[test]
    fn filter_parsing() {
        let f = Filters::parse(
            &["dangling=true".into(), "label=a=b".into()],
            &["dangling", "label"],
        )
        .unwrap();
        assert_eq!(f.bool("dangling").unwrap(), Some(true));
        let labels: BTreeMap<String, String> = [("a".into(), "b".into())].into();
        assert!(f.labels_match(&labels));
        assert!(!f.labels_match(&BTreeMap::new()));
        let e = Filters::parse(&["nope=1".into()], &["dangling"]).unwrap_err();
        assert_eq!(e.to_string(), "Invalid filter 'nope'");
        let e = Filters::parse(&["x".into()], &["dangling"]).unwrap_err();
        assert!(e.to_string().starts_with("bad format of filter"));
    }
}
