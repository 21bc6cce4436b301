//! The checks (`hoist_dockerfile::check`): every rule on a Dockerfile that triggers it and a near miss
//! that must not, BuildKit's own check scenarios with its message texts, the `# check=` directive and
//! comments, and golden findings for `tests/check/<case>/Dockerfile` and the parser's golden corpus.
//! `UPDATE_GOLDEN=1 cargo test -p hoist-dockerfile --test check` rewrites the expectations.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hoist_dockerfile::check::{
    CheckConfig, CheckWarning, ContextFacts, RULES, check, check_copy_ignored, check_with_config,
    errors_on_warnings, lint_error,
};
use hoist_dockerfile::{IgnorePatterns, parse};

fn lint_with(source: &str, facts: &ContextFacts) -> Vec<CheckWarning> {
    let dockerfile = parse(source).unwrap_or_else(|e| panic!("{e}\n{source}"));
    check(&dockerfile, source, facts)
}

fn lint(source: &str) -> Vec<CheckWarning> {
    lint_with(source, &ContextFacts::default())
}

/// `(rule, line, message)` of every finding of the BuildKit rules, hoist's advice left out.
fn buildkit(source: &str) -> Vec<(String, usize, String)> {
    lint(source)
        .into_iter()
        .filter(|w| w.url.is_some())
        .map(|w| (w.rule.to_owned(), w.span.line, w.message))
        .collect()
}

/// `(rule, line)` of the findings of one rule.
fn lines_of(rule: &str, warnings: &[CheckWarning]) -> Vec<usize> {
    warnings
        .iter()
        .filter(|w| w.rule == rule)
        .map(|w| w.span.line)
        .collect()
}

fn expect(rule: &str, line: usize, message: &str) -> (String, usize, String) {
    (rule.to_owned(), line, message.to_owned())
}

fn render(warnings: &[CheckWarning]) -> String {
    let mut out = String::new();
    for w in warnings {
        let _ = writeln!(out, "{}: {}: {}", w.span.line, w.rule, w.message);
    }
    out
}

