//! `hoist copy SRC DST` across skopeo's transports against `hoist registry serve`: digests kept between
//! registries, every platform with `--all`, OCI layouts skopeo can read, archives and the local store.

mod common;

use common::hoist;
use hoist_test_support::cli::{TestHoist, path_str};
use hoist_test_support::fixtures::{ImageFixture, docker_archive, layer};
use hoist_test_support::peers::{run, skip, skopeo_available};
use hoist_test_support::registry::serve_hoist;
use serde_json::{Value, json};

fn fixture(tag: &str, arch: &str, content: &str) -> ImageFixture {
    let mut image = ImageFixture::new(vec![
        layer(&format!("d etc 755\nf etc/release 644 {content}")),
        layer("d data 755\nf data/a 644 second layer"),
    ])
    .tag(tag);
    image.architecture = arch.to_owned();
    image
}

/// A registry holding `app:1` (pushed from a loaded fixture).
fn registry_with_app(h: &TestHoist) -> hoist_test_support::registry::Served {
    let reg = serve_hoist(h, "registry-data", &[]);
    h.load(&docker_archive(&[fixture("app:1", "amd64", "one")]));
    let remote = format!("{}/app:1", reg.addr);
    h.ok(&["tag", "app:1", &remote]);
    h.ok(&["push", "-q", &remote]);
    reg
}

fn manifest_digest(h: &TestHoist, name: &str) -> String {
    let verbose: Value =
        serde_json::from_str(&h.ok(&["manifest", "inspect", "-v", name])).expect("verbose JSON");
    verbose["Descriptor"]["digest"]
        .as_str()
        .expect("a digest")
        .to_owned()
}

#[test]
fn registry_to_registry_keeps_the_digest_and_prints_skopeo_lines() {
    let h = hoist();
    let reg = registry_with_app(&h);
    let from = format!("docker://{}/app:1", reg.addr);
    let to = format!("docker://{}/copied/app:2", reg.addr);
    let out = h.ok(&["copy", &from, &to]);
    assert!(
        out.starts_with("Getting image source signatures\n"),
        "{out}"
    );
    assert!(out.contains("Copying blob "), "{out}");
    assert!(
        out.ends_with("Writing manifest to image destination\n"),
        "{out}"
    );
    assert_eq!(
        manifest_digest(&h, &format!("{}/app:1", reg.addr)),
        manifest_digest(&h, &format!("{}/copied/app:2", reg.addr))
    );
    // Again: the destination has every blob now.
    let again = h.ok(&["copy", &from, &to]);
    assert!(again.contains("skipped: already exists"), "{again}");
}

#[test]
fn registry_to_layout_and_back() {
    let h = hoist();
    let reg = registry_with_app(&h);
    let layout = h.path("layout");
    let oci = format!("oci:{}:app", path_str(&layout));
    h.ok(&["copy", "-q", &format!("docker://{}/app:1", reg.addr), &oci]);
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap())
        .expect("index.json");
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        json!("app")
    );
    assert!(layout.join("oci-layout").is_file());
    h.ok(&[
        "copy",
        "-q",
        &oci,
        &format!("docker://{}/back/app:1", reg.addr),
    ]);
    // The layout's digest is what the registry now serves.
    let top = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    assert_eq!(
        manifest_digest(&h, &format!("{}/back/app:1", reg.addr)),
        top
    );
    if skopeo_available() {
        let (status, _, err) = run(
            "skopeo",
            &["inspect", &format!("oci:{}:app", path_str(&layout))],
        );
        assert_eq!(status, 0, "skopeo cannot read hoist's layout: {err}");
    } else {
        skip(
            "registry_to_layout_and_back (skopeo part)",
            "skopeo not installed",
        );
    }
}

#[test]
fn archives_and_the_store() {
    let h = hoist();
    let archive = h.write(
        "in.tar",
        &docker_archive(&[fixture("orig:1", "amd64", "archived")]),
    );
    h.ok(&[
        "copy",
        "-q",
        &format!("docker-archive:{}", path_str(&archive)),
        "hoist:kept/app:3",
    ]);
    let id = h.ok(&["inspect", "--format", "{{.Id}}", "kept/app:3"]);
    let oci_archive = h.path("out.tar");
    h.ok(&[
        "copy",
        "-q",
        "hoist:kept/app:3",
        &format!("oci-archive:{}:v9", path_str(&oci_archive)),
    ]);
    let other = hoist();
    other.ok(&[
        "copy",
        "-q",
        &format!("oci-archive:{}:v9", path_str(&oci_archive)),
        "hoist:again/app:4",
    ]);
    assert_eq!(
        other.ok(&["inspect", "--format", "{{.Id}}", "again/app:4"]),
        id
    );
}

