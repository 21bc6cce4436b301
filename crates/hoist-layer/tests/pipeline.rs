//! The one-pass pull shape: a compressed blob is read once, copied to the store, hashed on both sides of the
//! decoder and extracted, and every number agrees with digests computed separately.

mod common;

use std::io::{Read, Write};

use common::{Sandbox, layer, listing};
use hoist_layer::compression::{Compression, Compressor, auto_decompress};
use hoist_layer::{
    ApplyOptions, LayerDigestReader, LayerError, apply_layer, diff_id_of, validate_layer,
};
use hoist_spec::Digest;

const SPEC: &str =
    "d etc 755\nf etc/os-release 644 ID=test\nr usr/lib/blob 644 3M 5\nl bin/sh busybox\n";

fn compress(compression: Compression, data: &[u8]) -> Vec<u8> {
    match compression {
        Compression::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        _ => {
            let mut c = Compressor::new(Vec::new(), compression).unwrap();
            c.write_all(data).unwrap();
            c.finish().unwrap()
        }
    }
}

#[test]
fn download_copy_hash_and_extract_in_one_pass() {
    let tar = layer(SPEC);
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let sandbox = Sandbox::new();
        let blob = compress(compression, &tar);
        let mut stored = Vec::new();
        let mut reader = LayerDigestReader::with_copy(&blob[..], &mut stored).unwrap();
        assert_eq!(reader.compression(), compression);
        let applied = apply_layer(&mut reader, &sandbox.root, &ApplyOptions::default()).unwrap();
        let stats = reader.finish().unwrap();

        assert!(
            stored == blob,
            "{compression}: the stored copy differs from the blob"
        );
        assert_eq!(stats.blob_digest, Digest::of(&blob), "{compression}");
        assert_eq!(stats.blob_size, blob.len() as u64);
        assert_eq!(stats.diff_id, Digest::of(&tar), "{compression}");
        assert_eq!(stats.size, tar.len() as u64);
        assert_eq!(
            diff_id_of(&blob[..], compression).unwrap(),
            (stats.diff_id.clone(), stats.size)
        );
        if compression == Compression::None {
            assert_eq!(stats.diff_id, stats.blob_digest);
        }
        assert_eq!(applied.content_bytes, 7 + (3 << 20));
        assert_eq!(listing(&sandbox.root).len(), 7);
    }
}

#[test]
fn input_only_compressions_validate_and_apply() {
    let tar = layer(SPEC);
    for compression in [Compression::Xz, Compression::Bzip2] {
        let sandbox = Sandbox::new();
        let blob = compress(compression, &tar);
        let report = validate_layer(auto_decompress(&blob[..]).unwrap()).unwrap();
        assert_eq!(report.files, 2);
        apply_layer(
            auto_decompress(&blob[..]).unwrap(),
            &sandbox.root,
            &ApplyOptions::default(),
        )
        .unwrap();
        let mut content = String::new();
        std::fs::File::open(sandbox.root.join("etc/os-release"))
            .unwrap()
            .read_to_string(&mut content)
            .unwrap();
        assert_eq!(content, "ID=test");
    }
}

#[test]
fn truncated_compressed_layers_fail() {
    let tar = layer(SPEC);
    for compression in [Compression::Gzip, Compression::Zstd] {
        let blob = compress(compression, &tar);
        for cut in [blob.len() / 3, blob.len() - 3] {
            let sandbox = Sandbox::new();
            let mut reader = LayerDigestReader::new(&blob[..cut]).unwrap();
            let applied = apply_layer(&mut reader, &sandbox.root, &ApplyOptions::default());
            // Either the tar reader hits the decoder's error, or (cut inside the trailer) finishing does.
            let failed = match applied {
                Err(LayerError::ReadContent { .. } | LayerError::Corrupt { .. }) => true,
                Err(other) => panic!("{compression} cut at {cut}: unexpected error {other}"),
                Ok(_) => reader.finish().is_err(),
            };
            assert!(
                failed,
                "{compression} blob cut at {cut} of {} was accepted",
                blob.len()
            );
            assert!(validate_layer(auto_decompress(&blob[..cut]).unwrap()).is_err());
        }
    }
}
