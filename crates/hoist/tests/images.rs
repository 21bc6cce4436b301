//! `images`, `inspect`, `history`, `tag`, `rmi`, `prune`, `system df` from the CLI, with output snapshots.

mod common;

use common::{hoist, loaded_three, settings};

macro_rules! snap {
    ($name:expr, $value:expr) => {
        settings().bind(|| insta::assert_snapshot!($name, $value))
    };
}

#[test]
fn images_table_and_quiet() {
    let (h, imgs) = loaded_three();
    snap!("images_default", h.ok(&["images"]));
    snap!("images_all_no_trunc", h.ok(&["images", "-a", "--no-trunc"]));
    snap!("images_digests", h.ok(&["images", "--digests"]));
    let q = h.ok(&["images", "-q"]);
    assert_eq!(q.lines().count(), 4, "{q}");
    assert!(q.lines().all(|l| l.len() == 12));
    assert!(q.contains(imgs[0].id().short()));
}

#[test]
fn images_formats() {
    let (h, _) = loaded_three();
    snap!(
        "images_format_table",
        h.ok(&[
            "images",
            "--format",
            "table {{.Repository}}\\t{{.Tag}}\\t{{.Size}}"
        ])
    );
    snap!(
        "images_format_plain",
        h.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
    );
    snap!(
        "images_format_tabs",
        h.ok(&["images", "--format", "{{.ID}}\\t{{.Size}}"])
    );
    snap!("images_format_json", h.ok(&["images", "--format", "json"]));
    let r = h.run(&["images", "--format", "{{.Nope}}"]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("Nope"), "{}", r.stderr);
    let r = h.run(&["images", "--format", "{{.ID"]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("template parsing error"), "{}", r.stderr);
}

#[test]
fn images_filters() {
    let (h, imgs) = loaded_three();
    let f =
        |args: &[&str]| h.ok(&[&["images", "--format", "{{.Repository}}:{{.Tag}}"], args].concat());
    assert_eq!(f(&["--filter", "dangling=true"]), "<none>:<none>\n");
    assert_eq!(
        f(&["--filter", "dangling=false"]),
        "app:1.0\napp:latest\nregistry.example.com:5000/team/tools:1\n"
    );
    assert_eq!(f(&["--filter", "reference=app*"]), "app:1.0\napp:latest\n");
    assert_eq!(f(&["--filter", "reference=*:latest"]), "app:latest\n");
    assert_eq!(
        f(&["--filter", "reference=*/team/*"]),
        "registry.example.com:5000/team/tools:1\n"
    );
    assert_eq!(f(&["app:1.0"]), "app:1.0\n");
    assert_eq!(
        f(&["--filter", "label=org.example.team"]),
        "app:1.0\napp:latest\n"
    );
    assert_eq!(f(&["--filter", "label=org.example.team=other"]), "");
    assert_eq!(
        f(&["--filter", "before=app:1.0"]),
        "registry.example.com:5000/team/tools:1\n<none>:<none>\n"
    );
    assert_eq!(
        f(&["--filter", "since=registry.example.com:5000/team/tools:1"]),
        "app:1.0\napp:latest\n"
    );
    assert_eq!(f(&["--filter", "until=2024-01-15"]), "<none>:<none>\n");
    assert_eq!(
        f(&["--sort", "repository"]),
        "<none>:<none>\napp:1.0\napp:latest\nregistry.example.com:5000/team/tools:1\n"
    );
    assert!(f(&["--sort", "size"]).starts_with("app:"));
    let r = h.run(&["images", "--filter", "colour=red"]);
    assert_eq!(r.status, 1);
    assert_eq!(r.stderr, "Error: Invalid filter 'colour'\n");
    let r = h.run(&["images", "--filter", "dangling=maybe"]);
    assert_eq!(r.status, 1);
    let r = h.run(&["images", "--filter", "before=nothing:here"]);
    assert_eq!(r.stderr, "Error: No such image: nothing:here\n");
    let _ = imgs;
}

