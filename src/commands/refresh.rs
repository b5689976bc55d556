//! `pg2dolt refresh`: one long-lived Dolt database, a commit per night.
//! The first night is a copy (published on `--branch`, tagged). A later
//! night: snapshot → plan (on a scratch database) → a work branch made
//! from the last published commit → the schema files added since applied
//! there → every planned table emptied (never dropped: Dolt would give its
//! columns new identities and the whole table would show as changed) and
//! reloaded → fix-ups, verification → a Dolt commit on the work branch,
//! none when nothing changed → the diff against the last published commit
//! → the guards → the publish, one ref update (`mysql::published`), and the
//! night's tag. Anything before the publish that fails or is interrupted
//! leaves the published branch as it was.

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tracing::{info, warn};

use super::copy::{Filling, load_planned, open_archive, plan_and_archive};
use super::{RunState, Untouched, commit, in_fresh_database, prepare_fill, resolve_copy_flags};
use crate::archive::writer::ArchiveRun;
use crate::cli::RefreshArgs;
use crate::error::{FailureKind, failure};
use crate::mysql::dolt::commit_date;
use crate::mysql::migrations;
use crate::mysql::published::{
    self, BranchState, CommitMeta, Merged, OnDiverged, TableChange, night_tag,
};
use crate::mysql::schema::ParsedSchemaFile;
use crate::mysql::sql::quote_identifier;
use crate::mysql::work::WorkBranch;
use crate::mysql::{TargetKind, TargetServer};
use crate::output::Output;
use crate::preflight::{self, Planned, SourceSide, TargetSide};
use crate::report::{CommandKind, RefreshOutcome, RefreshReport, TableReport};
use crate::settings::{RefreshSettings, Settings};
use crate::signal::Stop;

/// Runs `pg2dolt refresh`; returns the exit code.
pub async fn run(arguments: &RefreshArgs) -> u8 {
    let mut output = Output::new(arguments.copy.logging.log_format, None);
    let stop = Stop::listen();
    let (mut settings, report) =
        match resolve_copy_flags(&arguments.copy, CommandKind::Refresh, &output) {
            Ok(resolved) => resolved,
            Err(code) => return code,
        };
    let options = match RefreshSettings::resolve(arguments) {
        Ok(options) => options,
        Err(error) => return output.error(&error),
    };
    let mut progress = RunState {
        refresh: Some(RefreshReport::new(
            &options.branch.branch,
            options.on_diverged,
        )),
        ..RunState::default()
    };
    let (report_to, path_style) = (
        settings.target_database.report.clone(),
        settings.storage.path_style,
    );
    let result =
        match super::start_run(&mut output, report_to, path_style, &mut settings.target).await {
            Ok(local) => {
                let refreshed = Box::pin(refresh(&settings, &options, &stop, &mut progress)).await;
                local.stop().await;
                refreshed
            }
            Err(error) => Err(error),
        };
    let Err(error) = result else {
        return output.succeed(progress.into_report(report)).await;
    };
    let untouched = Untouched::Said("the target database was not touched");
    progress.fail(&output, report, &error, untouched).await
}

/// One night's inputs.
struct Night<'a> {
    settings: &'a Settings,
    options: &'a RefreshSettings,
    source: &'a SourceSide,
    archive: Option<&'a ArchiveRun>,
}

impl Night<'_> {
    fn branch(&self) -> &str {
        &self.options.branch.branch
    }

    fn tag(&self) -> String {
        night_tag(&self.options.branch.tag_prefix, &self.source.snapshot.time)
    }

    /// The tag's message: the snapshot, for `pg2dolt history`.
    fn tag_message(&self) -> String {
        let snapshot = &self.source.snapshot;
        format!(
            "pg2dolt refresh of Postgres database {}: snapshot {} ({})",
            snapshot.database, snapshot.time, snapshot.id
        )
    }
}

