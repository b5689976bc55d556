//! A refresh's work branch: made from the last published commit, loaded
//! in sessions on `database/branch` (readers of the published branch see
//! none of it), then deleted once the night is published, or after a
//! failure or a signal (unless `--keep-failed`), on a connection of its
//! own, within the times a fresh database gets to be dropped. Held back
//! nights keep theirs for a person to look at.

use std::time::Duration;

use tracing::{info, warn};

use crate::clock::SnapshotTime;
use crate::dolt::refs::{self, revision};
use crate::mysql::TargetAddress;
use crate::mysql::fresh::{DROP_AFTER_FAILURE, FreshDatabase, TargetOutcome, TargetState};

/// Work branches are named `PREFIX<snapshot time>`.
pub const PREFIX: &str = "pg2dolt-work-";

/// The work branch a night stopped outright left at `base` (the current
/// published commit) with tables it loaded, and what it recorded: the
/// newest such branch no session is using (a night still running has its
/// sessions there). `conn` is on the database.
pub async fn stopped(
    conn: &mut mysql_async::Conn,
    target: &TargetAddress,
    database: &str,
    base: &str,
) -> anyhow::Result<Option<(String, super::progress::Progress)>> {
    use mysql_async::prelude::Queryable as _;
    let mut names = refs::branches_named(conn, PREFIX).await?;
    // Named by snapshot time: the newest last.
    names.sort();
    for name in names.iter().rev() {
        if refs::branch_head(conn, name).await?.as_deref() != Some(base) {
            continue;
        }
        let on_branch = revision(database, name);
        // language=MySQL
        let sessions: Option<u64> = conn
            .query_first(format!(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND DB = {}",
                crate::mysql::sql::quote_literal(&on_branch)
            ))
            .await?;
        if let Some(sessions) = sessions.filter(|sessions| *sessions > 0) {
            warn!(branch = %name, sessions,
                "a work branch at the published commit is in use (a night still running, or a killed one's statements still finishing on the server): not taken over, this night starts from scratch");
            continue;
        }
        if let Some(progress) = super::progress::read_branch(target, database, name).await? {
            return Ok(Some((name.clone(), progress)));
        }
    }
    Ok(None)
}

/// Removes the work branches runs that died left, once this run holds the
/// database's lock (`RunLock`: no other run is using them): those with no
/// commit of their own (at `base` or a tagged night) and no session, but
/// `keep` (the one this night takes over). A held-back night's branch (its
/// own commit) stays for a person to look at.
pub async fn remove_dead(
    conn: &mut mysql_async::Conn,
    database: &str,
    base: &str,
    keep: Option<&str>,
) -> anyhow::Result<()> {
    use mysql_async::prelude::Queryable as _;
    let names = refs::branches_named(conn, PREFIX).await?;
    if names.iter().all(|name| Some(name.as_str()) == keep) {
        return Ok(());
    }
    let published: std::collections::HashSet<String> = refs::tags(conn, "")
        .await?
        .into_iter()
        .map(|tag| tag.hash)
        .chain([base.to_string()])
        .collect();
    let mut removed = Vec::new();
    for name in names.iter().filter(|name| Some(name.as_str()) != keep) {
        let Some(head) = refs::branch_head(conn, name).await? else {
            continue;
        };
        if !published.contains(&head) {
            continue;
        }
        // language=MySQL
        let sessions: Option<u64> = conn
            .query_first(format!(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND DB = {}",
                crate::mysql::sql::quote_literal(&revision(database, name))
            ))
            .await?;
        if sessions.unwrap_or(0) > 0 {
            continue;
        }
        match refs::delete_branch(conn, name).await {
            Ok(()) => removed.push(name.clone()),
            Err(error) => {
                let error = crate::error::one_line(&error);
                warn!(branch = %name, %error, "a dead run's work branch could not be removed");
            }
        }
    }
    if !removed.is_empty() {
        warn!(branches = ?removed,
            "removed the work branches runs that died left (no commit of their own; this run holds the database's lock)");
    }
    Ok(())
}

/// The work branch of one refresh.
#[must_use = "a work branch must be deleted or kept on purpose"]
pub struct WorkBranch {
    target: TargetAddress,
    database: String,
    /// the branch's name
    pub name: String,
}

