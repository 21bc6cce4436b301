//! Authentication: htpasswd Basic auth with right and wrong passwords, and a Bearer token service
//! (scopes asked for, the cross-repository mount scope, the token cache, anonymous pull tokens,
//! login with a refresh token and the OAuth2 refresh flow, a refused token replaced once).

use hoist_registry_client::{
    Credential, ManifestRef, MountOutcome, RegistryError, StaticCredentials,
};

use crate::support::{
    bearer_registry, client, client_with, config, htpasswd, pattern, push_image, registry,
    registry_with,
};

fn credential(user: &str, password: &str) -> Credential {
    Credential {
        username: user.to_owned(),
        password: password.to_owned(),
        identity_token: None,
    }
}

#[tokio::test]
async fn htpasswd_basic_auth_with_right_and_wrong_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let path = htpasswd(dir.path(), "alice", "wonderland");
    let reg = registry_with(
        "",
        &format!(
            "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
            path.display()
        ),
    )
    .await;
    let right = client_with(
        config(),
        StaticCredentials::new().with(reg.host(), credential("alice", "wonderland")),
    );
    let repo = right.repository(&reg.host(), "private/app");
    let image = push_image(&repo, "v1", &pattern(1000, 1)).await;
    assert_eq!(
        repo.get_manifest(&ManifestRef::tag("v1"), &[])
            .await
            .unwrap()
            .digest,
        image.digest
    );
    let outcome = right
        .login(&reg.host(), &credential("alice", "wonderland"))
        .await
        .unwrap();
    assert!(outcome.authentication_required);
    assert_eq!(outcome.refresh_token, None);

    let wrong = client_with(
        config(),
        StaticCredentials::new().with(reg.host(), credential("alice", "looking-glass")),
    );
    let error = wrong
        .repository(&reg.host(), "private/app")
        .get_manifest(&ManifestRef::tag("v1"), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::Unauthorized { status: 401, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("unauthorized"), "{error}");
    let error = client(config())
        .login(&reg.host(), &credential("alice", "looking-glass"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::Unauthorized { status: 401, .. }),
        "{error}"
    );

    let anonymous = client(config());
    let error = anonymous
        .repository(&reg.host(), "private/app")
        .blob_exists(&image.layer)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(401));
}

#[tokio::test]
async fn bearer_tokens_carry_the_scopes_each_operation_needs() {
    let upstream = registry().await;
    let reg = bearer_registry(&upstream, true).await;
    let client = client_with(
        config(),
        StaticCredentials::new().with(reg.host(), credential("alice", "secret")),
    );
    let source = client.repository(&reg.host(), "team/app");
    let image = push_image(&source, "v1", &pattern(20_000, 2)).await;
    let target = client.repository(&reg.host(), "other/app");
    let outcome = target.mount_blob(&image.layer, "team/app").await.unwrap();
    assert!(matches!(outcome, MountOutcome::Mounted));
    assert_eq!(
        target.blob_exists(&image.layer).await.unwrap(),
        Some(20_000)
    );

    let calls = reg.service.calls();
    assert!(
        calls
            .iter()
            .all(|c| c.basic_user.as_deref() == Some("alice"))
    );
    assert!(
        calls
            .iter()
            .all(|c| c.params.get("service").map(String::as_str) == Some("test-registry"))
    );
    let scope_sets: Vec<Vec<String>> = calls.iter().map(|c| c.scopes.clone()).collect();
    assert!(
        scope_sets.contains(&vec!["repository:team/app:pull,push".to_owned()]),
        "{scope_sets:?}"
    );
    assert!(
        scope_sets.contains(&vec![
            "repository:other/app:pull,push".to_owned(),
            "repository:team/app:pull".to_owned()
        ]),
        "the mount must ask for pull on the source: {scope_sets:?}"
    );
    // The mount's scopes were asked for up front, not learnt from a 401.
    assert!(
        !scope_sets.contains(&vec!["repository:other/app:pull,push".to_owned()]),
        "{scope_sets:?}"
    );
    // Each scope set was fetched once and then served from the cache.
    let mut unique = scope_sets.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), scope_sets.len(), "{scope_sets:?}");
}

