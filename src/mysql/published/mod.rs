//! The published branch of a refreshed Dolt database, and the Dolt SQL
//! that moves it (docs.dolthub.com, "Dolt SQL Procedures", "Dolt System
//! Tables", "Dolt SQL Functions"; each behaviour below was run on Dolt
//! 1.86.4 first):
//! - a refresh marks what it published with tags under `--tag-prefix`:
//!   the night's `PREFIX<YYYYMMDDTHHMMSSZ>` (the snapshot time), and
//!   `PREFIXrollback/<time>` on a rollback's target. The last published
//!   commit is the newest commit of the branch's log that carries a mark;
//!   commits after it, or uncommitted changes on the branch, are someone
//!   else's writes (the branch *diverged*). `PREFIXbefore-reset/<time>` and
//!   `PREFIXbefore-rollback/<time>` keep a head that was moved away from.
//! - loader sessions work on `database/branch` (a revision database; its
//!   `information_schema` schema name is `database/branch` too);
//! - the publish is one ref update: `DOLT_MERGE('--ff-only', work)` in a
//!   session on the published branch ("fatal: Not possible to
//!   fast-forward" when the branch moved; "local changes would be stomped
//!   by merge" over uncommitted changes), `DOLT_RESET('--hard', commit)`,
//!   or a real merge (`--no-commit` inside a transaction, rolled back when
//!   `conflicts` > 0, else `DOLT_COMMIT` dated at the snapshot);
//! - `dolt_diff_stat(from, to)` counts rows added, deleted and modified per
//!   table with data changes; `dolt_diff_summary(from, to)` says which
//!   tables' schema changed (added and dropped tables included).

use anyhow::{Context as _, bail};
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use serde::Serialize;

use super::sql::quote_literal;
use crate::error::{FailureKind, failure};

mod diff;
mod moves;

pub use diff::{TableChange, diff};
pub use moves::{CommitMeta, Merged, commit_pending, fast_forward, merge, reset_hard, reset_soft};

/// What a refresh does when the published branch diverged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDiverged {
    /// publish nothing (exit 7); the work branch is kept
    Fail,
    /// tag the old head, then move the branch to the night
    Reset,
    /// merge the night into the branch
    Merge,
}

/// One tag of the database.
#[derive(Debug, Clone)]
pub struct Tag {
    /// the tag's name
    pub name: String,
    /// the commit it points at
    pub hash: String,
    /// when it was made, as Dolt prints it (UTC)
    pub date: String,
    /// its message
    pub message: String,
}

/// The published branch as a refresh finds it.
#[derive(Debug, Clone)]
pub struct BranchState {
    /// the branch's head commit
    pub head: String,
    /// the last commit pg2dolt published there (the head when no commit of
    /// the branch carries a mark: a database made by `copy`, adopted)
    pub base: String,
    /// commits on the branch after `base`
    pub commits_since: usize,
    /// the branch has uncommitted changes
    pub dirty: bool,
}

impl BranchState {
    /// Someone else wrote to the branch since the last refresh.
    #[must_use]
    pub fn diverged(&self) -> bool {
        self.commits_since > 0 || self.dirty
    }

    /// What the divergence is, for people.
    #[must_use]
    pub fn divergence(&self) -> String {
        match (self.commits_since, self.dirty) {
            (0, _) => "it has uncommitted changes".to_string(),
            (commits, false) => format!("{commits} commit(s) were made on it"),
            (commits, true) => {
                format!("{commits} commit(s) were made on it and it has uncommitted changes")
            }
        }
    }
}

/// The night's tag name: the prefix and the snapshot time
/// (`2026-12-02T05:01:32.123456Z` → `20261202T050132.123456Z`; tag names
/// take no colons, and two nights never share a microsecond).
#[must_use]
pub fn night_tag(prefix: &str, time: &str) -> String {
    format!("{prefix}{}", compact_time(time))
}

/// An RFC 3339 UTC time without its dashes and colons.
#[must_use]
pub fn compact_time(time: &str) -> String {
    time.chars()
        .filter(|character| !matches!(character, '-' | ':'))
        .collect()
}

