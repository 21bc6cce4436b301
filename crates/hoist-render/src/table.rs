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
    if let Some(out) = align_uniform(text) {
        return Ok(out);
    }
    let mut writer = TabWriter::new(Vec::with_capacity(text.len() * 2))
        .minwidth(7)
        .padding(3);
    writer.write_all(text.as_bytes())?;
    writer.into_inner().map_err(|error| {
        RenderError::Io(std::io::Error::new(error.error().kind(), error.to_string()))
    })
}

/// The common case done directly: ASCII text whose lines all have the same number of cells. Then every
/// column forms one block spanning all lines, and Go's rule reduces to `max(widest cell + 3, 10)` per
/// tab-terminated column (the last cell is never padded). Other text goes through `tabwriter`.
fn align_uniform(text: &str) -> Option<Vec<u8>> {
    const MIN_WIDTH: usize = 10;
    const PADDING: usize = 3;
    if !text.is_ascii() {
        return None;
    }
    let body = text.strip_suffix('\n')?;
    let tabs = body
        .split('\n')
        .next()?
        .bytes()
        .filter(|&b| b == b'\t')
        .count();
    let mut widths = vec![0usize; tabs];
    for line in body.split('\n') {
        let mut cells = 0;
        for (i, cell) in line.split('\t').enumerate() {
            if i < tabs {
                widths[i] = widths[i].max(cell.len());
            }
            cells = i;
        }
        if cells != tabs {
            return None;
        }
    }
    for w in &mut widths {
        *w = (*w + PADDING).max(MIN_WIDTH);
    }
    let mut out =
        Vec::with_capacity(text.len() + widths.iter().sum::<usize>() * body.lines().count());
    for line in body.split('\n') {
        for (i, cell) in line.split('\t').enumerate() {
            out.extend_from_slice(cell.as_bytes());
            if let Some(w) = widths.get(i) {
                out.resize(out.len() + (w - cell.len()), b' ');
            }
        }
        out.push(b'\n');
    }
    Some(out)
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
    fn uniform_fast_path_matches_tabwriter() {
        let cases = [
            "A\tBB\tC\nxxxxxxxxxxxxxxxx\t\tlast\n",
            "ID\tCOMMENT\nabc\t\n",
            "one\n",
            "a\tb\n\tc\nlonger-than-ten-chars\td\n",
        ];
        for text in cases {
            let mut writer = TabWriter::new(Vec::new()).minwidth(7).padding(3);
            writer.write_all(text.as_bytes()).unwrap();
            let expected = writer.into_inner().unwrap();
            assert_eq!(align_uniform(text).unwrap(), expected, "{text:?}");
        }
        assert!(align_uniform("a\tb\nc\n").is_none());
        assert!(align_uniform("é\tb\n").is_none());
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
