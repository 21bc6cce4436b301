//! The container user: `-u` / `User` resolved against the root's /etc/passwd and /etc/group with runc's
//! rules (libcontainer/user `GetExecUser`), so names, numeric ids and groups behave as under Docker.

use crate::error::StartFailure;

/// Who the container process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecUser {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// Supplementary groups (only when no group was given explicitly, as runc does).
    pub(crate) supplementary_gids: Vec<u32>,
    pub(crate) home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: i64,
    gid: i64,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: i64,
    members: Vec<&'a str>,
}

const MAX_ID: i64 = 2_147_483_647;

/// Parses one of runc's colon-separated lines; fields that do not parse as numbers read as 0, as in runc.
fn passwd_entries(passwd: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    passwd.lines().filter(|l| !l.trim().is_empty()).map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let field = |i: usize| fields.get(i).copied().unwrap_or("");
        PasswdEntry {
            name: field(0),
            uid: field(2).parse().unwrap_or(0),
            gid: field(3).parse().unwrap_or(0),
            home: field(5),
        }
    })
}

fn group_entries(group: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    group.lines().filter(|l| !l.trim().is_empty()).map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let field = |i: usize| fields.get(i).copied().unwrap_or("");
        GroupEntry {
            name: field(0),
            gid: field(2).parse().unwrap_or(0),
            members: field(3).split(',').filter(|m| !m.is_empty()).collect(),
        }
    })
}

fn to_id(value: i64, spec: &str) -> Result<u32, StartFailure> {
    if (0..=MAX_ID).contains(&value) {
        u32::try_from(value).map_err(|_| StartFailure::IdOutOfRange { user: spec.into() })
    } else {
        Err(StartFailure::IdOutOfRange { user: spec.into() })
    }
}

/// The gid of `--group-add` `name` (a number, or a name in the root's group file), in Docker's words
/// when it is unknown.
pub(crate) fn group_id(name: &str, group: Option<&str>) -> Result<u32, StartFailure> {
    if let Ok(number) = name.parse::<u32>() {
        return Ok(number);
    }
    group
        .into_iter()
        .flat_map(str::lines)
        .filter_map(|line| {
            let mut fields = line.split(':');
            let entry = fields.next()?;
            let _password = fields.next()?;
            let gid = fields.next()?.parse::<u32>().ok()?;
            (entry == name).then_some(gid)
        })
        .next()
        .ok_or_else(|| {
            StartFailure::setup(
                format!("unable to find group {name}"),
                "no matching entries in group file",
            )
        })
}

/// Resolves `spec` (`""`, `name`, `uid`, `name:group`, `uid:gid`, ...) against the contents of the root's
/// passwd and group files (`None` when the file does not exist). Defaults are uid 0, gid 0, home `/`.
pub(crate) fn resolve_user(
    spec: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ExecUser, StartFailure> {
    let (user_arg, group_arg) = spec.split_once(':').unwrap_or((spec, ""));
    let numeric_uid: Option<i64> = user_arg.parse().ok();
    let numeric_gid: Option<i64> = group_arg.parse().ok();
    let mut uid: i64 = 0;
    let mut gid: i64 = 0;
    let mut home = "/".to_string();
    let mut supplementary_gids = Vec::new();

    let matched = passwd.and_then(|passwd| {
        passwd_entries(passwd).find(|entry| match (user_arg, numeric_uid) {
            ("", _) => entry.uid == 0,
            (_, Some(number)) => entry.uid == number,
            (name, None) => entry.name == name,
        })
    });
    let matched_name = match &matched {
        Some(entry) => {
            uid = entry.uid;
            gid = entry.gid;
            home = entry.home.to_string();
            Some(entry.name)
        }
        None if user_arg.is_empty() => None,
        None => match numeric_uid {
            Some(number) => {
                uid = number;
                None
            }
            None => {
                return Err(StartFailure::UnknownUser {
                    user: user_arg.into(),
                });
            }
        },
    };

    if !group_arg.is_empty() || matched_name.is_some() {
        let groups: Vec<GroupEntry<'_>> = group
            .map(|group| {
                group_entries(group)
                    .filter(|entry| {
                        if group_arg.is_empty() {
                            matched_name.is_some_and(|name| entry.members.contains(&name))
                        } else if let Some(number) = numeric_gid {
                            entry.gid == number
                        } else {
                            entry.name == group_arg
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !group_arg.is_empty() {
            match (groups.first(), numeric_gid) {
                (Some(entry), _) => gid = entry.gid,
                (None, Some(number)) => gid = number,
                (None, None) => {
                    return Err(StartFailure::UnknownGroup {
                        group: group_arg.into(),
                    });
                }
            }
        } else {
            supplementary_gids = groups
                .iter()
                .map(|entry| to_id(entry.gid, spec))
                .collect::<Result<_, _>>()?;
        }
    }
    // Docker's containers also carry their primary group in the supplementary list (`id` prints
    // `groups=50(staff),1000(app)` for a user whose own group is 1000), in ascending order.
    let gid = to_id(gid, spec)?;
    supplementary_gids.push(gid);
    supplementary_gids.sort_unstable();
    supplementary_gids.dedup();
    Ok(ExecUser {
        uid: to_id(uid, spec)?,
        gid,
        supplementary_gids,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:root\nstaff:x:1000:\nextra:x:1001:app,other\n";

    fn resolve(spec: &str) -> Result<ExecUser, StartFailure> {
        resolve_user(spec, Some(PASSWD), Some(GROUP))
    }

    #[test]
    fn empty_user_is_root_with_its_groups() {
        let user = resolve("").unwrap();
        assert_eq!((user.uid, user.gid, user.home.as_str()), (0, 0, "/root"));
        assert_eq!(user.supplementary_gids, vec![0, 10]);
    }

    #[test]
    fn names_and_numbers() {
        let app = resolve("app").unwrap();
        assert_eq!(
            (app.uid, app.gid, app.home.as_str()),
            (1000, 1000, "/home/app")
        );
        assert_eq!(app.supplementary_gids, vec![1000, 1001]);
        assert_eq!(resolve("1000").unwrap(), app);
        let unknown_uid = resolve("4242").unwrap();
        assert_eq!((unknown_uid.uid, unknown_uid.gid), (4242, 0));
        assert_eq!(unknown_uid.home, "/");
        assert_eq!(unknown_uid.supplementary_gids, vec![0]);
    }

    #[test]
    fn explicit_group_replaces_supplementary_groups() {
        let user = resolve("app:extra").unwrap();
        assert_eq!((user.uid, user.gid), (1000, 1001));
        assert_eq!(user.supplementary_gids, vec![1001]);
        let numeric = resolve("app:555").unwrap();
        assert_eq!(numeric.gid, 555);
        let both = resolve("42:43").unwrap();
        assert_eq!((both.uid, both.gid), (42, 43));
    }

    #[test]
    fn unknown_names_fail_with_runc_wording() {
        assert_eq!(
            resolve("nobody").unwrap_err().to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert_eq!(
            resolve("app:nogroup").unwrap_err().to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
        assert!(resolve_user("app", None, None).is_err());
        assert_eq!(resolve_user("7", None, None).unwrap().uid, 7);
        assert!(matches!(
            resolve("-1"),
            Err(StartFailure::IdOutOfRange { .. })
        ));
    }
}
