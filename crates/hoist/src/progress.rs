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
}
