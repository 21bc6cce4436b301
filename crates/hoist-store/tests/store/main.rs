//! Integration tests of hoist-store, in one test binary: blob conformance, metadata, GC and check,
//! several handles on one store, and listing at scale.

mod blobs;
mod concurrency;
mod gc;
mod listing;
mod metadata;
mod support;
