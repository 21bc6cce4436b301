//! The `hoist` binary: Docker's image commands without a daemon. `main` only calls [`run`]; everything the
//! user sees is printed from here (libraries return data and typed errors).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the binary is where output belongs"
)]

mod build_progress;
mod cli;
mod cmd_archive;
mod cmd_auth;
mod cmd_build;
mod cmd_container;
mod cmd_images;
mod cmd_registry;
mod cmd_system;
mod cmd_transfer;
mod cmd_volume;
mod output;
mod pflag;
mod progress;
mod refused;
mod settings;
mod usage;

use std::process::ExitCode;

/// Listing thousands of images is allocation-bound; mimalloc halves that cost against glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // The container runtime re-executes this binary; it must start before anything else (no threads,
    // no argument parsing of ours).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args
        .get(1)
        .is_some_and(|a| hoist_runtime::is_init_subcommand(a))
    {
        let code = hoist_runtime::init_main(&args[1..]);
        return ExitCode::from(u8::try_from(code & 0xff).unwrap_or(255));
    }
    run(&args)
}

/// Parses the command line, runs the command, prints errors the way Docker does, and returns the status.
fn run(args: &[std::ffi::OsString]) -> ExitCode {
    let mut command = cli::command();
    let cli = match cli::parse(&mut command, args) {
        Ok(cli) => cli,
        Err(failure) => {
            let rendered = match &failure {
                cli::ParseFailure::Clap(e) => usage::render(&command, args, e),
                cli::ParseFailure::Refused(r) => usage::render_refusal(&command, args, r),
            };
            if rendered.status == 0 {
                print!("{}", rendered.text);
            } else {
                eprint!("{}", rendered.text);
            }
            return ExitCode::from(rendered.status);
        }
    };
    // A registry logs every request by default, as distribution does; other commands stay quiet.
    let default_level = match &cli.command {
        cli::Command::Registry(_) => "info",
        _ => "warn",
    };
    init_tracing(cli.debug, cli.log_level.as_deref(), default_level);
    let error_status = cli.command.error_status();
    match cli::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(error_status)
        }
    }
}

fn init_tracing(debug: bool, level: Option<&str>, default_level: &str) {
    let filter = match (debug, level) {
        (true, _) => "debug".to_owned(),
        (false, Some(l)) => l.to_owned(),
        // rustls' platform verifier logs every untrusted certificate at error level; hoist reports
        // the failure itself, once, in its own words.
        (false, None) => std::env::var("RUST_LOG")
            .unwrap_or_else(|_| format!("{default_level},rustls_platform_verifier=off")),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .try_init();
}
