//! The end of a night: the first night's tag and branch; a later night's
//! diff, the guard, then the publish (`publish.rs`) — or the night held
//! back (exit 7) on its kept work branch, or its work branch deleted after
//! a failure. Each returns how the night ended (`NightEnd`).

use mysql_async::Conn;
use tracing::{info, warn};

use super::changes::{deletion_guard, night_changes, unchanged_tables};
use super::marks::{BranchState, branch_state};
use super::night::{Night, NightCommit, NightEnd, NightFailed, NightTag};
use super::publish::Publishing;
use super::work_branch::WorkBranch;
use crate::dolt::refs::{self, active_branch, create_branch, has_changes, revision};
use crate::error::{FailureKind, failure};
use crate::mysql::fresh::{TargetOutcome, TargetState};
use crate::report::TableChange;
use crate::report::{RefreshOutcome, TableReport};

/// The sessions a later night publishes through: on the database and on
/// the published branch, with the branch as the night found it.
pub struct Sessions {
    /// a session on the database
    pub conn: Conn,
    /// a session on the published branch (`database/branch`)
    on_branch: Conn,
    /// the branch before the night
    pub state: BranchState,
}

impl Sessions {
    /// The published branch's state: head, last published commit,
    /// someone else's writes since (warned about).
    pub async fn open(night: &Night<'_>) -> anyhow::Result<Sessions> {
        let settings = night.settings;
        let mut conn = crate::mysql::connect(&settings.target, Some(&settings.database)).await?;
        let prefix = &night.options.branch.tag_prefix;
        // A missing branch is exit 2 here, before a session on it is tried.
        let mut state = branch_state(&mut conn, night.branch(), prefix).await?;
        let mut on_branch = connect_branch(night).await?;
        state.dirty = has_changes(&mut on_branch).await?;
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

    /// After the fill (`filled`: the night's commit, none when nothing
    /// changed): the diff, the guard and the publish; or, after a failure
    /// before the publish, the work branch deleted (kept with
    /// `--keep-failed`), or kept when the night is held back.
    pub async fn conclude(
        mut self,
        night: &Night<'_>,
        work: WorkBranch,
        filled: anyhow::Result<Option<NightCommit>>,
        tables: &[TableReport],
    ) -> Result<NightEnd, NightFailed> {
        let untouched = format!(
            "the published branch {} is untouched (at {})",
            night.branch(),
            self.state.head
        );
        let diffed = match filled {
            Ok(commit) => match self.reconnect(night).await {
                Ok(()) => {
                    let hash = commit.as_ref().map(|commit| commit.hash.as_str());
                    night_changes(&mut self.conn, &self.state.base, hash, tables)
                        .await
                        .map(|changes| (commit, changes))
                }
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        let (commit, changes) = match diffed {
            Ok(diffed) => diffed,
            Err(error) => {
                let keep = night.settings.target_database.keep_failed;
                let (target, work_branch) = work.abandon(&error, keep, &untouched).await;
                let end = NightEnd {
                    target: Some(target),
                    work_branch,
                    ..NightEnd::default()
                };
                return Err(NightFailed { error, end });
            }
        };
        let published = self.publish(night, &work, commit.as_ref(), &changes).await;
        let mut end = match published {
            Ok(end) => end,
            Err(error) => return Err(hold_back(&error, work, &untouched, changes)),
        };
        end.changes = Some(changes);
        // Published: a work branch left by a failed delete is named by the
        // next refresh's warning, and changes nothing for readers.
        if let Err(error) = work.delete_published().await {
            warn!("the night is published, but {error:#}");
        }
        let _ = self.on_branch.disconnect().await;
        let _ = self.conn.disconnect().await;
        Ok(end)
    }

    /// The guard, then the publish.
    async fn publish(
        &mut self,
        night: &Night<'_>,
        work: &WorkBranch,
        commit: Option<&NightCommit>,
        changes: &[TableChange],
    ) -> anyhow::Result<NightEnd> {
        if let Some(reason) = deletion_guard(changes, night.options.max_deleted_percent) {
            return Err(failure(FailureKind::HeldBack, reason));
        }
        let mut publishing = Publishing {
            conn: &mut self.conn,
            on_branch: &mut self.on_branch,
            night,
            state: &self.state,
            work: &work.name,
        };
        publishing.publish(commit).await
    }
}

/// A session on the published branch (`database/branch`).
async fn connect_branch(night: &Night<'_>) -> anyhow::Result<Conn> {
    let settings = night.settings;
    let revision = revision(&settings.database, night.branch());
    crate::mysql::connect(&settings.target, Some(&revision)).await
}

/// A night held back (exit 7) or refused at the publish: nothing was
/// published; the work branch is kept for a person to look at (a guard,
/// the divergence, a merge conflict) and named.
fn hold_back(
    error: &anyhow::Error,
    work: WorkBranch,
    untouched: &str,
    changes: Vec<TableChange>,
) -> NightFailed {
    let name = work.keep();
    let said = format!("{untouched}; the night is on branch {name} (kept for a look)");
    let end = NightEnd {
        outcome: RefreshOutcome::HeldBack,
        work_branch: Some(name.clone()),
        held_back: Some(crate::error::one_line(error)),
        target: Some(TargetOutcome {
            state: TargetState::Untouched,
            detail: said.clone(),
            show_summary: true,
        }),
        changes: Some(changes),
        ..NightEnd::default()
    };
    let line = format!(
        "{}; nothing was published: {said}",
        crate::error::one_line(error)
    );
    let error = match crate::error::kind(error) {
        Some(kind) => failure(kind, line),
        None => anyhow::anyhow!(line),
    };
    NightFailed { error, end }
}

/// The first night's commit, made on its work branch: the database's
/// default branch (`conn` is a session on it) fast-forwarded to it, then
/// tagged, and on `--branch` (made there when it is not the default
/// branch); the work branch deleted. In that order, a night killed
/// between two steps leaves the commit published or nothing published.
pub async fn publish_first(
    conn: &mut Conn,
    night: &Night<'_>,
    commit: &NightCommit,
    tables: &[TableReport],
    work: WorkBranch,
) -> anyhow::Result<NightEnd> {
    let NightCommit { hash, tag } = commit;
    let NightTag { name, message } = tag;
    // Nobody else writes to a database made this night: it cannot have moved.
    if !crate::dolt::moves::fast_forward(conn, &work.name).await? {
        anyhow::bail!("the new database's default branch moved during its first night");
    }
    refs::tag(conn, name, hash, message).await?;
    if active_branch(conn).await?.as_deref() != Some(night.branch()) {
        create_branch(conn, night.branch(), hash).await?;
    }
    work.delete_published().await?;
    info!(branch = night.branch(), tag = %name, %hash, "first night published");
    Ok(NightEnd {
        outcome: RefreshOutcome::Published,
        head: Some(hash.clone()),
        new_commit: Some(hash.clone()),
        tag: Some(name.clone()),
        changes: Some(unchanged_tables(tables, true)),
        ..NightEnd::default()
    })
}
