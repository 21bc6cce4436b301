//! `.dockerignore` patterns with Docker's rules: the file is read as `ignorefile.ReadAll` reads it and
//! matched as moby's `patternmatcher` matches (`MatchesOrParentMatches`), plus Go's `filepath.Match` for
//! the wildcards of COPY/ADD sources.
//!
//! Reading: a line whose first byte is `#` is a comment; every other line is trimmed, and empty ones are
//! skipped; a leading `!` makes the line an exception (re-include); the rest is cleaned as Go's
//! `filepath.Clean` does and one leading `/` is dropped, so `/foo`, `./foo` and `foo/` are all `foo`.
//!
//! Matching: `*` is any run of characters but `/`, `?` one character but `/`, `[...]` a character class
//! (`[^...]` negated, ranges, `\` escapes inside), `\x` the character `x`, and `**` any number of
//! directories (`**/` also none). A path is excluded when the last pattern that matches it, or one of its
//! parent directories, is not an exception. Docker turns each pattern into a Go regular expression; this
//! module matches the same language without one, keeping Docker's shortcuts (exact, `dir/**` prefix and
//! `**/name` suffix patterns) including their one quirk: `**name` matches any path *ending* in `name`.
//! Where Docker's translation garbles a pattern (a `*` or `?` inside `[...]`, an `\d`-style escape that
//! Go's regexp reads as a class, a stray `^` that becomes an anchor) this module keeps `filepath.Match`'s
//! meaning: the character itself.

use std::fmt;

/// Why a `.dockerignore` or a COPY wildcard is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreError {
    /// A pattern `filepath.Match` rejects: an unclosed or empty `[...]`, a range without an end, a
    /// trailing `\`. `line` is 1-based in the `.dockerignore`; 0 for a pattern that is not from a file.
    #[error("syntax error in pattern {pattern:?}{}", LineSuffix(*line))]
    Syntax { pattern: String, line: usize },
    /// A line that is only `!` (Docker: `illegal exclusion pattern: "!"`).
    #[error("illegal exclusion pattern: \"!\"{}", LineSuffix(*line))]
    IllegalExclusion { line: usize },
}

struct LineSuffix(usize);

impl fmt::Display for LineSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 > 0 {
            write!(f, " (.dockerignore line {})", self.0)
        } else {
            Ok(())
        }
    }
}

/// The parsed patterns of a `.dockerignore`, in file order.
#[derive(Debug, Clone, Default)]
pub struct IgnorePatterns {
    patterns: Vec<Pattern>,
    /// Some pattern is an exception (`!`).
    exceptions: bool,
    /// Every exception, without a trailing `/**` or `/*`, is a plain path (no pattern characters): then
    /// an excluded directory needs to be walked only when an exception lies under it (fsutil's rule).
    only_prefix_exceptions: bool,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// The cleaned pattern without its `!`.
    text: String,
    exclusion: bool,
    kind: MatchKind,
}

