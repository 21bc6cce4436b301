//! BuildKit's checks that need only the instructions as written: keyword and stage-name casing, stage
//! names, MAINTAINER, repeated CMD/ENTRYPOINT/HEALTHCHECK, secret-looking ARG/ENV names, description
//! comments, the parser's own warnings, and (with the `.dockerignore` patterns) CopyIgnoredFile.

use super::rules::{self, RULES};
use super::{Comments, Findings, Scope};
use crate::parser::go;
use crate::{Command, Dockerfile, IgnorePatterns, Instruction, Span, Stage};

pub(super) fn check(dockerfile: &Dockerfile, source: &str, findings: &mut Findings) {
    parser_warnings(dockerfile, findings);
    let comments = Comments::new(dockerfile, source);
    for arg in &dockerfile.meta_args {
        description(arg, &comments, findings);
    }
    for stage in &dockerfile.stages {
        from_line(stage, &comments, findings);
        for instruction in &stage.instructions {
            if let Command::Maintainer(_) = instruction.command {
                findings.at(
                    &rules::MAINTAINER_DEPRECATED,
                    instruction.span,
                    "Maintainer instruction is deprecated in favor of using label".to_owned(),
                );
            }
            description(instruction, &comments, findings);
        }
    }
    stage_names(&dockerfile.stages, findings);
    casing(&dockerfile.stages, findings);
    for stage in &dockerfile.stages {
        used_once(stage, findings);
        secrets(stage, findings);
    }
}

/// The keyword as written: the first word of the instruction's text.
pub(super) fn keyword(source: &str) -> &str {
    source.split_whitespace().next().unwrap_or_default()
}

/// The parser's warnings (`Rule: message`), which are BuildKit's NoEmptyContinuation and
/// LegacyKeyValueFormat.
fn parser_warnings(dockerfile: &Dockerfile, findings: &mut Findings) {
    for warning in &dockerfile.warnings {
        let Some((name, message)) = warning.message.split_once(": ") else {
            continue;
        };
        let Some(rule) = RULES.iter().find(|r| r.name == name) else {
            continue;
        };
        // BuildKit reports the empty continuation for the whole file, the legacy form per instruction.
        let scope = if rule.name == rules::NO_EMPTY_CONTINUATION.name {
            Scope::File
        } else {
            Scope::Instruction(warning.span.line)
        };
        findings.push(rule, warning.span, scope, message.to_owned());
    }
}

/// StageNameCasing, FromAsCasing and InvalidDefinitionDescription for a `FROM` line.
fn from_line(stage: &Stage, comments: &Comments<'_>, findings: &mut Findings) {
    let (Some(name), Some(written)) = (&stage.name, &stage.name_as_written) else {
        return;
    };
    if written != &written.to_lowercase() {
        findings.at(
            &rules::STAGE_NAME_CASING,
            stage.span,
            format!("Stage name '{written}' should be lowercase"),
        );
    }
    let words: Vec<&str> = stage.source.split_whitespace().collect();
    let from = words.first().copied().unwrap_or_default();
    let as_word = words
        .len()
        .checked_sub(2)
        .map_or("", |n| words.get(n).copied().unwrap_or_default());
    // Mixed-case FROM is ConsistentInstructionCasing's business.
    let from_lower = from == from.to_lowercase();
    let from_upper = from == from.to_uppercase();
    let mismatch = (from_lower && as_word != as_word.to_lowercase())
        || (!from_lower && from_upper && as_word != as_word.to_uppercase());
    if mismatch {
        findings.at(
            &rules::FROM_AS_CASING,
            stage.span,
            format!("'{as_word}' and '{from}' keywords' casing do not match"),
        );
    }
    described(
        "FROM",
        &[name.as_str()],
        stage.span,
        &comments.above(stage.span.line),
        findings,
    );
}

fn description(instruction: &Instruction, comments: &Comments<'_>, findings: &mut Findings) {
    if let Command::Arg(decls) = &instruction.command {
        let names: Vec<&str> = decls.iter().map(|d| d.name.as_str()).collect();
        described(
            "ARG",
            &names,
            instruction.span,
            &comments.above(instruction.span.line),
            findings,
        );
    }
}

/// InvalidDefinitionDescription: the last comment right above a `FROM ... AS name` or an `ARG` must
/// start with the name it describes.
fn described(kind: &str, names: &[&str], span: Span, above: &[&str], findings: &mut Findings) {
    let (Some(last), Some(first_name)) = (above.last(), names.first()) else {
        return;
    };
    let first_word = last.split(' ').next().unwrap_or_default();
    if names.contains(&first_word) {
        return;
    }
    let example = if names.len() > 1 {
        "<arg_key>"
    } else {
        first_name
    };
    findings.at(
        &rules::INVALID_DEFINITION_DESCRIPTION,
        span,
        format!("Comment for {kind} should follow the format: `# {example} <description>`"),
    );
}

/// ReservedStageName and DuplicateStageName.
fn stage_names(stages: &[Stage], findings: &mut Findings) {
    let mut seen: Vec<&str> = Vec::new();
    for stage in stages {
        let Some(name) = stage.name.as_deref() else {
            continue;
        };
        if matches!(name, "context" | "scratch") {
            findings.push(
                &rules::RESERVED_STAGE_NAME,
                stage.span,
                Scope::File,
                format!(
                    "Stage name should not use the same name as reserved stage {}",
                    go::quote(name)
                ),
            );
        }
        if seen.contains(&name) {
            findings.push(
                &rules::DUPLICATE_STAGE_NAME,
                stage.span,
                Scope::File,
                format!(
                    "Duplicate stage name {}, stage names should be unique",
                    go::quote(name)
                ),
            );
        }
        seen.push(name);
    }
}

