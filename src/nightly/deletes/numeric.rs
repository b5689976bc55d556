//! Deleted rows found by merging both sides' integer keys in key order,
//! in `--jobs` ranges of the first key column side by side, the source's
//! keys parsed straight from COPY text (unmasked integers convert
//! verbatim).

use anyhow::Context as _;
use futures_util::StreamExt as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use super::ranges::Interval;
use super::{KeyColumns, Sides, source_keys_statement};
use crate::convert::frame::RowSplitter;
use crate::mysql::sql::quote_identifier;

/// Integer key columns the fast path takes at most.
pub(super) const NUMERIC_KEY_COLUMNS: usize = 4;

/// An integer key, its unused columns 0 (both sides have as many columns).
type NumericKey = [i64; NUMERIC_KEY_COLUMNS];

/// Source keys sent at a time from the reading half to the merging half.
const KEY_BATCH: usize = 8192;

/// Key intervals one query reads (`WHERE (k >= a AND k < b) OR …`).
const INTERVALS_PER_QUERY: usize = 64;

/// [`gone_numeric_keys`] over `sides.jobs` ranges of the first key
/// column, each on sessions of its own, side by side (both servers scan
/// on several cores). Returns the keys gone and the keys read.
pub(super) async fn gone_numeric_keys_in_ranges(
    conn: &mut Conn,
    sides: &Sides<'_>,
    keys: &KeyColumns<'_>,
    tolerate_new: bool,
) -> anyhow::Result<(Vec<Vec<String>>, u64)> {
    let first = quote_identifier(&keys.plan.columns[keys.indexes[0]].target);
    let table = quote_identifier(&keys.plan.target.name);
    // language=MySQL
    let low: Option<i64> = conn
        .query_first(format!(
            "SELECT {first} FROM {table} ORDER BY {first} LIMIT 1"
        ))
        .await?;
    // language=MySQL
    let high: Option<i64> = conn
        .query_first(format!(
            "SELECT {first} FROM {table} ORDER BY {first} DESC LIMIT 1"
        ))
        .await?;
    let (Some(low), Some(high)) = (low, high) else {
        return Ok((Vec::new(), 0));
    };
    let groups = split_range(low, high, sides.jobs.max(1))
        .into_iter()
        .map(|range| vec![range])
        .collect();
    gone_in_groups(sides, keys, groups, tolerate_new).await
}

/// Target keys not in the source within `intervals` of the first key
/// column (sorted, apart), the work shared by up to `sides.jobs` readers
/// by `rows_in` (an estimate of an interval's rows). Returns the keys gone
/// and the keys read.
pub(super) async fn gone_numeric_keys_in(
    sides: &Sides<'_>,
    keys: &KeyColumns<'_>,
    intervals: &[Interval],
    rows_in: impl Fn(Interval) -> u64,
) -> anyhow::Result<(Vec<Vec<String>>, u64)> {
    let total: u64 = intervals.iter().map(|&interval| rows_in(interval)).sum();
    let share = total / sides.jobs.max(1) as u64 + 1;
    let mut groups: Vec<Vec<Interval>> = vec![Vec::new()];
    let mut in_group = 0;
    for &interval in intervals {
        if in_group >= share {
            groups.push(Vec::new());
            in_group = 0;
        }
        if let Some(group) = groups.last_mut() {
            group.push(interval);
        }
        in_group += rows_in(interval);
    }
    gone_in_groups(sides, keys, groups, false).await
}

