//! Command-line definitions (Docker's commands, flags and aliases) and dispatch to the command modules.

use std::path::PathBuf;

use anyhow::Result;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::{
    cmd_archive, cmd_auth, cmd_build, cmd_container, cmd_images, cmd_registry, cmd_system,
    cmd_transfer, cmd_volume, pflag, refused, settings,
};

#[derive(Debug, Parser)]
#[command(
    name = "hoist",
    version = concat!("version ", env!("CARGO_PKG_VERSION")),
    disable_version_flag = true,
    about = "Container image management: Docker's image commands, no daemon"
)]
pub(crate) struct Cli {
    /// Root directory of hoist's data (default /var/lib/hoist as root)
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Location of client config files (as DOCKER_CONFIG; default "~/.docker")
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// Name of the context to use to connect to the daemon (hoist has none: only "default")
    #[arg(short = 'c', long, value_name = "string")]
    pub context: Option<String>,
    /// Enable debug mode
    #[arg(short = 'D', long)]
    pub debug: bool,
    /// Daemon socket to connect to (hoist needs no daemon; an Engine API client is not built yet)
    #[arg(short = 'H', long, value_name = "list")]
    pub host: Vec<String>,
    /// Set the logging level ("debug"|"info"|"warn"|"error"|"fatal"); before the command, as in Docker,
    /// whose `run -l` and `ps -l` mean other things
    #[arg(short = 'l', long, value_name = "string")]
    pub log_level: Option<String>,
    /// Use TLS; implied by --tlsverify (with -H)
    #[arg(long)]
    pub tls: bool,
    /// Trust certs signed only by this CA (with -H)
    #[arg(long, value_name = "string")]
    pub tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file (with -H)
    #[arg(long, value_name = "string")]
    pub tlscert: Option<PathBuf>,
    /// Path to TLS key file (with -H)
    #[arg(long, value_name = "string")]
    pub tlskey: Option<PathBuf>,
    /// Use TLS and verify the remote (with -H)
    #[arg(long)]
    pub tlsverify: bool,
    /// Print version information and quit
    #[arg(short = 'v', long, action = ArgAction::Version)]
    pub version: Option<bool>,
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
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// List containers
    Ps(PsArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Pause all processes within one or more containers
    Pause(WaitArgs),
    /// Unpause all processes within one or more containers
    Unpause(WaitArgs),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
    /// Manage builds
    #[command(subcommand)]
    Builder(BuilderCommand),
    /// Generate the autocompletion script for the specified shell
    #[command(subcommand)]
    Completion(CompletionCommand),
    /// Runs a container in the background and records its exit (started by `run -d` and `start`)
    #[command(name = "__monitor", hide = true)]
    Monitor(MonitorArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum CompletionCommand {
    /// Generate the autocompletion script for bash
    Bash(CompletionArgs),
    /// Generate the autocompletion script for fish
    Fish(CompletionArgs),
    /// Generate the autocompletion script for powershell
    Powershell(CompletionArgs),
    /// Generate the autocompletion script for zsh
    Zsh(CompletionArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CompletionArgs {
    /// disable completion descriptions
    #[arg(long)]
    pub no_descriptions: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ContainerCommand {
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// List containers
    #[command(alias = "ps", alias = "list")]
    Ls(PsArgs),
    /// Remove one or more containers
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove all stopped containers
    Prune(ContainerPruneArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Display detailed information on one or more containers
    Inspect(InspectArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Pause all processes within one or more containers
    Pause(WaitArgs),
    /// Unpause all processes within one or more containers
    Unpause(WaitArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<PathBuf>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short, long, value_name = "string")]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "string")]
    pub workdir: Option<String>,
    /// The container, then the command and its arguments (everything after the container is the
    /// command's, as in Docker).
    #[arg(
        value_name = "CONTAINER COMMAND [ARG...]",
        required = true,
        num_args = 2..,
        trailing_var_arg = true
    )]
    pub container_and_command: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PortArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub private: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum VolumeCommand {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(VolumeLsArgs),
    /// Display detailed information on one or more volumes
    Inspect(VolumeInspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove unused local volumes
    Prune(VolumePruneArgs),
}

#[derive(Debug, Args)]
pub(crate) struct VolumeCreateArgs {
    /// Specify volume driver name
    #[arg(short, long, value_name = "string", default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long = "label", value_name = "list")]
    pub labels: Vec<String>,
    /// Specify volume name
    #[arg(long = "name", value_name = "string")]
    pub name_flag: Option<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub opts: Vec<String>,
    #[arg(value_name = "VOLUME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VolumeLsArgs {
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short, long = "filter", value_name = "filter")]
    pub filters: Vec<String>,
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Only display volume names
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub(crate) struct VolumeInspectArgs {
    /// Format output using a custom template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VolumeRmArgs {
    /// Force the removal of one or more volumes
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RenameArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

#[derive(Debug, Args)]
pub(crate) struct TopArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Options for ps (default -ef)
    #[arg(
        value_name = "ps OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub ps_args: Vec<String>,
}

/// The flags `create` and `run` share. `-h` is Docker's `--hostname`, so help is `--help` only.
#[derive(Debug, Args)]
pub(crate) struct ContainerFlags {
    /// Assign a name to the container
    #[arg(long, value_name = "string")]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "string")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long, value_name = "string")]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "string")]
    pub entrypoint: Option<String>,
    /// Bind mount a volume (HOST-DIR:CONTAINER-DIR[:ro])
    #[arg(short = 'v', long = "volume", value_name = "list")]
    pub volume: Vec<String>,
    /// Connect a container to a network ("none", the default; "bridge", through slirp4netns; "host")
    #[arg(long, alias = "net", value_name = "network")]
    pub network: Option<String>,
    /// Container host name
    #[arg(short = 'h', long, value_name = "string")]
    pub hostname: Option<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "list")]
    pub label: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes")]
    pub memory: Option<String>,
    /// Number of CPUs
    #[arg(long, value_name = "decimal")]
    pub cpus: Option<String>,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, value_name = "string", default_value = "missing")]
    pub pull: String,
    /// Set platform if server is multi-platform capable (for the pull)
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    /// Suppress the pull output
    #[arg(short, long)]
    pub quiet: bool,
    /// Skip image verification (hoist cannot verify content trust yet: only true is accepted)
    #[arg(long, action = ArgAction::Set, value_name = "bool")]
    pub disable_content_trust: Option<bool>,
    /// Write the container ID to the file
    #[arg(long, value_name = "string")]
    pub cidfile: Option<PathBuf>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file", value_name = "list")]
    pub label_file: Vec<PathBuf>,
    /// Signal to stop the container
    #[arg(long = "stop-signal", value_name = "string")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout", value_name = "int")]
    pub stop_timeout: Option<i64>,
    /// Container isolation technology (only "default" on Linux)
    #[arg(long, value_name = "string")]
    pub isolation: Option<String>,
    /// Add Linux capabilities
    #[arg(long = "cap-add", value_name = "list")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop", value_name = "list")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Security Options (seccomp=unconfined|PROFILE.json, no-new-privileges)
    #[arg(long = "security-opt", value_name = "list")]
    pub security_opt: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int")]
    pub pids_limit: Option<i64>,
    /// Ulimit options
    #[arg(long, value_name = "ulimit")]
    pub ulimit: Vec<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size", value_name = "bytes")]
    pub shm_size: Option<String>,
    /// Add a host device to the container
    #[arg(long, value_name = "list")]
    pub device: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long, value_name = "list")]
    pub tmpfs: Vec<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long, value_name = "list")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long, value_name = "list")]
    pub expose: Vec<String>,
    /// Add additional groups to join
    #[arg(long = "group-add", value_name = "list")]
    pub group_add: Vec<String>,
    /// IPC mode to use ("private", "shareable" or "host")
    #[arg(long, value_name = "string")]
    pub ipc: Option<String>,
    /// PID namespace to use ("host")
    #[arg(long, value_name = "string")]
    pub pid: Option<String>,
    /// UTS namespace to use ("host")
    #[arg(long, value_name = "string")]
    pub uts: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int")]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int")]
    pub cpu_quota: Option<i64>,
    /// Print help
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// The image to run, then the command and its arguments. One list, so that everything after the
    /// image goes to the container as Docker does (`run IMG ls -l`: `-l` is not hoist's).
    #[arg(
        value_name = "IMAGE [COMMAND] [ARG...]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub image_and_command: Vec<String>,
}

