//! Docker's `--format` handling (docker/cli `cli/command/formatter` and `templates`).
//!
//! A format string is one of:
//! - `""` or `"table"`: the command's default table ([`TableSpec::default_template`]);
//! - `"table <template>"` (anything starting with `table`): the template, rendered as a
//!   tab-aligned table under a header row; the header comes from executing the same template
//!   once over the command's header map (`.ID` -> `IMAGE ID`, ...);
//! - `"json"`: one JSON object per item and line (Docker's `{{json .}}`: keys sorted,
//!   `<`, `>`, `&` escaped, as Go's `json.Marshal` of a map does);
//! - anything else: a Go template executed per item, each followed by a newline.
//!
//! As Docker does, the text after `table` and custom templates are trimmed of spaces and the
//! two-character sequences `\t` and `\n` become a tab and a newline. Output is produced only
//! when every item rendered, so a failing template prints nothing.
//!
//! List items are Serialize values with Docker's field names, whose fields are the strings
//! Docker's formatter contexts return (`"Size": "7.8MB"`). A field the item lacks is an error,
//! as for Docker's typed contexts. For `inspect --format` ([`render_one`]) the data is the
//! whole inspect JSON object: key order is kept for `{{json ...}}`, integers print as
//! integers, and a missing key prints `<no value>`.

use std::io::Write;
use std::sync::Arc;

use gotmpl::parse::{Expr, ListNode, Node, Parser, PipeNode};
use gotmpl::{FuncMap, MissingKey, Template, TemplateError};
use serde::Serialize;

use crate::RenderError;
use crate::funcs::{DOCKER_FUNCS, GO_BUILTINS, basic_functions, header_functions};
use crate::structure::check_structure;
use crate::table::align;
use crate::value::{JsonHints, from_json, string_map};

/// What the user asked for with `--format`; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// `""` or `"table"`: the command's default table.
    DefaultTable,
    /// A table: the template after the `table` prefix, already trimmed and with `\t`, `\n`
    /// replaced. A command may append columns (Docker adds `\t{{.Digest}}` for `--digests`).
    Table(String),
    /// `"json"`: one JSON object per line.
    Json,
    /// A Go template (trimmed, `\t` and `\n` replaced) executed per item.
    Template(String),
}

impl Format {
    /// Classifies a `--format` value the way Docker's formatter does. Never fails: template
    /// errors surface when rendering (or earlier through [`validate_template`]).
    #[must_use]
    pub fn parse(spec: &str) -> Format {
        match spec {
            "" | "table" => Format::DefaultTable,
            "json" => Format::Json,
            _ => match spec.strip_prefix("table") {
                Some(rest) => Format::Table(docker_template_text(rest)),
                None => Format::Template(docker_template_text(spec)),
            },
        }
    }

    /// Whether the output is a table (with a header row).
    #[must_use]
    pub fn is_table(&self) -> bool {
        matches!(self, Format::DefaultTable | Format::Table(_))
    }
}

/// Docker's `preFormat`: trim spaces, then turn the escapes `\t` and `\n` into characters.
fn docker_template_text(text: &str) -> String {
    text.trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n")
}

/// Per-command table facts: the default table template and the header of each field.
///
/// ```
/// use hoist_render::TableSpec;
/// const HISTORY: TableSpec<'static> = TableSpec {
///     default_template: "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
///     headers: &[
///         ("ID", "IMAGE"),
///         ("CreatedSince", "CREATED"),
///         ("CreatedAt", "CREATED AT"),
///         ("CreatedBy", "CREATED BY"),
///         ("Size", "SIZE"),
///         ("Comment", "COMMENT"),
///     ],
/// };
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TableSpec<'a> {
    /// The template used for `""` and `"table"`, without the `table` prefix. Real tabs or
    /// `\t` escapes both work.
    pub default_template: &'a str,
    /// Field name -> column header (`("ID", "IMAGE ID")`). A field missing here shows as
    /// `<no value>` in the header, as in Docker.
    pub headers: &'a [(&'a str, &'a str)],
}

