//! `pg2dolt schema draft` and `schema diff`: target schema files drafted
//! from the Postgres catalog and its data (lengths measured on one
//! snapshot), and the drift between committed files and the source today.
//!
//! The draft embeds a source signature (every table's columns and their
//! Postgres types) in a comment line; `diff` compares it with the source.

pub mod catalog;
pub mod render;
pub mod types;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tracing::{info, warn};

use self::catalog::{ColumnDetails, TableDetails, measure, read_details};
use self::render::{
    DraftColumn, DraftForeignKey, DraftTable, count_reviews, foreign_keys_file, tables_file,
};
use self::types::{ColumnFacts, DraftedDefault, draft_check, draft_default, draft_type};
use crate::convert::value::Converter;
use crate::error::{FailureKind, failure};
use crate::postgres::catalog::{SourceTable, read_catalog};
use crate::postgres::snapshot::{Snapshot, export_snapshot};
use crate::types::{MySqlType, PgKind};

/// The marker before the signature line.
const SIGNATURE_MARKER: &str = "-- pg2dolt source signature";

pub use crate::settings::DraftSettings;

/// A source signature: `schema.table` → columns and their Postgres types.
pub type Signature = BTreeMap<String, Vec<(String, String)>>;

/// The drafted files: (name, text), and the number of review notes.
pub struct Draft {
    /// the files, in apply order
    pub files: Vec<(String, String)>,
    /// `-- REVIEW:` notes in them
    pub reviews: usize,
    /// the source signature
    pub signature: Signature,
}

/// The source's signature now (catalog only, no data read).
pub async fn current_signature(settings: &DraftSettings) -> anyhow::Result<Signature> {
    let client = crate::postgres::connect(&settings.source, "drafter").await?;
    let catalog = read_catalog(&client, &settings.source_schemas, false).await?;
    let (tables, _) = settings.selection.split(catalog);
    Ok(signature_of(&tables))
}

