//! Usage errors in the Docker CLI's words and with its exit statuses: a wrong flag is status 125 with
//! "unknown flag: --x", a wrong number of arguments status 1 with "'docker pull' requires 1 argument", each
//! followed by the command's usage line and "See 'hoist COMMAND --help'.".

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, Command};

use crate::{pflag, refused};

/// Exit status of a flag error (Docker's CLI uses 125 for its own errors).
pub(crate) const FLAG_ERROR: u8 = 125;
/// Exit status of a wrong number of arguments or an unknown command (Docker's CLI: 1).
pub(crate) const ARGUMENT_ERROR: u8 = 1;

/// What the user is told and the exit status.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Rendered {
    /// Printed to stdout (help, version) when the status is 0, else to stderr.
    pub text: String,
    pub status: u8,
}

/// The subcommands named on `args` (after the program name), skipping flags and their values.
fn typed_path<'a>(root: &'a Command, args: &[OsString]) -> (Vec<String>, &'a Command) {
    let mut command = root;
    let mut path = Vec::new();
    let mut rest = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    while let Some(word) = rest.next() {
        if word == "--" {
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            if !long.contains('=') && flag_takes_value(command, |a| a.get_long() == Some(long)) {
                rest.next();
            }
            continue;
        }
        if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            // The last letter of a group may take the next argument (`-it`, `-e X`).
            let chars: Vec<char> = shorts.chars().collect();
            for (i, c) in chars.iter().enumerate() {
                if flag_takes_value(command, |a| a.get_short() == Some(*c)) {
                    if i + 1 == chars.len() {
                        rest.next();
                    }
                    break;
                }
            }
            continue;
        }
        match command.find_subcommand(&word) {
            Some(sub) => {
                path.push(sub.get_name().to_owned());
                command = sub;
            }
            None => break,
        }
    }
    (path, command)
}

fn flag_takes_value(command: &Command, which: impl Fn(&Arg) -> bool) -> bool {
    command
        .get_arguments()
        .find(|a| which(a))
        .is_some_and(pflag::takes_value)
}

/// `Usage:  hoist pull [OPTIONS] NAME[:TAG|@DIGEST]`, as the Docker CLI writes it.
fn usage_line(path: &[String], command: &Command) -> String {
    let mut line = format!("Usage:  hoist {}", path.join(" "));
    if command
        .get_arguments()
        .any(|a| !a.is_positional() && !a.is_hide_set())
    {
        line.push_str(" [OPTIONS]");
    }
    if command.has_subcommands() && path.is_empty() {
        line.push_str(" COMMAND");
    }
    for arg in command.get_arguments().filter(|a| a.is_positional()) {
        let name = arg
            .get_value_names()
            .and_then(|n| n.first())
            .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string);
        let multiple = arg.get_num_args().is_some_and(|n| n.max_values() > 1);
        // A name that spells its own repetition (`IMAGE [COMMAND] [ARG...]`) is shown as it is.
        let multiple = multiple && !name.contains("...");
        let shown = match (arg.is_required_set(), multiple) {
            (true, true) => format!("{name} [{name}...]"),
            (true, false) => name,
            (false, true) => format!("[{name}...]"),
            (false, false) => format!("[{name}]"),
        };
        line.push(' ');
        line.push_str(&shown);
    }
    line
}

fn see_help(path: &[String]) -> String {
    if path.is_empty() {
        "See 'hoist --help'.".to_owned()
    } else {
        format!("See 'hoist {} --help'.", path.join(" "))
    }
}

/// Docker's `requires ...` wording for `command`'s positional arguments.
fn argument_count(path: &[String], command: &Command) -> String {
    let mut min = 0usize;
    let mut max = Some(0usize);
    for arg in command.get_arguments().filter(|a| a.is_positional()) {
        let range = arg.get_num_args().unwrap_or_else(|| 1.into());
        if arg.is_required_set() {
            min += range.min_values().max(1);
        }
        max = match (max, range.max_values()) {
            (Some(m), n) if n < usize::MAX => Some(m + n),
            _ => None,
        };
    }
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    let quoted = format!("'hoist {}'", path.join(" "));
    match max {
        Some(max) if max == min => format!("{quoted} requires {min} {}", plural(min)),
        Some(max) if min == 0 => format!("{quoted} requires at most {max} {}", plural(max)),
        Some(max) => format!(
            "{quoted} requires at least {min} and at most {max} {}",
            plural(max)
        ),
        None => format!("{quoted} requires at least {min} {}", plural(min)),
    }
}

