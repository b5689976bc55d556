//! What changed between two commits: Dolt's own diff statistics
//! (`dolt_diff_stat` for rows, `dolt_diff_summary` for schemas).

use std::collections::BTreeMap;

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use serde::Serialize;

use crate::mysql::sql::quote_literal;

/// What one table's rows did between two commits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableDiff {
    /// the target table
    pub table: String,
    /// rows added
    pub rows_added: u64,
    /// rows deleted
    pub rows_deleted: u64,
    /// rows modified
    pub rows_modified: u64,
    /// the table's schema changed (added and dropped tables too)
    pub schema_changed: bool,
    /// rows before (absent when Dolt did not count: schema-only changes)
    pub rows_before: Option<u64>,
    /// rows after
    pub rows_after: Option<u64>,
    /// the table was dropped (by a schema file): no guard counts its rows
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dropped: bool,
}

impl TableDiff {
    /// Rows added, deleted or modified.
    #[must_use]
    pub fn rows_changed(&self) -> u64 {
        self.rows_added + self.rows_deleted + self.rows_modified
    }
}

/// What every table's rows and schema did from `from` to `to`
/// (`dolt_diff_stat` and `dolt_diff_summary`), by table name. `known`:
/// tables whose row changes were counted already from Dolt's diff (a delta
/// night's, `nightly::deletes`): taken as they are when only their rows
/// changed, so a large table is not diffed twice.
pub async fn diff(
    conn: &mut Conn,
    from: &str,
    to: &str,
    known: &BTreeMap<String, TableDiff>,
) -> anyhow::Result<BTreeMap<String, TableDiff>> {
    let (from, to) = (quote_literal(from), quote_literal(to));
    // language=MySQL
    let summary: Vec<(String, String, String, bool)> = conn
        .query(format!(
            "SELECT from_table_name, to_table_name, diff_type, schema_change FROM dolt_diff_summary({from}, {to})"
        ))
        .await
        .context("reading dolt_diff_summary")?;
    let mut changes: BTreeMap<String, TableDiff> = BTreeMap::new();
    let mut counted_here = Vec::new();
    for (before, after, diff_type, schema_changed) in &summary {
        let table = if after.is_empty() { before } else { after };
        match known.get(table) {
            Some(known) if diff_type == "modified" && !schema_changed => {
                changes.insert(table.clone(), known.clone());
            }
            _ => counted_here.push(table.clone()),
        }
    }
    let stats = if known.is_empty() {
        // language=MySQL
        stats_of(conn, &format!("dolt_diff_stat({from}, {to})")).await?
    } else {
        let mut stats = Vec::new();
        for table in &counted_here {
            let table = quote_literal(table);
            // language=MySQL
            stats.extend(stats_of(conn, &format!("dolt_diff_stat({from}, {to}, {table})")).await?);
        }
        stats
    };
    for (table, added, deleted, modified, before, after) in stats {
        changes.insert(
            table.clone(),
            TableDiff {
                table,
                rows_added: added,
                rows_deleted: deleted,
                rows_modified: modified.unwrap_or(0),
                schema_changed: false,
                rows_before: before,
                rows_after: after,
                dropped: false,
            },
        );
    }
    for (before, after, diff_type, schema_changed) in summary {
        let table = if after.is_empty() { before } else { after };
        let entry = changes.entry(table.clone()).or_insert_with(|| TableDiff {
            table,
            ..TableDiff::default()
        });
        entry.schema_changed |= schema_changed;
        entry.dropped = diff_type == "dropped";
    }
    Ok(changes)
}

/// One `dolt_diff_stat` row: table, rows added, deleted, modified, rows
/// before and after. Keyless tables have no modified rows and no row
/// counts: NULL there (Dolt 1.86.4).
type Stat = (String, u64, u64, Option<u64>, Option<u64>, Option<u64>);

async fn stats_of(conn: &mut Conn, function: &str) -> anyhow::Result<Vec<Stat>> {
    // language=MySQL
    conn.query(format!(
        "SELECT table_name, rows_added, rows_deleted, rows_modified, old_row_count, new_row_count FROM {function}"
    ))
    .await
    .context("reading dolt_diff_stat")
}
