//! What a load into a Dolt database needs that MySQL does not, exactly as
//! Dolt documents it (docs.dolthub.com, "Dolt SQL Procedures" and "System
//! Tables"): the version check, the constraint check, and the constraint
//! violations recorded while side-by-side loads committed cleared. No
//! version control here (that is `crate::dolt`). Runs only when
//! `SELECT dolt_version()` succeeded.

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use crate::error::{FailureKind, failure};

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
