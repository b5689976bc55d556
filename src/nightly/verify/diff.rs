//! Dolt's comparison of the snapshot's commit (on the scratch branch)
//! with the branch's working set, row by row (`dolt_diff_stat`,
//! `dolt_diff`): keyed tables by their key, keyless tables as multisets.
//! Nothing is normalised by hand, so no rendering of a type can make two
//! equal rows differ.

use crate::report::TableDifference;
use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use crate::mysql::sql::{quote_identifier, quote_literal};

/// Scratch branches are named `PREFIX<snapshot time>`.
pub const SCRATCH_PREFIX: &str = "pg2dolt-verify-";

/// Keys shown per table and kind of difference.
const KEYS_SHOWN: usize = 5;

/// The tables of `tables` whose rows on the connected branch's working set
/// differ from `snapshot_commit` (the snapshot loaded in full).
pub async fn differences(
    conn: &mut Conn,
    snapshot_commit: &str,
    tables: &[(String, Vec<String>)],
) -> anyhow::Result<Vec<TableDifference>> {
    // language=MySQL
    // `rows_modified` is NULL for a keyless table.
    let stats: Vec<(String, u64, u64, Option<u64>)> = conn
        .query(format!(
            "SELECT table_name, rows_added, rows_deleted, rows_modified FROM dolt_diff_stat({}, 'WORKING')",
            quote_literal(snapshot_commit)
        ))
        .await
        .context("comparing the branch with the snapshot (dolt_diff_stat)")?;
    let mut found = Vec::new();
    for (table, key) in tables {
        let Some((_, added, deleted, modified)) = stats.iter().find(|(name, ..)| name == table)
        else {
            continue;
        };
        let modified = modified.unwrap_or(0);
        if added + deleted + modified == 0 {
            continue;
        }
        let keys = example_keys(conn, snapshot_commit, table, key).await?;
        found.push(TableDifference {
            table: table.clone(),
            missing: *deleted,
            extra: *added,
            different: modified,
            keys,
        });
    }
    Ok(found)
}

/// Up to [`KEYS_SHOWN`] keys of each kind of difference (a keyless table's
/// rows are named by their first columns).
async fn example_keys(
    conn: &mut Conn,
    snapshot_commit: &str,
    table: &str,
    key: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut keys = Vec::new();
    for (kind, side, named) in [
        ("removed", "from_", "missing"),
        ("added", "to_", "extra"),
        ("modified", "to_", "different"),
    ] {
        let columns: Vec<String> = key
            .iter()
            .map(|column| {
                format!(
                    "CAST({} AS CHAR)",
                    quote_identifier(&format!("{side}{column}"))
                )
            })
            .collect();
        if columns.is_empty() {
            continue;
        }
        // language=MySQL
        let statement = format!(
            "SELECT CONCAT_WS(', ', {}) FROM dolt_diff({}, 'WORKING', {}) WHERE diff_type = '{kind}' LIMIT {KEYS_SHOWN}",
            columns.join(", "),
            quote_literal(snapshot_commit),
            quote_literal(table)
        );
        let values: Vec<Option<String>> = conn
            .query(statement)
            .await
            .with_context(|| format!("reading the differing keys of {table}"))?;
        for value in values.into_iter().flatten() {
            keys.push(format!("{named} ({}: {value})", key.join(", ")));
        }
    }
    Ok(keys)
}
