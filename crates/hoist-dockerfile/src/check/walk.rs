//! The checks that follow the variables through the file, stage by stage, as BuildKit's dispatcher
//! sees them: UndefinedArgInFrom, InvalidDefaultArgInFrom, RedundantTargetPlatform and
//! FromPlatformFlagConstDisallowed on `FROM` lines; UndefinedVar, WorkdirRelativePath,
//! JSONArgsRecommended and the EXPOSE checks inside stages. The walk also leaves a [`Model`] of the
//! stages (which stage each is built from, its last USER) for hoist's advice.
//!
//! A stage built `FROM` an earlier stage starts with what that stage ended with (its ENV, the ARGs that
//! had values, SHELL, WORKDIR, USER); ARG declarations themselves are not inherited.

use std::collections::{BTreeMap, BTreeSet};

use super::reference;
use super::rules;
use super::syntax::keyword;
use super::{Findings, Scope};
use crate::parser::go;
use crate::{Command, CommandLine, Dockerfile, Expanded, Expander, Instruction, Span, Stage};

/// The automatic platform ARGs, with the values a linux/amd64 build gives them.
const AUTOMATIC: &[(&str, &str)] = &[
    ("BUILDPLATFORM", "linux/amd64"),
    ("BUILDOS", "linux"),
    ("BUILDOSVERSION", ""),
    ("BUILDARCH", "amd64"),
    ("BUILDVARIANT", ""),
    ("TARGETPLATFORM", "linux/amd64"),
    ("TARGETOS", "linux"),
    ("TARGETOSVERSION", ""),
    ("TARGETARCH", "amd64"),
    ("TARGETVARIANT", ""),
    ("TARGETSTAGE", "default"),
];

