//! Test support: images and archives built in code (no checked-in binaries), a harness that runs the
//! `hoist` binary against a private store, and detection of the real peers (Docker Engine, skopeo).

#![allow(clippy::print_stderr, reason = "tests report why they skip")]

pub mod cli;
pub mod faults;
pub mod fixtures;
pub mod peers;
pub mod registry;
