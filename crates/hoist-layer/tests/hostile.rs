//! Hostile layers: every one tries to write, link, chmod or delete outside the root, alone or with the help
//! of symlinks left by a lower layer. Each test checks the refusal (or the confinement) and that the
//! `outside` directory is exactly as it was.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::{Sandbox, apply, listing, try_apply};
use hoist_layer::{
    ApplyOptions, LayerEntry, LayerError, PathProblem, StreamingLayerWriter, apply_layer,
    validate_layer,
};

/// Writes entries exactly as given, bypassing any path policy.
fn raw_layer(entries: &[LayerEntry]) -> Vec<u8> {
    let mut writer = StreamingLayerWriter::new(Vec::new());
    for entry in entries {
        writer.append(entry).unwrap();
    }
    writer.finish().unwrap()
}

fn apply_raw(
    sandbox: &Sandbox,
    entries: &[LayerEntry],
) -> Result<hoist_layer::ApplyStats, LayerError> {
    let tar = raw_layer(entries);
    // The validator and the applier must agree.
    let validated = validate_layer(&tar[..]);
    let applied = apply_layer(
        &tar[..],
        &sandbox.root,
        &ApplyOptions::for_current_process(),
    );
    assert_eq!(
        validated.is_ok(),
        applied.is_ok(),
        "validate: {validated:?}, apply: {applied:?}"
    );
    applied
}

#[test]
fn dotdot_entry_is_refused() {
    let sandbox = Sandbox::new();
    let err = apply_raw(
        &sandbox,
        &[LayerEntry::file("../outside/secret", "pwned", 0o644)],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer entry \"../outside/secret\": path escapes the layer root"
    );
    sandbox.assert_outside_untouched();
}

#[test]
fn dotdot_hidden_inside_a_path_is_refused() {
    let sandbox = Sandbox::new();
    let err = apply_raw(
        &sandbox,
        &[
            LayerEntry::dir("a", 0o755),
            LayerEntry::file("a/../../outside/secret", "pwned", 0o644),
        ],
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::UnsafePath {
                problem: PathProblem::EscapesRoot,
                ..
            }
        ),
        "{err}"
    );
    sandbox.assert_outside_untouched();
}

#[test]
fn escaping_names_in_pax_and_gnu_long_name_records_are_refused() {
    let sandbox = Sandbox::new();
    let mut writer = StreamingLayerWriter::new(Vec::new());
    writer
        .append_raw_pax(&[("path", b"../outside/secret".as_slice())])
        .unwrap();
    writer
        .append(&LayerEntry::file("innocent", "pwned", 0o644))
        .unwrap();
    let tar = writer.finish().unwrap();
    let err = apply_layer(
        &tar[..],
        &sandbox.root,
        &ApplyOptions::for_current_process(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer entry \"../outside/secret\": path escapes the layer root"
    );

    let mut writer = StreamingLayerWriter::new(Vec::new());
    writer
        .append(&LayerEntry::file("target", "t", 0o644))
        .unwrap();
    writer
        .append_raw_pax(&[("linkpath", b"/etc/shadow".as_slice())])
        .unwrap();
    writer.append(&LayerEntry::hardlink("h", "target")).unwrap();
    let tar = writer.finish().unwrap();
    let err = apply_layer(
        &tar[..],
        &sandbox.root,
        &ApplyOptions::for_current_process(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::UnsafeHardlink {
                problem: PathProblem::Absolute,
                ..
            }
        ),
        "{err}"
    );

    // Longer than 100 bytes, so it travels in a GNU long-name record.
    let long = format!("{}{}outside/secret", "a/".repeat(60), "../".repeat(61));
    let err = apply_raw(&sandbox, &[LayerEntry::file(&long, "pwned", 0o644)]).unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::UnsafePath {
                problem: PathProblem::EscapesRoot,
                ..
            }
        ),
        "{err}"
    );
    sandbox.assert_outside_untouched();
}

#[test]
fn absolute_entry_is_refused() {
    let sandbox = Sandbox::new();
    let target = sandbox.outside.join("secret");
    let err = apply_raw(&sandbox, &[LayerEntry::file(&target, "pwned", 0o644)]).unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::UnsafePath {
                problem: PathProblem::Absolute,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("path is absolute"), "{err}");
    sandbox.assert_outside_untouched();
}