/// The refresh's phases; `progress` gets what each returns.
async fn refresh(
    settings: &Settings,
    options: &RefreshSettings,
    stop: &Stop,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let archive_store = open_archive(settings).await?;
    let mut target = stop
        .run(preflight::open_target(&settings.target, &settings.database))
        .await?;
    progress.server = Some(target.server.clone());
    if target.server.kind != TargetKind::Dolt {
        return Err(failure(
            FailureKind::Usage,
            format!(
                "refresh needs Dolt's branches and commits; the target is {} (use copy --replace there)",
                target.server.describe()
            ),
        ));
    }
    let source = stop.run(preflight::open_source(settings)).await?;
    progress.snapshot = Some(source.snapshot.clone());
    let (planned, archive) =
        plan_and_archive(settings, stop, &source, &mut target, archive_store, progress).await?;
    let night = Night {
        settings,
        options,
        source: &source,
        archive: archive.as_ref(),
    };
    if target.exists {
        later_night(&night, planned, target, stop, progress).await
    } else {
        first_night(&night, planned, target, stop, progress).await
    }
}

/// The database does not exist yet: a copy, every schema file recorded,
/// the commit tagged and published on `--branch`.
async fn first_night(
    night: &Night<'_>,
    planned: Planned,
    target: TargetSide,
    stop: &Stop,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let settings = night.settings;
    let server = target.server.clone();
    if let Some(refresh) = progress.refresh.as_mut() {
        refresh.first_night = true;
    }
    let (address, database) = (&settings.target, settings.database.as_str());
    let keep_failed = settings.target_database.keep_failed;
    in_fresh_database(
        target,
        address,
        database,
        keep_failed,
        stop,
        progress,
        async |progress| {
            let (mut conn, targets, route) = prepare_fill(
                address,
                database,
                &settings.schema_files,
                settings.target_database.load_method,
                &server,
                progress,
            )
            .await?;
            let into = Filling {
                database,
                conn: &mut conn,
                targets: &targets,
                route,
                server: &server,
            };
            load_planned(settings, night.source, planned, night.archive, into, progress).await?;
            let files: Vec<&ParsedSchemaFile> = settings.schema_files.iter().collect();
            migrations::record(&mut conn, &files, &night.source.snapshot.time).await?;
            let options = &settings.target_database;
            commit(&mut conn, &server, options, "refresh", &night.source.snapshot, progress).await?;
            let hash = progress.commit.clone().context("the night's commit")?;
            publish_first(&mut conn, night, &hash, progress).await?;
            let _ = conn.disconnect().await;
            Ok(())
        },
    )
    .await
}

/// The first night's commit: tagged, and on `--branch` (made there when
/// it is not the database's default branch).
async fn publish_first(
    conn: &mut Conn,
    night: &Night<'_>,
    hash: &str,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let tag = night.tag();
    published::tag(conn, &tag, hash, &night.tag_message()).await?;
    // language=MySQL
    let active: Option<String> = conn
        .query_first("SELECT active_branch()")
        .await
        .context("reading the active branch")?;
    if active.as_deref() != Some(night.branch()) {
        published::create_branch(conn, night.branch(), hash).await?;
    }
    info!(branch = night.branch(), %tag, %hash, "first night published");
    progress.changes = Some(unchanged_tables(&progress.tables, true));
    if let Some(refresh) = progress.refresh.as_mut() {
        refresh.outcome = RefreshOutcome::Published;
        refresh.head = Some(hash.to_string());
        refresh.new_commit = Some(hash.to_string());
        refresh.tag = Some(tag);
        refresh.schema_files_applied = night
            .settings
            .schema_files
            .iter()
            .map(|file| file.name.clone())
            .collect();
    }
    Ok(())
}

