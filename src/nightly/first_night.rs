//! The first night of a refreshed database, crash-safe: the new database's
//! default branch stays at Dolt's first commit while the night loads on a
//! work branch, and moves to the night's commit only when it is published,
//! so readers never see a partial load. A first night that failed or was
//! stopped drops the database (as a copy does); one killed outright
//! (SIGKILL, a lost pod) leaves a database that holds no published night.
//! The next refresh finds it (`abandoned`) and loads it again from scratch,
//! after saying so, instead of failing on it night after night (issue 26).
//! Such a database was also left by older pg2dolt versions, which loaded
//! the first night on the default branch itself.

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use super::work_branch::{PREFIX, WorkBranch};
use crate::clock::SnapshotTime;
use crate::dolt::refs;
use crate::error::{FailureKind, failure};
use crate::mysql::TargetAddress;
use crate::mysql::records::{mask_baseline, schema_files};

/// A session on the new database (its default branch) and the night's
/// work branch, made at the default branch's head.
pub async fn open(
    target: &TargetAddress,
    database: &str,
    time: &SnapshotTime,
) -> anyhow::Result<(Conn, WorkBranch)> {
    let mut conn = crate::mysql::connect(target, Some(database)).await?;
    let head = refs::resolve(&mut conn, "HEAD")
        .await?
        .context("the new database has no first commit")?;
    let work = WorkBranch::create(&mut conn, target, database, &head, time).await?;
    Ok((conn, work))
}

/// The work branch of a first night that was stopped after it loaded some
/// tables, and what it recorded (`progress`): the newest such branch of
/// `database` (a database `abandoned` found).
pub async fn resumable(
    target: &TargetAddress,
    database: &str,
) -> anyhow::Result<Option<(String, super::progress::Progress)>> {
    let mut conn = crate::mysql::connect(target, Some(database)).await?;
    let branches = refs::branches_named(&mut conn, PREFIX).await;
    let _ = conn.disconnect().await;
    let mut branches = branches?;
    // Named by snapshot time: the newest last.
    branches.sort();
    for name in branches.iter().rev() {
        if let Some(progress) = super::progress::read_branch(target, database, name).await? {
            return Ok(Some((name.clone(), progress)));
        }
    }
    Ok(None)
}

/// Why the existing `database` is a first night that never published
/// (`None`: it is not). It is one when it has no tag, no branch but its
/// default one and work branches, one commit (Dolt's first) on the default
/// branch, and no table there but tables the night loads (`targets`) and
/// pg2dolt's own: it then holds no history and nobody else's tables. Held
/// back (exit 7) when other sessions are using it: a first night may still
/// be running.
pub async fn abandoned(
    target: &TargetAddress,
    database: &str,
    targets: &[&str],
) -> anyhow::Result<Option<String>> {
    let mut conn = crate::mysql::connect(target, Some(database)).await?;
    let found = abandoned_on(&mut conn, targets).await;
    let _ = conn.disconnect().await;
    found.with_context(|| format!("looking at the existing database {database}"))
}

async fn abandoned_on(conn: &mut Conn, targets: &[&str]) -> anyhow::Result<Option<String>> {
    if !refs::tags(conn, "").await?.is_empty() {
        return Ok(None);
    }
    let Some(default) = refs::active_branch(conn).await? else {
        return Ok(None);
    };
    let branches = refs::branches_named(conn, "").await?;
    if branches
        .iter()
        .any(|branch| *branch != default && !branch.starts_with(PREFIX))
    {
        return Ok(None);
    }
    if refs::log(conn, &default).await?.len() != 1 {
        return Ok(None);
    }
    // language=MySQL
    let tables: Vec<String> = conn.query("SHOW TABLES").await?;
    let ours = |table: &String| {
        targets
            .iter()
            .any(|target| target.eq_ignore_ascii_case(table))
            || *table == schema_files::TABLE
            || *table == mask_baseline::TABLE
    };
    if !tables.iter().all(ours) {
        return Ok(None);
    }
    // A first night still running looks the same: its sessions tell.
    // language=MySQL
    let others: Option<u64> = conn
        .query_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() \
             AND (DB = DATABASE() OR DB LIKE CONCAT(DATABASE(), '/%'))",
        )
        .await?;
    if let Some(others) = others.filter(|others| *others > 0) {
        return Err(failure(
            FailureKind::HeldBack,
            format!(
                "the database holds no published night and {others} other session(s) are using it \
                 (a first night still running?): nothing was done; run again once they are gone"
            ),
        ));
    }
    let work: Vec<&String> = branches.iter().filter(|b| b.starts_with(PREFIX)).collect();
    Ok(Some(format!(
        "it holds no published night: branch {default} is at Dolt's first commit with {} uncommitted table(s), {} work branch(es): a first night that was killed before its publish",
        tables.len(),
        work.len()
    )))
}
