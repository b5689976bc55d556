//! The target side of a fill before and after its rows: the schema files
//! applied (returning the catalog), then the load completed — foreign keys
//! resolved, AUTO_INCREMENT counters continued, rows counted, Dolt's
//! constraints verified. Each returns what it did. Creating and dropping
//! the database is `fresh.rs`; the commit is `crate::dolt::commit`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tracing::info;

use super::catalog::TargetTable;
use super::{TargetKind, TargetServer, dolt, fixup, schema};
use crate::error::{FailureKind, failure};

/// Applies the schema files to the connected database; returns its catalog.
pub async fn apply_schema(
    conn: &mut Conn,
    database: &str,
    files: &[schema::ParsedSchemaFile],
) -> anyhow::Result<Vec<TargetTable>> {
    let started = Instant::now();
    let statements = schema::apply_schema_files(conn, files).await?;
    info!(
        statements,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "schema applied"
    );
    super::catalog::read_catalog(conn, database).await
}

/// The rows a loaded table must hold.
#[derive(Debug, Clone, Copy)]
pub struct ExpectedRows<'a> {
    /// the table as errors name it (its source)
    pub label: &'a str,
    /// the target table
    pub table: &'a str,
    /// rows it must hold
    pub rows: u64,
}

/// What [`complete`] did.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    /// tables that got the foreign-key no-op delete
    pub foreign_key_fixups: Vec<String>,
    /// AUTO_INCREMENT counters set: table → next value
    pub auto_increment: BTreeMap<String, u64>,
}

/// After the data is in: foreign-key fix-ups, AUTO_INCREMENT counters,
/// every loaded table's row count (`loaded`)
/// and, on Dolt, the constraints. An error means the copy is not verified.
pub async fn complete(
    conn: &mut Conn,
    server: &TargetServer,
    targets: &[TargetTable],
    loaded: &[ExpectedRows<'_>],
) -> anyhow::Result<Completion> {
    let fixups = foreign_key_tables(targets);
    fixup::resolve_foreign_keys(conn, &fixups).await?;

    let counters: Vec<(String, String)> = targets
        .iter()
        .filter_map(|table| {
            let column = table.columns.iter().find(|column| column.auto_increment)?;
            Some((table.name.clone(), column.name.clone()))
        })
        .collect();
    let auto_increment = fixup::continue_auto_increment(conn, &counters)
        .await?
        .into_iter()
        .collect();

    verify_counts(conn, loaded).await?;
    if server.kind == TargetKind::Dolt {
        dolt::verify_constraints(conn).await?;
    }
    Ok(Completion {
        foreign_key_fixups: fixups.into_iter().map(|(table, _)| table).collect(),
        auto_increment,
    })
}

/// Every target table that has or is referenced by a foreign key, with the
/// column its no-op delete compares (the first key column, else the first).
fn foreign_key_tables(targets: &[TargetTable]) -> Vec<(String, String)> {
    let mut involved = BTreeSet::new();
    for table in targets {
        if !table.references.is_empty() {
            involved.insert(table.name.clone());
            involved.extend(table.references.iter().cloned());
        }
    }
    targets
        .iter()
        .filter(|table| involved.contains(&table.name))
        .filter_map(|table| {
            let column = table
                .primary_key
                .first()
                .or_else(|| table.columns.first().map(|column| &column.name))?;
            Some((table.name.clone(), column.clone()))
        })
        .collect()
}

/// Rows read = rows stored (checked per load) = `COUNT(*)` on the target.
async fn verify_counts(conn: &mut Conn, loaded: &[ExpectedRows<'_>]) -> anyhow::Result<()> {
    for &ExpectedRows {
        label,
        table: target,
        rows,
    } in loaded
    {
        // language=MySQL
        let statement = format!(
            "SELECT COUNT(*) FROM {}",
            crate::mysql::sql::quote_identifier(target)
        );
        let count: Option<u64> = conn
            .query_first(statement)
            .await
            .with_context(|| format!("counting rows of {target}"))?;
        if count != Some(rows) {
            return Err(failure(
                FailureKind::Verify,
                format!(
                    "{label}: {rows} rows expected, the target table {target} has {}",
                    count.unwrap_or(0)
                ),
            ));
        }
    }
    Ok(())
}
