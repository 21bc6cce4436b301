//! BuildKit's shell-word expander (`shell/lex.go`): `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}`,
//! `${VAR+x}`, `${VAR:?x}`, `${VAR?x}`, `${VAR#p}`, `${VAR##p}`, `${VAR%s}`, `${VAR%%s}`, `${VAR/a/b}`,
//! `${VAR//a/b}`, quotes and the escape character, as `ENV`, `ARG`, `COPY`, `WORKDIR`, … see them at
//! dispatch time.
//!
//! Single quotes keep everything literal; double quotes keep everything but `$` expansions and the
//! escapes of `"`, `$` and the escape character; outside quotes the escape character takes the next
//! character literally. [`Expander::expand`] is BuildKit's `ProcessWord` (one value, inner whitespace
//! kept); [`Expander::expand_words`] is `ProcessWords` (split at unquoted whitespace after expansion).

use crate::parser::go;

/// Expands words against a variable lookup.
pub struct Expander<'a> {
    pub escape: char,
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl std::fmt::Debug for Expander<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expander")
            .field("escape", &self.escape)
            .finish_non_exhaustive()
    }
}

/// The result of expanding one word.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expanded {
    pub value: String,
    /// Every variable name the word referenced, in order, once each.
    pub used: Vec<String>,
    /// Referenced names the lookup did not know (for the UndefinedVar check).
    pub unmatched: Vec<String>,
}

/// Why a word could not be expanded. The message is BuildKit's, e.g.
/// `failed to process "${A:?}": A: is not allowed to be unset`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("{0}")]
    Syntax(String),
}

impl Expander<'_> {
    /// One word (BuildKit's `ProcessWord`): quotes removed, variables substituted, not split.
    pub fn expand(&self, word: &str) -> Result<Expanded, ExpandError> {
        let lex = Lex::new(self.escape);
        let out = lex.process(word, self.lookup)?;
        Ok(Expanded {
            value: out.value,
            used: out.used,
            unmatched: out.unmatched,
        })
    }

    /// Several words (BuildKit's `ProcessWords`): split on unquoted whitespace after expansion.
    pub fn expand_words(&self, text: &str) -> Result<Vec<String>, ExpandError> {
        let lex = Lex::new(self.escape);
        Ok(lex.process(text, self.lookup)?.words)
    }
}

/// BuildKit's `shell.Lex` with its switches; the parser uses the raw modes to find heredoc words.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lex {
    pub(crate) escape: char,
    /// Keep quote characters in the output.
    pub(crate) raw_quotes: bool,
    /// Keep escape characters in the output.
    pub(crate) raw_escapes: bool,
    /// Leave references to unknown variables as written.
    pub(crate) skip_unset_env: bool,
}

/// What one run of the lexer produced.
#[derive(Debug, Default)]
pub(crate) struct Processed {
    pub(crate) value: String,
    pub(crate) words: Vec<String>,
    pub(crate) used: Vec<String>,
    pub(crate) unmatched: Vec<String>,
}

impl Lex {
    pub(crate) fn new(escape: char) -> Self {
        Self {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset_env: false,
        }
    }

    pub(crate) fn process(
        &self,
        word: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Processed, ExpandError> {
        let mut scanner = Scanner {
            lex: *self,
            chars: word.chars().collect(),
            pos: 0,
            lookup,
            raw_escapes: self.raw_escapes,
            used: Vec::new(),
            unmatched: Vec::new(),
        };
        match scanner.process_stop_on(None, self.raw_escapes) {
            Ok((value, words)) => Ok(Processed {
                value,
                words,
                used: scanner.used,
                unmatched: scanner.unmatched,
            }),
            Err(e) => Err(ExpandError::Syntax(format!(
                "failed to process {}: {e}",
                go::quote(word)
            ))),
        }
    }
}

/// Words being split out of an expansion (BuildKit's `wordsStruct`).
#[derive(Debug, Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, c: char) {
        if c.is_whitespace() && self.in_word {
            if !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else if !c.is_whitespace() {
            self.add_raw_char(c);
        }
    }

    fn add_raw_char(&mut self, c: char) {
        self.word.push(c);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

struct Scanner<'a> {
    lex: Lex,
    chars: Vec<char>,
    pos: usize,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    raw_escapes: bool,
    used: Vec<String>,
    unmatched: Vec<String>,
}

type Step<T> = Result<T, String>;

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn get_env(&mut self, name: &str) -> Option<String> {
        let value = (self.lookup)(name);
        if !self.used.iter().any(|n| n == name) {
            self.used.push(name.to_owned());
        }
        if value.is_none() && !self.unmatched.iter().any(|n| n == name) {
            self.unmatched.push(name.to_owned());
        }
        value
    }