impl ContainerFlags {
    /// The image argument.
    pub(crate) fn image(&self) -> &str {
        self.image_and_command.first().map_or("", String::as_str)
    }

    /// The command and its arguments after the image.
    pub(crate) fn command(&self) -> &[String] {
        self.image_and_command.get(1..).unwrap_or_default()
    }
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    #[command(flatten)]
    pub flags: ContainerFlags,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    pub flags: ContainerFlags,
}

#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    pub interactive: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// Signal to send to the container (default: the image's STOPSIGNAL, else SIGTERM)
    #[arg(short = 's', long, value_name = "string")]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        visible_alias = "time",
        value_name = "int"
    )]
    pub time: Option<u64>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, value_name = "string", default_value = "KILL")]
    pub signal: String,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, value_name = "string", default_value = "all")]
    pub tail: String,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long, value_name = "string")]
    pub until: Option<String>,
    /// Show extra details provided to logs (hoist's json-file logs carry none beyond the line)
    #[arg(long)]
    pub details: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub(crate) struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Filter output based on conditions provided
    #[arg(short, long, value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, value_name = "int")]
    pub last: Option<usize>,
    /// Show the latest created container (includes all states)
    #[arg(short, long)]
    pub latest: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container (hoist has none)
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ContainerPruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long, value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long, value_name = "string")]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long, value_name = "list")]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short, long, value_name = "string")]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true)]
    pub pause: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "string")]
    pub output: Option<PathBuf>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub(crate) struct MonitorArgs {
    pub id: String,
}

