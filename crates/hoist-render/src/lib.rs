//! Docker-identical rendering for the `hoist` CLI: `--format` templates, aligned tables, go-units
//! sizes and durations, Go time formats and inspect JSON.
//!
//! Nothing here prints: every function returns a `String` or writes to a caller-supplied
//! `&mut dyn Write`, so the binary decides where output goes.
//!
//! - [`template`]: `--format` handling for list commands ([`render_items`]) and
//!   `inspect --format` ([`render_one`]), with Docker's template functions.
//! - [`table`]: Docker's tabwriter layout ([`write_table`]).
//! - [`units`]: `HumanSizeWithPrecision`, `BytesSize`, `HumanDuration`, `FromHumanSize`.
//! - [`gotime`]: Go's `time.Time.String()`, RFC 3339, `time.ParseDuration` and the
//!   `--filter until=` timestamp rules.
//! - [`json`]: `docker inspect` output, byte for byte.

mod error;
mod funcs;
pub mod gotime;
pub mod json;
mod structure;
pub mod table;
pub mod template;
pub mod units;
mod value;

pub use error::{ParseError, RenderError};
pub use json::{write_inspect_json, write_inspect_json_compact};
pub use table::write_table;
pub use template::{
    Format, RowFields, TableSpec, render_items, render_one, render_rows, validate_template,
};
