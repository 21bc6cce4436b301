//! Heredoc words (`<<EOF`, `<<-EOF`, `<<"EOF"`, `2<<EOF`) as BuildKit finds them: the line is split into
//! words by the shell lexer in its raw mode (quotes and escapes kept, unknown variables left as written),
//! and each word of the form `[fd]<<[-]WORD` is a heredoc whose body is read from the following lines.

use crate::expand::Lex;

/// A heredoc as the line parser reads it: the body as written (tabs not yet removed for `<<-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RawHeredoc {
    pub(super) name: String,
    pub(super) content: String,
    pub(super) expand: bool,
    /// `<<-`: leading tabs are removed from the body lines and the terminator.
    pub(super) chomp: bool,
}

impl RawHeredoc {
    /// The body as the build sees it: for `<<-`, without the tabs that start its lines.
    pub(super) fn to_ast(&self) -> crate::Heredoc {
        crate::Heredoc {
            name: self.name.clone(),
            content: if self.chomp {
                chomp(&self.content)
            } else {
                self.content.clone()
            },
            expand: self.expand,
        }
    }
}

/// Removes the tabs at the start of every line.
fn chomp(content: &str) -> String {
    content
        .split_inclusive('\n')
        .map(|line| line.trim_start_matches('\t'))
        .collect()
}

fn no_variables(_: &str) -> Option<String> {
    None
}

/// The heredocs a line asks for, in order. A line the raw lexer cannot split has none.
pub(super) fn from_line(line: &str) -> Result<Vec<RawHeredoc>, String> {
    let lex = Lex {
        escape: '\\',
        raw_quotes: true,
        raw_escapes: true,
        skip_unset_env: true,
    };
    let words = lex
        .process(line, &no_variables)
        .map(|p| p.words)
        .unwrap_or_default();
    let mut docs = Vec::new();
    for word in &words {
        if let Some(doc) = parse_word(word)? {
            docs.push(doc);
        }
    }
    Ok(docs)
}

/// BuildKit's `ParseHeredoc`: `^(\d*)<<(-?)\s*([^<]*)$`, then the rest must lex to one word; it is
/// expanded unless some part of it was quoted.
pub(super) fn parse_word(word: &str) -> Result<Option<RawHeredoc>, String> {
    let after_fd = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let Some(after) = after_fd.strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, after) = match after.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, after),
    };
    let rest = after.trim_start_matches(crate::parser::go::is_re2_space);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let mut lex = Lex {
        escape: '\\',
        raw_quotes: false,
        raw_escapes: false,
        skip_unset_env: true,
    };
    let words = lex
        .process(rest, &no_variables)
        .map_err(|e| e.to_string())?
        .words;
    let [name] = words.as_slice() else {
        return Ok(None);
    };
    lex.raw_quotes = true;
    let raw_words = lex
        .process(rest, &no_variables)
        .map_err(|e| e.to_string())?
        .words;
    let [raw] = raw_words.as_slice() else {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    };
    let quotes = |s: &str| s.chars().filter(|c| matches!(c, '\'' | '"')).count();
    Ok(Some(RawHeredoc {
        name: name.clone(),
        content: String::new(),
        expand: quotes(name) == quotes(raw),
        chomp,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(word: &str) -> Option<(String, bool, bool)> {
        parse_word(word)
            .unwrap()
            .map(|d| (d.name, d.expand, d.chomp))
    }

    #[test]
    fn heredoc_words() {
        assert_eq!(doc("<<EOF"), Some(("EOF".into(), true, false)));
        assert_eq!(doc("<<-EOF"), Some(("EOF".into(), true, true)));
        assert_eq!(doc("<<\"EOF\""), Some(("EOF".into(), false, false)));
        assert_eq!(doc("<<'E'OF"), Some(("EOF".into(), false, false)));
        assert_eq!(doc("2<< EOF"), Some(("EOF".into(), true, false)));
        assert_eq!(doc("<<"), None);
        assert_eq!(doc("<<a b"), None);
        assert_eq!(doc("x<<EOF"), None);
        assert_eq!(doc("<<<EOF"), None);
    }

    #[test]
    fn words_of_a_line() {
        let docs = from_line("RUN cat <<A >/a && cat <<-\"B\" > /b").unwrap();
        let names: Vec<_> = docs
            .iter()
            .map(|d| (d.name.as_str(), d.expand, d.chomp))
            .collect();
        assert_eq!(names, [("A", true, false), ("B", false, true)]);
        assert!(from_line("RUN echo \"<<A").unwrap().is_empty());
    }

    #[test]
    fn chomp_removes_leading_tabs_only() {
        assert_eq!(chomp("\t\ta\n \tb\n\tc"), "a\n \tb\nc");
    }
}
