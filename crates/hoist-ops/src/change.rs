//! Docker's `--change` instructions (`import -c`, `commit -c`) applied to a container config the way moby's
//! `BuildFromConfig` applies them.
//!
//! The changes are joined with newlines and read as a Dockerfile by BuildKit's rules (comments, line
//! continuations, the `escape` directive, `--flags`, JSON or shell form); each instruction must be one of
//! CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME or WORKDIR; all are
//! parsed before any is applied; then they are dispatched in order as moby's classic builder does, with
//! `$VAR`/`${VAR}` expansion from the ENV values set so far. Error texts are moby's and BuildKit's.
//!
//! Calls go down only: [`apply_changes`] → parser → instruction parser → dispatcher, which uses the shell
//! word expander and the small Go-compatible helpers at the end of the file.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use hoist_spec::ContainerConfig;
use serde_json::{Map, Value};

use crate::OpsError;

/// Applies `changes` to `config`, as `docker import -c` / `docker commit -c` do. On error `config` is left
/// as it was.
pub fn apply_changes(config: &mut ContainerConfig, changes: &[String]) -> Result<(), OpsError> {
    if changes.is_empty() {
        return Ok(());
    }
    let updated = build_from_config(config, changes).map_err(OpsError::InvalidChange)?;
    *config = updated;
    Ok(())
}

/// Instructions `BuildFromConfig` accepts (moby's `validCommitCommands`).
const VALID_CHANGE_COMMANDS: &[&str] = &[
    "cmd",
    "entrypoint",
    "healthcheck",
    "env",
    "expose",
    "label",
    "onbuild",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// The default shell of shell-form CMD and ENTRYPOINT on Linux.
const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

fn build_from_config(
    config: &ContainerConfig,
    changes: &[String],
) -> Result<ContainerConfig, String> {
    let parsed = parse_dockerfile(&changes.join("\n"))?;
    let mut instructions = Vec::with_capacity(parsed.nodes.len());
    for node in &parsed.nodes {
        if !VALID_CHANGE_COMMANDS.contains(&node.value.to_lowercase().as_str()) {
            return Err(format!("{} is not a valid change command", node.value));
        }
        instructions.push(parse_instruction(node)?);
    }
    let mut state = DispatchState {
        config: config.clone(),
        cmd_set: false,
    };
    let lexer = Lexer {
        escape: parsed.escape,
    };
    for instruction in instructions {
        state.dispatch(&lexer, instruction)?;
    }
    Ok(state.config)
}

// ---------------------------------------------------------------------------------------------------------
// The Dockerfile parser (BuildKit's `parser` package): lines to nodes.

/// One instruction line: its keyword as written, the line, its `--flags` and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    value: String,
    original: String,
    flags: Vec<String>,
    /// Arguments flattened as BuildKit's `nodeArgs` does (key, value, separator triples for ENV and LABEL;
    /// the sub-instruction's keyword then its arguments for ONBUILD).
    args: Vec<String>,
    /// The arguments were a JSON array (exec form).
    json: bool,
}

#[derive(Debug)]
struct Parsed {
    nodes: Vec<Node>,
    escape: char,
}

/// Parser directives (`# escape=`), read from the leading comment lines.
#[derive(Debug)]
struct Directives {
    escape: char,
    done: bool,
    seen: Vec<String>,
}

impl Directives {
    fn set_escape(&mut self, value: &str) -> Result<(), String> {
        match value {
            "`" => self.escape = '`',
            "\\" => self.escape = '\\',
            _ => {
                return Err(format!(
                    "invalid escape token '{value}' does not match ` or \\"
                ));
            }
        }
        Ok(())
    }

    /// BuildKit's `DirectiveParser.ParseLine`: `#` then `name = value`, while no other line was seen.
    fn possible_directive(&mut self, line: &str) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = line
            .strip_prefix('#')
            .and_then(|rest| directive(rest.trim_start()))
        else {
            self.done = true;
            return Ok(());
        };
        let key = name.to_lowercase();
        if !["syntax", "escape", "check"].contains(&key.as_str()) {
            self.done = true;
            return Ok(());
        }
        if self.seen.contains(&key) {
            return Err(format!("only one {key} parser directive can be used"));
        }
        self.seen.push(key.clone());
        if key == "escape" {
            self.set_escape(value)?;
        }
        Ok(())
    }
}

/// Whitespace as Go's RE2 `\s` sees it.
fn is_re2_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// The whitespace BuildKit splits instructions on (`[\t\v\f\r ]+`).
fn is_split_space(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// Matches `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, returning the name and the value.
fn directive(text: &str) -> Option<(&str, &str)> {
    let name_len = text
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(text.len());
    let name = &text[..name_len];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let after_name = text[name_len..].trim_start_matches(is_re2_space);
    let after_eq = after_name.strip_prefix('=')?;
    let value = after_eq
        .trim_start_matches(is_re2_space)
        .trim_end_matches(is_re2_space);
    if !value.is_empty() {
        return Some((name, value));
    }
    // Only whitespace after `=`: the lazy `(.+?)` still takes its last character.
    let last = after_eq.chars().last()?;
    Some((name, &after_eq[after_eq.len() - last.len_utf8()..]))
}

/// BuildKit's `Parse`, over the joined changes.
fn parse_dockerfile(input: &str) -> Result<Parsed, String> {
    let mut directives = Directives {
        escape: '\\',
        done: false,
        seen: Vec::new(),
    };
    let mut nodes = Vec::new();
    let mut lines = input.split_inclusive('\n');
    let mut first = true;
    while let Some(raw) = lines.next() {
        let raw = if first {
            raw.strip_prefix('\u{feff}').unwrap_or(raw)
        } else {
            raw
        };
        first = false;
        let processed = process_line(&mut directives, raw, true)?;
        let (mut line, mut end_of_line) = trim_continuation(processed, directives.escape);
        if end_of_line && line.is_empty() {
            continue;
        }
        while !end_of_line {
            let Some(next) = lines.next() else { break };
            let processed = process_line(&mut directives, next, false)?;
            if is_comment(next) || processed.trim_start().is_empty() {
                continue;
            }
            let (more, end) = trim_continuation(processed, directives.escape);
            line.push_str(&more);
            end_of_line = end;
        }
        nodes.push(node_from_line(&line, directives.escape)?);
    }
    if nodes.is_empty() {
        return Err("file with no instructions".to_owned());
    }
    Ok(Parsed {
        nodes,
        escape: directives.escape,
    })
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Strips the line end (and, for a first line, leading whitespace), reads a possible directive, and blanks
/// comment lines.
fn process_line<'a>(
    directives: &mut Directives,
    raw: &'a str,
    strip_left: bool,
) -> Result<&'a str, String> {
    let mut token = raw.trim_end_matches(['\r', '\n']);
    if strip_left {
        token = token.trim_start();
    }
    directives.possible_directive(token)?;
    Ok(if is_comment(token) { "" } else { token })
}

/// Removes a trailing escape token (plus spaces and tabs after it) that continues the line, unless it is
/// itself escaped. Returns the line and whether it ends the instruction.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    let Some(before) = body.strip_suffix(escape) else {
        return (line.to_owned(), true);
    };
    if before.ends_with(escape) {
        return (line.to_owned(), true);
    }
    (before.to_owned(), false)
}