#[test]
fn writing_through_a_symlink_of_the_same_layer_is_refused() {
    for absolute in [true, false] {
        let sandbox = Sandbox::new();
        let target = if absolute {
            sandbox.outside_str()
        } else {
            "../outside".to_owned()
        };
        let err = apply_raw(
            &sandbox,
            &[
                LayerEntry::symlink("a", &target),
                LayerEntry::file("a/secret", "pwned", 0o644),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer entry \"a/secret\": path goes through symlink \"a\" created earlier in the same layer"
        );
        sandbox.assert_outside_untouched();
    }
}

#[test]
fn escaping_hardlinks_are_refused() {
    let sandbox = Sandbox::new();
    let err = apply_raw(&sandbox, &[LayerEntry::hardlink("x", "../outside/secret")]).unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::UnsafeHardlink {
                problem: PathProblem::EscapesRoot,
                ..
            }
        ),
        "{err}"
    );
    let absolute = sandbox.outside.join("secret");
    let err = apply_raw(&sandbox, &[LayerEntry::hardlink("x", &absolute)]).unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::UnsafeHardlink {
                problem: PathProblem::Absolute,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(fs::metadata(&absolute).unwrap().nlink(), 1);
    sandbox.assert_outside_untouched();
}

#[test]
fn hardlink_through_a_symlink_of_the_same_layer_is_refused() {
    let sandbox = Sandbox::new();
    let err = apply_raw(
        &sandbox,
        &[
            LayerEntry::symlink("s", sandbox.outside_str()),
            LayerEntry::hardlink("x", "s/secret"),
        ],
    )
    .unwrap_err();
    assert!(matches!(
        err,
        LayerError::UnsafeHardlink {
            problem: PathProblem::ThroughSymlink { .. },
            ..
        }
    ));
    sandbox.assert_outside_untouched();
}

#[test]
fn absolute_symlink_from_a_lower_layer_resolves_inside_the_root() {
    let sandbox = Sandbox::new();
    apply(&sandbox.root, &format!("l etc {}", sandbox.outside_str()));
    apply(&sandbox.root, "f etc/secret 644 pwned\n");
    sandbox.assert_outside_untouched();
    // As in a chroot: /etc -> <outside> means <root>/<outside>.
    let confined = sandbox
        .root
        .join(sandbox.outside.strip_prefix("/").unwrap())
        .join("secret");
    assert_eq!(fs::read_to_string(confined).unwrap(), "pwned");
}

#[test]
fn relative_symlink_climbing_out_is_clamped_at_the_root() {
    let sandbox = Sandbox::new();
    apply(&sandbox.root, "d deep 755\nl deep/up ../../../../..\n");
    apply(&sandbox.root, "f deep/up/outside/secret 644 pwned\n");
    sandbox.assert_outside_untouched();
    assert_eq!(
        fs::read_to_string(sandbox.root.join("outside/secret")).unwrap(),
        "pwned"
    );
}

#[test]
fn symlink_loops_from_a_lower_layer_are_an_error() {
    let sandbox = Sandbox::new();
    apply(&sandbox.root, "l a b\nl b a\n");
    let err = try_apply(&sandbox.root, "f a/x 644 y\n").unwrap_err();
    assert!(matches!(err, LayerError::SymlinkLoop { .. }), "{err}");
}

#[test]
fn file_over_a_symlink_replaces_the_symlink_not_its_target() {
    let sandbox = Sandbox::new();
    apply(
        &sandbox.root,
        &format!("l link {}/secret", sandbox.outside_str()),
    );
    apply(&sandbox.root, "f link 644 new\n");
    assert_eq!(listing(&sandbox.root), ["f link 644 new"]);
    sandbox.assert_outside_untouched();
}

#[test]
fn directory_over_a_symlink_replaces_the_symlink() {
    let sandbox = Sandbox::new();
    apply(&sandbox.root, &format!("l d {}", sandbox.outside_str()));
    apply(&sandbox.root, "d d 700\nf d/x 600 1\n");
    assert_eq!(listing(&sandbox.root), ["d d 700", "f d/x 600 1"]);
    sandbox.assert_outside_untouched();
}

