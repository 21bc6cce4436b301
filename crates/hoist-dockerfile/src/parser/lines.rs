//! The line parser (BuildKit's `parser.Parse` and its line parsers): physical lines to [`Node`]s.
//!
//! Parser directives are read from the leading `#` lines; a comment or instruction ends them. An
//! instruction continues while a line ends with the escape character (spaces and tabs after it allowed);
//! comment lines inside a continuation are skipped, and so are empty ones, with a warning. The joined line
//! is split into keyword, `--flags` and arguments, and the arguments are read in the keyword's form. For
//! RUN, COPY and ADD (also as ONBUILD triggers) not in JSON form, `<<WORD` heredocs on the line take their
//! bodies from the lines that follow.

use super::heredoc;
use super::{Node, Nodes};
use crate::parser::go::{is_re2_space, is_space_byte, is_split_space};
use crate::{Diagnostic, Directives, Span};

/// BuildKit's `parser.Parse`.
pub(super) fn parse(source: &str) -> Result<Nodes, Diagnostic> {
    let mut lines: Vec<&str> = source.split_inclusive('\n').collect();
    // BuildKit's line scanner stops at a line it cannot buffer: what comes before is parsed (and its
    // errors win), then the long line is the error.
    let too_long = lines.iter().position(|l| l.len() > MAX_LINE);
    let all_lines = lines.clone();
    if let Some(index) = too_long {
        lines.truncate(index);
    }
    let line_text = |index: usize| -> String {
        let raw = all_lines.get(index).copied().unwrap_or_default();
        let raw = if index == 0 {
            raw.strip_prefix('\u{feff}').unwrap_or(raw)
        } else {
            raw
        };
        trim_newline(raw).to_owned()
    };
    let at_line = |line: usize, message: String| Diagnostic {
        span: Span {
            line: line.max(1),
            column: 1,
            end_line: line.max(1),
        },
        message,
        source_line: line_text(line.max(1) - 1),
    };

    let mut directives = DirectiveReader::default();
    let mut nodes = Vec::new();
    let mut warnings = Vec::new();
    // Lines consumed so far: also the 1-based number of the last one read.
    let mut current = 0usize;
    while current < lines.len() {
        let raw = lines[current];
        let raw = if current == 0 {
            raw.strip_prefix('\u{feff}').unwrap_or(raw)
        } else {
            raw
        };
        current += 1;
        let processed =
            process_line(&mut directives, raw, true).map_err(|e| at_line(current, e))?;
        let start_line = current;
        let (first, mut end_of_line) = trim_continuation(processed, directives.escape);
        if end_of_line && first.is_empty() {
            continue;
        }
        let mut joined = first.to_owned();
        let mut empty_continuation = false;
        while !end_of_line && current < lines.len() {
            let raw = lines[current];
            current += 1;
            let processed =
                process_line(&mut directives, raw, false).map_err(|e| at_line(current, e))?;
            if is_comment(raw) {
                continue;
            }
            if processed.trim_start().is_empty() {
                empty_continuation = true;
                continue;
            }
            let (more, end) = trim_continuation(processed, directives.escape);
            joined.push_str(more);
            end_of_line = end;
        }

        let first_raw = line_text(start_line - 1);
        let column = first_raw.chars().take_while(|c| c.is_whitespace()).count() + 1;
        let span_to = |end_line: usize| Span {
            line: start_line,
            column,
            end_line,
        };
        let fail = |end_line: usize, message: String| Diagnostic {
            span: span_to(end_line),
            message,
            source_line: first_raw.clone(),
        };
        if empty_continuation {
            warnings.push(Diagnostic {
                span: Span {
                    line: current,
                    column: 1,
                    end_line: current,
                },
                message: "NoEmptyContinuation: Empty continuation line".to_owned(),
                source_line: line_text(current - 1),
            });
        }

        let parsed = node_from_line(&joined, directives.escape).map_err(|e| fail(current, e))?;
        let mut heredocs = Vec::new();
        if parsed.can_contain_heredoc() && joined.contains("<<") {
            for mut doc in heredoc::from_line(&joined).map_err(|e| fail(current, e))? {
                let mut terminated = false;
                while current < lines.len() {
                    let raw = lines[current];
                    current += 1;
                    let mut candidate = trim_newline(raw);
                    if doc.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(raw);
                }
                if !terminated {
                    return Err(fail(current, "unterminated heredoc".to_owned()));
                }
                heredocs.push(doc);
            }
        }
        nodes.push(Node {
            keyword: parsed.keyword.clone(),
            span: span_to(current),
            source: joined.trim().to_owned(),
            original: joined.clone(),
            flags: parsed.flags.clone(),
            args: parsed.node_args(),
            json: parsed.json,
            heredocs,
            source_line: first_raw,
        });
    }
    if nodes.is_empty() {
        return Err(at_line(current, "file with no instructions".to_owned()));
    }
    if let Some(index) = too_long {
        return Err(at_line(
            index + 1,
            format!(
                "dockerfile line greater than max allowed size of {}",
                MAX_LINE - 1
            ),
        ));
    }
    Ok(Nodes {
        directives: directives.finish(),
        nodes,
        warnings,
    })
}

