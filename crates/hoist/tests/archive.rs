//! `save`, `load` and `import` from the CLI: round trips, every input format and compression, and bad
//! input that must fail with a clear error and leave nothing behind.

mod common;

use std::io::{Read, Write};

use common::{hoist, loaded_three, three_images};
use hoist_test_support::cli::path_str;
use hoist_test_support::fixtures::{ImageFixture, docker_archive, layer, oci_archive};

fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

fn tar_file(bytes: &[u8], name: &str) -> Vec<u8> {
    let mut a = tar::Archive::new(bytes);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().display().to_string() == name {
            let mut v = Vec::new();
            e.read_to_end(&mut v).unwrap();
            return v;
        }
    }
    panic!("{name} not in archive");
}

fn store_is_empty(h: &hoist_test_support::cli::TestHoist) {
    assert_eq!(h.ok(&["images", "-a", "-q"]), "");
    h.ok(&["system", "gc"]);
    let blobs = h.root().join("blobs/sha256");
    let n = std::fs::read_dir(&blobs).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "blobs left behind in {}", blobs.display());
}

#[test]
fn load_reports_and_keeps_docker_ids() {
    let h = hoist();
    let images = three_images();
    let out = h.load(&docker_archive(&images));
    assert_eq!(
        out,
        format!(
            "Loaded image: app:1.0\nLoaded image: app:latest\nLoaded image: registry.example.com:5000/team/tools:1\nLoaded image ID: {}\n",
            images[2].id()
        )
    );
    for img in &images {
        assert_eq!(
            h.ok(&["inspect", "-f", "{{.Id}}", img.id().short()]),
            format!("{}\n", img.id())
        );
    }
    // Loading again is idempotent; moving a tag to another image says so, as Docker does.
    h.load(&docker_archive(&images));
    let moved = images[1].clone().tag("app:1.0");
    let out = h.load(&docker_archive(&[moved]));
    assert!(
        out.starts_with(&format!(
            "The image app:1.0 already exists, renaming the old one with ID {} to empty string\n",
            images[0].id()
        )),
        "{out}"
    );
}

#[test]
fn save_load_round_trip_writes_shared_layers_once() {
    let (h, images) = loaded_three();
    let out = h.path("all.tar");
    h.ok(&[
        "save",
        "-o",
        path_str(&out),
        "app:1.0",
        "registry.example.com:5000/team/tools:1",
    ]);
    let bytes = std::fs::read(&out).unwrap();
    let names = tar_names(&bytes);
    for required in ["manifest.json", "index.json", "oci-layout"] {
        assert!(names.contains(&required.to_owned()), "{names:?}");
    }
    // 3 distinct layers (the base is shared), 2 configs, 2 manifests.
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("blobs/sha256/") && n.len() > 20)
            .count(),
        7,
        "{names:?}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&tar_file(&bytes, "manifest.json")).unwrap();
    assert_eq!(manifest[0]["RepoTags"], serde_json::json!(["app:1.0"]));
    assert_eq!(
        manifest[1]["RepoTags"],
        serde_json::json!(["registry.example.com:5000/team/tools:1"])
    );
    let index: serde_json::Value = serde_json::from_slice(&tar_file(&bytes, "index.json")).unwrap();
    assert_eq!(
        index["manifests"][0]["annotations"]["io.containerd.image.name"],
        "docker.io/library/app:1.0"
    );

    let other = hoist();
    let loaded = other.ok(&["load", "-i", path_str(&out)]);
    assert_eq!(
        loaded,
        "Loaded image: app:1.0\nLoaded image: registry.example.com:5000/team/tools:1\n"
    );
    assert_eq!(
        other.ok(&["inspect", "-f", "{{.Id}}", "app:1.0"]),
        format!("{}\n", images[0].id())
    );
    assert_eq!(
        other.ok(&["images", "--format", "{{.ID}} {{.Size}}"]),
        h.ok(&[
            "images",
            "--format",
            "{{.ID}} {{.Size}}",
            "--filter",
            "reference=app:1.0",
            "--filter",
            "reference=*/team/*"
        ])
    );
}