#[test]
fn inspect_json_and_templates() {
    let (h, imgs) = loaded_three();
    snap!("inspect_app", h.ok(&["image", "inspect", "app:1.0"]));
    let t = |tmpl: &str| h.ok(&["inspect", "--format", tmpl, "app"]);
    assert_eq!(t("{{.Config.Cmd}}"), "[/app/run]\n");
    assert_eq!(
        t("{{json .Config.Labels}}"),
        "{\"org.example.team\":\"core\"}\n"
    );
    assert_eq!(
        t("{{.RootFS.Layers}}"),
        format!("[{} {}]\n", imgs[0].diff_ids()[0], imgs[0].diff_ids()[1])
    );
    assert_eq!(t("{{index .RepoTags 0}}"), "app:1.0\n");
    assert_eq!(
        t("{{range .RepoTags}}{{.}} {{end}}"),
        "app:1.0 app:latest \n"
    );
    assert_eq!(t("{{len .RootFS.Layers}}"), "2\n");
    assert_eq!(t("{{join .RepoTags \",\"}}"), "app:1.0,app:latest\n");
    assert_eq!(
        t("{{printf \"%s/%s\" .Os .Architecture}}"),
        format!("linux/{}\n", hoist_spec::Platform::host().architecture)
    );
    assert_eq!(t("{{.Id}}"), format!("{}\n", imgs[0].id()));
    assert_eq!(t("{{.Config.Entrypoint}}"), "<no value>\n");
    // By ID, ID prefix and full digest.
    let id = imgs[0].id();
    assert_eq!(
        h.ok(&["inspect", "-f", "{{.Id}}", id.short()]),
        format!("{id}\n")
    );
    assert_eq!(
        h.ok(&["inspect", "-f", "{{.Id}}", &id.to_string()]),
        format!("{id}\n")
    );
    assert_eq!(
        h.ok(&["inspect", "-f", "{{.Id}}", &id.hex()[..5]]),
        format!("{id}\n")
    );
    // Missing images: the found ones print, the status is 1, each miss is named.
    let r = h.run(&["image", "inspect", "--format", "{{.Id}}", "app", "nothing"]);
    assert_eq!(r.status, 1);
    assert_eq!(r.stdout, format!("{id}\n"));
    assert_eq!(r.stderr, "Error: No such image: nothing:latest\n");
    let r = h.run(&["inspect", "nothing"]);
    assert_eq!(
        (r.status, r.stdout.as_str(), r.stderr.as_str()),
        (1, "[]\n", "Error: No such object: nothing\n")
    );
    let r = h.run(&["inspect", "Nothing"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr
            .contains("repository name (library/Nothing) must be lowercase"),
        "{}",
        r.stderr
    );
    let r = h.run(&["inspect", "--format", "{{.Id", "app"]);
    assert_eq!(r.status, 64);
}

#[test]
fn history_outputs() {
    let (h, imgs) = loaded_three();
    snap!("history_default", h.ok(&["history", "app:1.0"]));
    snap!(
        "history_no_trunc",
        h.ok(&["history", "--no-trunc", "app:1.0"])
    );
    snap!(
        "history_not_human",
        h.ok(&["history", "-H=false", "app:1.0"])
    );
    assert_eq!(
        h.ok(&["history", "-q", "app"]),
        format!("{}\n<missing>\n<missing>\n", imgs[0].id().short())
    );
    assert_eq!(
        h.ok(&["history", "--format", "{{.Size}}|{{.CreatedBy}}", "app"])
            .lines()
            .count(),
        3
    );
    let r = h.run(&["history", "nothing"]);
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (1, "Error: No such image: nothing:latest\n")
    );
}