    /// Reads up to `stop` (consumed) or the end; a missing `stop` is an error.
    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Step<(String, Vec<String>)> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let result = self.stop_on(stop);
        self.raw_escapes = saved;
        result
    }

    fn stop_on(&mut self, stop: Option<char>) -> Step<(String, Vec<String>)> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if stop == Some(c) {
                self.next();
                return Ok((result, words.finish()));
            }
            match c {
                '$' => {
                    let value = self.process_dollar()?;
                    result.push_str(&value);
                    words.add_string(&value);
                }
                '<' => {
                    let value = self.process_possible_heredoc();
                    result.push_str(&value);
                    words.add_raw_string(&value);
                }
                '\'' => {
                    let value = self.process_single_quote()?;
                    result.push_str(&value);
                    words.add_raw_string(&value);
                }
                '"' => {
                    let value = self.process_double_quote()?;
                    result.push_str(&value);
                    words.add_raw_string(&value);
                }
                _ => {
                    self.next();
                    if c == self.lex.escape {
                        if self.raw_escapes {
                            words.add_raw_char(c);
                            result.push(c);
                        }
                        // The escape takes the next character literally; at the very end it is dropped.
                        let Some(escaped) = self.next() else { break };
                        words.add_raw_char(escaped);
                        result.push(escaped);
                    } else {
                        words.add_char(c);
                        result.push(c);
                    }
                }
            }
        }
        if let Some(stop) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            ));
        }
        Ok((result, words.finish()))
    }

    fn process_single_quote(&mut self) -> Step<String> {
        let mut result = String::new();
        let open = self.next().unwrap_or('\'');
        if self.lex.raw_quotes {
            result.push(open);
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .to_owned(),
                    );
                }
                Some('\'') => {
                    if self.lex.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Step<String> {
        let mut result = String::new();
        let open = self.next().unwrap_or('"');
        if self.lex.raw_quotes {
            result.push(open);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .to_owned(),
                    );
                }
                Some('"') => {
                    self.next();
                    if self.lex.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let value = self.process_dollar()?;
                    result.push_str(&value);
                }
                Some(mut c) => {
                    self.next();
                    if c == self.lex.escape {
                        if self.raw_escapes {
                            result.push(c);
                        }
                        match self.peek() {
                            // An escape at the very end is dropped.
                            None => continue,
                            // Only these can be escaped in double quotes; other escapes stay as written.
                            Some(next) if next == '"' || next == '$' || next == self.lex.escape => {
                                c = next;
                                self.next();
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(c);
                }
            }
        }
    }

    /// `<<` and the whitespace after it stay together, so a heredoc word is one word.
    fn process_possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".to_owned();
        }
        self.next();
        let mut result = "<<".to_owned();
        while let Some(c) = self.peek().filter(|c| matches!(c, '\t' | '\r' | ' ')) {
            result.push(c);
            self.next();
        }
        result
    }

    fn process_dollar(&mut self) -> Step<String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_owned());
            }
            return Ok(match self.get_env(&name) {
                Some(value) => value,
                None if self.lex.skip_unset_env => format!("${name}"),
                None => String::new(),
            });
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".to_owned()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".to_owned()),
            Some(_) => {}
        }
        let name = self.process_name();
        let c = self.next();
        // Go prints the end of input as the replacement character.
        let shown = |c: Option<char>| c.unwrap_or('\u{fffd}');
        let mut modifier_text = shown(c).to_string();
        let (modifier, null_is_unset) = match c {
            Some('}') => {
                return Ok(match self.get_env(&name) {
                    Some(value) => value,
                    None if self.lex.skip_unset_env => format!("${{{name}}}"),
                    None => String::new(),
                });
            }
            Some('/') => return self.process_replacement(&name),
            // `:` applies to whatever follows; an unknown modifier is refused after its word is read.
            Some(':') => {
                let m = self.next();
                modifier_text.push(shown(m));
                (m, true)
            }
            Some('+' | '-' | '?' | '#' | '%') => (c, false),
            _ => {
                return Err(format!(
                    "unsupported modifier ({modifier_text}) in substitution"
                ));
            }
        };
        let pattern = matches!(modifier, Some('#' | '%'));
        if null_is_unset && pattern {
            return Err(format!(
                "unsupported modifier ({modifier_text}) in substitution"
            ));
        }
        let word = match self.process_stop_on(Some('}'), pattern) {
            Ok((word, _)) => word,
            Err(_) if self.peek().is_none() => return Err("syntax error: missing '}'".to_owned()),
            Err(e) => return Err(e),
        };
        let value = self.get_env(&name);
        if self.lex.skip_unset_env && value.is_none() {
            return Ok(format!("${{{name}{modifier_text}{word}}}"));
        }
        let unset = value.is_none() || (null_is_unset && value.as_deref() == Some(""));
        match modifier {
            Some('-') => Ok(if unset {
                word
            } else {
                value.unwrap_or_default()
            }),
            Some('+') => Ok(if unset { String::new() } else { word }),
            Some('?') => match value {
                Some(value) if !unset => Ok(value),
                Some(_) if word.is_empty() => Err(format!("{name}: is not allowed to be empty")),
                None if word.is_empty() => Err(format!("{name}: is not allowed to be unset")),
                _ => Err(format!("{name}: {word}")),
            },
            Some(m @ ('#' | '%')) => {
                let (greedy, pattern) = match word.strip_prefix(m) {
                    Some(rest) => (true, rest.to_owned()),
                    None => (false, word),
                };
                let value = value.unwrap_or_default();
                if m == '%' {
                    trim_suffix(&pattern, &value, greedy)
                } else {
                    trim_prefix(&pattern, &value, greedy)
                }
            }
            _ => Err(format!(
                "unsupported modifier ({modifier_text}) in substitution"
            )),
        }
    }

    /// `${NAME/pattern/replacement}` and `${NAME//pattern/replacement}` (after the first `/`).
    fn process_replacement(&mut self, name: &str) -> Step<String> {
        let replace_all = self.peek() == Some('/');
        if replace_all {
            self.next();
        }
        let pattern = match self.process_stop_on(Some('/'), true) {
            Ok((pattern, _)) => pattern,
            Err(_) if self.peek().is_none() => {
                return Err("syntax error: missing '/' in ${}".to_owned());
            }
            Err(e) => return Err(e),
        };
        let replacement = match self.process_stop_on(Some('}'), true) {
            Ok((replacement, _)) => replacement,
            Err(_) if self.peek().is_none() => return Err("syntax error: missing '}'".to_owned()),
            Err(e) => return Err(e),
        };
        let value = self.get_env(name);
        if self.lex.skip_unset_env && value.is_none() {
            return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
        }
        let value: Vec<char> = value.unwrap_or_default().chars().collect();
        let compiled = Pattern::compile(&pattern, true)
            .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
        if !replace_all {
            let Some((from, to)) = compiled.find(&value, 0) else {
                return Ok(value.iter().collect());
            };
            let mut out: String = value[..from].iter().collect();
            out.push_str(&replacement);
            out.extend(&value[to..]);
            return Ok(out);
        }
        // Go's `ReplaceAllString`, including its rules for empty matches.
        let mut out = String::new();
        let mut last_match_end = 0;
        let mut search = 0;
        while search <= value.len() {
            let Some((from, to)) = compiled.find(&value, search) else {
                break;
            };
            out.extend(&value[last_match_end..from]);
            if to > last_match_end || from == 0 {
                out.push_str(&expand_template(&replacement, &value[from..to]));
            }
            last_match_end = to;
            let width = usize::from(search < value.len());
            if search + width > to {
                search += width;
            } else if search + 1 > to {
                search += 1;
            } else {
                search = to;
            }
        }
        out.extend(&value[last_match_end..]);
        Ok(out)
    }

    /// A variable name: letters, digits and `_`; or a run of digits; or one special parameter.
    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_numeric() {
                while let Some(d) = self.peek().filter(|d| d.is_numeric()) {
                    name.push(d);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return c.to_string();
            }
            if !(c.is_alphabetic() || c.is_numeric() || c == '_') {
                break;
            }
            name.push(c);
            self.next();
        }
        name
    }
}