/// The longest physical line (with its newline) BuildKit's scanner reads: Go's `bufio.MaxScanTokenSize`.
const MAX_LINE: usize = 64 * 1024;

fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Strips the line end (and, for the first line of an instruction, leading whitespace), reads a possible
/// parser directive, and blanks comment lines.
fn process_line<'a>(
    directives: &mut DirectiveReader,
    raw: &'a str,
    strip_left: bool,
) -> Result<&'a str, String> {
    let mut token = trim_newline(raw);
    if strip_left {
        token = token.trim_start();
    }
    directives.read(token)?;
    Ok(if is_comment(token) { "" } else { token })
}

/// Removes the escape character that continues a line (with spaces and tabs after it) unless it is itself
/// escaped. Returns what is left and whether the instruction ends here.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    let Some(before) = body.strip_suffix(escape) else {
        return (line, true);
    };
    if before.ends_with(escape) {
        return (line, true);
    }
    (before, false)
}

/// BuildKit's `DirectiveParser` over the leading lines, with the values it found.
#[derive(Debug)]
struct DirectiveReader {
    escape: char,
    syntax: Option<String>,
    check: Option<String>,
    seen_escape: bool,
    done: bool,
}

impl Default for DirectiveReader {
    fn default() -> Self {
        Self {
            escape: '\\',
            syntax: None,
            check: None,
            seen_escape: false,
            done: false,
        }
    }
}

impl DirectiveReader {
    /// `#` then `name = value` with a known name, while nothing else has been seen.
    fn read(&mut self, line: &str) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = line
            .strip_prefix('#')
            .and_then(|rest| directive(rest.trim_start()))
        else {
            self.done = true;
            return Ok(());
        };
        let key = name.to_lowercase();
        let (slot_taken, value) = match key.as_str() {
            "syntax" => (self.syntax.is_some(), value),
            "check" => (self.check.is_some(), value),
            "escape" => (self.seen_escape, value),
            _ => {
                self.done = true;
                return Ok(());
            }
        };
        if slot_taken {
            return Err(format!("only one {key} parser directive can be used"));
        }
        match key.as_str() {
            "syntax" => self.syntax = Some(value.to_owned()),
            "check" => self.check = Some(value.to_owned()),
            _ => {
                self.seen_escape = true;
                self.escape = match value {
                    "`" => '`',
                    "\\" => '\\',
                    _ => {
                        return Err(format!(
                            "invalid escape token '{value}' does not match ` or \\"
                        ));
                    }
                };
            }
        }
        Ok(())
    }

    fn finish(self) -> Directives {
        Directives {
            escape: self.escape,
            syntax: self.syntax,
            check: self.check,
        }
    }
}

