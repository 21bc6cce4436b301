//! `login`, `logout` and `search`: Docker's flags, prompts, messages and search table over hoist-ops.

use std::io::{BufRead, IsTerminal, Read, Write};

use anyhow::{Context, Result, bail};
use hoist_credentials::Credential;
use hoist_ops::login::{LoginServer, Saved};
use hoist_ops::search::{SearchError, SearchFilters, SearchOptions, SearchSource};
use hoist_registry_client::SearchResult;
use hoist_render::{Format, TableSpec};
use serde::Serialize;

use crate::cli::{LoginArgs, LogoutArgs, SearchArgs};
use crate::output;

/// What Docker tells people about to type a Docker Hub username.
const REGISTER_SUGGESTION: &str = "Log in with your Docker ID or email address to push and pull images from Docker Hub. If you don't have a Docker ID, head over to https://hub.docker.com/ to create one.";
/// Exit status after Ctrl-C at a prompt, as a shell reports a SIGINT death.
const INTERRUPTED: u8 = 130;
/// Exit status of a bad `--filter` (Docker treats it as a flag error).
const USAGE_ERROR: u8 = 125;
/// Docker's DESCRIPTION column width.
const DESCRIPTION_WIDTH: usize = 45;

/// One async runtime per command; the client's credential lookups use its blocking pool.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub(crate) fn login(settings: &hoist_ops::Settings, a: &LoginArgs) -> Result<u8> {
    // Docker checks the flags before anything else, with these words.
    if a.password_stdin {
        if a.password.is_some() {
            bail!("conflicting options: cannot specify both --password and --password-stdin");
        }
        if a.username.is_none() {
            bail!("the --password-stdin option requires --username to be set");
        }
    }
    if a.username.as_deref() == Some("") {
        bail!("username is empty");
    }
    if a.password.as_deref() == Some("") {
        bail!("password is empty");
    }
    let mut password = a.password.clone().unwrap_or_default();
    if !password.is_empty() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    if a.password_stdin {
        let mut contents = String::new();
        std::io::stdin()
            .read_to_string(&mut contents)
            .context("reading the password from stdin")?;
        // Docker drops one line ending, nothing more.
        let line = contents.strip_suffix('\n').unwrap_or(&contents);
        password = line.strip_suffix('\r').unwrap_or(line).to_owned();
    }
    let username = a.username.clone().unwrap_or_default();
    let server = LoginServer::resolve(a.server.as_deref());
    let client = hoist_ops::registry::client(settings)?;
    let runtime = runtime()?;

    let mut default_username = String::new();
    if username.is_empty() && password.is_empty() {
        // As in Docker, an unreadable store just means asking the user.
        if let Ok(Some(stored)) = hoist_ops::login::stored_login(settings, &server) {
            eprint!(
                "Authenticating with existing credentials... [Username: {}]\n\n Info -> To login with a different account, run 'hoist logout' followed by 'hoist login'\n\n\n",
                stored.username
            );
            let checked = runtime.block_on(hoist_ops::login::verify(&client, &server, &stored));
            match checked {
                Ok(outcome) => {
                    let saved = hoist_ops::login::save(settings, &server, &stored, &outcome)?;
                    return Ok(succeeded(&saved));
                }
                Err(e) if e.is_unauthorized() => eprintln!("Stored credentials invalid or expired"),
                Err(e) => eprintln!("Login did not succeed, error: {e}"),
            }
            default_username = stored.username;
        }
    }

    if (username.is_empty() || password.is_empty()) && !std::io::stdin().is_terminal() {
        bail!("Cannot perform an interactive login from a non TTY device");
    }
    let Some(credential) =
        prompt_for_credentials(&server, &username, &password, &default_username)?
    else {
        return Ok(INTERRUPTED);
    };
    let outcome = runtime.block_on(hoist_ops::login::verify(&client, &server, &credential))?;
    let saved = hoist_ops::login::save(settings, &server, &credential, &outcome)?;
    Ok(succeeded(&saved))
}

/// Docker's closing words of a login: the plain-text warning when a password was just written to
/// config.json, then "Login Succeeded".
fn succeeded(saved: &Saved) -> u8 {
    if let Some(file) = &saved.unencrypted_in {
        eprintln!(
            "\nWARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n",
            file.display()
        );
    }
    println!("Login Succeeded");
    0
}