/// A later night: loaded on a work branch, then published (or held back).
async fn later_night(
    night: &Night<'_>,
    planned: Planned,
    target: TargetSide,
    stop: &Stop,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let settings = night.settings;
    let TargetSide { admin, server, .. } = target;
    let _ = admin.disconnect().await;
    let database = settings.database.as_str();
    let mut conn = crate::mysql::connect(&settings.target, Some(database)).await?;
    let prefix = &night.options.branch.tag_prefix;
    let mut state = published::branch_state(&mut conn, night.branch(), prefix).await?;
    let revision = format!("{database}/{}", night.branch());
    let mut on_branch = crate::mysql::connect(&settings.target, Some(&revision)).await?;
    state.dirty = published::has_changes(&mut on_branch).await?;
    record_state(progress, &state);
    if state.diverged() {
        warn!(branch = night.branch(), "the published branch was written to since the last refresh: {}", state.divergence());
    }
    let work = WorkBranch::create(
        &mut conn,
        &settings.target,
        database,
        &state.base,
        &night.source.snapshot.time,
    )
    .await?;
    let filled = stop
        .run(fill_work(night, planned, &work.revision(), &server, progress))
        .await;
    let untouched = format!(
        "the published branch {} is untouched (at {})",
        night.branch(),
        state.head
    );
    let night_commit = match filled {
        Ok(night_commit) => night_commit,
        Err(error) => {
            let keep = settings.target_database.keep_failed;
            progress.target = Some(work.abandon(&error, keep, &untouched).await);
            return Err(error);
        }
    };
    let changes = night_changes(&mut conn, &state, night_commit.as_deref(), progress).await?;
    let held = match deletion_guard(&changes, night.options.max_deleted_percent) {
        Some(reason) => Err(failure(FailureKind::HeldBack, reason)),
        None => {
            let mut publishing = Publishing {
                conn: &mut conn,
                on_branch: &mut on_branch,
                night,
                state: &state,
                work: &work.name,
                date: commit_date(&night.source.snapshot.time),
            };
            publishing.publish(night_commit.as_deref(), progress).await
        }
    };
    if let Err(error) = held {
        return Err(hold_back(error, work, &untouched, progress));
    }
    work.delete_published().await?;
    let _ = on_branch.disconnect().await;
    let _ = conn.disconnect().await;
    Ok(())
}

/// The branch as the night found it, in the report.
fn record_state(progress: &mut RunState, state: &BranchState) {
    if let Some(refresh) = progress.refresh.as_mut() {
        refresh.previous_head = Some(state.head.clone());
        refresh.base = Some(state.base.clone());
        refresh.diverged = state.diverged();
        refresh.divergence = state.diverged().then(|| state.divergence());
    }
}

/// A night held back (exit 7) or refused at the publish: nothing was
/// published; the work branch is kept for a person to look at (a guard,
/// the divergence, a merge conflict) and named.
fn hold_back(
    error: anyhow::Error,
    work: WorkBranch,
    untouched: &str,
    progress: &mut RunState,
) -> anyhow::Error {
    let name = work.keep();
    if let Some(refresh) = progress.refresh.as_mut() {
        refresh.outcome = RefreshOutcome::HeldBack;
        refresh.work_branch = Some(name.clone());
        refresh.held_back = Some(crate::error::one_line(&error));
    }
    progress.target = Some(crate::mysql::fresh::TargetOutcome {
        state: crate::mysql::fresh::TargetState::Untouched,
        detail: format!("{untouched}; the night is on branch {name} (kept for a look)"),
        touched: true,
    });
    error.context(format!(
        "nothing was published; the night is on branch {name}"
    ))
}

