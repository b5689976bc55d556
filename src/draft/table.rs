//! One table drafted: its columns (types, defaults, checks), keys and
//! foreign keys as MySQL DDL, with a `-- REVIEW:` note wherever a person
//! should decide.

use std::collections::HashMap;

use super::catalog::{self, ColumnDetails, TableDetails};
use super::ddl::{ColumnFacts, DraftedDefault, draft_check, draft_default, draft_type};
use super::render::{DraftColumn, DraftForeignKey, DraftTable};
use crate::column_types::{MySqlType, PgKind};
use crate::convert::converter::Converter;
use crate::postgres::catalog::SourceTable;

pub(super) fn draft_table(
    table: &SourceTable,
    details: &TableDetails,
    measured: &HashMap<String, (Option<u64>, Option<u64>)>,
    names: &HashMap<String, String>,
) -> DraftTable {
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
    draft.columns = draft_columns(table, details, measured);
    draft_indexes_and_checks(details, &mut draft);
    draft.foreign_keys = details
        .foreign_keys
        .iter()
        .map(|key| draft_foreign_key(key, names))
        .collect();
    draft
}

/// Every column of `table`, typed from its facts and measured lengths.
fn draft_columns(
    table: &SourceTable,
    details: &TableDetails,
    measured: &HashMap<String, (Option<u64>, Option<u64>)>,
) -> Vec<DraftColumn> {
    let indexed: Vec<&String> = details
        .indexes
        .iter()
        .flat_map(|index| &index.columns)
        .collect();
    let mut auto_increment_taken = false;
    let mut columns = Vec::new();
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
        columns.push(drafted);
    }
    columns
}

/// The indexes MySQL can have and the checks it can parse; the rest are
/// review notes.
fn draft_indexes_and_checks(details: &TableDetails, draft: &mut DraftTable) {
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
