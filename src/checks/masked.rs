//! A masked key column (primary, unique or foreign key) whose generator
//! keeps distinct values distinct (`email`, a long `hash`) is proven so on
//! the snapshot: every distinct source value is masked here and no two may
//! give one masked value. Nothing of the source is shown: a problem names
//! the column and how many values merged.

use std::collections::HashSet;

use anyhow::Context as _;
use futures_util::TryStreamExt as _;
use tokio_postgres::Client;

use super::values::copied_text;
use crate::mask::Mask;
use crate::plan::masking::key_role;
use crate::plan::{Problem, ProblemKind, TablePlan};

/// Problems of the masked key columns of one table (`table`: its SQL
/// reference).
pub(super) async fn masked_key_checks(
    reader: &Client,
    plan: &TablePlan,
    table: &str,
) -> anyhow::Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for column in &plan.columns {
        let Some(mask) = &column.mask else {
            continue;
        };
        if key_role(&plan.target, &column.target).is_none() {
            continue;
        }
        let value = copied_text(column);
        // language=PostgreSQL
        let statement = format!(
            "SELECT DISTINCT {value} FROM {table} WHERE {} IS NOT NULL",
            crate::postgres::sql::quote_identifier(&column.source)
        );
        let merged = merged_values(reader, &statement, mask)
            .await
            .with_context(|| {
                format!(
                    "reading the values of {}.{}",
                    plan.source_name, column.source
                )
            })?;
        if merged > 0 {
            problems.push(
                Problem::new(
                    ProblemKind::Masking,
                    format!(
                        "{} masks {merged} distinct value(s) of this key column onto values it already made: the key would merge rows (use hash, or a longer column)",
                        mask.generator.describe()
                    ),
                )
                .tables(Some(&plan.source_name), Some(&plan.target.name))
                .column(format!("{} → {}", column.source, column.target)),
            );
        }
    }
    Ok(problems)
}

/// How many distinct values `statement` reads that `mask` maps onto a
/// value it already made (128 bits of each masked value's digest tell them
/// apart).
async fn merged_values(reader: &Client, statement: &str, mask: &Mask) -> anyhow::Result<u64> {
    let rows = reader
        .query_raw(statement, std::iter::empty::<i32>())
        .await
        .map_err(|error| crate::postgres::pg_error(&error))?;
    futures_util::pin_mut!(rows);
    let mut seen: HashSet<[u8; 16]> = HashSet::new();
    let mut merged = 0_u64;
    while let Some(row) = rows
        .try_next()
        .await
        .map_err(|error| crate::postgres::pg_error(&error))?
    {
        let source: &str = row.get(0);
        let Some(masked) = mask.apply(source.as_bytes()) else {
            continue;
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, &masked);
        let mut short = [0; 16];
        short.copy_from_slice(&digest.as_ref()[..16]);
        if !seen.insert(short) {
            merged += 1;
        }
    }
    Ok(merged)
}
