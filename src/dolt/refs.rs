//! Dolt's refs, read and made in SQL: branches (`dolt_branches`,
//! `DOLT_BRANCH`), tags (`dolt_tags`, `DOLT_TAG`), a branch's log
//! (`dolt_log`), a reference resolved (`HASHOF`), uncommitted changes
//! (`dolt_status`), and the `database/branch` revision names sessions
//! connect to (docs.dolthub.com, "Dolt SQL Procedures", "Dolt System
//! Tables"; run on Dolt 1.86.4). No policy: which refs a refresh reads or
//! moves is `crate::nightly`'s.

use anyhow::{Context as _, bail};
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use crate::mysql::sql::quote_literal;

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

/// The `database/branch` name of a branch's revision database: a session
/// connected to it reads and writes that branch (its
/// `information_schema` schema name is the same).
#[must_use]
pub fn revision(database: &str, branch: &str) -> String {
    format!("{database}/{branch}")
}

/// The session's active branch (`active_branch()`).
pub async fn active_branch(conn: &mut Conn) -> anyhow::Result<Option<String>> {
    // language=MySQL
    conn.query_first("SELECT active_branch()")
        .await
        .context("reading the active branch")
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
    fn branch_names_that_would_break_a_revision_database_are_refused() {
        assert!(check_branch_name("main", "--branch").is_ok());
        assert!(check_branch_name("staging/nightly", "--branch").is_ok());
        for bad in ["", "-x", "a b", "a:b", "a..b", "a/"] {
            assert!(check_branch_name(bad, "--branch").is_err(), "{bad}");
        }
    }
}
