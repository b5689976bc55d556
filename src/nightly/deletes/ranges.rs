//! Per-key-range row counts, so a night finds its deleted rows by reading
//! the keys of a few ranges, not of the whole table.
//!
//! A published night records, for each table whose key starts with an
//! integer column, how many rows each range of that column holds (a range
//! is `key >> shift`, about [`ROWS_PER_RANGE`] rows). Before the next
//! night's upserts the work branch holds exactly those rows (its table
//! hash is the recorded one). After them it holds them plus the keys the
//! upserts added, which Dolt's diff of the work branch against the
//! published commit lists at a cost that grows with the change (`dolt_diff`
//! table function, docs.dolthub.com "dolt_diff()"; diffs walk only the
//! chunks that differ, dolt `go/store/prolly/tree/diff.go`). So, per range:
//! rows deleted = recorded + added − the source's count now (one `GROUP
//! BY` in the snapshot). Only the ranges where that is above zero have
//! their keys compared, and the counts must add up to the night's deleted
//! rows (target count minus source count, both exact), else the whole
//! key set is compared as before.

use std::collections::BTreeMap;
use std::io::Read as _;

use anyhow::Context as _;
use base64::Engine as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use crate::mysql::sql::{quote_identifier, quote_literal};
use crate::plan::TablePlan;

/// Rows a range holds, about (a night with one deleted row reads twice
/// this many keys).
pub const ROWS_PER_RANGE: u64 = 512;

/// Ranges recorded per table at most (the counts travel in the tag
/// message, compressed: a few bytes a range at worst).
pub const MAX_RANGES: usize = 32_768;

/// A key interval `[from, to)`; `to` `None`: up to the largest key.
pub type Interval = (i64, Option<i64>);

/// Rows per range of a table's first key column.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "Encoded", into = "Encoded")]
pub struct KeyRanges {
    /// a key's range is `key >> shift`
    pub shift: u32,
    /// rows per range; empty ranges are left out
    pub counts: BTreeMap<i64, u64>,
}

impl KeyRanges {
    /// No rows, ranges cut at `shift`.
    #[must_use]
    pub fn empty(shift: u32) -> KeyRanges {
        KeyRanges {
            shift,
            counts: BTreeMap::new(),
        }
    }

    /// Rows in all ranges.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// One more row with this key.
    pub fn add(&mut self, key: i64) {
        *self.counts.entry(key >> self.shift).or_default() += 1;
    }

    /// The same rows in wider ranges (`shift` at least this one's).
    #[must_use]
    pub fn coarsen(&self, shift: u32) -> KeyRanges {
        let shift = shift.max(self.shift);
        let mut wider = KeyRanges::empty(shift);
        for (&range, &count) in &self.counts {
            *wider
                .counts
                .entry(range >> (shift - self.shift))
                .or_default() += count;
        }
        wider
    }

    /// These counts, in ranges wide enough that there are at most
    /// [`MAX_RANGES`].
    #[must_use]
    pub fn fit(self) -> KeyRanges {
        let mut ranges = self;
        while ranges.counts.len() > MAX_RANGES && ranges.shift < 63 {
            ranges = ranges.coarsen(ranges.shift + 1);
        }
        ranges
    }

    /// The shift a night cuts these rows at, `rows` of them now: ranges
    /// of about [`ROWS_PER_RANGE`] rows over the same keys.
    #[must_use]
    pub fn shift_for(&self, rows: u64) -> u32 {
        match (self.counts.keys().next(), self.counts.keys().next_back()) {
            (Some(&low), Some(&high)) => {
                let low = low << self.shift;
                let high = ((i128::from(high) + 1) << self.shift) - 1;
                shift_for(low, i64::try_from(high).unwrap_or(i64::MAX), rows)
            }
            _ => self.shift,
        }
    }

    /// The ranges that lost rows since these counts were recorded, with
    /// how many each lost: these counts plus `added` (the keys upserted
    /// that were new) minus `now` (the source's), all cut at this shift.
    /// `None` when that does not add up to `deleted` rows in all, or a
    /// range would have gained rows from nowhere.
    #[must_use]
    pub fn lost(&self, added: &KeyRanges, now: &KeyRanges, deleted: u64) -> Option<Vec<i64>> {
        let (added, now) = (added.coarsen(self.shift), now.coarsen(self.shift));
        if added.shift != self.shift || now.shift != self.shift {
            return None;
        }
        let mut ranges: Vec<i64> = self
            .counts
            .keys()
            .chain(added.counts.keys())
            .chain(now.counts.keys())
            .copied()
            .collect();
        ranges.sort_unstable();
        ranges.dedup();
        let count = |ranges: &KeyRanges, range: i64| {
            i128::from(ranges.counts.get(&range).copied().unwrap_or(0))
        };
        let mut lost = Vec::new();
        let mut sum = 0_i128;
        for range in ranges {
            let gone = count(self, range) + count(&added, range) - count(&now, range);
            if gone < 0 {
                return None;
            }
            if gone > 0 {
                lost.push(range);
                sum += gone;
            }
        }
        (sum == i128::from(deleted)).then_some(lost)
    }

