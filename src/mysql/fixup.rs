//! Foreign-key fix-ups: after a load with checks off, a no-op write with
//! checks on makes Dolt resolve the table's foreign keys, so a later merge
//! never drops them (dolthub/dolt issues 5529, 5531, 7956).

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tracing::{debug, info};

use crate::mysql::sql::quote_identifier;

/// Runs `DELETE FROM t WHERE c <> c` on each (table, column) with
/// `FOREIGN_KEY_CHECKS=1`. `c <> c` is never true (NULL included), so no row
/// is touched.
pub async fn resolve_foreign_keys(
    conn: &mut Conn,
    tables: &[(String, String)],
) -> anyhow::Result<()> {
    conn.query_drop("SET FOREIGN_KEY_CHECKS = 1")
        .await
        .context("enabling foreign key checks")?;
    for (table, column) in tables {
        let column = quote_identifier(column);
        // language=MySQL
        let statement = format!(
            "DELETE FROM {} WHERE {column} <> {column}",
            quote_identifier(table)
        );
        conn.query_drop(statement)
            .await
            .with_context(|| format!("foreign key fix-up on {table}"))?;
        let deleted = conn.affected_rows();
        anyhow::ensure!(
            deleted == 0,
            "foreign key fix-up on {table} deleted {deleted} rows"
        );
        debug!(table = %table, "foreign keys resolved");
    }
    conn.query_drop("SET FOREIGN_KEY_CHECKS = 0")
        .await
        .context("disabling foreign key checks")?;
    Ok(())
}

/// Sets each table's AUTO_INCREMENT counter to one past the largest copied
/// value of its AUTO_INCREMENT column (`(table, column)` pairs), so the
/// next insert without an id continues after the copy. Returns the
/// counters set. Tables that stayed empty keep their counter.
pub async fn continue_auto_increment(
    conn: &mut Conn,
    columns: &[(String, String)],
) -> anyhow::Result<Vec<(String, u64)>> {
    let mut set = Vec::new();
    for (table, column) in columns {
        // language=MySQL
        let statement = format!(
            "SELECT CAST(MAX({}) AS SIGNED) FROM {}",
            quote_identifier(column),
            quote_identifier(table)
        );
        let largest: Option<Option<i64>> = conn
            .query_first(statement)
            .await
            .with_context(|| format!("reading the largest {column} of {table}"))?;
        let Some(Some(largest)) = largest else {
            continue;
        };
        let Some(next) = u64::try_from(largest)
            .ok()
            .and_then(|value| value.checked_add(1))
        else {
            continue;
        };
        // language=MySQL
        let statement = format!(
            "ALTER TABLE {} AUTO_INCREMENT = {next}",
            quote_identifier(table)
        );
        conn.query_drop(statement)
            .await
            .with_context(|| format!("setting the AUTO_INCREMENT of {table}"))?;
        info!(table = %table, next, "auto_increment continues after the copied values");
        set.push((table.clone(), next));
    }
    Ok(set)
}