#[test]
fn deferred_directory_metadata_does_not_follow_a_later_symlink() {
    let sandbox = Sandbox::new();
    // The directory's mode and mtime are set at the end; by then a symlink to the outside stands in its place
    // (and in its parent's place, for a/b).
    let outside = sandbox.outside_str();
    apply(
        &sandbox.root,
        &format!("t 1\nd a 700\nd a/b 700\nd c 700\nl a {outside}\nl c {outside}/b\n"),
    );
    sandbox.assert_outside_untouched();
    assert_eq!(
        listing(&sandbox.root),
        [format!("l a -> {outside}"), format!("l c -> {outside}/b")]
    );
}

#[test]
fn whiteout_through_a_lower_symlink_stays_inside() {
    let sandbox = Sandbox::new();
    apply(&sandbox.root, &format!("l lnk {}", sandbox.outside_str()));
    apply(&sandbox.root, "w lnk/secret\nw lnk/b\n");
    sandbox.assert_outside_untouched();
}

#[test]
fn whiteout_of_a_symlink_removes_the_symlink_only() {
    let sandbox = Sandbox::new();
    apply(&sandbox.root, &format!("l lnk {}", sandbox.outside_str()));
    apply(&sandbox.root, "w lnk\n");
    assert!(listing(&sandbox.root).is_empty());
    sandbox.assert_outside_untouched();
}

#[test]
fn opaque_marker_on_a_lower_symlink_clears_nothing_outside() {
    let sandbox = Sandbox::new();
    apply(
        &sandbox.root,
        &format!("l lnk {}\nl lnk2 ../outside", sandbox.outside_str()),
    );
    apply(&sandbox.root, "o lnk\no lnk2\no lnk/b\n");
    sandbox.assert_outside_untouched();
}

#[test]
fn hardlink_through_a_lower_symlink_cannot_reach_outside() {
    let sandbox = Sandbox::new();
    apply(&sandbox.root, &format!("l lnk {}", sandbox.outside_str()));
    let err = try_apply(&sandbox.root, "h x lnk/secret\n").unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::BadHardlinkTarget {
                reason: "does not exist",
                ..
            }
        ),
        "{err}"
    );
    sandbox.assert_outside_untouched();
}

#[test]
fn hardlink_to_a_symlink_links_the_symlink_itself() {
    let sandbox = Sandbox::new();
    apply(
        &sandbox.root,
        &format!("l link {}/secret", sandbox.outside_str()),
    );
    apply(&sandbox.root, "h hl link\n");
    let meta = fs::symlink_metadata(sandbox.root.join("hl")).unwrap();
    assert!(meta.file_type().is_symlink());
    assert_eq!(meta.nlink(), 2);
    // Writing the hardlinked name later replaces it; the outside file is never opened.
    apply(&sandbox.root, "f hl 644 pwned\n");
    sandbox.assert_outside_untouched();
}

#[test]
fn device_over_a_lower_symlink_does_not_write_through_it() {
    let sandbox = Sandbox::new();
    apply(
        &sandbox.root,
        &format!("l fifo {}/secret", sandbox.outside_str()),
    );
    apply(&sandbox.root, "p fifo 600\n");
    assert_eq!(listing(&sandbox.root), ["p fifo"]);
    sandbox.assert_outside_untouched();
}

#[test]
fn file_below_a_file_is_an_error() {
    let sandbox = Sandbox::new();
    let err = try_apply(&sandbox.root, "f a 644 x\nf a/b 644 y\n").unwrap_err();
    assert!(matches!(err, LayerError::NotADirectory { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("\"a/b\": a exists and is not a directory"),
        "{err}"
    );
}

#[test]
fn invalid_whiteouts_are_refused() {
    let sandbox = Sandbox::new();
    for name in ["etc/.wh.", "etc/.wh..", "etc/.wh..."] {
        let err = apply_raw(&sandbox, &[LayerEntry::file(name, "", 0o600)]).unwrap_err();
        assert!(
            matches!(err, LayerError::InvalidWhiteout { .. }),
            "{name}: {err}"
        );
    }
    sandbox.assert_outside_untouched();
}

#[test]
fn setuid_modes_are_kept_but_cannot_leak_outside() {
    let sandbox = Sandbox::new();
    apply(&sandbox.root, "f bin/su 4755 x\n");
    assert_eq!(listing(&sandbox.root), ["d bin 755", "f bin/su 4755 x"]);
    sandbox.assert_outside_untouched();
}
