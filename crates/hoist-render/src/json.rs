//! JSON exactly as Docker prints it: `docker inspect` output (Go's `json.Indent` with four
//! spaces over the daemon's encoding) and the Go string and number encoding shared with the
//! template `json` function.
//!
//! The daemon encodes with `SetEscapeHTML(false)` and the CLI re-indents the raw bytes, so
//! `<`, `>` and `&` appear literally in inspect output; U+2028 and U+2029 are always escaped.
//! Object keys are written in the order the value holds them (serde_json's `preserve_order` is
//! on in this workspace). Go sorts the keys of its *maps* (`Labels`, `ExposedPorts`, `Volumes`,
//! ...), so build those fields from sorted maps to match Docker.

use std::io::Write;

use serde_json::Value;

use crate::RenderError;

const INDENT: &str = "    ";

/// Writes `values` as `docker inspect` does without `--format`: a JSON array indented with
/// four spaces and a final newline; `[]` and a newline when there is nothing to show.
///
/// # Errors
///
/// [`RenderError::Io`] when writing fails.
pub fn write_inspect_json(values: &[Value], out: &mut dyn Write) -> Result<(), RenderError> {
    let mut text = String::new();
    if values.is_empty() {
        text.push_str("[]");
    } else {
        text.push('[');
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                text.push(',');
            }
            newline_indent(&mut text, 1);
            encode_value(value, Some(1), false, &mut text);
        }
        text.push_str("\n]");
    }
    text.push('\n');
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// Writes `values` as `docker inspect --format json` does: one compact JSON array on a single
/// line (`[]` when empty), followed by a newline.
///
/// # Errors
///
/// [`RenderError::Io`] when writing fails.
pub fn write_inspect_json_compact(
    values: &[Value],
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    let mut text = String::from("[");
    for (index, value) in values.iter().enumerate() {
        if index > 0 {
            text.push(',');
        }
        encode_value(value, None, false, &mut text);
    }
    text.push_str("]\n");
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// Encodes one value; `level` is `Some(depth)` for indented output, `None` for compact.
pub(crate) fn encode_value(
    value: &Value,
    level: Option<usize>,
    escape_html: bool,
    out: &mut String,
) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else if let Some(f) = n.as_f64() {
                // serde_json never holds NaN or infinities, so this cannot fail here.
                push_go_float(f, out);
            }
        }
        Value::String(s) => push_go_string(s, escape_html, out),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                if let Some(depth) = level {
                    newline_indent(out, depth + 1);
                }
                encode_value(item, level.map(|d| d + 1), escape_html, out);
            }
            if let Some(depth) = level {
                newline_indent(out, depth);
            }
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                if let Some(depth) = level {
                    newline_indent(out, depth + 1);
                }
                push_go_string(key, escape_html, out);
                out.push(':');
                if level.is_some() {
                    out.push(' ');
                }
                encode_value(item, level.map(|d| d + 1), escape_html, out);
            }
            if let Some(depth) = level {
                newline_indent(out, depth);
            }
            out.push('}');
        }
    }
}

fn newline_indent(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str(INDENT);
    }
}

