//! BuildKit's `instructions` package for one node: argument counts, the flags each keyword takes, JSON or
//! shell form, and each keyword's own rules, into a typed [`Command`] (or, for `FROM`, a [`Stage`]).

use super::flags::{self, Kind};
use super::heredoc;
use super::{Node, mount};
use crate::parser::go;
use crate::{
    ArgDecl, Command, CommandLine, Copy, Diagnostic, Healthcheck, Instruction, KeyValue, Run, Stage,
};

/// Every instruction's keyword, for the suggestion after an unknown one.
const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

impl Node {
    /// The typed instruction (BuildKit's `ParseCommand`).
    ///
    /// # Errors
    ///
    /// BuildKit's texts: `unknown instruction: FOO` (with `(did you mean …?)`), `RUN`'s `unknown flag: --x`,
    /// `COPY requires at least two arguments, but only one was provided. Destination could not be
    /// determined`, `WORKDIR requires exactly one argument`, … A `FROM` is a stage, not an instruction, and
    /// is refused here.
    pub fn to_instruction(&self) -> Result<Instruction, Diagnostic> {
        let command = self.command().map_err(|e| self.error(e))?;
        Ok(Instruction {
            span: self.span,
            source: self.source.clone(),
            command,
        })
    }

    fn flags(&self, defined: &[(&'static str, Kind)]) -> Result<flags::Flags, String> {
        flags::parse(&self.flags, defined)
    }

    fn exactly_one(&self, name: &str) -> Result<String, String> {
        match self.args.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(format!("{name} requires exactly one argument")),
        }
    }

    fn at_least_one(&self, name: &str) -> Result<(), String> {
        if self.args.is_empty() {
            Err(format!("{name} requires at least one argument"))
        } else {
            Ok(())
        }
    }

    /// BuildKit's `handleJSONArgs`: the array as is, or the shell text.
    fn command_line(&self, args: &[String]) -> CommandLine {
        if self.json {
            CommandLine::Exec(args.to_vec())
        } else {
            CommandLine::Shell(args.join(" "))
        }
    }

    fn command(&self) -> Result<Command, String> {
        Ok(match self.keyword.to_lowercase().as_str() {
            "env" => {
                self.flags(&[])?;
                Command::Env(self.key_values("ENV")?)
            }
            "maintainer" => {
                let who = self.exactly_one("MAINTAINER")?;
                self.flags(&[])?;
                Command::Maintainer(who)
            }
            "label" => {
                self.flags(&[])?;
                Command::Label(self.key_values("LABEL")?)
            }
            "add" => Command::Add(self.copy("ADD")?),
            "copy" => Command::Copy(self.copy("COPY")?),
            "from" => return Err("FROM starts a build stage; it is not an instruction".to_owned()),
            "onbuild" => Command::Onbuild(self.onbuild()?),
            "workdir" => {
                let path = self.exactly_one("WORKDIR")?;
                self.flags(&[])?;
                Command::Workdir(path)
            }
            "run" => Command::Run(self.run()?),
            "cmd" => {
                self.flags(&[])?;
                Command::Cmd(self.command_line(&self.args))
            }
            "entrypoint" => {
                self.flags(&[])?;
                Command::Entrypoint(self.command_line(&self.args))
            }
            "healthcheck" => Command::Healthcheck(self.healthcheck()?),
            "expose" => {
                self.at_least_one("EXPOSE")?;
                self.flags(&[])?;
                let mut ports = self.args.clone();
                ports.sort();
                Command::Expose(ports)
            }
            "user" => {
                let user = self.exactly_one("USER")?;
                self.flags(&[])?;
                Command::User(user)
            }
            "volume" => {
                self.at_least_one("VOLUME")?;
                self.flags(&[])?;
                let mut volumes = Vec::with_capacity(self.args.len());
                for v in &self.args {
                    let v = v.trim();
                    if v.is_empty() {
                        return Err("VOLUME specified can not be an empty string".to_owned());
                    }
                    volumes.push(v.to_owned());
                }
                Command::Volume(volumes)
            }
            // BuildKit reads no flags for STOPSIGNAL and ARG: any are ignored.
            "stopsignal" => Command::Stopsignal(self.exactly_one("STOPSIGNAL")?),
            "arg" => Command::Arg(self.arg()?),
            "shell" => {
                self.flags(&[])?;
                if self.args.is_empty() {
                    return Err("SHELL requires at least one argument".to_owned());
                }
                if !self.json {
                    return Err("SHELL requires the arguments to be in JSON form".to_owned());
                }
                Command::Shell(self.args.clone())
            }
            _ => {
                return Err(go::with_suggestion(
                    format!("unknown instruction: {}", self.keyword),
                    &self.keyword,
                    KEYWORDS,
                    false,
                ));
            }
        })
    }

    /// ENV and LABEL: the (key, value, separator) triples.
    fn key_values(&self, name: &str) -> Result<Vec<KeyValue>, String> {
        if self.args.is_empty() {
            return Err(format!("{name} requires at least one argument"));
        }
        if !self.args.len().is_multiple_of(3) {
            return Err(format!("Bad input to {name}, too many arguments"));
        }
        self.args
            .chunks(3)
            .map(|triple| match triple {
                [key, value, _] if !key.is_empty() => Ok(KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                }),
                _ => Err(format!("{name} names can not be blank")),
            })
            .collect()
    }

