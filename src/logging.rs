//! Logging on stderr through tracing, text or JSON, with every known secret
//! scrubbed from every line before it is written. The secrets are
//! registered as they become known (URLs in flags at start, passwords read
//! from files while settings resolve), and every other output (summary,
//! error line, report, plan JSON) is scrubbed with the same list.

use std::io::{self, Write};
use std::sync::RwLock;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::cli::{LogFormat, LoggingArgs};
use crate::settings::redact_text;

/// Every secret known so far.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Adds secrets to scrub from every output from now on (shorter than 3
/// characters are ignored: they would mangle ordinary text).
pub fn add_secrets(secrets: impl IntoIterator<Item = String>) {
    if let Ok(mut known) = SECRETS.write() {
        for secret in secrets {
            if secret.len() >= 3 && !known.contains(&secret) {
                known.push(secret);
            }
        }
        // Longest first: a secret containing another is scrubbed whole.
        known.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    }
}

/// The text with every known secret replaced by `***`.
#[must_use]
pub fn redact(text: &str) -> String {
    match SECRETS.read() {
        Ok(known) => redact_text(text, &known),
        Err(_) => text.to_string(),
    }
}

/// Installs the global subscriber. `RUST_LOG` overrides `-v`/`-q`.
pub fn init(arguments: &LoggingArgs) {
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
        let text = String::from_utf8_lossy(&self.buffer);
        let _ = io::stderr().write_all(redact(&text).as_bytes());
    }
}
