//! Tidy checks: the invariants of ARCHITECTURE.md that are about the code itself, as tests.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name()
                .is_some_and(|n| n == "target" || n == "snapshots")
            {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A crate's source files with comment lines removed (the rules are about code, not prose).
fn crate_sources(krate: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(
        &workspace_root().join("crates").join(krate).join("src"),
        &mut files,
    );
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read source");
            let code: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            (p, code.join("\n"))
        })
        .collect()
}

/// The crates in layering order: each may depend only on crates before it.
const LAYERS: &[&str] = &[
    "hoist-spec",
    "hoist-credentials",
    "hoist-render",
    "hoist-layer",
    "hoist-runtime",
    "hoist-store",
    "hoist-archive",
    "hoist-dockerfile",
    "hoist-build",
    "hoist-registry-server",
    "hoist-registry-client",
    "hoist-ops",
    "hoist",
];

const LIBRARIES: &[&str] = &[
    "hoist-spec",
    "hoist-credentials",
    "hoist-registry-client",
    "hoist-render",
    "hoist-layer",
    "hoist-runtime",
    "hoist-store",
    "hoist-archive",
    "hoist-registry-server",
    "hoist-dockerfile",
    "hoist-build",
    "hoist-ops",
];

/// The registry server stands alone: besides hoist-spec it may use no hoist crate (ARCHITECTURE.md).
#[test]
fn registry_server_depends_on_spec_only() {
    let manifest =
        std::fs::read_to_string(workspace_root().join("crates/hoist-registry-server/Cargo.toml"))
            .expect("manifest");
    for line in manifest.lines().filter(|l| l.starts_with("hoist-")) {
        assert!(
            line.starts_with("hoist-spec"),
            "hoist-registry-server depends on {line}"
        );
    }
}

#[test]
fn every_module_opens_with_a_doc_line() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("crates"), &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let missing: Vec<_> = files
        .iter()
        .filter(|p| {
            !std::fs::read_to_string(p)
                .unwrap_or_default()
                .trim_start()
                .starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a //! line: {missing:#?}"
    );
}

#[test]
fn dependencies_point_down_only() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    let mut checked = 0;
    for package in meta["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().unwrap_or_default();
        let Some(level) = LAYERS.iter().position(|l| *l == name) else {
            continue;
        };
        for dep in package["dependencies"].as_array().expect("dependencies") {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            if dep["kind"].as_str() == Some("dev") {
                continue;
            }
            // Invariant 1: the vocabulary stays synchronous and I/O free.
            assert!(
                !(name == "hoist-spec" && dep_name == "tokio"),
                "hoist-spec depends on tokio"
            );
            if dep_name == "hoist-test-support" {
                panic!("{name} depends on hoist-test-support outside dev-dependencies");
            }
            if let Some(dep_level) = LAYERS.iter().position(|l| *l == dep_name) {
                assert!(
                    dep_level < level,
                    "{name} depends on {dep_name}, which is not below it"
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, LAYERS.len());
}

#[test]
fn spec_and_dockerfile_do_no_io() {
    let sources = crate_sources("hoist-spec")
        .into_iter()
        .chain(crate_sources("hoist-dockerfile"));
    for (path, text) in sources {
        for forbidden in ["std::fs", "std::net", "std::process", "File::", "tokio"] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}",
                path.display()
            );
        }
    }
}

#[test]
fn libraries_neither_print_nor_use_the_current_directory() {
    for krate in LIBRARIES {
        for (path, text) in crate_sources(krate) {
            // Unit test modules (last in a file, by habit) may say why they skip; library code may not.
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            for forbidden in [
                "println!",
                "eprintln!",
                "print!(",
                "eprint!(",
                "dbg!(",
                "current_dir",
                "set_current_dir",
            ] {
                assert!(
                    !text.contains(forbidden),
                    "{} uses {forbidden}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn no_should_panic_tests() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("crates"), &mut files);
    for p in files {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        assert!(
            !text.contains(&["#[should", "_panic]"].concat()),
            "{} uses should_panic",
            p.display()
        );
    }
}
