//! The Docker flags and commands hoist does not have, refused with an error that names them: a Docker user's
//! command line must never fail on clap's "unexpected argument" nor have a flag silently ignored.
//!
//! Each flag is registered, hidden, on the commands that Docker has it on (the top-level aliases too), with
//! Docker's shape (boolean or valued), so that the rest of the line still parses as Docker would.

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::pflag;

/// Why hoist refuses a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// Containers' confinement, networking, volumes and devices, which come with the containers issue.
    NotYet,
    /// Never: the reason follows.
    Never(&'static str),
}

/// Container flags of `run` and `create` for what the containers issue builds: confinement, networking and
/// ports, volumes and mounts, devices, resources, health checks, restart policies, logging drivers.
const CONTAINER_NOT_YET: &str = "--add-host= --annotation= -a,--attach= --blkio-weight= \
    --blkio-weight-device= --cgroup-parent= --cgroupns= \
    --cpu-rt-period= --cpu-rt-runtime= --cpuset-cpus= --cpuset-mems= \
    --device-cgroup-rule= --device-read-bps= --device-read-iops= --device-write-bps= --device-write-iops= \
    --dns= --dns-option= --dns-search= --domainname= --gpus= --health-cmd= \
    --health-interval= --health-retries= --health-start-interval= --health-start-period= \
    --health-timeout= --init --ip= --ip6= --link= --link-local-ip= --log-driver= --log-opt= \
    --mac-address= --memory-reservation= --memory-swap= --memory-swappiness= --mount= --network-alias= \
    --no-healthcheck --oom-kill-disable --oom-score-adj= \
    --restart= --storage-opt= --sysctl= \
    --use-api-socket --userns= --volumes-from=";

/// Docker flags hoist does not have yet, per Docker command: `-s,--long=` takes a value, `--long` is a
/// boolean.
const NOT_YET: &[(&str, &str)] = &[
    ("container run", CONTAINER_NOT_YET),
    ("container run", "--detach-keys= --sig-proxy"),
    ("container create", CONTAINER_NOT_YET),
    ("container start", "--detach-keys="),
    ("container exec", "--detach-keys="),
    ("volume prune", "--filter="),
    ("container rm", "-l,--link"),
    // Docker 28's multi-platform image store: hoist keeps one platform per image.
    ("image history", "--platform="),
    ("image inspect", "--platform="),
    ("image load", "--platform="),
    ("image push", "--platform="),
    ("image rm", "--platform="),
    ("image save", "--platform="),
    ("image ls", "--tree"),
    // The legacy builder's cgroup and seccomp settings for RUN.
    (
        "builder build",
        "--cgroup-parent= --cpuset-cpus= --cpuset-mems= --memory-swap= --security-opt=",
    ),
];

/// Flags hoist refuses on purpose, with the reason.
const NEVER: &[(&str, &str, &str)] = &[
    (
        "container run",
        "--cpu-count= --cpu-percent= --io-maxbandwidth= --io-maxiops=",
        "Windows containers only",
    ),
    (
        "container create",
        "--cpu-count= --cpu-percent= --io-maxbandwidth= --io-maxiops=",
        "Windows containers only",
    ),
    (
        "container run",
        "--kernel-memory=",
        "kernel memory limits are gone from cgroup v2 (Docker ignores them too)",
    ),
    (
        "container create",
        "--kernel-memory=",
        "kernel memory limits are gone from cgroup v2 (Docker ignores them too)",
    ),
    (
        "container run",
        "--runtime= --volume-driver=",
        "hoist runs containers itself and has no runtime or volume plugins to choose",
    ),
    (
        "container create",
        "--runtime= --volume-driver=",
        "hoist runs containers itself and has no runtime or volume plugins to choose",
    ),
    (
        "container start",
        "--checkpoint= --checkpoint-dir=",
        "checkpoints are an experimental Docker feature built on CRIU",
    ),
    (
        "volume create",
        "--availability= --group= --limit-bytes= --required-bytes= --scope= --secret= --sharing= \
         --topology-preferred= --topology-required= --type=",
        "cluster volumes are Swarm's",
    ),
    ("volume ls", "--cluster", "cluster volumes are Swarm's"),
    (
        "version",
        "--kubeconfig=",
        "Docker's Kubernetes orchestrator was removed; hoist never had one",
    ),
];

/// Docker commands hoist does not have, as a user types them (`exec`, `container exec`), with the reason
/// when hoist never will.
pub(crate) const MISSING_COMMANDS: &[(&str, Option<&str>)] = &[
    ("attach", None),
    ("container attach", None),
    ("cp", None),
    ("container cp", None),
    ("stats", None),
    ("container stats", None),
    ("update", None),
    ("container update", None),
    ("events", None),
    ("system events", None),
    ("manifest annotate", None),
    ("manifest create", None),
    ("manifest push", None),
    ("manifest rm", None),
    ("network", None),
    ("volume update", Some("cluster volumes are Swarm's")),
    ("trust", None),
    (
        "context",
        Some("hoist works on this machine without a daemon"),
    ),
    (
        "checkpoint",
        Some("checkpoints are an experimental Docker feature built on CRIU"),
    ),
    ("plugin", Some("hoist has no plugins")),
    ("swarm", Some("Swarm orchestration is out of hoist's scope")),
    ("node", Some("Swarm orchestration is out of hoist's scope")),
    (
        "service",
        Some("Swarm orchestration is out of hoist's scope"),
    ),
    ("stack", Some("Swarm orchestration is out of hoist's scope")),
    (
        "secret",
        Some("Swarm orchestration is out of hoist's scope"),
    ),
    (
        "config",
        Some("Swarm orchestration is out of hoist's scope"),
    ),
];

