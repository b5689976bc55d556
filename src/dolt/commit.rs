//! The Dolt commit of a filled database: everything staged and committed
//! in one `DOLT_COMMIT`, dated at the snapshot, checked clean afterwards.

use anyhow::{Context as _, bail};
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tracing::info;

use crate::clock::SnapshotTime;
use crate::mysql::sql::quote_literal;
use crate::mysql::{TargetKind, TargetServer};

/// Stages everything and makes one Dolt commit; returns its hash. Leaves
/// `@@dolt_transaction_commit` alone (at 0 every SQL COMMIT stays a SQL
/// commit) and checks that `dolt_status` is empty afterwards.
pub async fn commit(
    conn: &mut Conn,
    message: &str,
    author: &str,
    date: &str,
) -> anyhow::Result<String> {
    // language=MySQL
    conn.query_drop("CALL DOLT_ADD('-A')")
        .await
        .context("CALL DOLT_ADD")?;
    // language=MySQL
    let statement = format!(
        "CALL DOLT_COMMIT('-A', '-m', {}, '--author', {}, '--date', {})",
        quote_literal(message),
        quote_literal(author),
        quote_literal(date)
    );
    let hash: Option<String> = conn
        .query_first(statement)
        .await
        .context("CALL DOLT_COMMIT")?;
    let Some(hash) = hash else {
        bail!("DOLT_COMMIT returned no hash")
    };
    if super::refs::has_changes(conn).await? {
        bail!("dolt_status is not empty after the commit");
    }
    Ok(hash)
}

/// On Dolt, the commit (dated at `time`, the snapshot's); returns its
/// hash. Elsewhere nothing.
pub async fn commit_if_dolt(
    conn: &mut Conn,
    server: &TargetServer,
    message: &str,
    author: &str,
    time: &SnapshotTime,
) -> anyhow::Result<Option<String>> {
    if server.kind != TargetKind::Dolt {
        return Ok(None);
    }
    let hash = commit(conn, message, author, &time.commit_date()).await?;
    info!(hash = %hash, "dolt commit made");
    Ok(Some(hash))
}
