//! A minimal host binary for the runtime's init stages, used by the crate's tests (hoist itself dispatches
//! `__init` and `__init-child` from its own main).

use std::ffi::OsString;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let code = hoist_runtime::init_main(&args);
    ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}