/// On the work branch (`work`, a `database/branch` name): the schema files
/// added since the last refresh, every planned table emptied and
/// reloaded, fix-ups, verification, the record of schema files, and the
/// Dolt commit: its hash, or `None` when nothing changed.
async fn fill_work(
    night: &Night<'_>,
    planned: Planned,
    work: &str,
    server: &TargetServer,
    progress: &mut RunState,
) -> anyhow::Result<Option<String>> {
    let settings = night.settings;
    let mut conn = crate::mysql::connect(&settings.target, Some(work)).await?;
    let applied = migrations::applied(&mut conn, work).await?;
    let pending = migrations::pending(&settings.schema_files, applied.as_ref())?;
    for file in &pending {
        info!(file = %file.name, "applying a schema file added since the last refresh");
    }
    let _ = conn.disconnect().await;
    let pending_files: Vec<ParsedSchemaFile> = pending.iter().map(|file| (*file).clone()).collect();
    let (mut conn, targets, route) = prepare_fill(
        &settings.target,
        work,
        &pending_files,
        settings.target_database.load_method,
        server,
        progress,
    )
    .await?;
    empty_tables(&mut conn, &planned).await?;
    let into = Filling {
        database: work,
        conn: &mut conn,
        targets: &targets,
        route,
        server,
    };
    load_planned(settings, night.source, planned, night.archive, into, progress).await?;
    let record: Vec<&ParsedSchemaFile> = if applied.is_some() {
        pending
    } else {
        // A database made by `copy`: its schema matched the files (the
        // catalog check above), which are recorded from now on.
        settings.schema_files.iter().collect()
    };
    migrations::record(&mut conn, &record, &night.source.snapshot.time).await?;
    if let Some(refresh) = progress.refresh.as_mut() {
        refresh.schema_files_applied = pending_files.iter().map(|file| file.name.clone()).collect();
    }
    if !published::has_changes(&mut conn).await? {
        info!("no change since the last refresh");
        let _ = conn.disconnect().await;
        return Ok(None);
    }
    let options = &settings.target_database;
    commit(&mut conn, server, options, "refresh", &night.source.snapshot, progress).await?;
    let _ = conn.disconnect().await;
    Ok(progress.commit.clone())
}

/// Empties every planned table (TRUNCATE keeps the table, its columns'
/// identities and its schema; foreign-key checks are off in pg2dolt's
/// sessions).
async fn empty_tables(conn: &mut Conn, planned: &Planned) -> anyhow::Result<()> {
    let mut tables: Vec<&str> = planned
        .plan
        .tables
        .iter()
        .map(|plan| plan.target.name.as_str())
        .collect();
    tables.sort_unstable();
    tables.dedup();
    for table in tables {
        // language=MySQL
        conn.query_drop(format!("TRUNCATE TABLE {}", quote_identifier(table)))
            .await
            .with_context(|| format!("emptying {table} on the work branch"))?;
    }
    Ok(())
}

/// Every copied table's change against the last published commit (Dolt's
/// diff statistics; tables without changes with zeros), and the tables
/// only the diff names (pg2dolt's record of schema files, a table a new
/// schema file added without a source, a dropped one).
async fn night_changes(
    conn: &mut Conn,
    state: &BranchState,
    night_commit: Option<&str>,
    progress: &mut RunState,
) -> anyhow::Result<Vec<TableChange>> {
    let mut changes = match night_commit {
        Some(hash) => published::diff(conn, &state.base, hash).await?,
        None => std::collections::BTreeMap::new(),
    };
    for unchanged in unchanged_tables(&progress.tables, false) {
        changes.entry(unchanged.table.clone()).or_insert(unchanged);
    }
    let changes: Vec<TableChange> = changes.into_values().collect();
    for change in changes.iter().filter(|change| change.rows_changed() > 0 || change.schema_changed) {
        info!(table = %change.table, rows_added = change.rows_added, rows_deleted = change.rows_deleted,
            rows_modified = change.rows_modified, schema_changed = change.schema_changed, "changed since the last refresh");
    }
    progress.changes = Some(changes.clone());
    Ok(changes)
}

/// The copied tables as changes: all rows added (the first night), or
/// none.
fn unchanged_tables(tables: &[TableReport], added: bool) -> Vec<TableChange> {
    let mut changes: Vec<TableChange> = tables
        .iter()
        .map(|table| TableChange {
            table: table.target.clone(),
            rows_added: if added { table.rows } else { 0 },
            schema_changed: added,
            rows_before: Some(if added { 0 } else { table.rows }),
            rows_after: Some(table.rows),
            ..TableChange::default()
        })
        .collect();
    changes.sort_by(|left, right| left.table.cmp(&right.table));
    changes.dedup_by(|left, right| left.table == right.table);
    changes
}

