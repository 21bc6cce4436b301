//! Docker's template functions (docker/cli `templates` package): `json`, `split`, `join`,
//! `title`, `lower`, `upper`, `pad`, `truncate`, plus the header variants used to render a
//! table's header row. Go's builtins (`len`, `index`, `printf`, `println`, `eq`, ...) come
//! from gotmpl.

use std::sync::Arc;

use gotmpl::{FuncMap, TemplateError, Value};

use crate::value::{JsonHints, to_go_json};

/// Names of Go's builtin template functions, which gotmpl provides.
pub(crate) const GO_BUILTINS: [&str; 19] = [
    "and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not", "or",
    "print", "printf", "println", "slice", "urlquery",
];

/// Names of the functions Docker adds.
pub(crate) const DOCKER_FUNCS: [&str; 8] = [
    "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
];

/// Docker's `basicFunctions`; `json` consults `hints` for key order and HTML escaping.
pub(crate) fn basic_functions(hints: Arc<JsonHints>) -> FuncMap {
    let mut funcs = FuncMap::new();
    funcs.insert(
        "json".into(),
        Arc::new(move |args: &[Value]| {
            check_arity("json", args, 1)?;
            // Docker ignores encoder errors and prints what was produced: nothing.
            Ok(string_value(
                to_go_json(&args[0], &hints).unwrap_or_default(),
            ))
        }),
    );
    funcs.insert(
        "split".into(),
        Arc::new(|args: &[Value]| {
            check_arity("split", args, 2)?;
            let text = string_arg(&args[0])?;
            let separator = string_arg(&args[1])?;
            Ok(Value::List(
                go_split(text, separator)
                    .into_iter()
                    .map(string_value)
                    .collect::<Vec<_>>()
                    .into(),
            ))
        }),
    );
    funcs.insert(
        "join".into(),
        Arc::new(|args: &[Value]| {
            check_arity("join", args, 2)?;
            let separator = string_arg(&args[1])?;
            let Value::List(items) = &args[0] else {
                return Err(wrong_type("[]string", &args[0]));
            };
            let parts = items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(&**s),
                    other => Err(wrong_type("[]string", other)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(string_value(parts.join(separator)))
        }),
    );
    funcs.insert(
        "title".into(),
        Arc::new(|args: &[Value]| {
            check_arity("title", args, 1)?;
            Ok(string_value(go_title(string_arg(&args[0])?)))
        }),
    );
    funcs.insert(
        "lower".into(),
        Arc::new(|args: &[Value]| {
            check_arity("lower", args, 1)?;
            Ok(string_value(map_simple_case(
                string_arg(&args[0])?,
                char::to_lowercase,
            )))
        }),
    );
    funcs.insert(
        "upper".into(),
        Arc::new(|args: &[Value]| {
            check_arity("upper", args, 1)?;
            Ok(string_value(map_simple_case(
                string_arg(&args[0])?,
                char::to_uppercase,
            )))
        }),
    );
    funcs.insert("pad".into(), Arc::new(pad));
    funcs.insert(
        "truncate".into(),
        Arc::new(|args: &[Value]| {
            check_arity("truncate", args, 2)?;
            let text = string_arg(&args[0])?;
            let length = count_arg("truncate", &args[1])?;
            Ok(string_value(truncate_bytes(text, length).to_string()))
        }),
    );
    funcs
}

/// Docker's `HeaderFunctions`: every function that would change a column's text returns its
/// first argument unchanged, so the header shows the column name. `pad` is not replaced, to
/// keep the header aligned with the padded cells.
pub(crate) fn header_functions() -> FuncMap {
    let mut funcs = FuncMap::new();
    for (name, arity) in [
        ("json", 1),
        ("split", 2),
        ("join", 2),
        ("title", 1),
        ("lower", 1),
        ("upper", 1),
        ("truncate", 2),
    ] {
        funcs.insert(
            name.into(),
            Arc::new(move |args: &[Value]| {
                check_arity(name, args, arity)?;
                string_arg(&args[0])?;
                Ok(args[0].clone())
            }),
        );
    }
    funcs.insert("pad".into(), Arc::new(pad));
    funcs
}

/// `pad text prefix suffix`: spaces around non-empty text.
fn pad(args: &[Value]) -> gotmpl::Result<Value> {
    check_arity("pad", args, 3)?;
    let text = string_arg(&args[0])?;
    let prefix = count_arg("pad", &args[1])?;
    let suffix = count_arg("pad", &args[2])?;
    if text.is_empty() {
        return Ok(string_value(String::new()));
    }
    Ok(string_value(format!(
        "{}{text}{}",
        " ".repeat(prefix),
        " ".repeat(suffix)
    )))
}

fn string_value(text: String) -> Value {
    Value::String(Arc::from(text.into_boxed_str()))
}

fn check_arity(name: &str, args: &[Value], want: usize) -> gotmpl::Result<()> {
    if args.len() == want {
        Ok(())
    } else {
        Err(TemplateError::Exec(format!(
            "wrong number of args for {name}: want {want} got {}",
            args.len()
        )))
    }
}

fn wrong_type(expected: &str, got: &Value) -> TemplateError {
    match got {
        Value::Nil => TemplateError::Exec(format!("invalid value; expected {expected}")),
        other => TemplateError::Exec(format!(
            "wrong type for value; expected {expected}; got {}",
            other.type_name()
        )),
    }
}

fn string_arg(value: &Value) -> gotmpl::Result<&str> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(wrong_type("string", other)),
    }
}

