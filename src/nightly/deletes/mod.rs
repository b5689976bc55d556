//! The rows a delta night deletes. After the upserts the target holds every
//! source key (rows not written since the last published snapshot were
//! there already, the rest were just upserted), so `COUNT(*)` on the
//! target (O(1) on Dolt) minus the source's count in the snapshot is
//! exactly the number of rows to delete; usually 0, and the table is done.
//! Otherwise both sides' keys are read and compared: in key order, merged
//! as they stream, when every key column is an integer (both sides order
//! numbers alike); else the source's keys are held in a set. The keys found
//! must be exactly that many, then they are deleted in batches.

use std::collections::HashSet;

use anyhow::{Context as _, bail};
use futures_util::StreamExt as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tokio_postgres::Client;

use crate::convert::frame::RowSplitter;
use crate::convert::mysql_text::decode_load_data;
use crate::convert::row::RowConverter;
use crate::mysql::sql::{quote_identifier, quote_literal};
use crate::plan::TablePlan;

mod numeric;
pub mod ranges;

use numeric::{NUMERIC_KEY_COLUMNS, gone_numeric_keys_in, gone_numeric_keys_in_ranges};
use ranges::KeyRanges;

/// Keys deleted in one statement.
const DELETE_BATCH: usize = 500;

/// A key: its columns' values as the target stores them.
type Key = Vec<Vec<u8>>;

/// One table's key columns, on both sides.
struct KeyColumns<'a> {
    plan: &'a TablePlan,
    /// indexes into the plan's columns, in source key order
    indexes: Vec<usize>,
    /// every key column is an integer on both sides, unmasked
    numeric: bool,
}

impl<'a> KeyColumns<'a> {
    fn new(plan: &'a TablePlan) -> KeyColumns<'a> {
        let indexes: Vec<usize> = plan.key_columns().iter().map(|(index, _)| *index).collect();
        let numeric = indexes.len() <= NUMERIC_KEY_COLUMNS && plan.integer_key();
        KeyColumns {
            plan,
            indexes,
            numeric,
        }
    }

    /// The target type of each key column, in key order.
    fn target_kinds(&self) -> Vec<crate::column_types::MySqlType> {
        self.indexes
            .iter()
            .map(|&index| {
                let name = &self.plan.columns[index].target;
                self.plan
                    .target
                    .columns
                    .iter()
                    .find(|column| &column.name == name)
                    .map_or_else(
                        || crate::column_types::MySqlType::Other(String::new()),
                        |column| column.kind.clone(),
                    )
            })
            .collect()
    }

    /// The target's keys as they stream: `SELECT key FROM table` and
    /// `tail` (a `WHERE` and `ORDER BY`, or nothing).
    async fn read_target<'c>(
        &self,
        conn: &'c mut Conn,
        tail: &str,
    ) -> anyhow::Result<mysql_async::QueryResult<'c, 'static, mysql_async::TextProtocol>> {
        // language=MySQL
        let statement = format!(
            "SELECT {} FROM {}{tail}",
            self.target_list(),
            quote_identifier(&self.plan.target.name)
        );
        conn.query_iter(statement)
            .await
            .with_context(|| format!("reading the keys of {}", self.plan.target.name))
    }