#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short, long)]
    pub all_tags: bool,
    /// Skip image verification (hoist cannot verify content trust yet: only true is accepted)
    #[arg(long, action = ArgAction::Set, value_name = "bool")]
    pub disable_content_trust: Option<bool>,
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
    /// Skip image signing (hoist cannot sign for content trust yet: only true is accepted)
    #[arg(long, action = ArgAction::Set, value_name = "bool")]
    pub disable_content_trust: Option<bool>,
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
    /// Require HTTPS and verify certificates for the source registry (skopeo's flag; `=false` to skip)
    #[arg(long, value_name = "bool", action = ArgAction::Set)]
    pub src_tls_verify: Option<bool>,
    /// Require HTTPS and verify certificates for the destination registry (skopeo's; `=false` to skip)
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
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
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
    #[arg(value_name = "REPOSITORY[:TAG]")]
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
    #[arg(short = 'H', long, default_value_t = true)]
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
    #[arg(value_name = "file|URL|-")]
    pub source: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
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

/// hoist's command line: clap's definitions with pflag's semantics and the Docker flags hoist refuses.
pub(crate) fn command() -> clap::Command {
    refused::register(pflag::apply(<Cli as clap::CommandFactory>::command()))
}

/// Why a command line did not parse.
#[derive(Debug)]
pub(crate) enum ParseFailure {
    /// clap's error (and help and version, which clap reports as errors).
    Clap(clap::Error),
    /// A Docker flag hoist refuses.
    Refused(refused::Refusal),
}

/// Parses `args` (the program name first) against `command` (from [`command`]) as Docker's CLI would.
pub(crate) fn parse(
    command: &mut clap::Command,
    args: &[std::ffi::OsString],
) -> Result<Cli, ParseFailure> {
    // A refused flag is named even when the rest of the line is incomplete: that is the news.
    if let Ok(lenient) = command
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(args)
    {
        refused::check(command, &lenient).map_err(ParseFailure::Refused)?;
    }
    let matches = command
        .try_get_matches_from_mut(args)
        .map_err(ParseFailure::Clap)?;
    <Cli as clap::FromArgMatches>::from_arg_matches(&matches).map_err(ParseFailure::Clap)
}

impl Command {
    /// The exit status of a failure of this command: Docker's 125 for `run` and `create`, whose own
    /// status 1 could be the container's.
    pub(crate) fn error_status(&self) -> u8 {
        match self {
            Command::Run(_)
            | Command::Create(_)
            | Command::Container(ContainerCommand::Run(_) | ContainerCommand::Create(_)) => 125,
            _ => 1,
        }
    }
}