#[tokio::test]
async fn anonymous_callers_get_pull_tokens_only() {
    let upstream = registry().await;
    let reg = bearer_registry(&upstream, true).await;
    let alice = client_with(
        config(),
        StaticCredentials::new().with(reg.host(), credential("alice", "secret")),
    );
    let image = push_image(
        &alice.repository(&reg.host(), "public/app"),
        "v1",
        &pattern(500, 3),
    )
    .await;

    let anonymous = client(config());
    let repo = anonymous.repository(&reg.host(), "public/app");
    let fetched = repo
        .get_manifest(&ManifestRef::tag("v1"), &[])
        .await
        .unwrap();
    assert_eq!(fetched.digest, image.digest);
    let anonymous_calls: Vec<_> = reg
        .service
        .calls()
        .into_iter()
        .filter(|c| c.basic_user.is_none())
        .collect();
    assert_eq!(anonymous_calls.len(), 1);
    assert_eq!(anonymous_calls[0].scopes, ["repository:public/app:pull"]);

    let error = repo.start_upload().await.unwrap_err();
    assert!(
        matches!(error, RegistryError::Unauthorized { status: 401, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn wrong_password_is_reported_as_docker_does() {
    let upstream = registry().await;
    let reg = bearer_registry(&upstream, false).await;
    let error = client(config())
        .login(&reg.host(), &credential("alice", "wrong"))
        .await
        .unwrap_err();
    match &error {
        RegistryError::Unauthorized {
            status, message, ..
        } => {
            assert_eq!(*status, 401);
            assert_eq!(message, "incorrect username or password");
        }
        other => panic!("expected unauthorized, got {other}"),
    }
    assert!(
        error
            .to_string()
            .contains("unauthorized: incorrect username or password")
    );
}

#[tokio::test]
async fn login_hands_back_a_refresh_token_that_later_requests_use() {
    let upstream = registry().await;
    let reg = bearer_registry(&upstream, false).await;
    let outcome = client(config())
        .login(&reg.host(), &credential("alice", "secret"))
        .await
        .unwrap();
    assert!(outcome.authentication_required);
    assert_eq!(outcome.refresh_token.as_deref(), Some("refresh-for-alice"));
    let login_call = reg.service.calls().pop().unwrap();
    assert_eq!(login_call.method, "GET");
    assert_eq!(
        login_call.params.get("offline_token").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        login_call.params.get("client_id").map(String::as_str),
        Some("hoist")
    );

    let with_identity_token = client_with(
        config(),
        StaticCredentials::new().with(
            reg.host(),
            Credential {
                username: "alice".into(),
                password: String::new(),
                identity_token: outcome.refresh_token.clone(),
            },
        ),
    );
    let repo = with_identity_token.repository(&reg.host(), "oauth/app");
    let image = push_image(&repo, "v1", &pattern(300, 4)).await;
    assert_eq!(
        repo.get_manifest(&ManifestRef::tag("v1"), &[])
            .await
            .unwrap()
            .digest,
        image.digest
    );
    let oauth: Vec<_> = reg
        .service
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST")
        .collect();
    assert!(!oauth.is_empty());
    for call in &oauth {
        assert_eq!(
            call.params.get("grant_type").map(String::as_str),
            Some("refresh_token")
        );
        assert_eq!(
            call.params.get("refresh_token").map(String::as_str),
            Some("refresh-for-alice")
        );
        assert_eq!(
            call.params.get("client_id").map(String::as_str),
            Some("hoist")
        );
        assert_eq!(call.basic_user, None);
    }
    assert!(
        oauth
            .iter()
            .any(|c| c.scopes == ["repository:oauth/app:pull,push"])
    );

    let revoked = client_with(
        config(),
        StaticCredentials::new().with(
            reg.host(),
            Credential {
                username: "alice".into(),
                password: String::new(),
                identity_token: Some("stale".into()),
            },
        ),
    );
    let error = revoked
        .repository(&reg.host(), "oauth/app")
        .get_manifest(&ManifestRef::tag("v1"), &[])
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("unknown refresh token"),
        "{error}"
    );
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let upstream = registry().await;
    let reg = bearer_registry(&upstream, false).await;
    let client = client_with(
        config(),
        StaticCredentials::new().with(reg.host(), credential("alice", "secret")),
    );
    let repo = client.repository(&reg.host(), "rotate/app");
    let image = push_image(&repo, "v1", &pattern(100, 5)).await;
    repo.get_manifest(&ManifestRef::tag("v1"), &[])
        .await
        .unwrap();
    let before = reg.service.calls().len();
    reg.service.revoke_all();
    let again = repo
        .get_manifest(&ManifestRef::tag("v1"), &[])
        .await
        .unwrap();
    assert_eq!(again.digest, image.digest);
    let after = reg.service.calls();
    assert_eq!(after.len(), before + 1);
    assert_eq!(after[before].scopes, ["repository:rotate/app:pull"]);
}

#[tokio::test]
async fn a_challenge_naming_more_scope_gets_a_token_for_it() {
    let upstream = registry().await;
    let reg = bearer_registry(&upstream, false).await;
    let client = client_with(
        config(),
        StaticCredentials::new().with(reg.host(), credential("alice", "secret")),
    );
    let repo = client.repository(&reg.host(), "policy/app");
    push_image(&repo, "v1", &pattern(100, 6)).await;
    reg.service
        .extra_required
        .lock()
        .unwrap()
        .push("repository:shared/base:pull".to_owned());
    let before = reg.service.calls().len();
    assert_eq!(repo.tags(None).await.unwrap(), ["v1"]);
    let calls = reg.service.calls();
    let asked: Vec<&Vec<String>> = calls[before..].iter().map(|c| &c.scopes).collect();
    assert_eq!(
        asked,
        [
            &vec!["repository:policy/app:pull".to_owned()],
            &vec![
                "repository:policy/app:pull".to_owned(),
                "repository:shared/base:pull".to_owned()
            ]
        ],
        "one more token, for the scopes the challenge named"
    );
    // The extra scope is remembered: the next listing uses the cached token straight away.
    assert_eq!(repo.tags(None).await.unwrap(), ["v1"]);
    assert_eq!(reg.service.calls().len(), calls.len());
}
