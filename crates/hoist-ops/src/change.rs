//! Docker's `--change` instructions (`import -c`, `commit -c`) applied to a container config the way moby's
//! `BuildFromConfig` applies them.
//!
//! The changes are joined with newlines and read as a Dockerfile by BuildKit's rules, through
//! `hoist-dockerfile`'s line parser (comments, line continuations, the `escape` directive, `--flags`, JSON
//! or shell form); each instruction must be one of CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL,
//! ONBUILD, STOPSIGNAL, USER, VOLUME or WORKDIR; all are parsed into typed instructions before any is
//! applied; then they are dispatched in order as moby's classic builder does, with `$VAR`/`${VAR}`
//! expansion (BuildKit's expander) from the ENV values set so far. Error texts are moby's and BuildKit's,
//! without a location.
//!
//! Calls go down only: [`apply_changes`] → `hoist_dockerfile` parser → dispatcher, which uses the
//! expander and the small Go-compatible helpers at the end of the file.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use hoist_dockerfile::ignore::clean_path;
use hoist_dockerfile::{
    CommandLine, Expander, Healthcheck, KeyValue, go_quote, parser::parse_nodes,
};
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

const EMPTY_VOLUME: &str = "VOLUME specified can not be an empty string";

fn build_from_config(
    config: &ContainerConfig,
    changes: &[String],
) -> Result<ContainerConfig, String> {
    let parsed = parse_nodes(&changes.join("\n")).map_err(|d| d.message)?;
    let mut instructions = Vec::with_capacity(parsed.nodes.len());
    for node in &parsed.nodes {
        if !VALID_CHANGE_COMMANDS.contains(&node.keyword.to_lowercase().as_str()) {
            return Err(format!("{} is not a valid change command", node.keyword));
        }
        let instruction = node.to_instruction().map_err(|d| d.message)?;
        instructions.push(Instruction::from_command(instruction.command)?);
    }
    let mut state = DispatchState {
        config: config.clone(),
        cmd_set: false,
    };
    for instruction in instructions {
        state.dispatch(parsed.directives.escape, instruction)?;
    }
    Ok(state.config)
}

// ---------------------------------------------------------------------------------------------------------
// Instructions as the classic builder applies them.

#[derive(Debug, Clone, PartialEq, Eq)]
struct CmdLine {
    /// `None` only for an empty ENTRYPOINT, which unsets it.
    args: Option<Vec<String>>,
    prepend_shell: bool,
}

impl CmdLine {
    /// BuildKit's `handleJSONArgs` result: the array, or the shell text (none when nothing was written).
    fn from_line(line: CommandLine, empty_as_none: bool) -> Self {
        let (args, prepend_shell) = match line {
            CommandLine::Exec(args) => (args, false),
            CommandLine::Shell(text) if text.is_empty() => (Vec::new(), true),
            CommandLine::Shell(text) => (vec![text], true),
        };
        Self {
            args: (!(empty_as_none && args.is_empty())).then_some(args),
            prepend_shell,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct HealthConfig {
    test: Vec<String>,
    interval: i64,
    timeout: i64,
    start_period: i64,
    start_interval: i64,
    retries: i64,
}

impl HealthConfig {
    fn from_healthcheck(health: Healthcheck) -> Self {
        match health {
            Healthcheck::None => Self {
                test: vec!["NONE".to_owned()],
                ..Self::default()
            },
            Healthcheck::Check {
                command,
                interval,
                timeout,
                start_period,
                start_interval,
                retries,
            } => {
                let test = match command {
                    CommandLine::Exec(args) => {
                        std::iter::once("CMD".to_owned()).chain(args).collect()
                    }
                    CommandLine::Shell(text) => vec!["CMD-SHELL".to_owned(), text],
                };
                Self {
                    test,
                    interval: interval.unwrap_or(0),
                    timeout: timeout.unwrap_or(0),
                    start_period: start_period.unwrap_or(0),
                    start_interval: start_interval.unwrap_or(0),
                    retries: retries.unwrap_or(0),
                }
            }
        }
    }

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
    Healthcheck(HealthConfig),
    Expose(Vec<String>),
    User(String),
    Volume(Vec<String>),
    Workdir(String),
    StopSignal(String),
    OnBuild(String),
}

impl Instruction {
    fn from_command(command: hoist_dockerfile::Command) -> Result<Self, String> {
        use hoist_dockerfile::Command as C;
        let pairs = |kvs: Vec<KeyValue>| kvs.into_iter().map(|kv| (kv.key, kv.value)).collect();
        Ok(match command {
            C::Env(kvs) => Self::Env(pairs(kvs)),
            C::Label(kvs) => Self::Label(pairs(kvs)),
            C::Cmd(line) => Self::Cmd(CmdLine::from_line(line, false)),
            C::Entrypoint(line) => Self::Entrypoint(CmdLine::from_line(line, true)),
            C::Healthcheck(health) => Self::Healthcheck(HealthConfig::from_healthcheck(health)),
            C::Expose(ports) => Self::Expose(ports),
            C::User(user) => Self::User(user),
            C::Volume(volumes) => Self::Volume(volumes),
            C::Workdir(path) => Self::Workdir(path),
            C::Stopsignal(signal) => Self::StopSignal(signal),
            C::Onbuild(expression) => Self::OnBuild(expression),
            other => return Err(format!("{} is not a valid change command", other.keyword())),
        })
    }
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
    fn dispatch(&mut self, escape: char, instruction: Instruction) -> Result<(), String> {
        let env = Env::from_slice(self.config.env.as_deref().unwrap_or_default());
        let lookup = |name: &str| env.get(name).map(str::to_owned);
        let expander = Expander {
            escape,
            lookup: &lookup,
        };
        let expand = |word: &str| {
            expander
                .expand(word)
                .map(|e| e.value)
                .map_err(|e| e.to_string())
        };
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
                    words.extend(expander.expand_words(port).map_err(|e| e.to_string())?);
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
// Variables for expansion.

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

// ---------------------------------------------------------------------------------------------------------
// Go-compatible helpers for the values and messages moby produces.

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

    const NOT_STRING_ARRAY: &str =
        "when using JSON array syntax, arrays must be comprised of strings only";

    /// Go's `time.ParseDuration` (HEALTHCHECK's durations are parsed by hoist-dockerfile now).
    fn parse_go_duration(original: &str) -> Result<i64, String> {
        hoist_render::gotime::parse_go_duration(original).map_err(|e| e.to_string())
    }

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