fn golden_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|entry| entry.expect("golden dir entry").path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The facts a case gives in `<case>/context` (one top-level name a line; `.dockerignore` among them
/// says there is one), or none.
fn facts_of(dir: &Path) -> ContextFacts {
    let Ok(text) = std::fs::read_to_string(dir.join("context")) else {
        return ContextFacts::default();
    };
    let names: Vec<String> = text
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect();
    ContextFacts {
        has_dockerignore: names.iter().any(|n| n == ".dockerignore"),
        top_level_names: names,
    }
}

fn findings_of(dir: &Path) -> String {
    let source = std::fs::read_to_string(dir.join("Dockerfile"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    match parse(&source) {
        Ok(dockerfile) => render(&check(&dockerfile, &source, &facts_of(dir))),
        Err(e) => format!("does not parse: {e}\n"),
    }
}

fn compare(name: &str, got: &str, expected_path: &Path, failures: &mut Vec<String>) {
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(expected_path, got).unwrap_or_else(|e| panic!("{name}: {e}"));
        return;
    }
    match std::fs::read_to_string(expected_path) {
        Ok(expected) if expected == got => {}
        Ok(expected) => failures.push(format!(
            "{name}: findings differ\n--- expected\n{expected}--- got\n{got}"
        )),
        Err(e) => failures.push(format!("{name}: no expected file ({e})\n--- got\n{got}")),
    }
}

/// `tests/check/<case>/Dockerfile` against `<case>/expected`.
#[test]
fn golden_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check");
    let dirs = golden_dirs(&root);
    assert!(dirs.len() >= 5, "check cases missing: {}", dirs.len());
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        compare(
            &name,
            &findings_of(dir),
            &dir.join("expected"),
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The parser's golden corpus (seed Dockerfiles among them), all findings in one file.
#[test]
fn golden_corpus() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = golden_dirs(&manifest.join("tests/golden"));
    assert!(dirs.len() > 40, "parser corpus missing: {}", dirs.len());
    let mut got = String::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        let _ = writeln!(got, "== {name}");
        got.push_str(&findings_of(dir));
    }
    let mut failures = Vec::new();
    compare(
        "corpus",
        &got,
        &manifest.join("tests/check/corpus.expected"),
        &mut failures,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- BuildKit's rules, on the scenarios of BuildKit's own check tests --------------------------------

#[test]
fn stage_name_casing_and_from_as_casing() {
    let source = "
# warning: stage name should be lowercase
#
FROM scratch AS BadStageName

# warning: 'as' should match 'FROM' cmd casing.
#
FROM scratch as base2

FROM scratch AS base3
";
    assert_eq!(
        buildkit(source),
        [
            expect(
                "StageNameCasing",
                4,
                "Stage name 'BadStageName' should be lowercase"
            ),
            expect(
                "FromAsCasing",
                8,
                "'as' and 'FROM' keywords' casing do not match"
            ),
        ]
    );
    let source = "
from scratch AS base

from scratch as base2
";
    assert_eq!(
        buildkit(source),
        [expect(
            "FromAsCasing",
            2,
            "'AS' and 'from' keywords' casing do not match"
        )]
    );
}

#[test]
fn no_empty_continuation_comes_from_the_parser_once() {
    let source = "
FROM scratch
# warning: empty continuation line
COPY Dockerfile \\

.
COPY Dockerfile \\
.
";
    assert_eq!(
        buildkit(source),
        [expect("NoEmptyContinuation", 6, "Empty continuation line")]
    );
}

#[test]
fn consistent_instruction_casing() {
    let cases: &[(&str, &[(usize, &str)])] = &[
        (
            "\nFrom scratch as base\nFROM scratch AS base2\n",
            &[(
                2,
                "Command 'From' should match the case of the command majority (uppercase)",
            )],
        ),
        (
            "\nFROM scratch\ncopy Dockerfile /foo\nCOPY Dockerfile /bar\n",
            &[(
                3,
                "Command 'copy' should match the case of the command majority (uppercase)",
            )],
        ),
        (
            "\nfrOM scratch as base\nfrom scratch as base2\n",
            &[(
                2,
                "Command 'frOM' should match the case of the command majority (lowercase)",
            )],
        ),
        (
            "\nfrom scratch\nCOPY Dockerfile /foo\ncopy Dockerfile /bar\n",
            &[(
                3,
                "Command 'COPY' should match the case of the command majority (lowercase)",
            )],
        ),
        (
            "\nfrom scratch\nCOPY a /foo\nCOPY b /bar\nCOPY c /baz\n",
            &[(
                2,
                "Command 'from' should match the case of the command majority (uppercase)",
            )],
        ),
        (
            "\nFROM scratch\ncopy a /foo\ncopy b /bar\ncopy c /baz\n",
            &[(
                2,
                "Command 'FROM' should match the case of the command majority (lowercase)",
            )],
        ),
        ("\nfrom scratch\ncopy a /foo\ncopy b /bar\n", &[]),
        ("\nFROM scratch\nCOPY a /foo\nCOPY b /bar\n", &[]),
        ("\nFROM alpine:3.20\nRUN <<'EOT'\nenv\nEOT\n", &[]),
    ];
    for (source, expected) in cases {
        let got: Vec<(usize, String)> = lint(source)
            .into_iter()
            .filter(|w| w.rule == "ConsistentInstructionCasing")
            .map(|w| (w.span.line, w.message))
            .collect();
        let expected: Vec<(usize, String)> = expected
            .iter()
            .map(|(l, m)| (*l, (*m).to_owned()))
            .collect();
        assert_eq!(got, expected, "{source}");
    }
}

#[test]
fn duplicate_and_reserved_stage_names() {
    assert_eq!(
        buildkit("\nFROM scratch AS b\nFROM scratch AS b\n"),
        [expect(
            "DuplicateStageName",
            3,
            "Duplicate stage name \"b\", stage names should be unique"
        )]
    );
    assert_eq!(buildkit("\nFROM scratch AS b1\nFROM scratch AS b2\n"), []);
    assert_eq!(
        buildkit("\nFROM scratch AS scratch\nFROM scratch AS context\n"),
        [
            expect(
                "ReservedStageName",
                2,
                "Stage name should not use the same name as reserved stage \"scratch\""
            ),
            expect(
                "ReservedStageName",
                3,
                "Stage name should not use the same name as reserved stage \"context\""
            ),
        ]
    );
    assert_eq!(buildkit("\nFROM scratch\nFROM scratch AS a\n"), []);
}

#[test]
fn json_args_recommended() {
    assert_eq!(
        buildkit("\nFROM scratch\nCMD mycommand\n"),
        [expect(
            "JSONArgsRecommended",
            3,
            "JSON arguments recommended for CMD to prevent unintended behavior related to OS signals"
        )]
    );
    assert_eq!(
        buildkit("\nFROM scratch\nENTRYPOINT mycommand\n"),
        [expect(
            "JSONArgsRecommended",
            3,
            "JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals"
        )]
    );
    for near_miss in [
        "\nFROM scratch\nSHELL [\"/usr/bin/customshell\"]\nCMD mycommand\n",
        "\nFROM scratch\nSHELL [\"/usr/bin/customshell\"]\nENTRYPOINT mycommand\n",
        "\nFROM scratch AS base\nSHELL [\"/usr/bin/customshell\"]\n\nFROM base\nCMD mycommand\n",
        "\nFROM scratch\nCMD [\"mycommand\"]\n",
        "\nFROM scratch\n# check=skip=JSONArgsRecommended\nCMD mycommand\n",
    ] {
        assert_eq!(buildkit(near_miss), [], "{near_miss}");
    }
    // A SHELL after the CMD does not count.
    assert_eq!(
        lines_of(
            "JSONArgsRecommended",
            &lint("FROM scratch\nCMD x\nSHELL [\"/bin/bash\", \"-c\"]\n")
        ),
        [2]
    );
}

#[test]
fn maintainer_deprecated() {
    assert_eq!(
        buildkit("\nFROM scratch\nMAINTAINER me@example.org\n"),
        [expect(
            "MaintainerDeprecated",
            3,
            "Maintainer instruction is deprecated in favor of using label"
        )]
    );
    assert_eq!(
        buildkit("\nFROM scratch\nLABEL org.opencontainers.image.authors=\"me@example.org\"\n"),
        []
    );
    assert_eq!(
        buildkit("\nFROM scratch\n# check=skip=MaintainerDeprecated\nMAINTAINER me@example.org\n"),
        []
    );
}

#[test]
fn undefined_arg_in_from() {
    for near_miss in [
        "\nARG base=scratch\nFROM $base\nCOPY Dockerfile .\n",
        "\nARG BUILDPLATFORM=linux/amd64\nFROM --platform=$BUILDPLATFORM scratch\n",
        "\nFROM --platform=$BUILDPLATFORM scratch\n",
        "\nARG DEBUG\nFROM scratch${DEBUG}\n",
        "\nARG DEBUG\nFROM scra${DEBUG:-tch}\n",
        "\nARG DEBUG=\"\"\nFROM scratch${DEBUG-@bogus}\n",
    ] {
        assert_eq!(buildkit(near_miss), [], "{near_miss}");
    }
    assert_eq!(
        buildkit("\nFROM --platform=$BULIDPLATFORM scratch\n"),
        [expect(
            "UndefinedArgInFrom",
            2,
            "FROM argument 'BULIDPLATFORM' is not declared (did you mean BUILDPLATFORM?)"
        )]
    );
    assert_eq!(
        buildkit("\nARG MY_OS=linux\nARG MY_ARCH=amd64\nFROM --platform=linux/${MYARCH} busybox\n"),
        [expect(
            "UndefinedArgInFrom",
            4,
            "FROM argument 'MYARCH' is not declared (did you mean MY_ARCH?)"
        )]
    );
    assert_eq!(
        buildkit("\nARG tag=latest\nFROM busybox:${tag}${version} AS b\n"),
        [expect(
            "UndefinedArgInFrom",
            3,
            "FROM argument 'version' is not declared"
        )]
    );
}

#[test]
fn workdir_relative_path() {
    assert_eq!(
        buildkit("\nFROM scratch\nWORKDIR app/\n"),
        [expect(
            "WorkdirRelativePath",
            3,
            "Relative workdir \"app/\" can have unexpected results if the base image changes"
        )]
    );
    for near_miss in [
        "\nFROM scratch AS a\nWORKDIR /app\n\nFROM a AS b\nWORKDIR subdir/\n",
        "\nFROM scratch\n# check=skip=WorkdirRelativePath\nWORKDIR app/\n",
        "\nFROM scratch\nWORKDIR /app\nWORKDIR sub\n",
        "\nFROM scratch\nARG DIR\nWORKDIR $DIR\n",
        "# escape=`\nFROM scratch\nWORKDIR C:\\app\n",
    ] {
        assert_eq!(buildkit(near_miss), [], "{near_miss}");
    }
    // A value known from an ARG default is judged.
    assert_eq!(
        lines_of(
            "WorkdirRelativePath",
            &lint("FROM scratch\nARG DIR=app\nWORKDIR $DIR\n")
        ),
        [3]
    );
}

#[test]
fn undefined_var() {
    for near_miss in [
        "\nFROM scratch\nARG foo\nCOPY Dockerfile${foo} .\n",
        "\nFROM alpine AS base\nARG foo=Dockerfile\n\nFROM base\nCOPY $foo .\n",
        "\nFROM alpine\nRUN echo $PATH\n",
        "\nFROM alpine\nENV PATH=$PATH:/opt/bin\n",
        "\nFROM golang:1.22\nWORKDIR $GOPATH/src\n",
        "\nFROM alpine\nENV A=1\nENV B=$A\n",
        "\nFROM alpine\nCMD [\"sh\", \"-c\", \"echo $UNSET\"]\n",
        "\nFROM alpine\nCOPY <<'DOC' /x\n$NOT_EXPANDED\nDOC\n",
    ] {
        assert_eq!(buildkit(near_miss), [], "{near_miss}");
    }
    assert_eq!(
        buildkit("\nFROM alpine\nCOPY $foo .\nARG foo=bar\nRUN echo $foo\n"),
        [expect(
            "UndefinedVar",
            3,
            "Usage of undefined variable '$foo'"
        )]
    );
    assert_eq!(
        buildkit(
            "\nFROM alpine\nARG DIR_BINARIES=binaries/\nARG DIR_ASSETS=assets/\nARG DIR_CONFIG=config/\nCOPY $DIR_ASSET .\n"
        ),
        [expect(
            "UndefinedVar",
            6,
            "Usage of undefined variable '$DIR_ASSET' (did you mean $DIR_ASSETS?)"
        )]
    );
    assert_eq!(
        buildkit("\nFROM alpine\nENV PATH=$PAHT:/tmp/bin\n"),
        [expect(
            "UndefinedVar",
            3,
            "Usage of undefined variable '$PAHT' (did you mean $PATH?)"
        )]
    );
    // Every stage is checked, as `docker build --check` does.
    assert_eq!(
        buildkit("\nFROM scratch AS first\nCOPY $foo .\n\nFROM scratch AS second\nCOPY $bar .\n"),
        [
            expect("UndefinedVar", 3, "Usage of undefined variable '$foo'"),
            expect("UndefinedVar", 6, "Usage of undefined variable '$bar'"),
        ]
    );
    // A global ARG reaches a stage only when the stage declares it; so do the platform ARGs.
    let warnings =
        lint("ARG V=1\nFROM alpine:3.20\nLABEL v=$V\nARG V\nLABEL w=$V\nCOPY bin/$TARGETARCH /\n");
    assert_eq!(lines_of("UndefinedVar", &warnings), [3, 6]);
    // ENV pairs are expanded before any of them is set; each name once per instruction.
    let warnings = lint("FROM alpine:3.20\nENV A=1 B=$A C=$A\n");
    assert_eq!(lines_of("UndefinedVar", &warnings), [2]);
    // Heredoc bodies of COPY are expanded (quotes are literal there), RUN's are the shell's.
    let warnings =
        lint("FROM alpine:3.20\nCOPY <<DOC /x\nit's $MISSING\nDOC\nRUN <<DOC\necho $ALSO\nDOC\n");
    assert_eq!(lines_of("UndefinedVar", &warnings), [2]);
}

#[test]
fn multiple_instructions_disallowed() {
    let message = |kind: &str| {
        format!(
            "Multiple {kind} instructions should not be used in the same stage because only the last one will be used"
        )
    };
    let source = "
FROM scratch
ENTRYPOINT [\"/myapp\"]
ENTRYPOINT [\"/myotherapp\"]
CMD [\"/myapp\"]
CMD [\"/myotherapp\"]
HEALTHCHECK CMD [\"/myapp\"]
HEALTHCHECK CMD [\"/myotherapp\"]
";
    assert_eq!(
        buildkit(source),
        [
            expect("MultipleInstructionsDisallowed", 3, &message("ENTRYPOINT")),
            expect("MultipleInstructionsDisallowed", 5, &message("CMD")),
            expect("MultipleInstructionsDisallowed", 7, &message("HEALTHCHECK")),
        ]
    );
    let source = "
FROM scratch
ENTRYPOINT [\"/myapp\"]
CMD [\"/myapp\"]
HEALTHCHECK CMD [\"/myapp\"]
COPY <<DOC /a.txt
Hello, World!
DOC
ENTRYPOINT [\"/myotherapp\"]
CMD [\"/myotherapp\"]
HEALTHCHECK CMD [\"/myotherapp\"]
";
    assert_eq!(
        buildkit(source),
        [
            expect("MultipleInstructionsDisallowed", 3, &message("ENTRYPOINT")),
            expect("MultipleInstructionsDisallowed", 4, &message("CMD")),
            expect("MultipleInstructionsDisallowed", 5, &message("HEALTHCHECK")),
        ]
    );
    let source = "
FROM scratch AS a
ENTRYPOINT [\"/myapp\"]
CMD [\"/myapp\"]

FROM a AS b
ENTRYPOINT [\"/myotherapp\"]
CMD [\"/myotherapp\"]
";
    assert_eq!(buildkit(source), []);
}

#[test]
fn legacy_key_value_format_is_the_parsers_once() {
    assert_eq!(
        buildkit("\nFROM scratch\nENV testkey value\nLABEL key value\n"),
        [
            expect(
                "LegacyKeyValueFormat",
                3,
                "\"ENV key=value\" should be used instead of legacy \"ENV key value\" format"
            ),
            expect(
                "LegacyKeyValueFormat",
                4,
                "\"LABEL key=value\" should be used instead of legacy \"LABEL key value\" format"
            ),
        ]
    );
    assert_eq!(
        buildkit("\nFROM scratch\nENV testkey=value\nLABEL key=value\n"),
        []
    );
    assert_eq!(
        buildkit(
            "\nFROM scratch\n# check=skip=LegacyKeyValueFormat\nENV testkey value\n# check=skip=LegacyKeyValueFormat\nLABEL key value\n"
        ),
        []
    );
}

#[test]
fn redundant_target_platform() {
    assert_eq!(
        buildkit("\nFROM --platform=$TARGETPLATFORM scratch\n"),
        [expect(
            "RedundantTargetPlatform",
            2,
            "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior"
        )]
    );
    assert_eq!(
        buildkit("\nFROM --platform=${TARGETPLATFORM} scratch\n"),
        [expect(
            "RedundantTargetPlatform",
            2,
            "Setting platform to predefined ${TARGETPLATFORM} in FROM is redundant as this is the default behavior"
        )]
    );
    for near_miss in [
        "\n# check=skip=RedundantTargetPlatform\nFROM --platform=$TARGETPLATFORM scratch\n",
        "\nFROM --platform=$BUILDPLATFORM scratch\n",
        "\nFROM --platform=$TARGETOS/$TARGETARCH scratch\n",
    ] {
        assert_eq!(buildkit(near_miss), [], "{near_miss}");
    }
}

#[test]
fn secrets_used_in_arg_or_env() {
    let source = "# check=skip=InvalidDefinitionDescription

FROM scratch
ARG SECRET_PASSPHRASE
ENV SUPER_Secret=foo
ENV password=bar secret=baz
ARG super_duper_secret_token=foo auth=bar
ENV apikey=bar sunflower=foo
ENV git_key=
ENV PUBLIC_KEY=
ARG public_token
ARG SECRET_PASSPHRASE_FILE
ENV password_file=bar secret_File=baz
ARG AUTH_MODULE_VERSION
# check=skip=SecretsUsedInArgOrEnv // allow secret in environment
ENV password=bar
# check=skip=SecretsUsedInArgOrEnv // allow secret in arg
ARG password
# check=skip=all // is local to only this instruction
ENV alternate_password=bar
# check=skip=all // is local to only this instruction
ARG alternate_password
";
    let message = |kind: &str, key: &str| {
        format!("Do not use ARG or ENV instructions for sensitive data ({kind} \"{key}\")")
    };
    let got: Vec<(String, usize, String)> = buildkit(source)
        .into_iter()
        .filter(|(rule, _, _)| rule == "SecretsUsedInArgOrEnv")
        .collect();
    assert_eq!(
        got,
        [
            expect(
                "SecretsUsedInArgOrEnv",
                4,
                &message("ARG", "SECRET_PASSPHRASE")
            ),
            expect("SecretsUsedInArgOrEnv", 5, &message("ENV", "SUPER_Secret")),
            expect("SecretsUsedInArgOrEnv", 6, &message("ENV", "password")),
            expect("SecretsUsedInArgOrEnv", 6, &message("ENV", "secret")),
            expect(
                "SecretsUsedInArgOrEnv",
                7,
                &message("ARG", "super_duper_secret_token")
            ),
            expect("SecretsUsedInArgOrEnv", 7, &message("ARG", "auth")),
            expect("SecretsUsedInArgOrEnv", 8, &message("ENV", "apikey")),
            expect("SecretsUsedInArgOrEnv", 9, &message("ENV", "git_key")),
        ]
    );
}

#[test]
fn invalid_default_arg_in_from() {
    let message = |base: &str| {
        format!("Default value for ARG {base} results in empty or invalid base image name")
    };
    assert_eq!(
        buildkit("\nARG VERSION\nFROM busybox:$VERSION\n"),
        [expect(
            "InvalidDefaultArgInFrom",
            3,
            &message("busybox:$VERSION")
        )]
    );
    assert_eq!(
        buildkit("\nARG IMAGE\nFROM $IMAGE\n"),
        [expect("InvalidDefaultArgInFrom", 3, &message("$IMAGE"))]
    );
    assert_eq!(
        buildkit("\nARG SFX=\"box:\"\nFROM busy${SFX}\n"),
        [expect("InvalidDefaultArgInFrom", 3, &message("busy${SFX}"))]
    );
    for near_miss in [
        "\nARG VERSION=\"latest\"\nFROM busybox:${VERSION}\n",
        "\nARG BUSYBOX_VARIANT=\"\"\nFROM busybox:stable${BUSYBOX_VARIANT}\n",
        "\nARG BUSYBOX_VARIANT\nFROM busybox:stable${BUSYBOX_VARIANT}\n",
    ] {
        assert_eq!(buildkit(near_miss), [], "{near_miss}");
    }
}

#[test]
fn from_platform_flag_const_disallowed() {
    assert_eq!(
        buildkit("\nFROM --platform=linux/amd64 scratch\n"),
        [expect(
            "FromPlatformFlagConstDisallowed",
            2,
            "FROM --platform flag should not use constant value \"linux/amd64\""
        )]
    );
    for near_miss in [
        "\nFROM --platform=linux/amd64 scratch AS my_amd64_stage\n",
        "\nFROM --platform=linux/amd64 scratch AS linux\n",
        "\nFROM --platform=$BUILDPLATFORM scratch\n",
    ] {
        assert_eq!(buildkit(near_miss), [], "{near_miss}");
    }
}

#[test]
fn expose_checks() {
    assert_eq!(
        buildkit("\nFROM scratch\nEXPOSE 80/TcP 8080/TCP 8080/udp\n"),
        [
            expect(
                "ExposeProtoCasing",
                3,
                "Defined protocol '80/TcP' in EXPOSE instruction should be lowercase"
            ),
            expect(
                "ExposeProtoCasing",
                3,
                "Defined protocol '8080/TCP' in EXPOSE instruction should be lowercase"
            ),
        ]
    );
    let format = |port: &str| {
        format!(
            "EXPOSE instruction should not define an IP address or host-port mapping, found '{port}'"
        )
    };
    // The parser keeps EXPOSE's ports in BuildKit's sorted order: compare as sets.
    let mut got: Vec<String> =
        lint("\nFROM scratch\nEXPOSE 127.0.0.1:80:80 [::1]:8080:8080 5000:5000 8000\n")
            .into_iter()
            .filter(|w| w.rule == "ExposeInvalidFormat" && w.span.line == 3)
            .map(|w| w.message)
            .collect();
    got.sort();
    let mut expected = vec![
        format("127.0.0.1:80:80"),
        format("[::1]:8080:8080"),
        format("5000:5000"),
    ];
    expected.sort();
    assert_eq!(got, expected);
    assert_eq!(
        buildkit("\nFROM scratch\nEXPOSE 80 443/tcp 53/udp $PORT\n"),
        []
    );
    // A port from a known ARG default is judged too.
    assert_eq!(
        lines_of(
            "ExposeProtoCasing",
            &lint("FROM scratch\nARG P=80/TCP\nEXPOSE $P\n")
        ),
        [3]
    );
}

#[test]
fn invalid_definition_description_is_experimental() {
    let quiet = "# check=skip=all;experimental=InvalidDefinitionDescription
# foo this is the foo
ARG foo=bar

# base this is the base image
FROM scratch AS base

# version this is the version number
ARG version=latest

# baz this is the baz
ARG foo=baz bar=qux baz=quux
#
ARG bit=bat

# comment for something other than ARG or FROM
COPY Dockerfile .
";
    assert_eq!(buildkit(quiet), []);
    let source = "# check=experimental=InvalidDefinitionDescription
# bar this is the bar
ARG foo=bar
# BasE this is the BasE image
FROM scratch AS base
# definitely a bad comment
ARG version=latest
# definitely a bad comment
ARG foo=baz bar=qux baz=quux
";
    let got: Vec<(String, usize, String)> = buildkit(source)
        .into_iter()
        .filter(|(rule, _, _)| rule == "InvalidDefinitionDescription")
        .collect();
    assert_eq!(
        got,
        [
            expect(
                "InvalidDefinitionDescription",
                3,
                "Comment for ARG should follow the format: `# foo <description>`"
            ),
            expect(
                "InvalidDefinitionDescription",
                5,
                "Comment for FROM should follow the format: `# base <description>`"
            ),
            expect(
                "InvalidDefinitionDescription",
                7,
                "Comment for ARG should follow the format: `# version <description>`"
            ),
            expect(
                "InvalidDefinitionDescription",
                9,
                "Comment for ARG should follow the format: `# <arg_key> <description>`"
            ),
        ]
    );
    // Without the experimental switch the rule is silent.
    let off = source.replacen("# check=experimental=InvalidDefinitionDescription", "#", 1);
    assert!(lines_of("InvalidDefinitionDescription", &lint(&off)).is_empty());
}

#[test]
fn copy_ignored_file_needs_the_patterns() {
    let source = "\nFROM scratch\nCOPY Dockerfile .\nADD ./Dockerfile /windy\nCOPY --from=base /Dockerfile /x\n";
    let dockerfile = parse(source).expect("parses");
    let ignore = IgnorePatterns::parse("\nDockerfile\n").expect("patterns");
    let got: Vec<(usize, String)> = check_copy_ignored(&dockerfile, source, &ignore)
        .into_iter()
        .map(|w| (w.span.line, w.message))
        .collect();
    assert_eq!(
        got,
        [
            (
                3,
                "Attempting to Copy file \"Dockerfile\" that is excluded by .dockerignore"
                    .to_owned()
            ),
            (
                4,
                "Attempting to Add file \"Dockerfile\" that is excluded by .dockerignore"
                    .to_owned()
            ),
        ]
    );
    let skipped = format!("# check=skip=CopyIgnoredFile\n{source}");
    let dockerfile = parse(&skipped).expect("parses");
    assert!(check_copy_ignored(&dockerfile, &skipped, &ignore).is_empty());
    // Exceptions make BuildKit give up; `.` is reported only when everything is excluded.
    let with_exception = IgnorePatterns::parse("**\n!Dockerfile\n").expect("patterns");
    let dockerfile = parse(source).expect("parses");
    assert!(check_copy_ignored(&dockerfile, source, &with_exception).is_empty());
    let root = "\nFROM scratch\nCOPY . .\n";
    let dockerfile = parse(root).expect("parses");
    let dotfiles = IgnorePatterns::parse(".*\n").expect("patterns");
    assert!(check_copy_ignored(&dockerfile, root, &dotfiles).is_empty());
    let everything = IgnorePatterns::parse("*\n").expect("patterns");
    let got = check_copy_ignored(&dockerfile, root, &everything);
    assert_eq!(
        got.iter()
            .map(|w| (w.span.line, w.message.as_str()))
            .collect::<Vec<_>>(),
        [(
            3,
            "Attempting to Copy file \".\" that is excluded by .dockerignore"
        )]
    );
}

// ---- The directive and the comments ------------------------------------------------------------------

#[test]
fn check_directive_skips_rules() {
    let body = "FROM scratch as base\ncopy Dockerfile .\n";
    let rules = |directive: &str| -> Vec<String> {
        let mut rules: Vec<String> = buildkit(&format!("{directive}\n{body}"))
            .into_iter()
            .map(|(rule, _, _)| rule)
            .collect();
        rules.dedup();
        rules
    };
    assert_eq!(rules("#"), ["FromAsCasing", "ConsistentInstructionCasing"]);
    assert!(rules("#check=skip=all").is_empty());
    assert!(rules("#check=skip=all;error=true").is_empty());
    assert!(rules("#check=skip=ConsistentInstructionCasing,FromAsCasing").is_empty());
    assert_eq!(
        rules("#check=skip=ConsistentInstructionCasing"),
        ["FromAsCasing"]
    );
    // BuildKit reads the directive up to the first space: `skip` alone is no option. That fails
    // BuildKit's build; here the directive counts as absent.
    let spaced = "# check=skip = ConsistentInstructionCasing";
    assert!(CheckConfig::parse("skip = ConsistentInstructionCasing").is_err());
    assert_eq!(
        rules(spaced),
        ["FromAsCasing", "ConsistentInstructionCasing"]
    );
    // hoist's advice is skipped by name like BuildKit's rules.
    let all = lint("FROM debian\n");
    assert_eq!(lines_of("LatestOrUntaggedBase", &all), [1]);
    let skipped = lint("# check=skip=LatestOrUntaggedBase,RootUser\nFROM debian\n");
    assert!(skipped.is_empty(), "{skipped:?}");
    assert!(lint("# check=skip=all\nFROM debian\nMAINTAINER x\n").is_empty());
}

#[test]
fn error_directive_and_lint_error() {
    let strict = parse("# check=error=true\nFROM scratch as base\n").expect("parses");
    assert!(errors_on_warnings(&strict));
    let relaxed = parse("FROM scratch\n").expect("parses");
    assert!(!errors_on_warnings(&relaxed));
    let broken = parse("# check=error=maybe\nFROM scratch\n").expect("parses");
    assert!(!errors_on_warnings(&broken));
    assert!(CheckConfig::parse(broken.directives.check.as_deref().unwrap_or_default()).is_err());
    let source = "# check=skip=ConsistentInstructionCasing;error=true\nFROM scratch as base\ncopy Dockerfile .\n";
    let warnings = lint(source);
    assert_eq!(
        lint_error(&warnings).as_deref(),
        Some("lint violation found for rules: FromAsCasing, RootUser")
    );
    assert_eq!(lint_error(&[]), None);
}

#[test]
fn a_config_can_replace_the_directive() {
    // BUILDKIT_DOCKERFILE_CHECK=skip=all overrides `# check=error=true`.
    let source = "#check=error=true\nFROM scratch as base\ncopy Dockerfile .\n";
    let dockerfile = parse(source).expect("parses");
    let config = CheckConfig::parse("skip=all").expect("config");
    assert!(check_with_config(&dockerfile, source, &ContextFacts::default(), &config).is_empty());
}

#[test]
fn comments_above_an_instruction_apply_to_it_only() {
    let source = "FROM alpine:3.20\n# check=skip=all\nCMD a\n\n# something else\n# check=skip=MaintainerDeprecated\nMAINTAINER x\nCMD b\n";
    let warnings = lint(source);
    // CMD a: skipped; MAINTAINER: skipped; CMD b reported (and it replaces CMD a, reported at line 3
    // under CMD b's comments).
    assert_eq!(lines_of("JSONArgsRecommended", &warnings), [8]);
    assert_eq!(
        lines_of("MaintainerDeprecated", &warnings),
        Vec::<usize>::new()
    );
    assert_eq!(lines_of("MultipleInstructionsDisallowed", &warnings), [3]);
    // An empty `#` ends the comments that belong to an instruction.
    let source = "FROM alpine:3.20\n# check=skip=all\n#\nMAINTAINER x\n";
    assert_eq!(lines_of("MaintainerDeprecated", &lint(source)), [4]);
    // Blank lines do not (BuildKit's parser keeps the comments across them).
    let source = "FROM alpine:3.20\n# check=skip=MaintainerDeprecated\n\nMAINTAINER x\n";
    assert_eq!(
        lines_of("MaintainerDeprecated", &lint(source)),
        Vec::<usize>::new()
    );
    // Parser directives at the top are not an instruction's comments.
    let source = "# syntax=docker/dockerfile:1\n# check=experimental=all\n# base is the base\nFROM alpine:3.20 AS base\n";
    assert!(lines_of("InvalidDefinitionDescription", &lint(source)).is_empty());
}

#[test]
fn findings_display_as_buildkit_prints_them() {
    let warnings = lint("FROM scratch\nMAINTAINER x\n");
    let maintainer = warnings
        .iter()
        .find(|w| w.rule == "MaintainerDeprecated")
        .expect("finding");
    assert_eq!(
        maintainer.to_string(),
        "MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 2)"
    );
    assert_eq!(
        maintainer.url,
        Some("https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/")
    );
}

#[test]
fn rule_table() {
    let mut names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count, "rule names are unique");
    assert!(
        RULES
            .iter()
            .filter(|r| r.experimental)
            .all(|r| r.name == "InvalidDefinitionDescription")
    );
}

// ---- hoist's advice ----------------------------------------------------------------------------------

const NONE: [usize; 0] = [];

fn advice(rule: &str, source: &str) -> Vec<usize> {
    lines_of(rule, &lint(source))
}

#[test]
fn consecutive_run_instructions() {
    let source = "FROM debian:12\nRUN a\nRUN b\n# comment\nRUN c\nCOPY x /x\nRUN d\nRUN [\"e\"]\n";
    let warnings = lint(source);
    assert_eq!(lines_of("ConsecutiveRunInstructions", &warnings), [2]);
    let finding = warnings
        .iter()
        .find(|w| w.rule == "ConsecutiveRunInstructions")
        .expect("finding");
    assert_eq!(finding.span.end_line, 5);
    assert!(
        finding.message.contains("3 consecutive RUN"),
        "{}",
        finding.message
    );
    // A builder stage's layers do not reach the image.
    assert_eq!(
        advice(
            "ConsecutiveRunInstructions",
            "FROM golang:1.22 AS build\nRUN a\nRUN b\nFROM scratch\nCOPY --from=build /x /x\n"
        ),
        NONE
    );
    // ...unless the final stage is built on it.
    assert_eq!(
        advice(
            "ConsecutiveRunInstructions",
            "FROM debian:12 AS base\nRUN a\nRUN b\nFROM base\nCMD [\"x\"]\n"
        ),
        [2]
    );
}

#[test]
fn apt_get_without_cleanup() {
    assert_eq!(
        advice(
            "AptGetWithoutCleanup",
            "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl\n"
        ),
        [2]
    );
    for near_miss in [
        "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl \\\n && rm -rf /var/lib/apt/lists/*\n",
        "FROM debian:12\nRUN --mount=type=cache,target=/var/lib/apt,sharing=locked apt-get update && apt-get install -y --no-install-recommends curl\n",
        "FROM debian:12\nRUN echo apt-get update\n",
    ] {
        assert_eq!(
            advice("AptGetWithoutCleanup", near_miss),
            NONE,
            "{near_miss}"
        );
    }
}

#[test]
fn apt_get_without_no_install_recommends() {
    assert_eq!(
        advice(
            "AptGetWithoutNoInstallRecommends",
            "FROM debian:12\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -y install curl && rm -rf /var/lib/apt/lists/*\n"
        ),
        [2]
    );
    assert_eq!(
        advice(
            "AptGetWithoutNoInstallRecommends",
            "FROM debian:12\nRUN sudo apt install -y curl\n"
        ),
        [2]
    );
    for near_miss in [
        "FROM debian:12\nRUN apt-get install -y --no-install-recommends curl\n",
        "FROM debian:12\nRUN apt-get -o APT::Install-Recommends=false install -y curl\n",
        "FROM debian:12\nRUN echo 'APT::Install-Recommends \"0\";' > /etc/apt/apt.conf.d/norecs\nRUN apt-get install -y curl\n",
        "FROM debian:12\nRUN apt-get remove -y curl\n",
    ] {
        assert_eq!(
            advice("AptGetWithoutNoInstallRecommends", near_miss),
            NONE,
            "{near_miss}"
        );
    }
}

#[test]
fn apk_add_without_no_cache() {
    assert_eq!(
        advice(
            "ApkAddWithoutNoCache",
            "FROM alpine:3.20\nRUN apk update && apk add curl\n"
        ),
        [2]
    );
    for near_miss in [
        "FROM alpine:3.20\nRUN apk add --no-cache curl\n",
        "FROM alpine:3.20\nRUN apk --no-cache add ca-certificates\n",
        "FROM alpine:3.20\nRUN apk add curl && rm -rf /var/cache/apk/*\n",
        "FROM alpine:3.20\nRUN --mount=type=cache,target=/var/cache/apk apk add curl\n",
    ] {
        assert_eq!(
            advice("ApkAddWithoutNoCache", near_miss),
            NONE,
            "{near_miss}"
        );
    }
}

#[test]
fn no_dockerignore() {
    let facts = ContextFacts {
        has_dockerignore: false,
        top_level_names: vec![
            ".git".to_owned(),
            "src".to_owned(),
            "node_modules".to_owned(),
        ],
    };
    let source = "FROM node:20-alpine\nWORKDIR /app\nCOPY package.json ./\nCOPY . .\n";
    let warnings = lint_with(source, &facts);
    let found: Vec<(usize, &str)> = warnings
        .iter()
        .filter(|w| w.rule == "NoDockerignore")
        .map(|w| (w.span.line, w.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [(
            4,
            "Add a .dockerignore file so COPY . does not copy .git, node_modules from the context into the image"
        )]
    );
    let with_ignore = ContextFacts {
        has_dockerignore: true,
        ..facts.clone()
    };
    assert_eq!(
        lines_of("NoDockerignore", &lint_with(source, &with_ignore)),
        NONE
    );
    let clean = ContextFacts {
        has_dockerignore: false,
        top_level_names: vec!["src".to_owned(), "package.json".to_owned()],
    };
    assert_eq!(lines_of("NoDockerignore", &lint_with(source, &clean)), NONE);
    let narrow = "FROM node:20-alpine\nCOPY src/ /app/src/\n";
    assert_eq!(lines_of("NoDockerignore", &lint_with(narrow, &facts)), NONE);
    // Unknown facts (the default): nothing to say.
    assert_eq!(advice("NoDockerignore", source), NONE);
}

#[test]
fn latest_or_untagged_base() {
    let source = "FROM debian\nFROM alpine:latest\nFROM alpine:3.20 AS pinned\nFROM pinned\nFROM scratch\nFROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\nFROM localhost:5000/app\n";
    assert_eq!(advice("LatestOrUntaggedBase", source), [1, 2, 7]);
    let messages: Vec<String> = lint(source)
        .into_iter()
        .filter(|w| w.rule == "LatestOrUntaggedBase")
        .map(|w| w.message)
        .collect();
    assert!(messages[0].contains("'debian'"), "{}", messages[0]);
    assert!(messages[1].contains("instead of latest"), "{}", messages[1]);
    // Global ARG defaults are followed; an ARG without one is not guessed at.
    assert_eq!(
        advice("LatestOrUntaggedBase", "ARG BASE=alpine\nFROM $BASE\n"),
        [2]
    );
    assert_eq!(
        advice("LatestOrUntaggedBase", "ARG BASE\nFROM alpine$BASE\n"),
        NONE
    );
}

#[test]
fn root_user() {
    let found = |source: &str| advice("RootUser", source);
    assert_eq!(found("FROM alpine:3.20\nRUN true\n"), [1]);
    assert_eq!(found("FROM alpine:3.20\nUSER app\nUSER root\n"), [3]);
    assert_eq!(found("FROM alpine:3.20\nUSER 0:0\n"), [2]);
    assert_eq!(
        found("FROM alpine:3.20 AS build\nUSER app\nFROM scratch\n"),
        [3]
    );
    for near_miss in [
        "FROM alpine:3.20\nUSER root\nRUN apk add --no-cache curl\nUSER app\n",
        "FROM alpine:3.20 AS base\nUSER 1000\nFROM base\nCMD [\"x\"]\n",
        "FROM alpine:3.20\nARG APP_USER\nUSER $APP_USER\n",
        "FROM gcr.io/distroless/static-debian12:nonroot\nCOPY app /app\n",
    ] {
        assert_eq!(found(near_miss), NONE, "{near_miss}");
    }
}

#[test]
fn add_instead_of_copy() {
    let found = |source: &str| advice("AddInsteadOfCopy", source);
    assert_eq!(
        found("FROM scratch\nADD . /app\nADD src/*.py /app/\n"),
        [2, 3]
    );
    for near_miss in [
        "FROM scratch\nADD rootfs.tar.gz /\n",
        "FROM scratch\nADD https://example.com/x.txt /x\n",
        "FROM scratch\nADD git@github.com:o/r.git /src\n",
        "FROM scratch\nADD --checksum=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef https://example.com/x /x\n",
        "FROM scratch\nADD dist/* /app/\n",
        "FROM scratch\nADD $ARCHIVE /\n",
        "FROM scratch\nCOPY . /app\n",
    ] {
        assert_eq!(found(near_miss), NONE, "{near_miss}");
    }
}