/// Renders a list command's items in `format` to `out`.
///
/// ```
/// use hoist_render::{Format, TableSpec, render_items};
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// #[serde(rename_all = "PascalCase")]
/// struct Row { repository: String, tag: String, size: String }
///
/// let spec = TableSpec {
///     default_template: "{{.Repository}}\t{{.Tag}}\t{{.Size}}",
///     headers: &[("Repository", "REPOSITORY"), ("Tag", "TAG"), ("Size", "SIZE")],
/// };
/// let rows = [Row { repository: "alpine".into(), tag: "3.20".into(), size: "8.83MB".into() }];
/// let mut out = Vec::new();
/// render_items(&Format::parse("table"), &rows, &spec, &mut out).unwrap();
/// assert_eq!(
///     String::from_utf8(out).unwrap(),
///     "REPOSITORY   TAG       SIZE\nalpine       3.20      8.83MB\n",
/// );
/// ```
///
/// # Errors
///
/// [`RenderError::TemplateParse`] / [`RenderError::TemplateExec`] for a bad template (nothing
/// is written then), [`RenderError::Data`] when an item does not serialise,
/// [`RenderError::Io`] when writing fails.
pub fn render_items<T: Serialize>(
    format: &Format,
    items: &[T],
    spec: &TableSpec<'_>,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    let (source, is_table) = match format {
        Format::DefaultTable => (docker_template_text(spec.default_template), true),
        Format::Table(text) => (text.clone(), true),
        Format::Json => ("{{json .}}".to_string(), false),
        Format::Template(text) => (text.clone(), false),
    };

    if let Some(parts) = plain_fields(&source)
        && let Some(body) = render_plain(&parts, items)?
    {
        return write_plain(&parts, is_table, spec, &body, out);
    }

    let mut hints = JsonHints::default();
    let mut data = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let json = serde_json::to_value(item).map_err(|error| RenderError::Data {
            what: format!("item {index}"),
            message: error.to_string(),
        })?;
        // Docker's contexts marshal through a Go map: sorted keys, HTML escaped.
        let value = from_json(&json, false, &mut hints);
        hints.mark_html_escaped(&value);
        data.push(value);
    }

    let template = compile(&source, basic_functions(Arc::new(hints)), MissingKey::Error)?;
    let mut body = String::new();
    for value in &data {
        template
            .execute_fmt(&mut body, value)
            .map_err(|error| exec_error(&source, error))?;
        body.push('\n');
    }

    if is_table {
        let header_template = compile(&source, header_functions(), MissingKey::Invalid)?;
        let mut text = String::new();
        // Docker ignores header errors and keeps whatever was written before the failure.
        let _ignored = header_template.execute_fmt(&mut text, &string_map(spec.headers));
        text.push('\n');
        text.push_str(&body);
        out.write_all(&align(&text)?)?;
    } else {
        out.write_all(body.as_bytes())?;
    }
    Ok(())
}

/// A list row that can produce one field at a time, so plain templates (`{{.ID}}`, the default
/// tables) compute only the columns they print. Its `Serialize` form is what other templates see.
pub trait RowFields: Serialize {
    /// The field's text, or `None` if the row has no such field.
    fn field(&self, name: &str) -> Option<String>;
}

/// Like [`render_items`], but plain templates ask each row only for the fields they print.
///
/// # Errors
///
/// As [`render_items`].
pub fn render_rows<T: RowFields>(
    format: &Format,
    rows: &[T],
    spec: &TableSpec<'_>,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    let (source, is_table) = match format {
        Format::DefaultTable => (docker_template_text(spec.default_template), true),
        Format::Table(text) => (text.clone(), true),
        Format::Template(text) => (text.clone(), false),
        Format::Json => return render_items(format, rows, spec, out),
    };
    let Some(parts) = plain_fields(&source) else {
        return render_items(format, rows, spec, out);
    };
    let mut body = String::new();
    for row in rows {
        for part in &parts {
            match part {
                PlainPart::Text(t) => body.push_str(t),
                PlainPart::Field(f) => match row.field(f) {
                    Some(v) => body.push_str(&v),
                    None => return render_items(format, rows, spec, out),
                },
            }
        }
        body.push('\n');
    }
    write_plain(&parts, is_table, spec, &body, out)
}

