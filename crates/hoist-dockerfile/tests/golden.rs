//! Golden parser tests: every `tests/golden/<case>/Dockerfile` is parsed and a readable dump of the result
//! (or of the error, `LINE:COLUMN: message` and the source line) is compared with `<case>/expected`.
//! `UPDATE_GOLDEN=1 cargo test -p hoist-dockerfile --test golden` rewrites the expectations; read the diff.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hoist_dockerfile::{Diagnostic, Dockerfile, Instruction, Span, parse};

fn span(span: Span) -> String {
    if span.end_line == span.line {
        format!("{}:{}", span.line, span.column)
    } else {
        format!("{}:{}-{}", span.line, span.column, span.end_line)
    }
}

fn diagnostic(kind: &str, d: &Diagnostic) -> String {
    format!(
        "{kind} {} {}\n  | {}\n",
        span(d.span),
        d.message,
        d.source_line
    )
}

fn instruction(out: &mut String, indent: &str, i: &Instruction) {
    let _ = writeln!(out, "{indent}{} {:?}", span(i.span), i.source);
    let _ = writeln!(out, "{indent}  {}", compact(&format!("{:?}", i.command)));
}

/// Rust's `Debug` of a command without the fields left at their defaults (`x: None`, `x: false`,
/// `x: []`), which are most of them.
fn compact(debug: &str) -> String {
    let chars: Vec<char> = debug.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut in_string = false;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(&next) = chars.get(i + 1) {
                    out.push(next);
                    i += 1;
                }
            } else if c == '"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if c == '"' {
            in_string = true;
        } else if (out.ends_with("{ ") || out.ends_with(", ")) && c.is_ascii_lowercase() {
            // Field names and the default values are ASCII: one char per byte from here.
            let rest: String = chars[i..].iter().collect();
            let name_len = rest
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(rest.len());
            let field_len = ["None", "false", "[]"].iter().find_map(|v| {
                let tail = rest[name_len..].strip_prefix(": ")?.strip_prefix(v)?;
                (tail.starts_with(", ") || tail.starts_with(" }")).then_some(name_len + 2 + v.len())
            });
            if let Some(len) = field_len {
                if rest[len..].starts_with(", ") {
                    i += len + 2;
                } else {
                    // The last field: drop the separator written before it.
                    let written = if out.ends_with(", ") { 2 } else { 1 };
                    out.truncate(out.len() - written);
                    i += len;
                }
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

#[test]
fn compact_drops_default_fields_only() {
    assert_eq!(
        compact(r#"Copy(Copy { a: None, b: "x: None, y", c: false, d: [], e: 1, f: None })"#),
        r#"Copy(Copy { b: "x: None, y", e: 1 })"#
    );
    assert_eq!(compact("S { a: None }"), "S { }");
}

/// The dump: directives, warnings, meta ARGs, then each stage and its instructions, one line of source
/// and one of the typed command (Rust's `Debug`) per instruction.
fn dump(file: &Dockerfile) -> String {
    let mut out = String::new();
    let d = &file.directives;
    let _ = writeln!(
        out,
        "directives escape={:?} syntax={:?} check={:?}",
        d.escape, d.syntax, d.check
    );
    for w in &file.warnings {
        out.push_str(&diagnostic("warning", w));
    }
    for arg in &file.meta_args {
        out.push_str("meta-arg ");
        instruction(&mut out, "", arg);
    }
    for (n, stage) in file.stages.iter().enumerate() {
        let _ = writeln!(out, "stage {n} {} {:?}", span(stage.span), stage.source);
        let _ = writeln!(
            out,
            "  base={:?} name={:?} as_written={:?} platform={:?}",
            stage.base, stage.name, stage.name_as_written, stage.platform
        );
        for i in &stage.instructions {
            instruction(&mut out, "  ", i);
        }
    }
    out
}

fn render(source: &str) -> String {
    match parse(source) {
        Ok(file) => dump(&file),
        Err(e) => {
            // Display is what callers print after the file name.
            format!("{}{}", diagnostic("error", &e), format_args!("  = {e}\n"))
        }
    }
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|entry| entry.expect("golden dir entry").path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn golden() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let dirs = cases();
    assert!(dirs.len() > 40, "golden cases missing: {}", dirs.len());
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        let source = std::fs::read_to_string(dir.join("Dockerfile"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = render(&source);
        let expected_path = dir.join("expected");
        if update {
            std::fs::write(&expected_path, &got).unwrap_or_else(|e| panic!("{name}: {e}"));
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == got => {}
            Ok(expected) => failures.push(format!(
                "{name}: dump differs\n--- expected\n{expected}--- got\n{got}"
            )),
            Err(e) => failures.push(format!("{name}: no expected file ({e})\n--- got\n{got}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases differ (UPDATE_GOLDEN=1 rewrites them):\n\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}
