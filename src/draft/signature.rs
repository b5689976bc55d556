//! The source signature a draft embeds: every table's columns and their
//! Postgres types, in a comment line of the first file; `schema diff`
//! compares it with the source today.

use std::collections::BTreeMap;

use anyhow::Context as _;

use super::DraftSettings;
use crate::postgres::catalog::{SourceTable, read_catalog};
use crate::postgres::snapshot::Snapshot;

/// The marker before the signature line.
const SIGNATURE_MARKER: &str = "-- pg2dolt source signature";

/// A source signature: `schema.table` → columns and their Postgres types.
pub type Signature = BTreeMap<String, Vec<(String, String)>>;

/// The source's signature now (catalog only, no data read).
pub async fn current_signature(settings: &DraftSettings) -> anyhow::Result<Signature> {
    let client = crate::postgres::connect(&settings.source, "drafter").await?;
    let catalog = read_catalog(&client, &settings.source_schemas, false).await?;
    let (tables, _) = settings.selection.split(catalog);
    Ok(signature_of(&tables))
}

pub(super) fn signature_of(tables: &[SourceTable]) -> Signature {
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

pub(super) fn header(snapshot: &Snapshot, signature: &Signature) -> anyhow::Result<String> {
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