impl WorkBranch {
    /// Makes `pg2dolt-work-<snapshot time>` at `base` (warning about work
    /// branches earlier runs left); `conn` is on the
    /// database.
    pub async fn create(
        conn: &mut mysql_async::Conn,
        target: &TargetAddress,
        database: &str,
        base: &str,
        snapshot_time: &SnapshotTime,
    ) -> anyhow::Result<WorkBranch> {
        let leftover = refs::branches_named(conn, PREFIX).await?;
        if !leftover.is_empty() {
            warn!(branches = ?leftover, "work branches of earlier refreshes are left (held back, --keep-failed, or killed): delete them with CALL DOLT_BRANCH('-D', name) once looked at");
        }
        let name = format!("{PREFIX}{}", snapshot_time.compact());
        refs::create_branch(conn, &name, base).await?;
        info!(branch = %name, base = %base, "work branch created");
        Ok(WorkBranch {
            target: target.clone(),
            database: database.to_string(),
            name,
        })
    }

    /// The work branch `name` an earlier run left (a night that was
    /// stopped), taken over by this run.
    pub fn adopt(target: &TargetAddress, database: &str, name: &str) -> WorkBranch {
        WorkBranch {
            target: target.clone(),
            database: database.to_string(),
            name: name.to_string(),
        }
    }

    /// The revision database loader sessions use: `database/branch`.
    #[must_use]
    pub fn revision(&self) -> String {
        revision(&self.database, &self.name)
    }

    /// After a failed or interrupted night: the published branch was not
    /// touched; the work branch is kept when it holds tables the night
    /// finished loading (the next night continues from it, issue 26) or
    /// with `keep_failed`, else deleted. `untouched` says what the
    /// published branch is at, for people. Returns what the branch became,
    /// and its name when it was kept.
    pub async fn abandon(
        self,
        error: &anyhow::Error,
        keep_failed: bool,
        untouched: &str,
    ) -> (TargetOutcome, Option<String>) {
        let outcome = |detail: String| TargetOutcome {
            state: TargetState::Untouched,
            detail,
            show_summary: true,
        };
        if keep_failed {
            let said = format!(
                "{untouched}; the failed night is on branch {} (kept: --keep-failed)",
                self.name
            );
            return (outcome(said), Some(self.name));
        }
        let read = super::progress::kept_for_rerun(
            error,
            super::progress::read_branch(&self.target, &self.database, &self.name),
        );
        if let Some(progress) = read.await {
            let tables = progress.state.tables.len();
            warn!(branch = %self.name, tables,
                "the work branch is kept with the tables the night finished loading: the next refresh continues from it");
            let said = format!(
                "{untouched}; the work branch {} keeps the {tables} table(s) the night finished loading: the next refresh continues from it",
                self.name
            );
            return (outcome(said), Some(self.name));
        }
        match self.delete(FreshDatabase::limit(error)).await {
            Ok(()) => (
                outcome(format!("{untouched}; the work branch was deleted")),
                None,
            ),
            Err(failed) => {
                warn!(branch = %self.name, error = %failed, "deleting the work branch failed");
                let said = format!(
                    "{untouched}; the work branch {} is left (deleting it failed: {failed}): CALL DOLT_BRANCH('-D', '{}')",
                    self.name, self.name
                );
                (outcome(said), Some(self.name))
            }
        }
    }

    /// The night was published: its branch goes.
    pub async fn delete_published(self) -> anyhow::Result<()> {
        self.delete(DROP_AFTER_FAILURE)
            .await
            .map_err(|error| anyhow::anyhow!("deleting the work branch: {error}"))
    }

    /// Keeps the branch on purpose (held back); returns its name.
    #[must_use]
    pub fn keep(self) -> String {
        self.name
    }

    async fn delete(&self, limit: Duration) -> Result<(), String> {
        let deleted = tokio::time::timeout(limit, async {
            let mut conn = crate::mysql::connect(&self.target, Some(&self.database)).await?;
            refs::delete_branch(&mut conn, &self.name).await?;
            let _ = conn.disconnect().await;
            anyhow::Ok(())
        })
        .await;
        match deleted {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(crate::error::one_line(&error)),
            Err(_) => Err(format!("it did not finish within {} s", limit.as_secs())),
        }
    }
}
