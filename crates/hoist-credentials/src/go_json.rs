//! JSON written byte for byte as Go's `encoding/json` writes it, so files we rewrite look like Docker's.
//!
//! Docker saves config.json with `json.MarshalIndent(config, "", "\t")`: tab indentation, `": "` after
//! keys, no trailing newline, and Go's default escaping of `<`, `>`, `&`, U+2028 and U+2029 as `\u003c`,
//! `\u003e`, `\u0026`, `\u2028`, `\u2029`. Credential helpers receive `json.Encoder` output: compact, with
//! the same escaping and a trailing newline.

use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// `json.MarshalIndent(value, "", "\t")`.
pub(crate) fn marshal_indent<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::new();
    let formatter = GoEscaping(PrettyFormatter::with_indent(b"\t"));
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut serializer)?;
    Ok(out)
}

/// `json.NewEncoder(w).Encode(value)`.
pub(crate) fn encode_line<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut out, GoEscaping(CompactFormatter));
    value.serialize(&mut serializer)?;
    out.push(b'\n');
    Ok(out)
}

/// Wraps a layout formatter and adds the escapes Go writes that serde_json does not.
struct GoEscaping<F>(F);

impl<F: Formatter> Formatter for GoEscaping<F> {
    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_key(writer)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut unwritten = 0;
        for (index, character) in fragment.char_indices() {
            let escape = match character {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[unwritten..index])?;
            writer.write_all(escape.as_bytes())?;
            unwritten = index + character.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[unwritten..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn indents_with_tabs_like_marshal_indent() {
        let value = json!({"auths": {"a": {"auth": "x"}, "b": {}}, "list": ["x", 1], "empty": []});
        let text = String::from_utf8(marshal_indent(&value).unwrap()).unwrap();
        assert_eq!(
            text,
            "{\n\t\"auths\": {\n\t\t\"a\": {\n\t\t\t\"auth\": \"x\"\n\t\t},\n\t\t\"b\": {}\n\t},\n\t\"list\": [\n\t\t\"x\",\n\t\t1\n\t],\n\t\"empty\": []\n}"
        );
    }

    #[test]
    fn escapes_html_characters_and_line_separators_as_go_does() {
        let value = json!({"psFormat": "<b>&\u{2028}\u{2029}\"\\\n\t\u{1}é"});
        let text = String::from_utf8(marshal_indent(&value).unwrap()).unwrap();
        assert_eq!(
            text,
            "{\n\t\"psFormat\": \"\\u003cb\\u003e\\u0026\\u2028\\u2029\\\"\\\\\\n\\t\\u0001é\"\n}"
        );
    }

    #[test]
    fn encoder_output_is_compact_with_a_newline() {
        let value = json!({"ServerURL": "a&b", "Username": "u", "Secret": "s"});
        assert_eq!(
            encode_line(&value).unwrap(),
            b"{\"ServerURL\":\"a\\u0026b\",\"Username\":\"u\",\"Secret\":\"s\"}\n"
        );
    }
}
