//! The moves of a branch, each in a session on it (run on Dolt 1.86.4):
//! a fast-forward (`DOLT_MERGE('--ff-only', work)`: "fatal: Not possible
//! to fast-forward" when the branch moved, "local changes would be
//! stomped by merge" over uncommitted changes), `DOLT_RESET` (hard or
//! soft), uncommitted changes committed, and a real merge (`--no-commit`
//! inside a transaction, rolled back when `conflicts` > 0, else
//! `DOLT_COMMIT` dated as given).

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use crate::mysql::sql::quote_literal;

/// In a session on the published branch: fast-forwards it to `work`.
/// `Ok(false)` when it cannot be (the branch moved meanwhile).
pub async fn fast_forward(on_branch: &mut Conn, work: &str) -> anyhow::Result<bool> {
    // language=MySQL
    let merged = on_branch
        .query_drop(format!(
            "CALL DOLT_MERGE('--ff-only', {})",
            quote_literal(work)
        ))
        .await;
    match merged {
        Ok(()) => Ok(true),
        Err(error)
            if error.to_string().contains("fast-forward")
                || error.to_string().contains("stomped") =>
        {
            Ok(false)
        }
        Err(error) => Err(error).context("fast-forwarding the published branch"),
    }
}

/// In a session on the published branch: moves it (head and working set)
/// to `commit`.
pub async fn reset_hard(on_branch: &mut Conn, commit: &str) -> anyhow::Result<()> {
    // language=MySQL
    on_branch
        .query_drop(format!(
            "CALL DOLT_RESET('--hard', {})",
            quote_literal(commit)
        ))
        .await
        .with_context(|| format!("resetting the published branch to {commit}"))
}

/// In a session on the published branch: moves its head back to
/// `commit`, keeping the changes since as uncommitted ones.
pub async fn reset_soft(on_branch: &mut Conn, commit: &str) -> anyhow::Result<()> {
    // language=MySQL
    on_branch
        .query_drop(format!(
            "CALL DOLT_RESET('--soft', {})",
            quote_literal(commit)
        ))
        .await
        .with_context(|| format!("resetting the published branch to {commit} (soft)"))
}

/// Identity and date of a commit pg2dolt makes.
pub struct CommitMeta<'a> {
    /// the message
    pub message: &'a str,
    /// `Name <email>`
    pub author: &'a str,
    /// RFC 3339, seconds
    pub date: &'a str,
}

/// In a session on the published branch: commits its uncommitted changes
/// (someone else's, kept before the branch moves); returns the hash.
pub async fn commit_pending(on_branch: &mut Conn, meta: &CommitMeta<'_>) -> anyhow::Result<String> {
    super::commit::commit(on_branch, meta.message, meta.author, meta.date).await
}

/// How a merge of the night into the published branch ended.
pub enum Merged {
    /// the merge commit
    Commit(String),
    /// conflicts (table, count): nothing was changed
    Conflicts(Vec<(String, u64)>),
}

/// In a session on the published branch: merges `work` into it with a
/// merge commit, or changes nothing when the merge conflicts.
pub async fn merge(
    on_branch: &mut Conn,
    work: &str,
    meta: &CommitMeta<'_>,
) -> anyhow::Result<Merged> {
    // language=MySQL
    on_branch.query_drop("START TRANSACTION").await?;
    let outcome = async {
        // language=MySQL
        let row: Option<(Option<String>, i64, i64, String)> = on_branch
            .query_first(format!(
                "CALL DOLT_MERGE('--no-commit', '--no-ff', {})",
                quote_literal(work)
            ))
            .await
            .context("merging the night into the published branch")?;
        let conflicts = row.as_ref().map_or(0, |row| row.2);
        if conflicts > 0 {
            // language=MySQL
            let tables: Vec<(String, u64)> = on_branch
                .query("SELECT `table`, num_conflicts FROM dolt_conflicts")
                .await
                .context("reading dolt_conflicts")?;
            return Ok(Merged::Conflicts(tables));
        }
        let hash = super::commit::commit(on_branch, meta.message, meta.author, meta.date).await?;
        // language=MySQL
        on_branch.query_drop("COMMIT").await?;
        Ok(Merged::Commit(hash))
    }
    .await;
    if !matches!(outcome, Ok(Merged::Commit(_))) {
        // language=MySQL
        on_branch
            .query_drop("ROLLBACK")
            .await
            .context("rolling back the conflicted merge")?;
    }
    outcome
}
