//! pg2dolt: a point-in-time copy of a PostgreSQL database as a fresh Dolt
//! (or MySQL/MariaDB) database.
//!
//! The folders follow the data: `source` (Postgres) → `convert` (pure) →
//! `target` (MySQL protocol), with `pipeline` calling the phases in order.

pub mod archive;
pub mod archives;
pub mod archiving;
pub mod checks;
pub mod cli;
pub mod clock;
pub mod convert;
pub mod copy;
pub mod draft;
pub mod error;
pub mod logging;
pub mod pipeline;
pub mod plan;
pub mod redact;
pub mod report;
pub mod restore;
pub mod selection;
pub mod settings;
pub mod postgres;
pub mod mysql;
pub mod tls;
pub mod types;

use std::io::Write as _;
use std::time::Instant;

use tracing::{error, info};

use crate::error::{EXIT_SIGINT, EXIT_SIGTERM, FailureKind};

use crate::cli::{Command, CopyArgs, LogFormat, PlanFormat};
use crate::redact::redact;
use crate::report::{Report, Status, TargetState};
use crate::settings::{ReportLocation, RestoreSettings, Settings};

/// Runs a command to the end and returns the exit code. Errors are
/// printed once, on one line, with every secret redacted.
pub async fn run(command: Command) -> u8 {
    match command {
        Command::Copy(arguments) => run_copy_or_plan(&arguments, None).await,
        Command::Plan(arguments) => run_copy_or_plan(&arguments.copy, Some(arguments.format)).await,
        Command::Restore(arguments) => run_restore(&arguments).await,
        Command::Archives(arguments) => archives::run(&arguments).await,
        Command::Schema(arguments) => draft::command::run(&arguments).await,
    }
}

async fn run_copy_or_plan(arguments: &CopyArgs, plan_format: Option<PlanFormat>) -> u8 {
    let started = Instant::now();
    let mut output = Output::new(arguments.logging.log_format, plan_format);
    let mut report = Report::start(if plan_format.is_some() {
        "plan"
    } else {
        "copy"
    });
    let mut settings = match Settings::resolve(arguments) {
        Ok(settings) => settings,
        Err(error) => return output.fail(&error, &mut report, started).await,
    };
    output.resolved(settings.report.clone(), settings.storage.path_style);
    settings.log_effective(&report.command);
    if let Some((location, name)) = &settings.report
        && let Err(error) = Report::check_location(location, settings.storage.path_style).await
    {
        // Nowhere to write the report: say so once.
        output.report_to = None;
        let error = error.context(format!("--report {location}{name}"));
        return output.fail(&error, &mut report, started).await;
    }
    let local = match start_local_dolt(&mut settings.target).await {
        Ok(local) => local,
        Err(error) => return output.fail(&error, &mut report, started).await,
    };
    let code = copy_or_plan(&settings, plan_format, &output, &mut report, started).await;
    stop_local_dolt(local).await;
    code
}

/// Runs copy or plan and tells the outcome; returns the exit code.
async fn copy_or_plan(
    settings: &Settings,
    plan_format: Option<PlanFormat>,
    output: &Output,
    report: &mut Report,
    started: Instant,
) -> u8 {
    let outcome = until_signal(Box::pin(async {
        if plan_format.is_some() {
            pipeline::run_plan(settings, report).await
        } else {
            pipeline::run(settings, report).await
        }
    }))
    .await;
    match outcome {
        Ok(Ok(())) if plan_format.is_some() => {
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
            let written = output.finish(report, started).await;
            if written { code } else { error::EXIT_RUNTIME }
        }
        Ok(Ok(())) => {
            if !settings.storage.dump_only {
                report.complete_target();
            }
            output.succeed(report, started).await
        }
        Ok(Err(error)) => {
            pipeline::abandon_target(settings, report, crate::mysql::finish::DROP_AFTER_FAILURE)
                .await;
            output.fail(&error, report, started).await
        }
        Err(signal) => {
            let state = pipeline::abandon_target(
                settings,
                report,
                crate::mysql::finish::DROP_AFTER_SIGNAL,
            )
            .await;
            output.interrupted(report, signal, &state, started).await
        }
    }
}

/// `--target dolt:PATH`: starts the private sql-server and points the
/// target at it.
async fn start_local_dolt(
    target: &mut crate::mysql::TargetAddress,
) -> anyhow::Result<Option<crate::mysql::local::LocalDolt>> {
    let Some(directory) = target.local_dolt.clone() else {
        return Ok(None);
    };
    let server = crate::mysql::local::LocalDolt::start(&directory).await?;
    target.opts = mysql_async::Opts::from_url(&server.url)
        .map_err(|error| anyhow::anyhow!("the local dolt sql-server's URL: {error}"))?;
    Ok(Some(server))
}

async fn stop_local_dolt(server: Option<crate::mysql::local::LocalDolt>) {
    if let Some(server) = server {
        server.stop().await;
    }
}

