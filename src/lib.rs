//! pg2dolt: a point-in-time copy of a PostgreSQL database as a fresh Dolt
//! (or MySQL/MariaDB) database.
//!
//! The folders follow the data: `source` (Postgres) → `convert` (pure) →
//! `target` (MySQL protocol), with `pipeline` calling the phases in order.

pub mod archive;
pub mod archiving;
pub mod checks;
pub mod cli;
pub mod convert;
pub mod copy;
pub mod error;
pub mod logging;
pub mod pipeline;
pub mod plan;
pub mod report;
pub mod selection;
pub mod settings;
pub mod source;
pub mod target;
pub mod tls;
pub mod types;

use std::io::Write as _;
use std::time::Instant;

use tracing::{error, info};

use crate::error::FailureKind;

use crate::cli::{Command, LogFormat, PlanFormat};
use crate::logging::redact;
use crate::report::{Report, Status};
use crate::settings::Settings;

/// How long connecting to a server may take (Postgres URLs may set their
/// own `connect_timeout`).
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Exit code for SIGINT.
pub const EXIT_SIGINT: u8 = 130;
/// Exit code for SIGTERM.
pub const EXIT_SIGTERM: u8 = 143;

/// Runs a command to the end and returns the exit code. Errors are
/// printed once, on one line, with every secret redacted.
pub async fn run(command: Command) -> u8 {
    let started = Instant::now();
    let arguments = command.copy_args();
    let plan_format = match &command {
        Command::Plan(plan) => Some(plan.format),
        Command::Copy(_) => None,
    };
    let output = Output {
        json: arguments.logging.log_format == LogFormat::Json,
        plan_format,
    };
    let mut report = Report::start(if plan_format.is_some() {
        "plan"
    } else {
        "copy"
    });
    let settings = match Settings::resolve(arguments) {
        Ok(settings) => settings,
        Err(error) => return output.fail(&error, &mut report, None, started).await,
    };
    settings.log_effective(&report.command);
    let outcome = tokio::select! {
        result = async {
            if plan_format.is_some() {
                pipeline::run_plan(&settings, &mut report).await
            } else {
                pipeline::run(&settings, &mut report).await
            }
        } => Some(result),
        signal = wait_for_signal() => {
            report.status = Status::Interrupted;
            report.exit_code = signal;
            None
        }
    };
    match outcome {
        Some(Ok(())) if plan_format.is_some() => {
            let code = if report.problems.is_empty() {
                0
            } else {
                FailureKind::Plan.exit_code()
            };
            report.status = if code == 0 {
                Status::Succeeded
            } else {
                Status::Failed
            };
            report.exit_code = code;
            let written = output.finish(&settings, &mut report, started).await;
            if written { code } else { error::EXIT_RUNTIME }
        }
        Some(Ok(())) => {
            report.status = Status::Succeeded;
            let written = output.finish(&settings, &mut report, started).await;
            if let Some(hash) = &report.dolt_commit {
                let mut stdout = std::io::stdout();
                let _ = writeln!(stdout, "{hash}");
            }
            // A job that reads the report must not see success without it.
            if written { 0 } else { error::EXIT_RUNTIME }
        }
        Some(Err(error)) => {
            output
                .fail(&error, &mut report, Some(&settings), started)
                .await
        }
        None => {
            let signal = if report.exit_code == EXIT_SIGTERM {
                "SIGTERM"
            } else {
                "SIGINT"
            };
            let state = pipeline::settle_interrupted_target(&settings, &mut report).await;
            report.error = Some(format!(
                "interrupted by {signal}: the copy stopped and no Dolt commit was made; {state}"
            ));
            let _ = output.finish(&settings, &mut report, started).await;
            if output.json {
                tracing::warn!(
                    exit_code = report.exit_code,
                    "{}",
                    report.error.as_deref().unwrap_or_default()
                );
            }
            report.exit_code
        }
    }
}

/// Where the end of a run is told: a summary and an error line for people
/// (text logs), or log events (JSON logs, where every line must be JSON).
struct Output {
    json: bool,
    /// `pg2dolt plan`'s output format (None for copy)
    plan_format: Option<PlanFormat>,
}

impl Output {
    /// Completes the report, writes it, and tells the outcome. False when
    /// the report could not be written.
    async fn finish(&self, settings: &Settings, report: &mut Report, started: Instant) -> bool {
        report.finished_at = report::utc_now();
        report.seconds = started.elapsed().as_secs_f64();
        let mut written = true;
        if let Some((location, name)) = &settings.report
            && let Err(error) = report
                .write(location, name, settings.storage.path_style)
                .await
        {
            self.error_line(&error::one_line(&error), error::EXIT_RUNTIME);
            written = false;
        }
        if let Some(format) = self.plan_format {
            self.tell_plan(format, report);
            return written;
        }
        if report.status == Status::Failed && report.tables.is_empty() && !report.target_dropped {
            return written;
        }
        if self.json {
            info!(status = ?report.status, tables = report.tables.len(), rows = report.rows_total, bytes = report.bytes_total,
                seconds = report.seconds, dolt_commit = ?report.dolt_commit, "run finished");
        } else {
            eprint!("{}", redact(&report.summary()));
        }
        written
    }

    /// `pg2dolt plan`'s answer: JSON on stdout, or the table on stderr.
    fn tell_plan(&self, format: PlanFormat, report: &Report) {
        match format {
            PlanFormat::Json => {
                let json = serde_json::to_string_pretty(report).unwrap_or_default();
                let mut stdout = std::io::stdout();
                let _ = writeln!(stdout, "{}", redact(&json));
            }
            PlanFormat::Text if self.json => {
                info!(
                    problems = report.problems.len(),
                    warnings = report.warnings.len(),
                    tables = report.planned.len(),
                    "plan finished"
                );
            }
            PlanFormat::Text => {
                eprint!("{}", redact(&report.plan_summary()));
            }
        }
    }

    /// Records a failure in the report and tells it once.
    async fn fail(
        &self,
        error: &anyhow::Error,
        report: &mut Report,
        settings: Option<&Settings>,
        started: Instant,
    ) -> u8 {
        let code = error::exit_code(error);
        let line = redact(&error::one_line(error));
        report.status = Status::Failed;
        report.exit_code = code;
        report.error = Some(line.clone());
        if let Some(settings) = settings {
            let _ = self.finish(settings, report, started).await;
        }
        self.error_line(&line, code);
        code
    }

    fn error_line(&self, line: &str, code: u8) {
        let line = redact(line);
        if self.json {
            error!(exit_code = code, "{line}");
        } else {
            eprintln!("pg2dolt: error: {line}");
        }
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