    fn target_list(&self) -> String {
        self.indexes
            .iter()
            .map(|&index| quote_identifier(&self.plan.columns[index].target))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The table's deleted rows are found by merging integer keys by the
/// recorded rows per key range (`ranges`), so they are counted for it. Not
/// for a table with a unique key besides its primary key: its delta clears
/// the rows it rewrites first, so the work branch no longer holds the
/// recorded rows when the deletes are found (`delta::table_method` never
/// hands it recorded ranges).
#[must_use]
pub fn counts_ranges(plan: &TablePlan) -> bool {
    KeyColumns::new(plan).numeric && !plan.other_unique_key()
}

/// A delta that does not add up: the target's rows after the upserts are
/// not the source's plus the rows to delete (a change the row versions did
/// not show). The night reloads that table in full instead.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DeltaInconsistent(pub String);

/// Where a night reads keys: the source inside its snapshot and the work
/// branch, each reachable by more sessions for key ranges read side by side.
pub struct Sides<'a> {
    /// the coordinator, inside the snapshot
    pub coordinator: &'a Client,
    /// the source, for more readers
    pub source: &'a crate::postgres::SourceAddress,
    /// the snapshot they import
    pub snapshot_id: &'a str,
    /// the target server
    pub target: &'a crate::mysql::TargetAddress,
    /// the work branch (`database/branch`)
    pub work: &'a str,
    /// key ranges read at once
    pub jobs: usize,
    /// the published commit the work branch started from (a delta's
    /// added keys are the diff from it)
    pub base: Option<&'a str>,
}

impl<'a> Sides<'a> {
    /// The sides of a run over `settings` and `source`, writing on `work`.
    #[must_use]
    pub fn of(
        settings: &'a crate::settings::Settings,
        source: &'a crate::preflight::SourceSide,
        work: &'a str,
    ) -> Sides<'a> {
        Sides {
            coordinator: &source.coordinator,
            source: &settings.source,
            snapshot_id: &source.snapshot.id,
            target: &settings.target,
            work,
            jobs: settings.target_database.jobs,
            base: None,
        }
    }
}

/// What finding a delta table's deleted rows did.
#[derive(Debug, Default)]
pub struct Settled {
    /// rows deleted
    pub deleted: u64,
    /// keys read on both sides to find them
    pub keys_read: u64,
    /// the table's rows per key range now, for the next night (tables
    /// whose key starts with an integer column)
    pub ranges: Option<KeyRanges>,
    /// what the night did to the table, when Dolt's diff was read for it
    /// (the report takes it instead of diffing the table again)
    pub changes: Option<crate::report::CountedChanges>,
}

/// Deletes the rows of the plan's target table (on `conn`, the work
/// branch) whose keys the source (inside the snapshot) no longer has;
/// `source_rows` is the source's count. `recorded`: the table's rows per
/// key range as the last published night left them, when the work branch
/// held exactly those before the upserts (see `ranges`): then only the
/// ranges that lost rows have their keys read; `now`, the source's rows
/// per range, when counted already.
pub async fn delete_gone_rows(
    conn: &mut Conn,
    sides: &Sides<'_>,
    plan: &TablePlan,
    source_rows: u64,
    (recorded, now): (Option<&KeyRanges>, Option<KeyRanges>),
) -> anyhow::Result<Settled> {
    let table = quote_identifier(&plan.target.name);
    // language=MySQL
    let target_rows: Option<u64> = conn
        .query_first(format!("SELECT COUNT(*) FROM {table}"))
        .await
        .with_context(|| format!("counting the rows of {}", plan.target.name))?;
    let target_rows = target_rows.unwrap_or(0);
    if target_rows < source_rows {
        return Err(anyhow::Error::new(DeltaInconsistent(format!(
            "after the upserts the target held {target_rows} rows, the source {source_rows}"
        ))));
    }
    let keys = KeyColumns::new(plan);
    let deleted = target_rows - source_rows;
    if !keys.numeric {
        if deleted == 0 {
            return Ok(Settled::default());
        }
        let (gone, keys_read) = gone_keys_by_set(conn, sides.coordinator, &keys).await?;
        let deleted = delete_found(conn, &keys, &gone, deleted).await?;
        return Ok(Settled {
            deleted,
            keys_read,
            ..Settled::default()
        });
    }
    let counts = Counts {
        target: target_rows,
        source: source_rows,
    };
    if let (Some(recorded), Some(base)) = (recorded, sides.base) {
        let by = ByRanges {
            recorded,
            base,
            counts,
            now,
        };
        if let Some(settled) = by_ranges(conn, sides, &keys, by).await? {
            return Ok(settled);
        }
    }
    // Nothing recorded to go by: every key compared when rows are gone,
    // and the counts taken for the next night.
    let (gone, keys_read) = if deleted == 0 {
        (Vec::new(), 0)
    } else {
        gone_numeric_keys_in_ranges(conn, sides, &keys, false).await?
    };
    let deleted = delete_found(conn, &keys, &gone, deleted).await?;
    let ranges = if counts_ranges(plan) {
        Some(ranges::source_ranges(sides.coordinator, plan).await?)
    } else {
        None
    };
    Ok(Settled {
        deleted,
        keys_read,
        ranges,
        changes: None,
    })
}