#[test]
fn save_to_stdout_by_repo_and_by_id() {
    let (h, images) = loaded_three();
    // A bare repository saves all its tags; an ID saves no names.
    let out = h.command().args(["save", "app"]).output().unwrap();
    assert!(out.status.success());
    let m: serde_json::Value =
        serde_json::from_slice(&tar_file(&out.stdout, "manifest.json")).unwrap();
    assert_eq!(
        m[0]["RepoTags"],
        serde_json::json!(["app:1.0", "app:latest"])
    );
    let out = h
        .command()
        .args(["save", images[1].id().short()])
        .output()
        .unwrap();
    let m: serde_json::Value =
        serde_json::from_slice(&tar_file(&out.stdout, "manifest.json")).unwrap();
    assert_eq!(m[0]["RepoTags"], serde_json::Value::Null);
    let r = h.run(&["save", "-o", path_str(&h.path("x.tar")), "nothing"]);
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (1, "Error: No such image: nothing:latest\n")
    );
    assert!(!h.path("x.tar").exists(), "a failed save left a file");
}

#[test]
fn load_oci_archives_and_compressed_inputs() {
    let mut gz = three_images()[0].clone();
    gz.gzip = true;
    let plain = three_images()[1].clone();
    for (name, archive) in [
        ("oci gzip layers", oci_archive(&[gz.clone()])),
        ("oci plain", oci_archive(std::slice::from_ref(&plain))),
    ] {
        let h = hoist();
        let out = h.load(&archive);
        assert!(out.starts_with("Loaded image: "), "{name}: {out}");
        h.ok(&["system", "check"]);
    }
    let tar = docker_archive(std::slice::from_ref(&plain));
    let mut gzipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzipped.write_all(&tar).unwrap();
    let gzipped = gzipped.finish().unwrap();
    let zst = zstd_compress(&tar);
    for (name, bytes) in [("gzip", gzipped), ("zstd", zst)] {
        let h = hoist();
        let r = h.run_stdin(&["load"], &bytes);
        assert_eq!(r.status, 0, "{name}: {}", r.stderr);
        assert_eq!(
            r.stdout, "Loaded image: registry.example.com:5000/team/tools:1\n",
            "{name}"
        );
        assert_eq!(
            h.ok(&[
                "inspect",
                "-f",
                "{{.Id}}",
                "registry.example.com:5000/team/tools:1"
            ]),
            format!("{}\n", plain.id())
        );
    }
    for (tool, args) in [("xz", ["-z", "-c"]), ("bzip2", ["-z", "-c"])] {
        let Ok(mut child) = std::process::Command::new(tool)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            hoist_test_support::peers::skip(
                "load_oci_archives_and_compressed_inputs",
                &format!("{tool} not installed"),
            );
            continue;
        };
        let mut stdin = child.stdin.take().unwrap();
        let t = tar.clone();
        let writer = std::thread::spawn(move || stdin.write_all(&t));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        let h = hoist();
        let r = h.run_stdin(&["load", "-q"], &out.stdout);
        assert_eq!(r.status, 0, "{tool}: {}", r.stderr);
    }
}

