//! Logging on stderr through tracing, text or JSON, with every known secret
//! scrubbed from every line before it is written. The secrets are
//! registered as they become known (URLs in flags at start, passwords read
//! from files while settings resolve), and every other output (summary,
//! error line, report, plan JSON) is scrubbed with the same list.

use std::io::{self, Write};

use tracing_indicatif::IndicatifLayer;
use tracing_indicatif::filter::{IndicatifFilter, hide_indicatif_span_fields};
use tracing_indicatif::writer::{IndicatifWriter, Stderr};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::DefaultFields;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::cli::{LogFormat, LoggingArgs};
use crate::redact::redact;

/// Set once by [`init`]: progress is shown as live bars (stderr is a
/// terminal, logs are text and not quiet).
static LIVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// True when a live progress display is shown; otherwise progress goes to
/// periodic log lines.
#[must_use]
pub fn live_progress() -> bool {
    LIVE.get().copied().unwrap_or(false)
}

/// Installs the global subscriber. `RUST_LOG` overrides `-v`/`-q`. On a
/// terminal a tracing-indicatif layer draws the copy's bars (only spans
/// that ask for one, see `progress.rs`), and log lines go through its
/// writer so they print above the bars.
pub fn init(arguments: &LoggingArgs) {
    let json = arguments.log_format == LogFormat::Json;
    let terminal = io::IsTerminal::is_terminal(&io::stderr());
    let live = !json && !arguments.quiet && terminal;
    let _ = LIVE.set(live);
    let default_level = if arguments.quiet {
        "warn"
    } else {
        match arguments.verbose {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_default_env()
        // The AWS SDK warns about every credential source it tries in turn;
        // pg2dolt says what failed in one line of its own.
        .unwrap_or_else(|_| {
            EnvFilter::new(format!(
                "warn,aws_config=error,aws_smithy_runtime=error,pg2dolt={default_level}"
            ))
        });
    let bars = live.then(|| IndicatifLayer::new().with_max_progress_bars(20, None));
    let writer = RedactingStderr {
        bars: bars.as_ref().map(IndicatifLayer::get_stderr_writer),
    };
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_target(false);
    let lines = if json {
        lines
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed()
    } else {
        lines
            .fmt_fields(hide_indicatif_span_fields(DefaultFields::new()))
            .with_ansi(terminal)
            .boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .with(bars.map(|layer| layer.with_filter(IndicatifFilter::new(false))))
        .try_init();
}

/// Makes one buffered writer per event; the buffer is scrubbed and written
/// to stderr in one piece when the event is done (above the bars, if any).
#[derive(Clone)]
struct RedactingStderr {
    bars: Option<IndicatifWriter<Stderr>>,
}

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingLine;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingLine {
            buffer: Vec::new(),
            bars: self.bars.clone(),
        }
    }
}

/// One event's output.
struct RedactingLine {
    buffer: Vec<u8>,
    bars: Option<IndicatifWriter<Stderr>>,
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
        let _ = match &mut self.bars {
            Some(bars) => bars.write_all(text.as_bytes()),
            None => io::stderr().write_all(text.as_bytes()),
        };
    }
}
