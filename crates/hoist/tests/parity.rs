//! Parity with the real Docker CLI's command lines: every Docker CLI installed here is walked (`docker --help`,
//! then each command's `--help` for the groups hoist covers) and every flag must be accepted by hoist with the
//! same short and long names and the same boolean-or-value shape, or refused with an error saying it is "not
//! supported by hoist". A Docker command hoist lacks must be refused the same way. Anything else is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use hoist_test_support::peers::skip;

/// The groups whose commands hoist implements or will (their top-level aliases come from `docker --help`).
const GROUPS: &[&str] = &[
    "builder",
    "container",
    "image",
    "manifest",
    "network",
    "system",
    "trust",
    "volume",
];

/// A flag as a help text shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Flag {
    short: Option<char>,
    takes_value: bool,
}

fn output(program: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(program)
        .args(args)
        .env(
            "HOIST_ROOT",
            std::env::temp_dir().join("hoist-parity-unused"),
        )
        .env_remove("DOCKER_CONTENT_TRUST")
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The lines of a help section (`Options:`), up to the next blank line.
fn section<'a>(help: &'a str, names: &[&str]) -> Vec<&'a str> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if names.iter().any(|n| line.trim_end() == format!("{n}:")) {
            inside = true;
            continue;
        }
        if inside && line.trim().is_empty() {
            inside = false;
        }
        if inside {
            lines.push(line);
        }
    }
    lines
}

/// Command names listed in the help's command sections.
fn commands(help: &str, sections: &[&str]) -> Vec<String> {
    section(help, sections)
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .map(|name| name.trim_end_matches('*').to_owned())
        .collect()
}

/// Flags of a cobra (Docker) help: `  -a, --all-tags   text`, `      --platform string   text`.
fn docker_flags(help: &str, sections: &[&str]) -> BTreeMap<String, Flag> {
    let mut flags = BTreeMap::new();
    for line in section(help, sections) {
        let trimmed = line.trim_start();
        if !trimmed.starts_with('-') {
            continue;
        }
        let mut words = trimmed.split("  ").next().unwrap_or("").split_whitespace();
        let mut first = words.next().unwrap_or("");
        let mut short = None;
        if let Some(s) = first.strip_prefix('-').filter(|s| !s.starts_with('-')) {
            short = s.trim_end_matches(',').chars().next();
            first = words.next().unwrap_or("");
        }
        let Some(long) = first.strip_prefix("--") else {
            continue;
        };
        if long == "help" {
            continue;
        }
        let takes_value = words.next().is_some();
        flags.insert(long.to_owned(), Flag { short, takes_value });
    }
    flags
}

/// Flags of a clap (hoist) help: `  -a, --all-tags[=<bool>]  text`, `      --platform <string>  text`,
/// with `[aliases: --time]` as further names of the flag above.
fn hoist_flags(help: &str) -> BTreeMap<String, Flag> {
    let mut flags = BTreeMap::new();
    let mut last: Option<Flag> = None;
    for line in section(help, &["Options"]) {
        let trimmed = line.trim_start();
        if trimmed.starts_with('-') {
            let head = trimmed.split("  ").next().unwrap_or("");
            let (short, rest) = match head.strip_prefix('-').filter(|s| !s.starts_with('-')) {
                Some(s) => (s.chars().next(), s.split_once(", ").map_or("", |(_, r)| r)),
                None => (None, head),
            };
            let Some(long) = rest.strip_prefix("--") else {
                continue;
            };
            let name_end = long
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(long.len());
            let (name, shape) = long.split_at(name_end);
            let flag = Flag {
                short,
                takes_value: shape.starts_with(" <"),
            };
            flags.insert(name.to_owned(), flag.clone());
            last = Some(flag);
        }
        let alias_list = line
            .find("[aliases: ")
            .map(|i| i + "[aliases: ".len())
            .or_else(|| line.find("[alias: ").map(|i| i + "[alias: ".len()));
        if let (Some(flag), Some(start)) = (&last, alias_list) {
            let aliases = &line[start..];
            for alias in aliases.trim_end_matches(']').split(", ") {
                if let Some(alias) = alias.strip_prefix("--") {
                    flags.insert(alias.to_owned(), flag.clone());
                }
            }
        }
    }
    flags
}

#[derive(Debug, Default)]
struct Tally {
    accepted: BTreeSet<(String, String)>,
    /// With whether hoist refuses it on purpose ("not supported by hoist: REASON").
    refused: BTreeMap<(String, String), bool>,
    refused_commands: BTreeSet<String>,
    missing: Vec<String>,
    /// Each name a Docker CLI gave a command under, to the name it is counted by.
    names: BTreeMap<String, String>,
}

impl Tally {
    /// The counted name of `path`, through the aliases any CLI reported.
    fn counted(&self, path: &str) -> String {
        self.names
            .get(path)
            .cloned()
            .unwrap_or_else(|| path.to_owned())
    }
}

/// The name by which a command is counted once: the group form among its aliases (`container ls` for
/// `ps`), from the help's `Aliases:` section (`docker container ls, docker ps` in Docker 28, `ls, ps` in
/// 20.10, relative to the group).
fn canonical_name(path: &str, help: &str) -> String {
    canonical_forms(path, help)
        .iter()
        .filter(|f| f.contains(' '))
        .min()
        .cloned()
        .unwrap_or_else(|| path.to_owned())
}

