//! BuildKit's Dockerfile parser, in two steps as BuildKit has them.
//!
//! [`parse_nodes`] is the line parser (BuildKit's `parser` package): parser directives at the top,
//! comments, line continuations with the escape character, heredoc bodies, the leading `--flags`, and each
//! keyword's argument form (JSON or shell, `KEY=VALUE` pairs, whitespace-separated words). It checks
//! nothing about what the instructions mean, so it also serves `docker commit/import --change` and ONBUILD
//! triggers. [`Node::to_instruction`] is BuildKit's `instructions` package for one node: argument counts,
//! flags, forms, each keyword's rules and error texts. [`parse`] runs both over a whole Dockerfile and
//! groups the instructions into stages.
//!
//! Error texts are BuildKit's. Locations are lines, as BuildKit gives them; the column is the keyword's.

mod flags;
pub(crate) mod go;
mod heredoc;
mod instructions;
mod lines;
mod mount;

use crate::{Diagnostic, Directives, Dockerfile, Span};

pub use mount::parse_mount;

/// A Dockerfile split into instructions by the line parser, nothing checked yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nodes {
    pub directives: Directives,
    pub nodes: Vec<Node>,
    /// Empty continuation lines.
    pub warnings: Vec<Diagnostic>,
}

/// One instruction as the line parser sees it (BuildKit's `parser.Node`): its keyword as written, where
/// it is, its text, and — privately — its flags, arguments and heredocs for [`Node::to_instruction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The keyword as written (`RUN`, `run`, `Copy`, or an unknown word).
    pub keyword: String,
    /// From the keyword to the last line of the instruction, heredoc bodies included.
    pub span: Span,
    /// The instruction's text with continuations joined, trimmed (BuildKit's `Original`): what
    /// progress and history show.
    pub source: String,
    /// The joined line, untrimmed.
    original: String,
    flags: Vec<String>,
    /// BuildKit's `nodeArgs`: the arguments flattened (`KEY`, `VALUE`, separator triples for ENV and
    /// LABEL; the trigger's keyword then its arguments for ONBUILD).
    args: Vec<String>,
    /// The arguments were a JSON array.
    json: bool,
    heredocs: Vec<heredoc::RawHeredoc>,
    /// The first physical line, as written.
    source_line: String,
}

impl Node {
    fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            span: self.span,
            message: message.into(),
            source_line: self.source_line.clone(),
        }
    }

    /// Whether this is a `FROM`, which starts a stage rather than being an instruction.
    pub fn is_from(&self) -> bool {
        self.keyword.to_lowercase() == "from"
    }
}

/// Splits a Dockerfile (or a list of `--change` lines joined by newlines) into instructions: BuildKit's
/// `parser.Parse`.
///
/// # Errors
///
/// A parser directive that is repeated or has a bad escape value, an argument form that does not parse
/// (a JSON array with a non-string, `ENV` without a value, …), an unterminated heredoc, no instruction
/// at all (`file with no instructions`), or a line longer than BuildKit reads (64 KiB).
pub fn parse_nodes(source: &str) -> Result<Nodes, Diagnostic> {
    lines::parse(source)
}

/// Parses a Dockerfile: directives, the `ARG`s before the first `FROM`, and the stages with their
/// instructions, values unexpanded.
///
/// Notes on the forms: a shell-form `CMD`, `ENTRYPOINT` or `RUN` with nothing after the keyword gives
/// [`crate::CommandLine::Shell`] with an empty string (BuildKit: no arguments, shell prepended); `EXPOSE`
/// ports are sorted as BuildKit sorts them; a heredoc source of `COPY`/`ADD` is `<<NAME` in `sources`
/// (whatever `-` or quotes it was written with) and its body is the heredoc of that name.
///
/// # Errors
///
/// The first problem, in BuildKit's order: everything [`parse_nodes`] refuses, then, instruction by
/// instruction, what [`Node::to_instruction`] refuses and an instruction before the first `FROM` that is not
/// an `ARG` (`no build stage in current context`). A file of only `ARG`s has no stage to build.
pub fn parse(source: &str) -> Result<Dockerfile, Diagnostic> {
    let Nodes {
        directives,
        nodes,
        mut warnings,
    } = parse_nodes(source)?;
    let mut meta_args = Vec::new();
    let mut stages: Vec<crate::Stage> = Vec::new();
    for node in &nodes {
        if node.is_from() {
            stages.push(instructions::stage(node)?);
            continue;
        }
        let instruction = node.to_instruction()?;
        warnings.extend(instructions::warnings(node));
        match stages.last_mut() {
            Some(stage) => stage.instructions.push(instruction),
            None if matches!(instruction.command, crate::Command::Arg(_)) => {
                meta_args.push(instruction);
            }
            None => return Err(node.error("no build stage in current context")),
        }
    }
    warnings.sort_by_key(|w| w.span.line);
    if stages.is_empty() {
        let last = nodes.last().map_or_else(Span::default, |n| n.span);
        return Err(Diagnostic {
            span: last,
            message: "dockerfile contains no stages to build".to_owned(),
            source_line: nodes
                .last()
                .map(|n| n.source_line.clone())
                .unwrap_or_default(),
        });
    }
    Ok(Dockerfile {
        directives,
        meta_args,
        stages,
        warnings,
    })
}