/// A table's rows after the upserts (target) and in the snapshot (source).
#[derive(Clone, Copy)]
struct Counts {
    target: u64,
    source: u64,
}

/// What [`by_ranges`] goes by.
struct ByRanges<'a> {
    /// the rows per range the last published night recorded
    recorded: &'a KeyRanges,
    /// the published commit the work branch started from
    base: &'a str,
    counts: Counts,
    /// the source's rows per range, when counted already
    now: Option<KeyRanges>,
}

/// [`delete_gone_rows`] by the recorded key ranges: `None` when they do
/// not describe the work branch (its rows do not add up to them), for the
/// whole key set to be compared instead.
async fn by_ranges(
    conn: &mut Conn,
    sides: &Sides<'_>,
    keys: &KeyColumns<'_>,
    by: ByRanges<'_>,
) -> anyhow::Result<Option<Settled>> {
    let (plan, recorded, counts) = (keys.plan, by.recorded, by.counts);
    let Some(added_rows) = counts.target.checked_sub(recorded.total()) else {
        return Ok(None);
    };
    let (mut added, mut changes) = (KeyRanges::empty(recorded.shift), None);
    if added_rows > 0 {
        let upserted = ranges::upserted(conn, plan, by.base, recorded.shift).await?;
        let Some((keys_added, modified)) = upserted.filter(|(keys, _)| keys.total() == added_rows)
        else {
            tracing::warn!(table = %plan.label(), recorded = recorded.total(), target = counts.target,
                "the recorded key ranges do not add up: every key is compared");
            return Ok(None);
        };
        added = keys_added;
        changes = Some(crate::report::CountedChanges {
            rows_added: added_rows,
            rows_deleted: counts.target - counts.source,
            rows_modified: modified,
            rows_before: recorded.total(),
            rows_after: counts.source,
        });
    }
    let deleted = counts.target - counts.source;
    if deleted == 0 {
        let mut now = recorded.clone();
        for (range, count) in added.counts {
            *now.counts.entry(range).or_default() += count;
        }
        return Ok(Some(Settled {
            ranges: Some(now.fit()),
            changes,
            ..Settled::default()
        }));
    }
    // Counted at the finer of the recorded cut and the one this many rows
    // call for: compared at the recorded one, kept at the new one.
    let shift = recorded.shift_for(counts.source);
    let now = match by.now {
        Some(now) if now.shift <= recorded.shift && now.total() == counts.source => now,
        _ => {
            ranges::count_source_ranges(sides.coordinator, plan, shift.min(recorded.shift)).await?
        }
    };
    let Some(lost) = recorded.lost(&added, &now, deleted) else {
        tracing::warn!(table = %plan.label(), deleted,
            "the key ranges that lost rows do not add up to the rows gone: every key is compared");
        return Ok(None);
    };
    let intervals = recorded.intervals(&lost);
    let (gone, keys_read) = gone_numeric_keys_in(sides, keys, &intervals, |interval| {
        recorded.rows_in(interval)
    })
    .await?;
    let deleted = delete_found(conn, keys, &gone, deleted).await?;
    tracing::info!(table = %plan.label(), deleted, ranges = lost.len(), keys_read,
        "deleted rows found in the key ranges that lost rows");
    Ok(Some(Settled {
        deleted,
        keys_read,
        ranges: Some(now.coarsen(shift.max(now.shift)).fit()),
        changes,
    }))
}

/// Deletes the keys `gone`, which must be `expected` many (the count the
/// target and the source differ by). Returns how many.
async fn delete_found(
    conn: &mut Conn,
    keys: &KeyColumns<'_>,
    gone: &[Vec<String>],
    expected: u64,
) -> anyhow::Result<u64> {
    if gone.len() as u64 != expected {
        return Err(anyhow::Error::new(DeltaInconsistent(format!(
            "{expected} rows were gone by count, {} by key",
            gone.len()
        ))));
    }
    delete_keys(conn, keys, gone).await?;
    Ok(expected)
}

