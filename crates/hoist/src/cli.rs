//! Command-line definitions (Docker's commands, flags and aliases) and dispatch to the command modules.

use std::path::PathBuf;

use anyhow::Result;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::{cmd_archive, cmd_auth, cmd_images, cmd_registry, cmd_system, cmd_transfer, settings};

#[derive(Debug, Parser)]
#[command(
    name = "hoist",
    version,
    about = "Container image management: Docker's image commands, no daemon"
)]
pub(crate) struct Cli {
    /// Root directory of hoist's data (default /var/lib/hoist as root)
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Enable debug output
    #[arg(short = 'D', long, global = true)]
    pub debug: bool,
    /// Set the logging level ("debug"|"info"|"warn"|"error")
    #[arg(short = 'l', long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List images
    Images(ImagesArgs),
    /// Return low-level information on images
    Inspect(InspectArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage hoist
    #[command(subcommand)]
    System(SystemCommand),
    /// Display system-wide information
    Info(FormatArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Log in to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Search Docker Hub (or a registry) for images
    Search(SearchArgs),
    /// Copy an image between registries, OCI layouts, archives and the store (skopeo's transports)
    Copy(CopyArgs),
    /// Manage Docker image manifests and manifest lists
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Run a registry (distribution's registry:2, configured the same way)
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Show the hoist version information
    Version(FormatArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short, long)]
    pub all_tags: bool,
    /// Skip image verification (accepted for Docker compatibility; hoist does not verify content trust)
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub disable_content_trust: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub name: String,
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short, long)]
    pub all_tags: bool,
    /// Skip image signing (accepted for Docker compatibility)
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub disable_content_trust: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// One or more names (Docker takes one; hoist pushes several in one call)
    #[arg(required = true, value_name = "NAME[:TAG]")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// Username
    #[arg(short, long, value_name = "string")]
    pub username: Option<String>,
    /// Password
    #[arg(short, long, value_name = "string")]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Filter output based on conditions provided
    #[arg(short, long, value_name = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print search using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Max number of search results
    #[arg(long, default_value_t = 25, value_name = "int")]
    pub limit: usize,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    #[arg(value_name = "TERM")]
    pub term: String,
}

