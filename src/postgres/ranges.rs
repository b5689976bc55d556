//! Splits large tables into row ranges, so one big table keeps every
//! worker busy and each load commits a bounded amount of work (Dolt keeps
//! uncommitted work in memory).
//!
//! A table with a single integer primary key is split into key ranges
//! (`low <= key < high`, the first and last open-ended); any other plain
//! table into ctid page ranges, which Postgres 14 and later scan directly
//! (TID range scans). Every row falls in exactly one range.

use anyhow::Context as _;
use tokio_postgres::Client;

use super::sql::quote_identifier;
use crate::column_types::PgKind;

/// Most ranges one table is split into.
const MAX_PARTS: u64 = 256;

/// Postgres scans ctid ranges directly from version 14 (TID range scans);
/// before that each range would read the whole table.
const TID_RANGE_SCAN_VERSION: i32 = 140_000;

/// A part of a table's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowRange {
    /// `low <= column < high` on an integer key (`None`: open-ended)
    Key {
        /// the key column
        column: String,
        /// first key of the range
        low: Option<i128>,
        /// first key after the range
        high: Option<i128>,
    },
    /// rows on pages `first <= page < end` (`None`: open-ended)
    Pages {
        /// first page
        first: Option<u64>,
        /// first page after the range
        end: Option<u64>,
    },
}

impl RowRange {
    /// The SQL condition selecting the range's rows.
    #[must_use]
    pub fn condition(&self) -> String {
        let mut parts = Vec::new();
        match self {
            RowRange::Key { column, low, high } => {
                let column = quote_identifier(column);
                if let Some(low) = low {
                    parts.push(format!("{column} >= {low}"));
                }
                if let Some(high) = high {
                    parts.push(format!("{column} < {high}"));
                }
            }
            RowRange::Pages { first, end } => {
                if let Some(first) = first {
                    parts.push(format!("ctid >= '({first},0)'::tid"));
                }
                if let Some(end) = end {
                    parts.push(format!("ctid < '({end},0)'::tid"));
                }
            }
        }
        if parts.is_empty() {
            "true".to_string()
        } else {
            parts.join(" AND ")
        }
    }
}

/// How many parts a table of `rows` (estimated) should be copied in.
#[must_use]
pub fn parts_for(rows: u64, chunk_rows: u64) -> u64 {
    rows.div_ceil(chunk_rows.max(1)).clamp(1, MAX_PARTS)
}

/// Splits the keys `min..=max` into `parts` ranges of equal width; the
/// first is open below, the last open above, so keys outside the bounds
/// seen (none, in one snapshot) would still be copied once.
#[must_use]
pub fn split_keys(column: &str, min: i128, max: i128, parts: u64) -> Vec<RowRange> {
    let span = max - min + 1;
    let parts = i128::from(parts).min(span).max(1);
    let width = span / parts + i128::from(span % parts != 0);
    let bounds: Vec<i128> = (1..parts)
        .map(|part| min + part * width)
        .filter(|bound| *bound <= max)
        .collect();
    ranges(&bounds, |low, high| RowRange::Key {
        column: column.to_string(),
        low,
        high,
    })
}

/// Splits `pages` pages into `parts` ranges; the last is open above (pages
/// added after the size was read hold no rows of the snapshot, but cost
/// nothing to include).
#[must_use]
pub fn split_pages(pages: u64, parts: u64) -> Vec<RowRange> {
    let parts = parts.min(pages).max(1);
    let width = pages.div_ceil(parts);
    let bounds: Vec<u64> = (1..parts)
        .map(|part| part * width)
        .filter(|b| *b < pages)
        .collect();
    ranges(&bounds, |first, end| RowRange::Pages { first, end })
}

/// Ranges between consecutive bounds, open at both ends.
fn ranges<T: Copy>(bounds: &[T], make: impl Fn(Option<T>, Option<T>) -> RowRange) -> Vec<RowRange> {
    let mut ranges = Vec::with_capacity(bounds.len() + 1);
    let mut low = None;
    for bound in bounds {
        ranges.push(make(low, Some(*bound)));
        low = Some(*bound);
    }
    ranges.push(make(low, None));
    ranges
}

/// What the splitter needs to know of a table.
pub struct SplitTable<'a> {
    /// `schema.table`, quoted, as the COPY reads it (with ONLY or not)
    pub reference: &'a str,
    /// `schema.table` for messages
    pub name: &'a str,
    /// the single primary key column and its kind, when there is one
    pub key: Option<(&'a str, &'a PgKind)>,
    /// a partitioned parent (no ctid ranges: each partition has its own)
    pub partitioned: bool,
    /// estimated rows (the planner's count; 0 when never analyzed)
    pub estimated_rows: u64,
    /// the table's size in bytes
    pub estimated_bytes: u64,
}