/// A tag of a night (`PREFIX` + `YYYYMMDDTHHMMSS[.ffffff]Z`).
#[must_use]
pub fn is_night_tag(name: &str, prefix: &str) -> bool {
    let Some(stamp) = name
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix('Z'))
    else {
        return false;
    };
    let (seconds, fraction) = stamp.split_once('.').unwrap_or((stamp, "0"));
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    seconds.len() == 15
        && seconds.as_bytes()[8] == b'T'
        && digits(&seconds[..8])
        && digits(&seconds[9..])
        && digits(fraction)
}

/// A tag that marks a commit pg2dolt published: a night, or a rollback's
/// target.
#[must_use]
pub fn is_published_mark(name: &str, prefix: &str) -> bool {
    is_night_tag(name, prefix)
        || name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with("rollback/"))
}

/// Every tag whose name starts with `prefix`, newest first.
pub async fn tags(conn: &mut Conn, prefix: &str) -> anyhow::Result<Vec<Tag>> {
    // language=MySQL
    let rows: Vec<(String, String, String, String)> = conn
        .query(
            "SELECT tag_name, tag_hash, CAST(date AS CHAR), COALESCE(message, '') FROM dolt_tags ORDER BY date DESC",
        )
        .await
        .context("reading dolt_tags")?;
    Ok(rows
        .into_iter()
        .filter(|(name, ..)| name.starts_with(prefix))
        .map(|(name, hash, date, message)| Tag {
            name,
            hash,
            date,
            message,
        })
        .collect())
}

/// The head commit of `branch`, or `None` when there is no such branch.
pub async fn branch_head(conn: &mut Conn, branch: &str) -> anyhow::Result<Option<String>> {
    // language=MySQL
    conn.exec_first("SELECT hash FROM dolt_branches WHERE name = ?", (branch,))
        .await
        .with_context(|| format!("reading branch {branch}"))
}

/// One commit of a branch's log.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// the commit
    pub hash: String,
    /// its date (the snapshot time, for pg2dolt's commits)
    pub date: String,
    /// its message
    pub message: String,
}

/// The commits of `branch`, newest first (`dolt_log`).
pub async fn log(conn: &mut Conn, branch: &str) -> anyhow::Result<Vec<LogEntry>> {
    // language=MySQL
    let rows: Vec<(String, String, String)> = conn
        .query(format!(
            "SELECT commit_hash, CAST(date AS CHAR), message FROM dolt_log({})",
            quote_literal(branch)
        ))
        .await
        .with_context(|| format!("reading the log of branch {branch}"))?;
    Ok(rows
        .into_iter()
        .map(|(hash, date, message)| LogEntry {
            hash,
            date,
            message,
        })
        .collect())
}

/// The published branch's state: head, last published commit, commits
/// since; `conn` is on the database. The uncommitted changes are asked
/// for with [`has_changes`] in a session on the branch, once it is known
/// to exist (a missing branch is exit 2).
pub async fn branch_state(
    conn: &mut Conn,
    branch: &str,
    prefix: &str,
) -> anyhow::Result<BranchState> {
    let Some(head) = branch_head(conn, branch).await? else {
        return Err(failure(
            FailureKind::Usage,
            format!("the target database has no branch {branch} (--branch)"),
        ));
    };
    let marks: Vec<String> = tags(conn, prefix)
        .await?
        .into_iter()
        .filter(|tag| is_published_mark(&tag.name, prefix))
        .map(|tag| tag.hash)
        .collect();
    let log = log(conn, branch).await?;
    let (base, commits_since) = log
        .iter()
        .position(|entry| marks.contains(&entry.hash))
        .map_or_else(|| (head.clone(), 0), |at| (log[at].hash.clone(), at));
    Ok(BranchState {
        head,
        base,
        commits_since,
        dirty: false,
    })
}

/// The connected branch has uncommitted changes (`dolt_status`).
pub async fn has_changes(conn: &mut Conn) -> anyhow::Result<bool> {
    // language=MySQL
    let pending: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM dolt_status")
        .await
        .context("reading dolt_status")?;
    Ok(pending.unwrap_or(0) != 0)
}

