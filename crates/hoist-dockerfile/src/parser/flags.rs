//! BuildKit's `BFlags`: an instruction's `--name[=value]` words checked against the flags it defines,
//! with BuildKit's errors (unknown flag with a suggestion, duplicate, missing value, bad boolean).

use std::collections::HashMap;

use crate::parser::go;

/// How a flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `--link`, `--link=true|false`.
    Bool,
    /// `--from=x`, once.
    String,
    /// `--exclude=x`, any number of times.
    Strings,
}

/// The flags an instruction was given.
#[derive(Debug, Default)]
pub(super) struct Flags {
    strings: HashMap<&'static str, Vec<String>>,
    bools: HashMap<&'static str, bool>,
}

impl Flags {
    /// `--name=value`, when given.
    pub(super) fn string(&self, name: &str) -> Option<String> {
        self.strings.get(name).and_then(|v| v.last().cloned())
    }

    /// Every `--name=value`, in order.
    pub(super) fn strings(&self, name: &str) -> Vec<String> {
        self.strings.get(name).cloned().unwrap_or_default()
    }

    /// A boolean flag: `None` when not given.
    pub(super) fn bool(&self, name: &str) -> Option<bool> {
        self.bools.get(name).copied()
    }
}

/// `BFlags.Parse`: reads `args` (up to a `--`) against `defined`.
pub(super) fn parse(args: &[String], defined: &[(&'static str, Kind)]) -> Result<Flags, String> {
    let mut flags = Flags::default();
    let mut used: Vec<&str> = Vec::new();
    for arg in args {
        if arg == "--" {
            break;
        }
        let Some(body) = arg.strip_prefix("--") else {
            return Err(format!("arg should start with -- : {arg}"));
        };
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let flag_name = format!("--{name}");
        let Some(&(name, kind)) = defined.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = defined.iter().map(|(n, _)| *n).collect();
            return Err(go::with_suggestion(
                format!("unknown flag: {flag_name}"),
                name,
                &names,
                true,
            ));
        };
        if used.contains(&name) && kind != Kind::Strings {
            return Err(format!("duplicate flag specified: {flag_name}"));
        }
        used.push(name);
        match kind {
            Kind::Bool => {
                let set = match value {
                    Some("") => return Err(format!("missing a value on flag: {flag_name}")),
                    None => true,
                    Some(v) => match v.to_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(format!(
                                "expecting boolean value for flag {flag_name}, not: {v}"
                            ));
                        }
                    },
                };
                flags.bools.insert(name, set);
            }
            Kind::String | Kind::Strings => {
                let Some(value) = value else {
                    return Err(format!("missing a value on flag: {flag_name}"));
                };
                flags
                    .strings
                    .entry(name)
                    .or_default()
                    .push(value.to_owned());
            }
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    const DEFINED: &[(&str, Kind)] = &[
        ("link", Kind::Bool),
        ("from", Kind::String),
        ("exclude", Kind::Strings),
    ];

    #[test]
    fn values_by_kind() {
        let f = parse(
            &args(&[
                "--link",
                "--from=a",
                "--exclude=x",
                "--exclude=y",
                "--",
                "--bogus",
            ]),
            DEFINED,
        )
        .unwrap();
        assert_eq!(f.bool("link"), Some(true));
        assert_eq!(f.string("from").as_deref(), Some("a"));
        assert_eq!(f.strings("exclude"), ["x", "y"]);
        assert_eq!(
            parse(&args(&["--link=FALSE"]), DEFINED)
                .unwrap()
                .bool("link"),
            Some(false)
        );
    }

    #[test]
    fn errors() {
        let err = |a: &[&str]| parse(&args(a), DEFINED).unwrap_err();
        assert_eq!(
            err(&["--frm=a"]),
            "unknown flag: --frm (did you mean from?)"
        );
        assert_eq!(err(&["--zzzzzz"]), "unknown flag: --zzzzzz");
        assert_eq!(
            err(&["--from=a", "--from=b"]),
            "duplicate flag specified: --from"
        );
        assert_eq!(err(&["--from"]), "missing a value on flag: --from");
        assert_eq!(err(&["--link="]), "missing a value on flag: --link");
        assert_eq!(
            err(&["--link=maybe"]),
            "expecting boolean value for flag --link, not: maybe"
        );
        assert_eq!(err(&["-x"]), "arg should start with -- : -x");
    }
}