fn write_plain(
    parts: &[PlainPart<'_>],
    is_table: bool,
    spec: &TableSpec<'_>,
    body: &str,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    let mut text = String::new();
    if is_table {
        for part in parts {
            match part {
                PlainPart::Text(t) => text.push_str(t),
                PlainPart::Field(f) => {
                    text.push_str(
                        spec.headers
                            .iter()
                            .find(|(k, _)| k == f)
                            .map_or("<no value>", |(_, h)| h),
                    );
                }
            }
        }
        text.push('\n');
    }
    text.push_str(body);
    if is_table {
        out.write_all(&align(&text)?)?;
    } else {
        out.write_all(text.as_bytes())?;
    }
    Ok(())
}

/// A piece of a template made only of literal text and `{{.Field}}` actions.
enum PlainPart<'a> {
    Text(&'a str),
    Field(&'a str),
}

/// Splits a template that uses nothing but `{{.Field}}` actions (the common list formats), or `None`.
/// Such templates are rendered by substitution: the same output as the template engine for string
/// fields, without building a template value per item (`images` lists thousands of rows).
fn plain_fields(source: &str) -> Option<Vec<PlainPart<'_>>> {
    let mut parts = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(PlainPart::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        let field = after[..end].strip_prefix('.')?;
        if field.is_empty()
            || !field
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return None;
        }
        parts.push(PlainPart::Field(field));
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        return None;
    }
    if !rest.is_empty() {
        parts.push(PlainPart::Text(rest));
    }
    Some(parts)
}

