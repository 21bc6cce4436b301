//! The credential store end to end: config.json on disk and fake `docker-credential-*` helpers written
//! as shell scripts, checked against the bytes and the helper protocol the Docker CLI uses.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hoist_credentials::{Credential, CredentialStore, DOCKER_HUB_KEY, Error};

/// A helper that keeps one file per server URL in `VAULT`, logs every call to `VAULT/calls.log`, and
/// answers as docker-credential-helpers' programs do.
const FILE_HELPER: &str = r#"#!/bin/sh
vault='VAULT'
action="$1"
input=$(cat)
printf '%s %s\n' "$action" "$input" >> "$vault/calls.log"
file_for() { printf '%s/%s.cred' "$vault" "$(printf '%s' "$1" | tr -c 'A-Za-z0-9.-' '_')"; }
case "$action" in
get)
    f=$(file_for "$input")
    if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store)
    url=$(printf '%s' "$input" | sed -n 's/^{"ServerURL":"\([^"]*\)".*/\1/p')
    [ -n "$url" ] || { echo "no credentials server URL"; exit 1; }
    printf '%s' "$input" > "$(file_for "$url")" ;;
erase)
    f=$(file_for "$input")
    if [ -f "$f" ]; then rm "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
list)
    printf '{'; sep=''
    for f in "$vault"/*.cred; do
        [ -f "$f" ] || continue
        url=$(sed -n 's/^{"ServerURL":"\([^"]*\)","Username":"\([^"]*\)".*/\1/p' "$f")
        user=$(sed -n 's/^{"ServerURL":"\([^"]*\)","Username":"\([^"]*\)".*/\2/p' "$f")
        printf '%s"%s":"%s"' "$sep" "$url" "$user"; sep=','
    done
    printf '}\n' ;;
*)
    echo "unknown action $action"; exit 1 ;;
esac
"#;