/// Refuses what hoist cannot do without a daemon: another Engine than itself.
fn check_daemon_options(cli: &Cli) -> Result<()> {
    if let Some(host) = cli.host.first() {
        anyhow::bail!(
            "-H/--host {host}: hoist runs without a daemon and has no Engine API client yet; \
             leave out -H to work on this machine's hoist store"
        );
    }
    if let Some(context) = cli.context.as_deref().filter(|c| *c != "default") {
        anyhow::bail!(
            "--context {context}: hoist has only the \"default\" context (this machine, no daemon)"
        );
    }
    Ok(())
}

/// Fails when the user asks for Docker Content Trust (`--disable-content-trust=false`, or
/// `DOCKER_CONTENT_TRUST=1` without the flag, as Docker reads them): hoist cannot verify or sign with it
/// yet, and pulling unverified what the user wanted verified would be worse than stopping.
pub(crate) fn refuse_content_trust(disable_flag: Option<bool>) -> Result<()> {
    let wanted = match disable_flag {
        Some(disable) => !disable,
        None => std::env::var("DOCKER_CONTENT_TRUST")
            .ok()
            .and_then(|v| pflag::parse_go_bool(&v))
            .unwrap_or(false),
    };
    if wanted {
        anyhow::bail!(
            "content trust is not supported by hoist yet: it cannot verify or sign Notary \
             signatures (unset DOCKER_CONTENT_TRUST or pass --disable-content-trust)"
        );
    }
    Ok(())
}

/// Runs the parsed command; returns the exit status.
pub(crate) fn dispatch(cli: Cli) -> Result<u8> {
    check_daemon_options(&cli)?;
    match &cli.command {
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => {
            refuse_content_trust(a.disable_content_trust)?;
        }
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => {
            refuse_content_trust(a.disable_content_trust)?;
        }
        Command::Build(a)
        | Command::Image(ImageCommand::Build(a))
        | Command::Builder(BuilderCommand::Build(a)) => {
            refuse_content_trust(a.disable_content_trust)?;
        }
        _ => {}
    }
    if let Command::Completion(shell) = &cli.command {
        return completion(shell);
    }
    let settings = settings::resolve(cli.root, cli.config)?;
    let open = || hoist_ops::Hoist::open(settings.clone()).map_err(anyhow::Error::from);
    match cli.command {
        Command::Version(a) => cmd_system::version(&a),
        Command::Build(a) | Command::Image(ImageCommand::Build(a)) => {
            cmd_build::build(&open()?, *a)
        }
        Command::Builder(BuilderCommand::Build(a)) => cmd_build::build(&open()?, *a),
        Command::Builder(BuilderCommand::Prune(a)) => cmd_build::prune(&open()?, &a),
        Command::Builder(BuilderCommand::Du(a)) => cmd_build::du(&open()?, &a),
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
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => {
            cmd_container::run(&open()?, &a)
        }
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => {
            cmd_container::create(&open()?, &a)
        }
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => {
            cmd_container::start(&open()?, &a)
        }
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => {
            cmd_container::stop(&open()?, &a)
        }
        Command::Kill(a) | Command::Container(ContainerCommand::Kill(a)) => {
            cmd_container::kill(&open()?, &a)
        }
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => {
            cmd_container::logs(&open()?, &a)
        }
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => {
            cmd_container::ps(&open()?, &a)
        }
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => {
            cmd_container::rm(&open()?, &a)
        }
        Command::Container(ContainerCommand::Prune(a)) => cmd_container::prune(&open()?, &a),
        Command::Commit(a) | Command::Container(ContainerCommand::Commit(a)) => {
            cmd_container::commit(&open()?, &a)
        }
        Command::Export(a) | Command::Container(ContainerCommand::Export(a)) => {
            cmd_container::export(&open()?, &a)
        }
        Command::Diff(a) | Command::Container(ContainerCommand::Diff(a)) => {
            cmd_container::diff(&open()?, &a)
        }
        Command::Container(ContainerCommand::Inspect(a)) => {
            cmd_images::inspect_kind(&open()?, &a, Some("container"))
        }
        Command::Wait(a) | Command::Container(ContainerCommand::Wait(a)) => {
            cmd_container::wait(&open()?, &a)
        }
        Command::Rename(a) | Command::Container(ContainerCommand::Rename(a)) => {
            cmd_container::rename(&open()?, &a)
        }
        Command::Restart(a) | Command::Container(ContainerCommand::Restart(a)) => {
            cmd_container::restart(&open()?, &a)
        }
        Command::Top(a) | Command::Container(ContainerCommand::Top(a)) => {
            cmd_container::top(&open()?, &a)
        }
        Command::Port(a) | Command::Container(ContainerCommand::Port(a)) => {
            cmd_container::port(&open()?, &a)
        }
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => {
            cmd_container::exec(&open()?, &a)
        }
        Command::Pause(a) | Command::Container(ContainerCommand::Pause(a)) => {
            cmd_container::pause(&open()?, &a)
        }
        Command::Unpause(a) | Command::Container(ContainerCommand::Unpause(a)) => {
            cmd_container::unpause(&open()?, &a)
        }
        Command::Volume(VolumeCommand::Create(a)) => cmd_volume::create(&open()?, &a),
        Command::Volume(VolumeCommand::Ls(a)) => cmd_volume::ls(&open()?, &a),
        Command::Volume(VolumeCommand::Inspect(a)) => cmd_volume::inspect(&open()?, &a),
        Command::Volume(VolumeCommand::Rm(a)) => cmd_volume::rm(&open()?, &a),
        Command::Volume(VolumeCommand::Prune(a)) => cmd_volume::prune(&open()?, &a),
        Command::Monitor(a) => cmd_container::monitor(&open()?, &a),
        Command::Completion(_) => unreachable!("answered before settings are read"),
    }
}