/// Matches `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, returning the name and the value.
fn directive(text: &str) -> Option<(&str, &str)> {
    let name_len = text
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(text.len());
    let name = &text[..name_len];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let after_name = text[name_len..].trim_start_matches(is_re2_space);
    let after_eq = after_name.strip_prefix('=')?;
    let value = after_eq
        .trim_start_matches(is_re2_space)
        .trim_end_matches(is_re2_space);
    if !value.is_empty() {
        return Some((name, value));
    }
    // Only whitespace after `=`: the lazy `(.+?)` still takes its last character.
    let last = after_eq.chars().last()?;
    Some((name, &after_eq[after_eq.len() - last.len_utf8()..]))
}

/// One line split and read in its keyword's form.
#[derive(Debug)]
struct LineNode {
    keyword: String,
    flags: Vec<String>,
    args: Vec<String>,
    json: bool,
    /// ONBUILD's trigger.
    child: Option<Box<LineNode>>,
}

impl LineNode {
    /// RUN, COPY and ADD (directly or as ONBUILD's trigger) not in JSON form read heredocs.
    fn can_contain_heredoc(&self) -> bool {
        let node = match (&self.child, self.keyword.to_lowercase().as_str()) {
            (Some(child), "onbuild") => child,
            _ => self,
        };
        matches!(node.keyword.to_lowercase().as_str(), "run" | "copy" | "add") && !node.json
    }

    fn node_args(&self) -> Vec<String> {
        match &self.child {
            Some(child) => {
                let mut args = vec![child.keyword.clone()];
                args.extend(child.node_args());
                args
            }
            None => self.args.clone(),
        }
    }
}

/// `splitCommand` and the keyword's line parser.
fn node_from_line(line: &str, escape: char) -> Result<LineNode, String> {
    let trimmed = line.trim();
    let (keyword, rest) = match trimmed.find(is_split_space) {
        Some(i) => (
            &trimmed[..i],
            Some(trimmed[i..].trim_start_matches(is_split_space)),
        ),
        None => (trimmed, None),
    };
    let (args_text, flags) = match rest {
        Some(rest) => extract_builder_flags(rest, escape),
        None => (String::new(), Vec::new()),
    };
    let args_text = args_text.trim();
    let mut node = LineNode {
        keyword: keyword.to_owned(),
        flags,
        args: Vec::new(),
        json: false,
        child: None,
    };
    match keyword.to_lowercase().as_str() {
        "cmd" | "entrypoint" | "run" | "shell" => {
            (node.args, node.json) = parse_maybe_json(args_text)?;
        }
        "env" => node.args = parse_name_val(args_text, "ENV", escape)?,
        "label" => node.args = parse_name_val(args_text, "LABEL", escape)?,
        "expose" | "from" => node.args = split_whitespace_delimited(args_text),
        "healthcheck" => (node.args, node.json) = parse_health_config(args_text)?,
        "maintainer" | "stopsignal" | "user" | "workdir" if !args_text.is_empty() => {
            node.args = vec![args_text.to_owned()];
        }
        "onbuild" if !args_text.is_empty() => {
            node.child = Some(Box::new(node_from_line(args_text, escape)?));
        }
        "add" | "copy" | "volume" => (node.args, node.json) = parse_maybe_json_to_list(args_text)?,
        "arg" => node.args = parse_words(args_text, escape),
        _ => {}
    }
    Ok(node)
}

