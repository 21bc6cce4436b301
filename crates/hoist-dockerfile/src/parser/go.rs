//! Small Go-compatible helpers behind BuildKit's values and messages: `strconv.Quote`, `time.ParseDuration`,
//! `strconv.ParseInt`/`ParseUint`/`ParseBool`, go-units' `RAMInBytes`, and the edit-distance suggestions
//! of BuildKit's `suggest` package.

/// Go's `unicode.IsSpace` on one byte taken as a rune, as BuildKit's byte-wise scanners use it.
pub(crate) fn is_space_byte(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0)
}

/// The whitespace of BuildKit's `reWhitespace` (`[\t\v\f\r ]`).
pub(crate) fn is_split_space(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// Whitespace as Go's RE2 `\s` sees it.
pub(crate) fn is_re2_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// Go's `strconv.Quote` (also what `%q` and `%#v` print for a string).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if c.is_control() || (c.is_whitespace() && c != ' ') => {
                let code = u32::from(c);
                if code < 0x80 {
                    out.push_str(&format!("\\x{code:02x}"));
                } else if code <= 0xffff {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `time.ParseDuration`, in nanoseconds, with Go's error texts.
pub(crate) fn parse_duration(input: &str) -> Result<i64, String> {
    const LIMIT: u64 = 1 << 63;
    let invalid = || format!("time: invalid duration {}", quote(input));
    let mut rest = input;
    let mut negative = false;
    if let Some(stripped) = rest.strip_prefix('-') {
        negative = true;
        rest = stripped;
    } else if let Some(stripped) = rest.strip_prefix('+') {
        rest = stripped;
    }
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let before = rest.len();
        let (whole, after_whole) = leading_int(rest).ok_or_else(invalid)?;
        rest = after_whole;
        let had_whole = before != rest.len();
        let mut fraction: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut had_fraction = false;
        if let Some(after_dot) = rest.strip_prefix('.') {
            let (value, value_scale, after_fraction) = leading_fraction(after_dot);
            had_fraction = after_fraction.len() != after_dot.len();
            fraction = value;
            scale = value_scale;
            rest = after_fraction;
        }
        if !had_whole && !had_fraction {
            return Err(invalid());
        }
        let unit_end = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_end == 0 {
            return Err(format!("time: missing unit in duration {}", quote(input)));
        }
        let unit_name = &rest[..unit_end];
        rest = &rest[unit_end..];
        let unit: u64 = match unit_name {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(unit_name),
                    quote(input)
                ));
            }
        };
        if whole > LIMIT / unit {
            return Err(invalid());
        }
        let mut value = whole * unit;
        if fraction > 0 {
            // Go computes the fractional part in float64, truncating.
            #[allow(clippy::cast_precision_loss)]
            let part = fraction as f64 * (unit as f64 / scale);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let part = part as u64;
            value += part;
            if value > LIMIT {
                return Err(invalid());
            }
        }
        total += value;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if negative {
        return Ok(0_i64.wrapping_sub_unsigned(total));
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// Go's `leadingInt`: the leading digits, or `None` past 2^63.
fn leading_int(text: &str) -> Option<(u64, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let mut value: u64 = 0;
    for digit in text[..end].bytes() {
        if value > (1 << 63) / 10 {
            return None;
        }
        value = value * 10 + u64::from(digit - b'0');
        if value > 1 << 63 {
            return None;
        }
    }
    Some((value, &text[end..]))
}

/// Go's `leadingFraction`: digits after the dot, accumulated until they would overflow.
fn leading_fraction(text: &str) -> (u64, f64, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let mut value: u64 = 0;
    let mut scale = 1.0;
    let mut overflow = false;
    for digit in text[..end].bytes() {
        if overflow {
            continue;
        }
        if value > ((1 << 63) - 1) / 10 {
            overflow = true;
            continue;
        }
        let next = value * 10 + u64::from(digit - b'0');
        if next > 1 << 63 {
            overflow = true;
            continue;
        }
        value = next;
        scale *= 10.0;
    }
    (value, scale, &text[end..])
}

/// Go's `strconv.ParseInt(s, 10, 32)`, with Go's error text.
pub(crate) fn parse_int32(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            quote(s)
        ));
    }
    s.parse::<i32>()
        .map(i64::from)
        .map_err(|_| format!("strconv.ParseInt: parsing {}: value out of range", quote(s)))
}

