//! Helpers shared by the CLI test files: the harness bound to this crate's binary, fixture images, and
//! snapshot filters for what varies from run to run (ages, temp paths).

#![allow(dead_code, reason = "each test file uses a different subset")]

use hoist_test_support::cli::TestHoist;
use hoist_test_support::fixtures::{ImageFixture, layer};

pub(crate) fn hoist() -> TestHoist {
    TestHoist::new(env!("CARGO_BIN_EXE_hoist"))
}

/// Snapshot settings: ages like `2 years ago` become `[AGO]`.
pub(crate) fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(
        r"(Less than a second|About an? (minute|hour)|\d+ (second|minute|hour|day|week|month|year)s?) ago",
        "[AGO]",
    );
    s.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]");
    s.add_filter(r#""LastTagTime": "[^"]+""#, r#""LastTagTime": "[TIME]""#);
    s.set_prepend_module_to_snapshot(false);
    s
}

/// Three images: `app` (two tags, a label), `tools:1` sharing app's base layer, and an untagged one.
pub(crate) fn three_images() -> Vec<ImageFixture> {
    let base =
        layer("d etc 755\nf etc/os-release 644 ID=fixture\nd bin 755\nf bin/tool 755 #!/bin/sh");
    let app_layer = layer("d app 755\nf app/main 755 echo app\nl app/run main");
    let tools_layer = layer("d usr 755\nf usr/tools 644 0123456789");
    let mut app = ImageFixture::new(vec![base.clone(), app_layer])
        .tag("app:1.0")
        .tag("app:latest")
        .label("org.example.team", "core")
        .created("2024-03-01T10:00:00Z");
    app.cmd = vec!["/app/run".to_owned()];
    let tools = ImageFixture::new(vec![base, tools_layer])
        .tag("registry.example.com:5000/team/tools:1")
        .created("2024-02-01T10:00:00Z");
    let orphan = ImageFixture::from_text("f orphan 644 alone").created("2024-01-01T10:00:00Z");
    vec![app, tools, orphan]
}

pub(crate) fn loaded_three() -> (TestHoist, Vec<ImageFixture>) {
    let h = hoist();
    let images = three_images();
    h.load(&hoist_test_support::fixtures::docker_archive(&images));
    (h, images)
}
