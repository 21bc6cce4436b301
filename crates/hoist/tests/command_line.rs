//! How hoist reads a command line, as Docker's CLI (Go's pflag) reads it: booleans that never take the next
//! argument, combined short flags, values starting with `-`, the top-level options, aliases, completion
//! scripts, refused flags and commands, and usage errors in Docker's words with Docker's exit statuses.

mod common;

use common::{hoist, loaded_three, settings};
use hoist_test_support::cli::{Run, TestHoist};

fn snapshot(name: &str, runs: &[(&str, Run)]) {
    let mut text = String::new();
    for (line, run) in runs {
        text.push_str(&format!(
            "$ hoist {line}\n[status {}]\n{}{}\n",
            run.status, run.stdout, run.stderr
        ));
    }
    settings().bind(|| insta::assert_snapshot!(name, text));
}

fn run_line(h: &TestHoist, line: &str) -> Run {
    let args: Vec<&str> = line.split_whitespace().collect();
    h.run(&args)
}

#[test]
fn usage_errors_read_as_dockers() {
    let h = hoist();
    let lines = [
        "pull --foo nginx",
        "pull",
        "pull a b",
        "rmi",
        "images -z",
        "images --all=maybe",
        "images --format",
        "foo",
        "image foo",
        "attach web",
        "container cp web:/etc/hosts .",
        "swarm init",
        "run --health-cmd=true nginx",
        "run --rm --restart=always",
        "create --kernel-memory=4m busybox",
    ];
    let runs: Vec<(&str, Run)> = lines.iter().map(|l| (*l, run_line(&h, l))).collect();
    snapshot("usage_errors", &runs);
    for (line, run) in &runs {
        assert_ne!(run.status, 0, "{line}");
        assert!(run.stdout.is_empty(), "{line}: {}", run.stdout);
        assert!(
            !run.stderr.contains("error: unexpected argument"),
            "{line}: {}",
            run.stderr
        );
    }
}

#[test]
fn booleans_never_take_the_next_argument_and_short_flags_combine() {
    let (h, _) = loaded_three();
    let quiet_all = h.ok(&["images", "-q", "-a"]);
    assert_eq!(quiet_all.lines().count(), 4, "{quiet_all}");
    for line in [
        &["images", "-qa"][..],
        &["images", "-aq"],
        &["images", "--all", "--quiet"],
        &["images", "--all=true", "-q=1"],
        &["image", "ls", "-a=t", "--quiet=True"],
    ] {
        assert_eq!(h.ok(line), quiet_all, "{line:?}");
    }
    // `--quiet=false` is the table.
    assert!(h.ok(&["images", "--quiet=false"]).starts_with("REPOSITORY"));
    assert_eq!(
        h.ok(&["images", "-q", "--all=false"]),
        h.ok(&["images", "-q"])
    );
    // A boolean before a positional: the positional stays one (`images -q app`).
    assert_eq!(h.ok(&["images", "-q", "app"]).lines().count(), 2);
    // `history -H=false` (Docker's own spelling) prints raw sizes.
    let raw = h.ok(&["history", "-H=false", "--format", "{{.Size}}", "app:1.0"]);
    assert!(
        raw.lines().all(|l| l.chars().all(|c| c.is_ascii_digit())),
        "{raw}"
    );
    // A value that starts with `-` belongs to its flag.
    let r = h.run(&["images", "--format", "-{{.Tag}}-", "app"]);
    assert_eq!(r.stdout, "-1.0-\n-latest-\n", "{r:?}");
    let r = h.run(&["images", "-f", "-x"]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("-x"), "{}", r.stderr);
}

#[test]
fn top_level_options() {
    let (h, _) = loaded_three();
    let version = format!("hoist version {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(h.ok(&["-v"]), version);
    assert_eq!(h.ok(&["--version"]), version);
    for line in [
        &["-D", "images", "-q"][..],
        &["--log-level", "error", "images", "-q"],
        &["-l=warn", "images", "-q"],
        &["--context", "default", "images", "-q"],
        &["-c", "default", "images", "-q"],
        &["--tls", "--tlsverify", "images", "-q"],
    ] {
        assert_eq!(h.ok(line), h.ok(&["images", "-q"]), "{line:?}");
    }
    let r = h.run(&["-H", "tcp://127.0.0.1:2375", "images"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("-H/--host tcp://127.0.0.1:2375")
            && r.stderr.contains("without a daemon"),
        "{}",
        r.stderr
    );
    let r = h.run(&["--context", "prod", "images"]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("--context prod"), "{}", r.stderr);

    // --config DIR is where config.json lives, as DOCKER_CONFIG.
    let config = h.path("elsewhere");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.json"),
        r#"{"auths": {"registry.example:5000": {"auth": "dTpw"}}}"#,
    )
    .unwrap();
    let out = h.ok(&[
        "--config",
        config.to_str().unwrap(),
        "logout",
        "registry.example:5000",
    ]);
    assert_eq!(
        out,
        "Removing login credentials for registry.example:5000\n"
    );
    let left = std::fs::read_to_string(config.join("config.json")).unwrap();
    assert!(!left.contains("registry.example:5000"), "{left}");
}

#[test]
fn docker_aliases() {
    let (h, _) = loaded_three();
    let listed = h.ok(&["images", "-q"]);
    for line in [
        &["image", "ls", "-q"][..],
        &["image", "list", "-q"],
        &["image", "ls", "-q"],
    ] {
        assert_eq!(h.ok(line), listed, "{line:?}");
    }
    let containers = h.ok(&["ps", "-a", "-q"]);
    for line in [
        &["container", "ls", "-a", "-q"][..],
        &["container", "list", "-aq"],
        &["container", "ps", "-qa"],
    ] {
        assert_eq!(h.ok(line), containers, "{line:?}");
    }
    h.ok(&["image", "tag", "app:1.0", "app:2"]);
    h.ok(&["image", "remove", "app:2"]);
    h.ok(&[
        "image",
        "rm",
        "--no-prune",
        "registry.example.com:5000/team/tools:1",
    ]);
    assert!(
        h.ok(&["system", "info", "-f", "{{.Images}}"])
            .trim()
            .parse::<u32>()
            .is_ok()
    );
    assert_eq!(
        h.ok(&["image", "history", "-q", "app"]),
        h.ok(&["history", "-q", "app"])
    );
}

#[test]
fn completion_scripts_for_every_shell() {
    let h = hoist();
    let bash = h.ok(&["completion", "bash"]);
    assert!(
        bash.contains("_hoist()") && bash.contains("complete -F _hoist"),
        "{bash}"
    );
    assert!(bash.contains("--disable-content-trust"));
    let zsh = h.ok(&["completion", "zsh"]);
    assert!(zsh.starts_with("#compdef hoist"), "{zsh}");
    assert!(zsh.contains("Download an image from a registry"));
    let bare = h.ok(&["completion", "zsh", "--no-descriptions"]);
    assert!(bare.starts_with("#compdef hoist"));
    assert!(!bare.contains("Download an image from a registry"));
    let fish = h.ok(&["completion", "fish"]);
    assert!(fish.contains("complete -c hoist"), "{fish}");
    let powershell = h.ok(&["completion", "powershell"]);
    assert!(
        powershell.contains("Register-ArgumentCompleter"),
        "{powershell}"
    );
    // Refused flags stay out of completion: they are hidden.
    assert!(!bash.contains("--health-cmd"));
    let r = h.run(&["completion", "tcsh"]);
    assert_eq!(r.status, 1, "{r:?}");
}