/// The ranges a table is copied in: one (`None`) for a small table or one
/// that cannot be split.
pub async fn split_table(
    client: &Client,
    table: &SplitTable<'_>,
    chunk_rows: u64,
    server_version: i32,
) -> anyhow::Result<Vec<Option<RowRange>>> {
    // A table never analyzed has no row estimate: count 200 bytes a row.
    let rows = table.estimated_rows.max(table.estimated_bytes / 200);
    let parts = parts_for(rows, chunk_rows);
    if parts < 2 {
        return Ok(vec![None]);
    }
    if let Some((column, PgKind::SmallInt | PgKind::Integer | PgKind::BigInt)) = table.key {
        let column_sql = quote_identifier(column);
        // language=PostgreSQL
        let statement = format!(
            "SELECT min({column_sql})::text, max({column_sql})::text FROM {}",
            table.reference
        );
        let row = client
            .query_one(&statement, &[])
            .await
            .map_err(|error| super::pg_error(&error))
            .with_context(|| format!("reading the key range of {}", table.name))?;
        let bound = |index: usize| {
            row.get::<_, Option<String>>(index)
                .and_then(|text| text.parse::<i128>().ok())
        };
        return Ok(match (bound(0), bound(1)) {
            (Some(min), Some(max)) => split_keys(column, min, max, parts)
                .into_iter()
                .map(Some)
                .collect(),
            _ => vec![None],
        });
    }
    if table.partitioned || server_version < TID_RANGE_SCAN_VERSION {
        return Ok(vec![None]);
    }
    // language=PostgreSQL
    let statement = format!(
        "SELECT (pg_relation_size('{}'::regclass) / current_setting('block_size')::int)::int8",
        table
            .reference
            .trim_start_matches("ONLY ")
            .replace('\'', "''")
    );
    let pages: i64 = client
        .query_one(&statement, &[])
        .await
        .map_err(|error| super::pg_error(&error))
        .with_context(|| format!("reading the size of {}", table.name))?
        .get(0);
    let pages = u64::try_from(pages).unwrap_or(0);
    Ok(split_pages(pages, parts).into_iter().map(Some).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_bounds(ranges: &[RowRange]) -> Vec<(Option<i128>, Option<i128>)> {
        ranges
            .iter()
            .map(|range| match range {
                RowRange::Key { low, high, .. } => (*low, *high),
                RowRange::Pages { .. } => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn key_ranges_cover_every_key_once() {
        let ranges = split_keys("id", 1, 10, 3);
        assert_eq!(
            key_bounds(&ranges),
            [(None, Some(5)), (Some(5), Some(9)), (Some(9), None)]
        );
        assert_eq!(ranges[1].condition(), "\"id\" >= 5 AND \"id\" < 9");
        assert_eq!(key_bounds(&split_keys("id", 7, 7, 4)), [(None, None)]);
        assert_eq!(
            key_bounds(&split_keys("id", -5, 4, 2)),
            [(None, Some(0)), (Some(0), None)]
        );
        let huge = split_keys("id", i128::from(i64::MIN), i128::from(i64::MAX), 256);
        assert_eq!(huge.len(), 256);
    }

    #[test]
    fn page_ranges_cover_every_page_once() {
        let ranges = split_pages(10, 4);
        assert_eq!(ranges.len(), 4);
        assert_eq!(ranges[0].condition(), "ctid < '(3,0)'::tid");
        assert_eq!(
            ranges[1].condition(),
            "ctid >= '(3,0)'::tid AND ctid < '(6,0)'::tid"
        );
        assert_eq!(ranges[3].condition(), "ctid >= '(9,0)'::tid");
        assert_eq!(
            split_pages(0, 4),
            [RowRange::Pages {
                first: None,
                end: None
            }]
        );
        assert_eq!(split_pages(0, 4)[0].condition(), "true");
    }

    #[test]
    fn parts_follow_the_chunk_size() {
        assert_eq!(parts_for(0, 1000), 1);
        assert_eq!(parts_for(1000, 1000), 1);
        assert_eq!(parts_for(1001, 1000), 2);
        assert_eq!(parts_for(10_000_000, 1), MAX_PARTS);
    }
}