#[derive(Debug, Args)]
pub(crate) struct CopyArgs {
    /// Copy every platform of a manifest list, and the list
    #[arg(short, long)]
    pub all: bool,
    /// The platform to copy from a manifest list (default: this host's)
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    /// Do not verify TLS for the source registry (skopeo's flag; takes a boolean)
    #[arg(long, value_name = "bool", action = ArgAction::Set)]
    pub src_tls_verify: Option<bool>,
    /// Do not verify TLS for the destination registry (skopeo's flag; takes a boolean)
    #[arg(long, value_name = "bool", action = ArgAction::Set)]
    pub dest_tls_verify: Option<bool>,
    /// Suppress output
    #[arg(short, long)]
    pub quiet: bool,
    /// docker://REF, oci:DIR[:NAME], oci-archive:FILE[:NAME], docker-archive:FILE[:REF], hoist:NAME
    #[arg(value_name = "SOURCE")]
    pub source: String,
    #[arg(value_name = "DESTINATION")]
    pub destination: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ManifestCommand {
    /// Display an image manifest, or manifest list
    Inspect(ManifestInspectArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ManifestInspectArgs {
    /// Allow communication with an insecure registry
    #[arg(long)]
    pub insecure: bool,
    /// Output additional info including layers and platform
    #[arg(short, long)]
    pub verbose: bool,
    /// With two names: the manifest list, then the image in it
    #[arg(required = true, num_args = 1..=2, value_name = "[MANIFEST_LIST] MANIFEST")]
    pub names: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImageCommand {
    /// List images
    #[command(visible_aliases = ["list", "images"])]
    Ls(ImagesArgs),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Remove one or more images
    #[command(visible_aliases = ["remove", "rmi"])]
    Rm(RmiArgs),
    /// Remove unused images
    Prune(PruneArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum SystemCommand {
    /// Show hoist disk usage
    Df(DfArgs),
    /// Remove unused data
    Prune(PruneArgs),
    /// Display system-wide information
    Info(FormatArgs),
    /// Re-verify every stored blob against its digest
    Check,
    /// Remove blobs no image references
    Gc(GcArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCommand {
    /// Serve the OCI distribution API (default :5000, data under the hoist root)
    Serve(RegistryServeArgs),
    /// Delete blobs no manifest references; safe while the registry is serving
    GarbageCollect(RegistryGcArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RegistryServeArgs {
    /// distribution's config.yml (REGISTRY_* environment variables override it)
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RegistryGcArgs {
    /// Only report what would be deleted
    #[arg(short = 'd', long)]
    pub dry_run: bool,
    /// Also delete manifests that no tag references
    #[arg(short = 'm', long)]
    pub delete_untagged: bool,
    /// distribution's config.yml (REGISTRY_* environment variables override it)
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided
    #[arg(short, long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print images using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Sort by created, size, repository or tag (hoist extension)
    #[arg(long, value_name = "key")]
    pub sort: Option<String>,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// Format the output using the given Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
    /// Return JSON for specified type (only "image" is supported)
    #[arg(long = "type", value_name = "string")]
    pub kind: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    pub size: bool,
    #[arg(required = true, value_name = "IMAGE")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// Pretty-print images using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", action = ArgAction::Set)]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

#[derive(Debug, Args)]
pub(crate) struct TagArgs {
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

#[derive(Debug, Args)]
pub(crate) struct RmiArgs {
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    pub no_prune: bool,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Prune volumes (hoist has none; accepted for compatibility)
    #[arg(long)]
    pub volumes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "string")]
    pub output: Option<PathBuf>,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long, value_name = "string")]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long = "change", value_name = "list")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long, value_name = "string")]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    /// file|URL|-
    pub source: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
    /// Pretty-print using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct GcArgs {
    /// Only report what would be removed
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct FormatArgs {
    /// Format the output using the given Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
}

/// Runs the parsed command; returns the exit status.
pub(crate) fn dispatch(cli: Cli) -> Result<u8> {
    let settings = settings::resolve(cli.root)?;
    let open = || hoist_ops::Hoist::open(settings.clone()).map_err(anyhow::Error::from);
    match cli.command {
        Command::Version(a) => cmd_system::version(&a),
        Command::Registry(RegistryCommand::Serve(a)) => cmd_registry::serve(&settings, &a),
        Command::Registry(RegistryCommand::GarbageCollect(a)) => {
            cmd_registry::garbage_collect(&settings, &a)
        }
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => {
            cmd_images::images(&open()?, &a)
        }
        Command::Inspect(a) => cmd_images::inspect(&open()?, &a, false),
        Command::Image(ImageCommand::Inspect(a)) => cmd_images::inspect(&open()?, &a, true),
        Command::History(a) | Command::Image(ImageCommand::History(a)) => {
            cmd_images::history(&open()?, &a)
        }
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => cmd_images::tag(&open()?, &a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => cmd_images::rmi(&open()?, &a),
        Command::Image(ImageCommand::Prune(a)) => cmd_images::prune(&open()?, &a, false),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => cmd_archive::save(&open()?, &a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => cmd_archive::load(&open()?, &a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => {
            cmd_archive::import(&open()?, &a)
        }
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => {
            cmd_transfer::pull(&open()?, &a)
        }
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => {
            cmd_transfer::push(&open()?, &a)
        }
        Command::Login(a) => cmd_auth::login(&settings, &a),
        Command::Logout(a) => cmd_auth::logout(&settings, &a),
        Command::Search(a) => cmd_auth::search(&settings, &a),
        Command::Copy(a) => cmd_transfer::copy(&open()?, &a),
        Command::Manifest(ManifestCommand::Inspect(a)) => {
            cmd_transfer::manifest_inspect(&settings, &a)
        }
        Command::System(SystemCommand::Df(a)) => cmd_system::df(&open()?, &a),
        Command::System(SystemCommand::Prune(a)) => cmd_images::prune(&open()?, &a, true),
        Command::System(SystemCommand::Info(a)) | Command::Info(a) => {
            cmd_system::info(&open()?, &a)
        }
        Command::System(SystemCommand::Check) => cmd_system::check(&open()?),
        Command::System(SystemCommand::Gc(a)) => cmd_system::gc(&open()?, &a),
    }
}