fn context_string(error: &clap::Error, kind: ContextKind) -> Option<String> {
    match error.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(s) => s.first().cloned(),
        _ => None,
    }
}

/// A clap parse error (or help, or version) in the Docker CLI's shape.
pub(crate) fn render(root: &Command, args: &[OsString], error: &clap::Error) -> Rendered {
    let (path, command) = typed_path(root, args);
    let usage = format!(
        "\n\n{}\n\n{}\n",
        usage_line(&path, command),
        see_help(&path)
    );
    let flag_error = |first: String| Rendered {
        text: format!("{first}{usage}"),
        status: FLAG_ERROR,
    };
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Rendered {
            text: error.render().to_string(),
            status: 0,
        },
        ErrorKind::InvalidSubcommand => {
            let name = context_string(error, ContextKind::InvalidSubcommand).unwrap_or_default();
            let mut typed = path.clone();
            typed.push(name);
            let typed = typed.join(" ");
            let missing = refused::MISSING_COMMANDS
                .iter()
                .find(|(name, _)| *name == typed);
            let text = match missing {
                Some((_, None)) => format!(
                    "hoist: 'hoist {typed}' is not supported by hoist yet\n\n{}\n",
                    see_help(&path)
                ),
                Some((_, Some(reason))) => format!(
                    "hoist: 'hoist {typed}' is not supported by hoist: {reason}\n\n{}\n",
                    see_help(&path)
                ),
                None => format!(
                    "hoist: unknown command: hoist {typed}\n\n{}\n",
                    see_help(&path)
                ),
            };
            Rendered {
                text,
                status: ARGUMENT_ERROR,
            }
        }
        ErrorKind::UnknownArgument => {
            let arg = context_string(error, ContextKind::InvalidArg).unwrap_or_default();
            if let Some(flag) = arg.strip_prefix("--") {
                flag_error(format!(
                    "unknown flag: --{}",
                    flag.split('=').next().unwrap_or(flag)
                ))
            } else if let Some(shorts) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
                let letter = shorts.chars().next().unwrap_or('-');
                flag_error(format!("unknown shorthand flag: '{letter}' in {arg}"))
            } else {
                Rendered {
                    text: format!("hoist: {}{usage}", argument_count(&path, command)),
                    status: ARGUMENT_ERROR,
                }
            }
        }
        ErrorKind::MissingRequiredArgument
        | ErrorKind::TooFewValues
        | ErrorKind::WrongNumberOfValues => Rendered {
            text: format!("hoist: {}{usage}", argument_count(&path, command)),
            status: ARGUMENT_ERROR,
        },
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let arg = context_string(error, ContextKind::InvalidArg).unwrap_or_default();
            let long = arg
                .trim_start_matches('-')
                .split(['=', ' ', '[', '<'])
                .next()
                .unwrap_or_default()
                .to_owned();
            let found = command
                .get_arguments()
                .chain(root.get_arguments())
                .find(|a| a.get_long() == Some(long.as_str()));
            // Docker names a flag as its help does: `-a, --all`.
            let named = match found.and_then(Arg::get_short) {
                Some(short) => format!("-{short}, --{long}"),
                None => format!("--{long}"),
            };
            match context_string(error, ContextKind::InvalidValue) {
                Some(value) if !value.is_empty() => {
                    let why = match (
                        found.is_some_and(pflag::is_bool),
                        std::error::Error::source(error),
                    ) {
                        (true, _) => "not a boolean (true or false)".to_owned(),
                        (false, Some(source)) => source.to_string(),
                        (false, None) => clean_message(error),
                    };
                    flag_error(format!(
                        "invalid argument {value:?} for {named:?} flag: {why}"
                    ))
                }
                _ => flag_error(format!("flag needs an argument: {named}")),
            }
        }
        ErrorKind::MissingSubcommand => Rendered {
            text: format!("hoist: {} requires a command{usage}", path.join(" ")),
            status: ARGUMENT_ERROR,
        },
        _ => flag_error(clean_message(error)),
    }
}

/// clap's message without its `error: ` prefix, usage and tips.
fn clean_message(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

/// A refused Docker flag, with its command's usage.
pub(crate) fn render_refusal(
    root: &Command,
    args: &[OsString],
    refusal: &refused::Refusal,
) -> Rendered {
    let (path, command) = typed_path(root, args);
    Rendered {
        text: format!(
            "{}\n\n{}\n\n{}\n",
            refusal.message,
            usage_line(&path, command),
            see_help(&path)
        ),
        status: FLAG_ERROR,
    }
}