/// Appends `s` as a Go `encoding/json` string literal (Go 1.22+ escapes, lower-case hex).
pub(crate) fn push_go_string(s: &str, escape_html: bool, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' if escape_html => {
                out.push_str("\\u00");
                let byte = c as u32;
                out.push(char::from(HEX[(byte >> 4) as usize & 0xf]));
                out.push(char::from(HEX[byte as usize & 0xf]));
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let byte = c as u32;
                out.push_str("\\u00");
                out.push(char::from(HEX[(byte >> 4) as usize & 0xf]));
                out.push(char::from(HEX[byte as usize & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `f` as Go's `encoding/json` writes a float64: plain decimal between 1e-6 and 1e21,
/// otherwise exponent form such as `1e+21` or `1e-7`. Returns `false` (and appends nothing)
/// for NaN and infinities, which Go refuses to encode.
pub(crate) fn push_go_float(f: f64, out: &mut String) -> bool {
    if !f.is_finite() {
        return false;
    }
    let magnitude = f.abs();
    if magnitude == 0.0 || (1e-6..1e21).contains(&magnitude) {
        // Rust's Display is the shortest round-trip form without an exponent, like Go's 'f', -1.
        out.push_str(&f.to_string());
        return true;
    }
    let scientific = format!("{f:e}");
    match scientific.split_once('e') {
        Some((mantissa, exponent)) => {
            out.push_str(mantissa);
            out.push('e');
            match exponent.strip_prefix('-') {
                Some(digits) => {
                    out.push('-');
                    out.push_str(digits);
                }
                None => {
                    out.push('+');
                    if exponent.len() < 2 {
                        out.push('0');
                    }
                    out.push_str(exponent);
                }
            }
        }
        None => out.push_str(&scientific),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn indented(values: &[Value]) -> String {
        let mut out = Vec::new();
        write_inspect_json(values, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn empty_inspect_is_brackets_and_newline() {
        assert_eq!(indented(&[]), "[]\n");
        let mut out = Vec::new();
        write_inspect_json_compact(&[], &mut out).unwrap();
        assert_eq!(out, b"[]\n");
    }

    #[test]
    fn inspect_output_matches_go_indent() {
        let value = json!({
            "Id": "sha256:abc",
            "RepoTags": ["alpine:latest"],
            "RepoDigests": [],
            "Config": {"Env": ["PATH=/bin"], "Labels": {}, "Entrypoint": null, "ArgsEscaped": true},
            "Size": 7_797_760,
            "Comment": "<b> & \"q\"\n\u{2028}\u{1}",
        });
        let expected = "[\n    {\n        \"Id\": \"sha256:abc\",\n        \"RepoTags\": [\n            \"alpine:latest\"\n        ],\n        \"RepoDigests\": [],\n        \"Config\": {\n            \"Env\": [\n                \"PATH=/bin\"\n            ],\n            \"Labels\": {},\n            \"Entrypoint\": null,\n            \"ArgsEscaped\": true\n        },\n        \"Size\": 7797760,\n        \"Comment\": \"<b> & \\\"q\\\"\\n\\u2028\\u0001\"\n    }\n]\n";
        assert_eq!(indented(&[value]), expected);
    }

    #[test]
    fn two_elements_are_separated_by_a_comma() {
        let out = indented(&[json!({"a": 1}), json!({"b": 2})]);
        assert_eq!(
            out,
            "[\n    {\n        \"a\": 1\n    },\n    {\n        \"b\": 2\n    }\n]\n"
        );
    }

    #[test]
    fn key_order_is_preserved() {
        let out = indented(&[json!({"Z": 1, "A": 2})]);
        assert_eq!(
            out,
            "[\n    {\n        \"Z\": 1,\n        \"A\": 2\n    }\n]\n"
        );
    }

    #[test]
    fn compact_inspect_is_one_line() {
        let mut out = Vec::new();
        write_inspect_json_compact(&[json!({"a": [1, 2], "b": {}}), json!([])], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[{\"a\":[1,2],\"b\":{}},[]]\n"
        );
    }

    #[test]
    fn html_escaping_when_asked() {
        let mut out = String::new();
        push_go_string("<a&b>\u{8}\u{c}\u{7f}", true, &mut out);
        assert_eq!(out, "\"\\u003ca\\u0026b\\u003e\\b\\f\u{7f}\"");
    }

    #[test]
    fn floats_follow_go() {
        let cases = [
            (1.5, "1.5"),
            (0.0, "0"),
            (100.0, "100"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (-2.5e-10, "-2.5e-10"),
        ];
        for (value, expected) in cases {
            let mut out = String::new();
            assert!(push_go_float(value, &mut out));
            assert_eq!(out, expected, "{value}");
        }
        assert!(!push_go_float(f64::NAN, &mut String::new()));
    }

    #[test]
    fn big_unsigned_numbers_print_exactly() {
        let out = indented(&[json!({"n": u64::MAX, "m": -5})]);
        assert!(out.contains("\"n\": 18446744073709551615"), "{out}");
        assert!(out.contains("\"m\": -5"), "{out}");
    }
}

/// Re-indents JSON text the way Go's `json.Indent` does: only whitespace between tokens changes
/// (strings, numbers and key order stay byte for byte), empty objects and arrays stay `{}` and `[]`.
/// The input is assumed to be valid JSON (it was parsed before); no trailing newline is added.
pub fn indent_json(raw: &[u8], indent: &str) -> String {
    let mut out = String::with_capacity(raw.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let text = String::from_utf8_lossy(raw);
    let mut chars = text.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            ' ' | '\t' | '\n' | '\r' => {}
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|n| n.is_ascii_whitespace()) {
                    chars.next();
                }
                let close = if c == '{' { '}' } else { ']' };
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod indent_tests {
    use super::indent_json;

    #[test]
    fn indents_like_go_json_indent() {
        let raw = br#"{"a":1,"b":[],"c":{},"d":[{"e":"x,\"y:{"}],"f":1.50}"#;
        assert_eq!(
            indent_json(raw, "\t"),
            "{\n\t\"a\": 1,\n\t\"b\": [],\n\t\"c\": {},\n\t\"d\": [\n\t\t{\n\t\t\t\"e\": \"x,\\\"y:{\"\n\t\t}\n\t],\n\t\"f\": 1.50\n}"
        );
    }
}