#[test]
fn all_copies_every_platform_of_a_list() {
    let h = hoist();
    let reg = serve_hoist(&h, "registry-data", &[]);
    h.load(&docker_archive(&[
        fixture("multi:amd64", "amd64", "x86"),
        fixture("multi:arm64", "arm64", "arm"),
    ]));
    let mut children = Vec::new();
    for arch in ["amd64", "arm64"] {
        let remote = format!("{}/multi:{arch}", reg.addr);
        h.ok(&["tag", &format!("multi:{arch}"), &remote]);
        h.ok(&["push", "-q", &remote]);
        let verbose: Value =
            serde_json::from_str(&h.ok(&["manifest", "inspect", "-v", &remote])).unwrap();
        let mut descriptor = verbose["Descriptor"].clone();
        descriptor["platform"] = json!({"architecture": arch, "os": "linux"});
        children.push(descriptor);
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": children,
    });
    let body = h.write("index.json", index.to_string().as_bytes());
    let (status, _, err) = run(
        "curl",
        &[
            "-sf",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.index.v1+json",
            "--data-binary",
            &format!("@{}", path_str(&body)),
            &format!("http://{}/v2/multi/manifests/list", reg.addr),
        ],
    );
    assert_eq!(status, 0, "PUT index: {err}");
    let from = format!("docker://{}/multi:list", reg.addr);
    h.ok(&[
        "copy",
        "-q",
        "--all",
        &from,
        &format!("docker://{}/mirror/multi:list", reg.addr),
    ]);
    let copied: Value = serde_json::from_str(&h.ok(&[
        "manifest",
        "inspect",
        &format!("{}/mirror/multi:list", reg.addr),
    ]))
    .unwrap();
    assert_eq!(copied["manifests"].as_array().map(Vec::len), Some(2));
    // Without --all, one platform, chosen like pull does.
    h.ok(&[
        "copy",
        "-q",
        "--platform",
        "linux/arm64",
        &from,
        &format!("docker://{}/one/multi:arm", reg.addr),
    ]);
    let one: Value = serde_json::from_str(&h.ok(&[
        "manifest",
        "inspect",
        &format!("{}/one/multi:arm", reg.addr),
    ]))
    .unwrap();
    assert_eq!(one["layers"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        manifest_digest(&h, &format!("{}/one/multi:arm", reg.addr)),
        children[1]["digest"].as_str().unwrap()
    );
}

#[test]
fn bad_locations_are_named() {
    let h = hoist();
    let r = h.run(&["copy", "nope:x", "docker://127.0.0.1:1/a:b"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("unknown transport \"nope\""),
        "{}",
        r.stderr
    );
    let r = h.run(&["copy", "docker:a/b", "hoist:x"]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("docker://"), "{}", r.stderr);
    let missing = h.path("missing-layout");
    let r = h.run(&["copy", &format!("oci:{}:x", path_str(&missing)), "hoist:x"]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("missing-layout"), "{}", r.stderr);
}

/// `curl` with `args`, requiring success; returns stdout.
fn curl(args: &[&str]) -> String {
    let (status, out, err) = run("curl", args);
    assert_eq!(status, 0, "curl {args:?}: {err}");
    out
}

/// Uploads `bytes` as a blob of `repo` (POST, then one PUT) and returns its digest.
fn upload_blob(h: &TestHoist, addr: &str, repo: &str, name: &str, bytes: &[u8]) -> String {
    let digest = hoist_spec::Digest::of(bytes).to_string();
    let headers = curl(&[
        "-sf",
        "-X",
        "POST",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("http://{addr}/v2/{repo}/blobs/uploads/"),
    ]);
    let location = headers
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("location")
                .then(|| v.trim().to_owned())
        })
        .expect("a Location header");
    let location = if location.starts_with("http") {
        location
    } else {
        format!("http://{addr}{location}")
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let file = h.write(name, bytes);
    curl(&[
        "-sf",
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &format!("@{}", path_str(&file)),
        &format!("{location}{sep}digest={digest}"),
    ]);
    digest
}

#[test]
fn referrers_travel_with_the_image_between_registries() {
    let h = hoist();
    let reg = registry_with_app(&h);
    let verbose: Value =
        serde_json::from_str(&h.ok(&["manifest", "inspect", "-v", &format!("{}/app:1", reg.addr)]))
            .unwrap();
    let subject = verbose["Descriptor"].clone();
    let empty = upload_blob(&h, &reg.addr, "app", "empty.json", b"{}");
    let signature = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2}],
        "subject": {
            "mediaType": subject["mediaType"],
            "digest": subject["digest"],
            "size": subject["size"],
        },
    });
    let body = h.write("signature.json", signature.to_string().as_bytes());
    curl(&[
        "-sf",
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/vnd.oci.image.manifest.v1+json",
        "--data-binary",
        &format!("@{}", path_str(&body)),
        &format!("http://{}/v2/app/manifests/signature", reg.addr),
    ]);
    let out = h.ok(&[
        "copy",
        &format!("docker://{}/app:1", reg.addr),
        &format!("docker://{}/signed/app:1", reg.addr),
    ]);
    assert!(out.contains("Copying referrer sha256:"), "{out}");
    let referrers: Value = serde_json::from_str(&curl(&[
        "-sf",
        &format!(
            "http://{}/v2/signed/app/referrers/{}",
            reg.addr,
            subject["digest"].as_str().unwrap()
        ),
    ]))
    .unwrap();
    let found = referrers["manifests"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(found.len(), 1, "{referrers}");
    assert_eq!(
        found[0]["artifactType"],
        json!("application/vnd.example.signature")
    );
}