fn zstd_compress(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut child = std::process::Command::new("zstd")
        .args(["-q", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    if let Ok(c) = child.as_mut() {
        let mut stdin = c.stdin.take().unwrap();
        let b = bytes.to_vec();
        let w = std::thread::spawn(move || stdin.write_all(&b));
        c.stdout.take().unwrap().read_to_end(&mut out).unwrap();
        w.join().unwrap().unwrap();
        c.wait().unwrap();
        return out;
    }
    // No zstd binary: a hand-made frame is not worth it; fall back to the plain tar.
    bytes.to_vec()
}

#[test]
fn bad_archives_fail_cleanly() {
    let images = three_images();
    let good = docker_archive(&images[..1]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage",
            b"this is not an archive at all, not even close".repeat(20),
            "invalid tar archive",
        ),
        ("truncated", good[..good.len() / 2].to_vec(), "truncated"),
        ("empty tar", vec![0u8; 1024], "holds neither manifest.json"),
    ];
    for (name, bytes, want) in cases {
        let h = hoist();
        let r = h.run_stdin(&["load"], &bytes);
        assert_eq!(r.status, 1, "{name}: {}", r.stdout);
        assert!(r.stderr.contains(want), "{name}: {}", r.stderr);
        store_is_empty(&h);
    }
}

#[test]
fn tampered_archives_name_the_problem() {
    // A layer whose content does not match the config's diff ID.
    let mut img = ImageFixture::from_text("f a 644 original").tag("t:1");
    let config = img.config_bytes();
    img.layers[0] = layer("f a 644 tampered");
    let mut tar = tar::Builder::new(Vec::new());
    let add = |tar: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]| {
        let mut hd = tar::Header::new_gnu();
        hd.set_size(data.len() as u64);
        hd.set_mode(0o644);
        hd.set_cksum();
        tar.append_data(&mut hd, path, data).unwrap();
    };
    add(&mut tar, "l/layer.tar", &img.layers[0]);
    add(&mut tar, "c.json", &config);
    add(
        &mut tar,
        "manifest.json",
        br#"[{"Config":"c.json","RepoTags":["t:1"],"Layers":["l/layer.tar"]}]"#,
    );
    let h = hoist();
    let r = h.run_stdin(&["load"], &tar.into_inner().unwrap());
    assert_eq!(r.status, 1);
    assert!(
        r.stderr
            .contains("invalid diffID for layer 0 (l/layer.tar): expected sha256:"),
        "{}",
        r.stderr
    );
    store_is_empty(&h);

    // An OCI blob whose bytes do not match its name, a missing blob, an unknown layer media type.
    let oci = oci_archive(&[ImageFixture::from_text("f a 644 x").tag("o:1")]);
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let mut a = tar::Archive::new(&oci[..]);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let mut v = Vec::new();
        e.read_to_end(&mut v).unwrap();
        entries.push((e.path().unwrap().display().to_string(), v));
    }
    let rebuild = |entries: &[(String, Vec<u8>)]| {
        let mut t = tar::Builder::new(Vec::new());
        for (p, d) in entries {
            add(&mut t, p, d);
        }
        t.into_inner().unwrap()
    };
    let manifest_blob = entries
        .iter()
        .find(|(_, d)| {
            serde_json::from_slice::<serde_json::Value>(d).is_ok_and(|v| v.get("layers").is_some())
        })
        .unwrap()
        .clone();
    let layer_name = {
        let v: serde_json::Value = serde_json::from_slice(&manifest_blob.1).unwrap();
        format!(
            "blobs/sha256/{}",
            v["layers"][0]["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
        )
    };
    let mut corrupt = entries.clone();
    for (p, d) in &mut corrupt {
        if *p == layer_name {
            d[600] ^= 1;
        }
    }
    let mut missing = entries.clone();
    missing.retain(|(p, _)| *p != layer_name);
    for (name, bytes, want) in [
        (
            "corrupt blob",
            rebuild(&corrupt),
            "digest mismatch: expected sha256:",
        ),
        (
            "missing blob",
            rebuild(&missing),
            "archive lacks blob sha256:",
        ),
    ] {
        let h = hoist();
        let r = h.run_stdin(&["load"], &bytes);
        assert_eq!(r.status, 1, "{name}");
        assert!(r.stderr.contains(want), "{name}: {}", r.stderr);
        store_is_empty(&h);
    }
}

