//! distribution's (registry:2) configuration file and its `REGISTRY_*` environment overrides.
//!
//! The file is read into a generic YAML tree first, the environment is applied to that tree the way
//! distribution's parser walks its structs (sorted variable names, `_`-separated upper-cased keys, values
//! parsed as YAML), and only then is the tree turned into [`Config`]. Unknown keys are ignored, as
//! distribution's non-strict YAML decoding ignores them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// The environment prefix distribution reads overrides from.
const ENV_PREFIX: &str = "REGISTRY_";

/// Keys of `storage` that configure the registry rather than name a storage driver.
const STORAGE_NON_DRIVER_KEYS: [&str; 5] = ["delete", "maintenance", "cache", "redirect", "tag"];

/// Why a configuration could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration is not valid YAML{}: {message}", at_line(*line, *column))]
    Syntax {
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    #[error("configuration file must start with `version: 0.1`; found {found}")]
    UnsupportedVersion { found: String },
    #[error("configuration key `{key}` is invalid: {message}")]
    InvalidKey { key: String, message: String },
    #[error("environment variable {variable} is invalid: {message}")]
    InvalidEnvironment { variable: String, message: String },
    #[error("configuration key `{key}` is required")]
    MissingKey { key: String },
    #[error("`http.tls.{present}` is set but `http.tls.{missing}` is not; TLS needs both")]
    IncompleteTls {
        present: &'static str,
        missing: &'static str,
    },
    #[error("auth method `{method}` is not supported by hoist's registry; use `htpasswd`")]
    UnsupportedAuth { method: String },
    #[error("unknown auth method `{method}`; the only supported one is `htpasswd`")]
    UnknownAuth { method: String },
    #[error("storage driver `{driver}` is not supported; use `filesystem`")]
    UnsupportedStorageDriver { driver: String },
    #[error("more than one storage driver is configured: {drivers:?}")]
    MultipleStorageDrivers { drivers: Vec<String> },
}

fn at_line(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" at line {line} column {column}"),
        (Some(line), None) => format!(" at line {line}"),
        _ => String::new(),
    }
}