#[test]
fn tag_and_rmi() {
    let (h, imgs) = loaded_three();
    h.ok(&["tag", "app:1.0", "myrepo/app:v1.0"]);
    h.ok(&["tag", imgs[2].id().short(), "localhost:5000/orphan"]);
    snap!("images_after_tag", h.ok(&["images"]));
    let r = h.run(&["tag", "app:1.0", "Bad/Name"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr
            .contains("\"Bad/Name\" is not a valid repository/tag"),
        "{}",
        r.stderr
    );
    let r = h.run(&["tag", "nothing", "x"]);
    assert_eq!(r.stderr, "Error: No such image: nothing:latest\n");

    // By ID while three repositories name it: refused without -f.
    let id = imgs[0].id();
    let r = h.run(&["rmi", id.short()]);
    assert_eq!(r.status, 1);
    assert_eq!(
        r.stderr,
        format!(
            "Error: conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories\n",
            id.short()
        )
    );
    // By name: only that name goes.
    assert_eq!(h.ok(&["rmi", "app:1.0"]), "Untagged: app:1.0\n");
    assert_eq!(
        h.ok(&["rmi", "myrepo/app:v1.0"]),
        "Untagged: myrepo/app:v1.0\n"
    );
    // The last name: the image and its own layer chain go; the shared base stays (tools uses it).
    let out = h.ok(&["rmi", "app"]);
    let chains = hoist_ops::remove::chain_ids(imgs[0].diff_ids().iter());
    assert_eq!(
        out,
        format!(
            "Untagged: app:latest\nDeleted: {id}\nDeleted: {}\n",
            chains[1]
        )
    );
    // Several arguments: the bad one reports, the good one proceeds, the status is 1.
    let r = h.run(&["rmi", "nothing", "localhost:5000/orphan"]);
    assert_eq!(r.status, 1);
    assert_eq!(r.stderr, "Error: No such image: nothing:latest\n");
    assert!(
        r.stdout
            .starts_with("Untagged: localhost:5000/orphan:latest\nDeleted: "),
        "{}",
        r.stdout
    );
    assert_eq!(
        h.ok(&["images", "--format", "{{.Repository}}"]),
        "registry.example.com:5000/team/tools\n"
    );
    // Blobs of removed images are gone; the store verifies clean.
    let check = h.ok(&["system", "check"]);
    assert!(check.contains("all good"), "{check}");
}

#[test]
fn rmi_force_by_id() {
    let (h, imgs) = loaded_three();
    h.ok(&["tag", "app:1.0", "other/app:x"]);
    let out = h.ok(&["rmi", "-f", imgs[0].id().short()]);
    assert!(
        out.starts_with(
            "Untagged: app:1.0\nUntagged: app:latest\nUntagged: other/app:x\nDeleted: "
        ),
        "{out}"
    );
}

#[test]
fn prune_images() {
    let (h, imgs) = loaded_three();
    // Without -f Docker asks; anything but y keeps everything.
    let r = h.run_stdin(&["image", "prune"], b"n\n");
    assert_eq!(
        r.stdout,
        "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
    );
    assert_eq!(h.ok(&["images", "-q"]).lines().count(), 4);
    let r = h.run_stdin(&["image", "prune"], b"y\n");
    assert!(
        r.stdout
            .contains(&format!("Deleted Images:\ndeleted: {}\n", imgs[2].id())),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.ends_with("Total reclaimed space: 5B\n"),
        "{}",
        r.stdout
    );
    assert_eq!(
        h.ok(&["image", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    // -a with until: only images created before the cut-off.
    let out = h.ok(&[
        "image",
        "prune",
        "-a",
        "-f",
        "--filter",
        "until=2024-02-15T00:00:00Z",
    ]);
    assert!(
        out.contains("untagged: registry.example.com:5000/team/tools:1\n"),
        "{out}"
    );
    assert_eq!(
        h.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "app:1.0\napp:latest\n"
    );
    let out = h.ok(&["system", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: app:1.0\n"), "{out}");
    assert_eq!(h.ok(&["images", "-q"]), "");
}

#[test]
fn system_df() {
    let (h, _) = loaded_three();
    snap!("df", h.ok(&["system", "df"]));
    snap!("df_verbose", h.ok(&["system", "df", "-v"]));
    let empty = hoist();
    snap!("df_empty", empty.ok(&["system", "df"]));
}

#[test]
fn info_and_version() {
    let (h, _) = loaded_three();
    let info = h.ok(&["info"]);
    assert!(info.contains(" Images: 3\n"), "{info}");
    // overlay2 where overlayfs mounts (probed once per store), vfs elsewhere.
    let driver = if info.contains(" Storage Driver: overlay2\n") {
        "overlay2"
    } else {
        "vfs"
    };
    assert!(
        info.contains(&format!(" Storage Driver: {driver}\n")),
        "{info}"
    );
    assert!(
        info.contains(&format!(" Docker Root Dir: {}\n", h.root().display())),
        "{info}"
    );
    assert_eq!(
        h.ok(&["info", "--format", "{{.Images}} {{.Driver}}"]),
        format!("3 {driver}\n")
    );
    let conf = h.write("mirrors.json", br#"{"registry-mirrors": ["https://mirror.example.com"], "insecure-registries": ["myreg:5000"]}"#);
    let out = h
        .command()
        .env("HOIST_CONFIG", &conf)
        .arg("info")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Registry Mirrors:\n  https://mirror.example.com\n"),
        "{text}"
    );
    assert!(text.contains("  myreg:5000\n"), "{text}");
    let bad = h.write("bad.json", b"{not json");
    let out = h
        .command()
        .env("HOIST_CONFIG", &bad)
        .arg("images")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid configuration file"));
    assert!(h.ok(&["version"]).contains("Version:"));
    assert_eq!(
        h.ok(&["version", "--format", "{{.Client.Version}}"]),
        format!("{}\n", env!("CARGO_PKG_VERSION"))
    );
}
