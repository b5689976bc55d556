//! The comparison `pg2dolt verify` and `refresh --verify` make, on Dolt:
//! every table first compared as both sides stream in key order
//! (`nightly::compare`); the tables that do not compare equal so (none,
//! usually) exactly: the snapshot loaded in full on a scratch branch and
//! committed there (pg2dolt's own conversion and masking, so a row is
//! stored exactly as a copy would store it), then Dolt's diff (`diff`).

mod diff;

use crate::report::TableDifference;
pub use diff::SCRATCH_PREFIX;

use anyhow::Context as _;
use tracing::{info, warn};

use super::decision::{Decision, Identities};
use super::load::load_night;
use crate::dolt::commit::commit;
use crate::dolt::refs::{create_branch, delete_branch, has_changes, revision};
use crate::error::{FailureKind, failure};
use crate::fill::Fill;
use crate::mysql::TargetServer;
use crate::preflight::{Planned, SourceSide};
use crate::report::VerifyReport;
use crate::settings::Settings;
use crate::signal::Stop;

/// The branch to compare: `name`, read in the revision database
/// `revision` (`database/branch`), whose head is `head`.
pub struct Compared<'a> {
    /// the branch's name, for the report
    pub name: &'a str,
    /// its revision database
    pub revision: &'a str,
    /// its head commit: where the scratch branch starts
    pub head: &'a str,
}

/// Every planned table of `branch`'s working set compared with the
/// snapshot; the scratch branch is deleted however this ends (a signal
/// through `stop` included).
pub async fn verify_branch(
    settings: &Settings,
    source: &SourceSide,
    planned: Planned,
    branch: &Compared<'_>,
    server: &TargetServer,
    stop: Option<&Stop>,
) -> anyhow::Result<VerifyReport> {
    let tables_compared = planned.plan.tables.len();
    let differences =
        compare_with_snapshot(settings, source, planned, branch, server, stop).await?;
    let equal = differences.is_empty();
    if equal {
        info!(
            branch = branch.name,
            tables = tables_compared,
            "every row equals the snapshot"
        );
    }
    Ok(VerifyReport {
        branch: branch.name.to_string(),
        equal,
        tables_compared,
        differences,
    })
}

/// Exit 4, naming every table that differs; none when equal.
#[must_use]
pub fn differ_error(report: &VerifyReport) -> Option<anyhow::Error> {
    if report.equal {
        return None;
    }
    let found = &report.differences;
    let tables: Vec<String> = found.iter().map(TableDifference::describe).collect();
    Some(failure(
        FailureKind::Verify,
        format!(
            "branch {} differs from the snapshot in {} table(s): {}",
            report.branch,
            found.len(),
            tables.join("; ")
        ),
    ))
}

/// The tables that differ: streamed first, then exactly on a scratch
/// branch for the suspects.
async fn compare_with_snapshot(
    settings: &Settings,
    source: &SourceSide,
    mut planned: Planned,
    branch: &Compared<'_>,
    server: &TargetServer,
    stop: Option<&Stop>,
) -> anyhow::Result<Vec<TableDifference>> {
    let fast = stream_compare(settings, &planned, branch.revision);
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
    let scratch = format!("{SCRATCH_PREFIX}{}", source.snapshot.time.compact());
    create_branch(&mut conn, &scratch, branch.head).await?;
    info!(branch = %scratch, at = branch.head, "loading the snapshot on a scratch branch to compare");
    let scratch_revision = revision(database, &scratch);
    let work = load_and_compare(settings, source, planned, &scratch_revision, branch, server);
    // Under a signal the load is dropped and the branch still deleted.
    let compared = match stop {
        Some(stop) => stop.run(work).await,
        None => work.await,
    };
    if let Err(error) = delete_branch(&mut conn, &scratch).await {
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
                if !super::compare::rows_equal(reader, &mut conn, plan).await? {
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

/// The snapshot loaded in full on `scratch` (a revision database) and
/// committed, then Dolt's diff of that commit with `branch`.
async fn load_and_compare(
    settings: &Settings,
    source: &SourceSide,
    planned: Planned,
    scratch: &str,
    branch: &Compared<'_>,
    server: &TargetServer,
) -> anyhow::Result<Vec<TableDifference>> {
    let load_method = settings.target_database.load_method;
    let mut fill = Fill::open(&settings.target, scratch, &[], load_method, server).await?;
    let plans = planned.plan.tables.clone();
    let names: Vec<&str> = plans.iter().map(|plan| plan.target.name.as_str()).collect();
    crate::mysql::empty_tables(&mut fill.conn, &names)
        .await
        .context("on the scratch branch")?;
    let mut decision = Decision::all_full(&plans, "verify", Identities::default());
    decision.count_ranges = false;
    load_night(settings, source, planned, None, &mut fill, &decision).await?;
    let time = &source.snapshot.time;
    let message = format!("pg2dolt verify: snapshot {time}");
    let author = &settings.target_database.author;
    // Loaded rows equal to the branch's head leave nothing to commit: the
    // head is then the snapshot's commit.
    let hash = if has_changes(&mut fill.conn).await? {
        commit(&mut fill.conn, &message, author, &time.commit_date()).await?
    } else {
        branch.head.to_string()
    };
    fill.close().await;
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
    let mut on_branch = crate::mysql::connect(&settings.target, Some(branch.revision)).await?;
    let found = diff::differences(&mut on_branch, &hash, &tables).await?;
    let _ = on_branch.disconnect().await;
    Ok(found)
}