/// Asks on the terminal for what the flags did not give, as Docker does: `Username: ` (offering the
/// stored username as default), then `Password: ` without echo. `None` when Ctrl-C was pressed.
fn prompt_for_credentials(
    server: &LoginServer,
    username: &str,
    password: &str,
    default_username: &str,
) -> Result<Option<Credential>> {
    let mut stdout = std::io::stdout();
    let mut username = username.trim().to_owned();
    if username.is_empty() {
        if server.is_docker_hub() {
            println!("{REGISTER_SUGGESTION}");
        }
        let default_username = default_username.trim();
        if default_username.is_empty() {
            print!("Username: ");
        } else {
            print!("Username ({default_username}): ");
        }
        stdout.flush()?;
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the username")?;
        username = line.trim().to_owned();
        if username.is_empty() {
            username = default_username.to_owned();
        }
        if username.is_empty() {
            bail!("Non-null Username Required");
        }
    }
    let mut password = password.trim().to_owned();
    if password.is_empty() {
        let typed = read_without_echo("Password: ")?;
        println!();
        let Some(typed) = typed else {
            return Ok(None);
        };
        password = typed.trim().to_owned();
        if password.is_empty() {
            bail!("Password Required");
        }
    }
    Ok(Some(Credential {
        username,
        password,
        identity_token: None,
    }))
}

/// Puts the terminal settings back when dropped, whatever happened while reading.
struct RestoreTerminal(rustix::termios::Termios);

impl Drop for RestoreTerminal {
    fn drop(&mut self) {
        // Nothing more can be done if the terminal refuses its own settings back.
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.0,
        );
    }
}

/// Shows `prompt` and reads one line from the terminal on stdin without echoing it. Echo goes off
/// before the prompt appears, so nothing typed ahead is shown. The terminal delivers keys one by one
/// (no signals), so Ctrl-C ends the read (`None`) with the settings restored instead of killing hoist
/// with echo still off; backspace and Ctrl-U edit as usual.
fn read_without_echo(prompt: &str) -> Result<Option<String>> {
    use rustix::termios::{LocalModes, OptionalActions, SpecialCodeIndex, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let original = tcgetattr(&stdin).context("reading the terminal settings")?;
    let mut silent = original.clone();
    silent
        .local_modes
        .remove(LocalModes::ECHO | LocalModes::ICANON | LocalModes::ISIG);
    silent.special_codes[SpecialCodeIndex::VMIN] = 1;
    silent.special_codes[SpecialCodeIndex::VTIME] = 0;
    tcsetattr(&stdin, OptionalActions::Now, &silent).context("turning off the terminal echo")?;
    let _restore = RestoreTerminal(original);
    let mut stdout = std::io::stdout();
    stdout.write_all(prompt.as_bytes())?;
    stdout.flush()?;

    let mut line = Vec::new();
    for byte in stdin.lock().bytes() {
        match byte.context("reading the password")? {
            b'\n' | b'\r' => break,
            // Ctrl-C.
            0x03 => return Ok(None),
            // Ctrl-D on an empty line: end of input.
            0x04 if line.is_empty() => break,
            // Backspace or DEL: drop the last character, all of its UTF-8 bytes.
            0x7f | 0x08 => while line.pop().is_some_and(|b| b & 0xc0 == 0x80) {},
            // Ctrl-U: start over.
            0x15 => line.clear(),
            b'\t' => line.push(b'\t'),
            control if control < 0x20 => {}
            other => line.push(other),
        }
    }
    String::from_utf8(line)
        .map(Some)
        .context("the password is not valid UTF-8")
}

pub(crate) fn logout(settings: &hoist_ops::Settings, a: &LogoutArgs) -> Result<u8> {
    let server = LoginServer::resolve(a.server.as_deref());
    match hoist_ops::login::logout(settings, &server) {
        Ok(true) => println!("Removing login credentials for {}", server.key),
        Ok(false) => println!("Not logged in to {}", server.key),
        // Docker reports a failed erase as a warning and still succeeds.
        Err(e) => {
            println!("Removing login credentials for {}", server.key);
            eprintln!("WARNING: {e}");
        }
    }
    Ok(0)
}

/// Docker's search table (the AUTOMATED column left the default table in Docker 25; the field remains
/// for templates that name it).
const SEARCH_TABLE: TableSpec<'static> = TableSpec {
    default_template: "{{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}",
    headers: &[
        ("Name", "NAME"),
        ("Description", "DESCRIPTION"),
        ("StarCount", "STARS"),
        ("IsOfficial", "OFFICIAL"),
        ("IsAutomated", "AUTOMATED"),
    ],
};

/// The fields `--format` sees for a search result, as Docker formats them: booleans are `[OK]` or
/// empty in templates and `"true"`/`"false"` in JSON.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct SearchRow {
    name: String,
    description: String,
    star_count: String,
    is_official: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_automated: Option<String>,
}

impl SearchRow {
    fn new(result: &SearchResult, truncate: bool, json: bool) -> Self {
        let flag = |value: bool| match (value, json) {
            (true, true) => "true".to_owned(),
            (false, true) => "false".to_owned(),
            (true, false) => "[OK]".to_owned(),
            (false, false) => String::new(),
        };
        let description = result.description.replace(['\n', '\r'], " ");
        Self {
            name: result.name.clone(),
            description: if truncate {
                ellipsis(&description, DESCRIPTION_WIDTH)
            } else {
                description
            },
            star_count: result.star_count.to_string(),
            is_official: flag(result.is_official),
            // Docker's JSON no longer has it.
            is_automated: (!json).then(|| flag(result.is_automated)),
        }
    }
}

