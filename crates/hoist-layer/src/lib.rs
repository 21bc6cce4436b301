//! Layer tarballs, synchronously and streaming: compression sniffing and codecs, blob digests and DiffIDs in
//! one pass, safety validation, a path-safe applier (whiteouts, opaque directories, hardlinks, xattrs) and
//! deterministic tar writing.
//!
//! Everything works on `std::io::{Read, Write}`; memory is bounded by buffer sizes (1 MiB) and the number of
//! entries, never by content size. Async callers run it in `spawn_blocking`. The pieces compose into the
//! one-pass pull: `LayerDigestReader::with_copy(download, blob_file)` → `apply_layer` → `finish()` gives
//! blob digest, DiffID and an extracted tree from a single read of the stream.

pub mod analyze;
pub mod apply;
pub mod builder;
pub mod compression;
pub mod digest;
pub mod entry;
pub mod error;
pub mod path;
pub mod safety;
pub mod scan;
pub mod tree;

pub use analyze::{LayerAnalyzer, LayerFacts, analyze_bytes};
pub use apply::{
    ApplyOptions, ApplyStats, OVERLAY_OPAQUE_XATTR, OVERLAY_XATTR_PREFIX, WhiteoutMode, apply_layer,
};
pub use builder::{LayerBuilder, LayerEntry, SpecError, StreamingLayerWriter};
pub use compression::{Compression, Compressor, Decompressor, auto_decompress, sniffed_reader};
pub use digest::{
    CountingHashReader, CountingHashWriter, LayerDigestReader, LayerStats, copy_and_inspect_layer,
    diff_id_of, inspect_layer_stream,
};
pub use entry::{EntryInfo, EntryKind};
pub use error::{LayerError, PathProblem};
pub use path::LayerPath;
pub use safety::{CheckedEntry, EntryChecker, ValidationReport, validate_layer};
/// The tar crate, re-exported because its `Entry` and `Header` appear in this crate's API.
pub use tar;
