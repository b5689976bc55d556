//! The end of a night: the first night's tag; a later night's diff, the
//! guard, then the publish (`moves.rs`) — or the night held back (exit 7)
//! on its kept work branch, or its work branch deleted after a failure.

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tracing::{info, warn};

use super::Night;
use super::moves::Publishing;
use crate::commands::RunState;
use crate::error::{FailureKind, failure};
use crate::mysql::dolt::commit_date;
use crate::mysql::fresh::{TargetOutcome, TargetState};
use crate::mysql::published::{self, BranchState, TableChange};
use crate::mysql::work::WorkBranch;
use crate::report::{RefreshOutcome, TableReport};

/// The sessions a later night publishes through: on the database and on
/// the published branch, with the branch as the night found it.
pub(super) struct Sessions {
    /// a session on the database
    pub conn: Conn,
    /// a session on the published branch (`database/branch`)
    on_branch: Conn,
    /// the branch before the night
    pub state: BranchState,
}

impl Sessions {
    /// The published branch's state (head, last published commit, someone
    /// else's writes since), recorded in the report.
    pub async fn open(night: &Night<'_>, progress: &mut RunState) -> anyhow::Result<Sessions> {
        let settings = night.settings;
        let mut conn = crate::mysql::connect(&settings.target, Some(&settings.database)).await?;
        let prefix = &night.options.branch.tag_prefix;
        // A missing branch is exit 2 here, before a session on it is tried.
        let mut state = published::branch_state(&mut conn, night.branch(), prefix).await?;
        let mut on_branch = connect_branch(night).await?;
        state.dirty = published::has_changes(&mut on_branch).await?;
        record_state(progress, &state);
        if state.diverged() {
            warn!(
                branch = night.branch(),
                "the published branch was written to since the last refresh: {}",
                state.divergence()
            );
        }
        Ok(Sessions {
            conn,
            on_branch,
            state,
        })
    }

    /// Fresh sessions for the end of the night: these idled through the
    /// load (a server may have closed them).
    async fn reconnect(&mut self, night: &Night<'_>) -> anyhow::Result<()> {
        let settings = night.settings;
        let conn = crate::mysql::connect(&settings.target, Some(&settings.database)).await?;
        let on_branch = connect_branch(night).await?;
        let idle = [
            std::mem::replace(&mut self.conn, conn),
            std::mem::replace(&mut self.on_branch, on_branch),
        ];
        for session in idle {
            let _ = session.disconnect().await;
        }
        Ok(())
    }

    /// After the fill: the diff, the guard and the publish; or, after a
    /// failure before the publish, the work branch deleted (kept with
    /// `--keep-failed`), or kept when the night is held back.
    pub async fn conclude(
        mut self,
        night: &Night<'_>,
        work: WorkBranch,
        filled: anyhow::Result<Option<String>>,
        progress: &mut RunState,
    ) -> anyhow::Result<()> {
        let untouched = format!(
            "the published branch {} is untouched (at {})",
            night.branch(),
            self.state.head
        );
        let diffed = match filled {
            Ok(night_commit) => match self.reconnect(night).await {
                Ok(()) => night_changes(
                    &mut self.conn,
                    &self.state,
                    night_commit.as_deref(),
                    progress,
                )
                .await
                .map(|changes| (night_commit, changes)),
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        let (night_commit, changes) = match diffed {
            Ok(diffed) => diffed,
            Err(error) => {
                let keep = night.settings.target_database.keep_failed;
                progress.target = Some(work.abandon(&error, keep, &untouched).await);
                return Err(error);
            }
        };
        let held = if let Some(reason) = deletion_guard(&changes, night.options.max_deleted_percent)
        {
            Err(failure(FailureKind::HeldBack, reason))
        } else {
            let mut publishing = Publishing {
                conn: &mut self.conn,
                on_branch: &mut self.on_branch,
                night,
                state: &self.state,
                work: &work.name,
                date: commit_date(&night.source.snapshot.time),
            };
            publishing.publish(night_commit.as_deref(), progress).await
        };
        if let Err(error) = held {
            return Err(hold_back(&error, work, &untouched, progress));
        }
        // Published: a work branch left by a failed delete is named by the
        // next refresh's warning, and changes nothing for readers.
        if let Err(error) = work.delete_published().await {
            warn!("the night is published, but {error:#}");
        }
        let _ = self.on_branch.disconnect().await;
        let _ = self.conn.disconnect().await;
        Ok(())
    }
}

/// A session on the published branch (`database/branch`).
async fn connect_branch(night: &Night<'_>) -> anyhow::Result<Conn> {
    let settings = night.settings;
    let revision = format!("{}/{}", settings.database, night.branch());
    crate::mysql::connect(&settings.target, Some(&revision)).await
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
pub(super) fn hold_back(
    error: &anyhow::Error,
    work: WorkBranch,
    untouched: &str,
    progress: &mut RunState,
) -> anyhow::Error {
    let name = work.keep();
    let said = format!("{untouched}; the night is on branch {name} (kept for a look)");
    if let Some(refresh) = progress.refresh.as_mut() {
        refresh.outcome = RefreshOutcome::HeldBack;
        refresh.head.clone_from(&refresh.previous_head);
        refresh.work_branch = Some(name.clone());
        refresh.held_back = Some(crate::error::one_line(error));
    }
    progress.target = Some(TargetOutcome {
        state: TargetState::Untouched,
        detail: said.clone(),
        touched: true,
    });
    let line = format!(
        "{}; nothing was published: {said}",
        crate::error::one_line(error)
    );
    match crate::error::kind(error) {
        Some(kind) => failure(kind, line),
        None => anyhow::anyhow!(line),
    }
}

/// Why the night must be held back: a table lost more than `percent`% of
/// its rows, or became empty (`percent` 100: never). A table a schema file
/// dropped was meant to go.
pub(super) fn deletion_guard(changes: &[TableChange], percent: f64) -> Option<String> {
    if percent >= 100.0 {
        return None;
    }
    let tripped: Vec<String> = changes
        .iter()
        .filter(|change| !change.dropped)
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

/// The first night's commit: tagged, and on `--branch` (made there when
/// it is not the database's default branch).
pub(super) async fn publish_first(
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
        let night = unchanged.night.clone();
        changes
            .entry(unchanged.table.clone())
            .or_insert(unchanged)
            .night = night;
    }
    let changes: Vec<TableChange> = changes.into_values().collect();
    for change in changes
        .iter()
        .filter(|change| change.rows_changed() > 0 || change.schema_changed)
    {
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
            night: table.night.clone(),
            ..TableChange::default()
        })
        .collect();
    changes.sort_by(|left, right| left.table.cmp(&right.table));
    changes.dedup_by(|left, right| left.table == right.table);
    changes
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
        assert!(
            reason.contains("a lost 80 of its 100 rows (80.0%)"),
            "{reason}"
        );
        assert_eq!(deletion_guard(&lost, 100.0), None);
        assert_eq!(deletion_guard(&lost, 80.0), None);
        let dropped = [TableChange {
            dropped: true,
            ..change("d", 10, 10, 0)
        }];
        assert_eq!(deletion_guard(&dropped, 50.0), None);
        let emptied = [change("c", 1, 1, 0)];
        assert!(deletion_guard(&emptied, 100.0).is_none());
        assert!(
            deletion_guard(&emptied, 99.0)
                .unwrap()
                .contains("now empty")
        );
    }
}
