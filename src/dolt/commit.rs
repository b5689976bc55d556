//! The Dolt commit of a filled database: everything staged and committed
//! in one `DOLT_COMMIT`, dated at the snapshot, checked clean afterwards.

use anyhow::{Context as _, bail};
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tracing::info;

use crate::mysql::sql::quote_literal;
use crate::mysql::{TargetKind, TargetServer};

/// A snapshot time as DOLT_COMMIT's `--date` takes it: RFC 3339 without
/// fractional seconds.
#[must_use]
pub fn commit_date(time: &str) -> String {
    let seconds = time.split('.').next().unwrap_or(time);
    format!("{}Z", seconds.trim_end_matches('Z'))
}

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
    // language=MySQL
    let pending: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM dolt_status")
        .await
        .context("reading dolt_status")?;
    if pending.unwrap_or(0) != 0 {
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
    time: &str,
) -> anyhow::Result<Option<String>> {
    if server.kind != TargetKind::Dolt {
        return Ok(None);
    }
    let hash = commit(conn, message, author, &commit_date(time)).await?;
    info!(hash = %hash, "dolt commit made");
    Ok(Some(hash))
}
