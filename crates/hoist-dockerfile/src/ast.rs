//! The typed Dockerfile: stages of instructions, each with the span and text it came from. Values are
//! kept as written (unexpanded); the builder expands them with [`crate::Expander`] when it dispatches,
//! because what a `$VAR` means depends on the ARG and ENV values at that point.

use std::fmt;

/// Where something is in the Dockerfile: 1-based lines and columns. `end_line` is the last physical line
/// of an instruction that continues over several lines (or has heredocs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
}

/// A problem found while parsing (an error) or checking (a warning), with where it is and the offending
/// source line. `Display` gives `LINE:COLUMN: MESSAGE`; a caller prefixes the file name
/// (`Dockerfile.prod:12:5: ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Span,
    pub message: String,
    /// The source line the span starts on, as written.
    pub source_line: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}",
            self.span.line, self.span.column, self.message
        )
    }
}

impl std::error::Error for Diagnostic {}

/// A whole Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// Parser directives at the top of the file.
    pub directives: Directives,
    /// `ARG` instructions before the first `FROM` (usable in `FROM` lines, and in a stage that
    /// re-declares them without a value).
    pub meta_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
    /// Things that parse but deserve a word: an empty continuation line, an unknown `# check=` rule, …
    pub warnings: Vec<Diagnostic>,
}

/// `# syntax=`, `# escape=`, `# check=` at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// `\` unless `# escape=` says `` ` ``.
    pub escape: char,
    pub syntax: Option<String>,
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Self {
            escape: '\\',
            syntax: None,
            check: None,
        }
    }
}

/// One `FROM` and the instructions up to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The `AS name`, lowercased as BuildKit stores it; `None` when unnamed.
    pub name: Option<String>,
    /// The name as written after `AS` (for the casing checks).
    pub name_as_written: Option<String>,
    /// The image reference as written (may hold `$ARG`s, may be `scratch` or an earlier stage's name).
    pub base: String,
    /// `--platform=` as written.
    pub platform: Option<String>,
    /// The `FROM` line's span and text.
    pub span: Span,
    pub source: String,
    pub instructions: Vec<Instruction>,
}

/// One instruction with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub span: Span,
    /// The instruction's text as BuildKit shows it in progress and history: keyword as written, then the
    /// flags and arguments with continuations joined (heredoc bodies not included).
    pub source: String,
    pub command: Command,
}

/// The typed instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run(Run),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    /// `KEY=VALUE` pairs (or the legacy `KEY VALUE` form, one pair), values unexpanded.
    Label(Vec<KeyValue>),
    Maintainer(String),
    /// Port specs as written (`80`, `80/udp`, `$PORT`).
    Expose(Vec<String>),
    Env(Vec<KeyValue>),
    Add(Copy),
    Copy(Copy),
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    Arg(Vec<ArgDecl>),
    /// The triggered instruction's text as written after `ONBUILD` (stored in the image config as is).
    Onbuild(String),
    Stopsignal(String),
    Healthcheck(Healthcheck),
    /// The new shell, from the JSON form (the only form SHELL takes).
    Shell(Vec<String>),
}

impl Command {
    /// The keyword in upper case (`RUN`, `COPY`, …).
    pub fn keyword(&self) -> &'static str {
        match self {
            Self::Run(_) => "RUN",
            Self::Cmd(_) => "CMD",
            Self::Entrypoint(_) => "ENTRYPOINT",
            Self::Label(_) => "LABEL",
            Self::Maintainer(_) => "MAINTAINER",
            Self::Expose(_) => "EXPOSE",
            Self::Env(_) => "ENV",
            Self::Add(_) => "ADD",
            Self::Copy(_) => "COPY",
            Self::Volume(_) => "VOLUME",
            Self::User(_) => "USER",
            Self::Workdir(_) => "WORKDIR",
            Self::Arg(_) => "ARG",
            Self::Onbuild(_) => "ONBUILD",
            Self::Stopsignal(_) => "STOPSIGNAL",
            Self::Healthcheck(_) => "HEALTHCHECK",
            Self::Shell(_) => "SHELL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// `ARG NAME[=default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

/// The command of RUN, CMD, ENTRYPOINT and HEALTHCHECK CMD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    /// JSON array form: run as is.
    Exec(Vec<String>),
    /// Shell form: the text (continuations joined, escapes kept) run through the SHELL.
    Shell(String),
}

/// A heredoc body (`<<EOF` … `EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word (`EOF`).
    pub name: String,
    /// The body, with leading tabs already removed for `<<-`; ends with a newline unless empty.
    pub content: String,
    /// False when the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): no `$VAR` expansion in the body.
    pub expand: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: CommandLine,
    /// Heredocs on the RUN line, in order. With a shell-form command that is only `<<EOF`, the first
    /// heredoc is the script itself (BuildKit's rule); otherwise they are fed as the shell's here-docs.
    pub heredocs: Vec<Heredoc>,
    /// `--mount=` specs, parsed.
    pub mounts: Vec<RunMount>,
    /// `--network=default|none|host`.
    pub network: Option<String>,
    /// `--security=sandbox|insecure`.
    pub security: Option<String>,
}

/// A `RUN --mount=type=...` spec with BuildKit's keys. Values are unexpanded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunMount {
    /// `bind` (the default), `cache`, `tmpfs`, `secret`, `ssh`.
    pub kind: MountKind,
    pub target: Option<String>,
    pub source: Option<String>,
    /// `from=` a stage or image.
    pub from: Option<String>,
    /// `id=` (cache, secret, ssh).
    pub id: Option<String>,
    /// `readonly`/`ro` or `rw`/`readwrite`: `Some(true)` read-only. Bind mounts default read-only,
    /// cache mounts read-write.
    pub read_only: Option<bool>,
    /// `sharing=shared|private|locked` (cache).
    pub sharing: Option<String>,
    /// `mode=` in octal, `uid=`, `gid=`.
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `required` (secret, ssh).
    pub required: bool,
    /// `env=` (secret): expose the secret as this variable instead of a file.
    pub env: Option<String>,
    /// `size=` (tmpfs), in bytes.
    pub size: Option<u64>,
    /// The `--mount=` value as written (flag quoting resolved). BuildKit expands each value before reading
    /// it; typed values above that hold a `$` are left unset by the parser, and the builder reads this again
    /// with [`crate::parser::parse_mount`] and its expander.
    pub spec: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MountKind {
    #[default]
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

/// COPY and ADD.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Copy {
    /// Sources as written (paths, globs, URLs for ADD); heredoc sources appear as `<<NAME` here and
    /// in `heredocs`.
    pub sources: Vec<String>,
    pub dest: String,
    pub heredocs: Vec<Heredoc>,
    /// `--from=` a stage name or index, or an image.
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub exclude: Vec<String>,
    /// ADD `--checksum=`.
    pub checksum: Option<String>,
    /// ADD `--keep-git-dir`.
    pub keep_git_dir: bool,
    /// ADD `--unpack[=true|false]`: `None` when not given (archives from the context are unpacked, URLs
    /// are not).
    pub unpack: Option<bool>,
    /// Written in JSON form (`COPY ["a b", "/c"]`).
    pub json: bool,
}

/// `HEALTHCHECK`: `NONE`, or `CMD` with options. Durations in nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    None,
    Check {
        command: CommandLine,
        interval: Option<i64>,
        timeout: Option<i64>,
        start_period: Option<i64>,
        start_interval: Option<i64>,
        retries: Option<i64>,
    },
}