    fn copy(&self, name: &str) -> Result<Copy, String> {
        if self.args.len() < 2 {
            return Err(format!(
                "{name} requires at least two arguments, but only one was provided. Destination could not be determined"
            ));
        }
        let is_add = name == "ADD";
        let defined: &[(&'static str, Kind)] = if is_add {
            &[
                ("chown", Kind::String),
                ("chmod", Kind::String),
                ("link", Kind::Bool),
                ("keep-git-dir", Kind::Bool),
                ("checksum", Kind::String),
                ("unpack", Kind::Bool),
                ("exclude", Kind::Strings),
            ]
        } else {
            &[
                ("chown", Kind::String),
                ("from", Kind::String),
                ("chmod", Kind::String),
                ("link", Kind::Bool),
                ("exclude", Kind::Strings),
                ("parents", Kind::Bool),
            ]
        };
        let flags = self.flags(defined)?;
        let Some((dest, sources)) = self.args.split_last() else {
            return Err(format!("{name} requires at least two arguments"));
        };
        if matches!(heredoc::parse_word(dest), Ok(Some(_))) {
            return Err(format!("{name} cannot accept a heredoc as a destination"));
        }
        let sources = sources
            .iter()
            .map(|src| match heredoc::parse_word(src) {
                Ok(Some(doc)) => format!("<<{}", doc.name),
                _ => src.clone(),
            })
            .collect();
        Ok(Copy {
            sources,
            dest: dest.clone(),
            heredocs: self
                .heredocs
                .iter()
                .map(heredoc::RawHeredoc::to_ast)
                .collect(),
            from: flags.string("from"),
            chown: flags.string("chown"),
            chmod: flags.string("chmod"),
            link: flags.bool("link").unwrap_or(false),
            parents: flags.bool("parents").unwrap_or(false),
            exclude: flags.strings("exclude"),
            checksum: flags.string("checksum"),
            keep_git_dir: flags.bool("keep-git-dir").unwrap_or(false),
            unpack: flags.bool("unpack"),
            json: self.json,
        })
    }

    fn onbuild(&self) -> Result<String, String> {
        self.at_least_one("ONBUILD")?;
        self.flags(&[])?;
        let trigger = self.args[0].trim().to_uppercase();
        match trigger.as_str() {
            "ONBUILD" => {
                return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".to_owned());
            }
            "MAINTAINER" | "FROM" => {
                return Err(format!("{trigger} isn't allowed as an ONBUILD trigger"));
            }
            _ => {}
        }
        let mut expression = strip_onbuild_keyword(&self.original).to_owned();
        for doc in &self.heredocs {
            expression.push('\n');
            expression.push_str(&doc.content);
            expression.push_str(&doc.name);
        }
        Ok(expression)
    }

    fn run(&self) -> Result<Run, String> {
        let flags = self.flags(&[
            ("mount", Kind::Strings),
            ("network", Kind::String),
            ("security", Kind::String),
        ])?;
        let mounts = flags
            .strings("mount")
            .iter()
            .map(|spec| mount::parse_unexpanded(spec))
            .collect::<Result<Vec<_>, _>>()?;
        let network = flags.string("network");
        if let Some(network) = &network
            && !matches!(network.as_str(), "default" | "none" | "host")
        {
            return Err(format!("invalid network mode {}", go::quote(network)));
        }
        let security = flags.string("security");
        if let Some(security) = &security
            && !matches!(security.as_str(), "sandbox" | "insecure")
        {
            return Err(format!("security {} is not valid", go::quote(security)));
        }
        Ok(Run {
            command: self.command_line(&self.args),
            heredocs: self
                .heredocs
                .iter()
                .map(heredoc::RawHeredoc::to_ast)
                .collect(),
            mounts,
            network,
            security,
        })
    }

    fn healthcheck(&self) -> Result<Healthcheck, String> {
        let Some((kind, command)) = self.args.split_first() else {
            return Err("HEALTHCHECK requires at least one argument".to_owned());
        };
        let kind = kind.to_uppercase();
        if kind == "NONE" {
            if !command.is_empty() {
                return Err("HEALTHCHECK NONE takes no arguments".to_owned());
            }
            return Ok(Healthcheck::None);
        }
        let flags = self.flags(&[
            ("interval", Kind::String),
            ("timeout", Kind::String),
            ("start-period", Kind::String),
            ("start-interval", Kind::String),
            ("retries", Kind::String),
        ])?;
        if kind != "CMD" {
            return Err(format!(
                "Unknown type {} in HEALTHCHECK (try CMD)",
                go::quote(&kind)
            ));
        }
        if command.is_empty() {
            return Err("Missing command after HEALTHCHECK CMD".to_owned());
        }
        let interval = |name: &str| -> Result<Option<i64>, String> {
            match flags.string(name).as_deref() {
                None | Some("") => Ok(None),
                Some(value) => {
                    let nanos = go::parse_duration(value)?;
                    if nanos != 0 && nanos < 1_000_000 {
                        return Err(format!(
                            "Interval {} cannot be less than 1ms",
                            go::quote(name)
                        ));
                    }
                    Ok(Some(nanos))
                }
            }
        };
        let (interval, timeout, start_period, start_interval) = (
            interval("interval")?,
            interval("timeout")?,
            interval("start-period")?,
            interval("start-interval")?,
        );
        let retries = match flags.string("retries").as_deref() {
            None | Some("") => None,
            Some(value) => {
                let retries = go::parse_int32(value)?;
                if retries < 0 {
                    return Err(format!("--retries cannot be negative ({retries})"));
                }
                Some(retries)
            }
        };
        Ok(Healthcheck::Check {
            command: self.command_line(command),
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        })
    }

    fn arg(&self) -> Result<Vec<ArgDecl>, String> {
        self.at_least_one("ARG")?;
        self.args
            .iter()
            .map(|arg| match arg.split_once('=') {
                Some(("", _)) => Err("ARG names can not be blank".to_owned()),
                Some((name, value)) => Ok(ArgDecl {
                    name: name.to_owned(),
                    default: Some(value.to_owned()),
                }),
                None => Ok(ArgDecl {
                    name: arg.clone(),
                    default: None,
                }),
            })
            .collect()
    }
}

/// The trigger as written: the line without its `ONBUILD` keyword (`(?i)^\s*ONBUILD\s*`).
fn strip_onbuild_keyword(original: &str) -> &str {
    let rest = original.trim_start_matches(go::is_re2_space);
    match rest.get(..7) {
        Some(keyword) if keyword.eq_ignore_ascii_case("ONBUILD") => {
            rest[7..].trim_start_matches(go::is_re2_space)
        }
        _ => original,
    }
}

/// A `FROM` line as a stage (BuildKit's `parseFrom`).
pub(super) fn stage(node: &Node) -> Result<Stage, Diagnostic> {
    let fail = |message: String| node.error(message);
    let args = &node.args;
    let (name, name_as_written) = match args.as_slice() {
        [_, as_word, name] if as_word.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            if !valid_stage_name(&lower) {
                return Err(fail(format!(
                    "invalid name for build stage: {}, name can't start with a number or contain symbols",
                    go::quote(name)
                )));
            }
            (Some(lower), Some(name.clone()))
        }
        [_] => (None, None),
        _ => {
            return Err(fail(
                "FROM requires either one or three arguments".to_owned(),
            ));
        }
    };
    let flags = node.flags(&[("platform", Kind::String)]).map_err(fail)?;
    Ok(Stage {
        name,
        name_as_written,
        base: args[0].clone(),
        platform: flags.string("platform"),
        span: node.span,
        source: node.source.clone(),
        instructions: Vec::new(),
    })
}

/// `^[a-z][a-z0-9-_.]*$`.
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// What parses but deserves a word, for one instruction: the legacy `ENV key value` / `LABEL key value`
/// form (BuildKit's LegacyKeyValueFormat check, which needs the parser's view of the separator).
pub(super) fn warnings(node: &Node) -> Vec<Diagnostic> {
    let keyword = &node.keyword;
    if !matches!(keyword.to_lowercase().as_str(), "env" | "label") {
        return Vec::new();
    }
    node.args
        .chunks(3)
        .filter(|triple| matches!(triple, [_, _, sep] if sep.is_empty()))
        .map(|_| Diagnostic {
            span: node.span,
            message: format!(
                "LegacyKeyValueFormat: \"{keyword} key=value\" should be used instead of legacy \"{keyword} key value\" format"
            ),
            source_line: node.source_line.clone(),
        })
        .collect()
}