/// Renders items by substitution; `None` when a field is not a plain string (the engine decides then).
fn render_plain<T: Serialize>(
    parts: &[PlainPart<'_>],
    items: &[T],
) -> Result<Option<String>, RenderError> {
    let mut body = String::new();
    for (index, item) in items.iter().enumerate() {
        let json = serde_json::to_value(item).map_err(|error| RenderError::Data {
            what: format!("item {index}"),
            message: error.to_string(),
        })?;
        for part in parts {
            match part {
                PlainPart::Text(t) => body.push_str(t),
                PlainPart::Field(f) => match json.get(*f) {
                    Some(serde_json::Value::String(v)) => body.push_str(v),
                    _ => return Ok(None),
                },
            }
        }
        body.push('\n');
    }
    Ok(Some(body))
}

/// Renders one `inspect --format` template over the whole inspect object and writes the
/// result plus a newline, as `docker inspect --format` does per element. Nothing is written
/// on error. The formats `""` and `"json"` are not templates: use
/// [`write_inspect_json`](crate::write_inspect_json) and
/// [`write_inspect_json_compact`](crate::write_inspect_json_compact). Unlike list formats,
/// inspect templates are used verbatim (no trimming, no `\t` replacement). When no element
/// could be rendered at all, Docker prints a single empty line.
///
/// Two differences from Docker come from rendering JSON rather than Go structs, which the
/// JSON cannot tell apart from maps:
/// - a missing key prints `<no value>` everywhere. Docker does that for map keys
///   (`{{.Config.Labels.nope}}`) but reports an unknown struct field (`{{.Nope}}`) as
///   `map has no entry for key "Nope"`;
/// - JSON `null` prints `<no value>`, where Docker prints a nil slice as `[]` and a nil map as
///   `map[]`: pass `[]`/`{}` for such fields if that output matters.
///
/// # Errors
///
/// As [`render_items`].
pub fn render_one(
    template: &str,
    value: &serde_json::Value,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    let mut hints = JsonHints::default();
    let data = from_json(value, true, &mut hints);
    let compiled = compile(
        template,
        basic_functions(Arc::new(hints)),
        MissingKey::Invalid,
    )?;
    let mut text = String::new();
    compiled
        .execute_fmt(&mut text, &data)
        .map_err(|error| exec_error(template, error))?;
    text.push('\n');
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// Checks that `template` parses and uses only known functions, as Docker does before it
/// fetches anything (its inspect exits with status 64 on such errors).
///
/// # Errors
///
/// [`RenderError::TemplateParse`].
pub fn validate_template(template: &str) -> Result<(), RenderError> {
    compile(
        template,
        basic_functions(Arc::default()),
        MissingKey::Invalid,
    )
    .map(drop)
}

fn compile(source: &str, funcs: FuncMap, missing_key: MissingKey) -> Result<Template, RenderError> {
    let template = Template::new("")
        .missing_key(missing_key)
        .funcs(funcs)
        .parse(source)
        .map_err(|error| parse_error(source, error))?;
    check_structure(source).map_err(|(line, message)| RenderError::TemplateParse {
        template: source.to_string(),
        line,
        message,
    })?;
    check_functions_defined(source)?;
    Ok(template)
}

fn parse_error(source: &str, error: TemplateError) -> RenderError {
    let (line, message) = match error {
        TemplateError::Parse { line, message, .. } | TemplateError::Lex { line, message, .. } => {
            (line, message)
        }
        other => (1, other.to_string()),
    };
    RenderError::TemplateParse {
        template: source.to_string(),
        line,
        message,
    }
}

fn exec_error(source: &str, error: TemplateError) -> RenderError {
    let message = match error {
        TemplateError::Exec(message) => message,
        TemplateError::MissingKey { key } => format!("map has no entry for key \"{key}\""),
        TemplateError::UndefinedFunction(name) => format!("function \"{name}\" not defined"),
        other => other.to_string(),
    };
    RenderError::TemplateExec {
        template: source.to_string(),
        message,
    }
}

/// Go rejects calls to unknown functions when parsing; gotmpl only when executing them.
/// Walk the tree so a misspelt function fails up front, even in a branch never taken.
fn check_functions_defined(source: &str) -> Result<(), RenderError> {
    let parsed = Parser::new(source, "{{", "}}").and_then(Parser::parse);
    let (tree, defines) = parsed.map_err(|error| parse_error(source, error))?;
    let mut unknown = None;
    visit_list(&tree, &mut unknown);
    for define in &defines {
        visit_list(&define.body, &mut unknown);
    }
    match unknown {
        Some((line, name)) => Err(RenderError::TemplateParse {
            template: source.to_string(),
            line,
            message: format!("function \"{name}\" not defined"),
        }),
        None => Ok(()),
    }
}

type Unknown = Option<(usize, String)>;

fn visit_list(list: &ListNode, unknown: &mut Unknown) {
    for node in &list.nodes {
        match node {
            Node::List(inner) => visit_list(inner, unknown),
            Node::Action(action) => visit_pipe(&action.pipe, unknown),
            Node::If(branch) | Node::Range(branch) | Node::With(branch) => {
                visit_pipe(&branch.pipe, unknown);
                visit_list(&branch.body, unknown);
                if let Some(else_body) = &branch.else_body {
                    visit_list(else_body, unknown);
                }
            }
            Node::Template(call) => {
                if let Some(pipe) = &call.pipe {
                    visit_pipe(pipe, unknown);
                }
            }
            Node::Define(define) => visit_list(&define.body, unknown),
            Node::Text(_) | Node::Break(_) | Node::Continue(_) => {}
        }
    }
}

fn visit_pipe(pipe: &PipeNode, unknown: &mut Unknown) {
    for command in &pipe.commands {
        for arg in &command.args {
            visit_expr(arg, unknown);
        }
    }
}

fn visit_expr(expr: &Expr, unknown: &mut Unknown) {
    match expr {
        Expr::Identifier(pos, name) => {
            let known =
                GO_BUILTINS.contains(&name.as_str()) || DOCKER_FUNCS.contains(&name.as_str());
            if !known && unknown.is_none() {
                *unknown = Some((pos.line, name.to_string()));
            }
        }
        Expr::Pipe(_, pipe) => visit_pipe(pipe, unknown),
        Expr::Chain(_, inner, _) => visit_expr(inner, unknown),
        Expr::Dot(_)
        | Expr::Field(..)
        | Expr::Variable(..)
        | Expr::String(..)
        | Expr::Number(..)
        | Expr::Bool(..)
        | Expr::Nil(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct ImageRow {
        #[serde(rename = "ID")]
        id: &'static str,
        repository: &'static str,
        tag: &'static str,
        digest: &'static str,
        created_since: &'static str,
        size: &'static str,
    }

    const IMAGES: TableSpec<'static> = TableSpec {
        default_template: "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}",
        headers: &[
            ("ID", "IMAGE ID"),
            ("Repository", "REPOSITORY"),
            ("Tag", "TAG"),
            ("Digest", "DIGEST"),
            ("CreatedSince", "CREATED"),
            ("CreatedAt", "CREATED AT"),
            ("Size", "SIZE"),
        ],
    };

    fn rows() -> Vec<ImageRow> {
        vec![
            ImageRow {
                id: "9c6f07244728",
                repository: "alpine",
                tag: "latest",
                digest: "<none>",
                created_since: "2 weeks ago",
                size: "8.83MB",
            },
            ImageRow {
                id: "0d8a3bd57b29",
                repository: "registry.example.com/team/app",
                tag: "v1.2.3",
                digest: "sha256:abc",
                created_since: "",
                size: "188MB",
            },
        ]
    }

    fn render(format: &str) -> Result<String, RenderError> {
        let mut out = Vec::new();
        render_items(&Format::parse(format), &rows(), &IMAGES, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn inspect(template: &str, value: &serde_json::Value) -> Result<String, RenderError> {
        let mut out = Vec::new();
        render_one(template, value, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn format_classification_follows_docker() {
        assert_eq!(Format::parse(""), Format::DefaultTable);
        assert_eq!(Format::parse("table"), Format::DefaultTable);
        assert_eq!(Format::parse("json"), Format::Json);
        assert_eq!(
            Format::parse("table {{.ID}}\\t{{.Size}} "),
            Format::Table("{{.ID}}\t{{.Size}}".into())
        );
        assert_eq!(
            Format::parse(" {{.ID}}\\n"),
            Format::Template("{{.ID}}\n".into())
        );
        assert_eq!(Format::parse("JSON"), Format::Template("JSON".into()));
        assert!(Format::parse("table").is_table());
        assert!(!Format::parse("{{.ID}}").is_table());
    }

    #[test]
    fn default_table() {
        let expected = "\
REPOSITORY                      TAG       IMAGE ID       CREATED       SIZE
alpine                          latest    9c6f07244728   2 weeks ago   8.83MB
registry.example.com/team/app   v1.2.3    0d8a3bd57b29   N/A           188MB
";
        assert_eq!(render("").unwrap(), expected);
        assert_eq!(render("table").unwrap(), expected);
    }

    #[test]
    fn custom_table_with_escaped_tabs() {
        let expected = "\
REPOSITORY                      TAG       SIZE
alpine                          latest    8.83MB
registry.example.com/team/app   v1.2.3    188MB
";
        assert_eq!(
            render("table {{.Repository}}\\t{{.Tag}}\\t{{.Size}}").unwrap(),
            expected
        );
    }

    #[test]
    fn table_header_uses_header_functions() {
        let out = render(
            "table {{upper .Repository}}\\t{{lower .Tag}}\\t{{truncate .ID 3}}\\t{{json .Size}}",
        )
        .unwrap();
        let expected = "\
REPOSITORY                      TAG       IMAGE ID   SIZE
ALPINE                          latest    9c6        \"8.83MB\"
REGISTRY.EXAMPLE.COM/TEAM/APP   v1.2.3    0d8        \"188MB\"
";
        assert_eq!(out, expected);
    }

    #[test]
    fn table_with_unknown_header_shows_no_value() {
        let out = render_items(
            &Format::parse("table {{.ID}}\\t{{.Tag}}"),
            &rows(),
            &TableSpec {
                default_template: "",
                headers: &[("ID", "IMAGE ID")],
            },
            &mut Vec::new(),
        );
        assert!(out.is_ok());
        let mut bytes = Vec::new();
        render_items(
            &Format::parse("table {{.ID}}\\t{{.Tag}}"),
            &rows()[..1],
            &TableSpec {
                default_template: "",
                headers: &[("ID", "IMAGE ID")],
            },
            &mut bytes,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "IMAGE ID       <no value>\n9c6f07244728   latest\n"
        );
    }

    #[test]
    fn empty_list_table_prints_the_header_only() {
        let mut out = Vec::new();
        render_items::<ImageRow>(&Format::DefaultTable, &[], &IMAGES, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
        );
        let mut out = Vec::new();
        render_items::<ImageRow>(&Format::Json, &[], &IMAGES, &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn plain_template_per_line() {
        assert_eq!(
            render("{{.Repository}}:{{.Tag}}").unwrap(),
            "alpine:latest\nregistry.example.com/team/app:v1.2.3\n"
        );
        // `\t` becomes a real tab, and no alignment happens outside tables.
        assert_eq!(
            render("{{.ID}}\\t{{.Size}}").unwrap(),
            "9c6f07244728\t8.83MB\n0d8a3bd57b29\t188MB\n"
        );
    }

    #[test]
    fn json_format_sorts_keys_and_escapes_html_like_docker() {
        let out = render("json").unwrap();
        let first = r#"{"CreatedSince":"2 weeks ago","Digest":"\u003cnone\u003e","ID":"9c6f07244728","Repository":"alpine","Size":"8.83MB","Tag":"latest"}"#;
        assert_eq!(out.lines().next(), Some(first));
        assert_eq!(out.lines().count(), 2);
        assert!(out.ends_with("}\n"));
        // `{{json .Field}}` on a string is not HTML-escaped (no Marshaler involved).
        assert_eq!(
            render("{{json .Digest}}").unwrap(),
            "\"<none>\"\n\"sha256:abc\"\n"
        );
        assert_eq!(render("{{json .}}").unwrap(), out);
    }

    #[test]
    fn unknown_field_in_a_list_is_an_error_and_prints_nothing() {
        let mut out = Vec::new();
        let error = render_items(
            &Format::parse("{{.ID}} {{.Nope}}"),
            &rows(),
            &IMAGES,
            &mut out,
        )
        .unwrap_err();
        assert!(
            matches!(error, RenderError::TemplateExec { .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "template parsing error: template: map has no entry for key \"Nope\""
        );
        assert!(out.is_empty());
    }

    #[test]
    fn parse_errors_read_like_docker() {
        let error = render("{{.ID").unwrap_err();
        assert!(
            matches!(error, RenderError::TemplateParse { line: 1, .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "template parsing error: template: :1: unclosed action"
        );
        let error = render("{{if .ID}}\n{{nope .ID}}{{end}}").unwrap_err();
        assert_eq!(
            error.to_string(),
            "template parsing error: template: :2: function \"nope\" not defined"
        );
        assert!(validate_template("{{range .RepoTags}}{{.}}{{end}}").is_ok());
        assert_eq!(
            validate_template("{{range .RepoTags}}{{.}}")
                .unwrap_err()
                .to_string(),
            "template parsing error: template: :1: unexpected EOF"
        );
        assert!(validate_template("{{.ID}}{{end}}").is_err());
        assert!(validate_template("{{define \"x\"}}{{bogus}}{{end}}").is_err());
    }

    #[test]
    fn docker_functions() {
        let value = json!({
            "Name": "hello world",
            "Tags": ["a:1", "b:2"],
            "Csv": "x,y,z",
            "Empty": "",
        });
        let cases = [
            (r#"{{join .Tags ","}}"#, "a:1,b:2"),
            (r#"{{split .Csv ","}}"#, "[x y z]"),
            (r#"{{index (split .Csv ",") 1}}"#, "y"),
            ("{{title .Name}}", "Hello World"),
            ("{{upper .Name}}|{{lower \"ABC\"}}", "HELLO WORLD|abc"),
            ("{{pad .Name 2 1}}|{{pad .Empty 2 1}}|", "  hello world ||"),
            (
                "{{truncate .Name 5}}|{{truncate .Name 50}}",
                "hello|hello world",
            ),
            ("{{println .Name}}", "hello world\n"),
            ("{{len .Tags}} {{index .Tags 0}}", "2 a:1"),
            ("{{range .Tags}}{{.}} {{end}}", "a:1 b:2 "),
            (
                "{{range $i, $t := .Tags}}{{$i}}={{$t}};{{end}}",
                "0=a:1;1=b:2;",
            ),
            (r#"{{printf "%s-%d" .Name 7}}"#, "hello world-7"),
            (r#"{{if eq .Name "hello world"}}yes{{end}}"#, "yes"),
            ("{{.Tags}}", "[a:1 b:2]"),
            ("{{json .Tags}}", r#"["a:1","b:2"]"#),
        ];
        for (template, expected) in cases {
            assert_eq!(
                inspect(template, &value).unwrap(),
                format!("{expected}\n"),
                "{template}"
            );
        }
        let error = inspect("{{upper .Tags}}", &value).unwrap_err();
        assert_eq!(
            error.to_string(),
            "template parsing error: template: wrong type for value; expected string; got list"
        );
        assert!(inspect("{{join .Name \",\"}}", &value).is_err());
        assert!(inspect("{{pad .Name -1 0}}", &value).is_err());
        assert!(inspect("{{json}}", &value).is_err());
    }

    fn image_inspect() -> serde_json::Value {
        json!({
            "Id": "sha256:9c6f0724472873bb50a2ae67a9e7adcb57673a183cea8b06eb778dca859181b5",
            "RepoTags": ["alpine:latest", "alpine:3.20"],
            "RepoDigests": [],
            "Created": "2024-05-01T10:00:00.123Z",
            "Config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin"],
                "Cmd": ["/bin/sh"],
                "Entrypoint": ["/docker-entrypoint.sh", "--flag"],
                "WorkingDir": "",
                "Labels": {"org.b": "2", "org.a": "<1>"},
            },
            "Architecture": "amd64",
            "Os": "linux",
            "Size": 7_797_760,
            "RootFS": {"Type": "layers", "Layers": ["sha256:aaa", "sha256:bbb"]},
        })
    }

    #[test]
    fn inspect_templates() {
        let value = image_inspect();
        let cases = [
            ("{{.Config.Entrypoint}}", "[/docker-entrypoint.sh --flag]"),
            ("{{.RootFS.Layers}}", "[sha256:aaa sha256:bbb]"),
            ("{{index .RepoTags 0}}", "alpine:latest"),
            (r#"{{join .RepoTags ","}}"#, "alpine:latest,alpine:3.20"),
            (
                "{{range .RepoTags}}{{.}} {{end}}",
                "alpine:latest alpine:3.20 ",
            ),
            ("{{.Os}}/{{.Architecture}}", "linux/amd64"),
            ("{{.Size}}", "7797760"),
            ("{{.Config.Labels}}", "map[org.a:<1> org.b:2]"),
            (r#"{{index .Config.Labels "org.b"}}"#, "2"),
            ("{{.Config.Labels.missing}}", "<no value>"),
            ("{{.Nope}}", "<no value>"),
            ("{{.RepoDigests}}", "[]"),
            ("{{len .RootFS.Layers}}", "2"),
        ];
        for (template, expected) in cases {
            assert_eq!(
                inspect(template, &value).unwrap(),
                format!("{expected}\n"),
                "{template}"
            );
        }
    }

    #[test]
    fn json_function_keeps_struct_order_and_does_not_escape() {
        let value = image_inspect();
        assert_eq!(
            inspect("{{json .Config}}", &value).unwrap(),
            "{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin\"],\"Cmd\":[\"/bin/sh\"],\"Entrypoint\":[\"/docker-entrypoint.sh\",\"--flag\"],\"WorkingDir\":\"\",\"Labels\":{\"org.b\":\"2\",\"org.a\":\"<1>\"}}\n"
        );
        assert_eq!(
            inspect("{{json .Size}} {{json .Os}}", &value).unwrap(),
            "7797760 \"linux\"\n"
        );
        let whole = inspect("{{json .}}", &value).unwrap();
        assert!(whole.starts_with("{\"Id\":\"sha256:9c6f"), "{whole}");
        // A map reached through range keeps its order too.
        assert_eq!(
            inspect(
                "{{range .}}{{if .Layers}}{{json .}}{{end}}{{end}}",
                &json!({"R": {"Type": "layers", "Layers": ["x"]}})
            )
            .unwrap(),
            "{\"Type\":\"layers\",\"Layers\":[\"x\"]}\n"
        );
    }

    #[test]
    fn inspect_errors_write_nothing() {
        let mut out = Vec::new();
        let error = render_one("{{index .RepoTags 5}}", &image_inspect(), &mut out).unwrap_err();
        assert!(
            matches!(error, RenderError::TemplateExec { .. }),
            "{error:?}"
        );
        assert!(out.is_empty());
        let error = render_one("{{.Os", &image_inspect(), &mut out).unwrap_err();
        assert_eq!(
            error.to_string(),
            "template parsing error: template: :1: unclosed action"
        );
    }

    #[test]
    fn items_that_do_not_serialise_are_reported() {
        let mut map = std::collections::HashMap::new();
        map.insert((1, 2), "x");
        let error = render_items(&Format::Json, &[map], &IMAGES, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(error, RenderError::Data { ref what, .. } if what == "item 0"),
            "{error:?}"
        );
    }
}