/// Why the night must be held back: a table lost more than `percent`% of
/// its rows, or became empty (`percent` 100: never).
fn deletion_guard(changes: &[TableChange], percent: f64) -> Option<String> {
    if percent >= 100.0 {
        return None;
    }
    let tripped: Vec<String> = changes
        .iter()
        .filter_map(|change| {
            let before = change.rows_before.filter(|rows| *rows > 0)?;
            #[allow(clippy::cast_precision_loss)]
            let lost = change.rows_deleted as f64 * 100.0 / before as f64;
            let emptied = change.rows_after == Some(0);
            (lost > percent || emptied).then(|| {
                format!(
                    "{} lost {} of its {before} rows ({lost:.1}%{})",
                    change.table,
                    change.rows_deleted,
                    if emptied { ", now empty" } else { "" }
                )
            })
        })
        .collect();
    (!tripped.is_empty()).then(|| {
        format!(
            "held back by --max-deleted-percent {percent}: {}",
            tripped.join("; ")
        )
    })
}

/// The publish of a night: one ref update of the published branch.
struct Publishing<'a> {
    /// a session on the database
    conn: &'a mut Conn,
    /// a session on the published branch
    on_branch: &'a mut Conn,
    night: &'a Night<'a>,
    state: &'a BranchState,
    /// the work branch
    work: &'a str,
    /// the commits' date: the snapshot's
    date: String,
}