fn signature_of(tables: &[SourceTable]) -> Signature {
    tables
        .iter()
        .map(|table| {
            let columns = table
                .columns
                .iter()
                .map(|column| (column.name.clone(), column.type_name.clone()))
                .collect();
            (table.qualified_name(), columns)
        })
        .collect()
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

fn header(snapshot: &Snapshot, signature: &Signature) -> anyhow::Result<String> {
    Ok(format!(
        "-- Drafted by pg2dolt {} from Postgres database {} ({}) as of {}.\n\
         -- Review every REVIEW note, then commit these files to schema/.\n\
         {SIGNATURE_MARKER} (read by `pg2dolt schema diff`; keep the next line):\n\
         -- {}\n",
        env!("CARGO_PKG_VERSION"),
        snapshot.database,
        snapshot.server_version,
        snapshot.time,
        serde_json::to_string(signature).context("encoding the source signature")?
    ))
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

fn draft_table(
    table: &SourceTable,
    details: &TableDetails,
    measured: &HashMap<String, (Option<u64>, Option<u64>)>,
    names: &HashMap<String, String>,
) -> DraftTable {
    let indexed: Vec<&String> = details
        .indexes
        .iter()
        .flat_map(|index| &index.columns)
        .collect();
    let mut draft = DraftTable {
        source: table.qualified_name(),
        name: names[&table.qualified_name()].clone(),
        primary_key: table.primary_key.clone(),
        comment: details.comment.clone(),
        ..DraftTable::default()
    };
    if draft.name != table.name {
        draft.review.push(format!(
            "renamed to {} (another schema has a table {}); copy with --map {}={}",
            draft.name,
            table.name,
            table.qualified_name(),
            draft.name
        ));
    }
    if let Some(key) = &details.partition_key {
        draft.review.push(format!(
            "partitioned in Postgres ({key}): one table here, all partitions' rows"
        ));
    }
    let mut auto_increment_taken = false;
    for column in &table.columns {
        let column_details = details
            .columns
            .get(&column.name)
            .cloned()
            .unwrap_or_default();
        let (longest_chars, longest_bytes) =
            measured.get(&column.name).copied().unwrap_or((None, None));
        let facts = ColumnFacts {
            kind: column.kind.clone(),
            base_type: column_details.base_type.clone(),
            type_name: column.type_name.clone(),
            typmod: column_details.typmod,
            longest_chars,
            longest_bytes,
            indexed: indexed.contains(&&column.name),
        };
        let key_first = table.primary_key.first() == Some(&column.name)
            || details
                .indexes
                .iter()
                .any(|index| index.unique && index.columns.first() == Some(&column.name));
        let drafted = draft_column(
            &column.name,
            &facts,
            &column_details,
            key_first,
            &mut auto_increment_taken,
        );
        draft.columns.push(drafted);
    }
    for index in &details.indexes {
        if index.primary {
            continue;
        }
        if index.translatable {
            draft
                .indexes
                .push((index.name.clone(), index.unique, index.columns.clone()));
        } else {
            draft.review.push(format!(
                "index not drafted (MySQL has no equivalent): {}",
                index.definition
            ));
        }
    }
    for (name, definition) in &details.checks {
        match draft_check(definition) {
            Some(check) => draft.checks.push((name.clone(), check)),
            None => draft
                .review
                .push(format!("CHECK {name} not drafted: {definition}")),
        }
    }
    draft.foreign_keys = details
        .foreign_keys
        .iter()
        .map(|key| draft_foreign_key(key, names))
        .collect();
    draft
}

fn draft_column(
    name: &str,
    facts: &ColumnFacts,
    details: &ColumnDetails,
    key_first: bool,
    auto_increment_taken: &mut bool,
) -> DraftColumn {
    let drafted = draft_type(facts);
    let mut column = DraftColumn {
        name: name.to_string(),
        sql_type: drafted.sql.clone(),
        not_null: details.not_null,
        comment: details.comment.clone(),
        review: drafted.review,
        ..DraftColumn::default()
    };
    if details.domain {
        column.review.push(format!(
            "domain {}: its CHECK constraints are not carried over",
            facts.type_name
        ));
    }
    // The draft must be something the copy accepts: the converter decides.
    if let Err(reason) = Converter::choose(&facts.kind, &MySqlType::parse(&drafted.sql)) {
        column.review.push(format!(
            "pg2dolt cannot copy {} into {}: {reason}",
            facts.type_name, drafted.sql
        ));
    }
    let integer = matches!(
        facts.kind,
        PgKind::SmallInt | PgKind::Integer | PgKind::BigInt
    );
    let wants_auto_increment = details.identity
        || details.default.as_deref().is_some_and(|default| {
            matches!(
                draft_default(default, &facts.kind),
                DraftedDefault::AutoIncrement
            )
        });
    if wants_auto_increment {
        if integer && key_first && !*auto_increment_taken {
            column.auto_increment = true;
            *auto_increment_taken = true;
        } else {
            column.review.push(
                "serial/identity in Postgres, not AUTO_INCREMENT here (MySQL wants one, first in a key)".to_string(),
            );
        }
    } else if let Some(default) = &details.default {
        match draft_default(default, &facts.kind) {
            DraftedDefault::Value(value) => column.default = Some(value),
            DraftedDefault::AutoIncrement => {}
            DraftedDefault::Untranslated(reason) => column.review.push(reason),
        }
    }
    if let Some(expression) = &details.generated {
        column.review.push(format!(
            "generated in Postgres as {expression}: copied as a value here"
        ));
    }
    column
}

fn draft_foreign_key(
    key: &catalog::ForeignKey,
    names: &HashMap<String, String>,
) -> DraftForeignKey {
    let mut review = Vec::new();
    let action = |code: char, what: &str, review: &mut Vec<String>| match code {
        'r' => format!(" ON {what} RESTRICT"),
        'c' => format!(" ON {what} CASCADE"),
        'n' => format!(" ON {what} SET NULL"),
        'd' => {
            review.push(format!("ON {what} SET DEFAULT: InnoDB has none, dropped"));
            String::new()
        }
        _ => String::new(),
    };
    let actions = format!(
        "{}{}",
        action(key.on_delete, "DELETE", &mut review),
        action(key.on_update, "UPDATE", &mut review)
    );
    let referenced = names.get(&key.referenced).cloned().unwrap_or_else(|| {
        review.push(format!(
            "references {}, which is not drafted",
            key.referenced
        ));
        key.referenced
            .rsplit('.')
            .next()
            .unwrap_or(&key.referenced)
            .to_string()
    });
    DraftForeignKey {
        name: key.name.chars().take(64).collect(),
        columns: key.columns.clone(),
        referenced,
        referenced_columns: key.referenced_columns.clone(),
        actions,
        review,
    }
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
                let quoted = crate::postgres::copy::quote_identifier(column);
                if !text_columns.contains(&column.as_str()) {
                    return quoted;
                }
                let mut expression = format!("concat({quoted})");
                if ignores_case {
                    expression = format!("lower({expression})");
                }
                if pads {
                    expression = format!("rtrim({expression}, ' ')");
                }
                expression
            })
            .collect();
        // language=PostgreSQL
        let statement = format!(
            "SELECT count(*) FROM (SELECT 1 FROM {} GROUP BY {} HAVING count(*) > 1) collisions",
            crate::postgres::copy::table_reference(&table.schema, &table.name, table.partitioned),
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

/// The source signature a drafted schema carries, from its files' text.
#[must_use]
pub fn read_signature(files: &[(String, String)]) -> Option<Signature> {
    for (_, text) in files {
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.starts_with(SIGNATURE_MARKER) {
                let json = lines.next()?.strip_prefix("-- ")?;
                return serde_json::from_str(json).ok();
            }
        }
    }
    None
}

/// What changed between a recorded signature and the source now.
#[must_use]
pub fn diff(recorded: &Signature, current: &Signature) -> Vec<String> {
    let mut changes = Vec::new();
    for (table, columns) in current {
        let Some(old) = recorded.get(table) else {
            let listed: Vec<String> = columns
                .iter()
                .map(|(name, kind)| format!("{name} {kind}"))
                .collect();
            changes.push(format!("new table {table} ({})", listed.join(", ")));
            continue;
        };
        for (name, kind) in columns {
            match old.iter().find(|(old_name, _)| old_name == name) {
                None => changes.push(format!("new column {table}.{name} ({kind})")),
                Some((_, old_kind)) if old_kind != kind => {
                    changes.push(format!(
                        "retyped column {table}.{name}: {old_kind} → {kind}"
                    ));
                }
                Some(_) => {}
            }
        }
        for (name, kind) in old {
            if !columns.iter().any(|(new_name, _)| new_name == name) {
                changes.push(format!("dropped column {table}.{name} (was {kind})"));
            }
        }
    }
    for table in recorded.keys() {
        if !current.contains_key(table) {
            changes.push(format!("dropped table {table}"));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature(entries: &[(&str, &[(&str, &str)])]) -> Signature {
        entries
            .iter()
            .map(|(table, columns)| {
                (
                    (*table).to_string(),
                    columns
                        .iter()
                        .map(|(name, kind)| ((*name).to_string(), (*kind).to_string()))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn diff_names_every_change() {
        let old = signature(&[
            (
                "public.a",
                &[("id", "integer"), ("gone", "text"), ("n", "integer")],
            ),
            ("public.old", &[("id", "integer")]),
        ]);
        let new = signature(&[
            (
                "public.a",
                &[("id", "integer"), ("n", "bigint"), ("added", "text")],
            ),
            ("public.fresh", &[("id", "integer")]),
        ]);
        assert_eq!(
            diff(&old, &new),
            [
                "retyped column public.a.n: integer → bigint",
                "new column public.a.added (text)",
                "dropped column public.a.gone (was text)",
                "new table public.fresh (id integer)",
                "dropped table public.old",
            ]
        );
        assert!(diff(&old, &old).is_empty());
    }

    #[test]
    fn the_signature_survives_the_file() {
        let recorded = signature(&[("public.a", &[("id", "integer")])]);
        let text = format!(
            "-- header\n{SIGNATURE_MARKER} (keep):\n-- {}\nCREATE TABLE a (id INT);\n",
            serde_json::to_string(&recorded).unwrap()
        );
        assert_eq!(read_signature(&[("010.sql".into(), text)]), Some(recorded));
    }
}
