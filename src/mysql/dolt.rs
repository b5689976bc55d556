//! Dolt-only SQL, exactly as Dolt documents it (docs.dolthub.com, "Dolt SQL
//! Procedures" and "System Tables"): version check, constraint check, the
//! commit. Runs only when `SELECT dolt_version()` succeeded.

use anyhow::{Context as _, bail};
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use crate::error::{FailureKind, failure};
use crate::mysql::sql::quote_literal;

/// The oldest Dolt pg2dolt supports.
pub const MINIMUM_VERSION: (u64, u64, u64) = (1, 39, 4);

/// Refuses Dolt versions older than [`MINIMUM_VERSION`].
pub fn require_version(version: &str) -> anyhow::Result<()> {
    let parts: Vec<u64> = version
        .trim()
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect();
    let found = (
        parts.first().copied().unwrap_or(0),
        parts.get(1).copied().unwrap_or(0),
        parts.get(2).copied().unwrap_or(0),
    );
    if found < MINIMUM_VERSION {
        let (major, minor, patch) = MINIMUM_VERSION;
        return Err(failure(
            FailureKind::Usage,
            format!(
                "the target runs Dolt {version}; pg2dolt needs Dolt {major}.{minor}.{patch} or newer"
            ),
        ));
    }
    Ok(())
}

/// `CALL DOLT_VERIFY_CONSTRAINTS('--all', '--output-only')`: every row of
/// every table against its foreign keys, without writing the violations
/// table; its `violations` column is 0 or 1.
pub async fn verify_constraints(conn: &mut Conn) -> anyhow::Result<()> {
    // language=MySQL
    let checked = conn
        .query_first("CALL DOLT_VERIFY_CONSTRAINTS('--all', '--output-only')")
        .await;
    // Dolt releases before --output-only know only --all; with violations
    // the run fails either way, so the table it writes does not matter.
    let violations: Option<i64> = match checked {
        Ok(violations) => violations,
        Err(_) => conn
            .query_first("CALL DOLT_VERIFY_CONSTRAINTS('--all')")
            .await
            .context("CALL DOLT_VERIFY_CONSTRAINTS")?,
    };
    if violations.unwrap_or(0) != 0 {
        return Err(failure(
            FailureKind::Verify,
            "DOLT_VERIFY_CONSTRAINTS found foreign key violations",
        ));
    }
    Ok(())
}

/// Clears the constraint violations Dolt recorded while tables loaded
/// side by side committed (with `@@dolt_force_transaction_commit`, see
/// `mysql::connect_loader`): a child table's load that commits before its
/// parent's is merged into a working set whose parent rows are not there
/// yet, and Dolt records each of its rows as a violation in
/// `dolt_constraint_violations_<table>` although every key resolves once
/// all tables are in (seen on Dolt 1.86.4 with Chinook: every `Track` row
/// against `Album`). Returns the tables cleared. The finish then checks
/// every row of every table again (`verify_constraints`), so a real
/// violation still fails the run.
pub async fn clear_sequencing_violations(conn: &mut Conn) -> anyhow::Result<Vec<String>> {
    // language=MySQL
    let tables: Vec<String> = conn
        .query("SELECT `table` FROM dolt_constraint_violations")
        .await
        .context("reading dolt_constraint_violations")?;
    if tables.is_empty() {
        return Ok(tables);
    }
    // One transaction: a commit that left another table's violations would
    // be refused like the loads' were.
    conn.query_drop("START TRANSACTION")
        .await
        .context("clearing the recorded violations")?;
    for table in &tables {
        // language=MySQL
        let statement = format!(
            "DELETE FROM {}",
            crate::mysql::sql::quote_identifier(&format!("dolt_constraint_violations_{table}"))
        );
        if let Err(error) = conn.query_drop(statement).await {
            let _ = conn.query_drop("ROLLBACK").await;
            return Err(anyhow::Error::new(error)
                .context(format!("clearing the recorded violations of {table}")));
        }
    }
    conn.query_drop("COMMIT")
        .await
        .context("clearing the recorded violations")?;
    Ok(tables)
}

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

#[cfg(test)]
mod tests {
    use super::require_version;

    #[test]
    fn old_dolt_versions_are_refused() {
        assert!(require_version("1.39.4").is_ok());
        assert!(require_version("1.58.1").is_ok());
        assert!(require_version("1.39.3").is_err());
        assert!(require_version("0.75.0").is_err());
    }
}
