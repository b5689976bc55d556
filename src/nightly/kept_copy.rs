//! A copy a failed run kept, continued (`copy --resume`, issue 26): on
//! Dolt a copy run with `--keep-failed` or `--resume` records what it
//! finished loading (`progress`, in the new database's working set, where
//! Dolt keeps it across sessions and server restarts), and a rerun with
//! `--resume` keeps those tables, caught up by delta from the failed run's
//! snapshot under the rules every night follows, and loads the others.
//! The progress table is dropped before the copy's commit.

use anyhow::Context as _;
use mysql_async::Conn;
use tracing::{info, warn};

use super::decision::{self, Decision, Identities};
use super::deletes::Sides;
use super::night::prepare_tables;
use super::progress::{self, Progress};
use crate::error::{FailureKind, failure};
use crate::mysql::schema::ParsedSchemaFile;
use crate::mysql::{TargetAddress, TargetKind};
use crate::plan::TablePlan;
use crate::preflight::{SourceSide, TargetSide};
use crate::settings::Settings;

/// What `copy --resume` does with the existing target database.
pub enum Kept {
    /// continue it: what the failed run finished
    Resume(Progress),
    /// a copy a failed run kept that has nothing to keep (no table
    /// finished, other schema files): dropped and copied again
    Again,
}

/// The existing target database of `copy --resume`: a copy a failed run
/// kept (it records its progress and holds no commit but Dolt's first), or
/// refused with exit 2, untouched.
pub async fn kept(settings: &Settings, target: &TargetSide) -> anyhow::Result<Kept> {
    let database = &settings.database;
    if target.server.kind != TargetKind::Dolt {
        return Err(failure(
            FailureKind::Usage,
            format!(
                "--resume continues a copy kept on a Dolt target (Dolt keeps what a run finished, proved by each table's hash); the database {database} was left untouched: --replace copies it again"
            ),
        ));
    }
    let not_kept = |why: &str| {
        failure(
            FailureKind::Usage,
            format!(
                "--resume: the database {database} is not a copy a failed run kept ({why}); it was left untouched: --replace copies it again"
            ),
        )
    };
    let mut conn = crate::mysql::connect(&settings.target, Some(database)).await?;
    let found = async {
        let commits = crate::dolt::refs::log(&mut conn, "HEAD").await?.len();
        let progress = progress::read(&mut conn).await?;
        anyhow::Ok((commits, progress))
    }
    .await;
    let _ = conn.disconnect().await;
    let (commits, progress) =
        found.with_context(|| format!("looking at the kept copy {database}"))?;
    if commits != 1 {
        return Err(not_kept("it holds commits"));
    }
    let Some(progress) = progress else {
        return Err(not_kept("it records no progress"));
    };
    let files: Vec<&ParsedSchemaFile> = settings.schema_files.iter().collect();
    if progress.schema_files != progress::file_ids(&files) {
        warn!(
            database,
            "the kept copy was made with other schema files: it is copied again from scratch"
        );
        return Ok(Kept::Again);
    }
    if progress.state.tables.is_empty() {
        info!(
            database,
            "the kept copy finished no table: it is copied again from scratch"
        );
        return Ok(Kept::Again);
    }
    warn!(
        database,
        tables = progress.state.tables.len(),
        "continuing the copy a failed run kept: the tables it finished are kept, the others load"
    );
    Ok(Kept::Resume(progress))
}

/// How a copy loads its tables into `conn` (its database): every table in
/// full, recording its progress when `records` (Dolt, `--keep-failed` or
/// `--resume`); continuing `kept`, the tables it finished by delta from its
/// snapshot (not when the copy archives: an archive holds every row).
pub async fn decide(
    settings: &Settings,
    source: &SourceSide,
    plans: &[TablePlan],
    conn: &mut Conn,
    (kept, records, archived): (Option<&Progress>, bool, bool),
) -> anyhow::Result<Decision> {
    let identities = if records {
        decision::read_identities(&source.coordinator, plans).await?
    } else {
        Identities::default()
    };
    let mut decision = Decision::all_full(plans, "the copy", identities);
    // Nothing reads key ranges after a copy.
    decision.count_ranges = false;
    if records {
        decision.progress = decision::header(&source.snapshot);
        let files: Vec<&ParsedSchemaFile> = settings.schema_files.iter().collect();
        decision.applied_files = progress::file_ids(&files);
    }
    let Some(kept) = kept else {
        return Ok(decision);
    };
    // An archive holds every row: nothing is kept then.
    let from = (!archived).then_some((kept, settings.database.as_str()));
    let snapshot = (&source.snapshot, false);
    decision::continue_stopped(conn, plans, &mut decision, from, snapshot).await?;
    let sides = Sides::of(settings, source, &settings.database);
    prepare_tables(conn, &sides, plans, &mut decision).await?;
    Ok(decision)
}

/// After a copy that records its progress failed with `error`: what the
/// database at `address` keeps for `--resume`, if anything.
pub async fn kept_after(
    address: &TargetAddress,
    database: &str,
    error: &anyhow::Error,
) -> Option<Progress> {
    progress::kept_for_rerun(error, progress::read_at(address, database)).await
}
