//! htpasswd Basic authentication for the server, with a small cache of accepted `Authorization`
//! values so that bcrypt (deliberately slow) runs once per credential rather than once per request.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use hoist_spec::Digest;

use crate::htpasswd::{Htpasswd, basic_challenge, parse_basic_authorization};

/// Accepted credentials remembered at most; the cache is emptied when full.
const CACHE_LIMIT: usize = 1024;

/// The configured realm and users.
#[derive(Debug)]
pub(super) struct BasicAuth {
    realm: String,
    users: Arc<Htpasswd>,
    /// Digests of `Authorization` values that verified (never the values themselves).
    accepted: Mutex<HashSet<Digest>>,
}

impl BasicAuth {
    pub(super) fn new(realm: String, users: Htpasswd) -> Self {
        Self {
            realm,
            users: Arc::new(users),
            accepted: Mutex::new(HashSet::new()),
        }
    }

    /// The `WWW-Authenticate` value of a 401.
    pub(super) fn challenge(&self) -> String {
        basic_challenge(&self.realm)
    }

    /// Whether the `Authorization` header value names a user with the right password.
    pub(super) async fn authorized(&self, header_value: Option<&str>) -> bool {
        let Some(header_value) = header_value else {
            return false;
        };
        let key = Digest::of(header_value.as_bytes());
        if self.lock().contains(&key) {
            return true;
        }
        let Some((user, password)) = parse_basic_authorization(header_value) else {
            return false;
        };
        let users = Arc::clone(&self.users);
        let verified = tokio::task::spawn_blocking(move || users.verify(&user, &password))
            .await
            .unwrap_or(false);
        if verified {
            let mut accepted = self.lock();
            if accepted.len() >= CACHE_LIMIT {
                accepted.clear();
            }
            accepted.insert(key);
        }
        verified
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<Digest>> {
        self.accepted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