/// Before a delta into a table with a unique key besides its primary key:
/// deletes on `conn` (the work branch, holding the last published night)
/// the rows the delta will write again (their keys, selected by `filter`)
/// and the rows whose keys the source no longer has, so the upserts meet
/// no old value of that other key. Returns the rows gone from the source.
pub async fn clear_for_delta(
    conn: &mut Conn,
    sides: &Sides<'_>,
    plan: &TablePlan,
    filter: &str,
) -> anyhow::Result<u64> {
    let keys = KeyColumns::new(plan);
    let mut changed = SourceKeys::open_filtered(sides.coordinator, &keys, Some(filter)).await?;
    let mut rewritten = Vec::new();
    while changed.peek().await?.is_some() {
        if let Some(key) = changed.take() {
            rewritten.push(
                key.iter()
                    .map(|value| literal_for(value, keys.numeric))
                    .collect(),
            );
        }
    }
    delete_keys(conn, &keys, &rewritten).await?;
    let (gone, _) = if keys.numeric {
        gone_numeric_keys_in_ranges(conn, sides, &keys, true).await?
    } else {
        gone_keys_by_set(conn, sides.coordinator, &keys).await?
    };
    delete_keys(conn, &keys, &gone).await?;
    tracing::info!(table = %plan.label(), rewritten = rewritten.len(), gone = gone.len(),
        "rows the delta rewrites and rows gone deleted first (a unique key besides the primary key)");
    Ok(gone.len() as u64)
}

/// The source's keys, in key order, converted (and masked) as a copy
/// would store them.
struct SourceKeys<'a> {
    stream: std::pin::Pin<Box<tokio_postgres::CopyOutStream>>,
    splitter: RowSplitter,
    converter: RowConverter,
    binary: Vec<bool>,
    ready: std::collections::VecDeque<Key>,
    plan: &'a TablePlan,
    done: bool,
}

impl<'a> SourceKeys<'a> {
    async fn open(coordinator: &Client, keys: &KeyColumns<'a>) -> anyhow::Result<SourceKeys<'a>> {
        Self::open_filtered(coordinator, keys, None).await
    }

    /// The keys of the rows matching `condition` (`None`: all).
    async fn open_filtered(
        coordinator: &Client,
        keys: &KeyColumns<'a>,
        condition: Option<&str>,
    ) -> anyhow::Result<SourceKeys<'a>> {
        let plan = keys.plan;
        let statement = source_keys_statement(keys, condition);
        let stream = coordinator
            .copy_out(statement.as_str())
            .await
            .map_err(|error| crate::postgres::pg_error(&error))
            .with_context(|| format!("reading the keys of {}", plan.source_name))?;
        let converter = RowConverter::new(
            keys.indexes
                .iter()
                .map(|&index| plan.columns[index].converter.clone())
                .collect(),
        )
        .masking(
            keys.indexes
                .iter()
                .map(|&index| plan.columns[index].mask.clone())
                .collect(),
        );
        Ok(SourceKeys {
            stream: Box::pin(stream),
            splitter: RowSplitter::default(),
            converter,
            binary: keys
                .indexes
                .iter()
                .map(|&index| plan.columns[index].converter.is_binary())
                .collect(),
            ready: std::collections::VecDeque::new(),
            plan,
            done: false,
        })
    }

    /// The next key, without taking it.
    async fn peek(&mut self) -> anyhow::Result<Option<&Key>> {
        while self.ready.is_empty() && !self.done {
            match self.stream.next().await {
                None => self.done = true,
                Some(data) => {
                    let data = data
                        .map_err(|error| crate::postgres::pg_error(&error))
                        .with_context(|| {
                            format!("reading the keys of {}", self.plan.source_name)
                        })?;
                    let mut text = Vec::new();
                    let converter = &self.converter;
                    self.splitter
                        .push(&data, |line| {
                            converter.convert_row(line, &mut text).map_err(|_| ())
                        })
                        .map_err(|()| {
                            anyhow::anyhow!("a key of {} does not convert", self.plan.source_name)
                        })?;
                    for row in decode_load_data(&text) {
                        self.ready.push_back(decode_row(row, &self.binary)?);
                    }
                }
            }
        }
        Ok(self.ready.front())
    }

    fn take(&mut self) -> Option<Key> {
        self.ready.pop_front()
    }
}