/// ConsistentInstructionCasing: every keyword in one case, the case most keywords use (upper on a tie).
fn casing(stages: &[Stage], findings: &mut Findings) {
    let keywords = || {
        stages.iter().flat_map(|stage| {
            std::iter::once((keyword(&stage.source), stage.span)).chain(
                stage
                    .instructions
                    .iter()
                    .map(|i| (keyword(&i.source), i.span)),
            )
        })
    };
    let (mut lower, mut upper) = (0usize, 0usize);
    for (word, _) in keywords() {
        if word == word.to_lowercase() {
            lower += 1;
        } else if word == word.to_uppercase() {
            upper += 1;
        }
    }
    let majority_lower = lower > upper;
    for (word, span) in keywords() {
        let wanted = if majority_lower && word != word.to_lowercase() {
            "lowercase"
        } else if !majority_lower && word != word.to_uppercase() {
            "uppercase"
        } else {
            continue;
        };
        findings.push(
            &rules::CONSISTENT_INSTRUCTION_CASING,
            span,
            Scope::File,
            format!("Command '{word}' should match the case of the command majority ({wanted})"),
        );
    }
}

/// MultipleInstructionsDisallowed: a CMD, ENTRYPOINT or HEALTHCHECK that a later one in the same stage
/// replaces. Reported where the replaced one is, under the comments of the one replacing it.
fn used_once(stage: &Stage, findings: &mut Findings) {
    let mut last: [Option<Span>; 3] = [None; 3];
    for instruction in &stage.instructions {
        let slot = match instruction.command {
            Command::Cmd(_) => 0,
            Command::Entrypoint(_) => 1,
            Command::Healthcheck(_) => 2,
            _ => continue,
        };
        if let Some(previous) = last[slot] {
            findings.push(
                &rules::MULTIPLE_INSTRUCTIONS_DISALLOWED,
                previous,
                Scope::Instruction(instruction.span.line),
                format!(
                    "Multiple {} instructions should not be used in the same stage because only the last one will be used",
                    keyword(&instruction.source)
                ),
            );
        }
        last[slot] = Some(instruction.span);
    }
}

/// SecretsUsedInArgOrEnv for the ARG and ENV instructions of a stage (BuildKit does not look at the
/// ARGs before the first FROM, which reach a stage only when it declares them again).
fn secrets(stage: &Stage, findings: &mut Findings) {
    for instruction in &stage.instructions {
        let (kind, keys): (&str, Vec<&str>) = match &instruction.command {
            Command::Arg(decls) => ("ARG", decls.iter().map(|d| d.name.as_str()).collect()),
            Command::Env(pairs) => ("ENV", pairs.iter().map(|p| p.key.as_str()).collect()),
            _ => continue,
        };
        for key in keys {
            if looks_secret(key) {
                findings.at(
                    &rules::SECRETS_USED_IN_ARG_OR_ENV,
                    instruction.span,
                    format!(
                        "Do not use ARG or ENV instructions for sensitive data ({kind} {})",
                        go::quote(key)
                    ),
                );
            }
        }
    }
}

/// BuildKit's secret-name test: some `_`-separated part of the name is a secret word (`password`,
/// `token`, …, any case) and none is an allowed one (`public`, `file`, `version`).
pub(super) fn looks_secret(key: &str) -> bool {
    const SECRET: &[&str] = &[
        "apikey",
        "auth",
        "credential",
        "credentials",
        "key",
        "password",
        "pword",
        "passwd",
        "secret",
        "token",
    ];
    const ALLOWED: &[&str] = &["public", "file", "version"];
    let has = |words: &[&str]| {
        key.split('_')
            .any(|part| words.iter().any(|w| part.eq_ignore_ascii_case(w)))
    };
    has(SECRET) && !has(ALLOWED)
}

/// CopyIgnoredFile over the context sources of COPY and ADD.
pub(super) fn copy_ignored(
    dockerfile: &Dockerfile,
    ignore: &IgnorePatterns,
    findings: &mut Findings,
) {
    if ignore.is_empty() || ignore.has_exceptions() {
        return;
    }
    for instruction in dockerfile.stages.iter().flat_map(|s| &s.instructions) {
        let (verb, copy) = match &instruction.command {
            Command::Copy(copy) if copy.from.is_none() => ("Copy", copy),
            Command::Add(copy) => ("Add", copy),
            _ => continue,
        };
        for source in &copy.sources {
            if source.starts_with("<<") || source.contains('$') || is_remote(source) {
                continue;
            }
            let cleaned = crate::ignore::clean_path(source);
            let ignored = if cleaned == "." || cleaned == "/" {
                root_ignored(ignore)
            } else {
                ignore.matches(&cleaned)
            };
            if ignored {
                findings.at(
                    &rules::COPY_IGNORED_FILE,
                    instruction.span,
                    format!(
                        "Attempting to {verb} file {} that is excluded by .dockerignore",
                        go::quote(&cleaned)
                    ),
                );
            }
        }
    }
}

/// Whether the patterns exclude everything at the top of the context (BuildKit: a `*`, `**` or `**/*`
/// pattern), judged by names no narrower pattern would catch together.
fn root_ignored(ignore: &IgnorePatterns) -> bool {
    ["a", "Z9", ".hidden", "x_y-z.txt"]
        .iter()
        .all(|name| ignore.matches(name))
}

/// A URL or git source of ADD.
pub(super) fn is_remote(source: &str) -> bool {
    source.contains("://") || source.starts_with("git@")
}