/// ARGs BuildKit never puts in the environment, so never reports.
const NON_ENV: &[&str] = &["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

/// Variables a stage built on an image takes as set: what official images commonly put in their
/// `ENV` (the image's real config is not known here). `PATH` is set in every stage.
pub(super) const IMAGE_ENV: &[&str] = &[
    "LANG",
    "LC_ALL",
    "JAVA_HOME",
    "JAVA_VERSION",
    "GOPATH",
    "GOLANG_VERSION",
    "GOTOOLCHAIN",
    "NODE_VERSION",
    "YARN_VERSION",
    "PYTHON_VERSION",
    "PYTHON_SHA256",
    "GPG_KEY",
    "RUBY_VERSION",
    "RUBY_DOWNLOAD_SHA256",
    "GEM_HOME",
    "BUNDLE_APP_CONFIG",
    "BUNDLE_SILENCE_ROOT_WARNING",
    "RUSTUP_HOME",
    "CARGO_HOME",
    "RUST_VERSION",
    "PHP_VERSION",
    "PHP_INI_DIR",
    "NGINX_VERSION",
    "NJS_VERSION",
    "MAVEN_HOME",
    "MAVEN_CONFIG",
    "GRADLE_HOME",
    "GRADLE_VERSION",
    "DOTNET_VERSION",
    "ASPNET_VERSION",
    "ASPNETCORE_URLS",
    "PGDATA",
    "PG_MAJOR",
    "PG_VERSION",
    "MYSQL_MAJOR",
    "MYSQL_VERSION",
    "REDIS_VERSION",
];

/// The `PATH` BuildKit gives a stage whose image sets none (`scratch`).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a variable with an unknown value expands to while its value does not matter.
const UNKNOWN: &str = "unknown";

/// The stages as the walk understood them.
#[derive(Debug, Default)]
pub(super) struct Model {
    pub(super) stages: Vec<StageModel>,
}

#[derive(Debug, Clone)]
pub(super) struct StageModel {
    /// The earlier stage this one is built `FROM`.
    pub(super) parent: Option<usize>,
    /// The base image reference after the global ARGs' defaults, for a stage built on an image (not
    /// `scratch`, not a stage); `None` when it depends on an ARG without a default.
    pub(super) image: Option<String>,
    /// Whether the stage is built on an image (`scratch` and stages are not).
    pub(super) on_image: bool,
    /// The image at the root of the stage's `FROM` chain, when known.
    pub(super) root_image: Option<String>,
    /// The last USER in the stage or the stages it is built from: its value when known, and where.
    pub(super) user: Option<(Option<String>, Span)>,
}

impl Model {
    /// The last stage and the stages it is built from: those whose layers end up in the image.
    pub(super) fn final_chain(&self) -> Vec<usize> {
        let mut chain = Vec::new();
        let mut next = self.stages.len().checked_sub(1);
        while let Some(index) = next {
            if chain.contains(&index) {
                break;
            }
            chain.push(index);
            next = self.stages[index].parent;
        }
        chain
    }
}

/// The global scope: what `FROM` lines see.
#[derive(Debug, Default)]
struct Meta {
    /// Values with only defaults given (BuildKit's `buildMetaArgs` without build arguments).
    values: BTreeMap<String, String>,
    /// Global ARGs whose value is up to the build (no default, or a default that uses one).
    open: BTreeSet<String>,
    /// Every global ARG name, in order.
    declared: Vec<String>,
    /// A default did not expand: BuildKit abandons InvalidDefaultArgInFrom.
    broken: bool,
}

impl Meta {
    fn new(dockerfile: &Dockerfile) -> Self {
        let mut meta = Self::default();
        for (name, value) in AUTOMATIC {
            meta.values.insert((*name).to_owned(), (*value).to_owned());
        }
        let escape = dockerfile.directives.escape;
        for instruction in &dockerfile.meta_args {
            let Command::Arg(decls) = &instruction.command else {
                continue;
            };
            for decl in decls {
                if !meta.declared.contains(&decl.name) {
                    meta.declared.push(decl.name.clone());
                }
                let Some(default) = &decl.default else {
                    // Declaring an automatic ARG again without a value keeps its value.
                    if !AUTOMATIC.iter().any(|(n, _)| *n == decl.name) {
                        meta.open.insert(decl.name.clone());
                    }
                    continue;
                };
                match meta.expand(escape, default) {
                    Some(e) => {
                        if e.used.iter().any(|n| meta.open.contains(n)) {
                            meta.open.insert(decl.name.clone());
                        } else {
                            meta.open.remove(&decl.name);
                        }
                        meta.values.insert(decl.name.clone(), e.value);
                    }
                    None => meta.broken = true,
                }
            }
        }
        meta
    }

    fn expand(&self, escape: char, word: &str) -> Option<Expanded> {
        let lookup = |name: &str| self.values.get(name).cloned();
        Expander {
            escape,
            lookup: &lookup,
        }
        .expand(word)
        .ok()
    }

    /// Names a `FROM` line may use: the automatic ARGs and the global ones.
    fn known(&self) -> Vec<&str> {
        AUTOMATIC
            .iter()
            .map(|(n, _)| *n)
            .chain(self.declared.iter().map(String::as_str))
            .collect()
    }
}

/// A stage's variables and settings while its instructions are walked.
#[derive(Debug, Clone, Default)]
struct State {
    /// What expansions see: each name with its value when known.
    env: BTreeMap<String, Option<String>>,
    /// ARGs declared in this stage (with or without a value): never undefined.
    args: BTreeSet<String>,
    shell: bool,
    workdir_set: bool,
    user: Option<(Option<String>, Span)>,
    root_image: Option<String>,
}

/// One word expanded in a stage.
struct Word {
    value: String,
    unmatched: Vec<String>,
    /// The value does not depend on a variable whose value is unknown.
    known: bool,
}

impl State {
    fn expand(&self, escape: char, word: &str) -> Option<Word> {
        let lookup = |name: &str| match self.env.get(name) {
            Some(Some(value)) => Some(value.clone()),
            Some(None) => Some(UNKNOWN.to_owned()),
            None => self.args.contains(name).then(|| UNKNOWN.to_owned()),
        };
        let expanded = Expander {
            escape,
            lookup: &lookup,
        }
        .expand(word)
        .ok()?;
        let known = expanded
            .used
            .iter()
            .all(|n| expanded.unmatched.contains(n) || matches!(self.env.get(n), Some(Some(_))));
        Some(Word {
            value: expanded.value,
            unmatched: expanded.unmatched,
            known,
        })
    }
}

/// Runs the walk's checks and returns the model of the stages.
pub(super) fn check(dockerfile: &Dockerfile, findings: &mut Findings) -> Model {
    let meta = Meta::new(dockerfile);
    let escape = dockerfile.directives.escape;
    invalid_default_args(dockerfile, &meta, findings);
    let mut model = Model::default();
    let mut ends: Vec<State> = Vec::new();
    for (index, stage) in dockerfile.stages.iter().enumerate() {
        from_line(stage, &meta, escape, findings);
        let base = meta
            .expand(escape, &stage.base)
            .filter(|e| !e.used.iter().any(|n| meta.open.contains(n)))
            .map(|e| e.value);
        let parent = base.as_deref().and_then(|base| {
            dockerfile.stages[..index]
                .iter()
                .rposition(|s| s.name.as_deref() == Some(base.to_lowercase().as_str()))
        });
        let scratch = base
            .as_deref()
            .is_some_and(|b| b.eq_ignore_ascii_case("scratch"));
        let mut state = match parent {
            Some(p) => State {
                args: BTreeSet::new(),
                ..ends[p].clone()
            },
            None => {
                let mut state = State::default();
                if scratch {
                    state
                        .env
                        .insert("PATH".to_owned(), Some(DEFAULT_PATH.to_owned()));
                } else {
                    state.env.insert("PATH".to_owned(), None);
                    for name in IMAGE_ENV {
                        state.env.insert((*name).to_owned(), None);
                    }
                    state.root_image.clone_from(&base);
                }
                state
            }
        };
        for instruction in &stage.instructions {
            dispatch(instruction, &mut state, &meta, escape, findings);
        }
        model.stages.push(StageModel {
            parent,
            image: base.clone().filter(|_| parent.is_none() && !scratch),
            on_image: parent.is_none() && !scratch,
            root_image: state.root_image.clone(),
            user: state.user.clone(),
        });
        ends.push(state);
    }
    model
}

/// InvalidDefaultArgInFrom: a base that, with only the global ARGs' defaults, is no valid reference.
fn invalid_default_args(dockerfile: &Dockerfile, meta: &Meta, findings: &mut Findings) {
    if meta.broken {
        return;
    }
    for stage in &dockerfile.stages {
        let Some(expanded) = meta.expand(dockerfile.directives.escape, &stage.base) else {
            return;
        };
        if !reference::is_valid(&expanded.value) {
            findings.push(
                &rules::INVALID_DEFAULT_ARG_IN_FROM,
                stage.span,
                Scope::File,
                format!(
                    "Default value for ARG {} results in empty or invalid base image name",
                    stage.base
                ),
            );
        }
    }
}

/// The `FROM` line's own checks: undeclared ARGs in the base and the platform, and the platform's form.
fn from_line(stage: &Stage, meta: &Meta, escape: char, findings: &mut Findings) {
    let known = meta.known();
    let undeclared = |expanded: &Expanded, findings: &mut Findings| {
        for name in &expanded.unmatched {
            if known.contains(&name.as_str()) {
                continue;
            }
            findings.at(
                &rules::UNDEFINED_ARG_IN_FROM,
                stage.span,
                go::with_suggestion(
                    format!("FROM argument '{name}' is not declared"),
                    name,
                    &known,
                    true,
                ),
            );
        }
    };
    if let Some(base) = meta.expand(escape, &stage.base) {
        undeclared(&base, findings);
    }
    let Some(platform) = &stage.platform else {
        return;
    };
    let Some(expanded) = meta.expand(escape, platform) else {
        return;
    };
    undeclared(&expanded, findings);
    let matched: Vec<&String> = expanded
        .used
        .iter()
        .filter(|n| !expanded.unmatched.contains(n))
        .collect();
    if expanded.unmatched.is_empty()
        && matched.len() == 1
        && matched[0] == "TARGETPLATFORM"
        && meta.values.get("TARGETPLATFORM") == Some(&expanded.value)
    {
        findings.at(
            &rules::REDUNDANT_TARGET_PLATFORM,
            stage.span,
            format!(
                "Setting platform to predefined {platform} in FROM is redundant as this is the default behavior"
            ),
        );
    }
    // A constant platform, unless the stage's name says which platform it is for.
    let name = stage.name.as_deref().unwrap_or_default();
    if expanded.used.is_empty()
        && let Some((os, arch)) = parse_platform(&expanded.value)
        && !name.contains(&os)
        && !name.contains(&arch)
    {
        findings.at(
            &rules::FROM_PLATFORM_FLAG_CONST_DISALLOWED,
            stage.span,
            format!(
                "FROM --platform flag should not use constant value {}",
                go::quote(&expanded.value)
            ),
        );
    }
}

/// One instruction of a stage: the undefined variables in what BuildKit expands, then what the
/// instruction does to the state.
fn dispatch(
    instruction: &Instruction,
    state: &mut State,
    meta: &Meta,
    escape: char,
    findings: &mut Findings,
) {
    let mut reported: Vec<String> = Vec::new();
    let mut undefined = |state: &State, word: &Word, findings: &mut Findings| {
        for name in &word.unmatched {
            if state.args.contains(name)
                || NON_ENV.contains(&name.as_str())
                || reported.contains(name)
            {
                continue;
            }
            reported.push(name.clone());
            let options: Vec<&str> = state.env.keys().map(String::as_str).collect();
            let mut message = format!("Usage of undefined variable '${name}'");
            if let Some(similar) = go::suggest(name, &options, true) {
                message.push_str(&format!(" (did you mean ${similar}?)"));
            }
            findings.at(&rules::UNDEFINED_VAR, instruction.span, message);
        }
    };
    let mut words = |list: &[&str], findings: &mut Findings| {
        for w in list {
            if let Some(word) = state.expand(escape, w) {
                undefined(state, &word, findings);
            }
        }
    };
    match &instruction.command {
        Command::Env(pairs) => {
            let mut set = Vec::new();
            for pair in pairs {
                let key = state.expand(escape, &pair.key);
                let value = state.expand(escape, &pair.value);
                for word in key.iter().chain(value.iter()) {
                    undefined(state, word, findings);
                }
                let key = key
                    .filter(|k| k.known)
                    .map_or_else(|| pair.key.clone(), |k| k.value);
                set.push((key, value.filter(|v| v.known).map(|v| v.value)));
            }
            state.env.extend(set);
        }
        Command::Label(pairs) => {
            let list: Vec<&str> = pairs
                .iter()
                .flat_map(|p| [p.key.as_str(), p.value.as_str()])
                .collect();
            words(&list, findings);
        }
        Command::Add(copy) | Command::Copy(copy) => {
            let mut list: Vec<&str> = [&copy.chown, &copy.chmod, &copy.checksum]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect();
            list.extend(
                copy.sources
                    .iter()
                    .filter(|s| !s.starts_with("<<"))
                    .map(String::as_str),
            );
            list.push(&copy.dest);
            words(&list, findings);
            // Heredoc bodies are expanded with `\` as the escape and quotes taken literally.
            for doc in copy.heredocs.iter().filter(|d| d.expand) {
                if let Some(word) = state.expand('\\', &literal_quotes(&doc.content)) {
                    undefined(state, &word, findings);
                }
            }
        }
        Command::Run(run) => {
            let list: Vec<&str> = run.mounts.iter().map(|m| m.spec.as_str()).collect();
            words(&list, findings);
        }
        Command::Volume(paths) => {
            let list: Vec<&str> = paths.iter().map(String::as_str).collect();
            words(&list, findings);
        }
        Command::Stopsignal(signal) => words(&[signal.as_str()], findings),
        Command::Workdir(path) => {
            let word = state.expand(escape, path);
            if let Some(word) = &word {
                undefined(state, word, findings);
            }
            // Only the first WORKDIR of a stage chain matters: later ones are relative to it.
            if !state.workdir_set
                && let Some(word) = word.filter(|w| w.known && !is_absolute(&w.value))
            {
                findings.at(
                    &rules::WORKDIR_RELATIVE_PATH,
                    instruction.span,
                    format!(
                        "Relative workdir {} can have unexpected results if the base image changes",
                        go::quote(&word.value)
                    ),
                );
            }
            state.workdir_set = true;
        }
        Command::User(user) => {
            let word = state.expand(escape, user);
            if let Some(word) = &word {
                undefined(state, word, findings);
            }
            state.user = Some((word.filter(|w| w.known).map(|w| w.value), instruction.span));
        }
        Command::Arg(decls) => {
            for decl in decls {
                let value = match &decl.default {
                    Some(default) => {
                        let word = state.expand(escape, default);
                        if let Some(word) = &word {
                            undefined(state, word, findings);
                        }
                        Some(word.filter(|w| w.known).map(|w| w.value))
                    }
                    // A global ARG gives its value; the automatic ones depend on the build.
                    None => meta.values.get(&decl.name).map(|v| {
                        let automatic = AUTOMATIC.iter().any(|(n, _)| *n == decl.name);
                        (!automatic && !meta.open.contains(&decl.name)).then(|| v.clone())
                    }),
                };
                if let Some(value) = value
                    && !NON_ENV.contains(&decl.name.as_str())
                {
                    state.env.insert(decl.name.clone(), value);
                }
                state.args.insert(decl.name.clone());
            }
        }
        Command::Expose(ports) => expose(instruction, ports, state, escape, findings),
        Command::Cmd(line) | Command::Entrypoint(line) => {
            if matches!(line, CommandLine::Shell(_)) && !state.shell {
                findings.at(
                    &rules::JSON_ARGS_RECOMMENDED,
                    instruction.span,
                    format!(
                        "JSON arguments recommended for {} to prevent unintended behavior related to OS signals",
                        keyword(&instruction.source)
                    ),
                );
            }
        }
        Command::Shell(_) => state.shell = true,
        Command::Maintainer(_) | Command::Onbuild(_) | Command::Healthcheck(_) => {}
    }
}

/// An absolute WORKDIR: `/...`, or a Windows path (`C:\...`, `\...`), which BuildKit judges by the
/// target platform this check does not know.
fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with(['/', '\\'])
        || (bytes.len() > 2
            && bytes[0].is_ascii_alphabetic()
            && bytes[1] == b':'
            && matches!(bytes[2], b'/' | b'\\'))
}

