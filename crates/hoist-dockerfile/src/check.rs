//! Dockerfile checks as pure functions over the parsed [`Dockerfile`]: BuildKit's build checks (what
//! `docker build --check` reports, with BuildKit's rule names and message texts) and hoist's own advice
//! (smaller, reproducible, non-root images), each finding with its rule, message and span.
//!
//! The `# check=` parser directive is honoured as BuildKit reads it (`skip=Rule1,Rule2`, `skip=all`,
//! `error=true`, `experimental=Rule|all`, `;`-separated, anything after a space ignored), and so is a
//! `# check=` comment right above one instruction, which adds to the skipped rules for what is reported
//! about that instruction. Experimental rules (InvalidDefinitionDescription) run only when enabled.
//!
//! What a static check cannot know is approximated, and the approximations lean towards silence:
//!
//! - The base image's `ENV` is unknown. `UndefinedVar` takes `PATH` as set in every stage (BuildKit
//!   gives `scratch` a default `PATH`) and, in a stage whose base is an image, also the variables that
//!   official images commonly set (`JAVA_HOME`, `GOPATH`, `NODE_VERSION`, …); everything else must come from an `ARG` in
//!   the stage, an `ENV` earlier in the stage, or a stage it is built `FROM`. The automatic platform
//!   ARGs are known in `FROM` lines without a declaration; inside a stage they need `ARG TARGETARCH`
//!   like any other global ARG (without it they expand to nothing, which is what BuildKit warns about).
//! - Build arguments are not known: ARG defaults stand in for values; a value that depends on an ARG
//!   without a default is unknown, and a check that needs it (WorkdirRelativePath, the EXPOSE checks)
//!   says nothing.
//! - Every stage is checked, as `docker build --check` does, not only the stages a target needs.
//! - CopyIgnoredFile needs the `.dockerignore` patterns: it is [`check_copy_ignored`], apart from
//!   [`check`], whose [`ContextFacts`] say only whether the file exists.
//! - The size advice (ConsecutiveRunInstructions and the apt/apk rules) looks only at the stages whose
//!   layers end up in the image: the last stage and the stages it is built `FROM`.

mod advice;
mod reference;
mod rules;
mod shell;
mod syntax;
mod walk;

use std::collections::HashMap;
use std::fmt;

use crate::{Dockerfile, IgnorePatterns, Span};

pub use rules::{Origin, RULES, Rule};

/// One finding: BuildKit's rule name, the message as BuildKit words it, where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckWarning {
    pub rule: &'static str,
    pub message: String,
    pub span: Span,
    /// The rule's documentation (BuildKit's rules; `None` for hoist's own).
    pub url: Option<&'static str>,
}

impl fmt::Display for CheckWarning {
    /// BuildKit's short form: `RULE: MESSAGE (line N)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.message)?;
        if self.span.line > 0 {
            write!(f, " (line {})", self.span.line)?;
        }
        Ok(())
    }
}

/// Facts about the build context the checks may use (the caller gathers them; this crate does no I/O).
#[derive(Debug, Clone, Default)]
pub struct ContextFacts {
    pub has_dockerignore: bool,
    /// The names at the top of the context (`node_modules`, `.git`, …). Empty when not gathered: the
    /// checks that need them then say nothing.
    pub top_level_names: Vec<String>,
}

/// Which rules run and whether findings fail the build: BuildKit's lint configuration, from the
/// `# check=` directive or the `BUILDKIT_DOCKERFILE_CHECK` build argument.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckConfig {
    pub skip_all: bool,
    pub skip: Vec<String>,
    pub experimental_all: bool,
    pub experimental: Vec<String>,
    /// `error=true`: the build fails when any rule reported something.
    pub error: bool,
}