/// Each group of intervals on sessions of its own (a reader inside the
/// snapshot, a session on the work branch), side by side; a group's
/// intervals compared [`INTERVALS_PER_QUERY`] at a time.
async fn gone_in_groups(
    sides: &Sides<'_>,
    keys: &KeyColumns<'_>,
    groups: Vec<Vec<Interval>>,
    tolerate_new: bool,
) -> anyhow::Result<(Vec<Vec<String>>, u64)> {
    let read = groups.iter().enumerate().map(|(index, group)| async move {
        let role = format!("key reader {}", index + 1);
        let reader =
            crate::postgres::snapshot::open_reader(sides.source, sides.snapshot_id, &role).await?;
        let mut target = crate::mysql::connect(sides.target, Some(sides.work)).await?;
        let mut found = (Vec::new(), 0);
        for batch in group.chunks(INTERVALS_PER_QUERY) {
            match gone_numeric_keys(&mut target, &reader, keys, (batch, tolerate_new)).await {
                Ok((gone, read)) => {
                    found.0.extend(gone);
                    found.1 += read;
                }
                Err(error) => {
                    let _ = target.disconnect().await;
                    return Err(error);
                }
            }
        }
        let _ = target.disconnect().await;
        anyhow::Ok(found)
    });
    let parts = futures_util::future::try_join_all(read).await?;
    let read = parts.iter().map(|part| part.1).sum();
    Ok((parts.into_iter().flat_map(|part| part.0).collect(), read))
}

/// `low..=high` cut into `parts` ranges `[from, to)` (the last up to
/// `high`, inclusive).
fn split_range(low: i64, high: i64, parts: usize) -> Vec<(i64, Option<i64>)> {
    let span = i128::from(high) - i128::from(low) + 1;
    let parts = i128::try_from(parts).unwrap_or(1).clamp(1, span.max(1));
    (0..parts)
        .map(|part| {
            let from = i128::from(low) + span * part / parts;
            let to = (part + 1 < parts).then(|| i128::from(low) + span * (part + 1) / parts);
            (
                i64::try_from(from).unwrap_or(low),
                to.map(|to| i64::try_from(to).unwrap_or(high)),
            )
        })
        .collect()
}

/// Target keys not in the source within `intervals` of the first key
/// column: both sides in key order, merged. The source's keys stream in
/// batches through a channel while the target's are read, so both servers
/// scan at once; integers are parsed straight from the text (unmasked
/// integers convert verbatim). Returns the keys gone and the keys read
/// (both sides).
async fn gone_numeric_keys(
    conn: &mut Conn,
    reader: &crate::postgres::reader::Reader,
    keys: &KeyColumns<'_>,
    (intervals, tolerate_new): (&[Interval], bool),
) -> anyhow::Result<(Vec<Vec<String>>, u64)> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<NumericKey>>(4);
    let condition = |column: &str| {
        let terms: Vec<String> = intervals
            .iter()
            .map(|&(from, to)| match to {
                Some(to) => format!("({column} >= {from} AND {column} < {to})"),
                None => format!("({column} >= {from})"),
            })
            .collect();
        (!terms.is_empty()).then(|| terms.join(" OR "))
    };
    let source_first =
        crate::postgres::sql::quote_identifier(&keys.plan.columns[keys.indexes[0]].source);
    let target_first = quote_identifier(&keys.plan.columns[keys.indexes[0]].target);
    let source_filter = condition(&source_first);
    let target_filter = condition(&target_first)
        .map(|condition| format!(" WHERE {condition}"))
        .unwrap_or_default();
    let read_source = send_source_keys(reader, keys, source_filter.as_deref(), sender);
    let merge = async move {
        let tail = format!("{target_filter} ORDER BY {}", keys.target_list());
        let mut result = keys.read_target(conn, &tail).await?;
        let missing = || {
            anyhow::Error::new(super::DeltaInconsistent(
                "a source key was missing on the target after the upserts".to_string(),
            ))
        };
        let (mut pending, mut at): (Vec<NumericKey>, usize) = (Vec::new(), 0);
        let mut gone = Vec::new();
        let mut read = 0_u64;
        while let Some(row) = result.next().await? {
            read += 1;
            let target = numeric_key(row.unwrap().into_iter().map(value_bytes))?;
            let mut matched = false;
            loop {
                if at == pending.len() {
                    pending = receiver.recv().await.unwrap_or_default();
                    at = 0;
                    if pending.is_empty() {
                        break;
                    }
                }
                let source = pending[at];
                if source < target {
                    // A key only the source has: new since, when the
                    // target's rows are the last night's.
                    if tolerate_new {
                        at += 1;
                        continue;
                    }
                    return Err(missing());
                }
                if source == target {
                    at += 1;
                    matched = true;
                }
                break;
            }
            if !matched {
                gone.push(
                    target[..keys.indexes.len()]
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                );
            }
        }
        if !tolerate_new && (at < pending.len() || receiver.recv().await.is_some()) {
            return Err(missing());
        }
        // The receiver goes with this block: a reader still sending stops.
        drop(receiver);
        anyhow::Ok((gone, read))
    };
    let (sent, merged) = tokio::join!(read_source, merge);
    let (gone, read) = merged?;
    Ok((gone, read + sent?))
}

