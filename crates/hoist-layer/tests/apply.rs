//! Applying layers: every entry kind, metadata, replacement rules, whiteouts and opaque directories over lower
//! layers, and truncated input.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use common::{Sandbox, apply, is_root, layer, listing, try_apply};
use hoist_layer::{
    ApplyOptions, ApplyStats, LayerBuilder, LayerEntry, LayerError, StreamingLayerWriter,
    apply_layer, validate_layer,
};

#[test]
fn round_trip_builder_validate_apply() {
    let sandbox = Sandbox::new();
    let tar = layer(
        "d ./ 755\nd etc 755\nf etc/os-release 644 ID=test\\n\nd bin 755\nf bin/busybox 755 BB\nl bin/sh busybox\n\
         h bin/ls bin/busybox\nd tmp 1777\nf usr/bin/su 4755 su\n",
    );
    let report = validate_layer(&tar[..]).unwrap();
    assert_eq!(
        (report.files, report.dirs, report.symlinks, report.hardlinks),
        (3, 4, 1, 1)
    );
    let stats = apply_layer(
        &tar[..],
        &sandbox.root,
        &ApplyOptions::for_current_process(),
    )
    .unwrap();
    assert_eq!(
        (
            stats.entries,
            stats.files,
            stats.dirs,
            stats.symlinks,
            stats.hardlinks
        ),
        (9, 3, 4, 1, 1)
    );
    assert_eq!(stats.content_bytes, 8 + 2 + 2);
    assert!(stats.end_of_archive_marker);
    assert_eq!(
        listing(&sandbox.root),
        [
            "d bin 755",
            "d etc 755",
            "d tmp 1777",
            // Parents missing from the tar are created 755, as Docker does.
            "d usr 755",
            "d usr/bin 755",
            "f bin/busybox 755 BB",
            "f bin/ls 755 BB",
            "f etc/os-release 644 ID=test\n",
            "f usr/bin/su 4755 su",
            "l bin/sh -> busybox",
        ]
    );
    let busybox = fs::metadata(sandbox.root.join("bin/busybox")).unwrap();
    let ls = fs::metadata(sandbox.root.join("bin/ls")).unwrap();
    assert_eq!((busybox.ino(), busybox.nlink()), (ls.ino(), 2));
    assert_eq!(fs::metadata(&sandbox.root).unwrap().mode() & 0o7777, 0o755);
}

#[test]
fn mtimes_are_set_and_directory_mtimes_survive_their_children() {
    let sandbox = Sandbox::new();
    apply(
        &sandbox.root,
        "t 1000000\nd a 755\nf a/file 644 x\nl a/link file\nd a/sub 700\nf a/sub/deeper 600 y\n",
    );
    for (path, expected) in [
        ("a", 1_000_000),
        ("a/file", 1_000_000),
        ("a/sub", 1_000_000),
        ("a/sub/deeper", 1_000_000),
    ] {
        let meta = fs::symlink_metadata(sandbox.root.join(path)).unwrap();
        assert_eq!(meta.mtime(), expected, "{path}");
    }
    assert_eq!(
        fs::symlink_metadata(sandbox.root.join("a/link"))
            .unwrap()
            .mtime(),
        1_000_000
    );
}

#[test]
fn pax_times_keep_nanoseconds() {
    let sandbox = Sandbox::new();
    let mut writer = StreamingLayerWriter::new(Vec::new());
    writer
        .append_raw_pax(&[
            ("mtime", b"1700000000.25".as_slice()),
            ("atime", b"1600000000.5".as_slice()),
        ])
        .unwrap();
    writer.append(&LayerEntry::file("f", "x", 0o644)).unwrap();
    let tar = writer.finish().unwrap();
    apply_layer(&tar[..], &sandbox.root, &ApplyOptions::default()).unwrap();
    let meta = fs::metadata(sandbox.root.join("f")).unwrap();
    assert_eq!(
        (meta.mtime(), meta.mtime_nsec()),
        (1_700_000_000, 250_000_000)
    );
    assert_eq!(
        (meta.atime(), meta.atime_nsec()),
        (1_600_000_000, 500_000_000)
    );
}

