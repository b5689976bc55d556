//! How the end of a command is told, for every command: the report
//! written (copy, plan, refresh, verify, restore), the summary or plan
//! table for people, the error on one line, the Dolt commit hash on stdout;
//! under `--log-format json` every line is a JSON log event instead.
//! Secrets are redacted in all.

use std::io::Write as _;
use std::time::Instant;

use tracing::{error, info};

use crate::cli::{LogFormat, OutputFormat};
use crate::error::{self, EXIT_RUNTIME};
use crate::redact::redact;
use crate::report::{Report, Status};
use crate::settings::ReportLocation;
use crate::signal::{Interrupted, interruption};

/// Where a command tells its end.
pub struct Output {
    json: bool,
    /// `pg2dolt plan`'s output format (None for the other commands)
    plan_format: Option<OutputFormat>,
    /// where the report goes, once the settings are known
    report_to: Option<ReportLocation>,
    /// S3 path-style addressing for the report
    path_style: bool,
    /// the settings resolved: a failure from now on writes the report
    resolved: bool,
    started: Instant,
}

/// What a failed run left in the target, for its summary.
pub struct Left<'a> {
    /// the target's state for people (see `mysql::fresh::TargetOutcome`)
    pub detail: &'a str,
    /// the run changed the target (or copied tables): the summary is shown
    pub show_summary: bool,
}

impl Output {
    /// The output of a command starting now.
    #[must_use]
    pub fn new(log_format: LogFormat, plan_format: Option<OutputFormat>) -> Output {
        Output {
            json: log_format == LogFormat::Json,
            plan_format,
            report_to: None,
            path_style: false,
            resolved: false,
            started: Instant::now(),
        }
    }

    /// The settings are resolved: from now on the report is written, once
    /// its location is checked (a missing bucket or refused credentials
    /// must not surface only after hours of copying).
    pub async fn resolved(
        &mut self,
        report_to: Option<ReportLocation>,
        path_style: bool,
    ) -> anyhow::Result<()> {
        self.path_style = path_style;
        self.resolved = true;
        if let Some((location, name)) = &report_to {
            // Nowhere to write the report: the failure says so once.
            Report::check_location(location, path_style)
                .await
                .map_err(|error| error.context(format!("--report {location}{name}")))?;
        }
        self.report_to = report_to;
        Ok(())
    }

    /// A successful run: the report, the summary, the Dolt commit hash on
    /// stdout.
    pub async fn succeed(&self, mut report: Report) -> u8 {
        report.status = Status::Succeeded;
        let written = self.report_and_tell(&mut report, true).await;
        if let Some(hash) = &report.dolt_commit {
            let mut stdout = std::io::stdout();
            let _ = writeln!(stdout, "{hash}");
        }
        // A job that reads the report must not see success without it.
        if written { 0 } else { EXIT_RUNTIME }
    }

    /// `pg2dolt plan` ran: exit code 3 when it found problems.
    pub async fn planned(&self, mut report: Report, problems: bool) -> u8 {
        let code = if problems {
            error::FailureKind::Plan.exit_code()
        } else {
            0
        };
        report.status = if code == 0 {
            Status::Succeeded
        } else {
            Status::Failed
        };
        report.exit_code = code;
        let written = self.report_and_tell(&mut report, true).await;
        if written { code } else { EXIT_RUNTIME }
    }

    /// A failed or interrupted run; `left` says what the target was left in.
    pub async fn fail(&self, error: &anyhow::Error, mut report: Report, left: &Left<'_>) -> u8 {
        if let Some(signal) = interruption(error) {
            return self.interrupted(report, signal, left.detail).await;
        }
        let code = error::exit_code(error);
        let line = redact(&error::one_line(error));
        report.status = Status::Failed;
        report.exit_code = code;
        report.error = Some(line.clone());
        if self.resolved {
            // A failure before anything touched the target is told by its
            // error line alone.
            let _ = self.report_and_tell(&mut report, left.show_summary).await;
        }
        self.error_line(&line, code);
        code
    }

    /// A failure before the command had a report to write.
    #[must_use]
    pub fn error(&self, error: &anyhow::Error) -> u8 {
        let code = error::exit_code(error);
        self.error_line(&error::one_line(error), code);
        code
    }

    /// A command's closing line on stderr (a log event under JSON logs).
    pub fn tell(&self, line: &str) {
        if self.json {
            info!("{}", redact(line));
        } else {
            eprintln!("{}", redact(line));
        }
    }

    async fn interrupted(&self, mut report: Report, signal: Interrupted, state: &str) -> u8 {
        report.status = Status::Interrupted;
        report.exit_code = signal.exit_code;
        let line = format!(
            "{signal}: the {} stopped and no Dolt commit was made; {state}",
            report.command.name()
        );
        report.error = Some(line.clone());
        let _ = self.report_and_tell(&mut report, true).await;
        if self.json {
            tracing::warn!(exit_code = signal.exit_code, "{line}");
        }
        signal.exit_code
    }

    /// Completes the report, writes it, and tells the outcome (the summary
    /// only when `summary`). False when the report could not be written.
    async fn report_and_tell(&self, report: &mut Report, summary: bool) -> bool {
        report.finished_at = crate::clock::utc_now();
        report.seconds = self.started.elapsed().as_secs_f64();
        let mut written = true;
        if let Some((location, name)) = &self.report_to
            && let Err(error) = report.write(location, name, self.path_style).await
        {
            self.error_line(&error::one_line(&error), EXIT_RUNTIME);
            written = false;
        }
        if let Some(format) = self.plan_format {
            self.tell_plan(format, report);
        } else if summary && self.json {
            info!(status = ?report.status, tables = report.tables.len(), rows = report.rows_total, bytes = report.bytes_total,
                seconds = report.seconds, dolt_commit = ?report.dolt_commit, "run finished");
        } else if summary {
            eprint!("{}", redact(&report.summary()));
        }
        written
    }

    /// `pg2dolt plan`'s answer: JSON on stdout, or the table on stderr.
    fn tell_plan(&self, format: OutputFormat, report: &Report) {
        match format {
            OutputFormat::Json => {
                let json = serde_json::to_string_pretty(report).unwrap_or_default();
                let mut stdout = std::io::stdout();
                let _ = writeln!(stdout, "{}", redact(&json));
            }
            OutputFormat::Text if self.json => {
                info!(
                    problems = report.problems.len(),
                    warnings = report.warnings.len(),
                    tables = report.planned.len(),
                    "plan finished"
                );
            }
            OutputFormat::Text => {
                eprint!("{}", redact(&report.plan_summary()));
            }
        }
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