#[test]
fn hostile_layers_are_refused() {
    for (name, spec_bytes, want) in [
        (
            "dot-dot",
            raw_tar_entry("../../etc/evil", b'0', ""),
            "path escapes the layer root",
        ),
        (
            "absolute",
            raw_tar_entry("/etc/evil", b'0', ""),
            "path is absolute",
        ),
        (
            "hardlink escape",
            raw_tar_entry("x", b'1', "../../../etc/shadow"),
            "hardlink target",
        ),
    ] {
        let mut img = ImageFixture::new(vec![spec_bytes]).tag("evil:1");
        img.gzip = false;
        let h = hoist();
        let r = h.run_stdin(&["load"], &docker_archive(&[img]));
        assert_eq!(r.status, 1, "{name}");
        assert!(r.stderr.contains(want), "{name}: {}", r.stderr);
        store_is_empty(&h);
    }
    // A symlink to /etc followed by a file through it.
    let mut t = raw_tar_entry("a", b'2', "/etc");
    t.truncate(t.len() - 1024);
    t.extend(raw_tar_entry("a/passwd", b'0', ""));
    let h = hoist();
    let r = h.run_stdin(
        &["load"],
        &docker_archive(&[ImageFixture::new(vec![t]).tag("evil:2")]),
    );
    assert_eq!(r.status, 1);
    assert!(
        r.stderr
            .contains("goes through symlink \"a\" created earlier in the same layer"),
        "{}",
        r.stderr
    );
}

/// A one-entry tar with a raw name (the tar crate's builder refuses `..` and absolute paths).
fn raw_tar_entry(name: &str, kind: u8, link: &str) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(b"00000000000");
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(&[0u8; 1024]);
    out
}

#[test]
fn import_files_stdin_and_changes() {
    let h = hoist();
    let rootfs = layer("d bin 755\nf bin/app 755 #!/bin/sh\nd etc 755\nf etc/conf 644 x=1");
    let file = h.write("rootfs.tar", &rootfs);
    let id = h.ok(&[
        "import",
        "-c",
        "CMD [\"/bin/app\"]",
        "-c",
        "ENV A=1 B=two",
        "-c",
        "EXPOSE 80/tcp",
        "-m",
        "first",
        path_str(&file),
        "imp:1",
    ]);
    assert!(id.starts_with("sha256:") && id.len() == 72, "{id}");
    let t = |f: &str| h.ok(&["inspect", "-f", f, "imp:1"]);
    assert_eq!(t("{{.Config.Cmd}}"), "[/bin/app]\n");
    assert_eq!(t("{{.Config.Env}}"), "[A=1 B=two]\n");
    assert_eq!(t("{{.Comment}}"), "first\n");
    assert_eq!(
        t("{{.RootFS.Layers}}"),
        format!("[{}]\n", hoist_spec::Digest::of(&rootfs))
    );
    assert_eq!(
        h.ok(&["history", "--format", "{{.Comment}}", "imp:1"]),
        "first\n"
    );
    // From stdin, gzip-compressed, with the seed's single-quoted CMD (shell form, as Docker parses it).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&rootfs).unwrap();
    let r = h.run_stdin(
        &[
            "import",
            "-c",
            "CMD ['nginx', '-g', 'daemon off;']",
            "-",
            "nginx:custom",
        ],
        &gz.finish().unwrap(),
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        h.ok(&["inspect", "-f", "{{json .Config.Cmd}}", "nginx:custom"]),
        "[\"/bin/sh\",\"-c\",\"['nginx', '-g', 'daemon off;']\"]\n"
    );
    assert_eq!(
        h.ok(&["history", "--format", "{{.Comment}}", "nginx:custom"]),
        "Imported from -\n"
    );
    // Bad input: a bad change, a bad name, a hostile tar: errors, and no image added.
    let before = h.ok(&["images", "-q"]);
    let r = h.run(&["import", "-c", "RUN rm -rf /", path_str(&file)]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr
            .to_lowercase()
            .contains("is not a valid change command"),
        "{}",
        r.stderr
    );
    let r = h.run(&["import", path_str(&file), "Bad:Name"]);
    assert_eq!(r.status, 1);
    let evil = h.write("evil.tar", &raw_tar_entry("../x", b'0', ""));
    let r = h.run(&["import", path_str(&evil), "evil:1"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("path escapes the layer root"),
        "{}",
        r.stderr
    );
    let r = h.run(&["import", path_str(&h.path("missing.tar"))]);
    assert_eq!(r.status, 1);
    assert_eq!(h.ok(&["images", "-q"]), before);
}

#[test]
fn shared_layers_and_df_counts() {
    let (h, images) = loaded_three();
    let df = h.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Size}}",
    ]);
    assert!(df.starts_with("Images 3 "), "{df}");
    // The base layer is shared by app and tools: df -v shows it as shared for both.
    let v = h.ok(&["system", "df", "-v"]);
    assert!(v.contains(images[0].id().short()), "{v}");
    let _ = images;
}