/// Streams the source's integer keys (those matching `condition`, when
/// given) in key order into `sender`, in batches; stops quietly when the
/// merge stopped listening.
async fn send_source_keys(
    reader: &crate::postgres::reader::Reader,
    keys: &KeyColumns<'_>,
    condition: Option<&str>,
    sender: tokio::sync::mpsc::Sender<Vec<NumericKey>>,
) -> anyhow::Result<u64> {
    let statement = source_keys_statement(keys, condition);
    let stream = crate::postgres::reader::copy_rows(reader, &statement)
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .with_context(|| format!("reading the keys of {}", keys.plan.source_name))?;
    futures_util::pin_mut!(stream);
    let mut splitter = RowSplitter::default();
    let mut batch = Vec::with_capacity(KEY_BATCH);
    let mut sent = 0_u64;
    while let Some(data) = stream.next().await {
        let data = data
            .map_err(|error| crate::postgres::pg_error(&error))
            .with_context(|| format!("reading the keys of {}", keys.plan.source_name))?;
        splitter.push(&data, |line| {
            batch.push(numeric_key(line.split(|byte| *byte == b'\t'))?);
            Ok::<_, anyhow::Error>(())
        })?;
        if batch.len() >= KEY_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(KEY_BATCH));
            sent += full.len() as u64;
            if sender.send(full).await.is_err() {
                return Ok(sent);
            }
        }
    }
    sent += batch.len() as u64;
    if !batch.is_empty() {
        let _ = sender.send(batch).await;
    }
    Ok(sent)
}

/// A target value's text (the text protocol sends every value as bytes).
fn value_bytes(value: mysql_async::Value) -> Vec<u8> {
    match value {
        mysql_async::Value::Bytes(bytes) => bytes,
        mysql_async::Value::Int(number) => number.to_string().into_bytes(),
        mysql_async::Value::UInt(number) => number.to_string().into_bytes(),
        _ => Vec::new(),
    }
}

/// Parses up to [`NUMERIC_KEY_COLUMNS`] integers.
fn numeric_key<T: AsRef<[u8]>>(values: impl Iterator<Item = T>) -> anyhow::Result<NumericKey> {
    let mut key = [0; NUMERIC_KEY_COLUMNS];
    for (slot, value) in key.iter_mut().zip(values) {
        *slot = std::str::from_utf8(value.as_ref())
            .ok()
            .and_then(|text| text.parse().ok())
            .context("an integer key that does not parse")?;
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ranges_cover_low_to_high_once() {
        assert_eq!(split_range(1, 100, 2), [(1, Some(51)), (51, None)]);
        assert_eq!(split_range(5, 5, 4), [(5, None)]);
        assert_eq!(
            split_range(-10, 9, 4),
            [(-10, Some(-5)), (-5, Some(0)), (0, Some(5)), (5, None)]
        );
        let wide = split_range(i64::MIN, i64::MAX, 3);
        assert_eq!(wide.first().map(|range| range.0), Some(i64::MIN));
        assert_eq!(wide.last().map(|range| range.1), Some(None));
    }

    #[test]
    fn integer_keys_parse_from_text() {
        assert_eq!(
            numeric_key([b"12".as_slice(), b"-3".as_slice()].into_iter()).unwrap(),
            [12, -3, 0, 0]
        );
        assert!(numeric_key([b"x".as_slice()].into_iter()).is_err());
    }
}