#[test]
fn read_only_directories_still_receive_their_children() {
    let sandbox = Sandbox::new();
    apply(
        &sandbox.root,
        "d ro 555\nd ro/inner 500\nf ro/inner/file 444 x\n",
    );
    assert_eq!(
        listing(&sandbox.root),
        ["d ro 555", "d ro/inner 500", "f ro/inner/file 444 x"]
    );
    // Make the tree removable for the temp dir cleanup when not running as root.
    for dir in ["ro", "ro/inner"] {
        fs::set_permissions(sandbox.root.join(dir), fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn owners_are_applied_when_allowed() {
    let sandbox = Sandbox::new();
    let spec = "m 1234 5678\nd home 750\nf home/file 640 x\nl home/link file\np home/fifo 600\n";
    let options = ApplyOptions::for_current_process();
    apply_layer(&layer(spec)[..], &sandbox.root, &options).unwrap();
    let expected = if options.preserve_owners {
        (1234, 5678)
    } else {
        (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        )
    };
    for path in ["home", "home/file", "home/link", "home/fifo"] {
        let meta = fs::symlink_metadata(sandbox.root.join(path)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), expected, "{path}");
    }
}

#[test]
fn owners_are_left_alone_without_preserve_owners() {
    let sandbox = Sandbox::new();
    let options = ApplyOptions {
        preserve_owners: false,
        ..ApplyOptions::for_current_process()
    };
    apply_layer(
        &layer("m 1234 5678\nf file 644 x\n")[..],
        &sandbox.root,
        &options,
    )
    .unwrap();
    let meta = fs::metadata(sandbox.root.join("file")).unwrap();
    assert_eq!(meta.uid(), rustix::process::geteuid().as_raw());
}

#[test]
fn device_nodes_are_created_as_root_and_counted_otherwise() {
    let sandbox = Sandbox::new();
    let stats = apply(
        &sandbox.root,
        "c dev/null 666 1 3\nb dev/loop9 660 7 9\np run/fifo 620\n",
    );
    assert_eq!(stats.fifos, 1);
    let fifo = fs::metadata(sandbox.root.join("run/fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.mode() & 0o7777, 0o620);
    if stats.devices == 2 {
        let null = fs::symlink_metadata(sandbox.root.join("dev/null")).unwrap();
        assert!(null.file_type().is_char_device());
        assert_eq!(
            (
                rustix::fs::major(null.rdev()),
                rustix::fs::minor(null.rdev())
            ),
            (1, 3)
        );
        assert_eq!(null.mode() & 0o7777, 0o666);
        assert!(
            fs::symlink_metadata(sandbox.root.join("dev/loop9"))
                .unwrap()
                .file_type()
                .is_block_device()
        );
    } else {
        // Unprivileged, or root without CAP_MKNOD (a user namespace): skipped, not fatal.
        assert_eq!((stats.devices, stats.skipped_devices), (0, 2));
        assert!(!sandbox.root.join("dev/null").exists());
    }
    let stats = apply_layer(
        &layer("c dev/zero 666 1 5\n")[..],
        &sandbox.root,
        &ApplyOptions {
            create_devices: false,
            ..ApplyOptions::for_current_process()
        },
    )
    .unwrap();
    assert_eq!((stats.devices, stats.skipped_devices), (0, 1));
    if is_root() {
        assert!(!sandbox.root.join("dev/zero").exists());
    }
}

#[test]
fn xattrs_are_applied_best_effort() {
    let sandbox = Sandbox::new();
    let builder = LayerBuilder::new()
        .entry(LayerEntry::file("f", "x", 0o644).xattr("user.hoist.test", b"value".to_vec()))
        .entry(LayerEntry::dir("d", 0o755).xattr("user.hoist.dir", b"v2".to_vec()));
    let stats = apply_layer(
        &builder.build()[..],
        &sandbox.root,
        &ApplyOptions::default(),
    )
    .unwrap();
    assert_eq!(stats.xattrs_applied + stats.xattrs_failed, 2);
    let mut value = [0u8; 16];
    match rustix::fs::getxattr(sandbox.root.join("f"), "user.hoist.test", &mut value) {
        Ok(n) => {
            assert_eq!(&value[..n], b"value");
            assert_eq!(stats.xattrs_applied, 2);
        }
        // The temp filesystem may not support user xattrs; then both failures were counted.
        Err(_) => assert_eq!(stats.xattrs_failed, 2),
    }
    let stats = apply_layer(
        &builder.build()[..],
        &sandbox.root,
        &ApplyOptions {
            apply_xattrs: false,
            ..ApplyOptions::default()
        },
    )
    .unwrap();
    assert_eq!((stats.xattrs_applied, stats.xattrs_failed), (0, 0));
}

#[test]
fn whiteouts_remove_lower_entries() {
    let sandbox = Sandbox::new();
    apply(
        &sandbox.root,
        "d etc 755\nf etc/a 644 a\nf etc/b 644 b\nd etc/sub 755\nf etc/sub/c 644 c\nl etc/link a\n",
    );
    let stats = apply(
        &sandbox.root,
        "w etc/a\nw etc/sub\nw etc/link\nw etc/missing\nw nodir/missing\n",
    );
    assert_eq!(stats.whiteouts, 5);
    assert_eq!(listing(&sandbox.root), ["d etc 755", "f etc/b 644 b"]);
}

#[test]
fn whiteouts_spare_what_the_same_layer_adds() {
    let sandbox = Sandbox::new();
    apply(&sandbox.root, "f a 644 old\n");
    apply(&sandbox.root, "f a 644 new\nw a\n");
    assert_eq!(listing(&sandbox.root), ["f a 644 new"]);
}

#[test]
fn opaque_directory_hides_lower_contents_only() {
    for marker_first in [true, false] {
        let sandbox = Sandbox::new();
        apply(
            &sandbox.root,
            "d var 755\nd var/cache 755\nf var/cache/old 644 x\nd var/cache/keep 755\nf var/cache/keep/y 644 y\n\
             f var/sibling 644 s\n",
        );
        let entries = "d var/cache/keep 755\nf var/cache/keep/z 644 z\nf var/cache/new 644 n\n";
        let spec = if marker_first {
            format!("d var/cache 755\no var/cache\n{entries}")
        } else {
            format!("d var/cache 755\n{entries}o var/cache\n")
        };
        let stats = apply(&sandbox.root, &spec);
        assert_eq!(stats.opaque_dirs, 1);
        assert_eq!(
            listing(&sandbox.root),
            [
                "d var 755",
                "d var/cache 755",
                "d var/cache/keep 755",
                "f var/cache/keep/z 644 z",
                "f var/cache/new 644 n",
                "f var/sibling 644 s",
            ],
            "marker first: {marker_first}"
        );
    }
}

#[test]
fn opaque_root_and_missing_directory() {
    let sandbox = Sandbox::new();
    apply(&sandbox.root, "f a 644 a\nd b 755\n");
    apply(&sandbox.root, "f c 644 c\no .\no fresh\n");
    assert_eq!(listing(&sandbox.root), ["d fresh 755", "f c 644 c"]);
}

#[test]
fn replacement_rules() {
    let sandbox = Sandbox::new();
    apply(&sandbox.root, "d x 755\nf x/inner 644 1\nf y 644 file\n");
    // A directory over a directory merges (and takes the new mode).
    apply(&sandbox.root, "d x 700\n");
    assert_eq!(
        listing(&sandbox.root),
        ["d x 700", "f x/inner 644 1", "f y 644 file"]
    );
    // A file over a directory replaces it and its contents; a directory over a file replaces the file.
    apply(&sandbox.root, "f x 600 now-a-file\nd y 750\n");
    assert_eq!(listing(&sandbox.root), ["d y 750", "f x 600 now-a-file"]);
    // A symlink over a file, a hardlink over a symlink.
    apply(&sandbox.root, "l x y\n");
    apply(&sandbox.root, "f t 644 target\nh x t\n");
    assert_eq!(
        listing(&sandbox.root),
        ["d y 750", "f t 644 target", "f x 644 target"]
    );
}

#[test]
fn symlinked_parents_from_lower_layers_are_followed_inside_the_root() {
    // Merged /usr: lib -> usr/lib, and a later layer writes lib/x.so.
    let sandbox = Sandbox::new();
    apply(
        &sandbox.root,
        "d usr 755\nd usr/lib 755\nl lib usr/lib\nl abs /usr/lib\n",
    );
    apply(
        &sandbox.root,
        "f lib/x.so 644 so\nf abs/y.so 644 so2\nh lib/z.so abs/y.so\n",
    );
    assert_eq!(
        listing(&sandbox.root),
        [
            "d usr 755",
            "d usr/lib 755",
            "f usr/lib/x.so 644 so",
            "f usr/lib/y.so 644 so2",
            "f usr/lib/z.so 644 so2",
            "l abs -> /usr/lib",
            "l lib -> usr/lib",
        ]
    );
}

#[test]
fn hardlink_to_a_missing_target_is_an_error() {
    let sandbox = Sandbox::new();
    let err = try_apply(&sandbox.root, "h a nowhere\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer entry \"a\": hardlink target \"nowhere\" does not exist"
    );
    let err = try_apply(&sandbox.root, "d dir 755\nh a dir\n").unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::BadHardlinkTarget {
                reason: "is a directory",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn long_names_are_applied() {
    let sandbox = Sandbox::new();
    let dir = "d".repeat(120);
    let file = format!("{dir}/{}", "f".repeat(140));
    let target = format!("../{}", "t".repeat(150));
    apply_layer(
        &LayerBuilder::new()
            .file(&file, "long", 0o644)
            .symlink(format!("{dir}/link"), &target)
            .build()[..],
        &sandbox.root,
        &ApplyOptions::default(),
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(sandbox.root.join(&file)).unwrap(),
        "long"
    );
    assert_eq!(
        fs::read_link(sandbox.root.join(format!("{dir}/link")))
            .unwrap()
            .to_str(),
        Some(target.as_str())
    );
}

#[test]
fn truncated_content_fails_the_apply() {
    let sandbox = Sandbox::new();
    let tar = LayerBuilder::new()
        .file("big", vec![1u8; 4096], 0o644)
        .build();
    let err = apply_layer(&tar[..512 + 2048], &sandbox.root, &ApplyOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::Truncated {
                expected: 4096,
                found: 2048,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "layer entry \"big\": content truncated: the header declares 4096 bytes but the stream ended after 2048"
    );
}

#[test]
fn missing_end_marker_is_reported_but_accepted() {
    let sandbox = Sandbox::new();
    let tar = layer("f a 644 x\n");
    let stats = apply_layer(&tar[..1024], &sandbox.root, &ApplyOptions::default()).unwrap();
    assert_eq!(
        stats,
        ApplyStats {
            entries: 1,
            files: 1,
            content_bytes: 1,
            ..ApplyStats::default()
        }
    );
    let stats = apply_layer(&tar[..], &sandbox.root, &ApplyOptions::default()).unwrap();
    assert!(stats.end_of_archive_marker);
}

#[test]
fn root_must_be_an_existing_directory() {
    let sandbox = Sandbox::new();
    let missing = sandbox.top.join("missing");
    let err = apply_layer(
        &layer("f a 644 x\n")[..],
        &missing,
        &ApplyOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, LayerError::Root { .. }), "{err}");
    let file = sandbox.outside.join("secret");
    let err = apply_layer(&layer("f a 644 x\n")[..], &file, &ApplyOptions::default()).unwrap_err();
    assert!(matches!(err, LayerError::Root { .. }), "{err}");
    sandbox.assert_outside_untouched();
}

#[test]
fn streamed_random_layer_applies_with_bounded_buffers() {
    let sandbox = Sandbox::new();
    let size = 8 << 20;
    let mut writer = StreamingLayerWriter::new(Vec::new());
    writer
        .append(&LayerEntry::random_file("noise.bin", size, 11, 0o644))
        .unwrap();
    let tar = writer.finish().unwrap();
    let stats = apply_layer(&tar[..], &sandbox.root, &ApplyOptions::default()).unwrap();
    assert_eq!(stats.content_bytes, size);
    let mut expected = vec![0u8; size as usize];
    hoist_layer::builder::fill_random(11, 0, &mut expected);
    assert!(fs::read(sandbox.root.join("noise.bin")).unwrap() == expected);
}