/// A decoded LOAD DATA row as a key (binary columns arrive as hex).
fn decode_row(row: Vec<Option<Vec<u8>>>, binary: &[bool]) -> anyhow::Result<Key> {
    row.into_iter()
        .zip(binary)
        .map(|(value, &binary)| {
            let value = value.context("a primary key value is NULL")?;
            if binary {
                crate::digest::unhex(&value).context("a binary key that is not hex")
            } else {
                Ok(value)
            }
        })
        .collect()
}

/// `COPY (SELECT key columns FROM table [WHERE condition] ORDER BY them)
/// TO STDOUT`.
fn source_keys_statement(keys: &KeyColumns<'_>, condition: Option<&str>) -> String {
    keys.plan.copy_in_key_order(Some(&keys.indexes), condition)
}

/// Target keys not in the source, the source's keys held in a set; and
/// the keys read (both sides).
async fn gone_keys_by_set(
    conn: &mut Conn,
    coordinator: &Client,
    keys: &KeyColumns<'_>,
) -> anyhow::Result<(Vec<Vec<String>>, u64)> {
    let kinds = keys.target_kinds();
    let canonical = |key: &Key| -> Key {
        key.iter()
            .zip(&kinds)
            .map(|(value, kind)| crate::nightly::compare::canonical(kind, value))
            .collect()
    };
    let mut source = SourceKeys::open(coordinator, keys).await?;
    let mut present: HashSet<Key> = HashSet::new();
    let mut read = 0_u64;
    while source.peek().await?.is_some() {
        if let Some(key) = source.take() {
            present.insert(canonical(&key));
            read += 1;
        }
    }
    let mut result = keys.read_target(conn, "").await?;
    let mut gone = Vec::new();
    while let Some(row) = result.next().await? {
        read += 1;
        let key = target_key(row)?;
        if !present.contains(&canonical(&key)) {
            gone.push(key.iter().map(|value| literal(value)).collect());
        }
    }
    Ok((gone, read))
}

/// A target row's key values as the text protocol sends them.
fn target_key(row: mysql_async::Row) -> anyhow::Result<Key> {
    row.unwrap()
        .into_iter()
        .map(|value| match value {
            mysql_async::Value::Bytes(bytes) => Ok(bytes),
            mysql_async::Value::Int(number) => Ok(number.to_string().into_bytes()),
            mysql_async::Value::UInt(number) => Ok(number.to_string().into_bytes()),
            other => bail!("an unexpected key value {other:?}"),
        })
        .collect()
}

/// `DELETE … WHERE (key) IN (…)`, in batches; `gone` holds each key's
/// values as SQL literals.
async fn delete_keys(
    conn: &mut Conn,
    keys: &KeyColumns<'_>,
    gone: &[Vec<String>],
) -> anyhow::Result<()> {
    let table = quote_identifier(&keys.plan.target.name);
    let list = keys.target_list();
    for batch in gone.chunks(DELETE_BATCH) {
        let tuples: Vec<String> = batch
            .iter()
            .map(|key| format!("({})", key.join(", ")))
            .collect();
        // language=MySQL
        let statement = format!(
            "DELETE FROM {table} WHERE ({list}) IN ({})",
            tuples.join(", ")
        );
        conn.query_drop(statement)
            .await
            .with_context(|| format!("deleting rows of {}", keys.plan.target.name))?;
    }
    Ok(())
}

/// A converted key value as SQL: a number as it is on integer keys, else
/// [`literal`].
fn literal_for(value: &[u8], numeric: bool) -> String {
    match std::str::from_utf8(value) {
        Ok(text) if numeric && text.parse::<i64>().is_ok() => text.to_string(),
        _ => literal(value),
    }
}

/// A key value as the target returned it, as SQL: text quoted, other
/// bytes as hex (the comparison converts a quoted number where the column
/// is a number).
fn literal(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(text) => quote_literal(text),
        Err(_) => format!("X'{}'", crate::digest::hex(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_literals_quote_text_and_hex_other_bytes() {
        assert_eq!(literal(b"it's"), "'it\\'s'");
        assert_eq!(literal(&[0xff, 0x00]), "X'ff00'");
        assert_eq!(literal_for(b"42", true), "42");
        assert_eq!(literal_for(b"42", false), "'42'");
    }
}
