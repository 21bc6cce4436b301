//! Token scopes (`repository:library/nginx:pull,push`, `registry:catalog:*`): a set that merges the
//! actions per resource, reads a challenge's `scope` and writes the strings a token service wants.

use std::collections::{BTreeMap, BTreeSet};

/// A set of resource scopes with their actions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Scopes {
    /// `type:name` → actions.
    resources: BTreeMap<String, BTreeSet<String>>,
}

impl Scopes {
    pub(crate) fn none() -> Self {
        Self::default()
    }

    /// `repository:<name>:<actions>`.
    pub(crate) fn repository(name: &str, actions: &[&str]) -> Self {
        let mut scopes = Self::default();
        scopes.add("repository", name, actions);
        scopes
    }

    /// `registry:catalog:*`.
    pub(crate) fn catalog() -> Self {
        let mut scopes = Self::default();
        scopes.add("registry", "catalog", &["*"]);
        scopes
    }

    pub(crate) fn add(&mut self, resource_type: &str, name: &str, actions: &[&str]) {
        let entry = self
            .resources
            .entry(format!("{resource_type}:{name}"))
            .or_default();
        entry.extend(
            actions
                .iter()
                .filter(|a| !a.is_empty())
                .map(|a| (*a).to_owned()),
        );
    }

    /// The same set plus `other`'s scopes.
    #[must_use]
    pub(crate) fn union(&self, other: &Scopes) -> Scopes {
        let mut merged = self.clone();
        for (resource, actions) in &other.resources {
            merged
                .resources
                .entry(resource.clone())
                .or_default()
                .extend(actions.iter().cloned());
        }
        merged
    }

    /// Adds the space-separated scopes of a challenge's `scope` parameter. Repository names hold no
    /// `:`, but the resource type may carry a class (`repository(plugin):name:pull`), so the name is
    /// what lies between the first `:` and the last.
    pub(crate) fn add_text(&mut self, text: &str) {
        for scope in text.split_whitespace() {
            let Some((resource, actions)) = scope.rsplit_once(':') else {
                continue;
            };
            let Some((resource_type, name)) = resource.split_once(':') else {
                continue;
            };
            let actions: Vec<&str> = actions.split(',').collect();
            self.add(resource_type, name, &actions);
        }
    }

    /// One string per resource, `type:name:action,action`, as `scope` query parameters.
    pub(crate) fn to_strings(&self) -> Vec<String> {
        self.resources
            .iter()
            .map(|(resource, actions)| {
                let actions: Vec<&str> = actions.iter().map(String::as_str).collect();
                format!("{resource}:{}", actions.join(","))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_scopes_merge_per_repository() {
        let mut scopes = Scopes::repository("target/app", &["pull", "push"]);
        scopes = scopes.union(&Scopes::repository("source/app", &["pull"]));
        scopes = scopes.union(&Scopes::repository("target/app", &["pull"]));
        assert_eq!(
            scopes.to_strings(),
            [
                "repository:source/app:pull",
                "repository:target/app:pull,push"
            ]
        );
    }

    #[test]
    fn challenge_scopes_are_read() {
        let mut scopes = Scopes::none();
        scopes.add_text("repository:a/b:pull,push registry:catalog:* repository(plugin):p:pull");
        assert_eq!(
            scopes.to_strings(),
            [
                "registry:catalog:*",
                "repository(plugin):p:pull",
                "repository:a/b:pull,push"
            ]
        );
    }
}
