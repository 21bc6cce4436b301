//! Block-structure checks Go's template parser makes and gotmpl 0.6 skips: gotmpl ends the
//! template at EOF without noticing an unclosed `{{if}}`/`{{range}}`/`{{with}}`/`{{define}}`,
//! and stops (dropping the rest) at a stray `{{end}}` or `{{else}}`. This scanner walks the
//! actions (`{{ ... }}` with Go's default delimiters) and reports what Go would.

/// A structural error: the 1-based line and Go's message.
pub(crate) type StructureError = (usize, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opener {
    If,
    Range,
    With,
    Define,
    Block,
}

/// Checks that blocks open and close as Go requires.
pub(crate) fn check_structure(source: &str) -> Result<(), StructureError> {
    let mut stack: Vec<Opener> = Vec::new();
    let mut rest = source;
    let mut line = 1;
    while let Some(start) = rest.find("{{") {
        line += count_newlines(&rest[..start]);
        let action = &rest[start + 2..];
        let Some(length) = action_length(action) else {
            // An unclosed action: gotmpl reports it itself.
            return Ok(());
        };
        let body = &action[..length];
        let problem = match keyword(body) {
            Some("if") => opened(&mut stack, Opener::If),
            Some("range") => opened(&mut stack, Opener::Range),
            Some("with") => opened(&mut stack, Opener::With),
            Some("define") => opened(&mut stack, Opener::Define),
            Some("block") => opened(&mut stack, Opener::Block),
            Some("end") => stack
                .pop()
                .is_none()
                .then(|| "unexpected {{end}}".to_string()),
            Some("else") => (!matches!(
                stack.last(),
                Some(Opener::If | Opener::Range | Opener::With)
            ))
            .then(|| "unexpected {{else}}".to_string()),
            Some(word @ ("break" | "continue")) => (!stack.contains(&Opener::Range))
                .then(|| format!("{{{{{word}}}}} outside {{{{range}}}}")),
            _ => None,
        };
        if let Some(message) = problem {
            return Err((line, message));
        }
        line += count_newlines(body);
        rest = &action[length + 2..];
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err((line + count_newlines(rest), "unexpected EOF".to_string()))
    }
}

/// Records an opened block; opening is never an error.
fn opened(stack: &mut Vec<Opener>, opener: Opener) -> Option<String> {
    stack.push(opener);
    None
}

fn count_newlines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count()
}

/// The keyword an action starts with, if any (after a `-` trim marker and spaces).
fn keyword(body: &str) -> Option<&str> {
    let body = match body.strip_prefix('-') {
        Some(after) if after.starts_with([' ', '\t', '\n', '\r']) => after,
        _ => body,
    };
    let body = body.trim_start_matches([' ', '\t', '\n', '\r']);
    let end = body
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    let word = &body[..end];
    matches!(
        word,
        "if" | "range" | "with" | "define" | "block" | "end" | "else" | "break" | "continue"
    )
    .then_some(word)
}

/// Length of the action text before its closing `}}`, skipping quoted strings, raw strings,
/// character constants and comments; `None` if it never closes.
fn action_length(action: &str) -> Option<usize> {
    let bytes = action.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'}' if bytes.get(index + 1) == Some(&b'}') => return Some(index),
            quote @ (b'"' | b'\'') => {
                index += 1;
                while index < bytes.len() && bytes[index] != quote {
                    if bytes[index] == b'\\' {
                        index += 1;
                    }
                    index += 1;
                }
            }
            b'`' => {
                index += 1;
                while index < bytes.len() && bytes[index] != b'`' {
                    index += 1;
                }
            }
            b'/' if bytes.get(index + 1) == Some(&b'*') => {
                let close = action[index + 2..].find("*/")?;
                index += close + 3;
            }
            _ => {}
        }
        index += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(source: &str) -> Option<StructureError> {
        check_structure(source).err()
    }

    #[test]
    fn balanced_templates_pass() {
        for source in [
            "",
            "plain",
            "{{.ID}}",
            "{{if .A}}x{{else if .B}}y{{else}}z{{end}}",
            "{{range .L}}{{if eq . 1}}{{break}}{{end}}{{continue}}{{else}}none{{end}}",
            "{{define \"t\"}}{{.}}{{end}}{{template \"t\" .}}",
            "{{- with .A -}} {{.}} {{- end -}}",
            "{{/* {{if}} is only a comment */}}",
            "{{printf \"}}{{end}}\" .}}",
            "{{printf `{{if}}` .}}",
            "{{'}'}}",
            "{{.End}}{{.Iffy}}",
        ] {
            assert_eq!(error(source), None, "{source}");
        }
    }

    #[test]
    fn go_errors_are_reported() {
        assert_eq!(
            error("{{range .L}}{{.}}"),
            Some((1, "unexpected EOF".into()))
        );
        assert_eq!(error("{{if .A}}\nx\n"), Some((3, "unexpected EOF".into())));
        assert_eq!(error("a\n{{end}}b"), Some((2, "unexpected {{end}}".into())));
        assert_eq!(error("{{else}}"), Some((1, "unexpected {{else}}".into())));
        assert_eq!(
            error("{{define \"x\"}}{{else}}{{end}}"),
            Some((1, "unexpected {{else}}".into()))
        );
        assert_eq!(
            error("{{if .A}}{{break}}{{end}}"),
            Some((1, "{{break}} outside {{range}}".into()))
        );
        assert_eq!(error("{{- end}}"), Some((1, "unexpected {{end}}".into())));
    }

    #[test]
    fn unclosed_actions_are_left_to_gotmpl() {
        assert_eq!(error("{{if .A"), None);
    }
}
