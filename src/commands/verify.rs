//! `pg2dolt verify`: every row of a Dolt branch compared with a new
//! snapshot of the source (`nightly::verify`): exit 0 when equal, 4 when
//! rows differ.

use crate::cli::{LoggingArgs, VerifyArgs};
use crate::dolt::refs::{branch_head, revision};
use crate::error::{FailureKind, failure};
use crate::nightly::verify::{Compared, differ_error, verify_branch};
use crate::preflight::{self, open_dolt_target, plan_checked};
use crate::report::CommandKind;
use crate::run::{Outcome, Run, RunState, Untouched};
use crate::settings::{BranchSettings, Settings};
use crate::signal::Stop;

/// Runs `pg2dolt verify`; returns the exit code.
pub async fn run(arguments: &VerifyArgs, logging: &LoggingArgs) -> u8 {
    let run = Run::start(CommandKind::Verify, logging.log_format, None);
    let resolve = || {
        let branch = resolve(arguments)?;
        Ok((Settings::resolve(&arguments.copy)?, branch))
    };
    Box::pin(run.execute(resolve, async |(settings, branch), stop| {
        verify(settings, &branch.name, stop).await
    }))
    .await
}

/// Refuses copy's flags that make no sense for a comparison.
fn resolve(arguments: &VerifyArgs) -> anyhow::Result<BranchSettings> {
    let usage = |message: &str| failure(FailureKind::Usage, message.to_string());
    if arguments.copy.target_database.replace || arguments.copy.no_target {
        return Err(usage(
            "verify compares a database; --replace and --no-target are copy's",
        ));
    }
    if arguments.copy.archive.is_some() {
        return Err(usage("verify writes no archive; --archive is copy's"));
    }
    BranchSettings::resolve(&arguments.branch)
}

/// The branch's head, the snapshot and the plan, then the comparison.
async fn verify(settings: &Settings, branch: &str, stop: &Stop) -> Outcome {
    let mut state = RunState::new(Untouched::Because(
        "verify changes nothing in the target database",
    ));
    let result = async {
        let refusal = |server: &str| {
            format!("verify compares a Dolt branch with the snapshot; the target is {server}")
        };
        let mut target = stop.run(open_dolt_target(settings, refusal)).await?;
        state.server = Some(target.server.clone());
        if !target.exists {
            return Err(failure(
                FailureKind::Usage,
                format!("the target has no database {}", settings.database),
            ));
        }
        let mut conn = crate::mysql::connect(&settings.target, Some(&settings.database)).await?;
        let head = branch_head(&mut conn, branch).await?;
        let _ = conn.disconnect().await;
        let Some(head) = head else {
            return Err(failure(
                FailureKind::Usage,
                format!("the target database has no branch {branch} (--branch)"),
            ));
        };
        let source = stop.run(preflight::open_source(settings)).await?;
        state.snapshot = Some(source.snapshot.clone());
        let planned = stop
            .run(plan_checked(settings, &source, &mut target, Some(branch)))
            .await?;
        state.record_plan(&planned.plan);
        preflight::refuse_problems(&planned.plan.problems)?;
        let server = target.server.clone();
        let _ = target.admin.disconnect().await;
        let revision = revision(&settings.database, branch);
        let compared = Compared {
            name: branch,
            revision: &revision,
            head: &head,
        };
        let verified =
            verify_branch(settings, &source, planned, &compared, &server, Some(stop)).await?;
        let differs = differ_error(&verified);
        state.verify = Some(verified);
        differs.map_or(Ok(()), Err)
    }
    .await;
    state.ended(result)
}
