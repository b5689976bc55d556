//! Progress of the copy, for people. On a terminal (text logs, not quiet)
//! each chunk being copied has a live bar (indicatif, through
//! tracing-indicatif: the bar belongs to the chunk's span, and log lines
//! print above the bars instead of through them). Elsewhere — a Job's log
//! has no terminal — one log line per table every 10 seconds. The copy only
//! counts rows; this module renders them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressState, ProgressStyle};
use tracing::{Span, info};
use tracing_indicatif::span_ext::IndicatifSpanExt as _;

/// How often the log lines come when there is no live display.
const LOG_PERIOD: Duration = Duration::from_secs(10);

/// One table as progress shows it.
pub struct Table {
    /// `source → target`
    pub label: String,
    /// the source's row estimate
    pub estimated_rows: u64,
}

/// Rows copied so far, per table (several chunks of a table add up).
pub struct Counters {
    tables: Vec<Table>,
    rows: Vec<AtomicU64>,
}

impl Counters {
    /// Counters for `tables`, all at 0.
    #[must_use]
    pub fn new(tables: Vec<Table>) -> Counters {
        let rows = tables.iter().map(|_| AtomicU64::new(0)).collect();
        Counters { tables, rows }
    }

    /// `rows` more rows of table `index` are copied.
    pub fn add(&self, index: usize, rows: u64) {
        self.rows[index].fetch_add(rows, Ordering::Relaxed);
    }
}

/// Logs progress every 10 seconds unless the terminal shows bars; stops
/// when dropped.
pub struct Ticker(Option<tokio::task::JoinHandle<()>>);

impl Ticker {
    /// Starts the log lines (none with a live display).
    #[must_use]
    pub fn start(counters: Arc<Counters>) -> Ticker {
        if crate::logging::live_progress() {
            return Ticker(None);
        }
        Ticker(Some(tokio::spawn(log_progress(counters))))
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

async fn log_progress(counters: Arc<Counters>) {
    let started = Instant::now();
    let mut interval = tokio::time::interval(LOG_PERIOD);
    interval.tick().await;
    let mut last: Vec<u64> = vec![0; counters.rows.len()];
    loop {
        interval.tick().await;
        for (index, table) in counters.tables.iter().enumerate() {
            let rows = counters.rows[index].load(Ordering::Relaxed);
            if rows == last[index] {
                continue;
            }
            let percent = rows
                .saturating_mul(100)
                .checked_div(table.estimated_rows)
                .unwrap_or(0)
                .min(100);
            let rate = (rows - last[index]) / LOG_PERIOD.as_secs();
            info!(table = %table.label, rows, rows_per_second = rate, percent_of_estimate = percent, elapsed_s = started.elapsed().as_secs(), "copying");
            last[index] = rows;
        }
    }
}

/// Gives the current span (a chunk's) a live bar, when there is a
/// terminal: `label`, rows so far, rate and percent of `estimated_rows`.
pub fn start_bar(label: &str, estimated_rows: u64) {
    let span = Span::current();
    if let Ok(style) = ProgressStyle::with_template(
        "  {msg:<40} {human_pos:>12} rows {rate:>14} {percent:>3}% {elapsed}",
    ) {
        let style = style.with_key(
            "rate",
            |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{:.0} rows/s", state.per_sec());
            },
        );
        span.pb_set_style(&style);
    }
    span.pb_set_message(label);
    span.pb_set_length(estimated_rows.max(1));
}

/// The current span's bar: `rows` copied so far.
pub fn set_bar(rows: u64) {
    Span::current().pb_set_position(rows);
}

/// The tables' labels and estimates, in plan order.
#[must_use]
pub fn tables(plans: &[crate::plan::TablePlan]) -> Vec<Table> {
    plans
        .iter()
        .map(|plan| Table {
            label: plan.label(),
            estimated_rows: u64::try_from(plan.source.estimated_rows).unwrap_or(0),
        })
        .collect()
}