/// patternmatcher's match types: the first three are string comparisons Docker uses instead of a regexp.
#[derive(Debug, Clone)]
enum MatchKind {
    /// No wildcard: the path equals the pattern.
    Exact,
    /// `literal/**`: the path starts with the pattern minus the `**`.
    Prefix,
    /// `**literal`: the path ends with the pattern minus the `**` (or, for `**/name`, is `name`).
    Suffix,
    Glob(Vec<Token>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// One byte of a literal (multi-byte characters become several tokens).
    Byte(u8),
    /// `*`: any run of bytes without `/`.
    Star,
    /// `?`: one character, not `/`.
    Any,
    /// `**` inside a pattern (`(.*/)?`): nothing, or anything ending with `/`.
    DirStar,
    /// `**` at the end (`.*`): anything.
    TailStar,
    Class(CharClass),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CharClass {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl CharClass {
    fn matches(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

/// Characters that make a `.dockerignore` exception more than a plain path (fsutil's `patternChars`).
const PATTERN_CHARS: &[char] = &['*', '[', ']', '?', '^', '\\'];

impl IgnorePatterns {
    /// Parses the text of a `.dockerignore`. A UTF-8 byte order mark on the first line is dropped; lines
    /// end at `\n` with an optional `\r`.
    pub fn parse(text: &str) -> Result<Self, IgnoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = Vec::new();
        for (index, raw) in text.split('\n').enumerate() {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if raw.starts_with('#') {
                continue;
            }
            let mut pattern = raw.trim();
            if pattern.is_empty() {
                continue;
            }
            let invert = pattern.starts_with('!');
            if invert {
                pattern = pattern[1..].trim();
            }
            let mut cleaned = String::new();
            if !pattern.is_empty() {
                cleaned = clean_path(pattern);
                if cleaned.len() > 1 && cleaned.starts_with('/') {
                    cleaned.remove(0);
                }
            }
            if invert {
                cleaned.insert(0, '!');
            }
            lines.push((index + 1, cleaned));
        }
        Self::from_patterns(lines)
    }

    /// Builds the matcher from patterns as `ignorefile.ReadAll` returns them (what `patternmatcher.New`
    /// takes), each with the line it came from (0 when none).
    pub fn from_patterns(
        patterns: impl IntoIterator<Item = (usize, String)>,
    ) -> Result<Self, IgnoreError> {
        let mut out = Self {
            patterns: Vec::new(),
            exceptions: false,
            only_prefix_exceptions: true,
        };
        for (line, pattern) in patterns {
            let pattern = pattern.trim();
            if pattern.is_empty() {
                continue;
            }
            let mut text = clean_path(pattern);
            let exclusion = text.starts_with('!');
            if exclusion {
                if text.len() == 1 {
                    return Err(IgnoreError::IllegalExclusion { line });
                }
                text.remove(0);
                out.exceptions = true;
                if without_trailing_glob(&text).contains(PATTERN_CHARS) {
                    out.only_prefix_exceptions = false;
                }
            }
            let kind = compile(&text).map_err(|()| IgnoreError::Syntax {
                pattern: pattern.to_owned(),
                line,
            })?;
            out.patterns.push(Pattern {
                text,
                exclusion,
                kind,
            });
        }
        Ok(out)
    }

    /// No patterns: nothing is excluded.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The number of patterns (exceptions included).
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Some pattern is an exception (`!`): something inside an excluded directory may be re-included.
    pub fn has_exceptions(&self) -> bool {
        self.exceptions
    }

    /// Whether `path` (relative to the context root, `/`-separated) is excluded: the last pattern
    /// matching it or one of its parent directories decides (`MatchesOrParentMatches`). The root itself
    /// (`.`, empty) is never excluded.
    pub fn matches(&self, path: &str) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let cleaned;
        let path = if is_clean_relative(path) {
            path
        } else {
            cleaned = clean_path(path);
            cleaned.trim_start_matches('/')
        };
        if path.is_empty() || path == "." {
            return false;
        }
        let mut matched = false;
        for pattern in &self.patterns {
            // An exclusion pattern cannot change an excluded result, nor an exception an included one.
            if pattern.exclusion != matched {
                continue;
            }
            let hit = pattern.matches(path)
                || path
                    .match_indices('/')
                    .any(|(end, _)| pattern.matches(&path[..end]));
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// Whether the excluded directory `dir` has to be walked because an exception may re-include
    /// something inside it. fsutil (what `docker build` sends the context with) walks it when some
    /// exception has wildcards (beyond a trailing `/*` or `/**`), or when an exception names a path at
    /// or below `dir`; otherwise the whole directory is left out.
    pub fn may_reinclude_under(&self, dir: &str) -> bool {
        if !self.exceptions {
            return false;
        }
        if !self.only_prefix_exceptions {
            return true;
        }
        let dir = dir.trim_matches('/');
        self.patterns.iter().filter(|p| p.exclusion).any(|p| {
            let base = without_trailing_glob(&p.text);
            base.strip_prefix(dir)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            MatchKind::Exact => path == self.text,
            MatchKind::Prefix => path.starts_with(&self.text[..self.text.len() - 2]),
            MatchKind::Suffix => {
                let suffix = &self.text[2..];
                path.ends_with(suffix) || suffix.strip_prefix('/').is_some_and(|name| path == name)
            }
            MatchKind::Glob(tokens) => glob_matches(tokens, path),
        }
    }
}

/// `strings.TrimSuffix` of `/**`, then of `/*` (fsutil's `patternWithoutTrailingGlob`).
fn without_trailing_glob(pattern: &str) -> &str {
    let pattern = pattern.strip_suffix("/**").unwrap_or(pattern);
    pattern.strip_suffix("/*").unwrap_or(pattern)
}

/// Turns a cleaned pattern into its match type and tokens as patternmatcher's `compile` does; `Err` for
/// a pattern `filepath.Match` calls malformed.
fn compile(pattern: &str) -> Result<MatchKind, ()> {
    validate_glob(pattern)?;
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regexp,
    }
    let mut detected = Detected::Exact;
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    let mut first = true;
    while let Some(ch) = chars.next() {
        let at_start = std::mem::replace(&mut first, false);
        match ch {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                if chars.peek().is_none() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        tokens.push(Token::TailStar);
                        detected = Detected::Regexp;
                    }
                } else {
                    tokens.push(Token::DirStar);
                    detected = Detected::Regexp;
                }
                if at_start {
                    detected = Detected::Suffix;
                    // A `**` prefix still needs its token if the rest turns out to need the glob.
                    if tokens.is_empty() {
                        tokens.push(if chars.peek().is_none() {
                            Token::TailStar
                        } else {
                            Token::DirStar
                        });
                    }
                }
            }
            '*' => {
                tokens.push(Token::Star);
                detected = Detected::Regexp;
            }
            '?' => {
                tokens.push(Token::Any);
                detected = Detected::Regexp;
            }
            '\\' => match chars.next() {
                Some(escaped) => {
                    push_char(&mut tokens, escaped);
                    detected = Detected::Regexp;
                }
                None => push_char(&mut tokens, '\\'),
            },
            '[' => {
                tokens.push(Token::Class(parse_class(&mut chars)?));
                detected = Detected::Regexp;
            }
            ']' => {
                tokens.push(Token::Byte(b']'));
                detected = Detected::Regexp;
            }
            other => push_char(&mut tokens, other),
        }
    }
    Ok(match detected {
        Detected::Exact => MatchKind::Exact,
        Detected::Prefix => MatchKind::Prefix,
        Detected::Suffix => MatchKind::Suffix,
        Detected::Regexp => MatchKind::Glob(tokens),
    })
}

fn push_char(tokens: &mut Vec<Token>, c: char) {
    let mut buf = [0u8; 4];
    tokens.extend(c.encode_utf8(&mut buf).bytes().map(Token::Byte));
}

/// Parses a class after its `[`, up to and including its `]`.
fn parse_class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<CharClass, ()> {
    let mut class = CharClass {
        negated: false,
        ranges: Vec::new(),
    };
    if chars.peek() == Some(&'^') {
        chars.next();
        class.negated = true;
    }
    loop {
        if chars.peek() == Some(&']') && !class.ranges.is_empty() {
            chars.next();
            return Ok(class);
        }
        let lo = class_char(chars)?;
        let mut hi = lo;
        if chars.peek() == Some(&'-') {
            chars.next();
            hi = class_char(chars)?;
        }
        class.ranges.push((lo, hi));
    }
}

/// One character of a class, as Go's `getEsc`: not `-` or `]`, `\` escapes.
fn class_char(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<char, ()> {
    match chars.next() {
        None | Some('-' | ']') => Err(()),
        Some('\\') => chars.next().ok_or(()),
        Some(c) => Ok(c),
    }
}

/// Go's `filepath.Match` syntax check: every class closed, non-empty and with complete ranges, no
/// trailing `\` (also one inside a class).
fn validate_glob(pattern: &str) -> Result<(), ()> {
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next().ok_or(())?;
            }
            '[' => {
                parse_class(&mut chars)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Runs the tokens over `path` as Docker's anchored regexp would: the set of reachable positions,
/// advanced token by token, so no pattern can take exponential time.
fn glob_matches(tokens: &[Token], path: &str) -> bool {
    let bytes = path.as_bytes();
    let n = bytes.len();
    let mut current = vec![false; n + 1];
    let mut next = vec![false; n + 1];
    current[0] = true;
    for token in tokens {
        next.fill(false);
        let mut any = false;
        match token {
            Token::Byte(b) => {
                for i in 0..n {
                    if current[i] && bytes[i] == *b {
                        next[i + 1] = true;
                        any = true;
                    }
                }
            }
            Token::Star => {
                for i in 0..=n {
                    next[i] = current[i] || (i > 0 && next[i - 1] && bytes[i - 1] != b'/');
                    any |= next[i];
                }
            }
            Token::Any | Token::Class(_) => {
                for i in 0..n {
                    if !current[i] || !path.is_char_boundary(i) {
                        continue;
                    }
                    let Some(c) = path[i..].chars().next() else {
                        continue;
                    };
                    let ok = match token {
                        Token::Any => c != '/',
                        Token::Class(class) => class.matches(c),
                        _ => false,
                    };
                    if ok {
                        next[i + c.len_utf8()] = true;
                        any = true;
                    }
                }
            }
            Token::DirStar => {
                let mut seen = false;
                for i in 0..=n {
                    next[i] = current[i] || (seen && i > 0 && bytes[i - 1] == b'/');
                    if i < n {
                        seen |= current[i];
                    }
                    any |= next[i];
                }
            }
            Token::TailStar => {
                let mut seen = false;
                for i in 0..=n {
                    seen |= current[i];
                    next[i] = seen;
                    any |= seen;
                }
            }
        }
        if !any {
            return false;
        }
        std::mem::swap(&mut current, &mut next);
    }
    current[n]
}

/// Whether `path` is already what [`clean_path`] makes of a relative path (the common case, so matching
/// does not allocate).
fn is_clean_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.ends_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// Go's `filepath.Clean` on `/`-separated paths: repeated slashes, `.` and trailing slashes removed, `..`
/// resolved lexically (kept at the start of a relative path, dropped at the root of an absolute one);
/// empty becomes `.`.
pub fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Whether `name` holds a wildcard for COPY/ADD (`*`, `?` or `[` not escaped by `\`), as BuildKit's
/// `containsWildcards`.
pub fn contains_wildcards(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Go's `filepath.Match` (Unix): `*` any run of non-`/` characters, `?` one non-`/` character, `[...]`
/// classes (`^` negates; they may match `/`), `\` escapes. The whole pattern must be well formed, even the
/// part after a mismatch.
pub fn filepath_match(pattern: &str, name: &str) -> Result<bool, IgnoreError> {
    let bad = || IgnoreError::Syntax {
        pattern: pattern.to_owned(),
        line: 0,
    };
    validate_glob(pattern).map_err(|()| bad())?;
    Ok(match_from(pattern.as_bytes(), name))
}

/// Backtracking matcher for an already validated `filepath.Match` pattern (only `*` backtracks, and
/// only within one path component, so this stays cheap).
fn match_from(pattern: &[u8], name: &str) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    let text = name.as_bytes();
    // The last `*` seen: where its pattern continues and how much of the name it has eaten.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    star = Some((p, s));
                    continue;
                }
                b'?' => {
                    if let Some(c) = name.get(s..).and_then(|r| r.chars().next())
                        && c != '/'
                    {
                        p += 1;
                        s += c.len_utf8();
                        continue;
                    }
                }
                b'[' => {
                    let rest = std::str::from_utf8(&pattern[p + 1..]).unwrap_or("");
                    let mut chars = rest.chars().peekable();
                    let class = parse_class(&mut chars);
                    let consumed = rest.len() - chars.map(char::len_utf8).sum::<usize>();
                    if let (Ok(class), Some(c)) =
                        (class, name.get(s..).and_then(|r| r.chars().next()))
                        && class.matches(c)
                    {
                        p += 1 + consumed;
                        s += c.len_utf8();
                        continue;
                    }
                }
                b'\\' => {
                    if p + 1 < pattern.len() {
                        let esc = std::str::from_utf8(&pattern[p + 1..])
                            .ok()
                            .and_then(|r| r.chars().next());
                        if let Some(c) = esc
                            && name.get(s..).and_then(|r| r.chars().next()) == Some(c)
                        {
                            p += 1 + c.len_utf8();
                            s += c.len_utf8();
                            continue;
                        }
                    }
                }
                b => {
                    if s < text.len() && text[s] == b {
                        p += 1;
                        s += 1;
                        continue;
                    }
                }
            }
        } else if s == text.len() {
            return true;
        }
        // Mismatch: let the last star eat one more character, unless that is a `/`.
        match star {
            Some((star_p, star_s)) if star_s < text.len() && text[star_s] != b'/' => {
                let width = name[star_s..].chars().next().map_or(1, char::len_utf8);
                star = Some((star_p, star_s + width));
                p = star_p;
                s = star_s + width;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(patterns: &[&str]) -> IgnorePatterns {
        IgnorePatterns::from_patterns(patterns.iter().map(|p| (0, (*p).to_owned()))).unwrap()
    }

    /// moby/patternmatcher's TestMatches table (paths without trailing slashes: callers pass clean
    /// relative paths).
    #[test]
    fn patternmatcher_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**/", "file", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**/**", "dir/file", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/dir2/file", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/file", true),
            ("**file", "dir/dir/file", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/file*.txt*", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc.def", "abc.def", true),
            ("abc.def", "abcZdef", false),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("a\\\\", "a\\", true),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def", true),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a(b)c/def", "a(b)c/xyz", false),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            (
                "dist/*.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
        ];
        for &(pattern, path, want) in cases {
            assert_eq!(
                matcher(&[pattern]).matches(path),
                want,
                "pattern {pattern:?} path {path:?}"
            );
        }
    }

    #[test]
    fn multi_pattern_table() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&["**", "!util/docker/web"], "util/docker/web/foo", false),
            (
                &["**", "!util/docker/web", "util/docker/web/foo"],
                "util/docker/web/foo",
                true,
            ),
            (&["**", "!dist/*.whl"], "dist/proxy.py-2.4.0-any.whl", false),
            (&["**", "!dist/*.whl"], "dist/other.tar.gz", true),
            // Docker's docs: README.md is kept, other Markdown excluded.
            (&["*.md", "!README.md"], "README.md", false),
            (&["*.md", "!README.md"], "CHANGES.md", true),
            (
                &["*.md", "!README*.md", "README-secret.md"],
                "README-secret.md",
                true,
            ),
            (
                &["*.md", "!README*.md", "README-secret.md"],
                "README-other.md",
                false,
            ),
            // The exception first: the later `*.md` wins.
            (&["!README*.md", "*.md"], "README.md", true),
            // `*.md` only matches at the root.
            (&["*.md"], "docs/guide.md", false),
            (&["**/*.md"], "docs/guide.md", true),
            // A directory pattern excludes what is below it.
            (&["node_modules"], "node_modules/lodash/index.js", true),
            (&["node_modules"], "src/node_modules/x", false),
            (&["**/node_modules"], "src/node_modules/x", true),
            (
                &["node_modules", "!node_modules/keep"],
                "node_modules/keep/a.js",
                false,
            ),
            (
                &["node_modules", "!node_modules/keep"],
                "node_modules/drop/a.js",
                true,
            ),
        ];
        for &(patterns, path, want) in cases {
            assert_eq!(
                matcher(patterns).matches(path),
                want,
                "patterns {patterns:?} path {path:?}"
            );
        }
    }

    #[test]
    fn documented_dockerignore_example() {
        let ignore = IgnorePatterns::parse("# comment\n*/temp*\n*/*/temp*\ntemp?\n").unwrap();
        assert_eq!(ignore.len(), 3);
        assert!(ignore.matches("somedir/temporary.txt"));
        assert!(ignore.matches("somedir/temp"));
        assert!(ignore.matches("somedir/subdir/temporary.txt"));
        assert!(ignore.matches("tempa"));
        assert!(ignore.matches("tempb"));
        assert!(!ignore.matches("temp"));
        assert!(!ignore.matches("temporary.txt"));
        assert!(!ignore.matches("a/b/c/temp"));
    }

    #[test]
    fn reading_rules() {
        let text = "\u{feff}# comment\r\n  \n   # not a comment: a pattern\n/abs\n./dot/\n  spaced  \r\n\
                    ! /negated\nfoo/../bar\n../up\n#comment\n";
        let ignore = IgnorePatterns::parse(text).unwrap();
        let texts: Vec<(&str, bool)> = ignore
            .patterns
            .iter()
            .map(|p| (p.text.as_str(), p.exclusion))
            .collect();
        assert_eq!(
            texts,
            vec![
                ("# not a comment: a pattern", false),
                ("abs", false),
                ("dot", false),
                ("spaced", false),
                ("negated", true),
                ("bar", false),
                ("../up", false),
            ]
        );
        assert!(ignore.matches("abs"));
        assert!(ignore.matches("abs/x/y"));
        assert!(ignore.matches("dot/file"));
        assert!(!ignore.matches("negated"));
        assert!(ignore.matches("bar"));
        assert!(ignore.has_exceptions());
        assert!(!ignore.is_empty());
    }

    #[test]
    fn leading_slash_and_unclean_paths() {
        let ignore = IgnorePatterns::parse("/build\n").unwrap();
        assert!(ignore.matches("build"));
        assert!(ignore.matches("/build/out.o"));
        assert!(ignore.matches("./build//x"));
        assert!(!ignore.matches("src/build"));
        assert!(!ignore.matches("."));
        assert!(!ignore.matches(""));
    }

    #[test]
    fn root_is_never_excluded() {
        let ignore = IgnorePatterns::parse("**\n*\n.\n").unwrap();
        assert!(!ignore.matches("."));
        assert!(!ignore.matches("/"));
        assert!(ignore.matches("anything"));
    }

    #[test]
    fn empty_and_comment_only() {
        let ignore = IgnorePatterns::parse("\n# just a comment\n\n").unwrap();
        assert!(ignore.is_empty());
        assert!(!ignore.has_exceptions());
        assert!(!ignore.matches("x"));
        assert!(IgnorePatterns::default().is_empty());
    }

    #[test]
    fn bad_patterns() {
        let err = IgnorePatterns::parse("ok\nfoo[\n").unwrap_err();
        assert_eq!(
            err,
            IgnoreError::Syntax {
                pattern: "foo[".into(),
                line: 2
            }
        );
        assert!(err.to_string().contains("\"foo[\""), "{err}");
        assert!(err.to_string().contains("line 2"), "{err}");
        for bad in ["[", "[]", "[a-]", "[-a]", "a\\", "[a", "[\\", "x/[^]"] {
            assert!(
                IgnorePatterns::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
        let err = IgnorePatterns::parse("a\n!\n").unwrap_err();
        assert_eq!(err, IgnoreError::IllegalExclusion { line: 2 });
        assert_eq!(
            err.to_string(),
            "illegal exclusion pattern: \"!\" (.dockerignore line 2)"
        );
        for good in ["[a]", "[^a]", "[a-z0-9]", "[\\]]", "[*]", "\\[", "a]"] {
            assert!(IgnorePatterns::parse(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn classes_and_escapes() {
        let m = matcher(&["[*]x"]);
        assert!(m.matches("*x"));
        assert!(!m.matches("ax"));
        let m = matcher(&["file\\[1\\]"]);
        assert!(m.matches("file[1]"));
        assert!(!m.matches("file1"));
        let m = matcher(&["\\*.txt"]);
        assert!(m.matches("*.txt"));
        assert!(!m.matches("a.txt"));
        let m = matcher(&["[a-c][0-9]"]);
        assert!(m.matches("b7"));
        assert!(!m.matches("d7"));
        // Classes may match `/` (Go's regexp and filepath.Match agree), `?` may not.
        assert!(matcher(&["a[/]b"]).matches("a/b"));
        assert!(!matcher(&["a?b"]).matches("a/b"));
        // Unicode: `?` is one character.
        assert!(matcher(&["caf?"]).matches("café"));
        assert!(matcher(&["[é]t[é]"]).matches("été"));
        assert!(matcher(&["*é"]).matches("café"));
    }

    #[test]
    fn double_star_forms() {
        // `**` prefix is Docker's suffix shortcut: any path ending in the rest.
        assert!(matcher(&["**foo"]).matches("barfoo"));
        assert!(!matcher(&["**/foo"]).matches("barfoo"));
        assert!(matcher(&["**/foo"]).matches("a/b/foo"));
        // `**` in the middle may stand for no directory at all.
        let m = matcher(&["a/**/b"]);
        assert!(m.matches("a/b"));
        assert!(m.matches("a/x/b"));
        assert!(m.matches("a/x/y/b"));
        assert!(!m.matches("ab"));
        assert!(!m.matches("x/a/b"));
        // A `**` not followed by `/` still means "(anything/)?": `a**b` is not `a*b`.
        let m = matcher(&["a**b"]);
        assert!(m.matches("ab"));
        assert!(m.matches("ax/b"));
        assert!(!m.matches("axb"));
        // `**/x/**`
        let m = matcher(&["**/cache/**"]);
        assert!(m.matches("cache/a"));
        assert!(m.matches("a/b/cache/c/d"));
        assert!(!m.matches("a/cachex/c"));
        assert!(matcher(&["**/*.pyc"]).matches("pkg/sub/mod.pyc"));
    }

    #[test]
    fn last_match_wins_with_exceptions() {
        let m = matcher(&["*", "!keep", "keep/secret"]);
        assert!(m.matches("other"));
        assert!(!m.matches("keep"));
        assert!(!m.matches("keep/a"));
        assert!(m.matches("keep/secret"));
        assert!(m.matches("keep/secret/deeper"));
        // Excluding everything but one deep file.
        let m = matcher(&["**", "!src/app/main.go"]);
        assert!(m.matches("src/app/other.go"));
        assert!(!m.matches("src/app/main.go"));
    }

    #[test]
    fn reinclusion_walk_rule() {
        let m = matcher(&["node_modules", "!node_modules/keep/**"]);
        assert!(m.has_exceptions());
        assert!(m.may_reinclude_under("node_modules"));
        assert!(m.may_reinclude_under("node_modules/keep"));
        assert!(!m.may_reinclude_under("node_modules/drop"));
        assert!(!m.may_reinclude_under("node"));
        // An exception with wildcards: every excluded directory has to be walked.
        let m = matcher(&["vendor", "!**/*.go"]);
        assert!(m.may_reinclude_under("vendor"));
        assert!(m.may_reinclude_under("anything"));
        let m = matcher(&["vendor"]);
        assert!(!m.has_exceptions());
        assert!(!m.may_reinclude_under("vendor"));
    }

    #[test]
    fn clean_path_matches_go() {
        for (input, want) in [
            ("", "."),
            (".", "."),
            ("/", "/"),
            ("a/b/", "a/b"),
            ("a//b", "a/b"),
            ("./a", "a"),
            ("a/./b", "a/b"),
            ("a/../b", "b"),
            ("a/..", "."),
            ("../a", "../a"),
            ("../../a/../b", "../../b"),
            ("/../a", "/a"),
            ("/a/b/../../..", "/"),
            ("!foo", "!foo"),
        ] {
            assert_eq!(clean_path(input), want, "{input:?}");
        }
    }

    #[test]
    fn filepath_match_like_go() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("a[^a][^a][^a]b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("*[a-ζ]", "A", false),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[\\-]", "-", true),
            ("[x\\-]", "x", true),
            ("[x\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("[\\-x]", "x", true),
            ("*x", "xxx", true),
            ("package*.json", "package.json", true),
            ("package*.json", "package-lock.json", true),
            ("package*.json", "packages.txt", false),
        ];
        for &(pattern, name, want) in cases {
            assert_eq!(
                filepath_match(pattern, name),
                Ok(want),
                "pattern {pattern:?} name {name:?}"
            );
        }
        for bad in [
            "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "*x\\",
        ] {
            assert!(filepath_match(bad, "x").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn wildcard_detection() {
        assert!(contains_wildcards("*.txt"));
        assert!(contains_wildcards("a?c"));
        assert!(contains_wildcards("[ab]"));
        assert!(!contains_wildcards("plain/path"));
        assert!(!contains_wildcards("a\\*b"));
    }
}
