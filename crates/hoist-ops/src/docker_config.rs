//! Docker's `container.Config` JSON: the field set, order and zero values Docker writes in image configs
//! and shows in `docker inspect`, shared by import (writing configs) and inspect (showing them).

use hoist_spec::ContainerConfig;
use serde_json::{Map, Value};

/// How a field of Docker's `container.Config` is written when unset.
#[derive(Debug, Clone, Copy)]
enum Unset {
    EmptyString,
    False,
    Null,
    /// `omitempty`: left out.
    Omitted,
}

/// Docker's `container.Config` fields in the order Docker writes them.
const DOCKER_CONFIG_FIELDS: &[(&str, Unset)] = &[
    ("Hostname", Unset::EmptyString),
    ("Domainname", Unset::EmptyString),
    ("User", Unset::EmptyString),
    ("AttachStdin", Unset::False),
    ("AttachStdout", Unset::False),
    ("AttachStderr", Unset::False),
    ("ExposedPorts", Unset::Omitted),
    ("Tty", Unset::False),
    ("OpenStdin", Unset::False),
    ("StdinOnce", Unset::False),
    ("Env", Unset::Null),
    ("Cmd", Unset::Null),
    ("Healthcheck", Unset::Omitted),
    ("ArgsEscaped", Unset::Omitted),
    ("Image", Unset::EmptyString),
    ("Volumes", Unset::Null),
    ("WorkingDir", Unset::EmptyString),
    ("Entrypoint", Unset::Null),
    ("NetworkDisabled", Unset::Omitted),
    ("MacAddress", Unset::Omitted),
    ("OnBuild", Unset::Null),
    ("Labels", Unset::Null),
    ("StopSignal", Unset::Omitted),
    ("StopTimeout", Unset::Omitted),
    ("Shell", Unset::Omitted),
];

/// `config` as the JSON object Docker writes for a `container.Config`: every field Docker always writes
/// (zero values included, as `docker inspect` shows them), in Docker's order, then any fields Docker's
/// struct does not have.
pub fn docker_container_config(config: &ContainerConfig) -> Value {
    // `ContainerConfig` holds only strings, numbers, bools, arrays and string-keyed maps: it always
    // serialises to an object.
    let mut given = match serde_json::to_value(config) {
        Ok(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    let mut out = Map::new();
    for (key, unset) in DOCKER_CONFIG_FIELDS {
        let value = match (given.remove(*key), unset) {
            // Go's `omitempty`: a zero value is left out as if unset.
            (Some(value), Unset::Omitted) if is_zero(&value) => continue,
            (Some(value), _) => value,
            (None, Unset::EmptyString) => Value::from(""),
            (None, Unset::False) => Value::Bool(false),
            (None, Unset::Null) => Value::Null,
            (None, Unset::Omitted) => continue,
        };
        out.insert((*key).to_owned(), value);
    }
    out.extend(given);
    Value::Object(out)
}

/// Go's zero value for a JSON-encoded field.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_config_has_dockers_fields_and_omits_empty_optional_ones() {
        let mut c = ContainerConfig {
            args_escaped: Some(false),
            stop_signal: Some(String::new()),
            ..Default::default()
        };
        c.cmd = Some(vec!["sh".into()]);
        let v = docker_container_config(&c);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "Hostname",
                "Domainname",
                "User",
                "AttachStdin",
                "AttachStdout",
                "AttachStderr",
                "Tty",
                "OpenStdin",
                "StdinOnce",
                "Env",
                "Cmd",
                "Image",
                "Volumes",
                "WorkingDir",
                "Entrypoint",
                "OnBuild",
                "Labels"
            ]
        );
        assert_eq!(v["Cmd"], serde_json::json!(["sh"]));
        assert_eq!(v["Env"], Value::Null);
    }
}
