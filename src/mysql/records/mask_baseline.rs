//! The masking baseline a database records (table [`TABLE`]: the rules'
//! SHA-256, source table, source column), versioned with the data like the
//! record of schema files: the columns of the masked tables when the rules
//! were first used there. Rewritten only when the rules change, so a night
//! without a change stays without one.

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use crate::mask::Baseline;
use crate::mysql::sql::{quote_identifier, quote_literal};

/// The baseline's table; the catalog reader leaves it out.
pub const TABLE: &str = "pg2dolt_mask_baseline";

/// The baseline recorded in `database` (a `db/branch` revision database
/// works), or `None`.
pub async fn read(conn: &mut Conn, database: &str) -> anyhow::Result<Option<Baseline>> {
    let Some(rows) = super::read_record::<(String, String, String)>(
        conn,
        database,
        TABLE,
        "rules_sha256, source_table, source_column",
    )
    .await?
    else {
        return Ok(None);
    };
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut baseline = Baseline {
        rules_sha256: first.0.clone(),
        ..Baseline::default()
    };
    for (_, table, column) in rows {
        baseline.columns.entry(table).or_default().insert(column);
    }
    Ok(Some(baseline))
}

/// Records `baseline` in the connected database unless the same rules'
/// baseline is there already (the table made when missing).
pub async fn record(conn: &mut Conn, database: &str, baseline: &Baseline) -> anyhow::Result<()> {
    if read(conn, database)
        .await?
        .is_some_and(|known| known.rules_sha256 == baseline.rules_sha256)
    {
        return Ok(());
    }
    let table = quote_identifier(TABLE);
    // language=MySQL
    conn.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {table} (\
           rules_sha256 CHAR(64) NOT NULL, \
           source_table VARCHAR(255) NOT NULL, \
           source_column VARCHAR(255) NOT NULL, \
           PRIMARY KEY (source_table, source_column)\
         )"
    ))
    .await
    .context("creating the masking baseline")?;
    // language=MySQL
    conn.query_drop(format!("DELETE FROM {table}"))
        .await
        .context("replacing the masking baseline")?;
    for (source_table, columns) in &baseline.columns {
        for column in columns {
            // language=MySQL
            conn.query_drop(format!(
                "INSERT INTO {table} (rules_sha256, source_table, source_column) VALUES ({}, {}, {})",
                quote_literal(&baseline.rules_sha256),
                quote_literal(source_table),
                quote_literal(column)
            ))
            .await
            .context("recording the masking baseline")?;
        }
    }
    Ok(())
}

/// Drops the baseline of the connected database (`--unmask`).
pub async fn forget(conn: &mut Conn) -> anyhow::Result<()> {
    // language=MySQL
    conn.query_drop(format!("DROP TABLE IF EXISTS {}", quote_identifier(TABLE)))
        .await
        .context("dropping the masking baseline (--unmask)")
}