#[test]
fn unknown_layer_media_type_is_named() {
    let img = ImageFixture::from_text("f a 644 x").tag("m:1");
    let layer_bytes = img.layers[0].clone();
    let config = img.config_bytes();
    let digest = |b: &[u8]| hoist_spec::Digest::of(b);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config).to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.example.mystery", "digest": digest(&layer_bytes).to_string(), "size": layer_bytes.len()}],
    }))
    .unwrap();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(&manifest).to_string(), "size": manifest.len()}],
    }))
    .unwrap();
    let mut t = tar::Builder::new(Vec::new());
    for (path, data) in [
        (
            format!("blobs/sha256/{}", digest(&layer_bytes).hex()),
            &layer_bytes,
        ),
        (format!("blobs/sha256/{}", digest(&config).hex()), &config),
        (
            format!("blobs/sha256/{}", digest(&manifest).hex()),
            &manifest,
        ),
        ("index.json".to_owned(), &index),
    ] {
        let mut hd = tar::Header::new_gnu();
        hd.set_size(data.len() as u64);
        hd.set_mode(0o644);
        hd.set_cksum();
        t.append_data(&mut hd, path, &data[..]).unwrap();
    }
    let h = hoist();
    let r = h.run_stdin(&["load"], &t.into_inner().unwrap());
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains(&format!(
            "blob {} has unknown media type \"application/vnd.example.mystery\"",
            digest(&layer_bytes)
        )),
        "{}",
        r.stderr
    );
    store_is_empty(&h);
}

#[test]
fn concurrent_loads_share_one_store() {
    let h = hoist();
    let archives: Vec<_> = (0..4)
        .map(|i| {
            let img = ImageFixture::new(vec![
                layer("f shared 644 same-base"),
                layer(&format!("f own 644 image-{i}")),
            ])
            .tag(&format!("par/img:{i}"));
            h.write(
                &format!("par{i}.tar"),
                &docker_archive(std::slice::from_ref(&img)),
            )
        })
        .collect();
    let threads: Vec<_> = archives
        .iter()
        .map(|p| {
            let mut c = h.command();
            c.args(["load", "-q", "-i", path_str(p)]);
            std::thread::spawn(move || c.output().unwrap())
        })
        .collect();
    // GC races with the loads: nothing a load references may disappear.
    let gc = h.run(&["system", "gc"]);
    assert_eq!(gc.status, 0, "{}", gc.stderr);
    for t in threads {
        let out = t.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        h.ok(&[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "--sort",
            "tag"
        ]),
        "par/img:0\npar/img:1\npar/img:2\npar/img:3\n"
    );
    assert!(h.ok(&["system", "check"]).contains("all good"));
}

#[test]
fn system_check_finds_a_corrupted_blob() {
    let (h, images) = loaded_three();
    assert!(h.ok(&["system", "check"]).ends_with("all good\n"));
    let config = h.root().join("blobs/sha256").join(images[1].id().hex());
    let mut perms = std::fs::metadata(&config).unwrap().permissions();
    #[expect(
        clippy::permissions_set_readonly_false,
        reason = "the test corrupts a read-only blob on purpose"
    )]
    perms.set_readonly(false);
    std::fs::set_permissions(&config, perms).unwrap();
    let mut bytes = std::fs::read(&config).unwrap();
    bytes[0] ^= 0x20;
    std::fs::write(&config, bytes).unwrap();
    let r = h.run(&["system", "check"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stdout
            .contains(&format!("corrupt blob {}", images[1].id())),
        "{}",
        r.stdout
    );
    assert!(r.stdout.ends_with("PROBLEMS FOUND\n"), "{}", r.stdout);
}