impl CheckConfig {
    /// Reads `skip=...;error=...;experimental=...` as BuildKit's `ParseLintOptions` does (text after
    /// the first space is a comment and is ignored).
    ///
    /// # Errors
    ///
    /// BuildKit's texts: `invalid check option "x"` for an unknown key or a part without `=`, and
    /// `failed to parse check option "error=x": strconv.ParseBool: parsing "x": invalid syntax`.
    /// BuildKit prefixes them with `failed to parse check options: ` and fails the build.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.split(' ').next().unwrap_or_default().trim();
        let mut config = Self::default();
        if text.is_empty() {
            return Ok(config);
        }
        for part in text.splitn(3, ';') {
            let Some((key, value)) = part.split_once('=') else {
                return Err(format!(
                    "invalid check option {}",
                    crate::parser::go::quote(part)
                ));
            };
            let value = value.trim();
            let list = || value.split(',').map(|r| r.trim().to_owned()).collect();
            match key.trim() {
                "skip" if value == "all" => config.skip_all = true,
                "skip" => config.skip = list(),
                "experimental" if value == "all" => config.experimental_all = true,
                "experimental" => config.experimental = list(),
                "error" => {
                    config.error = crate::parser::go::parse_bool(value).ok_or_else(|| {
                        format!(
                            "failed to parse check option {}: strconv.ParseBool: parsing {}: invalid syntax",
                            crate::parser::go::quote(part),
                            crate::parser::go::quote(value)
                        )
                    })?;
                }
                other => {
                    return Err(format!(
                        "invalid check option {}",
                        crate::parser::go::quote(other.trim())
                    ));
                }
            }
        }
        Ok(config)
    }

    /// The configuration of the Dockerfile's `# check=` directive; one that does not parse counts as
    /// none (BuildKit fails the build on it: use [`CheckConfig::parse`] to say so).
    pub fn from_dockerfile(dockerfile: &Dockerfile) -> Self {
        dockerfile
            .directives
            .check
            .as_deref()
            .and_then(|text| Self::parse(text).ok())
            .unwrap_or_default()
    }

    /// Whether `rule` is reported under this configuration.
    pub fn reports(&self, rule: &Rule) -> bool {
        if rule.experimental {
            self.experimental_all || self.experimental.iter().any(|r| r == rule.name)
        } else {
            !(self.skip_all || self.skip.iter().any(|r| r == rule.name))
        }
    }

    /// This configuration with another's skipped and experimental rules added (BuildKit's
    /// `WithMergedConfig`; `error` stays as it is).
    fn merged(&self, other: &Self) -> Self {
        let mut out = self.clone();
        out.skip_all |= other.skip_all;
        out.experimental_all |= other.experimental_all;
        out.skip.extend(other.skip.iter().cloned());
        out.experimental.extend(other.experimental.iter().cloned());
        out
    }
}

/// Runs every check on a parsed Dockerfile. `source` is the text it was parsed from (for the comments
/// above instructions, which the AST does not keep). Findings come in line order.
pub fn check(dockerfile: &Dockerfile, source: &str, facts: &ContextFacts) -> Vec<CheckWarning> {
    check_with_config(
        dockerfile,
        source,
        facts,
        &CheckConfig::from_dockerfile(dockerfile),
    )
}

/// [`check`] under a given configuration (BuildKit lets `BUILDKIT_DOCKERFILE_CHECK` replace the
/// directive). `# check=` comments above instructions still apply.
pub fn check_with_config(
    dockerfile: &Dockerfile,
    source: &str,
    facts: &ContextFacts,
    config: &CheckConfig,
) -> Vec<CheckWarning> {
    let mut findings = Findings::default();
    syntax::check(dockerfile, source, &mut findings);
    let model = walk::check(dockerfile, &mut findings);
    advice::check(dockerfile, &model, facts, &mut findings);
    findings.finish(dockerfile, source, config)
}

/// Whether the Dockerfile asks for findings to fail the build (`# check=error=true`).
pub fn errors_on_warnings(dockerfile: &Dockerfile) -> bool {
    CheckConfig::from_dockerfile(dockerfile).error
}