/// The whole registry configuration, after defaults, environment overrides and validation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub log: Log,
    pub http: Http,
    pub storage: Storage,
    pub auth: Auth,
    pub health: Health,
    /// Accepted so existing files load; hoist sends no notifications. Kept so the server can say so.
    pub notifications: Option<Value>,
    /// Pull-through cache settings; present only when configured.
    pub proxy: Option<Proxy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Log {
    #[serde(deserialize_with = "lenient_string")]
    pub level: String,
    #[serde(deserialize_with = "lenient_string")]
    pub formatter: String,
    /// Fields added to every log line.
    pub fields: BTreeMap<String, Value>,
    pub accesslog: AccessLog,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            formatter: "text".to_owned(),
            fields: BTreeMap::new(),
            accesslog: AccessLog::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessLog {
    #[serde(deserialize_with = "lenient_bool")]
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Http {
    /// Listen address, `host:port` or `:port`.
    #[serde(deserialize_with = "lenient_string")]
    pub addr: String,
    /// `tcp` or `unix`.
    #[serde(deserialize_with = "lenient_string")]
    pub net: String,
    /// Path prefix the registry is served under (`/` by default).
    #[serde(deserialize_with = "lenient_string")]
    pub prefix: String,
    /// The externally visible base URL, used for Location headers.
    #[serde(deserialize_with = "lenient_string")]
    pub host: String,
    /// Secret for signing upload state.
    #[serde(deserialize_with = "lenient_string")]
    pub secret: String,
    #[serde(deserialize_with = "lenient_bool")]
    pub relativeurls: bool,
    /// How long to wait for in-flight requests on shutdown (a Go duration such as `10s`).
    #[serde(deserialize_with = "lenient_string")]
    pub draintimeout: String,
    pub tls: Tls,
    /// Extra response headers, name to values.
    #[serde(deserialize_with = "header_map")]
    pub headers: BTreeMap<String, Vec<String>>,
    pub debug: HttpDebug,
    pub http2: Http2,
}

impl Default for Http {
    fn default() -> Self {
        Self {
            addr: ":5000".to_owned(),
            net: "tcp".to_owned(),
            prefix: String::new(),
            host: String::new(),
            secret: String::new(),
            relativeurls: false,
            draintimeout: String::new(),
            tls: Tls::default(),
            headers: BTreeMap::new(),
            debug: HttpDebug::default(),
            http2: Http2::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Tls {
    pub certificate: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub clientcas: Vec<PathBuf>,
    #[serde(deserialize_with = "lenient_string")]
    pub minimumtls: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpDebug {
    /// Address of the debug server (metrics); empty for none.
    #[serde(deserialize_with = "lenient_string")]
    pub addr: String,
    pub prometheus: Prometheus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prometheus {
    #[serde(deserialize_with = "lenient_bool")]
    pub enabled: bool,
    #[serde(deserialize_with = "lenient_string")]
    pub path: String,
}

impl Default for Prometheus {
    fn default() -> Self {
        Self {
            enabled: false,
            path: "/metrics".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Http2 {
    #[serde(deserialize_with = "lenient_bool")]
    pub disabled: bool,
}

/// Storage settings. The driver is always the filesystem (others are refused while loading).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Storage {
    pub filesystem: Filesystem,
    pub delete: Delete,
    pub maintenance: Maintenance,
    pub cache: Cache,
    pub redirect: Redirect,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filesystem {
    pub rootdirectory: PathBuf,
    pub maxthreads: u64,
}

impl Default for Filesystem {
    fn default() -> Self {
        Self {
            rootdirectory: PathBuf::new(),
            // distribution's filesystem driver default.
            maxthreads: 100,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Delete {
    #[serde(deserialize_with = "lenient_bool")]
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Maintenance {
    pub uploadpurging: UploadPurging,
    pub readonly: ReadOnly,
}

/// Removal of abandoned uploads; distribution enables it by default with these values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadPurging {
    #[serde(deserialize_with = "lenient_bool")]
    pub enabled: bool,
    /// Uploads older than this are removed (Go duration).
    #[serde(deserialize_with = "lenient_string")]
    pub age: String,
    /// How often to look (Go duration).
    #[serde(deserialize_with = "lenient_string")]
    pub interval: String,
    #[serde(deserialize_with = "lenient_bool")]
    pub dryrun: bool,
}

impl Default for UploadPurging {
    fn default() -> Self {
        Self {
            enabled: true,
            age: "168h".to_owned(),
            interval: "24h".to_owned(),
            dryrun: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReadOnly {
    #[serde(deserialize_with = "lenient_bool")]
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Cache {
    /// `inmemory`, `redis` or empty for none.
    #[serde(deserialize_with = "lenient_string")]
    pub blobdescriptor: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Redirect {
    #[serde(deserialize_with = "lenient_bool")]
    pub disable: bool,
}

/// Authentication; only htpasswd exists in hoist (token and silly are refused while loading).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Auth {
    pub htpasswd: Option<HtpasswdAuth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HtpasswdAuth {
    #[serde(deserialize_with = "lenient_string")]
    pub realm: String,
    pub path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Health {
    pub storagedriver: StorageDriverHealth,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageDriverHealth {
    #[serde(deserialize_with = "lenient_bool")]
    pub enabled: bool,
    #[serde(deserialize_with = "lenient_string")]
    pub interval: String,
    pub threshold: u64,
}

impl Default for StorageDriverHealth {
    fn default() -> Self {
        Self {
            enabled: false,
            interval: "10s".to_owned(),
            threshold: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Proxy {
    #[serde(deserialize_with = "lenient_string")]
    pub remoteurl: String,
    #[serde(deserialize_with = "lenient_string")]
    pub username: String,
    #[serde(deserialize_with = "lenient_string")]
    pub password: String,
    #[serde(deserialize_with = "lenient_string")]
    pub ttl: String,
}

impl Config {
    /// Loads the configuration from the file's text (`None`: the registry:2 image's built-in file), then
    /// applies the `REGISTRY_*` variables of `env`. `default_root` is the storage root used when the
    /// configuration names none (hoist passes `<hoist root>/registry`).
    pub fn load(
        yaml_text: Option<&str>,
        env: impl IntoIterator<Item = (String, String)>,
        default_root: &Path,
    ) -> Result<Config, ConfigError> {
        let mut tree = match yaml_text {
            Some(text) => parse_file(text)?,
            None => registry_image_defaults(),
        };
        normalize(&mut tree, default_root)?;
        from_tree(&tree).map_err(|(key, message)| ConfigError::InvalidKey { key, message })?;

        // Sorted so that less specific variables (REGISTRY_STORAGE) apply before more specific ones
        // (REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY), as distribution does.
        let mut overrides: Vec<(String, String)> = env
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX) && name.len() > ENV_PREFIX.len())
            .collect();
        overrides.sort();
        for (variable, value) in overrides {
            let env_error = |message: String| ConfigError::InvalidEnvironment {
                variable: variable.clone(),
                message,
            };
            let path: Vec<&str> = variable[ENV_PREFIX.len()..].split('_').collect();
            // The version is fixed by the file format, never overridden.
            if path.len() == 1 && path[0] == "VERSION" {
                continue;
            }
            let parsed = parse_scalar(&value).map_err(env_error)?;
            set_path(&mut tree, &path, parsed);
            normalize(&mut tree, default_root).map_err(|error| env_error(error.to_string()))?;
            from_tree(&tree).map_err(|(key, message)| env_error(format!("{key}: {message}")))?;
        }

        let config =
            from_tree(&tree).map_err(|(key, message)| ConfigError::InvalidKey { key, message })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        match (&self.http.tls.certificate, &self.http.tls.key) {
            (Some(_), None) => {
                return Err(ConfigError::IncompleteTls {
                    present: "certificate",
                    missing: "key",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::IncompleteTls {
                    present: "key",
                    missing: "certificate",
                });
            }
            _ => {}
        }
        if let Some(htpasswd) = &self.auth.htpasswd {
            if htpasswd.realm.is_empty() {
                return Err(ConfigError::MissingKey {
                    key: "auth.htpasswd.realm".to_owned(),
                });
            }
            if htpasswd.path.as_os_str().is_empty() {
                return Err(ConfigError::MissingKey {
                    key: "auth.htpasswd.path".to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Whether TLS is configured (certificate and key both present after validation).
    pub fn tls_enabled(&self) -> bool {
        self.http.tls.certificate.is_some()
    }
}

impl UploadPurging {
    /// `age` as a duration, `None` when it is not a valid Go duration.
    pub fn age_duration(&self) -> Option<Duration> {
        parse_go_duration(&self.age)
    }
    /// `interval` as a duration, `None` when it is not a valid Go duration.
    pub fn interval_duration(&self) -> Option<Duration> {
        parse_go_duration(&self.interval)
    }
}

/// Parses a Go duration string such as `168h`, `1h30m`, `10s`, `250ms` or `0`.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(number * seconds_per_unit).ok()?;
    }
    Some(total)
}

/// The configuration file shipped in the registry:2 image (/etc/docker/registry/config.yml), minus its
/// storage root, which the caller chooses.
fn registry_image_defaults() -> Value {
    serde_json::json!({
        "version": "0.1",
        "log": {"fields": {"service": "registry"}},
        "storage": {"cache": {"blobdescriptor": "inmemory"}, "filesystem": {}},
        "http": {"addr": ":5000", "headers": {"X-Content-Type-Options": ["nosniff"]}},
        "health": {"storagedriver": {"enabled": true, "interval": "10s", "threshold": 3}}
    })
}

fn parse_file(text: &str) -> Result<Value, ConfigError> {
    let tree: Value = serde_norway::from_str(text).map_err(|error| {
        let location = error.location();
        ConfigError::Syntax {
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message: error.to_string(),
        }
    })?;
    let version = match tree.get("version") {
        None | Some(Value::Null) => "nothing".to_owned(),
        // YAML reads `0.1` as a number.
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    if version != "0.1" {
        return Err(ConfigError::UnsupportedVersion { found: version });
    }
    Ok(tree)
}

/// Parses an environment value as a YAML scalar (or flow collection), as distribution does.
fn parse_scalar(value: &str) -> Result<Value, String> {
    serde_norway::from_str::<Value>(value).map_err(|error| error.to_string())
}

/// Sets the value at the `_`-separated upper-cased key path, matching existing keys case-insensitively
/// and creating missing ones lower-cased (distribution's map keys) along the way. Lists are indexed by
/// number, one past the end appending. A path through a scalar is ignored, as distribution ignores it;
/// an index further past the end is ignored too (distribution refuses it).
fn set_path(tree: &mut Value, path: &[&str], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *tree = value;
        return;
    };
    let map = match tree {
        Value::Null => {
            *tree = Value::Object(Map::new());
            match tree {
                Value::Object(map) => map,
                _ => return,
            }
        }
        Value::Object(map) => map,
        // distribution indexes lists by number and appends at one past the end.
        Value::Array(items) => {
            if let Ok(index) = first.parse::<usize>() {
                if index == items.len() {
                    items.push(Value::Null);
                }
                if let Some(item) = items.get_mut(index) {
                    set_path(item, rest, value);
                }
            }
            return;
        }
        // A scalar has no keys below it; distribution ignores such a variable.
        _ => return,
    };
    let key = map
        .keys()
        .find(|key| key.eq_ignore_ascii_case(first))
        .cloned()
        .unwrap_or_else(|| first.to_ascii_lowercase());
    let child = map.entry(key).or_insert(Value::Null);
    set_path(child, rest, value);
}

/// Brings the tree into the shape [`Config`] reads: nulls removed (Go's zero values), `auth` and
/// `storage` given as a bare type name expanded to `{name: {}}`, auth methods and storage drivers checked,
/// and the storage root defaulted.
fn normalize(tree: &mut Value, default_root: &Path) -> Result<(), ConfigError> {
    remove_nulls_except_types(tree);
    let Value::Object(root) = tree else {
        return Err(ConfigError::InvalidKey {
            key: "(top level)".to_owned(),
            message: "expected a mapping of keys".to_owned(),
        });
    };
    expand_type_name(root, "auth");
    expand_type_name(root, "storage");

    if let Some(Value::Object(auth)) = root.get("auth") {
        for method in auth.keys() {
            match method.as_str() {
                "htpasswd" => {}
                "token" | "silly" => {
                    return Err(ConfigError::UnsupportedAuth {
                        method: method.clone(),
                    });
                }
                _ => {
                    return Err(ConfigError::UnknownAuth {
                        method: method.clone(),
                    });
                }
            }
        }
    }

    let storage = root
        .entry("storage")
        .or_insert_with(|| Value::Object(Map::new()));
    if !storage.is_object() {
        return Err(ConfigError::InvalidKey {
            key: "storage".to_owned(),
            message: format!("expected a mapping or a driver name, found {storage}"),
        });
    }
    if let Value::Object(storage) = storage {
        let mut drivers: Vec<String> = storage
            .keys()
            .filter(|key| !STORAGE_NON_DRIVER_KEYS.contains(&key.as_str()))
            .cloned()
            .collect();
        drivers.sort();
        match drivers.as_slice() {
            [] => {}
            [driver] if driver == "filesystem" => {}
            [driver] => {
                return Err(ConfigError::UnsupportedStorageDriver {
                    driver: driver.clone(),
                });
            }
            _ => return Err(ConfigError::MultipleStorageDrivers { drivers }),
        }
        let filesystem = storage
            .entry("filesystem")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(filesystem) = filesystem {
            filesystem
                .entry("rootdirectory")
                .or_insert_with(|| Value::String(default_root.to_string_lossy().into_owned()));
        }
    }
    Ok(())
}

/// `auth: htpasswd` or `REGISTRY_STORAGE=filesystem` name a type with no parameters.
fn expand_type_name(root: &mut Map<String, Value>, section: &str) {
    if let Some(Value::String(name)) = root.get(section) {
        let mut expanded = Map::new();
        expanded.insert(name.clone(), Value::Object(Map::new()));
        root.insert(section.to_owned(), Value::Object(expanded));
    }
}

/// Removes null values (YAML `key:` with nothing) everywhere, except that a type chosen with no
/// parameters (`auth: {htpasswd: }`, `storage: {filesystem: }`) becomes an empty mapping: its presence
/// matters.
fn remove_nulls_except_types(tree: &mut Value) {
    fn prune(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.retain(|_, child| !child.is_null());
                map.values_mut().for_each(prune);
            }
            Value::Array(items) => items.iter_mut().for_each(prune),
            _ => {}
        }
    }
    if let Value::Object(root) = tree {
        for section in ["auth", "storage"] {
            if let Some(Value::Object(types)) = root.get_mut(section) {
                for parameters in types.values_mut() {
                    if parameters.is_null() {
                        *parameters = Value::Object(Map::new());
                    }
                }
            }
        }
    }
    prune(tree);
}

/// Deserializes the tree; on failure names the top-level section at fault.
fn from_tree(tree: &Value) -> Result<Config, (String, String)> {
    Config::deserialize(tree).map_err(|error| {
        let section = tree.as_object().and_then(|root| {
            root.iter()
                .find(|(key, value)| section_fails(key, value))
                .map(|(key, _)| key.clone())
        });
        (
            section.unwrap_or_else(|| "(top level)".to_owned()),
            error.to_string(),
        )
    })
}

fn section_fails(key: &str, value: &Value) -> bool {
    fn fails<T: for<'de> Deserialize<'de>>(value: &Value) -> bool {
        T::deserialize(value).is_err()
    }
    match key {
        "log" => fails::<Log>(value),
        "http" => fails::<Http>(value),
        "storage" => fails::<Storage>(value),
        "auth" => fails::<Auth>(value),
        "health" => fails::<Health>(value),
        "proxy" => fails::<Proxy>(value),
        _ => false,
    }
}

/// A string field that, like Go's YAML decoder, also takes numbers and booleans as their text.
fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(text) => Ok(text),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Null => Ok(String::new()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string, found {other}"
        ))),
    }
}

/// A boolean field that also takes the YAML 1.1 words Go's decoder accepts (`yes`, `on`, ...).
fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Bool(flag) => Ok(flag),
        Value::String(text) => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" => Ok(true),
            "false" | "no" | "n" | "off" => Ok(false),
            _ => Err(serde::de::Error::custom(format!(
                "expected a boolean, found {text:?}"
            ))),
        },
        other => Err(serde::de::Error::custom(format!(
            "expected a boolean, found {other}"
        ))),
    }
}

/// Header values are a list in distribution's format; a single string is taken as a one-item list.
fn header_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    let raw = BTreeMap::<String, Value>::deserialize(deserializer)?;
    let mut headers = BTreeMap::new();
    for (name, value) in raw {
        let values = match value {
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text),
                    Value::Number(_) | Value::Bool(_) => Ok(item.to_string()),
                    other => Err(serde::de::Error::custom(format!(
                        "header {name}: expected string values, found {other}"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Value::String(text) => vec![text],
            Value::Number(_) | Value::Bool(_) => vec![value.to_string()],
            other => {
                return Err(serde::de::Error::custom(format!(
                    "header {name}: expected a list of values, found {other}"
                )));
            }
        };
        headers.insert(name, values);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn load(yaml: Option<&str>, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load(yaml, env(pairs), Path::new("/hoist/registry"))
    }

    #[test]
    fn defaults_are_the_registry_image_ones() {
        let config = load(None, &[]).unwrap();
        assert_eq!(config.http.addr, ":5000");
        assert_eq!(
            config.storage.filesystem.rootdirectory,
            Path::new("/hoist/registry")
        );
        assert_eq!(
            config.http.headers.get("X-Content-Type-Options"),
            Some(&vec!["nosniff".to_owned()])
        );
        assert_eq!(config.storage.cache.blobdescriptor, "inmemory");
        assert!(!config.storage.delete.enabled);
        assert!(config.storage.maintenance.uploadpurging.enabled);
        assert_eq!(config.auth.htpasswd, None);
        assert!(!config.tls_enabled());
        assert_eq!(config.log.level, "info");
    }

    #[test]
    fn the_seed_environment_configures_htpasswd() {
        let config = load(
            None,
            &[
                ("REGISTRY_AUTH", "htpasswd"),
                ("REGISTRY_AUTH_HTPASSWD_REALM", "Registry Realm"),
                ("REGISTRY_AUTH_HTPASSWD_PATH", "/auth/htpasswd"),
                ("REGISTRY_HTTP_ADDR", "0.0.0.0:5001"),
                ("REGISTRY_STORAGE_DELETE_ENABLED", "true"),
                ("PATH", "/usr/bin"),
            ],
        )
        .unwrap();
        assert_eq!(
            config.auth.htpasswd,
            Some(HtpasswdAuth {
                realm: "Registry Realm".to_owned(),
                path: PathBuf::from("/auth/htpasswd"),
            })
        );
        assert_eq!(config.http.addr, "0.0.0.0:5001");
        assert!(config.storage.delete.enabled);
    }

    #[test]
    fn environment_overrides_the_file() {
        let yaml = "version: 0.1\n\
            http:\n  addr: :6000\n  headers:\n    X-Content-Type-Options: [nosniff]\n\
            storage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n  delete:\n    enabled: false\n";
        let config = load(
            Some(yaml),
            &[
                ("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "/data"),
                ("REGISTRY_HTTP_TLS_CERTIFICATE", "/certs/domain.crt"),
                ("REGISTRY_HTTP_TLS_KEY", "/certs/domain.key"),
                (
                    "REGISTRY_HTTP_HEADERS_X-CONTENT-TYPE-OPTIONS",
                    "[nosniff, other]",
                ),
                ("REGISTRY_HTTP_HEADERS_ACCESS-CONTROL-ALLOW-ORIGIN", "['*']"),
                ("REGISTRY_STORAGE_DELETE_ENABLED", "yes"),
                ("REGISTRY_HTTP_SECRET", "12345"),
            ],
        )
        .unwrap();
        assert_eq!(config.http.addr, ":6000");
        assert_eq!(config.storage.filesystem.rootdirectory, Path::new("/data"));
        assert_eq!(
            config.http.tls.certificate.as_deref(),
            Some(Path::new("/certs/domain.crt"))
        );
        assert!(config.tls_enabled());
        assert_eq!(
            config.http.headers.get("X-Content-Type-Options"),
            Some(&vec!["nosniff".to_owned(), "other".to_owned()])
        );
        assert_eq!(
            config.http.headers.get("access-control-allow-origin"),
            Some(&vec!["*".to_owned()])
        );
        assert!(config.storage.delete.enabled);
        // A number given for a string key is taken as its text, as Go's YAML decoder does.
        assert_eq!(config.http.secret, "12345");
    }

    #[test]
    fn storage_by_type_name_and_null_parameters() {
        let config = load(
            None,
            &[
                ("REGISTRY_STORAGE", "filesystem"),
                ("REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS", "7"),
            ],
        )
        .unwrap();
        assert_eq!(config.storage.filesystem.maxthreads, 7);
        assert_eq!(
            config.storage.filesystem.rootdirectory,
            Path::new("/hoist/registry")
        );
        // `REGISTRY_STORAGE` replaced the whole section, cache included, as in distribution.
        assert_eq!(config.storage.cache.blobdescriptor, "");

        let yaml = "version: '0.1'\nstorage:\n  filesystem:\nauth:\n  htpasswd:\n    realm: r\n    path: /p\nlog:\n";
        let config = load(Some(yaml), &[]).unwrap();
        assert_eq!(
            config.storage.filesystem.rootdirectory,
            Path::new("/hoist/registry")
        );
        assert_eq!(config.auth.htpasswd.unwrap().realm, "r");
    }

    #[test]
    fn lists_and_scalars_along_the_path() {
        let yaml = "version: 0.1\nhttp:\n  addr: :5000\n  tls:\n    certificate: /c\n    key: /k\n    clientcas: [/a.pem]\n";
        let config = load(
            Some(yaml),
            &[
                ("REGISTRY_HTTP_TLS_CLIENTCAS_0", "/first.pem"),
                ("REGISTRY_HTTP_TLS_CLIENTCAS_1", "/second.pem"),
                ("REGISTRY_HTTP_TLS_CLIENTCAS_5", "/ignored.pem"),
                ("REGISTRY_HTTP_ADDR_PORT", "1"),
            ],
        )
        .unwrap();
        assert_eq!(
            config.http.tls.clientcas,
            [PathBuf::from("/first.pem"), PathBuf::from("/second.pem")]
        );
        assert_eq!(config.http.addr, ":5000");
        // Without the scalar in the tree, the variable makes a mapping where a string belongs: an error
        // naming it, rather than distribution's silent warning.
        let error = load(None, &[("REGISTRY_HTTP_DEBUG_ADDR_PORT", "1")]).unwrap_err();
        assert!(
            matches!(&error, ConfigError::InvalidEnvironment { variable, .. } if variable == "REGISTRY_HTTP_DEBUG_ADDR_PORT"),
            "{error:?}"
        );
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let yaml = "version: 0.1\nfrobnicate: 3\nhttp:\n  addr: :1\n  wobble: x\nnotifications:\n  endpoints: []\n";
        let config = load(Some(yaml), &[("REGISTRY_NOPE_AT_ALL", "1")]).unwrap();
        assert_eq!(config.http.addr, ":1");
        assert!(config.notifications.is_some());
    }

    #[test]
    fn maintenance_and_proxy() {
        let yaml = "version: 0.1\nstorage:\n  maintenance:\n    uploadpurging:\n      enabled: false\n      age: 1h30m\n    readonly:\n      enabled: true\nproxy:\n  remoteurl: https://registry-1.docker.io\n  username: u\n  password: p\n";
        let config = load(Some(yaml), &[]).unwrap();
        let purging = &config.storage.maintenance.uploadpurging;
        assert!(!purging.enabled);
        assert_eq!(purging.age_duration(), Some(Duration::from_secs(5400)));
        assert_eq!(
            purging.interval_duration(),
            Some(Duration::from_secs(86400))
        );
        assert!(config.storage.maintenance.readonly.enabled);
        assert_eq!(
            config.proxy.unwrap().remoteurl,
            "https://registry-1.docker.io"
        );
    }

    #[test]
    fn errors() {
        fn check(yaml: Option<&str>, pairs: &[(&str, &str)], expected: ConfigError) {
            assert_eq!(load(yaml, pairs), Err(expected), "{yaml:?} {pairs:?}");
        }
        check(
            Some("http:\n  addr: :1\n"),
            &[],
            ConfigError::UnsupportedVersion {
                found: "nothing".to_owned(),
            },
        );
        check(
            Some("version: 0.2\n"),
            &[],
            ConfigError::UnsupportedVersion {
                found: "0.2".to_owned(),
            },
        );
        check(
            None,
            &[("REGISTRY_HTTP_TLS_CERTIFICATE", "/c.pem")],
            ConfigError::IncompleteTls {
                present: "certificate",
                missing: "key",
            },
        );
        check(
            None,
            &[("REGISTRY_AUTH", "token")],
            ConfigError::InvalidEnvironment {
                variable: "REGISTRY_AUTH".to_owned(),
                message: "auth method `token` is not supported by hoist's registry; use `htpasswd`"
                    .to_owned(),
            },
        );
        check(
            Some("version: 0.1\nauth:\n  silly:\n    realm: x\n"),
            &[],
            ConfigError::UnsupportedAuth {
                method: "silly".to_owned(),
            },
        );
        check(
            Some("version: 0.1\nauth:\n  ldap: {}\n"),
            &[],
            ConfigError::UnknownAuth {
                method: "ldap".to_owned(),
            },
        );
        check(
            None,
            &[
                ("REGISTRY_AUTH", "htpasswd"),
                ("REGISTRY_AUTH_HTPASSWD_PATH", "/p"),
            ],
            ConfigError::MissingKey {
                key: "auth.htpasswd.realm".to_owned(),
            },
        );
        check(
            Some("version: 0.1\nstorage:\n  s3:\n    bucket: b\n"),
            &[],
            ConfigError::UnsupportedStorageDriver {
                driver: "s3".to_owned(),
            },
        );
        check(
            Some("version: 0.1\nstorage:\n  s3: {}\n  filesystem: {}\n"),
            &[],
            ConfigError::MultipleStorageDrivers {
                drivers: vec!["filesystem".to_owned(), "s3".to_owned()],
            },
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let error = load(Some("version: 0.1\nhttp:\n  addr: [\n"), &[]).unwrap_err();
        match error {
            ConfigError::Syntax { line, .. } => assert!(line.is_some_and(|l| l >= 3), "{line:?}"),
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn type_errors_name_the_key_or_variable() {
        let error = load(Some("version: 0.1\nhttp:\n  relativeurls: maybe\n"), &[]).unwrap_err();
        match error {
            ConfigError::InvalidKey { key, message } => {
                assert_eq!(key, "http");
                assert!(message.contains("maybe"), "{message}");
            }
            other => panic!("expected an invalid key, got {other:?}"),
        }
        let error = load(None, &[("REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS", "many")]).unwrap_err();
        match error {
            ConfigError::InvalidEnvironment { variable, message } => {
                assert_eq!(variable, "REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS");
                assert!(message.starts_with("storage:"), "{message}");
            }
            other => panic!("expected an invalid variable, got {other:?}"),
        }
    }

    #[test]
    fn go_durations() {
        fn check(text: &str, expected: Option<Duration>) {
            assert_eq!(parse_go_duration(text), expected, "{text}");
        }
        check("168h", Some(Duration::from_secs(168 * 3600)));
        check("1h30m", Some(Duration::from_secs(5400)));
        check("10s", Some(Duration::from_secs(10)));
        check("250ms", Some(Duration::from_millis(250)));
        check("1.5s", Some(Duration::from_millis(1500)));
        check("0", Some(Duration::ZERO));
        check("", None);
        check("10", None);
        check("5d", None);
        check("h", None);
    }
}
