//! Finds, by SQL on the source snapshot and before any data moves, every
//! value the target cannot hold: strings longer than their column, numbers
//! outside a narrower type, NaN and infinity, fractions a column would
//! round, enum labels the target lacks, and distinct values that collide
//! under a target unique key (case-insensitive or PAD SPACE collations).
//!
//! The predicates are built from each column's converter (`values.rs`,
//! `numbers.rs`, `collisions.rs`: pure SQL text), so a check here and the
//! converter at copy time refuse the same values. This file runs them; both
//! read the same snapshot: a copy whose checks pass meets no value error
//! later.

mod collisions;
mod masked;
mod numbers;
mod values;

pub use collisions::{CollisionCheck, collision_checks, fold};
pub use values::{ValueCheck, value_checks};

use anyhow::Context as _;
use tokio_postgres::Client;

use crate::convert::row::shorten_text;
use crate::plan::{Problem, ProblemKind, TablePlan};
use crate::postgres::reader::Reader;
use crate::postgres::sql::{quote_identifier, table_reference};
use values::{copied_text, literal_list};

/// How many offending rows a problem shows.
const EXAMPLES: i64 = 3;

/// Runs every table's checks on `readers` (each inside the snapshot), the
/// largest tables first; returns the problems found.
pub async fn run_checks(readers: &[Reader], plans: &[TablePlan]) -> anyhow::Result<Vec<Problem>> {
    let mut order: Vec<&TablePlan> = plans.iter().collect();
    order.sort_by_key(|plan| std::cmp::Reverse(plan.source.estimated_bytes));
    let found = crate::pool::drain(
        readers.iter().collect(),
        order,
        async |reader: &mut &Reader, plan| check_table(reader, plan).await,
    )
    .await?;
    let mut problems: Vec<Problem> = found.into_iter().flatten().collect();
    problems.sort_by(|left, right| {
        (&left.source_table, &left.column).cmp(&(&right.source_table, &right.column))
    });
    Ok(problems)
}

/// One table: one scan counting every value check, then a few example
/// rows per failed check; then each collision check.
async fn check_table(reader: &Client, plan: &TablePlan) -> anyhow::Result<Vec<Problem>> {
    let table = table_reference(
        &plan.source.schema,
        &plan.source.name,
        plan.source.partitioned,
    );
    let mut problems = Vec::new();
    let checks = value_checks(plan);
    if !checks.is_empty() {
        let counts: Vec<String> = checks
            .iter()
            .map(|check| format!("count(*) FILTER (WHERE {})", check.predicate))
            .collect();
        // language=PostgreSQL
        let statement = format!("SELECT {} FROM {table}", counts.join(", "));
        let row = reader
            .query_one(&statement, &[])
            .await
            .map_err(|error| crate::postgres::pg_error(&error))
            .with_context(|| format!("checking the values of {}", plan.source_name))?;
        for (index, check) in checks.iter().enumerate() {
            let rows: i64 = row.get(index);
            if rows == 0 {
                continue;
            }
            let column = &plan.columns[check.column];
            let examples =
                value_examples(reader, plan, &table, &copied_text(column), &check.predicate)
                    .await?;
            problems.push(Problem {
                source_type: Some(column.source_type.clone()),
                target_type: Some(column.target_type.clone()),
                rows: u64::try_from(rows).ok(),
                examples,
                ..Problem::new(ProblemKind::Value, check.detail.clone())
                    .tables(Some(&plan.source_name), Some(&plan.target.name))
                    .column(format!("{} → {}", column.source, column.target))
            });
        }
    }
    for check in collision_checks(plan) {
        if let Some(problem) = find_collisions(reader, plan, &table, &check).await? {
            problems.push(problem);
        }
    }
    problems.extend(masked::masked_key_checks(reader, plan, &table).await?);
    Ok(problems)
}

/// `key='value', …` for a row, as SQL (the copy's own format): the
/// primary key, else the ctid.
fn key_description(plan: &TablePlan) -> String {
    // A masked key is never shown as the source has it: the row's ctid is.
    let masked_key = plan.source.primary_key.iter().any(|key| {
        plan.columns
            .iter()
            .any(|column| &column.source == key && column.mask.is_some())
    });
    if plan.source.primary_key.is_empty() || masked_key {
        return "'ctid=' || ctid::text".to_string();
    }
    let parts: Vec<String> = plan
        .source
        .primary_key
        .iter()
        .map(|key| {
            format!(
                "{} || quote_nullable(({})::text)",
                literal_list(&[format!("{key}=")]),
                quote_identifier(key)
            )
        })
        .collect();
    format!("concat_ws(', ', {})", parts.join(", "))
}

async fn value_examples(
    reader: &Client,
    plan: &TablePlan,
    table: &str,
    text: &str,
    predicate: &str,
) -> anyhow::Result<Vec<String>> {
    // language=PostgreSQL
    let statement = format!(
        "SELECT {}, left({text}, 61), char_length({text})::int8 FROM {table} WHERE {predicate} LIMIT {EXAMPLES}",
        key_description(plan)
    );
    let rows = reader
        .query(&statement, &[])
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .with_context(|| format!("finding example rows of {}", plan.source_name))?;
    Ok(rows
        .iter()
        .map(|row| {
            let key: String = row.get(0);
            let head: String = row.get(1);
            let length: i64 = row.get(2);
            let length = usize::try_from(length).unwrap_or(usize::MAX);
            format!("row {key}: value {}", shorten_text(&head, length))
        })
        .collect())
}

async fn find_collisions(
    reader: &Client,
    plan: &TablePlan,
    table: &str,
    check: &CollisionCheck,
) -> anyhow::Result<Option<Problem>> {
    let not_null: Vec<String> = check
        .source_columns
        .iter()
        .map(|column| format!("{column} IS NOT NULL"))
        .collect();
    let mut values: Vec<String> = check
        .source_columns
        .iter()
        .map(|column| format!("quote_nullable(left(concat({column}), 40))"))
        .collect();
    values.push(format!("'(row ' || {} || ')'", key_description(plan)));
    let folded = check.folded.join(", ");
    // language=PostgreSQL
    let statement = format!(
        "SELECT count(*) OVER (), sum(count(*)) OVER ()::int8, \
                array_to_string((array_agg(concat_ws(' ', {}) ORDER BY {}))[1:{EXAMPLES}], ' and ') \
                || CASE WHEN count(*) > {EXAMPLES} THEN ' and ' || (count(*) - {EXAMPLES}) || ' more' ELSE '' END \
         FROM {table} WHERE {} GROUP BY {folded} HAVING count(*) > 1 LIMIT {EXAMPLES}",
        values.join(", "),
        check.source_columns.join(", "),
        not_null.join(" AND "),
    );
    let rows = reader
        .query(&statement, &[])
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .with_context(|| format!("checking unique keys of {}", plan.source_name))?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let groups: i64 = first.get(0);
    let rows_affected: i64 = first.get(1);
    Ok(Some(Problem {
        rows: u64::try_from(rows_affected).ok(),
        examples: rows.iter().map(|row| row.get::<_, String>(2)).collect(),
        ..Problem::new(
            ProblemKind::Collision,
            format!("{} ({groups} colliding groups)", check.detail),
        )
        .tables(Some(&plan.source_name), Some(&plan.target.name))
        .column(check.target_columns.join(", "))
    }))
}
