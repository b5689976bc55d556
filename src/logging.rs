//! Logging on stderr through tracing, text or JSON, with every known secret
//! scrubbed from every line before it is written. The secrets are
//! registered as they become known (URLs in flags at start, passwords read
//! from files while settings resolve), and every other output (summary,
//! error line, report, plan JSON) is scrubbed with the same list.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::cli::{LogFormat, LoggingArgs};
pub use crate::redact::redact;

/// The live progress block at the bottom of a terminal: the lines drawn,
/// erased and redrawn around every log line so the two never mix.
struct ProgressBlock {
    /// a terminal, text logs, not quiet
    enabled: bool,
    /// the lines currently on screen
    lines: Vec<String>,
}

static PROGRESS: std::sync::Mutex<ProgressBlock> = std::sync::Mutex::new(ProgressBlock {
    enabled: false,
    lines: Vec::new(),
});

/// True when a live progress display is shown (stderr is a terminal, logs
/// are text and not quiet); otherwise progress goes to periodic log lines.
#[must_use]
pub fn live_progress() -> bool {
    PROGRESS.lock().is_ok_and(|block| block.enabled)
}

/// Replaces the progress block with `lines` (an empty list clears it).
pub fn show_progress(lines: Vec<String>) {
    let Ok(mut block) = PROGRESS.lock() else {
        return;
    };
    if !block.enabled {
        return;
    }
    let mut out = erase(block.lines.len());
    for line in &lines {
        out.push_str(line);
        out.push('\n');
    }
    block.lines = lines;
    let _ = io::stderr().write_all(out.as_bytes());
}

/// Cursor up over `count` lines and clear to the end of the screen.
fn erase(count: usize) -> String {
    if count == 0 {
        String::new()
    } else {
        format!("\x1b[{count}A\r\x1b[J")
    }
}

/// Set once by [`init`]: every line on stderr must be JSON.
static JSON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// True when logs are JSON (`--log-format json`).
pub fn json() -> bool {
    JSON.get().copied().unwrap_or(false)
}

/// Installs the global subscriber. `RUST_LOG` overrides `-v`/`-q`.
pub fn init(arguments: &LoggingArgs) {
    let _ = JSON.set(arguments.log_format == LogFormat::Json);
    let default_level = if arguments.quiet {
        "warn"
    } else {
        match arguments.verbose {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
    };
    if let Ok(mut block) = PROGRESS.lock() {
        block.enabled = arguments.log_format == LogFormat::Text
            && !arguments.quiet
            && io::IsTerminal::is_terminal(&io::stderr());
    }
    let filter = EnvFilter::try_from_default_env()
        // The AWS SDK warns about every credential source it tries in turn;
        // pg2dolt says what failed in one line of its own.
        .unwrap_or_else(|_| {
            EnvFilter::new(format!(
                "warn,aws_config=error,aws_smithy_runtime=error,pg2dolt={default_level}"
            ))
        });
    let writer = RedactingStderr;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    let _ = match arguments.log_format {
        LogFormat::Text => builder
            .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// Makes one buffered writer per event; the buffer is scrubbed and written
/// to stderr in one piece when the event is done.
#[derive(Clone, Copy)]
struct RedactingStderr;

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingLine;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingLine { buffer: Vec::new() }
    }
}

/// One event's output.
struct RedactingLine {
    buffer: Vec<u8>,
}

impl Write for RedactingLine {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactingLine {
    fn drop(&mut self) {
        let text = redact(&String::from_utf8_lossy(&self.buffer));
        // Under the progress lock: erase the block, write the line, redraw.
        match PROGRESS.lock() {
            Ok(block) if block.enabled && !block.lines.is_empty() => {
                let mut out = erase(block.lines.len());
                out.push_str(&text);
                for line in &block.lines {
                    out.push_str(line);
                    out.push('\n');
                }
                let _ = io::stderr().write_all(out.as_bytes());
            }
            _ => {
                let _ = io::stderr().write_all(text.as_bytes());
            }
        }
    }
}
