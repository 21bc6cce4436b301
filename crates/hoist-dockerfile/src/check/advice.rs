//! hoist's own checks, from the best-practice advice the project grew from: fewer layers, no package
//! manager leftovers in them, a `.dockerignore`, pinned base images, a non-root user, COPY over ADD.

use super::reference;
use super::rules;
use super::shell;
use super::syntax::{is_remote, keyword};
use super::walk::Model;
use super::{ContextFacts, Findings};
use crate::{Command, CommandLine, Copy, Dockerfile, Instruction, MountKind, Run, Span};

/// Top-level names that rarely belong in an image.
const UNWANTED: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    ".env",
    ".venv",
    "venv",
    "__pycache__",
    "target",
    ".idea",
    ".vscode",
    ".DS_Store",
    ".terraform",
];

pub(super) fn check(
    dockerfile: &Dockerfile,
    model: &Model,
    facts: &ContextFacts,
    findings: &mut Findings,
) {
    let mut chain = model.final_chain();
    chain.sort_unstable();
    let mut recommends_configured = false;
    for &index in &chain {
        let instructions = &dockerfile.stages[index].instructions;
        consecutive_runs(instructions, findings);
        for instruction in instructions {
            if let Command::Run(run) = &instruction.command {
                packages(instruction, run, &mut recommends_configured, findings);
            }
        }
    }
    for (stage, info) in dockerfile.stages.iter().zip(&model.stages) {
        if let Some(image) = info.image.as_deref().filter(|_| info.on_image) {
            unpinned(image, stage.span, findings);
        }
        for instruction in &stage.instructions {
            if let Command::Add(copy) = &instruction.command {
                add_instead_of_copy(instruction, copy, findings);
            }
        }
    }
    root_user(dockerfile, model, findings);
    no_dockerignore(dockerfile, facts, findings);
}

/// ConsecutiveRunInstructions: shell-form RUNs one after the other, once per group.
fn consecutive_runs(instructions: &[Instruction], findings: &mut Findings) {
    let mut group: Vec<Span> = Vec::new();
    let flush = |group: &mut Vec<Span>, findings: &mut Findings| {
        if let (Some(first), Some(last)) = (group.first(), group.last())
            && group.len() > 1
        {
            let n = group.len();
            findings.at(
                &rules::CONSECUTIVE_RUN_INSTRUCTIONS,
                Span {
                    end_line: last.end_line,
                    ..*first
                },
                format!(
                    "Combine these {n} consecutive RUN instructions into one (commands joined with &&) so they make one layer instead of {n}"
                ),
            );
        }
        group.clear();
    };
    for instruction in instructions {
        match &instruction.command {
            Command::Run(run) if matches!(run.command, CommandLine::Shell(_)) => {
                group.push(instruction.span);
            }
            _ => flush(&mut group, findings),
        }
    }
    flush(&mut group, findings);
}

/// The apt-get and apk advice for one RUN.
fn packages(
    instruction: &Instruction,
    run: &Run,
    recommends_configured: &mut bool,
    findings: &mut Findings,
) {
    let commands = shell::run_commands(run);
    let cached = |prefixes: &[&str]| {
        run.mounts.iter().any(|m| {
            matches!(m.kind, MountKind::Cache | MountKind::Tmpfs)
                && m.target
                    .as_deref()
                    .is_some_and(|t| prefixes.iter().any(|p| t.starts_with(p)))
        })
    };
    let removes = |prefix: &str| {
        commands.iter().any(|c| {
            shell::program(c).is_some_and(|(name, args)| {
                name == "rm" && args.iter().any(|a| a.starts_with(prefix))
            })
        })
    };
    let mut apt_update = None;
    let mut apt_install = None;
    let mut apk_add = false;
    for command in &commands {
        let Some((name, args)) = shell::program(command) else {
            continue;
        };
        match name {
            "apt-get" | "apt" => {
                const WITH_VALUE: &[&str] = &[
                    "o",
                    "c",
                    "t",
                    "-option",
                    "-config-file",
                    "-target-release",
                    "-default-release",
                ];
                match shell::subcommand(args, WITH_VALUE) {
                    Some("update") => apt_update = apt_update.or(Some(name)),
                    Some("install") => {
                        let asked = args.iter().any(|a| {
                            a == "--no-install-recommends" || a.contains("Install-Recommends")
                        });
                        if !asked && apt_install.is_none() {
                            apt_install = Some(name);
                        }
                    }
                    _ => {}
                }
            }
            "apk" => {
                const WITH_VALUE: &[&str] = &[
                    "X",
                    "-repository",
                    "p",
                    "-root",
                    "-arch",
                    "-cache-dir",
                    "-keys-dir",
                    "-repositories-file",
                ];
                if shell::subcommand(args, WITH_VALUE) == Some("add")
                    && !args.iter().any(|a| a == "--no-cache")
                {
                    apk_add = true;
                }
            }
            _ => {}
        }
    }
    if let Some(name) = apt_update
        && !removes("/var/lib/apt/lists")
        && !cached(&["/var/lib/apt"])
    {
        findings.at(
            &rules::APT_GET_WITHOUT_CLEANUP,
            instruction.span,
            format!(
                "Remove the package lists in the same RUN as {name} update (&& rm -rf /var/lib/apt/lists/*) so they do not stay in the layer"
            ),
        );
    }
    // A RUN that writes APT's Install-Recommends setting answers for the RUNs after it.
    let configures = commands
        .iter()
        .flatten()
        .any(|w| w.contains("Install-Recommends"));
    if let Some(name) = apt_install.filter(|_| !*recommends_configured) {
        findings.at(
            &rules::APT_GET_WITHOUT_NO_INSTALL_RECOMMENDS,
            instruction.span,
            format!(
                "Add --no-install-recommends to {name} install so only the packages you name and their dependencies are installed"
            ),
        );
    }
    *recommends_configured |= configures;
    if apk_add && !removes("/var/cache/apk") && !cached(&["/var/cache/apk", "/etc/apk/cache"]) {
        findings.at(
            &rules::APK_ADD_WITHOUT_NO_CACHE,
            instruction.span,
            "Use apk add --no-cache so the package index is not left in the layer".to_owned(),
        );
    }
}

