//! `RUN --mount=` specs (BuildKit's `parseMount`): CSV fields of `key=value` or bare `ro`/`rw`/`required`,
//! checked against the mount type, with BuildKit's errors.
//!
//! BuildKit expands each value before reading it, at dispatch. [`parse_mount`] does exactly that with the
//! caller's expander. When the whole Dockerfile is parsed, values are not expanded yet: a spec without `$`
//! is read and checked in full then, and one with `$` is read as far as it can be (its typed values that
//! need expanding stay unset), the builder reading [`crate::RunMount::spec`] again with `parse_mount`.

use crate::parser::go;
use crate::{MountKind, RunMount};

/// The caller's expander: a value as written in, the value expanded out.
type Expand<'a> = &'a mut dyn FnMut(&str) -> Result<String, String>;

const MOUNT_TYPES: &[&str] = &["bind", "cache", "tmpfs", "secret", "ssh"];
const SHARING_MODES: &[&str] = &["shared", "private", "locked"];
const KEYS: &[&str] = &[
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

/// Parses one `--mount=` value as BuildKit does when it runs the instruction: every value goes through
/// `expand` (which gets the value as written and returns it expanded) before it is read.
///
/// # Errors
///
/// BuildKit's texts: `failed to parse csv mounts: …`, `unsupported mount type "x"`,
/// `unexpected key 'k' in 'k=v'`, `invalid value for size: x`, `mode not allowed for "bind" type mounts`,
/// `secret mount should not have a from`, …; or the expander's error.
pub fn parse_mount(
    spec: &str,
    expand: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<RunMount, String> {
    let fields = csv_fields(spec).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
    read_fields(spec, &fields, Some(expand))
}

/// The parse-time reading (see the module documentation).
pub(super) fn parse_unexpanded(spec: &str) -> Result<RunMount, String> {
    let fields = csv_fields(spec).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
    for field in &fields {
        if let Some((key, value)) = field.split_once('=')
            && key.eq_ignore_ascii_case("from")
            && value.find('$').is_some_and(|i| i != value.len() - 1)
        {
            return Err(format!(
                "'{}' doesn't support variable expansion, define alias stage instead",
                key.to_lowercase()
            ));
        }
    }
    let mut identity = |value: &str| Ok(value.to_owned());
    match read_fields(spec, &fields, Some(&mut identity)) {
        Ok(mount) => Ok(mount),
        Err(_) if spec.contains('$') => read_fields(spec, &fields, None),
        Err(e) => Err(e),
    }
}

/// Reads the fields. Without an expander, nothing fails: values that do not read are skipped and the
/// checks across fields are left for the dispatch-time reading.
fn read_fields(
    spec: &str,
    fields: &[String],
    mut expand: Option<Expand<'_>>,
) -> Result<RunMount, String> {
    let strict = expand.is_some();
    let mut m = RunMount {
        spec: spec.to_owned(),
        ..RunMount::default()
    };
    let mut sharing_set = false;
    for field in fields {
        let (key, value) = match field.split_once('=') {
            Some((key, value)) => (key.to_lowercase(), Some(value)),
            None => (field.to_lowercase(), None),
        };
        let Some(value) = value else {
            match key.as_str() {
                "readonly" | "ro" => m.read_only = Some(true),
                "readwrite" | "rw" => m.read_only = Some(false),
                "required" if matches!(m.kind, MountKind::Secret | MountKind::Ssh) => {
                    m.required = true;
                }
                "required" if strict => {
                    return Err(format!(
                        "unexpected key '{key}' for mount type '{}'",
                        kind_name(m.kind)
                    ));
                }
                _ if strict => {
                    return Err(format!("invalid field '{field}' must be a key=value pair"));
                }
                _ => {}
            }
            continue;
        };
        let value = match expand.as_mut() {
            Some(expand) => expand(value)?,
            // Lenient: a value that needs expanding is not read yet.
            None if value.contains('$') && !is_string_key(&key) => continue,
            None => value.to_owned(),
        };
        if let Err(e) = read_field(&mut m, &key, field, value, &mut sharing_set)
            && strict
        {
            return Err(e);
        }
    }
    if strict {
        check(&m)?;
    }
    Ok(m)
}

/// Keys whose value is kept as a string (and so may stay unexpanded).
fn is_string_key(key: &str) -> bool {
    matches!(
        key,
        "from" | "source" | "src" | "target" | "dst" | "destination" | "id" | "env"
    )
}

fn read_field(
    m: &mut RunMount,
    key: &str,
    field: &str,
    value: String,
    sharing_set: &mut bool,
) -> Result<(), String> {
    let invalid = || format!("invalid value for {key}: {value}");
    let wrong_type = || {
        format!(
            "unexpected key '{key}' for mount type '{}'",
            kind_name(m.kind)
        )
    };
    match key {
        "type" => {
            m.kind = match value.to_lowercase().as_str() {
                "bind" => MountKind::Bind,
                "cache" => MountKind::Cache,
                "tmpfs" => MountKind::Tmpfs,
                "secret" => MountKind::Secret,
                "ssh" => MountKind::Ssh,
                _ => {
                    return Err(go::with_suggestion(
                        format!("unsupported mount type {}", go::quote(&value)),
                        &value,
                        MOUNT_TYPES,
                        true,
                    ));
                }
            };
        }
        "from" => m.from = Some(value),
        "source" | "src" => m.source = Some(value),
        "target" | "dst" | "destination" => m.target = Some(value),
        "readonly" | "ro" => m.read_only = Some(go::parse_bool(&value).ok_or_else(invalid)?),
        "readwrite" | "rw" => m.read_only = Some(!go::parse_bool(&value).ok_or_else(invalid)?),
        "required" => {
            if !matches!(m.kind, MountKind::Secret | MountKind::Ssh) {
                return Err(wrong_type());
            }
            m.required = go::parse_bool(&value).ok_or_else(invalid)?;
        }
        "size" => {
            if m.kind != MountKind::Tmpfs {
                return Err(wrong_type());
            }
            m.size = Some(go::ram_in_bytes(&value).ok_or_else(invalid)?);
        }
        "id" => m.id = Some(value),
        "sharing" => {
            let lower = value.to_lowercase();
            if !SHARING_MODES.contains(&lower.as_str()) {
                return Err(go::with_suggestion(
                    format!("unsupported sharing value {}", go::quote(&value)),
                    &value,
                    SHARING_MODES,
                    true,
                ));
            }
            m.sharing = Some(lower);
            *sharing_set = true;
        }
        "mode" => {
            m.mode = Some(
                go::parse_uint32(&value, 8)
                    .ok_or_else(|| format!("invalid value {value} for mode"))?,
            );
        }
        "uid" => {
            m.uid = Some(
                go::parse_uint32(&value, 10)
                    .ok_or_else(|| format!("invalid value {value} for uid"))?,
            );
        }
        "gid" => {
            m.gid = Some(
                go::parse_uint32(&value, 10)
                    .ok_or_else(|| format!("invalid value {value} for gid"))?,
            );
        }
        "env" => m.env = Some(value),
        _ => {
            return Err(go::with_suggestion(
                format!("unexpected key '{key}' in '{field}'"),
                key,
                KEYS,
                true,
            ));
        }
    }
    Ok(())
}

/// The checks across fields, after all are read.
fn check(m: &RunMount) -> Result<(), String> {
    let kind = kind_name(m.kind);
    if !matches!(
        m.kind,
        MountKind::Secret | MountKind::Ssh | MountKind::Cache
    ) {
        for (name, set) in [
            ("mode", m.mode.is_some()),
            ("uid", m.uid.is_some()),
            ("gid", m.gid.is_some()),
        ] {
            if set {
                return Err(format!(
                    "{name} not allowed for {} type mounts",
                    go::quote(kind)
                ));
            }
        }
    }
    let nonempty = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    if m.kind == MountKind::Secret {
        if nonempty(&m.from) {
            return Err("secret mount should not have a from".to_owned());
        }
        if nonempty(&m.sharing) {
            return Err("secret mount should not define sharing".to_owned());
        }
        if !nonempty(&m.source) && !nonempty(&m.target) && !nonempty(&m.id) {
            return Err("invalid secret mount. one of source, target required".to_owned());
        }
        if nonempty(&m.source) && nonempty(&m.id) {
            return Err("both source and id can't be set".to_owned());
        }
    }
    if nonempty(&m.sharing) && m.kind != MountKind::Cache {
        return Err(format!("invalid cache sharing set for {kind} mount"));
    }
    Ok(())
}

fn kind_name(kind: MountKind) -> &'static str {
    match kind {
        MountKind::Bind => "bind",
        MountKind::Cache => "cache",
        MountKind::Tmpfs => "tmpfs",
        MountKind::Secret => "secret",
        MountKind::Ssh => "ssh",
    }
}

/// One CSV record (go-csvvalue with Go's `encoding/csv` rules: `"` quoting with `""` for a quote, no
/// bare quotes), with Go's error texts.
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let line = line
        .strip_suffix("\r\n")
        .or_else(|| line.strip_suffix('\n'))
        .unwrap_or(line);
    if line.is_empty() {
        return Err("EOF".to_owned());
    }
    let error =
        |pos: usize, what: &str| format!("parse error on line 1, column {}: {what}", pos + 1);
    let mut fields = Vec::new();
    let mut rest = line;
    let mut pos = 0usize;
    'field: loop {
        if !rest.starts_with('"') {
            let (field, more) = match rest.find(',') {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            if let Some(j) = field.find('"') {
                return Err(error(pos + j, "bare \" in non-quoted-field"));
            }
            fields.push(field.to_owned());
            match more {
                Some(more) => {
                    pos += field.len() + 1;
                    rest = more;
                    continue;
                }
                None => break,
            }
        }
        rest = &rest[1..];
        pos += 1;
        let mut field = String::new();
        loop {
            let Some(i) = rest.find('"') else {
                return Err(error(pos, "extraneous or missing \" in quoted-field"));
            };
            field.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            pos += i + 1;
            if rest.starts_with('"') {
                field.push('"');
                rest = &rest[1..];
                pos += 1;
            } else if let Some(more) = rest.strip_prefix(',') {
                fields.push(field);
                rest = more;
                pos += 1;
                continue 'field;
            } else if rest.is_empty() {
                fields.push(field);
                break 'field;
            } else {
                return Err(error(pos - 1, "extraneous or missing \" in quoted-field"));
            }
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_like_go() {
        assert_eq!(csv_fields("a,b=c,,d").unwrap(), ["a", "b=c", "", "d"]);
        assert_eq!(csv_fields("\"a,b\",\"c\"\"d\"").unwrap(), ["a,b", "c\"d"]);
        assert_eq!(csv_fields("a,").unwrap(), ["a", ""]);
        assert_eq!(csv_fields("").unwrap_err(), "EOF");
        assert_eq!(
            csv_fields("a=\"b\"").unwrap_err(),
            "parse error on line 1, column 3: bare \" in non-quoted-field"
        );
        assert_eq!(
            csv_fields("\"ab\"c").unwrap_err(),
            "parse error on line 1, column 4: extraneous or missing \" in quoted-field"
        );
        assert_eq!(
            csv_fields("\"ab").unwrap_err(),
            "parse error on line 1, column 2: extraneous or missing \" in quoted-field"
        );
    }

    fn strict(spec: &str) -> Result<RunMount, String> {
        parse_mount(spec, &mut |v: &str| Ok(v.replace("$UID", "1000")))
    }

    #[test]
    fn typed_values() {
        let m =
            strict("type=cache,target=/root/.cache,id=go,sharing=LOCKED,mode=0755,uid=$UID,gid=2")
                .unwrap();
        assert_eq!(m.kind, MountKind::Cache);
        assert_eq!(m.target.as_deref(), Some("/root/.cache"));
        assert_eq!(m.sharing.as_deref(), Some("locked"));
        assert_eq!((m.mode, m.uid, m.gid), (Some(0o755), Some(1000), Some(2)));
        assert_eq!(m.read_only, None);
        let m = strict("type=secret,id=tok,required,env=TOKEN").unwrap();
        assert!(m.required);
        assert_eq!(m.env.as_deref(), Some("TOKEN"));
        let m = strict("type=tmpfs,dst=/t,size=64m,rw=false").unwrap();
        assert_eq!((m.size, m.read_only), (Some(64 << 20), Some(true)));
        assert_eq!(strict("ro,target=/x").unwrap().read_only, Some(true));
    }

    #[test]
    fn errors() {
        let err = |s: &str| strict(s).unwrap_err();
        assert_eq!(
            err("type=cahce"),
            "unsupported mount type \"cahce\" (did you mean cache?)"
        );
        assert_eq!(
            err("target=/x,tagret=y"),
            "unexpected key 'tagret' in 'tagret=y' (did you mean target?)"
        );
        assert_eq!(
            err("type=bind,required"),
            "unexpected key 'required' for mount type 'bind'"
        );
        assert_eq!(err("foo"), "invalid field 'foo' must be a key=value pair");
        assert_eq!(
            err("type=bind,size=1"),
            "unexpected key 'size' for mount type 'bind'"
        );
        assert_eq!(err("type=tmpfs,size=lots"), "invalid value for size: lots");
        assert_eq!(err("type=cache,mode=9"), "invalid value 9 for mode");
        assert_eq!(
            err("type=bind,uid=1"),
            "uid not allowed for \"bind\" type mounts"
        );
        assert_eq!(
            err("type=secret"),
            "invalid secret mount. one of source, target required"
        );
        assert_eq!(
            err("type=secret,id=a,src=b"),
            "both source and id can't be set"
        );
        assert_eq!(
            err("type=bind,sharing=shared"),
            "invalid cache sharing set for bind mount"
        );
        assert_eq!(err("ro=maybe"), "invalid value for ro: maybe");
        assert_eq!(err(""), "failed to parse csv mounts: EOF");
    }

    #[test]
    fn unexpanded_reading_defers_what_needs_variables() {
        let m = parse_unexpanded("type=cache,target=$HOME/.cache,uid=$UID").unwrap();
        assert_eq!(m.kind, MountKind::Cache);
        assert_eq!(m.target.as_deref(), Some("$HOME/.cache"));
        assert_eq!(m.uid, None);
        assert_eq!(m.spec, "type=cache,target=$HOME/.cache,uid=$UID");
        assert_eq!(
            parse_unexpanded("type=bind,from=$STAGE").unwrap_err(),
            "'from' doesn't support variable expansion, define alias stage instead"
        );
        assert!(parse_unexpanded("type=bind,from=x$").is_ok());
        assert_eq!(
            parse_unexpanded("type=bind,uid=1").unwrap_err(),
            "uid not allowed for \"bind\" type mounts"
        );
    }
}