/// ExposeProtoCasing and ExposeInvalidFormat for each port, once its value is known.
fn expose(
    instruction: &Instruction,
    ports: &[String],
    state: &State,
    escape: char,
    findings: &mut Findings,
) {
    for raw in ports {
        let expanded: Vec<String> = if raw.contains('$') {
            match state.expand(escape, raw) {
                Some(word) if word.known => {
                    word.value.split_whitespace().map(str::to_owned).collect()
                }
                _ => continue,
            }
        } else {
            vec![raw.clone()]
        };
        for port in expanded {
            let parts: Vec<&str> = port.split(':').collect();
            // `[ip:][host:]container`; with more colons everything before the last two is the IP.
            let n = parts.len();
            let container = parts[n - 1];
            let host = if n > 1 { parts[n - 2] } else { "" };
            let ip = if n > 2 {
                parts[..n - 2].join(":")
            } else {
                String::new()
            };
            let (number, proto) = container.split_once('/').unwrap_or((container, ""));
            if number.is_empty()
                || !matches!(proto.to_lowercase().as_str(), "" | "tcp" | "udp" | "sctp")
            {
                continue;
            }
            if proto != proto.to_lowercase() {
                findings.at(
                    &rules::EXPOSE_PROTO_CASING,
                    instruction.span,
                    format!("Defined protocol '{port}' in EXPOSE instruction should be lowercase"),
                );
            }
            if !ip.is_empty() || !host.is_empty() {
                findings.at(
                    &rules::EXPOSE_INVALID_FORMAT,
                    instruction.span,
                    format!(
                        "EXPOSE instruction should not define an IP address or host-port mapping, found '{port}'"
                    ),
                );
            }
        }
    }
}