/// Go's `Regexp.Expand` for `ReplaceAllString`: `$$` is `$`, `$0`/`${0}` the match, any other
/// `$name` empty (the pattern has no groups), a `$` not followed by a name stays.
fn expand_template(template: &str, matched: &[char]) -> String {
    let chars: Vec<char> = template.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        if chars.get(i + 1) == Some(&'$') {
            out.push('$');
            i += 2;
            continue;
        }
        let is_name = |c: &char| c.is_alphanumeric() || *c == '_';
        let (name, next) = if chars.get(i + 1) == Some(&'{') {
            match chars[i + 2..].iter().position(|c| *c == '}') {
                Some(len) if len > 0 && chars[i + 2..i + 2 + len].iter().all(is_name) => (
                    chars[i + 2..i + 2 + len].iter().collect::<String>(),
                    i + 3 + len,
                ),
                _ => (String::new(), i + 1),
            }
        } else {
            let len = chars[i + 1..].iter().take_while(|c| is_name(c)).count();
            (chars[i + 1..i + 1 + len].iter().collect(), i + 1 + len)
        };
        if name.is_empty() {
            out.push('$');
            i += 1;
            continue;
        }
        if name == "0" {
            out.extend(matched);
        }
        i = next;
    }
    out
}

/// One element of a shell pattern turned regular expression (BuildKit's `convertShellPatternToRegex`,
/// without bracket expressions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`: any character but a newline (Go's `.`).
    Any,
    /// `*`: any run of characters without a newline (`.*`, or `.*?` when not greedy).
    Star,
}