/// LatestOrUntaggedBase.
fn unpinned(image: &str, span: Span, findings: &mut Findings) {
    if image.contains('@') {
        return;
    }
    let message = match reference::split_tag(image).1 {
        None => format!(
            "Pin the base image '{image}' to a version tag or digest: without a tag it is whatever latest is when you build"
        ),
        Some("latest") => format!(
            "Pin the base image '{image}' to a version tag or digest instead of latest, so rebuilds start from the same image"
        ),
        Some(_) => return,
    };
    findings.at(&rules::LATEST_OR_UNTAGGED_BASE, span, message);
}

/// RootUser: the last stage, with what it inherits, ends without a non-root USER.
fn root_user(dockerfile: &Dockerfile, model: &Model, findings: &mut Findings) {
    let (Some(stage), Some(info)) = (dockerfile.stages.last(), model.stages.last()) else {
        return;
    };
    match &info.user {
        None => {
            // Images built to run unprivileged say so in their name (distroless's `:nonroot`).
            let unprivileged = info
                .root_image
                .as_deref()
                .is_some_and(|i| i.contains("nonroot") || i.contains("rootless"));
            if !unprivileged {
                findings.at(
                    &rules::ROOT_USER,
                    stage.span,
                    "Add a USER instruction with a non-root user: the final stage runs as root"
                        .to_owned(),
                );
            }
        }
        Some((Some(user), span)) => {
            let name = user.split(':').next().unwrap_or_default();
            if name == "root" || name == "0" {
                findings.at(
                    &rules::ROOT_USER,
                    *span,
                    format!(
                        "Switch to a non-root user: USER {user} makes the final stage run as root"
                    ),
                );
            }
        }
        Some((None, _)) => {}
    }
}

/// AddInsteadOfCopy: ADD of local paths that are not archives, without ADD's own flags.
fn add_instead_of_copy(instruction: &Instruction, copy: &Copy, findings: &mut Findings) {
    if copy.checksum.is_some() || copy.keep_git_dir || copy.unpack.is_some() {
        return;
    }
    let plain = copy
        .sources
        .iter()
        .all(|s| !is_remote(s) && !s.contains('$') && !maybe_archive(s));
    if plain {
        findings.at(
            &rules::ADD_INSTEAD_OF_COPY,
            instruction.span,
            format!(
                "Use COPY instead of {}: these sources are local files, not URLs or archives to unpack",
                keyword(&instruction.source)
            ),
        );
    }
}

/// Whether a source may be a (compressed) tar that ADD would unpack, judged by its name; a name that
/// ends in a wildcard may be anything.
fn maybe_archive(source: &str) -> bool {
    const EXTENSIONS: &[&str] = &[
        ".tar", ".tgz", ".tbz", ".tbz2", ".txz", ".tzst", ".tlz", ".gz", ".bz2", ".xz", ".zst",
        ".lz", ".lzma", ".lz4",
    ];
    if source.starts_with("<<") {
        return false;
    }
    let name = source
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_lowercase();
    let tail = name
        .rfind(['*', '?', ']'])
        .map_or(name.as_str(), |i| &name[i + 1..]);
    tail.is_empty() || EXTENSIONS.iter().any(|e| tail.ends_with(e))
}

/// NoDockerignore: the context has things an image rarely wants, no `.dockerignore` keeps them out,
/// and an instruction copies the whole context.
fn no_dockerignore(dockerfile: &Dockerfile, facts: &ContextFacts, findings: &mut Findings) {
    if facts.has_dockerignore {
        return;
    }
    let unwanted: Vec<&str> = facts
        .top_level_names
        .iter()
        .map(String::as_str)
        .filter(|n| UNWANTED.contains(n))
        .collect();
    if unwanted.is_empty() {
        return;
    }
    let whole_context = dockerfile
        .stages
        .iter()
        .flat_map(|s| &s.instructions)
        .find_map(|i| {
            let copy = match &i.command {
                Command::Copy(copy) if copy.from.is_none() => copy,
                Command::Add(copy) => copy,
                _ => return None,
            };
            let source = copy.sources.iter().find(|s| {
                matches!(
                    crate::ignore::clean_path(s).as_str(),
                    "." | "/" | "*" | "/*" | "**"
                )
            })?;
            Some((i, source))
        });
    if let Some((instruction, source)) = whole_context {
        findings.at(
            &rules::NO_DOCKERIGNORE,
            instruction.span,
            format!(
                "Add a .dockerignore file so {} {source} does not copy {} from the context into the image",
                keyword(&instruction.source),
                unwanted.join(", ")
            ),
        );
    }
}