/// Takes the leading `--flag[=value]` words off an instruction's arguments. Quotes and escapes are
/// resolved. BuildKit reads this part byte by byte (each byte taken as a character), and so does this.
fn extract_builder_flags(line: &str, escape: char) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let bytes = line.as_bytes();
    let rest_from = |pos: usize| String::from_utf8_lossy(&bytes[pos..]).into_owned();
    let escape = u8::try_from(escape).unwrap_or(b'\\');
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = 0u8;
    let mut blank_ok = false;
    let mut pos = 0usize;
    loop {
        let Some(&c) = bytes.get(pos) else {
            if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            return (String::new(), words);
        };
        if phase == Phase::Spaces {
            if is_space_byte(c) {
                pos += 1;
                continue;
            }
            if c != b'-' || bytes.get(pos + 1) != Some(&b'-') {
                return (rest_from(pos), words);
            }
            phase = Phase::Word;
        }
        if phase == Phase::Word {
            if is_space_byte(c) {
                phase = Phase::Spaces;
                if word == "--" {
                    return (rest_from(pos), words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                pos += 1;
                continue;
            }
            if c == b'\'' || c == b'"' {
                quote = c;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            let mut c = c;
            if c == escape {
                if pos + 1 == bytes.len() {
                    pos += 1;
                    continue;
                }
                pos += 1;
                c = bytes[pos];
            }
            word.push(char::from(c));
            pos += 1;
            continue;
        }
        // In quotes.
        if c == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        let mut c = c;
        if c == escape {
            if pos + 1 == bytes.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            c = bytes[pos];
        }
        word.push(char::from(c));
        pos += 1;
    }
}

/// Splits into words at unquoted whitespace, keeping quotes and escapes (they go at expansion time).
pub(super) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0usize;
    loop {
        let Some(&c) = chars.get(pos) else {
            if phase != Phase::Spaces && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            return words;
        };
        let mut c = c;
        if phase == Phase::Spaces {
            if c.is_whitespace() {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if phase == Phase::Word {
            if c.is_whitespace() {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                pos += 1;
                continue;
            }
            if c == '\'' || c == '"' {
                quote = c;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if c == escape {
                if pos + 1 == chars.len() {
                    pos += 1;
                    continue;
                }
                // Unquoted, an escape and the character after it are kept together, even a quote.
                word.push(c);
                pos += 1;
                c = chars[pos];
            }
            word.push(c);
            pos += 1;
            continue;
        }
        // In quotes.
        if c == quote {
            phase = Phase::Word;
        }
        if c == escape && quote != '\'' {
            if pos + 1 == chars.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            word.push(c);
            c = chars[pos];
        }
        word.push(c);
        pos += 1;
    }
}

/// `KEY name value` (legacy) or `KEY a=b c="d e"`: flattened (key, value, separator) triples, the
/// separator empty for the legacy form.
fn parse_name_val(rest: &str, key: &str, escape: char) -> Result<Vec<String>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let Some(i) = rest.find(is_split_space) else {
            return Err(format!("{key} must have two arguments"));
        };
        let value = rest[i..].trim_start_matches(is_split_space);
        return Ok(vec![rest[..i].to_owned(), value.to_owned(), String::new()]);
    }
    let mut out = Vec::with_capacity(words.len() * 3);
    for word in &words {
        let Some((name, value)) = word.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {}. Must be of the form: name=value",
                crate::parser::go::quote(word)
            ));
        };
        out.extend([name.to_owned(), value.to_owned(), "=".to_owned()]);
    }
    Ok(out)
}