impl hoist_render::RowFields for SearchRow {
    fn field(&self, name: &str) -> Option<String> {
        Some(match name {
            "Name" => self.name.clone(),
            "Description" => self.description.clone(),
            "StarCount" => self.star_count.clone(),
            "IsOfficial" => self.is_official.clone(),
            "IsAutomated" => self.is_automated.clone()?,
            _ => return None,
        })
    }
}

/// Go's `formatter.Ellipsis`: at most `max_width` columns (East Asian wide characters count two),
/// cut with a final `…` when longer.
fn ellipsis(text: &str, max_width: usize) -> String {
    let width: usize = text.chars().map(char_width).sum();
    if width <= max_width {
        return text.to_owned();
    }
    let mut kept = String::new();
    let mut used = 0;
    for c in text.chars() {
        used += char_width(c);
        if used > max_width.saturating_sub(1) {
            break;
        }
        kept.push(c);
    }
    kept.push('…');
    kept
}

/// Columns a character takes: two for East Asian wide and fullwidth characters, else one (as Go's
/// `width.LookupRune`, over the main blocks).
fn char_width(c: char) -> usize {
    let wide = matches!(u32::from(c),
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x2FFFD
        | 0x30000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

pub(crate) fn search(settings: &hoist_ops::Settings, a: &SearchArgs) -> Result<u8> {
    let mentions_is_automated = a.filter.iter().any(|f| {
        f.split_once('=')
            .is_some_and(|(key, _)| key.trim().eq_ignore_ascii_case("is-automated"))
    });
    if mentions_is_automated {
        eprintln!(
            "WARNING: the \"is-automated\" filter is deprecated, and searching for \"is-automated=true\" will not yield any results in future."
        );
    }
    let filters = match SearchFilters::parse(&a.filter) {
        Ok(filters) => filters,
        Err(e @ SearchError::FilterFormat { .. }) => {
            eprintln!("{e}\nSee 'hoist search --help'.");
            return Ok(USAGE_ERROR);
        }
        Err(e) => return Err(e.into()),
    };
    let format = a.format.as_deref().unwrap_or("");
    if let Format::Template(template) | Format::Table(template) = Format::parse(format) {
        hoist_render::validate_template(&template)?;
    }
    let options = SearchOptions {
        term: a.term.clone(),
        limit: a.limit,
        filters,
    };
    let outcome = runtime()?.block_on(hoist_ops::search::search(settings, &options))?;
    if let Some(failure) = &outcome.mirror_failure {
        let registry = match &outcome.source {
            SearchSource::Search { registry, .. } | SearchSource::Catalog { registry, .. } => {
                registry.as_str()
            }
        };
        tracing::warn!(
            "searching through the mirrors of {registry} failed ({}: {}); asked {registry} itself",
            failure.mirror,
            failure.message
        );
    }
    if let SearchSource::Catalog { registry, .. } = &outcome.source {
        tracing::debug!("{registry} has no search endpoint; matched names in its catalog");
    }
    let json = Format::parse(format) == Format::Json;
    let rows: Vec<SearchRow> = outcome
        .results
        .iter()
        .map(|result| SearchRow::new(result, !a.no_trunc, json))
        .collect();
    output::render_rows(Some(format), &rows, &SEARCH_TABLE)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipsis_counts_columns_like_docker() {
        let long = "The Apache HTTP Server Project, a robust web server";
        let cut = ellipsis(long, 45);
        assert_eq!(cut, "The Apache HTTP Server Project, a robust web…");
        assert_eq!(cut.chars().count(), 45);
        assert_eq!(ellipsis("short", 45), "short");
        assert_eq!(ellipsis(&"x".repeat(45), 45), "x".repeat(45));
        // Wide characters take two columns: 22 of them fill 44, then the ellipsis.
        let wide = "漢".repeat(30);
        assert_eq!(ellipsis(&wide, 45), format!("{}…", "漢".repeat(22)));
    }

    #[test]
    fn rows_format_booleans_as_docker_does() {
        let result = SearchResult {
            name: "library/app".to_owned(),
            description: "line one\nline two".to_owned(),
            star_count: 7,
            is_official: true,
            is_automated: false,
        };
        let row = SearchRow::new(&result, true, false);
        assert_eq!(row.description, "line one line two");
        assert_eq!(row.is_official, "[OK]");
        assert_eq!(row.is_automated.as_deref(), Some(""));
        let json = serde_json::to_string(&SearchRow::new(&result, true, true)).unwrap();
        assert_eq!(
            json,
            r#"{"Name":"library/app","Description":"line one line two","StarCount":"7","IsOfficial":"true"}"#
        );
    }
}
