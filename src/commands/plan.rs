//! `pg2dolt plan`: every problem a copy would meet, without moving data —
//! the copy's preflight (snapshot, catalogs, the plan on a scratch
//! database, the source data checks) and nothing after it. Exit code 3
//! when it found problems.

use crate::cli::{LoggingArgs, PlanArgs};
use crate::preflight;
use crate::report::CommandKind;
use crate::run::{Outcome, Run, RunState, Untouched};
use crate::settings::Settings;
use crate::signal::Stop;

/// Runs `pg2dolt plan`; returns the exit code.
pub async fn run(arguments: &PlanArgs, logging: &LoggingArgs) -> u8 {
    let run = Run::start(
        CommandKind::Plan,
        logging.log_format,
        Some(arguments.format),
    );
    Box::pin(run.execute(
        || Settings::resolve(&arguments.copy),
        async |settings, stop| plan(settings, stop).await,
    ))
    .await
}

/// Snapshot, catalogs, the plan and its checks; an existing database
/// without --replace is one more problem.
async fn plan(settings: &Settings, stop: &Stop) -> Outcome {
    let mut state = RunState::new(Untouched::NotCreated(settings.database.clone()));
    let work = async {
        let source = preflight::open_source(settings).await?;
        state.snapshot = Some(source.snapshot.clone());
        let mut target = preflight::open_target(&settings.target, &settings.database).await?;
        state.server = Some(target.server.clone());
        let mut planned = preflight::plan_and_check(settings, &source, &mut target, None).await?;
        if target.exists && !settings.target_database.replace {
            let exists = preflight::target_exists(&settings.database);
            planned.plan.problems.push(exists);
        }
        preflight::log_findings(&planned.plan, false);
        state.record_plan(&planned.plan);
        let _ = target.admin.disconnect().await;
        anyhow::Ok(())
    };
    let result = stop.run(work).await;
    state.ended(result)
}