impl Publishing<'_> {
    /// Publishes `night_commit` (`None`: the source did not change) as
    /// `--on-diverged` says when the branch moved since the last refresh.
    async fn publish(
        &mut self,
        night_commit: Option<&str>,
        progress: &mut RunState,
    ) -> anyhow::Result<()> {
        let published = if !self.state.diverged() {
            self.fast_forward(night_commit).await?
        } else {
            match self.night.options.on_diverged {
                OnDiverged::Fail => {
                    return Err(failure(
                        FailureKind::HeldBack,
                        format!(
                            "the published branch {} was written to since the last refresh ({}); --on-diverged reset or merge publishes anyway",
                            self.night.branch(),
                            self.state.divergence()
                        ),
                    ));
                }
                OnDiverged::Reset => self.reset(night_commit, progress).await?,
                OnDiverged::Merge => self.merge(night_commit).await?,
            }
        };
        let head = published::branch_head(self.conn, self.night.branch())
            .await?
            .context("the published branch is gone")?;
        let outcome = if head == self.state.head {
            RefreshOutcome::Unchanged
        } else {
            RefreshOutcome::Published
        };
        info!(branch = self.night.branch(), %head, outcome = ?outcome, "refresh published");
        progress.commit = Some(head.clone());
        progress.target = Some(crate::mysql::fresh::TargetOutcome {
            state: crate::mysql::fresh::TargetState::Complete,
            detail: match outcome {
                RefreshOutcome::Unchanged => format!(
                    "no change since the last refresh: the published branch {} stays at {head}",
                    self.night.branch()
                ),
                _ => format!(
                    "the published branch {} is at {head}, the night's commit",
                    self.night.branch()
                ),
            },
            touched: outcome != RefreshOutcome::Unchanged,
        });
        if let Some(refresh) = progress.refresh.as_mut() {
            refresh.outcome = outcome;
            refresh.head = Some(head);
            refresh.new_commit = published.clone();
            refresh.tag = published.map(|_| self.night.tag());
        }
        Ok(())
    }

    /// The branch did not move: fast-forwarded to the night (tagged
    /// first: a kill between the two leaves a tag off the branch, never an
    /// untagged night on it). Returns the new commit.
    async fn fast_forward(&mut self, night_commit: Option<&str>) -> anyhow::Result<Option<String>> {
        let Some(hash) = night_commit else {
            return Ok(None);
        };
        self.tag_night(hash).await?;
        if !published::fast_forward(self.on_branch, self.work).await? {
            return Err(failure(
                FailureKind::HeldBack,
                format!(
                    "the published branch {} was written to during the refresh: it cannot be fast-forwarded",
                    self.night.branch()
                ),
            ));
        }
        Ok(Some(hash.to_string()))
    }

    /// `--on-diverged reset`: someone's uncommitted changes committed, the
    /// old head tagged, then the branch moved to the night (the last
    /// published commit when nothing changed).
    async fn reset(
        &mut self,
        night_commit: Option<&str>,
        progress: &mut RunState,
    ) -> anyhow::Result<Option<String>> {
        self.keep_uncommitted().await?;
        let head = published::branch_head(self.conn, self.night.branch())
            .await?
            .context("the published branch is gone")?;
        let kept = format!(
            "{}before-reset/{}",
            self.night.options.branch.tag_prefix,
            published::compact_time(&self.night.source.snapshot.time)
        );
        let message = format!(
            "pg2dolt refresh: the head of {} before it was reset to the night",
            self.night.branch()
        );
        published::tag(self.conn, &kept, &head, &message).await?;
        if let Some(refresh) = progress.refresh.as_mut() {
            refresh.previous_head_tag = Some(kept);
        }
        if let Some(hash) = night_commit {
            self.tag_night(hash).await?;
        }
        let to = night_commit.unwrap_or(&self.state.base);
        published::reset_hard(self.on_branch, to).await?;
        Ok(night_commit.map(str::to_string))
    }

    /// `--on-diverged merge`: someone's uncommitted changes committed, then
    /// the night merged into the branch with a merge commit (tagged as the
    /// night); a conflict changes nothing (exit 7).
    async fn merge(&mut self, night_commit: Option<&str>) -> anyhow::Result<Option<String>> {
        let Some(_) = night_commit else {
            return Ok(None);
        };
        self.keep_uncommitted().await?;
        let message = format!(
            "pg2dolt refresh: merge of the night of {} into {}",
            self.night.source.snapshot.time,
            self.night.branch()
        );
        let meta = CommitMeta {
            message: &message,
            author: &self.night.settings.target_database.author,
            date: &self.date,
        };
        match published::merge(self.on_branch, self.work, &meta).await? {
            Merged::Commit(hash) => {
                self.tag_night(&hash).await?;
                Ok(Some(hash))
            }
            Merged::Conflicts(tables) => {
                let listed: Vec<String> = tables
                    .iter()
                    .map(|(table, count)| format!("{table} ({count})"))
                    .collect();
                Err(failure(
                    FailureKind::HeldBack,
                    format!(
                        "merging the night into {} conflicts on {}",
                        self.night.branch(),
                        listed.join(", ")
                    ),
                ))
            }
        }
    }

    /// Commits uncommitted changes on the published branch before it
    /// moves, so nothing of theirs is lost.
    async fn keep_uncommitted(&mut self) -> anyhow::Result<()> {
        if !self.state.dirty {
            return Ok(());
        }
        let message = format!(
            "pg2dolt refresh: changes left uncommitted on {}, kept before the night of {}",
            self.night.branch(),
            self.night.source.snapshot.time
        );
        let meta = CommitMeta {
            message: &message,
            author: &self.night.settings.target_database.author,
            date: &self.date,
        };
        let hash = published::commit_pending(self.on_branch, &meta).await?;
        warn!(%hash, branch = self.night.branch(), "uncommitted changes on the published branch committed");
        Ok(())
    }

    async fn tag_night(&mut self, hash: &str) -> anyhow::Result<()> {
        let tag = self.night.tag();
        published::tag(self.conn, &tag, hash, &self.night.tag_message()).await
    }

}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(table: &str, deleted: u64, before: u64, after: u64) -> TableChange {
        TableChange {
            table: table.to_string(),
            rows_deleted: deleted,
            rows_before: Some(before),
            rows_after: Some(after),
            ..TableChange::default()
        }
    }

    #[test]
    fn the_guard_holds_back_large_deletions_and_emptied_tables() {
        let fine = [change("a", 5, 10, 5), change("b", 0, 0, 0)];
        assert_eq!(deletion_guard(&fine, 50.0), None);
        let lost = [change("a", 80, 100, 20)];
        let reason = deletion_guard(&lost, 50.0).unwrap();
        assert!(reason.contains("a lost 80 of its 100 rows (80.0%)"), "{reason}");
        assert_eq!(deletion_guard(&lost, 100.0), None);
        assert_eq!(deletion_guard(&lost, 80.0), None);
        let emptied = [change("c", 1, 1, 0)];
        assert!(deletion_guard(&emptied, 100.0).is_none());
        assert!(deletion_guard(&emptied, 99.0).unwrap().contains("now empty"));
    }
}