    /// The key intervals `ranges` (sorted) cover, adjacent ones joined.
    #[must_use]
    pub fn intervals(&self, ranges: &[i64]) -> Vec<Interval> {
        let mut intervals: Vec<(i128, i128)> = Vec::new();
        for &range in ranges {
            let from = i128::from(range) << self.shift;
            let to = (i128::from(range) + 1) << self.shift;
            match intervals.last_mut() {
                Some(last) if last.1 == from => last.1 = to,
                _ => intervals.push((from, to)),
            }
        }
        intervals
            .into_iter()
            .map(|(from, to)| {
                (
                    i64::try_from(from).unwrap_or(i64::MIN),
                    i64::try_from(to).ok(),
                )
            })
            .collect()
    }

    /// Rows in `interval`, by these counts (an interval of whole ranges).
    #[must_use]
    pub fn rows_in(&self, interval: Interval) -> u64 {
        let from = interval.0 >> self.shift;
        let to = interval.1.map_or(i64::MAX, |to| (to - 1) >> self.shift);
        self.counts.range(from..=to).map(|(_, count)| count).sum()
    }
}

/// The shift cutting keys `low..=high` of `rows` rows into ranges of
/// about [`ROWS_PER_RANGE`] rows each (uniformly spread; [`KeyRanges::fit`]
/// caps how many).
#[must_use]
pub fn shift_for(low: i64, high: i64, rows: u64) -> u32 {
    let span = (i128::from(high) - i128::from(low) + 1).max(1);
    let ranges = i128::from((rows / ROWS_PER_RANGE).max(1));
    let width = (span + ranges - 1) / ranges;
    // the largest power of two at most `width`: ranges hold at most
    // ROWS_PER_RANGE rows on average, at least half that
    let mut shift = 0;
    while shift < 63 && (1_i128 << (shift + 1)) <= width {
        shift += 1;
    }
    shift
}

/// How the counts travel in a tag message: the ranges and counts as
/// varints (each range after the first as its distance from the last),
/// zstd-compressed, in base64.
#[derive(Serialize, Deserialize)]
struct Encoded {
    shift: u32,
    counts: String,
}

impl From<KeyRanges> for Encoded {
    fn from(ranges: KeyRanges) -> Encoded {
        let mut bytes = Vec::with_capacity(ranges.counts.len() * 3);
        let mut last: Option<i64> = None;
        for (&range, &count) in &ranges.counts {
            let step = match last {
                // ranges ascend: the distance is at least 1
                Some(last) => unsigned(range.wrapping_sub(last)).wrapping_sub(1),
                None => zigzag(range),
            };
            put_varint(&mut bytes, step);
            put_varint(&mut bytes, count);
            last = Some(range);
        }
        let compressed = zstd::encode_all(bytes.as_slice(), 3).unwrap_or_default();
        Encoded {
            shift: ranges.shift,
            counts: base64::engine::general_purpose::STANDARD_NO_PAD.encode(compressed),
        }
    }
}

impl TryFrom<Encoded> for KeyRanges {
    type Error = String;

    fn try_from(encoded: Encoded) -> Result<KeyRanges, String> {
        let bad = |what: &str| format!("key range counts: {what}");
        let compressed = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(encoded.counts.as_bytes())
            .map_err(|_| bad("not base64"))?;
        let mut bytes = Vec::new();
        zstd::Decoder::new(compressed.as_slice())
            .and_then(|decoder| decoder.take(64 << 20).read_to_end(&mut bytes))
            .map_err(|_| bad("not zstd"))?;
        let mut ranges = KeyRanges::empty(encoded.shift.min(63));
        let mut at = 0;
        let mut last: Option<i64> = None;
        while at < bytes.len() {
            let step = take_varint(&bytes, &mut at).ok_or_else(|| bad("cut short"))?;
            let count = take_varint(&bytes, &mut at).ok_or_else(|| bad("cut short"))?;
            let range = match last {
                Some(last) => last.wrapping_add(signed(step.wrapping_add(1))),
                None => unzigzag(step),
            };
            if last.is_some_and(|last| range <= last) {
                return Err(bad("ranges out of order"));
            }
            ranges.counts.insert(range, count);
            last = Some(range);
        }
        Ok(ranges)
    }
}

