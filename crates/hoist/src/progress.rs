//! Docker's progress bars (`<id>: Loading layer [====>      ]  12.5MB/40MB`) for terminals, redrawn in place.

use std::io::Write;

/// Docker's bar (jsonmessage): 50 cells of `=` by progress, a `>` head, then `%8v/%v` sizes.
pub(crate) fn bar(current: u64, total: u64) -> String {
    const WIDTH: u64 = 50;
    let filled = (current.min(total) * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH);
    let done = "=".repeat(usize::try_from(filled).unwrap_or(0));
    let rest = " ".repeat(usize::try_from(WIDTH - filled).unwrap_or(0));
    format!(
        "[{done}>{rest}] {:>8}/{}",
        crate::output::size4(current),
        crate::output::size4(total)
    )
}

/// Redraws one status line per item on a terminal.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    current: Option<String>,
    last_draw: Option<std::time::Instant>,
}

impl Lines {
    /// Updates the line for `key`; a new key starts a new line.
    pub(crate) fn update(&mut self, key: &str, text: &str, force: bool) {
        let now = std::time::Instant::now();
        let same = self.current.as_deref() == Some(key);
        if same
            && !force
            && self
                .last_draw
                .is_some_and(|t| now.duration_since(t).as_millis() < 100)
        {
            return;
        }
        let mut err = std::io::stdout().lock();
        if same {
            let _ = write!(err, "\r\x1b[2K{text}");
        } else {
            if self.current.is_some() {
                let _ = writeln!(err);
            }
            let _ = write!(err, "{text}");
            self.current = Some(key.to_owned());
        }
        let _ = err.flush();
        self.last_draw = Some(now);
    }

    /// Ends the last line.
    pub(crate) fn finish(&mut self) {
        if self.current.take().is_some() {
            let _ = writeln!(std::io::stdout().lock());
        }
    }
}

/// Docker's layer board for pull and push: one line per layer ID, rewritten in place on a terminal
/// (cursor up, clear, rewrite, cursor down); elsewhere only status changes, one line each, without
/// the bars — the way the Docker CLI prints a daemon's JSON message stream.
#[derive(Debug)]
pub(crate) struct Board<W: Write> {
    out: W,
    terminal: bool,
    ids: Vec<String>,
    last_draw: Option<std::time::Instant>,
}

impl<W: Write> Board<W> {
    pub(crate) fn new(out: W, terminal: bool) -> Self {
        Self {
            out,
            terminal,
            ids: Vec::new(),
            last_draw: None,
        }
    }

    /// A line with no layer ID (`latest: Pulling from library/nginx`, `Digest: …`).
    pub(crate) fn message(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    /// The status of one layer; `progress` is `(current, total)` for a bar. On a terminal, bar updates
    /// are drawn at most every 100 ms; elsewhere they are not printed at all.
    pub(crate) fn layer(&mut self, id: &str, status: &str, progress: Option<(u64, u64)>) {
        if !self.terminal {
            if progress.is_none() {
                let _ = writeln!(self.out, "{id}: {status}");
                let _ = self.out.flush();
            }
            return;
        }
        let now = std::time::Instant::now();
        if progress.is_some()
            && self
                .last_draw
                .is_some_and(|t| now.duration_since(t).as_millis() < 100)
        {
            return;
        }
        self.last_draw = Some(now);
        let text = match progress {
            Some((current, total)) if total > 0 => {
                format!("{id}: {status} {}", bar(current, total))
            }
            _ => format!("{id}: {status}"),
        };
        match self.ids.iter().position(|known| known == id) {
            Some(index) => {
                let up = self.ids.len() - index;
                let _ = write!(self.out, "\x1b[{up}A\r\x1b[2K{text}\r\x1b[{up}B");
            }
            None => {
                self.ids.push(id.to_owned());
                let _ = writeln!(self.out, "{text}");
            }
        }
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_shapes() {
        assert_eq!(bar(0, 100), format!("[>{}]       0B/100B", " ".repeat(50)));
        assert_eq!(
            bar(100, 100),
            format!("[{}>]     100B/100B", "=".repeat(50))
        );
        assert!(bar(50, 100).starts_with(&format!("[{}>{}]", "=".repeat(25), " ".repeat(25))));
    }

    #[test]
    fn board_without_a_terminal_prints_status_changes_only() {
        let mut board = Board::new(Vec::new(), false);
        board.message("1.0: Pulling from app");
        board.layer("aaa", "Pulling fs layer", None);
        board.layer("aaa", "Downloading", Some((5, 10)));
        board.layer("aaa", "Pull complete", None);
        assert_eq!(
            String::from_utf8_lossy(&board.out),
            "1.0: Pulling from app\naaa: Pulling fs layer\naaa: Pull complete\n"
        );
    }

    #[test]
    fn board_on_a_terminal_rewrites_a_known_layer_in_place() {
        let mut board = Board::new(Vec::new(), true);
        board.layer("aaa", "Waiting", None);
        board.layer("bbb", "Waiting", None);
        board.layer("aaa", "Pull complete", None);
        assert_eq!(
            String::from_utf8_lossy(&board.out),
            "aaa: Waiting\nbbb: Waiting\n\x1b[2A\r\x1b[2Kaaa: Pull complete\r\x1b[2B"
        );
    }
}