fn split_whitespace_delimited(rest: &str) -> Vec<String> {
    rest.split(is_split_space)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(super) const NOT_STRING_ARRAY: &str =
    "when using JSON array syntax, arrays must be comprised of strings only";

/// The exec form: `Ok(Some(args))` for a JSON array of strings, `Ok(None)` for anything that is not a
/// JSON array.
fn parse_json(rest: &str) -> Result<Option<Vec<String>>, String> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Ok(items) = serde_json::from_str::<Vec<serde_json::Value>>(rest) else {
        return Ok(None);
    };
    items
        .into_iter()
        .map(|item| match item {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(NOT_STRING_ARRAY.to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn parse_maybe_json(rest: &str) -> Result<(Vec<String>, bool), String> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    Ok(match parse_json(rest)? {
        Some(args) => (args, true),
        None => (vec![rest.to_owned()], false),
    })
}

fn parse_maybe_json_to_list(rest: &str) -> Result<(Vec<String>, bool), String> {
    Ok(match parse_json(rest)? {
        Some(args) => (args, true),
        None => (split_whitespace_delimited(rest), false),
    })
}

/// `HEALTHCHECK TYPE [command]`: the type word, then the command in either form. BuildKit finds the
/// end of the type byte by byte.
fn parse_health_config(rest: &str) -> Result<(Vec<String>, bool), String> {
    let bytes = rest.as_bytes();
    let sep = bytes
        .iter()
        .position(|b| is_space_byte(*b))
        .unwrap_or(bytes.len());
    if sep == 0 {
        return Ok((Vec::new(), false));
    }
    let next = bytes[sep..]
        .iter()
        .position(|b| !is_space_byte(*b))
        .map_or(bytes.len(), |n| sep + n);
    let kind = String::from_utf8_lossy(&bytes[..sep]).into_owned();
    let command = String::from_utf8_lossy(&bytes[next..]);
    let (mut args, json) = parse_maybe_json(&command)?;
    args.insert(0, kind);
    Ok((args, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_keeps_escaped_escapes() {
        assert_eq!(trim_continuation("a \\", '\\'), ("a ", false));
        assert_eq!(trim_continuation("a \\ \t", '\\'), ("a ", false));
        assert_eq!(trim_continuation("\\", '\\'), ("", false));
        assert_eq!(trim_continuation("a \\\\", '\\'), ("a \\\\", true));
        assert_eq!(trim_continuation("a `", '`'), ("a ", false));
        assert_eq!(trim_continuation("a \\", '`'), ("a \\", true));
    }

    #[test]
    fn lines_longer_than_buildkit_reads_are_refused_after_what_precedes_them() {
        let long = format!("RUN echo {}\n", "x".repeat(MAX_LINE));
        let err = parse(&format!("FROM alpine\n{long}RUN true\n")).unwrap_err();
        assert_eq!(
            err.message,
            "dockerfile line greater than max allowed size of 65535"
        );
        assert_eq!(err.span.line, 2);
        // An error before the long line comes first, as BuildKit stops reading there.
        let err = parse(&format!("FROM alpine\nRUN <<EOF\n{long}EOF\n")).unwrap_err();
        assert_eq!(
            (err.message.as_str(), err.span.line),
            ("unterminated heredoc", 2)
        );
        // A line of exactly the limit, newline included, is fine.
        let fits = format!("RUN {}\n", "x".repeat(MAX_LINE - 5));
        assert_eq!(fits.len(), MAX_LINE);
        assert!(parse(&format!("FROM alpine\n{fits}")).is_ok());
    }

    #[test]
    fn directives_take_the_lazy_value() {
        assert_eq!(directive("escape=`"), Some(("escape", "`")));
        assert_eq!(directive("syntax = a b  "), Some(("syntax", "a b")));
        assert_eq!(directive("x ="), None);
        assert_eq!(directive("1x=y"), None);
    }

    #[test]
    fn flags_stop_at_the_first_other_word_or_a_double_dash() {
        assert_eq!(
            extract_builder_flags("--a=1 --b=\"x y\" rest --c", '\\'),
            (
                "rest --c".to_owned(),
                vec!["--a=1".to_owned(), "--b=x y".to_owned()]
            )
        );
        assert_eq!(
            extract_builder_flags("--a -- --b", '\\'),
            (" --b".to_owned(), vec!["--a".to_owned()])
        );
        assert_eq!(
            extract_builder_flags("--a=\\\"q", '\\'),
            (String::new(), vec!["--a=\"q".to_owned()])
        );
    }

    #[test]
    fn words_keep_quotes_and_escapes() {
        assert_eq!(
            parse_words(r#"a="b c" d\ e 'f\g' "h\"i""#, '\\'),
            vec![r#"a="b c""#, r"d\ e", r"'f\g'", r#""h\"i""#]
        );
        assert_eq!(parse_words("a \"\" b", '\\'), vec!["a", "\"\"", "b"]);
    }
}