fn zigzag(value: i64) -> u64 {
    unsigned((value << 1) ^ (value >> 63))
}

fn unzigzag(value: u64) -> i64 {
    signed(value >> 1) ^ -signed(value & 1)
}

/// The same 64 bits, unsigned.
fn unsigned(value: i64) -> u64 {
    u64::from_ne_bytes(value.to_ne_bytes())
}

/// The same 64 bits, signed.
fn signed(value: u64) -> i64 {
    i64::from_ne_bytes(value.to_ne_bytes())
}

fn put_varint(bytes: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        bytes.push(value.to_le_bytes()[0] | 0x80);
        value >>= 7;
    }
    bytes.push(value.to_le_bytes()[0]);
}

fn take_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0_u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The source's first key column, as `bigint`, in SQL.
fn source_first_key(plan: &TablePlan) -> String {
    let (index, _) = plan.key_columns()[0];
    format!(
        "{}::int8",
        crate::postgres::sql::quote_identifier(&plan.columns[index].source)
    )
}

fn source_reference(plan: &TablePlan) -> String {
    crate::postgres::sql::table_reference(
        &plan.source.schema,
        &plan.source.name,
        plan.source.partitioned,
    )
}

/// The source table's rows per range at `shift`, in the snapshot
/// (`client` inside it): one `GROUP BY` scan.
pub async fn count_source_ranges(
    client: &Client,
    plan: &TablePlan,
    shift: u32,
) -> anyhow::Result<KeyRanges> {
    // language=PostgreSQL
    let statement = format!(
        "SELECT {} >> {shift}, count(*) FROM {} GROUP BY 1",
        source_first_key(plan),
        source_reference(plan)
    );
    let rows = crate::nightly::source::scanning(client, &statement)
        .await
        .with_context(|| format!("counting the rows of {} per key range", plan.source_name))?;
    let mut ranges = KeyRanges::empty(shift);
    for row in rows {
        let (range, count): (i64, i64) = (row.get(0), row.get(1));
        ranges
            .counts
            .insert(range, u64::try_from(count).unwrap_or(0));
    }
    Ok(ranges)
}

/// The source table's rows per range, ranges cut for its size: the key's
/// bounds (index endpoints) and the planner's row estimate choose the
/// shift, then one `GROUP BY`.
pub async fn source_ranges(client: &Client, plan: &TablePlan) -> anyhow::Result<KeyRanges> {
    let key = source_first_key(plan);
    let reference = source_reference(plan);
    let qualified = format!(
        "{}.{}",
        crate::postgres::sql::quote_identifier(&plan.source.schema),
        crate::postgres::sql::quote_identifier(&plan.source.name)
    );
    // language=PostgreSQL
    let statement = format!(
        "SELECT min({key}), max({key}), (SELECT reltuples::int8 FROM pg_class WHERE oid = $1::text::regclass) FROM {reference}"
    );
    let row = client
        .query_one(&statement, &[&qualified])
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .with_context(|| format!("reading the key bounds of {}", plan.source_name))?;
    let (low, high, estimate): (Option<i64>, Option<i64>, Option<i64>) =
        (row.get(0), row.get(1), row.get(2));
    let (Some(low), Some(high)) = (low, high) else {
        return Ok(KeyRanges::empty(0));
    };
    let rows = match estimate.and_then(|rows| u64::try_from(rows).ok()) {
        Some(rows) if rows > 0 => rows,
        _ => {
            crate::nightly::source::count_rows(
                client,
                &plan.source.schema,
                &plan.source.name,
                plan.source.partitioned,
            )
            .await?
        }
    };
    Ok(
        count_source_ranges(client, plan, shift_for(low, high, rows))
            .await?
            .fit(),
    )
}

