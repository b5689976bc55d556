//! pg2dolt: a point-in-time copy of a PostgreSQL database as a fresh Dolt
//! (or MySQL/MariaDB) database.
//!
//! The folders follow the data: `source` (Postgres) → `convert` (pure) →
//! `target` (MySQL protocol), with `pipeline` calling the phases in order.

pub mod cli;
pub mod convert;
pub mod copy;
pub mod error;
pub mod logging;
pub mod pipeline;
pub mod plan;
pub mod report;
pub mod settings;
pub mod source;
pub mod target;
pub mod types;

use std::io::Write as _;
use std::time::Instant;

use tracing::{error, info};

use crate::cli::CopyArgs;
use crate::report::{Report, Status};
use crate::settings::{Settings, redact_text};

/// How long connecting to a server may take (Postgres URLs may set their
/// own `connect_timeout`).
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Exit code for SIGINT.
pub const EXIT_SIGINT: u8 = 130;
/// Exit code for SIGTERM.
pub const EXIT_SIGTERM: u8 = 143;

/// Runs `pg2dolt copy` to the end and returns the exit code. Errors are
/// printed once, on one line, with every secret redacted.
pub async fn run_copy(arguments: CopyArgs, secrets: &[String]) -> u8 {
    let started = Instant::now();
    let mut report = Report::start();
    let settings = match Settings::resolve(&arguments) {
        Ok(settings) => settings,
        Err(error) => return fail(&error, secrets, &mut report, None, started),
    };
    info!(source = %settings.source_display, target = %settings.target_display, database = %settings.database,
        schema = %settings.schema_origin, jobs = settings.jobs, replace = settings.replace, "pg2dolt starting");
    let outcome = tokio::select! {
        result = pipeline::run(&settings, &mut report) => Some(result),
        signal = wait_for_signal() => {
            report.status = Status::Interrupted;
            report.exit_code = signal;
            None
        }
    };
    match outcome {
        Some(Ok(())) => {
            report.status = Status::Succeeded;
            finish(&mut report, started);
            write_report(&settings, &report, secrets);
            eprint!("{}", redact_text(&report.summary(), secrets));
            if let Some(hash) = &report.dolt_commit {
                let mut stdout = std::io::stdout();
                let _ = writeln!(stdout, "{hash}");
            }
            0
        }
        Some(Err(error)) => fail(&error, secrets, &mut report, Some(&settings), started),
        None => {
            let code = report.exit_code;
            report.error = Some("interrupted by a signal: no Dolt commit was made; the target database is incomplete".into());
            finish(&mut report, started);
            write_report(&settings, &report, secrets);
            eprint!("{}", redact_text(&report.summary(), secrets));
            code
        }
    }
}

fn fail(
    error: &anyhow::Error,
    secrets: &[String],
    report: &mut Report,
    settings: Option<&Settings>,
    started: Instant,
) -> u8 {
    let code = error::exit_code(error);
    let line = redact_text(&error::one_line(error), secrets);
    report.status = Status::Failed;
    report.exit_code = code;
    report.error = Some(line.clone());
    finish(report, started);
    if let Some(settings) = settings {
        write_report(settings, report, secrets);
        if !report.tables.is_empty() || report.target_dropped {
            eprint!("{}", redact_text(&report.summary(), secrets));
        }
    }
    error!(exit_code = code, "{line}");
    eprintln!("pg2dolt: error: {line}");
    code
}

fn finish(report: &mut Report, started: Instant) {
    report.finished_at = report::utc_now();
    report.seconds = started.elapsed().as_secs_f64();
}

fn write_report(settings: &Settings, report: &Report, secrets: &[String]) {
    let Some(path) = &settings.report else { return };
    let mut scrubbed = report.clone();
    scrubbed.error = scrubbed.error.map(|error| redact_text(&error, secrets));
    if let Err(error) = scrubbed.write(path) {
        eprintln!(
            "pg2dolt: error: {}",
            redact_text(&error::one_line(&error), secrets)
        );
    }
}

/// Waits for SIGINT or SIGTERM; returns the exit code for it.
async fn wait_for_signal() -> u8 {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut terminate) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return EXIT_SIGINT;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => EXIT_SIGINT,
            _ = terminate.recv() => EXIT_SIGTERM,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        EXIT_SIGINT
    }
}