/// BuildKit's error for a build that `error=true` fails: `lint violation found for rules: A, B` (each
/// rule once, sorted), or `None` when nothing was reported.
pub fn lint_error(warnings: &[CheckWarning]) -> Option<String> {
    let mut rules: Vec<&str> = warnings.iter().map(|w| w.rule).collect();
    rules.sort_unstable();
    rules.dedup();
    (!rules.is_empty()).then(|| format!("lint violation found for rules: {}", rules.join(", ")))
}

/// BuildKit's CopyIgnoredFile: `COPY`/`ADD` sources from the context that the `.dockerignore` excludes
/// (a build error waiting to happen). Like BuildKit it says nothing when the patterns have exceptions
/// (`!pattern`), which are too hard to judge statically; `.` is reported only when a pattern excludes
/// everything (`*`, `**`, `**/*`). Honours the `# check=` directive and comments.
pub fn check_copy_ignored(
    dockerfile: &Dockerfile,
    source: &str,
    ignore: &IgnorePatterns,
) -> Vec<CheckWarning> {
    let mut findings = Findings::default();
    syntax::copy_ignored(dockerfile, ignore, &mut findings);
    findings.finish(
        dockerfile,
        source,
        &CheckConfig::from_dockerfile(dockerfile),
    )
}

/// Which `# check=` configuration governs a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Only the file's directive (BuildKit's whole-file checks).
    File,
    /// Also the `# check=` comment above the instruction starting on this line.
    Instruction(usize),
}

#[derive(Debug)]
struct Finding {
    rule: &'static Rule,
    message: String,
    span: Span,
    scope: Scope,
}

/// Findings as the checks report them, filtered and ordered by [`Findings::finish`].
#[derive(Debug, Default)]
struct Findings {
    list: Vec<Finding>,
}

impl Findings {
    /// A finding about the instruction at `span`, governed by the comments above it.
    fn at(&mut self, rule: &'static Rule, span: Span, message: String) {
        self.push(rule, span, Scope::Instruction(span.line), message);
    }

    fn push(&mut self, rule: &'static Rule, span: Span, scope: Scope, message: String) {
        self.list.push(Finding {
            rule,
            message,
            span,
            scope,
        });
    }

    fn finish(
        self,
        dockerfile: &Dockerfile,
        source: &str,
        config: &CheckConfig,
    ) -> Vec<CheckWarning> {
        let comments = Comments::new(dockerfile, source);
        let mut by_line: HashMap<usize, CheckConfig> = HashMap::new();
        let mut out: Vec<CheckWarning> = self
            .list
            .into_iter()
            .filter(|f| match f.scope {
                Scope::File => config.reports(f.rule),
                Scope::Instruction(line) => by_line
                    .entry(line)
                    .or_insert_with(|| match comments.check_directive(line) {
                        Some(local) => config.merged(&local),
                        None => config.clone(),
                    })
                    .reports(f.rule),
            })
            .map(|f| CheckWarning {
                rule: f.rule.name,
                message: f.message,
                span: f.span,
                url: f.rule.url,
            })
            .collect();
        out.sort_by_key(|w| w.span.line);
        out
    }
}

/// The source's lines and which of them belong to instructions or to the parser directives, for the
/// comments right above an instruction (BuildKit's `PrevComment`).
#[derive(Debug)]
struct Comments<'a> {
    lines: Vec<&'a str>,
    /// `taken[n]`: line `n + 1` is part of an instruction or is a parser directive.
    taken: Vec<bool>,
}