/// Branches whose name starts with `prefix`.
pub async fn branches_named(conn: &mut Conn, prefix: &str) -> anyhow::Result<Vec<String>> {
    // language=MySQL
    let names: Vec<String> = conn
        .query("SELECT name FROM dolt_branches ORDER BY name")
        .await
        .context("reading dolt_branches")?;
    Ok(names
        .into_iter()
        .filter(|name| name.starts_with(prefix))
        .collect())
}

/// `CALL DOLT_BRANCH(name, at)`.
pub async fn create_branch(conn: &mut Conn, name: &str, at: &str) -> anyhow::Result<()> {
    // language=MySQL
    conn.query_drop(format!(
        "CALL DOLT_BRANCH({}, {})",
        quote_literal(name),
        quote_literal(at)
    ))
    .await
    .with_context(|| format!("creating branch {name}"))
}

/// `CALL DOLT_BRANCH('-D', name)`: deleted even when not merged.
pub async fn delete_branch(conn: &mut Conn, name: &str) -> anyhow::Result<()> {
    // language=MySQL
    conn.query_drop(format!("CALL DOLT_BRANCH('-D', {})", quote_literal(name)))
        .await
        .with_context(|| format!("deleting branch {name}"))
}

/// `CALL DOLT_TAG(name, at, '-m', message)`.
pub async fn tag(conn: &mut Conn, name: &str, at: &str, message: &str) -> anyhow::Result<()> {
    // language=MySQL
    conn.query_drop(format!(
        "CALL DOLT_TAG({}, {}, '-m', {})",
        quote_literal(name),
        quote_literal(at),
        quote_literal(message)
    ))
    .await
    .with_context(|| format!("tagging {at} as {name}"))
}

/// The commit a ref names (branch, tag, hash, `HEAD~1`…), or `None`.
pub async fn resolve(conn: &mut Conn, reference: &str) -> anyhow::Result<Option<String>> {
    // language=MySQL
    let resolved: Result<Option<String>, _> = conn
        .query_first(format!("SELECT HASHOF({})", quote_literal(reference)))
        .await;
    Ok(resolved.ok().flatten())
}

/// Checks a branch name before it is used in SQL and in `db/branch`.
pub fn check_branch_name(branch: &str, flag: &str) -> anyhow::Result<()> {
    let bad = branch.is_empty()
        || branch.starts_with(['-', '/'])
        || branch.ends_with(['/', '.'])
        || branch.contains("..")
        || branch
            .chars()
            .any(|character| character.is_control() || " ~^:?*[\\".contains(character));
    if bad {
        bail!("{flag} {branch:?} is not a usable Dolt branch or tag name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn night_tags_name_the_snapshot_second() {
        let tag = night_tag("pg2dolt/", "2026-12-02T05:01:32.123456Z");
        assert_eq!(tag, "pg2dolt/20261202T050132.123456Z");
        assert!(is_night_tag("pg2dolt/20261202T050132Z", "pg2dolt/"));
        assert!(is_night_tag(&tag, "pg2dolt/"));
        assert!(is_published_mark(&tag, "pg2dolt/"));
        assert!(is_published_mark(
            "pg2dolt/rollback/20261202T050132Z",
            "pg2dolt/"
        ));
        assert!(!is_published_mark(
            "pg2dolt/before-reset/20261202T050132Z",
            "pg2dolt/"
        ));
        assert!(!is_night_tag("pg2dolt/2026120xT050132Z", "pg2dolt/"));
        assert!(!is_night_tag("other/20261202T050132Z", "pg2dolt/"));
    }

    #[test]
    fn branch_names_that_would_break_a_revision_database_are_refused() {
        assert!(check_branch_name("main", "--branch").is_ok());
        assert!(check_branch_name("staging/nightly", "--branch").is_ok());
        for bad in ["", "-x", "a b", "a:b", "a..b", "a/"] {
            assert!(check_branch_name(bad, "--branch").is_err(), "{bad}");
        }
    }
}
