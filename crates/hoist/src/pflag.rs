//! Go pflag's command-line semantics, which every Docker command line assumes, applied to clap's definitions
//! in one pass rather than flag by flag: a boolean flag takes a value only as `--flag=false` (never from the
//! next argument), and a flag that takes a value takes the next argument even when it starts with `-`.

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Arg, ArgAction, Command};

/// Applies pflag's semantics to every flag of `command` and of all its subcommands.
pub(crate) fn apply(command: Command) -> Command {
    command.mut_args(adapt).mut_subcommands(apply)
}

/// Whether `arg` is a boolean flag in pflag's sense: present alone means true.
pub(crate) fn is_bool(arg: &Arg) -> bool {
    !arg.is_positional()
        && matches!(
            arg.get_action(),
            ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Set
        )
        && arg.get_value_parser().type_id() == std::any::TypeId::of::<bool>()
}

/// Whether `arg` is a flag that needs a value (`--name value` or `--name=value`).
pub(crate) fn takes_value(arg: &Arg) -> bool {
    !arg.is_positional()
        && !is_bool(arg)
        && matches!(arg.get_action(), ArgAction::Set | ArgAction::Append)
}

/// pflag's shape for one flag (see the module documentation).
pub(crate) fn adapt(arg: Arg) -> Arg {
    if is_bool(&arg) {
        // Present alone: true; `--flag=false` and Go's other spellings as the value; the next argument
        // is never the flag's.
        let default_false =
            arg.get_default_values().is_empty() && matches!(arg.get_action(), ArgAction::SetTrue);
        let arg = arg
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .value_parser(GoBool)
            .value_name("bool")
            .hide_possible_values(true);
        if default_false {
            // SetTrue's implicit default, which a custom parser would otherwise lose.
            arg.default_value("false").hide_default_value(true)
        } else {
            arg
        }
    } else if takes_value(&arg) {
        arg.allow_hyphen_values(true)
    } else {
        arg
    }
}

/// Go's `strconv.ParseBool`: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False.
pub(crate) fn parse_go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The value parser of a pflag boolean.
#[derive(Clone, Copy, Debug)]
struct GoBool;

impl TypedValueParser for GoBool {
    type Value = bool;

    fn parse_ref(
        &self,
        command: &Command,
        arg: Option<&Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<bool, clap::Error> {
        let text = value.to_string_lossy();
        parse_go_bool(&text).ok_or_else(|| {
            let mut error =
                clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(command);
            use clap::error::{ContextKind, ContextValue};
            error.insert(
                ContextKind::InvalidArg,
                ContextValue::String(arg.map_or_else(String::new, ToString::to_string)),
            );
            error.insert(
                ContextKind::InvalidValue,
                ContextValue::String(text.into_owned()),
            );
            error
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            ["true", "false"].into_iter().map(PossibleValue::new),
        ))
    }
}

#[cfg(test)]
mod tests {
    use clap::{FromArgMatches, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Probe {
        #[arg(short, long)]
        all: bool,
        #[arg(short, long)]
        quiet: bool,
        #[arg(long, default_value_t = true)]
        trust: bool,
        #[arg(short, long, value_name = "list")]
        env: Vec<String>,
        #[arg(short, long, value_name = "string")]
        format: Option<String>,
        #[arg(long, value_name = "bool", action = ArgAction::Set)]
        tls_verify: Option<bool>,
        rest: Vec<String>,
    }

    fn parse(args: &[&str]) -> Result<Probe, clap::Error> {
        let command = apply(<Probe as clap::CommandFactory>::command());
        let matches =
            command.try_get_matches_from(std::iter::once("probe").chain(args.iter().copied()))?;
        Probe::from_arg_matches(&matches)
    }

    #[test]
    fn a_boolean_never_takes_the_next_argument() {
        let p = parse(&["--trust", "nginx:latest"]).unwrap();
        assert!(p.trust);
        assert_eq!(p.rest, ["nginx:latest"]);
        let p = parse(&["-q", "false"]).unwrap();
        assert!(p.quiet);
        assert_eq!(p.rest, ["false"]);
    }

    #[test]
    fn a_boolean_takes_go_spellings_after_equals() {
        assert!(!parse(&["--trust=false"]).unwrap().trust);
        assert!(!parse(&["--trust=F"]).unwrap().trust);
        assert!(parse(&["--all=1"]).unwrap().all);
        assert!(!parse(&["-a=false"]).unwrap().all);
        assert!(parse(&[]).unwrap().trust);
        assert!(!parse(&[]).unwrap().all);
        assert_eq!(
            parse(&["--tls-verify=false"]).unwrap().tls_verify,
            Some(false)
        );
        assert_eq!(parse(&["--tls-verify"]).unwrap().tls_verify, Some(true));
        assert_eq!(parse(&[]).unwrap().tls_verify, None);
        let error = parse(&["--all=maybe"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::InvalidValue);
    }

    #[test]
    fn short_flags_combine() {
        let p = parse(&["-qa"]).unwrap();
        assert!(p.quiet && p.all);
        let p = parse(&["-qeA=1", "-eB"]).unwrap();
        assert!(p.quiet);
        assert_eq!(p.env, ["A=1", "B"]);
    }

    #[test]
    fn values_may_start_with_a_dash_and_flags_repeat() {
        let p = parse(&["-e", "-x", "--env", "--y", "-f", "-", "--", "-a"]).unwrap();
        assert_eq!(p.env, ["-x", "--y"]);
        assert_eq!(p.format.as_deref(), Some("-"));
        assert!(!p.all);
        assert_eq!(p.rest, ["-a"]);
        let p = parse(&["--format={{.ID}}", "--env=A"]).unwrap();
        assert_eq!(p.format.as_deref(), Some("{{.ID}}"));
        assert_eq!(p.env, ["A"]);
    }
}