/// A compiled shell pattern, matched with the leftmost-first rule of Go's regexp.
#[derive(Debug)]
struct Pattern {
    tokens: Vec<Token>,
    greedy: bool,
}

impl Pattern {
    fn compile(pattern: &str, greedy: bool) -> Result<Self, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' => tokens.push(Token::Star),
                '?' => tokens.push(Token::Any),
                '\\' => {
                    // `\}` and `\/` were escapes of the `${}` syntax, not of the pattern.
                    match chars.get(i) {
                        Some('}' | '/') => {}
                        Some(&next @ ('*' | '?' | '\\')) => {
                            tokens.push(Token::Literal(next));
                            i += 1;
                        }
                        Some(&next) => return Err(format!("invalid escape '\\{next}'")),
                        None => return Err("invalid escape '\\\u{fffd}'".to_owned()),
                    }
                }
                c => tokens.push(Token::Literal(c)),
            }
        }
        Ok(Self { tokens, greedy })
    }

    /// The end of the first match (by Go's preference order) anchored at `start`.
    fn match_at(&self, text: &[char], start: usize) -> Option<usize> {
        Search::new(self, text).from(0, start)
    }

    /// The leftmost match at or after `from`: `(start, end)`.
    fn find(&self, text: &[char], from: usize) -> Option<(usize, usize)> {
        let mut search = Search::new(self, text);
        (from..=text.len()).find_map(|start| search.from(0, start).map(|end| (start, end)))
    }
}

/// One backtracking search. The first match from a (token, position) state never changes, so it is
/// remembered: patterns with many `*` stay polynomial.
struct Search<'a> {
    pattern: &'a Pattern,
    text: &'a [char],
    memo: Vec<Option<Option<usize>>>,
}

impl<'a> Search<'a> {
    fn new(pattern: &'a Pattern, text: &'a [char]) -> Self {
        Self {
            pattern,
            text,
            memo: vec![None; (pattern.tokens.len() + 1) * (text.len() + 1)],
        }
    }

    fn from(&mut self, token: usize, at: usize) -> Option<usize> {
        let slot = token * (self.text.len() + 1) + at;
        if let Some(known) = self.memo[slot] {
            return known;
        }
        let found = self.step(token, at);
        self.memo[slot] = Some(found);
        found
    }

    fn step(&mut self, token: usize, at: usize) -> Option<usize> {
        let Some(&current) = self.pattern.tokens.get(token) else {
            return Some(at);
        };
        match current {
            Token::Literal(c) => {
                if self.text.get(at) == Some(&c) {
                    self.from(token + 1, at + 1)
                } else {
                    None
                }
            }
            Token::Any => match self.text.get(at) {
                Some(c) if *c != '\n' => self.from(token + 1, at + 1),
                _ => None,
            },
            Token::Star => {
                let run = self.text[at..].iter().take_while(|c| **c != '\n').count();
                if self.pattern.greedy {
                    (0..=run).rev().find_map(|n| self.from(token + 1, at + n))
                } else {
                    (0..=run).find_map(|n| self.from(token + 1, at + n))
                }
            }
        }
    }
}

/// `${VAR#pattern}` / `${VAR##pattern}`: drops the shortest (longest) matching prefix.
fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Step<String> {
    let compiled = Pattern::compile(pattern, greedy)
        .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
    let chars: Vec<char> = value.chars().collect();
    Ok(match compiled.match_at(&chars, 0) {
        Some(end) => chars[end..].iter().collect(),
        None => value.to_owned(),
    })
}

/// `${VAR%pattern}` / `${VAR%%pattern}`: the prefix rule on the reversed value and pattern.
fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Step<String> {
    let reversed_value: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed_value, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

/// Reverses a pattern keeping each `\x` escape pair in order (`a\*c` becomes `c\*a`).
fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut pieces: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            pieces.push(chars[i..i + 2].iter().collect());
            i += 2;
        } else {
            pieces.push(chars[i].to_string());
            i += 1;
        }
    }
    pieces.reverse();
    pieces.concat()
}