/// What the upserts did to a table on the work branch (`conn`), by Dolt's
/// diff of the table from the published commit `base` to the working set:
/// the keys they added, per range at `shift`, and the rows they modified.
/// `None` when the diff shows rows removed (the work branch did not hold
/// the published rows before the upserts).
pub async fn upserted(
    conn: &mut Conn,
    plan: &TablePlan,
    base: &str,
    shift: u32,
) -> anyhow::Result<Option<(KeyRanges, u64)>> {
    let (index, _) = plan.key_columns()[0];
    let column = quote_identifier(&format!("to_{}", plan.columns[index].target));
    // language=MySQL
    let statement = format!(
        "SELECT diff_type, {column} FROM dolt_diff({}, 'WORKING', {})",
        quote_literal(base),
        quote_literal(&plan.target.name)
    );
    let rows: Vec<(String, Option<i64>)> = conn
        .query(statement)
        .await
        .with_context(|| format!("reading what the upserts did to {}", plan.target.name))?;
    let (mut added, mut modified) = (KeyRanges::empty(shift), 0);
    for (kind, key) in rows {
        match (kind.as_str(), key) {
            ("added", Some(key)) => added.add(key),
            ("modified", _) => modified += 1,
            _ => return Ok(None),
        }
    }
    Ok(Some((added, modified)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(shift: u32, counts: &[(i64, u64)]) -> KeyRanges {
        KeyRanges {
            shift,
            counts: counts.iter().copied().collect(),
        }
    }

    #[test]
    fn counts_survive_their_encoding() {
        for original in [
            ranges(9, &[(0, 511), (1, 512), (7, 3), (1 << 40, 1)]),
            ranges(0, &[(i64::MIN, 1), (-1, 2), (0, 3), (i64::MAX, 4)]),
            ranges(63, &[]),
        ] {
            let json = serde_json::to_string(&original).unwrap();
            let back: KeyRanges = serde_json::from_str(&json).unwrap();
            assert_eq!(back, original, "{json}");
        }
        assert!(serde_json::from_str::<KeyRanges>(r#"{"shift":1,"counts":"!!"}"#).is_err());
    }

    #[test]
    fn a_dense_table_records_little() {
        // 10,000,000 rows with keys 1..=10,000,000: ranges of 512 keys
        let shift = shift_for(1, 10_000_000, 10_000_000);
        assert_eq!(shift, 9);
        let mut dense = KeyRanges::empty(shift);
        for key in 1..=10_000_000 {
            dense.add(key);
        }
        assert_eq!(dense.total(), 10_000_000);
        let json = serde_json::to_string(&dense).unwrap();
        assert!(json.len() < 2_000, "{} bytes", json.len());
    }

    #[test]
    fn ranges_are_cut_for_the_rows_not_the_key_span() {
        // sparse keys: 1,000,000 rows over the whole bigint span
        let shift = shift_for(i64::MIN, i64::MAX, 1_000_000);
        assert!(((1_u128 << 64) >> shift) <= 2 * 1_954, "{shift}");
        assert_eq!(shift_for(5, 5, 1), 0);
        assert_eq!(shift_for(0, 1023, 1024), 9);
        let mut wide = KeyRanges::empty(0);
        for key in 0..i64::try_from(MAX_RANGES * 3).unwrap() {
            wide.add(key * 1000);
        }
        let fitted = wide.fit();
        assert!(fitted.counts.len() <= MAX_RANGES);
        assert_eq!(fitted.total(), MAX_RANGES as u64 * 3);
    }

    #[test]
    fn the_ranges_that_lost_rows_are_found_by_count() {
        let recorded = ranges(4, &[(0, 16), (1, 16), (2, 16), (3, 10)]);
        // range 1: one row deleted, one added (equal count, still a loss);
        // range 2: an update only; range 3: two deleted; range 4: new rows
        let added = ranges(4, &[(1, 1), (4, 2)]);
        let now = ranges(4, &[(0, 16), (1, 16), (2, 16), (3, 8), (4, 2)]);
        assert_eq!(recorded.lost(&added, &now, 3), Some(vec![1, 3]));
        // the counts must add up to the night's deleted rows
        assert_eq!(recorded.lost(&added, &now, 4), None);
        // a range cannot gain rows the diff did not add
        let more = ranges(4, &[(0, 17), (1, 16), (2, 16), (3, 8), (4, 2)]);
        assert_eq!(recorded.lost(&added, &more, 2), None);
        // finer counts now are compared at the recorded shift
        let finer = ranges(3, &[(0, 8), (1, 8), (2, 8), (3, 8), (4, 8), (5, 8), (6, 8)]);
        assert_eq!(
            recorded.lost(&KeyRanges::empty(4), &finer, 2),
            Some(vec![3])
        );
    }

    #[test]
    fn intervals_join_adjacent_ranges() {
        let recorded = ranges(4, &[(0, 16), (1, 16), (3, 16)]);
        assert_eq!(
            recorded.intervals(&[0, 1, 3]),
            [(0, Some(32)), (48, Some(64))]
        );
        assert_eq!(recorded.rows_in((0, Some(32))), 32);
        assert_eq!(recorded.intervals(&[-1]), [(-16, Some(0))]);
        let top = ranges(62, &[(1, 1)]);
        assert_eq!(top.intervals(&[1]), [(1 << 62, None)]);
    }
}