/// Go's `strconv.ParseUint(s, base, 32)`; only whether it parses matters to callers.
pub(crate) fn parse_uint32(s: &str, base: u32) -> Option<u32> {
    if s.is_empty() || !s.chars().all(|c| c.is_digit(base)) {
        return None;
    }
    u32::from_str_radix(s, base).ok()
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// go-units' `RAMInBytes`: a number with an optional binary suffix (`k`, `m`, `g`, `t`, `p`, each
/// optionally followed by `b` or `ib`, any case), or a plain `b`.
pub(crate) fn ram_in_bytes(size: &str) -> Option<u64> {
    let sep = size.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')?;
    let (num, suffix) = if size.as_bytes()[sep] == b' ' {
        (&size[..sep], &size[sep + 1..])
    } else {
        (&size[..=sep], &size[sep + 1..])
    };
    let value: f64 = num.parse().ok()?;
    if value < 0.0 || value.is_nan() {
        return None;
    }
    let suffix = suffix.to_ascii_lowercase();
    let multiplier: f64 = match suffix.as_bytes() {
        [] => 1.0,
        [b'b'] => 1.0,
        [unit, rest @ ..] if rest.is_empty() || rest == b"b" || rest == b"ib" => match unit {
            b'k' => 1024.0,
            b'm' => 1024.0 * 1024.0,
            b'g' => 1024.0 * 1024.0 * 1024.0,
            b't' => 1024.0 * 1024.0 * 1024.0 * 1024.0,
            b'p' => 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
            _ => return None,
        },
        _ => return None,
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bytes = (value * multiplier) as u64;
    Some(bytes)
}

/// Edit distance over characters (insertions, deletions and substitutions each cost 1).
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// BuildKit's `suggest.Search`: the closest option within an edit distance of 2 (none on an exact
/// match). Case-insensitive searches answer in the casing of `value` when it is all lower or all upper.
pub(crate) fn suggest(value: &str, options: &[&str], case_sensitive: bool) -> Option<String> {
    let wanted = if case_sensitive {
        value.to_owned()
    } else {
        value.to_lowercase()
    };
    let mut best: Option<String> = None;
    let mut best_distance = 3;
    for option in options {
        let option = if case_sensitive {
            (*option).to_owned()
        } else {
            option.to_lowercase()
        };
        if option == wanted {
            return None;
        }
        let distance = levenshtein(&wanted, &option);
        if distance < best_distance {
            best_distance = distance;
            best = Some(if case_sensitive {
                option
            } else if value == value.to_lowercase() {
                option.to_lowercase()
            } else if value == value.to_uppercase() {
                option.to_uppercase()
            } else {
                option
            });
        }
    }
    best
}

/// `message` with BuildKit's ` (did you mean X?)` when `value` is close to one of `options`.
pub(crate) fn with_suggestion(
    message: String,
    value: &str,
    options: &[&str],
    case_sensitive: bool,
) -> String {
    match suggest(value, options, case_sensitive) {
        Some(similar) => format!("{message} (did you mean {similar}?)"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_go() {
        assert_eq!(parse_duration("1h2m3.5s"), Ok(3_723_500_000_000));
        assert_eq!(parse_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_duration("2\u{b5}s"), Ok(2_000));
        assert_eq!(parse_duration(".5s"), Ok(500_000_000));
        assert_eq!(parse_duration("-1.5h"), Ok(-5_400_000_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(
            parse_duration("5"),
            Err(r#"time: missing unit in duration "5""#.to_owned())
        );
        assert_eq!(
            parse_duration("5d"),
            Err(r#"time: unknown unit "d" in duration "5d""#.to_owned())
        );
        assert!(parse_duration("").is_err());
        assert!(parse_duration(".s").is_err());
        assert!(parse_duration("3000000h").is_err());
    }

    #[test]
    fn sizes_follow_go_units() {
        assert_eq!(ram_in_bytes("1024"), Some(1024));
        assert_eq!(ram_in_bytes("64m"), Some(64 << 20));
        assert_eq!(ram_in_bytes("1.5GiB"), Some(3 << 29));
        assert_eq!(ram_in_bytes("2 kb"), Some(2048));
        assert_eq!(ram_in_bytes("10b"), Some(10));
        assert_eq!(ram_in_bytes("1x"), None);
        assert_eq!(ram_in_bytes("1mm"), None);
        assert_eq!(ram_in_bytes("m"), None);
    }

    #[test]
    fn suggestions_keep_the_casing_of_the_value() {
        let names = ["RUN", "COPY", "FROM"];
        assert_eq!(suggest("runn", &names, false).as_deref(), Some("run"));
        assert_eq!(suggest("COPYY", &names, false).as_deref(), Some("COPY"));
        // Mixed case answers in lower case, as BuildKit does.
        assert_eq!(suggest("Fromm", &names, false).as_deref(), Some("from"));
        assert_eq!(suggest("node_modules", &names, false), None);
        assert_eq!(
            suggest("interva", &["interval"], true).as_deref(),
            Some("interval")
        );
        assert_eq!(suggest("run", &names, false), None);
    }

    #[test]
    fn quoting_matches_go() {
        assert_eq!(quote("a\"b\\c\n\u{1}é"), r#""a\"b\\c\n\x01é""#);
    }
}