async fn run_restore(arguments: &crate::cli::RestoreArgs) -> u8 {
    let started = Instant::now();
    let mut output = Output::new(arguments.logging.log_format, None);
    let mut report = Report::start("restore");
    let mut settings = match RestoreSettings::resolve(arguments) {
        Ok(settings) => settings,
        Err(error) => return output.fail(&error, &mut report, started).await,
    };
    output.resolved(settings.report.clone(), settings.path_style);
    if let Some((location, name)) = &settings.report
        && let Err(error) = Report::check_location(location, settings.path_style).await
    {
        output.report_to = None;
        let error = error.context(format!("--report {location}{name}"));
        return output.fail(&error, &mut report, started).await;
    }
    info!(from = %settings.from, target = %settings.target_display, database = ?settings.database,
        replace = settings.replace, jobs = settings.jobs, "pg2dolt restore starting");
    let local = match start_local_dolt(&mut settings.target).await {
        Ok(local) => local,
        Err(error) => return output.fail(&error, &mut report, started).await,
    };
    let code = restore_and_tell(&settings, &output, &mut report, started).await;
    stop_local_dolt(local).await;
    code
}

/// Runs a restore and tells the outcome; returns the exit code.
async fn restore_and_tell(
    settings: &RestoreSettings,
    output: &Output,
    report: &mut Report,
    started: Instant,
) -> u8 {
    match until_signal(Box::pin(restore::run(settings, report))).await {
        Ok(Ok(())) => {
            report.complete_target();
            output.succeed(report, started).await
        }
        Ok(Err(error)) => {
            restore::abandon_target(settings, report, crate::mysql::finish::DROP_AFTER_FAILURE)
                .await;
            output.fail(&error, report, started).await
        }
        Err(signal) => {
            let state =
                restore::abandon_target(settings, report, crate::mysql::finish::DROP_AFTER_SIGNAL)
                    .await;
            output.interrupted(report, signal, &state, started).await
        }
    }
}

/// Where the end of a run is told: a summary and an error line for people
/// (text logs), or log events (JSON logs, where every line must be JSON).
struct Output {
    json: bool,
    /// `pg2dolt plan`'s output format (None for copy)
    plan_format: Option<PlanFormat>,
    /// where the report goes, once the settings are known
    report_to: Option<ReportLocation>,
    /// S3 path-style addressing for the report
    path_style: bool,
    /// the settings resolved: a failure from now on writes the report
    resolved: bool,
}

impl Output {
    fn new(log_format: LogFormat, plan_format: Option<PlanFormat>) -> Output {
        Output {
            json: log_format == LogFormat::Json,
            plan_format,
            report_to: None,
            path_style: false,
            resolved: false,
        }
    }

    fn resolved(&mut self, report_to: Option<ReportLocation>, path_style: bool) {
        self.report_to = report_to;
        self.path_style = path_style;
        self.resolved = true;
    }

    /// A successful run: the report, the summary, the Dolt commit hash on
    /// stdout.
    async fn succeed(&self, report: &mut Report, started: Instant) -> u8 {
        report.status = Status::Succeeded;
        let written = self.finish(report, started).await;
        if let Some(hash) = &report.dolt_commit {
            let mut stdout = std::io::stdout();
            let _ = writeln!(stdout, "{hash}");
        }
        // A job that reads the report must not see success without it.
        if written { 0 } else { error::EXIT_RUNTIME }
    }

    /// A run stopped by a signal; `state` says what the target was left in.
    async fn interrupted(
        &self,
        report: &mut Report,
        signal: u8,
        state: &str,
        started: Instant,
    ) -> u8 {
        report.status = Status::Interrupted;
        report.exit_code = signal;
        let signal = if signal == EXIT_SIGTERM {
            "SIGTERM"
        } else {
            "SIGINT"
        };
        report.error = Some(format!(
            "interrupted by {signal}: the {} stopped and no Dolt commit was made; {state}",
            report.command
        ));
        let _ = self.finish(report, started).await;
        if self.json {
            tracing::warn!(
                exit_code = report.exit_code,
                "{}",
                report.error.as_deref().unwrap_or_default()
            );
        }
        report.exit_code
    }

    /// Completes the report, writes it, and tells the outcome. False when
    /// the report could not be written.
    async fn finish(&self, report: &mut Report, started: Instant) -> bool {
        report.finished_at = clock::utc_now();
        report.seconds = started.elapsed().as_secs_f64();
        let mut written = true;
        if let Some((location, name)) = &self.report_to
            && let Err(error) = report.write(location, name, self.path_style).await
        {
            self.error_line(&error::one_line(&error), error::EXIT_RUNTIME);
            written = false;
        }
        if let Some(format) = self.plan_format {
            self.tell_plan(format, report);
            return written;
        }
        // A failure before anything touched the target is told by its
        // error line alone.
        if report.status == Status::Failed
            && report.tables.is_empty()
            && report
                .target_state
                .is_none_or(|state| state == TargetState::NotCreated)
            && !report.steps.existing_dropped
        {
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
    async fn fail(&self, error: &anyhow::Error, report: &mut Report, started: Instant) -> u8 {
        let code = error::exit_code(error);
        let line = redact(&error::one_line(error));
        report.status = Status::Failed;
        report.exit_code = code;
        report.error = Some(line.clone());
        if self.resolved {
            let _ = self.finish(report, started).await;
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

/// Runs `work` unless SIGINT or SIGTERM comes first; then `Err` holds the
/// exit code for the signal (and `work` is dropped: its connections close).
/// The work is boxed: a whole pipeline is too large a future for the stack.
async fn until_signal(
    work: std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + '_>>,
) -> Result<anyhow::Result<()>, u8> {
    tokio::select! {
        result = work => Ok(result),
        signal = wait_for_signal() => Err(signal),
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