impl<'a> Comments<'a> {
    fn new(dockerfile: &Dockerfile, source: &'a str) -> Self {
        let source = source.strip_prefix('\u{feff}').unwrap_or(source);
        let lines: Vec<&str> = source
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        let mut taken = vec![false; lines.len()];
        for (n, line) in lines.iter().enumerate() {
            if !is_directive_line(line) {
                break;
            }
            taken[n] = true;
        }
        let spans =
            dockerfile
                .meta_args
                .iter()
                .map(|i| i.span)
                .chain(dockerfile.stages.iter().flat_map(|s| {
                    std::iter::once(s.span).chain(s.instructions.iter().map(|i| i.span))
                }));
        for span in spans {
            let end = span.end_line.max(span.line).min(taken.len());
            for slot in taken.iter_mut().take(end).skip(span.line.saturating_sub(1)) {
                *slot = true;
            }
        }
        Self { lines, taken }
    }

    /// The comments right above the instruction starting on `line`, top to bottom, `#` and surrounding
    /// space removed. As in BuildKit's parser, an empty `#` line ends them and blank lines do not.
    fn above(&self, line: usize) -> Vec<&'a str> {
        let mut out = Vec::new();
        let mut n = line.saturating_sub(1);
        while n > 0 {
            n -= 1;
            if self.taken.get(n).copied().unwrap_or(true) {
                break;
            }
            let text = self.lines[n].trim_start();
            if text.is_empty() {
                continue;
            }
            let Some(comment) = text.strip_prefix('#') else {
                break;
            };
            let comment = comment.trim();
            if comment.is_empty() {
                break;
            }
            out.push(comment);
        }
        out.reverse();
        out
    }

    /// The first `check=` comment above the instruction on `line`, parsed (BuildKit's
    /// `WithMergedConfigFromComments`: one that does not parse changes nothing).
    fn check_directive(&self, line: usize) -> Option<CheckConfig> {
        self.above(line).into_iter().find_map(|comment| {
            let (name, value) = directive(comment)?;
            if !name.eq_ignore_ascii_case("check") {
                return None;
            }
            Some(CheckConfig::parse(value).unwrap_or_default())
        })
    }
}

/// A parser directive line at the top of the file: `#`, then `name = value` with a known name.
fn is_directive_line(line: &str) -> bool {
    line.trim_start()
        .strip_prefix('#')
        .and_then(|rest| directive(rest.trim_start()))
        .is_some_and(|(name, _)| {
            ["syntax", "escape", "check"]
                .iter()
                .any(|k| name.eq_ignore_ascii_case(k))
        })
}

/// `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`: the name and the value.
fn directive(text: &str) -> Option<(&str, &str)> {
    let name_len = text
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(text.len());
    let name = &text[..name_len];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let space = crate::parser::go::is_re2_space;
    let value = text[name_len..]
        .trim_start_matches(space)
        .strip_prefix('=')?
        .trim_matches(space);
    (!value.is_empty()).then_some((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_options_parse_as_buildkit_reads_them() {
        let c = CheckConfig::parse("skip=A,B;error=true").unwrap_or_default();
        assert_eq!(c.skip, ["A", "B"]);
        assert!(c.error && !c.skip_all);
        let c = CheckConfig::parse("skip=all // a comment").unwrap_or_default();
        assert!(c.skip_all);
        let c = CheckConfig::parse("experimental=all;skip=X").unwrap_or_default();
        assert!(c.experimental_all);
        assert_eq!(
            CheckConfig::parse("skip"),
            Err(r#"invalid check option "skip""#.to_owned())
        );
        assert_eq!(
            CheckConfig::parse("foo=bar"),
            Err(r#"invalid check option "foo""#.to_owned())
        );
        assert_eq!(
            CheckConfig::parse("error=maybe"),
            Err(r#"failed to parse check option "error=maybe": strconv.ParseBool: parsing "maybe": invalid syntax"#.to_owned())
        );
        assert_eq!(CheckConfig::parse(""), Ok(CheckConfig::default()));
    }

    #[test]
    fn directive_lines() {
        assert!(is_directive_line("# check=skip=all"));
        assert!(is_directive_line("#syntax = docker/dockerfile:1"));
        assert!(!is_directive_line("# foo=bar"));
        assert!(!is_directive_line("# check"));
        assert!(!is_directive_line("FROM x"));
    }
}
