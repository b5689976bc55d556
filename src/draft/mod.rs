//! `pg2dolt schema draft` and `schema diff`: target schema files drafted
//! from the Postgres catalog and its data (lengths measured on one
//! snapshot), and the drift between committed files and the source today.
//!
//! The draft embeds a source signature (every table's columns and their
//! Postgres types) in a comment line; `diff` compares it with the source.

pub mod catalog;
pub mod ddl;
pub mod render;
mod signature;
mod table;

pub use signature::{Signature, current_signature, diff, read_signature};
use signature::{header, signature_of};
use table::draft_table;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tracing::{info, warn};

use self::catalog::{TableDetails, measure, read_details};
use self::render::{DraftTable, count_reviews, foreign_keys_file, tables_file};
use crate::column_types::PgKind;
use crate::error::{FailureKind, failure};
use crate::postgres::catalog::{SourceTable, read_catalog};
use crate::postgres::snapshot::export_snapshot;

pub use crate::settings::DraftSettings;

/// The drafted files: (name, text), and the number of review notes.
pub struct Draft {
    /// the files, in apply order
    pub files: Vec<(String, String)>,
    /// `-- REVIEW:` notes in them
    pub reviews: usize,
    /// the source signature
    pub signature: Signature,
}

/// Reads the source on one snapshot and drafts the schema files.
pub async fn draft(settings: &DraftSettings) -> anyhow::Result<Draft> {
    let client = crate::postgres::connect(&settings.source, "drafter").await?;
    let snapshot = export_snapshot(&client).await?;
    let catalog = read_catalog(&client, &settings.source_schemas, false).await?;
    let (tables, _) = settings.selection.split(catalog);
    if tables.is_empty() {
        return Err(failure(
            FailureKind::Plan,
            format!(
                "no source table in schema {}",
                settings.source_schemas.join(", ")
            ),
        ));
    }
    let details = read_details(&client, &tables).await?;
    let names = target_names(&tables);
    let mut drafted = Vec::new();
    for table in &tables {
        let table_details = details
            .get(&table.qualified_name())
            .cloned()
            .unwrap_or_default();
        let measured = measure(&client, table, &to_measure(table, &table_details)).await?;
        let mut draft = draft_table(table, &table_details, &measured, &names);
        warn_collisions(&client, table, &mut draft, &settings.collation).await?;
        drafted.push(draft);
    }
    let signature = signature_of(&tables);
    let header = header(&snapshot, &signature)?;
    let tables_sql = tables_file(&header, &drafted, &settings.collation);
    let keys_sql = foreign_keys_file(
        "-- Foreign keys, after the tables: pg2dolt loads with checks off, then resolves them.\n",
        &drafted,
    );
    let reviews = count_reviews(&[&tables_sql, &keys_sql]);
    Ok(Draft {
        files: vec![
            ("010_tables.sql".to_string(), tables_sql),
            ("020_foreign_keys.sql".to_string(), keys_sql),
        ],
        reviews,
        signature,
    })
}

/// Target names: the table's own, or `schema_table` when two schemas
/// share a name.
fn target_names(tables: &[SourceTable]) -> HashMap<String, String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for table in tables {
        *count.entry(table.name.as_str()).or_default() += 1;
    }
    tables
        .iter()
        .map(|table| {
            let name = if count[table.name.as_str()] > 1 {
                format!("{}_{}", table.schema, table.name)
            } else {
                table.name.clone()
            };
            (table.qualified_name(), name)
        })
        .collect()
}

/// Columns whose type declares no length: their data is measured.
fn to_measure<'a>(table: &'a SourceTable, details: &TableDetails) -> Vec<&'a str> {
    table
        .columns
        .iter()
        .filter(|column| {
            let typmod = details
                .columns
                .get(&column.name)
                .map_or(-1, |column| column.typmod);
            match column.kind {
                PgKind::Text | PgKind::Char | PgKind::Bit => typmod < 0,
                PgKind::Bytea | PgKind::Range | PgKind::Other => true,
                _ => false,
            }
        })
        .map(|column| column.name.as_str())
        .collect()
}

/// Under a case-insensitive or PAD SPACE collation, distinct Postgres
/// values may collide in a unique key: counted on the snapshot, noted.
async fn warn_collisions(
    client: &tokio_postgres::Client,
    table: &SourceTable,
    draft: &mut DraftTable,
    collation: &str,
) -> anyhow::Result<()> {
    let ignores_case = crate::mysql::catalog::ignores_case(collation);
    let pads = crate::mysql::catalog::pads_spaces(collation);
    if !ignores_case && !pads {
        return Ok(());
    }
    let text_columns: Vec<&str> = table
        .columns
        .iter()
        .filter(|column| matches!(column.kind, PgKind::Text | PgKind::Char))
        .map(|column| column.name.as_str())
        .collect();
    for key in &table.unique_keys {
        if !key
            .iter()
            .any(|column| text_columns.contains(&column.as_str()))
        {
            continue;
        }
        let folded: Vec<String> = key
            .iter()
            .map(|column| {
                let quoted = crate::postgres::sql::quote_identifier(column);
                if !text_columns.contains(&column.as_str()) {
                    return quoted;
                }
                crate::checks::fold(format!("concat({quoted})"), ignores_case, pads)
            })
            .collect();
        // language=PostgreSQL
        let statement = format!(
            "SELECT count(*) FROM (SELECT 1 FROM {} GROUP BY {} HAVING count(*) > 1) collisions",
            crate::postgres::sql::table_reference(&table.schema, &table.name, table.partitioned),
            folded.join(", ")
        );
        let groups: i64 = client
            .query_one(&statement, &[])
            .await
            .map_err(|error| crate::postgres::pg_error(&error))
            .context("checking unique keys against the collation")?
            .get(0);
        if groups > 0 {
            let note = format!(
                "unique key ({}) has {groups} group(s) of values that collide under {collation}",
                key.join(", ")
            );
            warn!(table = %table.qualified_name(), "{note}");
            draft.review.push(note);
        }
    }
    Ok(())
}

/// Writes the draft's files into `directory`.
pub fn write_files(draft: &Draft, directory: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(directory)
        .with_context(|| format!("creating {}", directory.display()))?;
    let mut written = Vec::new();
    for (name, text) in &draft.files {
        let path = directory.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        info!(file = %path.display(), "schema file drafted");
        written.push(path);
    }
    Ok(written)
}