/// A heredoc body made ready for the expander so that quotes stay literal (BuildKit expands COPY and
/// ADD heredocs with `SkipProcessQuotes`): each quote not already escaped gets a `\`.
fn literal_quotes(content: &str) -> String {
    let mut out = String::with_capacity(content.len());
    let mut escaped = false;
    for c in content.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '\'' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// containerd's `platforms.Parse`, for the OS and architecture only: `os[/arch[/variant]]`, or one
/// component that is a known OS or architecture. `None` when it would not parse.
fn parse_platform(text: &str) -> Option<(String, String)> {
    const OSES: &[&str] = &[
        "aix",
        "android",
        "darwin",
        "dragonfly",
        "freebsd",
        "hurd",
        "illumos",
        "ios",
        "js",
        "linux",
        "nacl",
        "netbsd",
        "openbsd",
        "plan9",
        "solaris",
        "wasip1",
        "windows",
        "zos",
    ];
    const ARCHES: &[&str] = &[
        "386",
        "amd64",
        "amd64p32",
        "arm",
        "armbe",
        "arm64",
        "arm64be",
        "loong64",
        "mips",
        "mipsle",
        "mips64",
        "mips64le",
        "mips64p32",
        "mips64p32le",
        "ppc",
        "ppc64",
        "ppc64le",
        "riscv",
        "riscv64",
        "s390",
        "s390x",
        "sparc",
        "sparc64",
        "wasm",
    ];
    let parts: Vec<&str> = text.split('/').collect();
    let valid = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    if parts.len() > 3 || !parts.iter().all(|p| valid(p)) {
        return None;
    }
    let os = |p: &str| match p.to_lowercase().as_str() {
        "macos" => "darwin".to_owned(),
        other => other.to_owned(),
    };
    let arch = |p: &str| match p.to_lowercase().as_str() {
        "i386" => "386".to_owned(),
        "x86_64" | "x86-64" => "amd64".to_owned(),
        "aarch64" => "arm64".to_owned(),
        "armhf" | "armel" => "arm".to_owned(),
        other => other.to_owned(),
    };
    if let [one] = parts.as_slice() {
        let as_os = os(one);
        if OSES.contains(&as_os.as_str()) {
            return Some((as_os, host_arch().to_owned()));
        }
        let as_arch = arch(one);
        if ARCHES.contains(&as_arch.as_str()) {
            return Some(("linux".to_owned(), as_arch));
        }
        return None;
    }
    Some((os(parts[0]), arch(parts[1])))
}

/// The architecture of this machine in Go's words (what a one-word OS platform gets).
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_as_containerd_reads_them() {
        assert_eq!(
            parse_platform("linux/amd64"),
            Some(("linux".to_owned(), "amd64".to_owned()))
        );
        assert_eq!(
            parse_platform("Linux/x86_64"),
            Some(("linux".to_owned(), "amd64".to_owned()))
        );
        assert_eq!(
            parse_platform("arm64"),
            Some(("linux".to_owned(), "arm64".to_owned()))
        );
        assert_eq!(parse_platform("linux/"), None);
        assert_eq!(parse_platform("nonsense"), None);
        assert_eq!(parse_platform("a/b/c/d"), None);
    }

    #[test]
    fn heredoc_quotes_become_literal() {
        assert_eq!(literal_quotes(r#"it's "x""#), r#"it\'s \"x\""#);
        assert_eq!(literal_quotes(r"a\'b"), r"a\'b");
        assert_eq!(literal_quotes(r"a\\'b"), r"a\\\'b");
    }
}
