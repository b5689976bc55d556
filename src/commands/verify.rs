//! `pg2dolt verify`: every row of a Dolt branch compared with a new
//! snapshot of the source (`nightly::verify`): exit 0 when equal, 4 when
//! rows differ. `compare_with_snapshot` is also `refresh --verify`'s.

use anyhow::Context as _;
use tracing::{info, warn};

use super::copy::{Filling, load_planned, plan_and_archive};
use super::{RunState, Untouched, open_dolt_target, prepare_fill, resolve_copy_flags, run_started};
use crate::cli::VerifyArgs;
use crate::error::{FailureKind, failure};
use crate::mysql::TargetServer;
use crate::mysql::published::{self, compact_time};
use crate::nightly::night::Decision;
use crate::nightly::verify::{SCRATCH_PREFIX, TableDifference, differences};
use crate::output::Output;
use crate::preflight::{self, Planned, SourceSide};
use crate::report::{CommandKind, VerifyReport};
use crate::settings::{BranchSettings, Settings};
use crate::signal::Stop;

/// Runs `pg2dolt verify`; returns the exit code.
pub async fn run(arguments: &VerifyArgs) -> u8 {
    let mut output = Output::new(arguments.copy.logging.log_format, None);
    let stop = Stop::listen();
    let branch = match resolve(arguments) {
        Ok(branch) => branch,
        Err(error) => return output.error(&error),
    };
    let (mut settings, report) =
        match resolve_copy_flags(&arguments.copy, CommandKind::Verify, &output) {
            Ok(resolved) => resolved,
            Err(code) => return code,
        };
    if let Some(masking) = settings.masking.as_mut() {
        masking.branch = Some(branch.branch.clone());
    }
    let mut progress = RunState::default();
    let result = run_started(&mut output, &mut settings, async |settings| {
        Box::pin(verify(settings, &branch.branch, &stop, &mut progress)).await
    })
    .await;
    let Err(error) = result else {
        return output.succeed(progress.into_report(report)).await;
    };
    let untouched = Untouched::Said("verify changes nothing in the target database");
    Box::pin(progress.fail(&output, report, &error, untouched)).await
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

async fn verify(
    settings: &Settings,
    branch: &str,
    stop: &Stop,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let mut target = open_dolt_target(settings, stop, progress, |server| {
        format!("verify compares a Dolt branch with the snapshot; the target is {server}")
    })
    .await?;
    if !target.exists {
        return Err(failure(
            FailureKind::Usage,
            format!("the target has no database {}", settings.database),
        ));
    }
    let mut conn = crate::mysql::connect(&settings.target, Some(&settings.database)).await?;
    let head = published::branch_head(&mut conn, branch).await?;
    let _ = conn.disconnect().await;
    let Some(head) = head else {
        return Err(failure(
            FailureKind::Usage,
            format!("the target database has no branch {branch} (--branch)"),
        ));
    };
    let source = stop.run(preflight::open_source(settings)).await?;
    progress.snapshot = Some(source.snapshot.clone());
    let (planned, _) =
        plan_and_archive(settings, stop, &source, &mut target, None, progress).await?;
    let server = target.server.clone();
    let _ = target.admin.disconnect().await;
    let tables = planned.plan.tables.len();
    let revision = format!("{}/{branch}", settings.database);
    let found = compare_with_snapshot(
        settings,
        &source,
        planned,
        (&revision, &head),
        &server,
        Some(stop),
    )
    .await?;
    let equal = found.is_empty();
    progress.verify = Some(VerifyReport {
        branch: branch.to_string(),
        equal,
        tables_compared: tables,
        differences: found.clone(),
    });
    if equal {
        info!(branch, tables, "every row equals the snapshot");
        return Ok(());
    }
    Err(differ_error(branch, &found))
}

/// Exit 4, naming every table that differs.
pub(super) fn differ_error(branch: &str, found: &[TableDifference]) -> anyhow::Error {
    let tables: Vec<String> = found.iter().map(TableDifference::describe).collect();
    failure(
        FailureKind::Verify,
        format!(
            "branch {branch} differs from the snapshot in {} table(s): {}",
            found.len(),
            tables.join("; ")
        ),
    )
}

/// Compares the working set of `revision` (a `database/branch`) with the
/// snapshot: every table first as both sides stream (`nightly::compare`);
/// the tables that did not compare equal so (none, usually) exactly: the
/// snapshot loaded in full on a scratch branch made at `at` and committed
/// there, then Dolt's diff. The scratch branch is deleted however this
/// ends.
pub(super) async fn compare_with_snapshot(
    settings: &Settings,
    source: &SourceSide,
    mut planned: Planned,
    (revision, at): (&str, &str),
    server: &TargetServer,
    stop: Option<&Stop>,
) -> anyhow::Result<Vec<TableDifference>> {
    let fast = stream_compare(settings, &planned, revision);
    let suspects = match stop {
        Some(stop) => stop.run(fast).await?,
        None => fast.await?,
    };
    if suspects.is_empty() {
        return Ok(Vec::new());
    }
    planned
        .plan
        .tables
        .retain(|plan| suspects.contains(&plan.target.name));
    let database = settings.database.as_str();
    let mut conn = crate::mysql::connect(&settings.target, Some(database)).await?;
    let scratch = format!("{SCRATCH_PREFIX}{}", compact_time(&source.snapshot.time));
    published::create_branch(&mut conn, &scratch, at).await?;
    info!(branch = %scratch, at, "loading the snapshot on a scratch branch to compare");
    let scratch_revision = format!("{database}/{scratch}");
    let work = load_and_compare(
        settings,
        source,
        planned,
        (&scratch_revision, revision, at),
        server,
    );
    // Under a signal the load is dropped and the branch still deleted.
    let compared = match stop {
        Some(stop) => stop.run(work).await,
        None => work.await,
    };
    if let Err(error) = published::delete_branch(&mut conn, &scratch).await {
        warn!(branch = %scratch, "deleting the scratch branch failed: {error:#}");
    }
    let _ = conn.disconnect().await;
    compared
}

/// The target tables that did not compare equal as both sides streamed,
/// the tables spread over the plan's readers.
async fn stream_compare(
    settings: &Settings,
    planned: &Planned,
    revision: &str,
) -> anyhow::Result<Vec<String>> {
    let started = std::time::Instant::now();
    let readers = planned.readers.len().max(1);
    let groups = planned
        .readers
        .iter()
        .enumerate()
        .map(|(group, reader)| async move {
            let mut conn = crate::mysql::connect(&settings.target, Some(revision)).await?;
            let mut suspects = Vec::new();
            for plan in planned.plan.tables.iter().skip(group).step_by(readers) {
                if !crate::nightly::compare::rows_equal(reader, &mut conn, plan).await? {
                    suspects.push(plan.target.name.clone());
                }
            }
            let _ = conn.disconnect().await;
            anyhow::Ok(suspects)
        });
    let suspects: Vec<String> = futures_util::future::try_join_all(groups)
        .await?
        .into_iter()
        .flatten()
        .collect();
    info!(
        tables = planned.plan.tables.len(),
        to_compare_exactly = suspects.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "rows compared as they stream"
    );
    Ok(suspects)
}

async fn load_and_compare(
    settings: &Settings,
    source: &SourceSide,
    planned: Planned,
    (scratch, revision, at): (&str, &str, &str),
    server: &TargetServer,
) -> anyhow::Result<Vec<TableDifference>> {
    // The scratch load's own account stays out of the run's report.
    let mut scratch_run = RunState::default();
    let load_method = settings.target_database.load_method;
    let (mut conn, targets, route) = prepare_fill(
        &settings.target,
        scratch,
        &[],
        load_method,
        server,
        &mut scratch_run,
    )
    .await?;
    let plans = planned.plan.tables.clone();
    let names: Vec<&str> = plans.iter().map(|plan| plan.target.name.as_str()).collect();
    crate::mysql::empty_tables(&mut conn, &names)
        .await
        .context("on the scratch branch")?;
    let decision = Decision::all_full(
        &plans,
        "verify",
        crate::nightly::night::Identities::default(),
    );
    let into = Filling {
        database: scratch,
        conn: &mut conn,
        targets: &targets,
        route,
        server,
    };
    load_planned(
        settings,
        source,
        planned,
        None,
        into,
        Some(&decision),
        &mut scratch_run,
    )
    .await?;
    let message = format!("pg2dolt verify: snapshot {}", source.snapshot.time);
    let date = crate::mysql::dolt::commit_date(&source.snapshot.time);
    let author = &settings.target_database.author;
    // Loaded rows equal to the branch's head leave nothing to commit: the
    // head is then the snapshot's commit.
    let hash = if crate::mysql::published::has_changes(&mut conn).await? {
        crate::mysql::dolt::commit(&mut conn, &message, author, &date).await?
    } else {
        at.to_string()
    };
    let _ = conn.disconnect().await;
    let tables: Vec<(String, Vec<String>)> = plans
        .iter()
        .map(|plan| {
            let key = if plan.target.primary_key.is_empty() {
                plan.columns
                    .iter()
                    .take(2)
                    .map(|column| column.target.clone())
                    .collect()
            } else {
                plan.target.primary_key.clone()
            };
            (plan.target.name.clone(), key)
        })
        .collect();
    let mut on_branch = crate::mysql::connect(&settings.target, Some(revision)).await?;
    let found = differences(&mut on_branch, &hash, &tables).await?;
    let _ = on_branch.disconnect().await;
    Ok(found)
}