/// `splitCommand` and the per-instruction line parsers.
fn node_from_line(line: &str, escape: char) -> Result<Node, String> {
    let trimmed = line.trim();
    let (command, rest) = match trimmed.find(is_split_space) {
        Some(i) => (
            &trimmed[..i],
            Some(trimmed[i..].trim_start_matches(is_split_space)),
        ),
        None => (trimmed, None),
    };
    let (args_text, flags) = match rest {
        Some(rest) => extract_builder_flags(rest, escape),
        None => (String::new(), Vec::new()),
    };
    let args_text = args_text.trim();
    let (args, json) = match command.to_lowercase().as_str() {
        "cmd" | "entrypoint" | "run" | "shell" => parse_maybe_json(args_text)?,
        "env" => (parse_name_val(args_text, "ENV", escape)?, false),
        "label" => (parse_name_val(args_text, "LABEL", escape)?, false),
        "expose" | "from" => (split_whitespace_delimited(args_text), false),
        "healthcheck" => parse_health_config(args_text)?,
        "maintainer" | "stopsignal" | "user" | "workdir" => (parse_string(args_text), false),
        "onbuild" => (parse_sub_command(args_text, escape)?, false),
        "add" | "copy" | "volume" => parse_maybe_json_to_list(args_text)?,
        "arg" => (parse_words(args_text, escape), false),
        _ => (Vec::new(), false),
    };
    Ok(Node {
        value: command.to_owned(),
        original: line.to_owned(),
        flags,
        args,
        json,
    })
}

/// Takes the leading `--flag[=value]` words off an instruction's arguments (BuildKit works on bytes here).
fn extract_builder_flags(line: &str, escape: char) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let bytes = line.as_bytes();
    let escape = u8::try_from(escape).unwrap_or(b'\\');
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = 0u8;
    let mut blank_ok = false;
    let mut pos = 0usize;
    while pos <= bytes.len() {
        let ch = bytes.get(pos).copied();
        if phase == Phase::Spaces {
            let Some(c) = ch else { break };
            if c.is_ascii_whitespace() || c == 0x0b {
                pos += 1;
                continue;
            }
            if c != b'-' || bytes.get(pos + 1) != Some(&b'-') {
                return (line.get(pos..).unwrap_or_default().to_owned(), words);
            }
            phase = Phase::Word;
        }
        let Some(c) = ch else {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            break;
        };
        if phase == Phase::Word {
            if c.is_ascii_whitespace() || c == 0x0b {
                phase = Phase::Spaces;
                if word == "--" {
                    return (line.get(pos..).unwrap_or_default().to_owned(), words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if c == b'\'' || c == b'"' {
                quote = c;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            let mut c = c;
            if c == escape {
                if pos + 1 == bytes.len() {
                    pos += 1;
                    continue;
                }
                pos += 1;
                c = bytes[pos];
            }
            word.push(char::from(c));
            pos += 1;
            continue;
        }
        // In quotes.
        if c == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        let mut c = c;
        if c == escape {
            if pos + 1 == bytes.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            c = bytes[pos];
        }
        word.push(char::from(c));
        pos += 1;
    }
    (String::new(), words)
}

/// Splits into words at unquoted whitespace, keeping quotes and escapes (they go at expansion time).
fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0usize;
    while pos <= chars.len() {
        let ch = chars.get(pos).copied();
        if phase == Phase::Spaces {
            let Some(c) = ch else { break };
            if c.is_whitespace() {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        let Some(mut c) = ch else {
            if blank_ok || !word.is_empty() {
                words.push(word);
            }
            break;
        };
        if phase == Phase::Word {
            if c.is_whitespace() {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                pos += 1;
                continue;
            }
            if c == '\'' || c == '"' {
                quote = c;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if c == escape {
                if pos + 1 == chars.len() {
                    pos += 1;
                    continue;
                }
                // Unquoted, an escape and the character after it are kept together, even a quote.
                word.push(c);
                pos += 1;
                c = chars[pos];
            }
            word.push(c);
            pos += 1;
            continue;
        }
        // In quotes.
        if c == quote {
            phase = Phase::Word;
        }
        if c == escape && quote != '\'' {
            if pos + 1 == chars.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            word.push(c);
            c = chars[pos];
        }
        word.push(c);
        pos += 1;
    }
    words
}

/// `KEY name value` (legacy) or `KEY a=b c="d e"`: flattened (key, value, separator) triples.
fn parse_name_val(rest: &str, key: &str, escape: char) -> Result<Vec<String>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let Some(i) = rest.find(is_split_space) else {
            return Err(format!("{key} must have two arguments"));
        };
        let value = rest[i..].trim_start_matches(is_split_space);
        return Ok(vec![rest[..i].to_owned(), value.to_owned(), String::new()]);
    }
    let mut out = Vec::with_capacity(words.len() * 3);
    for word in &words {
        let Some((name, value)) = word.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {}. Must be of the form: name=value",
                go_quote(word)
            ));
        };
        out.extend([name.to_owned(), value.to_owned(), "=".to_owned()]);
    }
    Ok(out)
}

fn split_whitespace_delimited(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    rest.split(is_split_space)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_string(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        Vec::new()
    } else {
        vec![rest.to_owned()]
    }
}

const NOT_STRING_ARRAY: &str =
    "when using JSON array syntax, arrays must be comprised of strings only";

