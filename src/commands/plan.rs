//! `pg2dolt plan`: every problem a copy would meet, without moving data —
//! the copy's preflight (snapshot, catalogs, the plan on a scratch
//! database, the source data checks) and nothing after it. Exit code 3
//! when it found problems.

use super::{RunState, Untouched, resolve_copy_flags, run_started};
use crate::cli::PlanArgs;
use crate::output::Output;
use crate::preflight;
use crate::report::CommandKind;
use crate::settings::Settings;
use crate::signal::Stop;

/// Runs `pg2dolt plan`; returns the exit code.
pub async fn run(arguments: &PlanArgs) -> u8 {
    let mut output = Output::new(arguments.copy.logging.log_format, Some(arguments.format));
    let stop = Stop::listen();
    let (mut settings, report) =
        match resolve_copy_flags(&arguments.copy, CommandKind::Plan, &output) {
            Ok(resolved) => resolved,
            Err(code) => return code,
        };
    let mut progress = RunState::default();
    let result = run_started(&mut output, &mut settings, async |settings| {
        stop.run(plan(settings, &mut progress)).await
    })
    .await;
    let Err(error) = result else {
        let problems = !progress.problems.is_empty();
        return output.planned(progress.into_report(report), problems).await;
    };
    let untouched = Untouched::NotCreated(&settings.database);
    Box::pin(progress.fail(&output, report, &error, untouched)).await
}

/// Snapshot, catalogs, the plan and its checks; an existing database
/// without --replace is one more problem.
async fn plan(settings: &Settings, progress: &mut RunState) -> anyhow::Result<()> {
    let source = preflight::open_source(settings).await?;
    progress.snapshot = Some(source.snapshot.clone());
    let mut target = preflight::open_target(&settings.target, &settings.database).await?;
    progress.server = Some(target.server.clone());
    let mut planned = preflight::plan(settings, &source, &mut target).await?;
    if target.exists && !settings.target_database.replace {
        planned
            .plan
            .problems
            .push(preflight::target_exists(&settings.database));
    }
    preflight::log_findings(&planned.plan, false);
    progress.record_plan(&planned.plan);
    let _ = target.admin.disconnect().await;
    Ok(())
}