/// Every name of the command at `path`, itself included.
fn canonical_forms(path: &str, help: &str) -> Vec<String> {
    let group = path.split_whitespace().next().unwrap_or("");
    let mut forms = vec![path.to_owned()];
    for line in section(help, &["Aliases"]) {
        for alias in line.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            forms.push(match alias.strip_prefix("docker ") {
                Some(full) => full.to_owned(),
                None if path.contains(' ') => format!("{group} {alias}"),
                None => alias.to_owned(),
            });
        }
    }
    forms
}

/// Checks one Docker command path (`container run`, `ps`) against hoist.
fn check_command(docker: &str, hoist: &str, path: &str, tally: &mut Tally) {
    let words: Vec<&str> = path.split_whitespace().collect();
    let help_args: Vec<&str> = words.iter().copied().chain(["--help"]).collect();
    let (_, docker_help, _) = output(docker, &help_args);
    let canonical = canonical_name(path, &docker_help);
    for form in canonical_forms(path, &docker_help) {
        tally.names.insert(form, canonical.clone());
    }
    let (status, hoist_help, _) = output(hoist, &help_args);
    if status != 0 {
        let (_, _, stderr) = output(hoist, &words);
        if stderr.contains("not supported by hoist") {
            tally.refused_commands.insert(canonical);
        } else {
            tally.missing.push(format!(
                "{docker}: command '{path}' is neither in hoist nor refused clearly: {}",
                stderr.lines().next().unwrap_or("")
            ));
        }
        return;
    }
    let ours = hoist_flags(&hoist_help);
    let sections: &[&str] = if path.is_empty() {
        &["Options", "Global Options"]
    } else {
        &["Options"]
    };
    for (long, theirs) in docker_flags(&docker_help, sections) {
        let key = (canonical.clone(), long.clone());
        match ours.get(&long) {
            Some(flag) if *flag == theirs => {
                tally.accepted.insert(key);
            }
            Some(flag) => tally.missing.push(format!(
                "{docker}: '{path} --{long}' differs: Docker has {theirs:?}, hoist {flag:?}"
            )),
            None => {
                let typed = if theirs.takes_value {
                    format!("--{long}=x")
                } else {
                    format!("--{long}")
                };
                let args: Vec<&str> = words.iter().copied().chain([typed.as_str()]).collect();
                let (status, _, stderr) = output(hoist, &args);
                if status != 0
                    && stderr.contains(&format!("--{long}"))
                    && stderr.contains("not supported by hoist")
                {
                    let on_purpose = stderr.contains("not supported by hoist:");
                    tally.refused.insert(key, on_purpose);
                } else {
                    tally.missing.push(format!(
                        "{docker}: '{path} {typed}' is neither accepted nor refused clearly: {}",
                        stderr.lines().next().unwrap_or("")
                    ));
                }
            }
        }
    }
}

/// The Docker CLIs installed here, one per version.
fn docker_clis() -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut clis = Vec::new();
    for candidate in ["docker", "/usr/bin/docker", "/usr/local/bin/docker"] {
        let Ok(out) = Command::new(candidate).arg("--version").output() else {
            continue;
        };
        if out.status.success() && seen.insert(out.stdout) {
            clis.push(candidate.to_owned());
        }
    }
    clis
}

#[test]
#[allow(clippy::print_stderr, reason = "the counts are the test's report")]
fn every_docker_flag_is_accepted_or_refused_clearly() {
    let clis = docker_clis();
    if clis.is_empty() {
        return skip(
            "every_docker_flag_is_accepted_or_refused_clearly",
            "no Docker CLI is installed (apt-get install docker.io)",
        );
    }
    let hoist = env!("CARGO_BIN_EXE_hoist");
    let mut tally = Tally::default();
    for docker in &clis {
        let (_, root_help, _) = output(docker, &["--help"]);
        check_command(docker, hoist, "", &mut tally);
        let top = commands(&root_help, &["Common Commands", "Commands"]);
        for name in &top {
            check_command(docker, hoist, name, &mut tally);
        }
        for group in commands(&root_help, &["Management Commands", "Swarm Commands"]) {
            if !GROUPS.contains(&group.as_str()) {
                // Outside what hoist does: the command must still be refused clearly.
                check_command(docker, hoist, &group, &mut tally);
                continue;
            }
            let (_, group_help, _) = output(docker, &[&group, "--help"]);
            for sub in commands(&group_help, &["Commands"]) {
                check_command(docker, hoist, &format!("{group} {sub}"), &mut tally);
            }
        }
    }
    // Counted once per command, whichever CLI or alias showed the flag.
    let accepted: BTreeSet<(String, String)> = tally
        .accepted
        .iter()
        .map(|(path, flag)| (tally.counted(path), flag.clone()))
        .collect();
    let refused: BTreeMap<(String, String), bool> = tally
        .refused
        .iter()
        .map(|((path, flag), on_purpose)| ((tally.counted(path), flag.clone()), *on_purpose))
        .collect();
    let commands: BTreeSet<&String> = accepted
        .iter()
        .chain(refused.keys())
        .map(|(path, _)| path)
        .collect();
    let refused_commands: BTreeSet<String> = tally
        .refused_commands
        .iter()
        .map(|p| tally.counted(p))
        .collect();
    eprintln!(
        "parity with {}: over {} commands, {} flags accepted, {} refused clearly ({} of them on purpose), \
         {} missing; {} Docker commands refused clearly",
        clis.join(", "),
        commands.len(),
        accepted.len(),
        refused.len(),
        refused.values().filter(|on_purpose| **on_purpose).count(),
        tally.missing.len(),
        refused_commands.len()
    );
    assert!(
        tally.missing.is_empty(),
        "missing:\n{}",
        tally.missing.join("\n")
    );
    assert!(!tally.accepted.is_empty(), "no flag was compared");
}
