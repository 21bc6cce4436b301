//! The shell-word expander against BuildKit's semantics: each `${}` operator, quoting, the escape
//! character, word splitting, and the names it reports as used and unmatched.

use std::collections::HashMap;

use hoist_dockerfile::{ExpandError, Expanded, Expander};

fn vars() -> HashMap<&'static str, &'static str> {
    [
        ("HOME", "/root"),
        ("EMPTY", ""),
        ("FILE", "archive.tar.gz"),
        ("PATHS", "/usr/local/bin:/usr/bin:/bin"),
        ("SPACED", "  a  b  "),
        ("URL", "http://example.com/x"),
        ("STARS", "a*b*c"),
        ("KO", "한국어"),
    ]
    .into()
}

fn expand_with(escape: char, word: &str) -> Result<Expanded, ExpandError> {
    let vars = vars();
    let lookup = move |name: &str| vars.get(name).map(|v| (*v).to_owned());
    Expander {
        escape,
        lookup: &lookup,
    }
    .expand(word)
}

fn value(word: &str) -> String {
    match expand_with('\\', word) {
        Ok(e) => e.value,
        Err(e) => panic!("{word:?}: {e}"),
    }
}

fn error(word: &str) -> String {
    match expand_with('\\', word) {
        Ok(e) => panic!("{word:?} expanded to {:?}", e.value),
        Err(e) => e.to_string(),
    }
}

