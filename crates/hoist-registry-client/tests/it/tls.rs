//! TLS and insecure registries: a test CA trusted only through a certs.d directory, verification
//! failing without it, insecure registries accepted without verification, and Docker's fallback from
//! HTTPS to plain HTTP for insecure registries only.

use hoist_registry_client::{ManifestRef, RegistryError};

use crate::support::{client, config, pattern, pki, push_image, registry, tls_registry};

#[tokio::test]
async fn a_ca_in_certs_d_is_trusted_and_nothing_else_is() {
    let pki = pki();
    let reg = tls_registry(&pki).await;
    let certs = tempfile::tempdir().unwrap();
    let host_dir = certs.path().join("secure.test");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("ca.crt"), &pki.ca_pem).unwrap();

    let mut trusting = config();
    trusting
        .endpoint_overrides
        .insert("secure.test".into(), format!("https://{}", reg.addr));
    trusting.certs_dirs = vec![certs.path().to_owned()];
    let repo = client(trusting).repository("secure.test", "tls/app");
    let image = push_image(&repo, "v1", &pattern(4_000, 1)).await;
    assert_eq!(
        repo.get_manifest(&ManifestRef::tag("v1"), &[])
            .await
            .unwrap()
            .digest,
        image.digest
    );

    let mut untrusting = config();
    untrusting
        .endpoint_overrides
        .insert("secure.test".into(), format!("https://{}", reg.addr));
    let error = client(untrusting)
        .repository("secure.test", "tls/app")
        .get_manifest(&ManifestRef::tag("v1"), &[])
        .await
        .unwrap_err();
    assert!(matches!(error, RegistryError::Transport { .. }), "{error}");
    let text = error.to_string().to_lowercase();
    assert!(
        text.contains("certificate") || text.contains("issuer"),
        "{error}"
    );
}

#[tokio::test]
async fn an_insecure_registry_is_reached_without_verification() {
    let pki = pki();
    let reg = tls_registry(&pki).await;
    let mut insecure = config();
    insecure
        .endpoint_overrides
        .insert("insecure.test".into(), format!("https://{}", reg.addr));
    insecure.insecure_registries = vec!["insecure.test".into()];
    let repo = client(insecure).repository("insecure.test", "tls/app");
    push_image(&repo, "v1", &pattern(100, 2)).await;
    assert!(
        repo.head_manifest(&ManifestRef::tag("v1"), &[])
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn only_insecure_registries_fall_back_to_plain_http() {
    let reg = registry().await;
    let mut by_network = config();
    by_network
        .endpoint_overrides
        .insert("10.1.2.3:5000".into(), format!("https://{}", reg.addr));
    by_network.insecure_registries = vec!["10.0.0.0/8".into()];
    let repo = client(by_network).repository("10.1.2.3:5000", "plain/app");
    let image = push_image(&repo, "v1", &pattern(100, 3)).await;
    assert_eq!(
        repo.get_manifest(&ManifestRef::tag("v1"), &[])
            .await
            .unwrap()
            .digest,
        image.digest
    );

    // Loopback is insecure by default: a plain-HTTP registry on 127.0.0.1 just works.
    let repo = client(config()).repository(&reg.host(), "plain/app");
    assert!(repo.blob_exists(&image.layer).await.unwrap().is_some());

    // A registry that is not insecure is never spoken to over plain HTTP.
    let mut secure = config();
    secure
        .endpoint_overrides
        .insert("secure.test".into(), format!("https://{}", reg.addr));
    let error = client(secure)
        .repository("secure.test", "plain/app")
        .blob_exists(&image.layer)
        .await
        .unwrap_err();
    assert!(matches!(error, RegistryError::Transport { .. }), "{error}");
}
