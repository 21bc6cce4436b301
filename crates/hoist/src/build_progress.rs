//! Drawing a build's progress events the three ways BuildKit does: `plain` (numbered log lines), `tty` (a
//! live view redrawn in place: a header with the elapsed time and one line per step, the running step's
//! last output lines under it) and `rawjson` (one JSON object per event).

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hoist_ops::build::BuildEvent;

/// How `--progress` asked to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Quiet,
    Plain,
    Tty,
    RawJson,
}

impl Mode {
    /// `auto` is `tty` on a terminal, else `plain`, as in buildx.
    pub(crate) fn pick(requested: &str, quiet: bool, terminal: bool) -> Self {
        match requested {
            _ if quiet => Self::Quiet,
            "quiet" => Self::Quiet,
            "plain" => Self::Plain,
            "rawjson" => Self::RawJson,
            "tty" => Self::Tty,
            _ if terminal => Self::Tty,
            _ => Self::Plain,
        }
    }
}

#[derive(Debug, Clone)]
struct VertexView {
    id: usize,
    name: String,
    started: Instant,
    finished: Option<f64>,
    cached: bool,
    failed: bool,
    output: Vec<String>,
}

struct State {
    mode: Mode,
    out: Box<dyn Write + Send>,
    vertices: Vec<VertexView>,
    started: Instant,
    /// Lines the tty view drew last time (to move back over them).
    drawn: usize,
    any_started: bool,
    finished: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// A progress sink shared with the ticker that keeps the tty view's clock moving.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    state: Arc<Mutex<State>>,
}

impl Progress {
    pub(crate) fn new(mode: Mode, out: Box<dyn Write + Send>) -> Self {
        let progress = Self {
            state: Arc::new(Mutex::new(State {
                mode,
                out,
                vertices: Vec::new(),
                started: Instant::now(),
                drawn: 0,
                any_started: false,
                finished: false,
            })),
        };
        if mode == Mode::Tty {
            let ticker = progress.clone();
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_millis(120));
                    let mut state = ticker.lock();
                    if state.finished {
                        break;
                    }
                    redraw(&mut state);
                }
            });
        }
        progress
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn event(&self, event: BuildEvent) {
        let mut state = self.lock();
        match state.mode {
            Mode::Quiet => {}
            Mode::Plain => plain(&mut state, &event),
            Mode::RawJson => raw_json(&mut state, &event),
            Mode::Tty => {
                record(&mut state, &event);
                redraw(&mut state);
            }
        }
    }

    /// Stops the ticker and draws the final view (`FINISHED`, or the failed step's log in full).
    pub(crate) fn finish(&self, ok: bool) {
        let mut state = self.lock();
        if state.mode != Mode::Tty || state.finished {
            state.finished = true;
            return;
        }
        state.finished = true;
        redraw(&mut state);
        if !ok {
            let failed: Vec<VertexView> = state
                .vertices
                .iter()
                .filter(|v| v.failed)
                .cloned()
                .collect();
            for vertex in failed {
                let _ = writeln!(state.out, "------\n > {}:", vertex.name);
                for line in &vertex.output {
                    let _ = writeln!(state.out, "{line}");
                }
                let _ = writeln!(state.out, "------");
            }
        }
        let _ = state.out.flush();
    }
}

fn plain(state: &mut State, event: &BuildEvent) {
    let out = &mut state.out;
    let _ = match event {
        BuildEvent::Started { vertex, name } => {
            let gap = if state.any_started { "\n" } else { "" };
            state.any_started = true;
            writeln!(out, "{gap}#{vertex} {name}")
        }
        BuildEvent::Status { vertex, text } => writeln!(out, "#{vertex} {text}"),
        BuildEvent::Output {
            vertex,
            elapsed,
            line,
        } => writeln!(out, "#{vertex} {elapsed:.3} {line}"),
        BuildEvent::Cached { vertex } => writeln!(out, "#{vertex} CACHED"),
        BuildEvent::Done { vertex, seconds } => writeln!(out, "#{vertex} DONE {seconds:.1}s"),
        BuildEvent::Failed {
            vertex,
            seconds,
            message,
        } => writeln!(
            out,
            "#{vertex} ERROR: {message}\n#{vertex} DONE {seconds:.1}s"
        ),
    };
    let _ = out.flush();
}

