//! Authentication: what an endpoint's `/v2/` challenge asks for (nothing, Basic, or a Bearer token from
//! a token service), and the credentials a request then carries.

pub(crate) mod challenge;
pub(crate) mod scope;
pub(crate) mod token;

use challenge::Challenge;
use token::TokenKey;

use crate::credentials::Credential;

/// How an endpoint wants requests authenticated, learnt from its `/v2/` answer or a later 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EndpointAuth {
    /// `/v2/` answered without asking.
    Anonymous,
    /// `Basic realm=...`: every request carries the credential.
    Basic,
    /// `Bearer realm=...,service=...`: requests carry a token for their scopes.
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

impl EndpointAuth {
    /// The scheme the challenges ask for, Bearer preferred (as Docker does); `None` without a usable one.
    pub(crate) fn from_challenges(challenges: &[Challenge]) -> Option<Self> {
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer")
            && let Some(realm) = bearer.param("realm").filter(|r| !r.is_empty())
        {
            return Some(Self::Bearer {
                realm: realm.to_owned(),
                service: bearer.param("service").map(str::to_owned),
            });
        }
        challenges
            .iter()
            .any(|c| c.scheme == "basic")
            .then_some(Self::Basic)
    }
}

/// The credentials one request carries.
#[derive(Debug, Clone)]
pub(crate) enum Authorization {
    Basic(Credential),
    Bearer { key: TokenKey, token: String },
}

impl Authorization {
    pub(crate) fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Self::Basic(credential) => {
                request.basic_auth(&credential.username, Some(&credential.password))
            }
            Self::Bearer { token, .. } => request.bearer_auth(token),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_is_preferred_and_needs_a_realm() {
        let found =
            challenge::parse(r#"Basic realm="r", Bearer realm="https://t/token",service=s"#);
        assert_eq!(
            EndpointAuth::from_challenges(&found),
            Some(EndpointAuth::Bearer {
                realm: "https://t/token".into(),
                service: Some("s".into())
            })
        );
        let found = challenge::parse(r#"Bearer service=s, Basic realm="r""#);
        assert_eq!(
            EndpointAuth::from_challenges(&found),
            Some(EndpointAuth::Basic)
        );
        assert_eq!(EndpointAuth::from_challenges(&[]), None);
    }
}
