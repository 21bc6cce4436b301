//! Docker's table layout: Go's `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
//!
//! Each column is as wide as its widest cell plus three spaces, and at least ten; the last
//! cell of a line is not part of a column and is written without padding, so lines carry no
//! trailing whitespace. The `tabwriter` crate adds its padding after applying the minimum
//! width, so Go's minimum of 10 with padding 3 is `.minwidth(7).padding(3)` here. As in Go,
//! only tab-terminated cells on consecutive lines form a column; cell width counts display
//! columns (wide characters count two), as Docker's tabwriter fork does.

use std::io::Write;

use tabwriter::TabWriter;

use crate::RenderError;

/// Writes a header row and data rows as Docker aligns them. Cells must not contain tabs or
/// newlines (they would start new cells or lines, as in Docker).
///
/// # Errors
///
/// [`RenderError::Io`] when writing fails.
pub fn write_table<S: AsRef<str>>(
    header: &[&str],
    rows: &[Vec<S>],
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    let mut text = header.join("\t");
    text.push('\n');
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            if index > 0 {
                text.push('\t');
            }
            text.push_str(cell.as_ref());
        }
        text.push('\n');
    }
    out.write_all(&align(&text)?)?;
    Ok(())
}

/// Aligns tab-separated `text` with Docker's tabwriter settings.
pub(crate) fn align(text: &str) -> Result<Vec<u8>, RenderError> {
    let mut writer = TabWriter::new(Vec::with_capacity(text.len() * 2))
        .minwidth(7)
        .padding(3);
    writer.write_all(text.as_bytes())?;
    writer.into_inner().map_err(|error| {
        RenderError::Io(std::io::Error::new(error.error().kind(), error.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(header: &[&str], rows: &[Vec<&str>]) -> String {
        let mut out = Vec::new();
        write_table(header, rows, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn docker_images_layout() {
        let out = table(
            &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
            &[
                vec!["alpine", "latest", "9c6f07244728", "2 weeks ago", "8.83MB"],
                vec![
                    "docker.io/library/debian",
                    "bookworm-slim",
                    "0d8a3bd57b29",
                    "3 months ago",
                    "74.8MB",
                ],
            ],
        );
        let expected = "\
REPOSITORY                 TAG             IMAGE ID       CREATED        SIZE
alpine                     latest          9c6f07244728   2 weeks ago    8.83MB
docker.io/library/debian   bookworm-slim   0d8a3bd57b29   3 months ago   74.8MB
";
        assert_eq!(out, expected);
    }

    #[test]
    fn minimum_column_width_is_ten() {
        let out = table(&["A", "B", "C"], &[vec!["x", "", "z"]]);
        assert_eq!(out, "A         B         C\nx                   z\n");
    }

    #[test]
    fn header_only_when_no_rows() {
        let out = table(&["IMAGE", "CREATED"], &[]);
        assert_eq!(out, "IMAGE     CREATED\n");
    }

    #[test]
    fn last_cell_is_never_padded() {
        let out = table(
            &["ID", "COMMENT"],
            &[vec!["abc", "x"], vec!["defghijklmnop", "yy"]],
        );
        assert_eq!(
            out,
            "ID              COMMENT\nabc             x\ndefghijklmnop   yy\n"
        );
        assert!(out.lines().all(|line| !line.ends_with(' ')));
    }

    #[test]
    fn empty_last_cell_leaves_the_previous_column_padded_as_go_does() {
        // `docker history` prints exactly this when COMMENT is empty.
        let out = table(&["SIZE", "COMMENT"], &[vec!["0B", ""]]);
        assert_eq!(out, "SIZE      COMMENT\n0B        \n");
    }

    #[test]
    fn wide_characters_count_double() {
        let out = table(&["NAME", "X"], &[vec!["日本語日本語", "1"]]);
        assert_eq!(out, "NAME           X\n日本語日本語   1\n");
    }
}