/// `hoist completion SHELL`: the script clap_complete writes for hoist's own definitions.
fn completion(shell: &CompletionCommand) -> Result<u8> {
    use clap_complete::Shell;
    let (kind, args) = match shell {
        CompletionCommand::Bash(a) => (Shell::Bash, a),
        CompletionCommand::Fish(a) => (Shell::Fish, a),
        CompletionCommand::Powershell(a) => (Shell::PowerShell, a),
        CompletionCommand::Zsh(a) => (Shell::Zsh, a),
    };
    // Without the refused flags: completing a flag that is then refused would only mislead.
    let mut command = pflag::apply(<Cli as clap::CommandFactory>::command());
    if args.no_descriptions {
        command = without_descriptions(command);
    }
    clap_complete::generate(kind, &mut command, "hoist", &mut std::io::stdout().lock());
    Ok(0)
}

fn without_descriptions(command: clap::Command) -> clap::Command {
    command
        .about(None::<&str>)
        .long_about(None::<&str>)
        .mut_args(|a| a.help(None::<&str>).long_help(None::<&str>))
        .mut_subcommands(without_descriptions)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks flag clashes (Docker's `-h` hostname, `-l` label) only when a command is parsed;
    /// this checks every subcommand at once.
    #[test]
    fn every_command_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum BuilderCommand {
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
    /// Remove build cache
    Prune(BuilderPruneArgs),
    /// Disk usage of the build cache
    Du(BuilderDuArgs),
}

/// `docker build` (buildx) flags.
#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// Name and optionally a tag (format: "name:tag")
    #[arg(short = 't', long = "tag", value_name = "stringArray")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile")
    #[arg(short = 'f', long = "file", value_name = "string")]
    pub file: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg", value_name = "stringArray")]
    pub build_args: Vec<String>,
    /// Set the target build stage to build
    #[arg(long, value_name = "string")]
    pub target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Do not cache specified stages
    #[arg(long = "no-cache-filter", value_name = "stringArray")]
    pub no_cache_filter: Vec<String>,
    /// Always attempt to pull all referenced images
    #[arg(long)]
    pub pull: bool,
    /// Suppress the build output and print image ID on success
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image ID to a file
    #[arg(long, value_name = "string")]
    pub iidfile: Option<PathBuf>,
    /// Set metadata for an image
    #[arg(long = "label", value_name = "stringArray")]
    pub labels: Vec<String>,
    /// Set target platform for build
    #[arg(long, value_name = "stringArray")]
    pub platform: Vec<String>,
    /// Squash newly built layers into a single new layer
    #[arg(long)]
    pub squash: bool,
    /// Set the networking mode for the "RUN" instructions during build ("default", "none", "host")
    #[arg(long, value_name = "string")]
    pub network: Option<String>,
    /// Add a custom host-to-IP mapping ("host:ip")
    #[arg(long = "add-host", value_name = "list")]
    pub add_hosts: Vec<String>,
    /// Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")
    #[arg(long = "secret", value_name = "stringArray")]
    pub secrets: Vec<String>,
    /// Set type of progress output ("auto", "quiet", "plain", "tty", "rawjson")
    #[arg(long, value_name = "string", default_value = "auto")]
    pub progress: String,
    /// Allow extra privileged entitlement (e.g., "network.host", "security.insecure")
    #[arg(long = "allow", value_name = "stringArray")]
    pub allow: Vec<String>,
    /// Output destination (format: "type=local,dest=path")
    #[arg(short = 'o', long = "output", value_name = "stringArray")]
    pub outputs: Vec<String>,
    /// Shorthand for "--output=type=docker"
    #[arg(long)]
    pub load: bool,
    /// Shorthand for "--output=type=registry"
    #[arg(long)]
    pub push: bool,
    /// Add annotation to the image manifest (KEY=VALUE; "manifest:" prefix accepted)
    #[arg(long = "annotation", value_name = "stringArray")]
    pub annotations: Vec<String>,
    /// Shared memory size for RUN (/dev/shm), e.g. 128m
    #[arg(long = "shm-size", value_name = "bytes")]
    pub shm_size: Option<String>,
    /// SSH agent socket or keys to expose to the build (not supported by hoist yet)
    #[arg(long = "ssh", value_name = "stringArray")]
    pub ssh: Vec<String>,
    /// Memory limit for RUN (legacy builder)
    #[arg(short = 'm', long = "memory", value_name = "bytes")]
    pub memory: Option<String>,
    /// Limit the CPU CFS quota of RUN, in microseconds per --cpu-period (legacy builder)
    #[arg(long = "cpu-quota", value_name = "int")]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU CFS period of RUN, in microseconds (legacy builder)
    #[arg(long = "cpu-period", value_name = "int")]
    pub cpu_period: Option<u64>,
    /// CPU shares (relative weight) for RUN (legacy builder)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int")]
    pub cpu_shares: Option<u64>,
    /// Container isolation technology (only "default" on Linux)
    #[arg(long = "isolation", value_name = "string")]
    pub isolation: Option<String>,
    /// Compress the build context using gzip (nothing to send without a daemon: accepted)
    #[arg(long)]
    pub compress: bool,
    /// Ulimit options for RUN (e.g. nofile=1024:2048)
    #[arg(long = "ulimit", value_name = "ulimit")]
    pub ulimit: Vec<String>,
    /// Check the Dockerfile (BuildKit's checks and hoist's advice) without building
    #[arg(long)]
    pub check: bool,
    /// External cache sources (e.g., "type=local,src=path/to/dir")
    #[arg(long = "cache-from", value_name = "stringArray")]
    pub cache_from: Vec<String>,
    /// Cache export destinations (e.g., "type=local,dest=path/to/dir")
    #[arg(long = "cache-to", value_name = "stringArray")]
    pub cache_to: Vec<String>,
    /// Additional build contexts (e.g., name=path, name=docker-image://ref)
    #[arg(long = "build-context", value_name = "stringArray")]
    pub build_contexts: Vec<String>,
    /// Write build result metadata to a file
    #[arg(long = "metadata-file", value_name = "string")]
    pub metadata_file: Option<PathBuf>,
    /// Remove intermediate containers after a successful build (always, with hoist)
    #[arg(long, action = ArgAction::Set, value_name = "bool")]
    pub rm: Option<bool>,
    /// Always remove intermediate containers (always, with hoist)
    #[arg(long = "force-rm")]
    pub force_rm: bool,
    /// Skip image verification (hoist cannot verify content trust yet: only true is accepted)
    #[arg(long = "disable-content-trust", action = ArgAction::Set, value_name = "bool")]
    pub disable_content_trust: Option<bool>,
    #[arg(value_name = "PATH | URL | -")]
    pub context: String,
}

#[derive(Debug, Args)]
pub(crate) struct BuilderPruneArgs {
    /// Remove all unused build cache, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g., "until=24h")
    #[arg(long = "filter", value_name = "filter")]
    pub filters: Vec<String>,
    /// Amount of disk space to keep for cache
    #[arg(long = "keep-storage", value_name = "bytes")]
    pub keep_storage: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct BuilderDuArgs {
    /// Provide a more verbose output
    #[arg(long)]
    pub verbose: bool,
}
