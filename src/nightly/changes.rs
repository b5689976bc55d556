//! What a night changed, per table: Dolt's diff against the last
//! published commit with the night's account of each table's load, and
//! the guard that holds a night back when a table lost too many rows.

use std::collections::BTreeMap;

use mysql_async::Conn;
use tracing::info;

use crate::dolt::diff::{TableDiff, diff};
use crate::report::{TableChange, TableReport};

/// Why the night must be held back: a table lost more than `percent`% of
/// its rows, or became empty (`percent` 100: never). A table a schema file
/// dropped was meant to go.
#[must_use]
pub fn deletion_guard(changes: &[TableChange], percent: f64) -> Option<String> {
    if percent >= 100.0 {
        return None;
    }
    let tripped: Vec<String> = changes
        .iter()
        .filter(|change| !change.dropped)
        .filter_map(|change| {
            let before = change.rows_before.filter(|rows| *rows > 0)?;
            #[allow(clippy::cast_precision_loss)]
            let lost = change.rows_deleted as f64 * 100.0 / before as f64;
            let emptied = change.rows_after == Some(0);
            (lost > percent || emptied).then(|| {
                format!(
                    "{} lost {} of its {before} rows ({lost:.1}%{})",
                    change.table,
                    change.rows_deleted,
                    if emptied { ", now empty" } else { "" }
                )
            })
        })
        .collect();
    (!tripped.is_empty()).then(|| {
        format!(
            "held back by --max-deleted-percent {percent}: {}",
            tripped.join("; ")
        )
    })
}

/// Every copied table's change against the last published commit (Dolt's
/// diff statistics; tables without changes with zeros), and the tables
/// only the diff names (pg2dolt's record of schema files, a table a new
/// schema file added without a source, a dropped one).
pub async fn night_changes(
    conn: &mut Conn,
    base: &str,
    night_commit: Option<&str>,
    tables: &[TableReport],
) -> anyhow::Result<Vec<TableChange>> {
    // The deltas that read Dolt's diff counted their tables' changes.
    let known: BTreeMap<String, TableDiff> = tables
        .iter()
        .filter_map(|table| {
            let counted = table.night.as_ref()?.counted?;
            Some((
                table.target.clone(),
                TableDiff {
                    table: table.target.clone(),
                    rows_added: counted.rows_added,
                    rows_deleted: counted.rows_deleted,
                    rows_modified: counted.rows_modified,
                    schema_changed: false,
                    rows_before: Some(counted.rows_before),
                    rows_after: Some(counted.rows_after),
                    dropped: false,
                },
            ))
        })
        .collect();
    let mut changes: BTreeMap<String, TableChange> = match night_commit {
        Some(hash) => diff(conn, base, hash, &known)
            .await?
            .into_iter()
            .map(|(table, diff)| (table, TableChange { diff, night: None }))
            .collect(),
        None => BTreeMap::new(),
    };
    for unchanged in unchanged_tables(tables, false) {
        let night = unchanged.night.clone();
        changes
            .entry(unchanged.diff.table.clone())
            .or_insert(unchanged)
            .night = night;
    }
    let changes: Vec<TableChange> = changes.into_values().collect();
    for change in changes
        .iter()
        .filter(|change| change.rows_changed() > 0 || change.schema_changed)
    {
        info!(table = %change.table, rows_added = change.rows_added, rows_deleted = change.rows_deleted,
            rows_modified = change.rows_modified, schema_changed = change.schema_changed, "changed since the last refresh");
    }
    Ok(changes)
}

/// The copied tables as changes: all rows added (the first night), or
/// none.
#[must_use]
pub fn unchanged_tables(tables: &[TableReport], added: bool) -> Vec<TableChange> {
    let mut changes: Vec<TableChange> = tables
        .iter()
        .map(|table| TableChange {
            diff: TableDiff {
                table: table.target.clone(),
                rows_added: if added { table.rows } else { 0 },
                schema_changed: added,
                rows_before: Some(if added { 0 } else { table.rows }),
                rows_after: Some(table.rows),
                ..TableDiff::default()
            },
            night: table.night.clone(),
        })
        .collect();
    changes.sort_by(|left, right| left.table.cmp(&right.table));
    changes.dedup_by(|left, right| left.table == right.table);
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(table: &str, deleted: u64, before: u64, after: u64) -> TableChange {
        TableChange {
            diff: TableDiff {
                table: table.to_string(),
                rows_deleted: deleted,
                rows_before: Some(before),
                rows_after: Some(after),
                ..TableDiff::default()
            },
            night: None,
        }
    }

    #[test]
    fn the_guard_holds_back_large_deletions_and_emptied_tables() {
        let fine = [change("a", 5, 10, 5), change("b", 0, 0, 0)];
        assert_eq!(deletion_guard(&fine, 50.0), None);
        let lost = [change("a", 80, 100, 20)];
        let reason = deletion_guard(&lost, 50.0).unwrap();
        assert!(
            reason.contains("a lost 80 of its 100 rows (80.0%)"),
            "{reason}"
        );
        assert_eq!(deletion_guard(&lost, 100.0), None);
        assert_eq!(deletion_guard(&lost, 80.0), None);
        let mut dropped = [change("d", 10, 10, 0)];
        dropped[0].diff.dropped = true;
        assert_eq!(deletion_guard(&dropped, 50.0), None);
        let emptied = [change("c", 1, 1, 0)];
        assert!(deletion_guard(&emptied, 100.0).is_none());
        assert!(
            deletion_guard(&emptied, 99.0)
                .unwrap()
                .contains("now empty")
        );
    }
}
