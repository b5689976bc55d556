//! Logging on stderr through tracing, text or JSON, with every known secret
//! scrubbed from every line before it is written.

use std::io::{self, Write};
use std::sync::Arc;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::cli::{LogFormat, LoggingArgs};
use crate::settings::redact_text;

/// Installs the global subscriber. `RUST_LOG` overrides `-v`/`-q`.
pub fn init(arguments: &LoggingArgs, secrets: Vec<String>) {
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
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,pg2dolt={default_level}")));
    let writer = RedactingStderr {
        secrets: Arc::new(secrets),
    };
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
#[derive(Clone)]
struct RedactingStderr {
    secrets: Arc<Vec<String>>,
}

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingLine;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingLine {
            secrets: Arc::clone(&self.secrets),
            buffer: Vec::new(),
        }
    }
}

/// One event's output.
struct RedactingLine {
    secrets: Arc<Vec<String>>,
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
        let text = String::from_utf8_lossy(&self.buffer);
        let _ = io::stderr().write_all(redact_text(&text, &self.secrets).as_bytes());
    }
}
