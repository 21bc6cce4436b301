//! Linux capabilities by Docker's names: the default set a container keeps, `--cap-add`/`--cap-drop` with
//! Docker's rules, and dropping everything else from the bounding set before the command runs.

use rustix::thread::CapabilitySet;

use crate::error::StartFailure;

/// Every capability the kernel headers name, by number.
const NAMES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The capabilities a Docker container keeps by default.
pub const DOCKER_DEFAULT: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability's name.
pub fn all_names() -> Vec<String> {
    NAMES.iter().map(|n| (*n).to_owned()).collect()
}

/// `chown`, `cap_chown` or `CAP_CHOWN` as Docker's canonical `CAP_CHOWN`; `ALL` stays `ALL`.
fn normalize(name: &str) -> Result<String, String> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if NAMES.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(format!("unknown capability: {full:?}"))
    }
}

/// The capabilities Docker gives a container for `--cap-add` and `--cap-drop`: the default set, or all
/// of them with `--cap-add ALL`, or none with `--cap-drop ALL`; then the drops, then the adds (an add
/// wins over a drop of the same name). Unknown names are an error in Docker's words.
pub fn with_changes(add: &[String], drop: &[String]) -> Result<Vec<String>, String> {
    let add = add
        .iter()
        .map(|c| normalize(c))
        .collect::<Result<Vec<_>, _>>()?;
    let drop = drop
        .iter()
        .map(|c| normalize(c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut kept: Vec<String> = if add.iter().any(|c| c == "ALL") {
        all_names()
    } else if drop.iter().any(|c| c == "ALL") {
        Vec::new()
    } else {
        DOCKER_DEFAULT.iter().map(|c| (*c).to_owned()).collect()
    };
    kept.retain(|c| !drop.contains(c) || add.contains(c));
    for cap in add.into_iter().filter(|c| c != "ALL") {
        if !kept.contains(&cap) {
            kept.push(cap);
        }
    }
    Ok(kept)
}

/// The set for `names` (names unknown to this table are ignored; the spec's writer checked them).
fn set_of(names: &[String]) -> CapabilitySet {
    names
        .iter()
        .filter_map(|name| NAMES.iter().position(|n| n == name))
        .fold(CapabilitySet::empty(), |set, bit| {
            set | CapabilitySet::from_bits_retain(1 << bit)
        })
}

/// The highest capability number this kernel knows.
fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(40)
}

/// Leaves only `keep` in the bounding set and empties the inheritable and ambient sets, so that the
/// command's exec gives a root process exactly `keep` and any other user nothing. Needs CAP_SETPCAP,
/// so it runs before the user changes.
pub(crate) fn restrict_to(keep: &[String]) -> Result<(), StartFailure> {
    let keep = set_of(keep);
    for bit in 0..=last_capability().min(63) {
        let cap = CapabilitySet::from_bits_retain(1 << bit);
        if keep.contains(cap) {
            continue;
        }
        rustix::thread::remove_capability_from_bounding_set(cap).map_err(|errno| {
            StartFailure::setup(
                format!(
                    "dropping {} from the bounding set",
                    NAMES.get(bit as usize).copied().unwrap_or("a capability")
                ),
                errno,
            )
        })?;
    }
    rustix::thread::clear_ambient_capability_set()
        .map_err(|errno| StartFailure::setup("clearing the ambient capabilities", errno))?;
    let mut sets = rustix::thread::capabilities(None)
        .map_err(|errno| StartFailure::setup("reading capabilities", errno))?;
    sets.inheritable = CapabilitySet::empty();
    // The effective and permitted sets are trimmed too: until the exec, this process keeps only what
    // the container will have (it still needs SETUID/SETGID for the user switch, which Docker keeps).
    sets.permitted &= keep | needed_until_exec();
    sets.effective &= keep | needed_until_exec();
    rustix::thread::set_capabilities(None, sets)
        .map_err(|errno| StartFailure::setup("setting capabilities", errno))
}

/// What stage 2 itself still needs after dropping the container's capabilities: switching user and
/// groups, and installing a seccomp filter without no_new_privs.
fn needed_until_exec() -> CapabilitySet {
    CapabilitySet::SETUID | CapabilitySet::SETGID | CapabilitySet::SYS_ADMIN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn adds_and_drops_follow_dockers_rules() {
        assert_eq!(with_changes(&[], &[]).unwrap().len(), 14);
        let kept =
            with_changes(&names(&["net_admin", "CAP_SYS_TIME"]), &names(&["MKNOD"])).unwrap();
        assert!(kept.contains(&"CAP_NET_ADMIN".to_owned()));
        assert!(kept.contains(&"CAP_SYS_TIME".to_owned()));
        assert!(!kept.contains(&"CAP_MKNOD".to_owned()));
        assert_eq!(
            with_changes(&names(&["chown"]), &names(&["ALL"])).unwrap(),
            ["CAP_CHOWN"]
        );
        assert_eq!(
            with_changes(&names(&["ALL"]), &[]).unwrap().len(),
            NAMES.len()
        );
        let all_but = with_changes(&names(&["ALL"]), &names(&["SYS_ADMIN"])).unwrap();
        assert!(!all_but.contains(&"CAP_SYS_ADMIN".to_owned()));
        assert_eq!(
            with_changes(&names(&["CAP_NOPE"]), &[]).unwrap_err(),
            "unknown capability: \"CAP_NOPE\""
        );
    }

    #[test]
    fn sets_by_number() {
        let set = set_of(&names(&["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_BPF"]));
        assert_eq!(
            set,
            CapabilitySet::CHOWN | CapabilitySet::SYS_ADMIN | CapabilitySet::BPF
        );
    }
}