/// The exec form: `Ok(Some(args))` for a JSON array of strings, `Ok(None)` for anything that is not JSON.
fn parse_json(rest: &str) -> Result<Option<Vec<String>>, String> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Ok(items) = serde_json::from_str::<Vec<Value>>(rest) else {
        return Ok(None);
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(s) => Ok(s),
            _ => Err(NOT_STRING_ARRAY.to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn parse_maybe_json(rest: &str) -> Result<(Vec<String>, bool), String> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    Ok(match parse_json(rest)? {
        Some(args) => (args, true),
        None => (vec![rest.to_owned()], false),
    })
}

fn parse_maybe_json_to_list(rest: &str) -> Result<(Vec<String>, bool), String> {
    Ok(match parse_json(rest)? {
        Some(args) => (args, true),
        None => (split_whitespace_delimited(rest), false),
    })
}

/// `HEALTHCHECK TYPE [command]`: the type word, then the command in either form.
fn parse_health_config(rest: &str) -> Result<(Vec<String>, bool), String> {
    let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if sep == 0 {
        return Ok((Vec::new(), false));
    }
    let (kind, command) = rest.split_at(sep);
    let (mut args, json) = parse_maybe_json(command.trim_start())?;
    args.insert(0, kind.to_owned());
    Ok((args, json))
}

/// ONBUILD's sub-instruction is parsed like a line of its own; its keyword and arguments follow.
fn parse_sub_command(rest: &str, escape: char) -> Result<Vec<String>, String> {
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let child = node_from_line(rest, escape)?;
    let mut args = vec![child.value];
    args.extend(child.args);
    Ok(args)
}

// ---------------------------------------------------------------------------------------------------------
// Instructions (BuildKit's `instructions` package): argument counts, flags and forms.

#[derive(Debug, Clone, PartialEq, Eq)]
struct CmdLine {
    /// `None` only for an empty ENTRYPOINT, which unsets it.
    args: Option<Vec<String>>,
    prepend_shell: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Healthcheck {
    test: Vec<String>,
    interval: i64,
    timeout: i64,
    start_period: i64,
    start_interval: i64,
    retries: i64,
}

impl Healthcheck {
    /// Docker's `HealthConfig` JSON: durations in nanoseconds, zero fields left out.
    fn to_value(&self) -> Value {
        let mut out = Map::new();
        if !self.test.is_empty() {
            out.insert("Test".to_owned(), Value::from(self.test.clone()));
        }
        for (key, value) in [
            ("Interval", self.interval),
            ("Timeout", self.timeout),
            ("StartPeriod", self.start_period),
            ("StartInterval", self.start_interval),
            ("Retries", self.retries),
        ] {
            if value != 0 {
                out.insert(key.to_owned(), Value::from(value));
            }
        }
        Value::Object(out)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Instruction {
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    Cmd(CmdLine),
    Entrypoint(CmdLine),
    Healthcheck(Healthcheck),
    Expose(Vec<String>),
    User(String),
    Volume(Vec<String>),
    Workdir(String),
    StopSignal(String),
    OnBuild(String),
}

fn parse_instruction(node: &Node) -> Result<Instruction, String> {
    let args = &node.args;
    let exactly_one = |name: &str| -> Result<String, String> {
        match args.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(format!("{name} requires exactly one argument")),
        }
    };
    let at_least_one = |name: &str| -> Result<(), String> {
        if args.is_empty() {
            Err(format!("{name} requires at least one argument"))
        } else {
            Ok(())
        }
    };
    Ok(match node.value.to_lowercase().as_str() {
        "env" => {
            parse_flags(&node.flags, &[])?;
            Instruction::Env(key_value_pairs(args, "ENV")?)
        }
        "label" => {
            parse_flags(&node.flags, &[])?;
            Instruction::Label(key_value_pairs(args, "LABEL")?)
        }
        "onbuild" => {
            at_least_one("ONBUILD")?;
            parse_flags(&node.flags, &[])?;
            let trigger = args[0].trim().to_uppercase();
            match trigger.as_str() {
                "ONBUILD" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".to_owned());
                }
                "MAINTAINER" | "FROM" => {
                    return Err(format!("{trigger} isn't allowed as an ONBUILD trigger"));
                }
                _ => {}
            }
            Instruction::OnBuild(strip_onbuild_keyword(&node.original).to_owned())
        }
        "workdir" => {
            let path = exactly_one("WORKDIR")?;
            parse_flags(&node.flags, &[])?;
            Instruction::Workdir(path)
        }
        "cmd" => {
            parse_flags(&node.flags, &[])?;
            Instruction::Cmd(CmdLine {
                args: Some(handle_json_args(args, node.json)),
                prepend_shell: !node.json,
            })
        }
        "entrypoint" => {
            parse_flags(&node.flags, &[])?;
            let cmd = handle_json_args(args, node.json);
            Instruction::Entrypoint(CmdLine {
                args: (!cmd.is_empty()).then_some(cmd),
                prepend_shell: !node.json,
            })
        }
        "healthcheck" => Instruction::Healthcheck(parse_healthcheck(node)?),
        "expose" => {
            at_least_one("EXPOSE")?;
            parse_flags(&node.flags, &[])?;
            let mut ports = args.clone();
            ports.sort();
            Instruction::Expose(ports)
        }
        "user" => {
            let user = exactly_one("USER")?;
            parse_flags(&node.flags, &[])?;
            Instruction::User(user)
        }
        "volume" => {
            at_least_one("VOLUME")?;
            parse_flags(&node.flags, &[])?;
            let mut volumes = Vec::with_capacity(args.len());
            for v in args {
                let v = v.trim();
                if v.is_empty() {
                    return Err(EMPTY_VOLUME.to_owned());
                }
                volumes.push(v.to_owned());
            }
            Instruction::Volume(volumes)
        }
        // moby parses no flags for STOPSIGNAL: they are ignored.
        "stopsignal" => Instruction::StopSignal(exactly_one("STOPSIGNAL")?),
        _ => return Err(format!("{} is not a valid change command", node.value)),
    })
}

const EMPTY_VOLUME: &str = "VOLUME specified can not be an empty string";

fn key_value_pairs(args: &[String], command: &str) -> Result<Vec<(String, String)>, String> {
    if args.is_empty() {
        return Err(format!("{command} requires at least one argument"));
    }
    if !args.len().is_multiple_of(3) {
        return Err(format!("Bad input to {command}, too many arguments"));
    }
    args.chunks(3)
        .map(|triple| match triple {
            [key, value, _] if !key.is_empty() => Ok((key.clone(), value.clone())),
            _ => Err(format!("{command} names can not be blank")),
        })
        .collect()
}

fn handle_json_args(args: &[String], json: bool) -> Vec<String> {
    if args.is_empty() {
        Vec::new()
    } else if json {
        args.to_vec()
    } else {
        vec![args.join(" ")]
    }
}

/// The trigger as written: the line without its `ONBUILD` keyword (`(?i)^\s*ONBUILD\s*`).
fn strip_onbuild_keyword(original: &str) -> &str {
    let rest = original.trim_start_matches(is_re2_space);
    match rest.get(..7) {
        Some(keyword) if keyword.eq_ignore_ascii_case("ONBUILD") => {
            rest[7..].trim_start_matches(is_re2_space)
        }
        _ => original,
    }
}

/// BuildKit's `BFlags.Parse` for string flags: `--name=value` where `name` is in `known`.
fn parse_flags(flags: &[String], known: &[&str]) -> Result<HashMap<String, String>, String> {
    let mut values = HashMap::new();
    for flag in flags {
        if flag == "--" {
            break;
        }
        let Some(body) = flag.strip_prefix("--") else {
            return Err(format!("arg should start with -- : {flag}"));
        };
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let flag_name = format!("--{name}");
        if !known.contains(&name) {
            let message = format!("unknown flag: {flag_name}");
            return Err(match suggest(name, known) {
                Some(similar) => format!("{message} (did you mean {similar}?)"),
                None => message,
            });
        }
        if values.contains_key(name) {
            return Err(format!("duplicate flag specified: {flag_name}"));
        }
        let Some(value) = value else {
            return Err(format!("missing a value on flag: {flag_name}"));
        };
        values.insert(name.to_owned(), value.to_owned());
    }
    Ok(values)
}

/// The closest known name within an edit distance of 2, as BuildKit's `suggest.Search` finds it.
fn suggest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let mut best = None;
    let mut best_distance = 3;
    for &option in known {
        let distance = levenshtein(name, option);
        if distance < best_distance {
            best = Some(option);
            best_distance = distance;
        }
    }
    best
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

const HEALTHCHECK_FLAGS: &[&str] = &[
    "interval",
    "timeout",
    "start-period",
    "start-interval",
    "retries",
];

fn parse_healthcheck(node: &Node) -> Result<Healthcheck, String> {
    let Some((kind, command)) = node.args.split_first() else {
        return Err("HEALTHCHECK requires at least one argument".to_owned());
    };
    let kind = kind.to_uppercase();
    if kind == "NONE" {
        if !command.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".to_owned());
        }
        return Ok(Healthcheck {
            test: vec![kind],
            ..Healthcheck::default()
        });
    }
    let flags = parse_flags(&node.flags, HEALTHCHECK_FLAGS)?;
    if kind != "CMD" {
        return Err(format!(
            "Unknown type {} in HEALTHCHECK (try CMD)",
            go_quote(&kind)
        ));
    }
    let command = handle_json_args(command, node.json);
    if command.is_empty() {
        return Err("Missing command after HEALTHCHECK CMD".to_owned());
    }
    let mut test = vec![if node.json { "CMD" } else { "CMD-SHELL" }.to_owned()];
    test.extend(command);
    let interval = |name: &str| flags.get(name).map_or(Ok(0), |v| parse_interval(name, v));
    let retries = match flags.get("retries").map(String::as_str) {
        None | Some("") => 0,
        Some(v) => {
            let retries = parse_go_int32(v)?;
            if retries < 0 {
                return Err(format!("--retries cannot be negative ({retries})"));
            }
            retries
        }
    };
    Ok(Healthcheck {
        test,
        interval: interval("interval")?,
        timeout: interval("timeout")?,
        start_period: interval("start-period")?,
        start_interval: interval("start-interval")?,
        retries,
    })
}

/// A healthcheck interval: a Go duration of at least 1ms, or 0 (unset).
fn parse_interval(flag: &str, value: &str) -> Result<i64, String> {
    if value.is_empty() {
        return Ok(0);
    }
    let nanos = parse_go_duration(value)?;
    if nanos != 0 && nanos < 1_000_000 {
        return Err(format!(
            "Interval {} cannot be less than 1ms",
            go_quote(flag)
        ));
    }
    Ok(nanos)
}

// ---------------------------------------------------------------------------------------------------------
// Dispatch (moby's classic builder dispatchers, with `disableCommit`).

#[derive(Debug)]
struct DispatchState {
    config: ContainerConfig,
    /// A non-empty CMD was given in these changes: a later ENTRYPOINT keeps it.
    cmd_set: bool,
}

impl DispatchState {
    fn dispatch(&mut self, lexer: &Lexer, instruction: Instruction) -> Result<(), String> {
        let env = Env::from_slice(self.config.env.as_deref().unwrap_or_default());
        let expand = |word: &str| lexer.process_word(word, &env);
        let config = &mut self.config;
        match instruction {
            Instruction::Env(pairs) => {
                let pairs = expand_pairs(pairs, &expand)?;
                let vars = config.env.get_or_insert_with(Vec::new);
                for (key, value) in pairs {
                    let entry = format!("{key}={value}");
                    match vars
                        .iter_mut()
                        .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
                    {
                        Some(existing) => *existing = entry,
                        None => vars.push(entry),
                    }
                }
            }
            Instruction::Label(pairs) => {
                let pairs = expand_pairs(pairs, &expand)?;
                config
                    .labels
                    .get_or_insert_with(BTreeMap::new)
                    .extend(pairs);
            }
            Instruction::Cmd(line) => {
                let non_empty = line.args.as_ref().is_some_and(|a| !a.is_empty());
                config.cmd = resolve_cmd_line(line, config.shell.as_deref());
                config.args_escaped = None;
                if non_empty {
                    self.cmd_set = true;
                }
            }
            Instruction::Entrypoint(line) => {
                config.entrypoint = resolve_cmd_line(line, config.shell.as_deref());
                config.args_escaped = None;
                if !self.cmd_set {
                    config.cmd = None;
                }
            }
            Instruction::Healthcheck(health) => config.healthcheck = Some(health.to_value()),
            Instruction::Expose(ports) => {
                let mut words = Vec::new();
                for port in &ports {
                    words.extend(lexer.process_words(port, &env)?);
                }
                let exposed = config.exposed_ports.get_or_insert_with(BTreeMap::new);
                for spec in &words {
                    for port in parse_port_spec(spec)? {
                        exposed.insert(port, Value::Object(Map::new()));
                    }
                }
            }
            Instruction::User(user) => config.user = Some(expand(&user)?),
            Instruction::Volume(volumes) => {
                let volumes = volumes
                    .iter()
                    .map(|v| expand(v))
                    .collect::<Result<Vec<_>, _>>()?;
                let list = config.volumes.get_or_insert_with(BTreeMap::new);
                for volume in volumes {
                    if volume.is_empty() {
                        return Err(EMPTY_VOLUME.to_owned());
                    }
                    list.insert(volume, Value::Object(Map::new()));
                }
            }
            Instruction::Workdir(path) => {
                let requested = expand(&path)?;
                let current = config.working_dir.as_deref().unwrap_or_default();
                config.working_dir = Some(normalize_workdir(current, &requested)?);
            }
            Instruction::StopSignal(signal) => {
                let signal = expand(&signal)?;
                check_signal(&signal)?;
                config.stop_signal = Some(signal);
            }
            Instruction::OnBuild(expression) => config
                .on_build
                .get_or_insert_with(Vec::new)
                .push(expression),
        }
        Ok(())
    }
}

fn expand_pairs(
    pairs: Vec<(String, String)>,
    expand: &impl Fn(&str) -> Result<String, String>,
) -> Result<Vec<(String, String)>, String> {
    pairs
        .into_iter()
        .map(|(k, v)| Ok((expand(&k)?, expand(&v)?)))
        .collect()
}

/// The shell form gets the image's SHELL (or `/bin/sh -c`) in front; an empty CMD keeps the bare shell.
fn resolve_cmd_line(line: CmdLine, shell: Option<&[String]>) -> Option<Vec<String>> {
    let args = line.args?;
    if !line.prepend_shell {
        return Some(args);
    }
    let mut out: Vec<String> = match shell {
        Some(shell) if !shell.is_empty() => shell.to_vec(),
        _ => DEFAULT_SHELL.iter().map(|s| (*s).to_owned()).collect(),
    };
    out.extend(args);
    Some(out)
}

/// A relative WORKDIR is joined to the current one (from `/`); the result is cleaned like Go's
/// `filepath.Clean`.
fn normalize_workdir(current: &str, requested: &str) -> Result<String, String> {
    if requested.is_empty() {
        return Err("cannot normalize nothing".to_owned());
    }
    if requested.starts_with('/') {
        Ok(clean_path(requested))
    } else {
        Ok(clean_path(&format!("/{current}/{requested}")))
    }
}

/// Go's `path.Clean` for rooted and relative paths.
fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for component in path.split('/') {
        match component {
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

/// `[ip:][hostPort:]containerPort[/proto]` to the exposed `port/proto` keys (moby's `parsePortSpec`).
fn parse_port_spec(raw: &str) -> Result<Vec<String>, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let (ip, host_port, container) = match parts.as_slice() {
        [c] => (String::new(), "", *c),
        [h, c] => (String::new(), *h, *c),
        [ip, h, c] => ((*ip).to_owned(), *h, *c),
        [ip @ .., h, c] => (ip.join(":"), *h, *c),
        [] => (String::new(), "", ""),
    };
    let (port, proto) = container.split_once('/').unwrap_or((container, ""));
    if port.is_empty() {
        return Err(format!("no port specified: {raw}<empty>"));
    }
    let proto = if proto.is_empty() {
        "tcp".to_owned()
    } else {
        proto.to_lowercase()
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    check_ip(&ip)?;
    let (start, end) =
        parse_port_range(port).ok_or_else(|| format!("invalid containerPort: {port}"))?;
    if !host_port.is_empty() {
        let (host_start, host_end) =
            parse_port_range(host_port).ok_or_else(|| format!("invalid hostPort: {host_port}"))?;
        if end - start != host_end.wrapping_sub(host_start) && end != start {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {port} and {host_port}"
            ));
        }
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

fn check_ip(ip: &str) -> Result<(), String> {
    let bare = if ip.starts_with('[') {
        ip.strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .ok_or_else(|| format!("invalid IP address {ip}: missing ']' in address"))?
    } else {
        ip
    };
    if bare.is_empty() || bare.parse::<IpAddr>().is_ok() {
        Ok(())
    } else {
        Err(format!(
            "invalid IP address: ParseAddr({}): unable to parse IP",
            go_quote(bare)
        ))
    }
}

/// `start[-end]` (a `/proto` suffix ignored), each a decimal port number; `None` if malformed.
fn parse_port_range(text: &str) -> Option<(u16, u16)> {
    let range = text.split('/').next().unwrap_or_default();
    let port = |s: &str| -> Option<u16> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match range.split_once('-') {
        Some((start, end)) if start != end => {
            let (start, end) = (port(start)?, port(end)?);
            (end >= start).then_some((start, end))
        }
        Some((start, _)) => port(start).map(|p| (p, p)),
        None => port(range).map(|p| (p, p)),
    }
}

/// Signal names moby's `signal.ParseSignal` knows on Linux (after an optional `SIG`).
const SIGNAL_NAMES: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMIN+1",
    "RTMIN+2", "RTMIN+3", "RTMIN+4", "RTMIN+5", "RTMIN+6", "RTMIN+7", "RTMIN+8", "RTMIN+9",
    "RTMIN+10", "RTMIN+11", "RTMIN+12", "RTMIN+13", "RTMIN+14", "RTMIN+15", "RTMAX-14", "RTMAX-13",
    "RTMAX-12", "RTMAX-11", "RTMAX-10", "RTMAX-9", "RTMAX-8", "RTMAX-7", "RTMAX-6", "RTMAX-5",
    "RTMAX-4", "RTMAX-3", "RTMAX-2", "RTMAX-1", "RTMAX",
];

fn check_signal(raw: &str) -> Result<(), String> {
    let invalid = || Err(format!("invalid signal: {raw}"));
    if let Ok(number) = parse_go_atoi(raw) {
        return if number == 0 { invalid() } else { Ok(()) };
    }
    let upper = raw.to_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNAL_NAMES.contains(&name) {
        Ok(())
    } else {
        invalid()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Shell-style word expansion (BuildKit's `shell.Lex`): quotes, escapes, `$VAR`, `${VAR}` and the
// `-`, `+` and `?` modifiers with or without `:`.

/// Environment variables for expansion; a later entry for a name wins.
#[derive(Debug, Default)]
struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    fn from_slice(entries: &[String]) -> Self {
        let vars = entries
            .iter()
            .map(|e| match e.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (e.clone(), String::new()),
            })
            .collect();
        Self { vars }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

#[derive(Debug, Clone, Copy)]
struct Lexer {
    escape: char,
}

impl Lexer {
    /// Expands one word, keeping its inner whitespace (ENV, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL).
    fn process_word(&self, word: &str, env: &Env) -> Result<String, String> {
        self.process(word, env).map(|(result, _)| result)
    }

    /// Expands then splits at unquoted whitespace (EXPOSE: `$PORTS` may hold several ports).
    fn process_words(&self, word: &str, env: &Env) -> Result<Vec<String>, String> {
        self.process(word, env).map(|(_, words)| words)
    }

    fn process(&self, word: &str, env: &Env) -> Result<(String, Vec<String>), String> {
        let mut scanner = ShellWord {
            chars: word.chars().collect(),
            pos: 0,
            escape: self.escape,
            env,
        };
        scanner
            .process_stop_on(None)
            .map_err(|e| format!("failed to process {}: {e}", go_quote(word)))
    }
}

/// Words being split out of an expansion.
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

#[derive(Debug)]
struct ShellWord<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    env: &'a Env,
}

impl ShellWord<'_> {
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

    fn process_stop_on(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), String> {
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
                '\'' | '"' => {
                    let value = if c == '\'' {
                        self.process_single_quote()?
                    } else {
                        self.process_double_quote()?
                    };
                    result.push_str(&value);
                    words.add_raw_string(&value);
                }
                _ => {
                    self.next();
                    if c == self.escape {
                        // An escape takes the next character literally; at the very end it is dropped.
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

    fn process_single_quote(&mut self) -> Result<String, String> {
        self.next();
        let mut result = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .to_owned(),
                    );
                }
                Some('\'') => return Ok(result),
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Result<String, String> {
        self.next();
        let mut result = String::new();
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
                    return Ok(result);
                }
                Some('$') => result.push_str(&self.process_dollar()?),
                Some(_) => {
                    let mut c = self.next().unwrap_or_default();
                    if c == self.escape {
                        match self.peek() {
                            None => continue,
                            // Only these can be escaped inside double quotes; other escapes stay as written.
                            Some(next) if next == '"' || next == '$' || next == self.escape => {
                                c = self.next().unwrap_or_default();
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(c);
                }
            }
        }
    }

    fn process_dollar(&mut self) -> Result<String, String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_owned());
            }
            return Ok(self.env.get(&name).unwrap_or_default().to_owned());
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".to_owned()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".to_owned()),
            Some(_) => {}
        }
        let name = self.process_name();
        let c = self.next();
        let mut modifier_text = c.map_or('\u{fffd}', |c| c).to_string();
        let (modifier, null_is_unset) = match c {
            Some('}') => return Ok(self.env.get(&name).unwrap_or_default().to_owned()),
            Some(':') => {
                let m = self.next();
                modifier_text.push(m.map_or('\u{fffd}', |m| m));
                if matches!(m, Some('#' | '%')) {
                    return Err(format!(
                        "unsupported modifier ({modifier_text}) in substitution"
                    ));
                }
                (m, true)
            }
            Some('+' | '-' | '?') => (c, false),
            // BuildKit also has `#`, `%` (pattern trimming) and `/` (replacement); hoist does not.
            _ => {
                return Err(format!(
                    "unsupported modifier ({modifier_text}) in substitution"
                ));
            }
        };
        let word = match self.process_stop_on(Some('}')) {
            Ok((word, _)) => word,
            Err(_) if self.peek().is_none() => return Err("syntax error: missing '}'".to_owned()),
            Err(e) => return Err(e),
        };
        let value = self.env.get(&name);
        let unset = value.is_none() || (null_is_unset && value == Some(""));
        match modifier {
            Some('-') => Ok(if unset {
                word
            } else {
                value.unwrap_or_default().to_owned()
            }),
            Some('+') => Ok(if unset { String::new() } else { word }),
            Some('?') => match value {
                Some(v) if !unset => Ok(v.to_owned()),
                _ => {
                    let default = if value.is_none() {
                        "is not allowed to be unset"
                    } else {
                        "is not allowed to be empty"
                    };
                    let message = if word.is_empty() {
                        default
                    } else {
                        word.as_str()
                    };
                    Err(format!("{name}: {message}"))
                }
            },
            _ => Err(format!(
                "unsupported modifier ({modifier_text}) in substitution"
            )),
        }
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

// ---------------------------------------------------------------------------------------------------------
// Go-compatible helpers for the values and messages moby produces.

/// Go's `strconv.Quote`, for error messages.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if c.is_control() || (c.is_whitespace() && c != ' ') => {
                let code = u32::from(c);
                if code < 0x80 {
                    out.push_str(&format!("\\x{code:02x}"));
                } else if code <= 0xffff {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `time.ParseDuration`, in nanoseconds, with Go's error text.
fn parse_go_duration(original: &str) -> Result<i64, String> {
    hoist_render::gotime::parse_go_duration(original).map_err(|e| e.to_string())
}

/// Go's `strconv.ParseInt(s, 10, 32)`.
fn parse_go_int32(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    s.parse::<i32>().map(i64::from).map_err(|_| {
        format!(
            "strconv.ParseInt: parsing {}: value out of range",
            go_quote(s)
        )
    })
}

/// Go's `strconv.Atoi`.
fn parse_go_atoi(s: &str) -> Result<i64, ()> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    s.parse::<i64>().map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Applies the changes to an empty config.
    fn apply(changes: &[&str]) -> Result<ContainerConfig, String> {
        apply_to(ContainerConfig::default(), changes)
    }

    fn apply_to(mut config: ContainerConfig, changes: &[&str]) -> Result<ContainerConfig, String> {
        match apply_changes(&mut config, &strings(changes)) {
            Ok(()) => Ok(config),
            Err(OpsError::InvalidChange(message)) => Err(message),
            Err(other) => Err(format!("unexpected error kind: {other}")),
        }
    }

    fn ok(changes: &[&str]) -> ContainerConfig {
        apply(changes).unwrap_or_else(|e| panic!("{changes:?} refused: {e}"))
    }

    fn refused(changes: &[&str]) -> String {
        match apply(changes) {
            Ok(c) => panic!("{changes:?} accepted: {c:?}"),
            Err(e) => e,
        }
    }

    fn env(config: &ContainerConfig) -> Vec<String> {
        config.env.clone().unwrap_or_default()
    }

    fn keys(map: Option<&BTreeMap<String, Value>>) -> Vec<String> {
        map.map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    #[test]
    fn no_changes_leave_the_config_alone() {
        let mut config = ContainerConfig {
            user: Some("u".into()),
            ..ContainerConfig::default()
        };
        apply_changes(&mut config, &[]).unwrap();
        assert_eq!(config.user.as_deref(), Some("u"));
    }

    #[test]
    fn cmd_in_exec_and_shell_form() {
        assert_eq!(
            ok(&[r#"CMD ["nginx", "-g", "daemon off;"]"#]).cmd,
            Some(strings(&["nginx", "-g", "daemon off;"]))
        );
        assert_eq!(
            ok(&["cmd echo hi  there"]).cmd,
            Some(strings(&["/bin/sh", "-c", "echo hi  there"]))
        );
        assert_eq!(
            ok(&[r#"CMD [ "a" , "b\"c", "\u0041" ]"#]).cmd,
            Some(strings(&["a", "b\"c", "A"]))
        );
        // Quotes and `$` are the shell's business in shell form.
        assert_eq!(
            ok(&[r#"CMD echo "a  b" \$x"#]).cmd,
            Some(strings(&["/bin/sh", "-c", r#"echo "a  b" \$x"#]))
        );
    }

    #[test]
    fn json_that_is_not_valid_is_the_shell_form() {
        // The seed documents' single-quoted array: Docker runs it through /bin/sh as written.
        assert_eq!(
            ok(&["CMD ['nginx', '-g', 'daemon off;']"]).cmd,
            Some(strings(&[
                "/bin/sh",
                "-c",
                "['nginx', '-g', 'daemon off;']"
            ]))
        );
        assert_eq!(
            ok(&[r#"CMD ["a",]"#]).cmd,
            Some(strings(&["/bin/sh", "-c", r#"["a",]"#]))
        );
        assert_eq!(
            ok(&[r#"CMD ["a"] x"#]).cmd,
            Some(strings(&["/bin/sh", "-c", r#"["a"] x"#]))
        );
        assert_eq!(
            ok(&[r#"ENTRYPOINT ["unclosed""#]).entrypoint,
            Some(strings(&["/bin/sh", "-c", r#"["unclosed""#]))
        );
    }

    #[test]
    fn json_arrays_must_hold_strings() {
        for change in [
            r#"CMD ["a", 1]"#,
            "ENTRYPOINT [null]",
            r#"VOLUME ["/a", 2]"#,
            r#"ONBUILD CMD ["a", 1]"#,
        ] {
            assert_eq!(refused(&[change]), NOT_STRING_ARRAY, "{change}");
        }
    }

    #[test]
    fn empty_cmd_and_entrypoint() {
        assert_eq!(ok(&["CMD"]).cmd, Some(strings(&["/bin/sh", "-c"])));
        assert_eq!(ok(&["CMD []"]).cmd, Some(Vec::new()));
        let base = ContainerConfig {
            entrypoint: Some(strings(&["/e"])),
            ..ContainerConfig::default()
        };
        assert_eq!(
            apply_to(base.clone(), &["ENTRYPOINT []"])
                .unwrap()
                .entrypoint,
            None
        );
        assert_eq!(apply_to(base, &["ENTRYPOINT"]).unwrap().entrypoint, None);
    }

    #[test]
    fn entrypoint_resets_cmd_unless_these_changes_set_one() {
        let base = ContainerConfig {
            cmd: Some(strings(&["old"])),
            ..ContainerConfig::default()
        };
        let c = apply_to(base.clone(), &[r#"ENTRYPOINT ["/app"]"#]).unwrap();
        assert_eq!((c.entrypoint, c.cmd), (Some(strings(&["/app"])), None));
        for changes in [
            [r#"CMD ["a"]"#, r#"ENTRYPOINT ["/app"]"#],
            [r#"ENTRYPOINT ["/app"]"#, r#"CMD ["a"]"#],
        ] {
            let c = apply_to(base.clone(), &changes).unwrap();
            assert_eq!(
                (c.entrypoint, c.cmd),
                (Some(strings(&["/app"])), Some(strings(&["a"]))),
                "{changes:?}"
            );
        }
        // An empty CMD does not count as set.
        let c = apply_to(base.clone(), &["CMD []", r#"ENTRYPOINT ["/app"]"#]).unwrap();
        assert_eq!(c.cmd, None);
        // Once set, a later empty CMD is kept through ENTRYPOINT.
        let c = apply_to(base, &[r#"CMD ["a"]"#, "CMD []", r#"ENTRYPOINT ["e"]"#]).unwrap();
        assert_eq!(c.cmd, Some(Vec::new()));
        assert_eq!(
            ok(&["ENTRYPOINT /bin/app x"]).entrypoint,
            Some(strings(&["/bin/sh", "-c", "/bin/app x"]))
        );
    }

    #[test]
    fn shell_form_uses_the_image_shell() {
        let base = ContainerConfig {
            shell: Some(strings(&["/bin/bash", "-lc"])),
            ..ContainerConfig::default()
        };
        assert_eq!(
            apply_to(base, &["CMD run it"]).unwrap().cmd,
            Some(strings(&["/bin/bash", "-lc", "run it"]))
        );
    }

    #[test]
    fn cmd_and_entrypoint_are_not_expanded() {
        let c = ok(&[
            "ENV V=/v",
            "CMD echo $V",
            r#"ENTRYPOINT ["$V"]"#,
            r#"CMD ["$V"]"#,
        ]);
        assert_eq!(c.entrypoint, Some(strings(&["$V"])));
        assert_eq!(c.cmd, Some(strings(&["$V"])));
    }

    #[test]
    fn env_forms_quotes_and_escapes() {
        assert_eq!(
            env(&ok(&[r#"ENV A=1 B="two words" C=x\ y"#])),
            strings(&["A=1", "B=two words", "C=x y"])
        );
        assert_eq!(
            env(&ok(&[r#"ENV A="a\"b" B='s q' C=a\\b D= E="""#])),
            strings(&["A=a\"b", "B=s q", "C=a\\b", "D=", "E="])
        );
        // Legacy form: the rest of the line is the value, quotes processed, inner spacing kept.
        assert_eq!(env(&ok(&[r#"ENV A 1   2  "3""#])), strings(&["A=1   2  3"]));
        assert_eq!(env(&ok(&[r#"env "Q" v"#])), strings(&["Q=v"]));
    }

    #[test]
    fn env_replaces_in_place_and_expands_earlier_values() {
        let base = ContainerConfig {
            env: Some(strings(&["PATH=/bin", "A=0", "Z=z"])),
            ..ContainerConfig::default()
        };
        let c = apply_to(base, &["ENV A=1", "ENV B=$A C=${A}x A=2"]).unwrap();
        // Within one ENV, references see the values from before it.
        assert_eq!(
            env(&c),
            strings(&["PATH=/bin", "A=2", "Z=z", "B=1", "C=1x"])
        );
        // Keys are case-sensitive on Linux.
        assert_eq!(env(&ok(&["ENV a=1", "ENV A=2"])), strings(&["a=1", "A=2"]));
        assert_eq!(env(&ok(&["ENV K=k", "ENV $K=v"])), strings(&["K=k", "k=v"]));
    }

    #[test]
    fn env_errors() {
        assert_eq!(refused(&["ENV"]), "ENV requires at least one argument");
        assert_eq!(refused(&["ENV A"]), "ENV must have two arguments");
        assert_eq!(refused(&["ENV =x"]), "ENV names can not be blank");
        assert_eq!(
            refused(&["ENV A=1 B"]),
            r#"Syntax error - can't find = in "B". Must be of the form: name=value"#
        );
        assert_eq!(
            refused(&["ENV X=1 # comment"]),
            r##"Syntax error - can't find = in "#". Must be of the form: name=value"##
        );
        assert_eq!(refused(&["ENV --foo A=1"]), "unknown flag: --foo");
    }

    #[test]
    fn variable_substitution_forms() {
        let c = ok(&[
            "ENV A=1 E=",
            r"ENV B=$A C=${A}x D=${Z:-def} F=${A:+alt} G=${Z:+alt} H=\$A I='$A' J=${E:-e} K=${E-e} L=${E+set}",
            r#"ENV M="$A ${A}" N=$$ O=$ P=a$"#,
        ]);
        assert_eq!(
            env(&c),
            strings(&[
                "A=1", "E=", "B=1", "C=1x", "D=def", "F=alt", "G=", "H=$A", "I=$A", "J=e", "K=",
                "L=set", "M=1 1", "N=", "O=$", "P=a$",
            ])
        );
        assert_eq!(
            env(&ok(&["ENV A=1", "ENV B=${Z:-${A}2}"])),
            strings(&["A=1", "B=12"])
        );
    }

    #[test]
    fn variable_substitution_errors() {
        assert_eq!(
            refused(&["ENV A=${B:?oops}"]),
            r#"failed to process "${B:?oops}": B: oops"#
        );
        assert_eq!(
            refused(&["ENV A=${B?}"]),
            r#"failed to process "${B?}": B: is not allowed to be unset"#
        );
        assert_eq!(
            refused(&["ENV A=${}"]),
            r#"failed to process "${}": syntax error: bad substitution"#
        );
        assert_eq!(
            refused(&["ENV A=${B"]),
            r#"failed to process "${B": unsupported modifier (�) in substitution"#
        );
        assert_eq!(
            refused(&["ENV A=${B:-x"]),
            r#"failed to process "${B:-x": syntax error: missing '}'"#
        );
        assert_eq!(
            refused(&["ENV A=${B:x}"]),
            r#"failed to process "${B:x}": unsupported modifier (:x) in substitution"#
        );
        assert_eq!(
            refused(&["ENV A='unclosed"]),
            r#"failed to process "'unclosed": unexpected end of statement while looking for matching single-quote"#
        );
    }

    #[test]
    fn labels_with_quotes_legacy_form_and_expansion() {
        let c = ok(&[
            r#"LABEL a=b "c d"="e f" g=h\ i"#,
            "LABEL a=c",
            "ENV V=/v",
            r#"LABEL x=$V "y"="${V}""#,
        ]);
        let labels = c.labels.unwrap();
        assert_eq!(labels.get("a").map(String::as_str), Some("c"));
        assert_eq!(labels.get("c d").map(String::as_str), Some("e f"));
        assert_eq!(labels.get("g").map(String::as_str), Some("h i"));
        assert_eq!(labels.get("x").map(String::as_str), Some("/v"));
        assert_eq!(labels.get("y").map(String::as_str), Some("/v"));
        assert_eq!(
            ok(&["LABEL a b c"])
                .labels
                .unwrap()
                .get("a")
                .map(String::as_str),
            Some("b c")
        );
        assert_eq!(refused(&["LABEL"]), "LABEL requires at least one argument");
        assert_eq!(refused(&["LABEL a"]), "LABEL must have two arguments");
    }

    #[test]
    fn expose_ports_ranges_and_protocols() {
        let c = ok(&[
            "EXPOSE 80 443/tcp 53/udp 8000-8002 70/SCTP 8080:81 1.2.3.4:9090:82/udp [::1]:1:83",
        ]);
        assert_eq!(
            keys(c.exposed_ports.as_ref()),
            strings(&[
                "443/tcp", "53/udp", "70/sctp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp",
                "81/tcp", "82/udp", "83/tcp"
            ])
        );
        assert_eq!(
            c.exposed_ports.unwrap().get("80/tcp"),
            Some(&Value::Object(Map::new()))
        );
        let c = ok(&[r#"ENV P="80 443" Q=9"#, "EXPOSE $P ${Q}0"]);
        assert_eq!(
            keys(c.exposed_ports.as_ref()),
            strings(&["443/tcp", "80/tcp", "90/tcp"])
        );
    }

    #[test]
    fn expose_errors() {
        assert_eq!(
            refused(&["EXPOSE"]),
            "EXPOSE requires at least one argument"
        );
        assert_eq!(refused(&["EXPOSE abc"]), "invalid containerPort: abc");
        assert_eq!(refused(&["EXPOSE 70000"]), "invalid containerPort: 70000");
        assert_eq!(
            refused(&["EXPOSE 8000-7999"]),
            "invalid containerPort: 8000-7999"
        );
        assert_eq!(refused(&["EXPOSE +80"]), "invalid containerPort: +80");
        assert_eq!(refused(&["EXPOSE 80/xyz"]), "invalid proto: xyz");
        assert_eq!(refused(&["EXPOSE /tcp"]), "no port specified: /tcp<empty>");
        assert_eq!(refused(&["EXPOSE x:80"]), "invalid hostPort: x");
        assert_eq!(
            refused(&["EXPOSE 1-3:80-81"]),
            "invalid ranges specified for container and host Ports: 80-81 and 1-3"
        );
    }

    #[test]
    fn volumes_in_both_forms() {
        assert_eq!(
            keys(ok(&[r#"VOLUME ["/a", "/b"]"#]).volumes.as_ref()),
            strings(&["/a", "/b"])
        );
        assert_eq!(
            keys(ok(&["VOLUME /c   /d"]).volumes.as_ref()),
            strings(&["/c", "/d"])
        );
        assert_eq!(
            keys(ok(&["ENV V=/v", "VOLUME $V ${V}2"]).volumes.as_ref()),
            strings(&["/v", "/v2"])
        );
        assert_eq!(
            keys(ok(&["ENV V=/v", r#"VOLUME ["$V"]"#]).volumes.as_ref()),
            strings(&["/v"])
        );
        // Not JSON: split at whitespace, quotes resolved at expansion.
        assert_eq!(
            keys(ok(&[r#"VOLUME ["/a" /b"#]).volumes.as_ref()),
            strings(&["/b", "[/a"])
        );
        assert_eq!(
            refused(&["VOLUME"]),
            "VOLUME requires at least one argument"
        );
        assert_eq!(
            refused(&["VOLUME []"]),
            "VOLUME requires at least one argument"
        );
        assert_eq!(refused(&[r#"VOLUME [""]"#]), EMPTY_VOLUME);
        assert_eq!(refused(&["VOLUME $UNSET"]), EMPTY_VOLUME);
    }

    #[test]
    fn workdir_joins_relative_paths_and_cleans() {
        assert_eq!(
            ok(&["WORKDIR a", "WORKDIR b/../c"]).working_dir.as_deref(),
            Some("/a/c")
        );
        assert_eq!(
            ok(&["WORKDIR /x/./y/"]).working_dir.as_deref(),
            Some("/x/y")
        );
        assert_eq!(
            ok(&["WORKDIR /x", "WORKDIR ./y/"]).working_dir.as_deref(),
            Some("/x/y")
        );
        assert_eq!(ok(&["WORKDIR ../.."]).working_dir.as_deref(), Some("/"));
        assert_eq!(
            ok(&["ENV D=/data", "WORKDIR $D/x"]).working_dir.as_deref(),
            Some("/data/x")
        );
        assert_eq!(
            ok(&[r#"WORKDIR "/x y""#]).working_dir.as_deref(),
            Some("/x y")
        );
        assert_eq!(ok(&["WORKDIR a b"]).working_dir.as_deref(), Some("/a b"));
        assert_eq!(
            refused(&["WORKDIR"]),
            "WORKDIR requires exactly one argument"
        );
        assert_eq!(refused(&["WORKDIR $UNSET"]), "cannot normalize nothing");
    }

    #[test]
    fn user_and_stopsignal() {
        assert_eq!(ok(&["USER 1000:1000"]).user.as_deref(), Some("1000:1000"));
        assert_eq!(ok(&[r#"USER "bob""#]).user.as_deref(), Some("bob"));
        assert_eq!(ok(&["ENV U=bob", "USER $U"]).user.as_deref(), Some("bob"));
        assert_eq!(refused(&["USER"]), "USER requires exactly one argument");
        assert_eq!(
            ok(&["STOPSIGNAL SIGKILL"]).stop_signal.as_deref(),
            Some("SIGKILL")
        );
        assert_eq!(
            ok(&["stopsignal term"]).stop_signal.as_deref(),
            Some("term")
        );
        assert_eq!(ok(&["STOPSIGNAL 9"]).stop_signal.as_deref(), Some("9"));
        assert_eq!(
            ok(&["STOPSIGNAL SIGRTMIN+3"]).stop_signal.as_deref(),
            Some("SIGRTMIN+3")
        );
        assert_eq!(
            ok(&["ENV S=QUIT", "STOPSIGNAL $S"]).stop_signal.as_deref(),
            Some("QUIT")
        );
        assert_eq!(refused(&["STOPSIGNAL SIGNOPE"]), "invalid signal: SIGNOPE");
        assert_eq!(refused(&["STOPSIGNAL 0"]), "invalid signal: 0");
        assert_eq!(
            refused(&["STOPSIGNAL"]),
            "STOPSIGNAL requires exactly one argument"
        );
    }

    #[test]
    fn onbuild_keeps_the_trigger_as_written() {
        let c = ok(&[
            "onbuild run echo hi",
            "ONBUILD   RUN   echo   hi",
            "ONBUILD BOGUS x",
            "ONBUILD ADD . /app",
        ]);
        assert_eq!(
            c.on_build,
            Some(strings(&[
                "run echo hi",
                "RUN   echo   hi",
                "BOGUS x",
                "ADD . /app"
            ]))
        );
        assert_eq!(
            refused(&["ONBUILD ONBUILD RUN x"]),
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
        );
        assert_eq!(
            refused(&["ONBUILD from x"]),
            "FROM isn't allowed as an ONBUILD trigger"
        );
        assert_eq!(
            refused(&["ONBUILD maintainer x"]),
            "MAINTAINER isn't allowed as an ONBUILD trigger"
        );
        assert_eq!(
            refused(&["ONBUILD"]),
            "ONBUILD requires at least one argument"
        );
    }

    #[test]
    fn healthcheck_forms_and_flags() {
        let test = |c: ContainerConfig| c.healthcheck.unwrap_or_default();
        assert_eq!(
            test(ok(&["HEALTHCHECK CMD curl -f http://x/"])),
            serde_json::json!({"Test": ["CMD-SHELL", "curl -f http://x/"]})
        );
        assert_eq!(
            test(ok(&[
                r#"HEALTHCHECK --interval=5s --timeout=3s --retries=2 --start-period=1m30s --start-interval=1.5ms CMD ["curl","x"]"#
            ])),
            serde_json::json!({"Test": ["CMD", "curl", "x"], "Interval": 5_000_000_000_i64, "Timeout": 3_000_000_000_i64,
                "StartPeriod": 90_000_000_000_i64, "StartInterval": 1_500_000, "Retries": 2})
        );
        assert_eq!(
            test(ok(&["healthcheck none"])),
            serde_json::json!({"Test": ["NONE"]})
        );
    }

    #[test]
    fn healthcheck_errors() {
        assert_eq!(
            refused(&["HEALTHCHECK"]),
            "HEALTHCHECK requires at least one argument"
        );
        assert_eq!(
            refused(&["HEALTHCHECK NONE x"]),
            "HEALTHCHECK NONE takes no arguments"
        );
        assert_eq!(
            refused(&["HEALTHCHECK FOO x"]),
            r#"Unknown type "FOO" in HEALTHCHECK (try CMD)"#
        );
        assert_eq!(
            refused(&["HEALTHCHECK CMD"]),
            "Missing command after HEALTHCHECK CMD"
        );
        assert_eq!(
            refused(&["HEALTHCHECK --interva=5s CMD x"]),
            "unknown flag: --interva (did you mean interval?)"
        );
        assert_eq!(
            refused(&["HEALTHCHECK --bogus=1 CMD x"]),
            "unknown flag: --bogus"
        );
        assert_eq!(
            refused(&["HEALTHCHECK --interval CMD x"]),
            "missing a value on flag: --interval"
        );
        assert_eq!(
            refused(&["HEALTHCHECK --retries=1 --retries=2 CMD x"]),
            "duplicate flag specified: --retries"
        );
        assert_eq!(
            refused(&["HEALTHCHECK --interval=0.5ms CMD x"]),
            r#"Interval "interval" cannot be less than 1ms"#
        );
        assert_eq!(
            refused(&["HEALTHCHECK --timeout=5 CMD x"]),
            r#"time: missing unit in duration "5""#
        );
        assert_eq!(
            refused(&["HEALTHCHECK --timeout=5d CMD x"]),
            r#"time: unknown unit "d" in duration "5d""#
        );
        assert_eq!(
            refused(&["HEALTHCHECK --timeout=x CMD x"]),
            r#"time: invalid duration "x""#
        );
        assert_eq!(
            refused(&["HEALTHCHECK --retries=x CMD x"]),
            r#"strconv.ParseInt: parsing "x": invalid syntax"#
        );
        assert_eq!(
            refused(&["HEALTHCHECK --retries=-1 CMD x"]),
            "--retries cannot be negative (-1)"
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h2m3.5s"), Ok(3_723_500_000_000));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("2\u{b5}s"), Ok(2_000));
        assert_eq!(parse_go_duration(".5s"), Ok(500_000_000));
        assert_eq!(parse_go_duration("-1.5h"), Ok(-5_400_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration(".s").is_err());
        assert!(parse_go_duration("3000000h").is_err());
    }

    #[test]
    fn instructions_that_are_not_changes_are_refused_as_written() {
        assert_eq!(refused(&["RUN echo"]), "RUN is not a valid change command");
        assert_eq!(refused(&["run echo"]), "run is not a valid change command");
        assert_eq!(refused(&["FROM x"]), "FROM is not a valid change command");
        assert_eq!(refused(&["COPY a b"]), "COPY is not a valid change command");
        assert_eq!(refused(&["Add a b"]), "Add is not a valid change command");
        assert_eq!(
            refused(&["MAINTAINER me"]),
            "MAINTAINER is not a valid change command"
        );
        assert_eq!(refused(&["BOGUS x"]), "BOGUS is not a valid change command");
        // Checked for every change before any is applied.
        assert_eq!(
            refused(&["ENV A=1", "SHELL [\"/bin/bash\"]"]),
            "SHELL is not a valid change command"
        );
    }

    #[test]
    fn instruction_names_are_case_insensitive() {
        let c = ok(&[
            "Env A=1",
            "label l=v",
            "Cmd [\"c\"]",
            "eNtRyPoInT [\"e\"]",
            "expose 1",
            "volume /v",
            "user u",
            "workdir /w",
        ]);
        assert_eq!(env(&c), strings(&["A=1"]));
        assert_eq!(
            (
                c.cmd.is_some(),
                c.entrypoint.is_some(),
                c.user.as_deref(),
                c.working_dir.as_deref()
            ),
            (true, true, Some("u"), Some("/w"))
        );
    }

    #[test]
    fn dockerfile_syntax_across_changes() {
        assert_eq!(refused(&[""]), "file with no instructions");
        assert_eq!(refused(&["# only a comment"]), "file with no instructions");
        assert_eq!(env(&ok(&["# comment", "ENV X=1"])), strings(&["X=1"]));
        // A trailing escape continues the instruction into the next change.
        assert_eq!(env(&ok(&["ENV A=1 \\", "B=2"])), strings(&["A=1", "B=2"]));
        assert_eq!(env(&ok(&["ENV X=a\\\nb"])), strings(&["X=ab"]));
        // The escape directive changes the escape character.
        assert_eq!(
            env(&ok(&["# escape=`", "ENV A=x`", "B=2"])),
            strings(&["A=xB=2"])
        );
        assert_eq!(
            env(&ok(&["# escape=`", "ENV A=C:\\dir"])),
            strings(&["A=C:\\dir"])
        );
        assert_eq!(
            refused(&["# escape=x", "ENV A=1"]),
            "invalid escape token 'x' does not match ` or \\"
        );
        assert_eq!(
            refused(&["# escape=`", "# escape=`", "ENV A=1"]),
            "only one escape parser directive can be used"
        );
        // One change may hold several lines.
        assert_eq!(env(&ok(&["ENV A=1\nENV B=2"])), strings(&["A=1", "B=2"]));
    }

    #[test]
    fn a_refused_change_leaves_the_config_untouched() {
        let mut config = ContainerConfig {
            env: Some(strings(&["A=0"])),
            ..ContainerConfig::default()
        };
        let err = apply_changes(&mut config, &strings(&["ENV A=1", "EXPOSE nope"])).unwrap_err();
        assert_eq!(err.to_string(), "invalid containerPort: nope");
        assert_eq!(config.env, Some(strings(&["A=0"])));
    }

    #[test]
    fn parse_errors_come_before_dispatch_errors() {
        // The bad port would fail at dispatch, but the later instruction fails to parse first.
        assert_eq!(
            refused(&["EXPOSE nope", "USER"]),
            "USER requires exactly one argument"
        );
    }

    #[test]
    fn quoting_matches_go() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), r#""a\"b\\c\n\x01é""#);
        assert_eq!(clean_path("/a/../../b/./c/"), "/b/c");
        assert_eq!(clean_path("a/../.."), "..");
    }
}