fn raw_json(state: &mut State, event: &BuildEvent) {
    let value = match event {
        BuildEvent::Started { vertex, name } => {
            serde_json::json!({"vertexes": [{"digest": vertex.to_string(), "name": name, "started": chrono::Utc::now().to_rfc3339()}]})
        }
        BuildEvent::Status { vertex, text } => {
            serde_json::json!({"statuses": [{"vertex": vertex.to_string(), "name": text}]})
        }
        BuildEvent::Output { vertex, line, .. } => {
            serde_json::json!({"logs": [{"vertex": vertex.to_string(), "stream": 1, "data": format!("{line}\n")}]})
        }
        BuildEvent::Cached { vertex } => {
            serde_json::json!({"vertexes": [{"digest": vertex.to_string(), "cached": true, "completed": chrono::Utc::now().to_rfc3339()}]})
        }
        BuildEvent::Done { vertex, .. } => {
            serde_json::json!({"vertexes": [{"digest": vertex.to_string(), "completed": chrono::Utc::now().to_rfc3339()}]})
        }
        BuildEvent::Failed {
            vertex, message, ..
        } => {
            serde_json::json!({"vertexes": [{"digest": vertex.to_string(), "error": message, "completed": chrono::Utc::now().to_rfc3339()}]})
        }
    };
    let _ = writeln!(state.out, "{value}");
    let _ = state.out.flush();
}

fn record(state: &mut State, event: &BuildEvent) {
    match event {
        BuildEvent::Started { vertex, name } => state.vertices.push(VertexView {
            id: *vertex,
            name: name.clone(),
            started: Instant::now(),
            finished: None,
            cached: false,
            failed: false,
            output: Vec::new(),
        }),
        BuildEvent::Status { .. } => {}
        BuildEvent::Output { vertex, line, .. } => {
            if let Some(v) = state.vertices.iter_mut().find(|v| v.id == *vertex) {
                v.output.push(line.clone());
            }
        }
        BuildEvent::Cached { vertex } => {
            if let Some(v) = state.vertices.iter_mut().find(|v| v.id == *vertex) {
                v.cached = true;
                v.finished = Some(0.0);
            }
        }
        BuildEvent::Done { vertex, seconds } => {
            if let Some(v) = state.vertices.iter_mut().find(|v| v.id == *vertex) {
                v.finished = Some(*seconds);
            }
        }
        BuildEvent::Failed {
            vertex,
            seconds,
            message,
        } => {
            if let Some(v) = state.vertices.iter_mut().find(|v| v.id == *vertex) {
                v.finished = Some(*seconds);
                v.failed = true;
                v.output.push(format!("ERROR: {message}"));
            }
        }
    }
}

/// Redraws the tty view over the previous one.
fn redraw(state: &mut State) {
    let width = rustix::termios::tcgetwinsize(std::io::stderr())
        .map(|w| usize::from(w.ws_col))
        .unwrap_or(80)
        .max(40);
    let mut lines = Vec::new();
    let done = state
        .vertices
        .iter()
        .filter(|v| v.finished.is_some())
        .count();
    let label = if state.finished { " FINISHED" } else { "" };
    lines.push(format!(
        "[+] Building {:.1}s ({done}/{}){label}",
        state.started.elapsed().as_secs_f64(),
        state.vertices.len()
    ));
    for vertex in &state.vertices {
        let (prefix, seconds) = match vertex.finished {
            Some(s) => (
                if vertex.cached {
                    "=> CACHED "
                } else if vertex.failed {
                    "=> ERROR "
                } else {
                    "=> "
                },
                s,
            ),
            None => ("=> ", vertex.started.elapsed().as_secs_f64()),
        };
        let time = if vertex.cached {
            String::new()
        } else {
            format!("{seconds:.1}s")
        };
        let mut text = format!("{prefix}{}", vertex.name);
        let room = width.saturating_sub(time.len() + 2);
        if text.chars().count() > room {
            text = text
                .chars()
                .take(room.saturating_sub(1))
                .collect::<String>()
                + "…";
        }
        let pad = width.saturating_sub(text.chars().count() + time.len() + 1);
        lines.push(format!("{text}{}{time}", " ".repeat(pad)));
        if vertex.finished.is_none() {
            for line in vertex.output.iter().rev().take(6).rev() {
                let shown: String = format!(" => => # {line}").chars().take(width - 1).collect();
                lines.push(shown);
            }
        }
    }
    let mut text = String::new();
    if state.drawn > 0 {
        text.push_str(&format!("\x1b[{}A", state.drawn));
    }
    for line in &lines {
        text.push_str("\x1b[2K");
        text.push_str(line);
        text.push('\n');
    }
    // Lines left over from a taller previous view.
    for _ in lines.len()..state.drawn {
        text.push_str("\x1b[2K\n");
    }
    state.drawn = lines.len().max(state.drawn);
    let _ = state.out.write_all(text.as_bytes());
    let _ = state.out.flush();
}
