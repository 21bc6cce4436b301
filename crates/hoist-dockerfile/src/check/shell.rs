//! A rough reading of RUN scripts for the package-manager advice: simple commands split at `;`, `&`,
//! `|`, newlines and parentheses, words split at unquoted whitespace with quotes removed, `#` comments
//! dropped. Not a shell: enough to see `apt-get install` and the options around it.

use crate::{CommandLine, Run};

/// The simple commands of a RUN: its command line and every heredoc body.
pub(super) fn run_commands(run: &Run) -> Vec<Vec<String>> {
    let mut out = match &run.command {
        CommandLine::Shell(text) => commands(text),
        CommandLine::Exec(words) => vec![words.clone()],
    };
    for doc in &run.heredocs {
        out.extend(commands(&doc.content));
    }
    out
}

/// Splits a script into simple commands of words.
pub(super) fn commands(script: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut command: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let end_word = |word: &mut String, in_word: &mut bool, command: &mut Vec<String>| {
        if *in_word {
            command.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(next) = chars.next() {
                                word.push(next);
                            }
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(next) => {
                    in_word = true;
                    word.push(next);
                }
            },
            '#' if !in_word => {
                for q in chars.by_ref() {
                    if q == '\n' {
                        break;
                    }
                }
                end_word(&mut word, &mut in_word, &mut command);
                if !command.is_empty() {
                    out.push(std::mem::take(&mut command));
                }
            }
            ';' | '&' | '|' | '\n' | '(' | ')' | '`' => {
                end_word(&mut word, &mut in_word, &mut command);
                if !command.is_empty() {
                    out.push(std::mem::take(&mut command));
                }
            }
            c if c.is_whitespace() => end_word(&mut word, &mut in_word, &mut command),
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    end_word(&mut word, &mut in_word, &mut command);
    if !command.is_empty() {
        out.push(command);
    }
    out
}

/// The program a simple command runs and the words after it, past `VAR=value` assignments and the
/// wrappers `sudo`, `env`, `time`, `nice`, `exec`, `command` (and their options). The program is its
/// base name (`/usr/bin/apt-get` is `apt-get`).
pub(super) fn program(command: &[String]) -> Option<(&str, &[String])> {
    let mut i = 0;
    while let Some(word) = command.get(i) {
        let assignment = word.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        let wrapper = matches!(
            word.as_str(),
            "sudo" | "env" | "time" | "nice" | "exec" | "command"
        );
        if assignment || wrapper {
            i += 1;
            // The wrapper's own options.
            while wrapper && command.get(i).is_some_and(|w| w.starts_with('-')) {
                i += 1;
            }
            continue;
        }
        let name = word.rsplit('/').next().unwrap_or(word);
        return Some((name, &command[i + 1..]));
    }
    None
}

/// The subcommand of an `apt-get`/`apt`/`apk` invocation: the first word that is not an option (or
/// the argument of one of `options_with_value`).
pub(super) fn subcommand<'a>(args: &'a [String], options_with_value: &[&str]) -> Option<&'a str> {
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if let Some(option) = word.strip_prefix('-') {
            if options_with_value.contains(&option) {
                words.next();
            }
            continue;
        }
        return Some(word);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn scripts_split_into_commands() {
        let got = commands(
            "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y 'a b' \"c\" \\\n d; echo x # done | y\nrm -rf /x",
        );
        assert_eq!(
            got,
            vec![
                words(&["apt-get", "update"]),
                words(&[
                    "DEBIAN_FRONTEND=noninteractive",
                    "apt-get",
                    "install",
                    "-y",
                    "a b",
                    "c",
                    "d"
                ]),
                words(&["echo", "x"]),
                words(&["rm", "-rf", "/x"]),
            ]
        );
    }

    #[test]
    fn programs_skip_assignments_and_wrappers() {
        let command = words(&[
            "A=1",
            "sudo",
            "-E",
            "/usr/bin/apt-get",
            "-y",
            "install",
            "x",
        ]);
        let (name, args) = program(&command).unwrap_or(("", &[]));
        assert_eq!(name, "apt-get");
        assert_eq!(subcommand(args, &["o"]), Some("install"));
        let command = words(&["apt-get", "-o", "Acquire::Retries=3", "update"]);
        let (_, args) = program(&command).unwrap_or(("", &[]));
        assert_eq!(subcommand(args, &["o"]), Some("update"));
    }
}
