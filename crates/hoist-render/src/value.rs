//! Turning JSON into template data, and template data back into Go-style JSON for the `json`
//! template function.
//!
//! gotmpl keeps maps in a `BTreeMap`, so a key order given by a struct would be lost. Go's
//! `json` function writes struct fields in declaration order, so [`JsonHints`] remembers, per
//! map allocation (the map's `Arc` address, stable while the data is alive), the order the
//! JSON object had. It also remembers which maps Docker marshals through `json.Marshal` (the
//! list-item contexts), whose output is HTML-escaped.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use gotmpl::Value;

use crate::json::{push_go_float, push_go_string};

/// Facts about template data that gotmpl's `Value` cannot carry.
#[derive(Debug, Default)]
pub(crate) struct JsonHints {
    /// Map address -> keys in the order of the JSON object it came from.
    key_order: HashMap<usize, Vec<Arc<str>>>,
    /// Map addresses whose JSON must be HTML-escaped, with everything inside them.
    html_escaped: HashSet<usize>,
}

impl JsonHints {
    /// Marks `value` (if it is a map) as marshalled like Docker's list contexts: keys sorted,
    /// HTML escaped.
    pub(crate) fn mark_html_escaped(&mut self, value: &Value) {
        if let Value::Map(map) = value {
            self.html_escaped.insert(map_address(map));
        }
    }
}

type MapArc = Arc<BTreeMap<Arc<str>, Value>>;

fn map_address(map: &MapArc) -> usize {
    Arc::as_ptr(map).cast::<()>() as usize
}

/// Converts JSON into template data. Integers stay integers (so `{{.Size}}` prints `12345`);
/// `null` becomes nil. With `keep_order`, object key orders are recorded in `hints`.
pub(crate) fn from_json(
    json: &serde_json::Value,
    keep_order: bool,
    hints: &mut JsonHints,
) -> Value {
    match json {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::Uint(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::String(Arc::from(s.as_str())),
        serde_json::Value::Array(items) => Value::List(
            items
                .iter()
                .map(|item| from_json(item, keep_order, hints))
                .collect::<Vec<_>>()
                .into(),
        ),
        serde_json::Value::Object(object) => {
            let mut order = Vec::with_capacity(object.len());
            let mut map = BTreeMap::new();
            for (key, item) in object {
                let key: Arc<str> = Arc::from(key.as_str());
                order.push(Arc::clone(&key));
                map.insert(key, from_json(item, keep_order, hints));
            }
            let map = Arc::new(map);
            if keep_order {
                hints.key_order.insert(map_address(&map), order);
            }
            Value::Map(map)
        }
    }
}

/// Builds a map of strings (the table-header context).
pub(crate) fn string_map(entries: &[(&str, &str)]) -> Value {
    let map: BTreeMap<Arc<str>, Value> = entries
        .iter()
        .map(|(key, value)| (Arc::from(*key), Value::String(Arc::from(*value))))
        .collect();
    Value::Map(Arc::new(map))
}

/// Encodes template data as Docker's `json` function does (compact, no trailing newline).
/// Returns `None` for values Go's encoder rejects (NaN, infinities, functions); Docker then
/// prints an empty string.
pub(crate) fn to_go_json(value: &Value, hints: &JsonHints) -> Option<String> {
    let mut out = String::new();
    encode(value, hints, false, &mut out).then_some(out)
}

fn encode(value: &Value, hints: &JsonHints, escape_html: bool, out: &mut String) -> bool {
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Uint(u) => out.push_str(&u.to_string()),
        Value::Float(f) => return push_go_float(*f, out),
        Value::String(s) => push_go_string(s, escape_html, out),
        Value::List(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                if !encode(item, hints, escape_html, out) {
                    return false;
                }
            }
            out.push(']');
        }
        Value::Map(map) => {
            let address = map_address(map);
            let escape_html = escape_html || hints.html_escaped.contains(&address);
            out.push('{');
            let mut first = true;
            let mut entry = |key: &str, item: &Value, out: &mut String| {
                if !first {
                    out.push(',');
                }
                first = false;
                push_go_string(key, escape_html, out);
                out.push(':');
                encode(item, hints, escape_html, out)
            };
            match hints.key_order.get(&address) {
                Some(order) => {
                    for key in order {
                        if let Some(item) = map.get(key)
                            && !entry(key, item, out)
                        {
                            return false;
                        }
                    }
                }
                None => {
                    for (key, item) in map.iter() {
                        if !entry(key, item, out) {
                            return false;
                        }
                    }
                }
            }
            out.push('}');
        }
        Value::Function(_) => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_stay_integers() {
        let mut hints = JsonHints::default();
        let value = from_json(
            &json!({"Size": 12345, "Big": u64::MAX, "F": 1.5}),
            true,
            &mut hints,
        );
        assert_eq!(value.field("Size"), Some(&Value::Int(12345)));
        assert_eq!(value.field("Big"), Some(&Value::Uint(u64::MAX)));
        assert_eq!(value.field("F"), Some(&Value::Float(1.5)));
    }

    #[test]
    fn recorded_order_is_used_and_unknown_maps_sort() {
        let source = json!({"Z": 1, "A": {"y": true, "b": null}});
        let mut hints = JsonHints::default();
        let ordered = from_json(&source, true, &mut hints);
        assert_eq!(
            to_go_json(&ordered, &hints).unwrap(),
            r#"{"Z":1,"A":{"y":true,"b":null}}"#
        );

        let mut no_hints = JsonHints::default();
        let sorted = from_json(&source, false, &mut no_hints);
        assert_eq!(
            to_go_json(&sorted, &no_hints).unwrap(),
            r#"{"A":{"b":null,"y":true},"Z":1}"#
        );
    }

    #[test]
    fn html_escaping_applies_inside_marked_maps_only() {
        let mut hints = JsonHints::default();
        let value = from_json(&json!({"Digest": "<none>"}), false, &mut hints);
        assert_eq!(
            to_go_json(&value, &hints).unwrap(),
            r#"{"Digest":"<none>"}"#
        );
        hints.mark_html_escaped(&value);
        assert_eq!(
            to_go_json(&value, &hints).unwrap(),
            r#"{"Digest":"\u003cnone\u003e"}"#
        );
        let inner = value.field("Digest").unwrap();
        assert_eq!(to_go_json(inner, &hints).unwrap(), r#""<none>""#);
    }

    #[test]
    fn unencodable_values_give_none() {
        let hints = JsonHints::default();
        assert_eq!(to_go_json(&Value::Float(f64::INFINITY), &hints), None);
        assert_eq!(
            to_go_json(&Value::List(vec![Value::Float(f64::NAN)].into()), &hints),
            None
        );
    }
}