/// An `int` argument used as a count; Go panics (reported as an error) on negative counts.
fn count_arg(name: &str, value: &Value) -> gotmpl::Result<usize> {
    let number = match value {
        Value::Int(i) => *i,
        Value::Uint(u) => i64::try_from(*u).map_err(|_| wrong_type("int", value))?,
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => *f as i64,
        other => return Err(wrong_type("int", other)),
    };
    usize::try_from(number)
        .map_err(|_| TemplateError::Exec(format!("error calling {name}: negative count {number}")))
}

/// Go's `strings.Split`: an empty separator splits after each character.
fn go_split(text: &str, separator: &str) -> Vec<String> {
    if separator.is_empty() {
        text.chars().map(String::from).collect()
    } else {
        text.split(separator).map(str::to_string).collect()
    }
}

/// Go's `source[:length]` when `length <= len(source)`. Go slices bytes; a cut inside a
/// multi-byte character moves back to the character's start so the result stays UTF-8.
fn truncate_bytes(text: &str, length: usize) -> &str {
    if text.len() < length {
        return text;
    }
    let mut end = length;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Go's per-rune case mapping (`unicode.ToLower`/`ToUpper`): a character whose full mapping
/// is several characters (like `ß` upper-cased) is kept as is, as Go's simple mapping does.
fn map_simple_case<I: Iterator<Item = char>>(text: &str, map: fn(char) -> I) -> String {
    text.chars()
        .map(|c| {
            let mut mapped = map(c);
            match (mapped.next(), mapped.next()) {
                (Some(single), None) => single,
                _ => c,
            }
        })
        .collect()
}

/// Go's deprecated `strings.Title`: upper-cases the first letter of each word, where a word
/// starts after a separator (ASCII other than alphanumerics and `_`, or Unicode space).
fn go_title(text: &str) -> String {
    let mut previous = ' ';
    text.chars()
        .map(|c| {
            let mapped = if is_title_separator(previous) {
                let mut upper = c.to_uppercase();
                match (upper.next(), upper.next()) {
                    (Some(single), None) => single,
                    _ => c,
                }
            } else {
                c
            };
            previous = c;
            mapped
        })
        .collect()
}

fn is_title_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphabetic() || c.is_numeric() {
        return false;
    }
    c.is_whitespace()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_matches_go() {
        assert_eq!(
            go_title("hello wORLD foo_bar x-y 1a"),
            "Hello WORLD Foo_bar X-Y 1a"
        );
        assert_eq!(go_title("élan vital"), "Élan Vital");
    }

    #[test]
    fn case_mapping_is_per_character() {
        assert_eq!(map_simple_case("straße", char::to_uppercase), "STRAßE");
        assert_eq!(map_simple_case("ΟΔΟΣ", char::to_lowercase), "οδοσ");
    }

    #[test]
    fn split_matches_go() {
        assert_eq!(go_split("a,b,,c", ","), ["a", "b", "", "c"]);
        assert_eq!(go_split("", ","), [""]);
        assert_eq!(go_split("ab", ""), ["a", "b"]);
        assert!(go_split("", "").is_empty());
    }

    #[test]
    fn truncate_counts_bytes() {
        assert_eq!(truncate_bytes("abcdef", 3), "abc");
        assert_eq!(truncate_bytes("ab", 3), "ab");
        assert_eq!(truncate_bytes("abc", 3), "abc");
        assert_eq!(truncate_bytes("héllo", 2), "h");
    }
}
