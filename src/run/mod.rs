//! The run driver every command that writes a report shares (copy, plan,
//! refresh, verify, restore): `Run::start` makes the output and the
//! signal listener; `execute` resolves the settings (bad flags: one error
//! line, exit 2), checks the report's location, starts the private Dolt
//! server of `--target dolt:PATH`, runs the command's phases, stops the
//! server, and tells the end — the report assembled from the phases'
//! `RunState`, however they ended — returning the exit code.

mod settings;
mod state;

pub use state::{Failed, Outcome, RunState, Untouched};

use crate::cli::{LogFormat, OutputFormat};
use crate::dolt::server::LocalDolt;
use crate::mysql::TargetAddress;
use crate::output::{Left, Output};
use crate::report::{CommandKind, Report};
use crate::settings::ReportLocation;
use crate::signal::Stop;

/// What the driver reads from a command's resolved settings.
pub trait RunSettings {
    /// where the JSON report goes, and the S3 addressing for it
    fn report_to(&self) -> (Option<ReportLocation>, bool);
    /// the target server (a private one for `--target dolt:PATH`)
    fn target(&self) -> &TargetAddress;
    /// the report's heading: source, target, database, schema files
    fn describe(&self, report: &mut Report);
    /// logs the settings the run uses
    fn log(&self, _command: &str) {}
}

/// One run of a command: where it tells its end, and its signal listener.
pub struct Run {
    kind: CommandKind,
    output: Output,
    stop: Stop,
}

impl Run {
    /// A run of `kind` starting now (`plan_format`: `pg2dolt plan`'s).
    #[must_use]
    pub fn start(
        kind: CommandKind,
        log_format: LogFormat,
        plan_format: Option<OutputFormat>,
    ) -> Run {
        Run {
            kind,
            output: Output::new(log_format, plan_format),
            stop: Stop::listen(),
        }
    }

    /// Resolves the settings, runs `phases` over them, and tells the end;
    /// returns the exit code.
    pub async fn execute<S: RunSettings>(
        mut self,
        resolve: impl FnOnce() -> anyhow::Result<S>,
        phases: impl AsyncFnOnce(&S, &Stop) -> Outcome,
    ) -> u8 {
        let settings = match resolve() {
            Ok(settings) => settings,
            Err(error) => return self.output.error(&error),
        };
        settings.log(self.kind.name());
        let mut report = Report::start(self.kind);
        settings.describe(&mut report);
        let (report_to, path_style) = settings.report_to();
        let outcome = match self.output.resolved(report_to, path_style).await {
            Ok(()) => match LocalDolt::start_for(settings.target()).await {
                Ok(server) => {
                    let outcome = Box::pin(phases(&settings, &self.stop)).await;
                    if let Some(server) = server {
                        server.stop().await;
                    }
                    outcome
                }
                Err(error) => Err(Failed::from(error)),
            },
            Err(error) => Err(Failed::from(error)),
        };
        Box::pin(self.end(outcome, report)).await
    }

    /// Tells how the run ended: the report, the summary, the exit code.
    async fn end(self, outcome: Outcome, mut report: Report) -> u8 {
        match outcome {
            Ok(state) => {
                let problems = !state.problems.is_empty();
                state.record(&mut report);
                if self.kind == CommandKind::Plan {
                    self.output.planned(report, problems).await
                } else {
                    self.output.succeed(report).await
                }
            }
            Err(Failed { error, mut state }) => {
                let detail = state.left_detail();
                let summary = state.show_summary();
                state.record(&mut report);
                let left = Left {
                    detail: &detail,
                    show_summary: summary,
                };
                Box::pin(self.output.fail(&error, report, &left)).await
            }
        }
    }
}