fn words(text: &str) -> Vec<String> {
    let vars = vars();
    let lookup = move |name: &str| vars.get(name).map(|v| (*v).to_owned());
    Expander {
        escape: '\\',
        lookup: &lookup,
    }
    .expand_words(text)
    .unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

#[test]
fn plain_and_braced_references() {
    assert_eq!(value("$HOME/x"), "/root/x");
    assert_eq!(value("${HOME}x"), "/rootx");
    assert_eq!(value("a$UNSET.b"), "a.b");
    assert_eq!(value("${UNSET}"), "");
    assert_eq!(value("$KO!"), "한국어!");
    // `$` not followed by a name stays.
    assert_eq!(value("cost: 5$"), "cost: 5$");
    assert_eq!(value("$.x $/"), "$.x $/");
    // Positional and special parameters are names, never set.
    assert_eq!(value("a$1b $@c ${#}d"), "ab c d");
    assert_eq!(value("$12x"), "x");
    // Names are letters, digits and `_`.
    assert_eq!(value("$HOME_DIR-$HOME-x"), "-/root-x");
}

#[test]
fn default_and_alternative_values() {
    assert_eq!(value("${UNSET:-fallback}"), "fallback");
    assert_eq!(value("${EMPTY:-fallback}"), "fallback");
    assert_eq!(value("${EMPTY-fallback}"), "");
    assert_eq!(value("${UNSET-fallback}"), "fallback");
    assert_eq!(value("${HOME:-fallback}"), "/root");
    assert_eq!(value("${HOME:+alt}"), "alt");
    assert_eq!(value("${EMPTY:+alt}"), "");
    assert_eq!(value("${EMPTY+alt}"), "alt");
    assert_eq!(value("${UNSET+alt}"), "");
    // Words nest and expand.
    assert_eq!(value("${UNSET:-${ALSO:-$HOME}/x}"), "/root/x");
    assert_eq!(value("${HOME:+[$HOME]}"), "[/root]");
    // A `}` after the expansion is text.
    assert_eq!(value("${UNSET:-a}}"), "a}");
    assert_eq!(value("${UNSET:-a b {c}"), "a b {c");
}

#[test]
fn required_values() {
    assert_eq!(value("${HOME?}"), "/root");
    assert_eq!(value("${EMPTY?}"), "");
    assert_eq!(value("${HOME:?}"), "/root");
    assert_eq!(
        error("${UNSET?}"),
        r#"failed to process "${UNSET?}": UNSET: is not allowed to be unset"#
    );
    assert_eq!(
        error("${EMPTY:?}"),
        r#"failed to process "${EMPTY:?}": EMPTY: is not allowed to be empty"#
    );
    assert_eq!(
        error("x${UNSET:?set it please}"),
        r#"failed to process "x${UNSET:?set it please}": UNSET: set it please"#
    );
}

#[test]
fn prefix_and_suffix_patterns() {
    assert_eq!(value("${FILE#*.}"), "tar.gz");
    assert_eq!(value("${FILE##*.}"), "gz");
    assert_eq!(value("${FILE%.*}"), "archive.tar");
    assert_eq!(value("${FILE%%.*}"), "archive");
    assert_eq!(value("${PATHS#*:}"), "/usr/bin:/bin");
    assert_eq!(value("${PATHS%:*}"), "/usr/local/bin:/usr/bin");
    // `?` is one character; a pattern that does not match leaves the value.
    assert_eq!(value("${FILE#?r}"), "chive.tar.gz");
    assert_eq!(value("${FILE#zip}"), "archive.tar.gz");
    assert_eq!(value("${FILE%}"), "archive.tar.gz");
    // Escaped wildcards are literal; regular expression characters are just characters.
    assert_eq!(value(r"${STARS#*\*}"), "b*c");
    assert_eq!(value(r"${STARS%\**}"), "a*b");
    assert_eq!(value(r"${STARS%%\**}"), "a");
    assert_eq!(value("${URL#http://}"), "example.com/x");
    // The pattern may hold variables.
    assert_eq!(value("${HOME#$HOME}"), "");
    assert_eq!(value("${UNSET#x}"), "");
    assert_eq!(
        error("${FILE:#x}"),
        r#"failed to process "${FILE:#x}": unsupported modifier (:#) in substitution"#
    );
    assert_eq!(
        error("${FILE:%x}"),
        r#"failed to process "${FILE:%x}": unsupported modifier (:%) in substitution"#
    );
    // `%%` then a pattern that matches nothing.
    assert_eq!(value("${FILE%%:}"), "archive.tar.gz");
}

#[test]
fn replacements() {
    assert_eq!(value("${PATHS/:/;}"), "/usr/local/bin;/usr/bin:/bin");
    assert_eq!(value("${PATHS//:/;}"), "/usr/local/bin;/usr/bin;/bin");
    assert_eq!(value("${URL/http:/https:}"), "https://example.com/x");
    assert_eq!(value("${FILE//a/}"), "rchive.tr.gz");
    // Patterns are globs: `*` greedy, `?` one character.
    assert_eq!(value("${FILE/.*/.zip}"), "archive.zip");
    assert_eq!(value("${FILE//?/-}"), "--------------");
    // Escaped separators.
    assert_eq!(value(r"${PATHS//\//|}"), "|usr|local|bin:|usr|bin:|bin");
    // An empty pattern matches at the start; the second `/` is required.
    assert_eq!(value("${HOME///}"), "/root");
    assert_eq!(value("${HOME/$EMPTY/[}"), "[/root");
    assert_eq!(value("${HOME///[}"), "[/[r[o[o[t[");
    assert_eq!(value("${HOME/#/x}"), "/root");
    assert_eq!(
        error("${HOME//x}"),
        r#"failed to process "${HOME//x}": syntax error: missing '/' in ${}"#
    );
    assert_eq!(value("${UNSET/a/b}"), "");
    assert_eq!(
        error("${HOME/x"),
        r#"failed to process "${HOME/x": syntax error: missing '/' in ${}"#
    );
    assert_eq!(
        error("${HOME/x/y"),
        r#"failed to process "${HOME/x/y": syntax error: missing '}'"#
    );
}

#[test]
fn syntax_errors() {
    for (word, message) in [
        ("${}", "syntax error: bad substitution"),
        ("${:-x}", "syntax error: bad substitution"),
        ("${{x}", "syntax error: bad substitution"),
        ("${", "syntax error: missing '}'"),
        ("${HOME:-x", "syntax error: missing '}'"),
        ("${HOME:", "syntax error: missing '}'"),
        ("${HOME", "unsupported modifier (\u{fffd}) in substitution"),
        ("${HOME:x}", "unsupported modifier (:x) in substitution"),
        ("${HOME=x}", "unsupported modifier (=) in substitution"),
        (
            "'open",
            "unexpected end of statement while looking for matching single-quote",
        ),
        (
            "\"open",
            "unexpected end of statement while looking for matching double-quote",
        ),
        // The open quote runs to the end, so the `}` is what is missing.
        ("${HOME:-'x}", "syntax error: missing '}'"),
        ("${HOME:-'x'", "syntax error: missing '}'"),
    ] {
        assert_eq!(
            error(word),
            format!(
                "failed to process \"{}\": {message}",
                word.replace('"', "\\\"")
            ),
            "{word}"
        );
    }
}

#[test]
fn quotes() {
    // Single quotes: everything literal.
    assert_eq!(value(r"'$HOME \n \$x'"), r"$HOME \n \$x");
    // Double quotes: `$` expands; only `"`, `$` and the escape can be escaped.
    assert_eq!(
        value(r#""$HOME ${UNSET:-d} \$HOME \" \\ \n""#),
        r#"/root d $HOME " \ \n"#
    );
    assert_eq!(value(r#""it's""#), "it's");
    assert_eq!(value(r#"'say "hi"'"#), r#"say "hi""#);
    assert_eq!(value(r#"a"b c"d'e f'g"#), "ab cde fg");
    // Outside quotes the escape takes the next character, a trailing one is dropped.
    assert_eq!(value(r#"a\ b\$HOME\'\"\\"#), r#"a b$HOME'"\"#);
    assert_eq!(value(r"\t\n"), "tn");
    assert_eq!(value(r"end\"), "end");
    // Quotes inside `${}` words.
    assert_eq!(value(r#"${UNSET:-"a  b"}"#), "a  b");
    assert_eq!(value("${UNSET:-'$HOME'}"), "$HOME");
}

#[test]
fn backtick_escape() {
    let value = |word: &str| expand_with('`', word).map(|e| e.value).unwrap();
    assert_eq!(value(r"C:\Users\$HOME"), r"C:\Users\/root");
    assert_eq!(value(r"a` b`$HOME"), "a b$HOME");
    assert_eq!(value(r#""x`"y" "#), r#"x"y "#);
    // A backslash escapes nothing: this `\"` closes the quotes, and the last `"` is left open.
    assert!(expand_with('`', r#""a\"b""#).is_err());
}

#[test]
fn word_splitting() {
    assert_eq!(words("a b   c"), ["a", "b", "c"]);
    assert_eq!(words("  lead trail  "), ["lead", "trail"]);
    // Expansions split; quoted text and escaped spaces do not.
    assert_eq!(words("x${SPACED}y"), ["x", "a", "b", "y"]);
    assert_eq!(words(r#"x"${SPACED}"y"#), ["x  a  b  y"]);
    assert_eq!(words(r"one\ word 'two words'"), ["one word", "two words"]);
    // Empty quotes make no word.
    assert_eq!(words(r#"a "" b"#), ["a", "b"]);
    assert_eq!(words("$UNSET"), Vec::<String>::new());
    // `<<` and the blanks after it stay with the next word, as heredoc words need.
    assert_eq!(words("cat << EOF >x"), ["cat", "<< EOF", ">x"]);
}

#[test]
fn used_and_unmatched_names() {
    let e = expand_with(
        '\\',
        "$HOME ${UNSET:-$EMPTY} ${HOME} ${NOPE#x} '$QUOTED' \"$DQ\"",
    )
    .unwrap();
    assert_eq!(e.used, ["HOME", "EMPTY", "UNSET", "NOPE", "DQ"]);
    assert_eq!(e.unmatched, ["UNSET", "NOPE", "DQ"]);
    assert_eq!(e.value, "/root  /root  $QUOTED ");
    let e = expand_with('\\', r"no \$VARS 'here $X'").unwrap();
    assert!(e.used.is_empty() && e.unmatched.is_empty());
}