/// Docker's top-level commands that are another group's subcommand: `run` is `container run`.
const TOP_LEVEL_ALIASES: &[(&str, &str)] = &[
    ("attach", "container attach"),
    ("build", "builder build"),
    ("commit", "container commit"),
    ("cp", "container cp"),
    ("create", "container create"),
    ("diff", "container diff"),
    ("events", "system events"),
    ("exec", "container exec"),
    ("export", "container export"),
    ("history", "image history"),
    ("images", "image ls"),
    ("import", "image import"),
    ("info", "system info"),
    ("kill", "container kill"),
    ("load", "image load"),
    ("logs", "container logs"),
    ("pause", "container pause"),
    ("port", "container port"),
    ("ps", "container ls"),
    ("pull", "image pull"),
    ("push", "image push"),
    ("rename", "container rename"),
    ("restart", "container restart"),
    ("rm", "container rm"),
    ("rmi", "image rm"),
    ("run", "container run"),
    ("save", "image save"),
    ("start", "container start"),
    ("stats", "container stats"),
    ("stop", "container stop"),
    ("tag", "image tag"),
    ("top", "container top"),
    ("unpause", "container unpause"),
    ("update", "container update"),
    ("wait", "container wait"),
];

/// The Docker command a hoist command path stands for (`run` and `container run` are `container run`).
pub(crate) fn canonical(path: &str) -> &str {
    if path == "image build" {
        return "builder build";
    }
    TOP_LEVEL_ALIASES
        .iter()
        .find(|(alias, _)| *alias == path)
        .map_or(path, |(_, canonical)| canonical)
}

/// One refused flag, parsed from the tables.
#[derive(Debug, Clone, Copy)]
struct Flag {
    long: &'static str,
    short: Option<char>,
    takes_value: bool,
    why: Why,
}

fn parse_flags(spec: &'static str, why: Why) -> impl Iterator<Item = Flag> {
    spec.split_whitespace().map(move |word| {
        let (word, takes_value) = match word.strip_suffix('=') {
            Some(w) => (w, true),
            None => (word, false),
        };
        let (short, long) = match word.split_once(',') {
            Some((short, long)) => (short.trim_start_matches('-').chars().next(), long),
            None => (None, word),
        };
        Flag {
            long: long.trim_start_matches("--"),
            short,
            takes_value,
            why,
        }
    })
}

/// The refused flags of Docker command `canonical`.
fn flags_of(canonical: &str) -> Vec<Flag> {
    let not_yet = NOT_YET
        .iter()
        .filter(|(command, _)| *command == canonical)
        .flat_map(|(_, spec)| parse_flags(spec, Why::NotYet));
    let never = NEVER
        .iter()
        .filter(|(command, _, _)| *command == canonical)
        .flat_map(|(_, spec, why)| parse_flags(spec, Why::Never(why)));
    not_yet.chain(never).collect()
}

const ID_PREFIX: &str = "refused:";

/// A refused flag on the command line.
#[derive(Debug)]
pub(crate) struct Refusal {
    /// Names the flag and the command.
    pub message: String,
}

/// Adds the refused flags, hidden, to every command of the tree under `root`.
pub(crate) fn register(root: Command) -> Command {
    register_under(root, "")
}

fn register_under(command: Command, path: &str) -> Command {
    let mut command = command;
    for flag in flags_of(canonical(path)) {
        let mut arg = Arg::new(format!("{ID_PREFIX}{}", flag.long))
            .long(flag.long)
            .hide(true);
        if let Some(short) = flag.short {
            arg = arg.short(short);
        }
        arg = if flag.takes_value {
            arg.action(ArgAction::Append).allow_hyphen_values(true)
        } else {
            arg.action(ArgAction::SetTrue)
                .value_parser(clap::value_parser!(bool))
        };
        // pflag's shape, like every other flag.
        command = command.arg(pflag::adapt(arg));
    }
    command.mut_subcommands(|sub| {
        let sub_path = if path.is_empty() {
            sub.get_name().to_owned()
        } else {
            format!("{path} {}", sub.get_name())
        };
        register_under(sub, &sub_path)
    })
}

/// The refusal when the parsed line uses a refused flag: the message names the flag and the command.
pub(crate) fn check(root: &Command, matches: &ArgMatches) -> Result<(), Refusal> {
    let mut command = root;
    let mut matches = matches;
    let mut path = String::new();
    loop {
        for id in matches.ids() {
            let id = id.as_str();
            let Some(long) = id.strip_prefix(ID_PREFIX) else {
                continue;
            };
            if matches.value_source(id) != Some(ValueSource::CommandLine) {
                continue;
            }
            let why = flags_of(canonical(&path))
                .into_iter()
                .find(|f| f.long == long)
                .map_or(Why::NotYet, |f| f.why);
            let message = match why {
                Why::NotYet => {
                    format!("flag --{long} of 'hoist {path}' is not supported by hoist yet")
                }
                Why::Never(reason) => {
                    format!("flag --{long} of 'hoist {path}' is not supported by hoist: {reason}")
                }
            };
            return Err(Refusal { message });
        }
        let Some((name, sub_matches)) = matches.subcommand() else {
            return Ok(());
        };
        let Some(sub) = command.find_subcommand(name) else {
            return Ok(());
        };
        path = if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path} {name}")
        };
        command = sub;
        matches = sub_matches;
    }
}