struct Fixture {
    root: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            root: tempfile::tempdir().unwrap(),
        }
    }

    /// The Docker config directory; it does not exist until something is written.
    fn config_dir(&self) -> PathBuf {
        self.root.path().join("docker-config")
    }

    fn config_path(&self) -> PathBuf {
        self.config_dir().join("config.json")
    }

    fn bin_dir(&self) -> PathBuf {
        self.root.path().join("bin")
    }

    fn store(&self) -> CredentialStore {
        CredentialStore::new(self.config_dir()).with_helper_search_dirs([self.bin_dir()])
    }

    fn write_config(&self, text: &str) {
        fs::create_dir_all(self.config_dir()).unwrap();
        fs::write(self.config_path(), text).unwrap();
    }

    fn config_text(&self) -> String {
        fs::read_to_string(self.config_path()).unwrap()
    }

    fn vault(&self, name: &str) -> PathBuf {
        self.root.path().join(format!("vault-{name}"))
    }

    /// Installs `docker-credential-<name>` keeping its secrets in [`Fixture::vault`].
    fn install_file_helper(&self, name: &str) {
        let vault = self.vault(name);
        fs::create_dir_all(&vault).unwrap();
        let script = FILE_HELPER.replace("VAULT", &vault.display().to_string());
        self.install_helper(name, &script);
    }

    fn install_helper(&self, name: &str, script: &str) {
        fs::create_dir_all(self.bin_dir()).unwrap();
        let path = self.bin_dir().join(format!("docker-credential-{name}"));
        // Written by a child process: an executable this process held open for writing could be inherited
        // by a helper another test forks at that moment, and exec would then fail with "Text file busy".
        let mut child = Command::new("/bin/sh")
            .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
            .arg(&path)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
    }

    fn helper_calls(&self, name: &str) -> Vec<String> {
        fs::read_to_string(self.vault(name).join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn login(username: &str, password: &str) -> Credential {
    Credential {
        username: username.to_owned(),
        password: password.to_owned(),
        identity_token: None,
    }
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn plain_text_store_get_erase_round_trip() {
    let fixture = Fixture::new();
    let store = fixture.store();
    assert!(store.is_plain_text("localhost:5000").unwrap());
    assert_eq!(store.get("localhost:5000").unwrap(), None);

    store
        .store("localhost:5000", &login("alice", "s3cret"))
        .unwrap();
    assert_eq!(
        fixture.config_text(),
        "{\n\t\"auths\": {\n\t\t\"localhost:5000\": {\n\t\t\t\"auth\": \"YWxpY2U6czNjcmV0\"\n\t\t}\n\t}\n}"
    );
    assert_eq!(
        store.get("localhost:5000").unwrap(),
        Some(login("alice", "s3cret"))
    );
    assert_eq!(store.get("localhost:5001").unwrap(), None);
    assert_eq!(store.list().unwrap(), ["localhost:5000"]);

    assert!(store.erase("localhost:5000").unwrap());
    assert_eq!(store.get("localhost:5000").unwrap(), None);
    assert_eq!(fixture.config_text(), "{\n\t\"auths\": {}\n}");
    assert!(!store.erase("localhost:5000").unwrap());
}

#[test]
fn entries_are_written_sorted_like_go_maps() {
    let fixture = Fixture::new();
    let store = fixture.store();
    store
        .store("zz.example.com", &login("bob", "hunter2"))
        .unwrap();
    store
        .store("aa.example.com", &login("alice", "s3cret"))
        .unwrap();
    assert_eq!(
        fixture.config_text(),
        "{\n\t\"auths\": {\n\
         \t\t\"aa.example.com\": {\n\t\t\t\"auth\": \"YWxpY2U6czNjcmV0\"\n\t\t},\n\
         \t\t\"zz.example.com\": {\n\t\t\t\"auth\": \"Ym9iOmh1bnRlcjI=\"\n\t\t}\n\t}\n}"
    );
}

/// A config.json as Docker writes it, with settings of other tools and keys hoist does not know.
const FOREIGN_SETTINGS: &str = "{\n\
\t\"auths\": {},\n\
\t\"HttpHeaders\": {\n\t\t\"X-Meta\": \"1\"\n\t},\n\
\t\"psFormat\": \"table {{.ID}}\\t\\u003c{{.Names}}\\u003e \\u0026\",\n\
\t\"proxies\": {\n\t\t\"default\": {\n\t\t\t\"httpProxy\": \"http://proxy:3128\",\n\t\t\t\"noProxy\": \"localhost\"\n\t\t}\n\t},\n\
\t\"currentContext\": \"remote\",\n\
\t\"plugins\": {\n\t\t\"buildx\": {\n\t\t\t\"default\": \"true\"\n\t\t}\n\t},\n\
\t\"x-unknown-tool\": [\n\t\t1,\n\t\t-2.5,\n\t\tnull,\n\t\ttrue,\n\t\t{\n\t\t\t\"z\": \"first\",\n\t\t\t\"a\": \"second\"\n\t\t}\n\t]\n\
}";

#[test]
fn settings_of_other_tools_survive_a_store_and_erase_byte_for_byte() {
    let fixture = Fixture::new();
    fixture.write_config(FOREIGN_SETTINGS);
    let store = fixture.store();

    store.store("docker.io", &login("alice", "s3cret")).unwrap();
    let after_store = fixture.config_text();
    assert_eq!(
        after_store,
        FOREIGN_SETTINGS.replacen(
            "\t\"auths\": {},",
            "\t\"auths\": {\n\t\t\"https://index.docker.io/v1/\": {\n\t\t\t\"auth\": \"YWxpY2U6czNjcmV0\"\n\t\t}\n\t},",
            1
        )
    );
    let config = store.load_config().unwrap();
    assert_eq!(
        config.value("currentContext").and_then(|v| v.as_str()),
        Some("remote")
    );
    assert_eq!(
        config.value("psFormat").and_then(|v| v.as_str()),
        Some("table {{.ID}}\t<{{.Names}}> &")
    );

    assert!(store.erase("docker.io").unwrap());
    assert_eq!(fixture.config_text(), FOREIGN_SETTINGS);
}

#[test]
fn auths_is_added_first_to_a_file_without_it() {
    let fixture = Fixture::new();
    fixture.write_config("{\"currentContext\":\"remote\",\"psFormat\":\"{{.ID}}\"}\n");
    fixture
        .store()
        .store("localhost:5000", &login("alice", "s3cret"))
        .unwrap();
    assert_eq!(
        fixture.config_text(),
        "{\n\t\"auths\": {\n\t\t\"localhost:5000\": {\n\t\t\t\"auth\": \"YWxpY2U6czNjcmV0\"\n\t\t}\n\t},\n\
         \t\"currentContext\": \"remote\",\n\t\"psFormat\": \"{{.ID}}\"\n}"
    );
}

#[test]
fn docker_hub_logins_use_the_index_key_under_every_alias() {
    let fixture = Fixture::new();
    let store = fixture.store();
    store
        .store("registry-1.docker.io", &login("alice", "s3cret"))
        .unwrap();
    assert_eq!(store.load_config().unwrap().auth_keys(), [DOCKER_HUB_KEY]);
    for alias in [
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        DOCKER_HUB_KEY,
    ] {
        assert_eq!(
            store.get(alias).unwrap(),
            Some(login("alice", "s3cret")),
            "{alias}"
        );
    }
    assert_eq!(store.get("quay.io").unwrap(), None);
}

#[test]
fn a_hub_entry_written_by_another_tool_as_docker_io_is_found() {
    let fixture = Fixture::new();
    fixture.write_config(r#"{"auths": {"docker.io": {"auth": "Y2Fyb2w6cHc="}}}"#);
    assert_eq!(
        fixture.store().get("docker.io").unwrap(),
        Some(login("carol", "pw"))
    );
}

#[test]
fn legacy_keys_are_found_and_erased() {
    let fixture = Fixture::new();
    fixture.write_config(
        r#"{"auths": {
            "https://legacy.example.com/v1/": {"auth": "YWxpY2U6czNjcmV0"},
            "http://localhost:5000": {"auth": "Ym9iOmh1bnRlcjI="},
            "old.example.com/v1/": {"username": "carol", "password": "pw"},
            "https://dup.example.com": {"auth": "ZGF2ZTpvbGQ="},
            "dup.example.com": {"auth": "Y2Fyb2w6cHc="}
        }}"#,
    );
    let store = fixture.store();
    assert_eq!(
        store.get("legacy.example.com").unwrap(),
        Some(login("alice", "s3cret"))
    );
    assert_eq!(
        store.get("https://legacy.example.com").unwrap(),
        Some(login("alice", "s3cret"))
    );
    assert_eq!(
        store.get("localhost:5000").unwrap(),
        Some(login("bob", "hunter2"))
    );
    assert_eq!(
        store.get("old.example.com").unwrap(),
        Some(login("carol", "pw"))
    );
    // The exact key wins over a legacy form of the same server.
    assert_eq!(
        store.get("dup.example.com").unwrap(),
        Some(login("carol", "pw"))
    );

    assert!(store.erase("dup.example.com").unwrap());
    assert_eq!(store.get("dup.example.com").unwrap(), None);
    assert!(store.erase("legacy.example.com").unwrap());
    assert_eq!(
        store.load_config().unwrap().auth_keys(),
        ["http://localhost:5000", "old.example.com/v1/"]
    );
}

#[test]
fn identity_token_round_trips_in_plain_text() {
    let fixture = Fixture::new();
    let store = fixture.store();
    let credential = Credential {
        username: "alice".to_owned(),
        password: String::new(),
        identity_token: Some("refresh-token".to_owned()),
    };
    store.store("auth.example.com", &credential).unwrap();
    assert_eq!(
        fixture.config_text(),
        "{\n\t\"auths\": {\n\t\t\"auth.example.com\": {\n\t\t\t\"auth\": \"YWxpY2U6\",\n\t\t\t\"identitytoken\": \"refresh-token\"\n\t\t}\n\t}\n}"
    );
    assert_eq!(store.get("auth.example.com").unwrap(), Some(credential));
}

#[test]
fn registry_tokens_are_read_but_are_not_a_login() {
    let fixture = Fixture::new();
    fixture.write_config(r#"{"auths": {"tok.example.com": {"registrytoken": "bearer"}}}"#);
    let store = fixture.store();
    assert_eq!(store.get("tok.example.com").unwrap(), None);
    let (key, entry) = store
        .load_config()
        .unwrap()
        .find_auth("tok.example.com")
        .unwrap()
        .unwrap();
    assert_eq!(key, "tok.example.com");
    assert_eq!(entry.registry_token.as_deref(), Some("bearer"));
    assert!(!format!("{entry:?}").contains("bearer"));
}

#[test]
fn new_files_are_private_and_existing_modes_are_kept() {
    let fixture = Fixture::new();
    let store = fixture.store();
    store
        .store("localhost:5000", &login("alice", "s3cret"))
        .unwrap();
    assert_eq!(mode_of(&fixture.config_path()), 0o600);
    assert_eq!(mode_of(&fixture.config_dir()), 0o700);
    let leftovers: Vec<_> = fs::read_dir(fixture.config_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["config.json"]);

    // Like Docker, a rewrite keeps the permissions the user gave the file.
    fs::set_permissions(fixture.config_path(), fs::Permissions::from_mode(0o640)).unwrap();
    store
        .store("localhost:5000", &login("bob", "hunter2"))
        .unwrap();
    assert_eq!(mode_of(&fixture.config_path()), 0o640);
}

#[test]
fn a_symlinked_config_is_updated_at_its_target() {
    let fixture = Fixture::new();
    let dotfiles = fixture.root.path().join("dotfiles");
    fs::create_dir_all(&dotfiles).unwrap();
    fs::write(dotfiles.join("docker.json"), "{}").unwrap();
    fs::create_dir_all(fixture.config_dir()).unwrap();
    std::os::unix::fs::symlink("../dotfiles/docker.json", fixture.config_path()).unwrap();

    let store = fixture.store();
    store
        .store("localhost:5000", &login("alice", "s3cret"))
        .unwrap();
    assert!(
        fs::symlink_metadata(fixture.config_path())
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        fs::read_to_string(dotfiles.join("docker.json"))
            .unwrap()
            .contains("YWxpY2U6czNjcmV0")
    );
    assert_eq!(
        store.get("localhost:5000").unwrap(),
        Some(login("alice", "s3cret"))
    );
}

#[test]
fn a_missing_or_empty_file_is_an_empty_configuration() {
    let fixture = Fixture::new();
    let store = fixture.store();
    assert_eq!(store.list().unwrap(), Vec::<String>::new());
    assert!(!store.erase("localhost:5000").unwrap());
    assert!(
        !fixture.config_dir().exists(),
        "reading must not create files"
    );

    fixture.write_config("  \n");
    assert_eq!(store.get("localhost:5000").unwrap(), None);
    assert_eq!(store.load_config().unwrap().auth_keys(), Vec::<&str>::new());
}

#[test]
fn an_invalid_file_is_an_error_naming_it() {
    let fixture = Fixture::new();
    let store = fixture.store();
    let path = fixture.config_path().display().to_string();

    fixture.write_config("{\"auths\": {");
    let error = store.get("localhost:5000").unwrap_err();
    assert!(matches!(error, Error::InvalidJson { .. }), "{error:?}");
    assert!(error.to_string().contains(&path), "{error}");
    let error = store
        .store("localhost:5000", &login("alice", "s3cret"))
        .unwrap_err();
    assert!(error.to_string().contains(&path), "{error}");
    assert_eq!(
        fixture.config_text(),
        "{\"auths\": {",
        "a broken file is never overwritten"
    );

    fixture.write_config(r#"{"auths": {"bad.example.com": {"auth": "not base64!"}}}"#);
    let message = store.get("localhost:5000").unwrap_err().to_string();
    assert!(message.contains(&path), "{message}");
    assert!(message.contains("auths.bad.example.com.auth"), "{message}");

    fixture.write_config(r#"{"auths": []}"#);
    let message = store.get("localhost:5000").unwrap_err().to_string();
    assert!(
        message.contains(&path) && message.contains("auths"),
        "{message}"
    );

    fixture.write_config(r#"{"credsStore": 7}"#);
    let message = store.get("localhost:5000").unwrap_err().to_string();
    assert!(message.contains("credsStore"), "{message}");
}

#[test]
fn a_helper_keeps_the_secret_and_config_keeps_an_empty_entry() {
    let fixture = Fixture::new();
    fixture.install_file_helper("fake");
    fixture.write_config("{\n\t\"auths\": {},\n\t\"credsStore\": \"fake\"\n}");
    let store = fixture.store();
    assert!(!store.is_plain_text("localhost:5000").unwrap());
    assert_eq!(
        store.helper_for("localhost:5000").unwrap().as_deref(),
        Some("fake")
    );

    store
        .store("localhost:5000", &login("alice", "s3cret"))
        .unwrap();
    assert_eq!(
        fixture.config_text(),
        "{\n\t\"auths\": {\n\t\t\"localhost:5000\": {}\n\t},\n\t\"credsStore\": \"fake\"\n}"
    );
    assert_eq!(
        fixture.helper_calls("fake"),
        [r#"store {"ServerURL":"localhost:5000","Username":"alice","Secret":"s3cret"}"#]
    );

    assert_eq!(
        store.get("localhost:5000").unwrap(),
        Some(login("alice", "s3cret"))
    );
    assert_eq!(fixture.helper_calls("fake")[1], "get localhost:5000");
    // Not found in the helper: no credential, and no error.
    assert_eq!(store.get("other.example.com").unwrap(), None);
    assert_eq!(store.list().unwrap(), ["localhost:5000"]);

    assert!(store.erase("localhost:5000").unwrap());
    assert_eq!(store.get("localhost:5000").unwrap(), None);
    assert_eq!(
        fixture.config_text(),
        "{\n\t\"auths\": {},\n\t\"credsStore\": \"fake\"\n}"
    );
    assert!(!store.erase("localhost:5000").unwrap());
    let calls = fixture.helper_calls("fake");
    assert!(
        calls.contains(&"erase https://localhost:5000".to_owned()),
        "legacy forms are erased too: {calls:?}"
    );
}

#[test]
fn a_helper_login_replaces_an_old_plain_text_secret() {
    let fixture = Fixture::new();
    fixture.install_file_helper("fake");
    fixture.write_config(
        r#"{"auths": {"localhost:5000": {"auth": "ZGF2ZTpvbGQ="}}, "credsStore": "fake"}"#,
    );
    let store = fixture.store();
    // As in Docker, once a helper is configured its answer is the only one that counts.
    assert_eq!(store.get("localhost:5000").unwrap(), None);
    store
        .store("localhost:5000", &login("alice", "s3cret"))
        .unwrap();
    assert!(!fixture.config_text().contains("ZGF2ZTpvbGQ="));
    assert_eq!(
        store.get("localhost:5000").unwrap(),
        Some(login("alice", "s3cret"))
    );
}

#[test]
fn identity_tokens_go_to_helpers_as_the_token_username() {
    let fixture = Fixture::new();
    fixture.install_file_helper("fake");
    fixture.write_config(r#"{"credsStore": "fake"}"#);
    let store = fixture.store();
    let credential = Credential {
        username: "alice".to_owned(),
        password: String::new(),
        identity_token: Some("refresh-token".to_owned()),
    };
    store.store("docker.io", &credential).unwrap();
    assert_eq!(
        fixture.helper_calls("fake"),
        [
            r#"store {"ServerURL":"https://index.docker.io/v1/","Username":"\u003ctoken\u003e","Secret":"refresh-token"}"#
        ]
    );
    // Docker's helpers do not keep the username next to a token.
    assert_eq!(
        store.get("docker.io").unwrap(),
        Some(Credential {
            username: String::new(),
            password: String::new(),
            identity_token: Some("refresh-token".to_owned()),
        })
    );
}

#[test]
fn cred_helpers_take_precedence_over_creds_store() {
    let fixture = Fixture::new();
    fixture.install_file_helper("default");
    fixture.install_file_helper("special");
    fixture.write_config(
        r#"{
            "credsStore": "default",
            "credHelpers": {
                "special.example.com": "special",
                "https://index.docker.io/v1/": "special",
                "plain.example.com": ""
            }
        }"#,
    );
    let store = fixture.store();
    store
        .store("special.example.com", &login("alice", "s3cret"))
        .unwrap();
    store.store("docker.io", &login("carol", "pw")).unwrap();
    store
        .store("other.example.com", &login("bob", "hunter2"))
        .unwrap();
    store
        .store("plain.example.com", &login("dave", "old"))
        .unwrap();

    let special = fixture.helper_calls("special");
    assert!(
        special[0].starts_with(r#"store {"ServerURL":"special.example.com""#),
        "{special:?}"
    );
    assert!(
        special[1].starts_with(r#"store {"ServerURL":"https://index.docker.io/v1/""#),
        "{special:?}"
    );
    let default = fixture.helper_calls("default");
    assert_eq!(default.len(), 1, "{default:?}");
    assert!(
        default[0].starts_with(r#"store {"ServerURL":"other.example.com""#),
        "{default:?}"
    );

    // An empty credHelpers entry means plain text, not "fall back to credsStore" (Docker's rule).
    assert!(store.is_plain_text("plain.example.com").unwrap());
    assert!(fixture.config_text().contains("ZGF2ZTpvbGQ="));

    assert_eq!(
        store.get("special.example.com").unwrap(),
        Some(login("alice", "s3cret"))
    );
    assert_eq!(
        store.get("index.docker.io").unwrap(),
        Some(login("carol", "pw"))
    );
    assert_eq!(
        store.get("other.example.com").unwrap(),
        Some(login("bob", "hunter2"))
    );
    assert_eq!(
        store.get("plain.example.com").unwrap(),
        Some(login("dave", "old"))
    );
    assert_eq!(
        store.helper_for("special.example.com").unwrap().as_deref(),
        Some("special")
    );
}

#[test]
fn not_found_on_stderr_is_no_credential() {
    let fixture = Fixture::new();
    fixture.install_helper(
        "quiet",
        "#!/bin/sh\ncat >/dev/null\necho 'credentials not found in native keychain' >&2\nexit 1\n",
    );
    fixture.write_config(r#"{"credsStore": "quiet"}"#);
    assert_eq!(fixture.store().get("localhost:5000").unwrap(), None);
}

#[test]
fn a_failing_helper_is_an_error_with_its_name_and_output() {
    let fixture = Fixture::new();
    fixture.install_helper(
        "broken",
        "#!/bin/sh\ncat >/dev/null\necho 'keychain is locked'\necho 'see the log' >&2\nexit 3\n",
    );
    fixture.write_config(r#"{"credsStore": "broken"}"#);
    let store = fixture.store();

    let error = store.get("localhost:5000").unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, Error::HelperFailed { action: "get", .. }),
        "{error:?}"
    );
    for expected in [
        "docker-credential-broken",
        "get",
        "keychain is locked",
        "see the log",
        "3",
    ] {
        assert!(
            message.contains(expected),
            "{expected:?} missing in {message}"
        );
    }

    let error = store
        .store("localhost:5000", &login("alice", "s3cret"))
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::HelperFailed {
                action: "store",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.to_string().contains("s3cret"));
    assert_eq!(
        fixture.config_text(),
        r#"{"credsStore": "broken"}"#,
        "config.json is not touched when the helper fails"
    );

    let error = store.erase("localhost:5000").unwrap_err();
    assert!(
        matches!(
            error,
            Error::HelperFailed {
                action: "erase",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_helper_answer_that_is_not_json_is_an_error_without_the_answer() {
    let fixture = Fixture::new();
    fixture.install_helper(
        "garbled",
        "#!/bin/sh\ncat >/dev/null\necho 'Secret=s3cret'\n",
    );
    fixture.write_config(r#"{"credsStore": "garbled"}"#);
    let error = fixture.store().get("localhost:5000").unwrap_err();
    assert!(
        matches!(error, Error::HelperInvalidOutput { .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("s3cret"), "{error}");
}

#[test]
fn a_missing_helper_program_is_named() {
    let fixture = Fixture::new();
    fixture.write_config(r#"{"credsStore": "desktop"}"#);
    let error = fixture.store().get("localhost:5000").unwrap_err();
    assert!(matches!(error, Error::HelperNotFound { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("docker-credential-desktop"), "{message}");
    assert!(
        message.contains(&fixture.bin_dir().display().to_string()),
        "{message}"
    );
}

#[test]
fn helpers_are_searched_in_the_given_directories_in_order() {
    let fixture = Fixture::new();
    fixture.install_file_helper("fake");
    let empty = fixture.root.path().join("empty-bin");
    fs::create_dir_all(&empty).unwrap();
    fixture.write_config(r#"{"credsStore": "fake"}"#);
    let store = CredentialStore::new(fixture.config_dir())
        .with_helper_search_dirs([empty.clone(), fixture.bin_dir()]);
    store
        .store("localhost:5000", &login("alice", "s3cret"))
        .unwrap();
    assert_eq!(
        store.get("localhost:5000").unwrap(),
        Some(login("alice", "s3cret"))
    );

    let nowhere = CredentialStore::new(fixture.config_dir()).with_helper_search_dirs([empty]);
    assert!(matches!(
        nowhere.get("localhost:5000"),
        Err(Error::HelperNotFound { .. })
    ));
}
