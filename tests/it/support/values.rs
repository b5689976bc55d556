//! Comparing the two sides value by value: checksums, fingerprints of a
//! Dolt database, and every row of every table read through typed drivers
//! on both sides (`assert_tables_equal`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use mysql_async::prelude::Queryable as _;
use rust_decimal::Decimal;
use serde_json::Value as Json;
use tokio_postgres::types::{FromSql, Kind, Type};

use super::servers::{mysql_connect, pg_connect};

/// The checksum of a table on each side, to compare: (rows, MD5 of every
/// row as `row` renders it, in `order`), on the source.
pub async fn pg_checksum(
    client: &tokio_postgres::Client,
    table: &str,
    row: &str,
    order: &str,
) -> (i64, String) {
    let statement = format!(
        "SELECT count(*), md5(coalesce(string_agg({row}, ',' ORDER BY {order}), '')) FROM {table}"
    );
    let found = client.query_one(&statement, &[]).await.unwrap();
    (found.get(0), found.get(1))
}

/// The same on the target.
pub async fn mysql_checksum(
    conn: &mut mysql_async::Conn,
    table: &str,
    row: &str,
    order: &str,
) -> (i64, String) {
    conn.query_drop("SET SESSION group_concat_max_len = 1073741824")
        .await
        .unwrap();
    conn.query_first(format!(
        "SELECT COUNT(*), MD5(COALESCE(GROUP_CONCAT({row} ORDER BY {order} SEPARATOR ','), '')) FROM {table}"
    ))
    .await
    .unwrap()
    .unwrap()
}

/// (rows, SHA-256 of every row in a fixed order) of each table of a
/// database, every value as the driver decodes it, so any difference shows.
pub async fn fingerprint(mysql_url: &str, database: &str) -> Vec<(String, u64, String)> {
    let mut conn = mysql_connect(mysql_url).await;
    conn.query_drop("SET SESSION group_concat_max_len = 1073741824")
        .await
        .unwrap();
    // SHOW TABLES, not information_schema: Dolt answers that with "no root
    // value found in session" while another test drops a database.
    let tables: Vec<(String, String)> = conn
        .query(format!("SHOW FULL TABLES FROM `{database}`"))
        .await
        .unwrap();
    let mut tables: Vec<String> = tables
        .into_iter()
        .filter(|(_, kind)| kind == "BASE TABLE")
        .map(|(name, _)| name)
        .collect();
    tables.sort();
    let mut prints = Vec::new();
    for table in tables {
        // Every value as the driver decodes it, rows in a fixed order:
        // Dolt's HEX() takes no JSON or TIME, so nothing is computed by
        // the server.
        let rows: Vec<mysql_async::Row> = conn
            .exec(format!("SELECT * FROM `{database}`.`{table}`"), ())
            .await
            .unwrap();
        let mut printed: Vec<String> = rows
            .into_iter()
            .map(|row| format!("{:?}", row.unwrap()))
            .collect();
        printed.sort();
        let digest = ring::digest::digest(&ring::digest::SHA256, printed.join("\n").as_bytes());
        let mut hex = String::new();
        for byte in digest.as_ref() {
            let _ = write!(hex, "{byte:02x}");
        }
        prints.push((table, printed.len() as u64, hex));
    }
    prints
}

/// One value, decoded by a driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    /// a decimal's value: (negative, significant digits, exponent), so
    /// numbers of any size compare by value
    Decimal((bool, String, i64)),
    Float(f64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    Time(NaiveTime),
    Bytes(Vec<u8>),
    Json(Json),
}

/// How a column's value is read on both sides, so the two cells compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAs {
    Text,
    Int,
    /// microseconds: an integer from Postgres, a TIME value from MySQL
    /// (Dolt's TIME_TO_SEC wraps at 24 h and CAST(t AS CHAR) gives NULL)
    Micros,
    /// decimal text (or a NUMERIC) on both sides, compared by value
    Decimal,
    Float,
    Bool,
    Bytes,
    /// a DATE, or its text
    Date,
    /// a timestamp, or its text
    DateTime,
    Time,
    /// JSON (or a Postgres array) on one side, JSON text on the other
    Json,
}

/// How a Postgres column of `kind` is read.
pub fn read_as(kind: &Type) -> ReadAs {
    match *kind {
        Type::INT2 | Type::INT4 | Type::INT8 => ReadAs::Int,
        Type::NUMERIC => ReadAs::Decimal,
        Type::FLOAT4 | Type::FLOAT8 => ReadAs::Float,
        Type::BOOL => ReadAs::Bool,
        Type::DATE => ReadAs::Date,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => ReadAs::DateTime,
        Type::TIME => ReadAs::Time,
        Type::BYTEA => ReadAs::Bytes,
        Type::JSON | Type::JSONB | Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::INT4_ARRAY => {
            ReadAs::Json
        }
        _ if matches!(kind.kind(), Kind::Array(element) if matches!(element.kind(), Kind::Enum(_))) => {
            ReadAs::Json
        }
        _ => ReadAs::Text,
    }
}

/// Any Postgres value as its binary wire bytes (for uuid and enums, which
/// the driver has no Rust type for without extra features).
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// The one Postgres cell reader: column `index` of `row`, read `how`.
pub fn pg_cell(row: &tokio_postgres::Row, index: usize, how: ReadAs) -> Cell {
    let kind = row.columns()[index].type_().clone();
    macro_rules! get {
        ($t:ty, $wrap:expr) => {
            row.get::<_, Option<$t>>(index).map_or(Cell::Null, $wrap)
        };
    }
    match (how, kind) {
        (ReadAs::Int | ReadAs::Micros, Type::INT2) => get!(i16, |v| Cell::Int(i64::from(v))),
        (ReadAs::Int | ReadAs::Micros, Type::INT4) => get!(i32, |v| Cell::Int(i64::from(v))),
        (ReadAs::Int | ReadAs::Micros, _) => get!(i64, Cell::Int),
        (ReadAs::Decimal, Type::NUMERIC) => get!(Decimal, |v| Cell::Decimal(normalize_decimal(
            &v.to_string()
        ))),
        (ReadAs::Decimal, _) => get!(String, |v| Cell::Decimal(normalize_decimal(&v))),
        (ReadAs::Float, Type::FLOAT4) => get!(f32, |v| Cell::Float(f64::from(v))),
        (ReadAs::Float, _) => get!(f64, Cell::Float),
        (ReadAs::Bool, _) => get!(bool, Cell::Bool),
        (ReadAs::Bytes, _) => get!(Vec<u8>, Cell::Bytes),
        (ReadAs::Date, _) => get!(NaiveDate, Cell::Date),
        (ReadAs::DateTime, Type::TIMESTAMPTZ) => {
            get!(DateTime<Utc>, |v| Cell::DateTime(v.naive_utc()))
        }
        (ReadAs::DateTime, _) => get!(NaiveDateTime, Cell::DateTime),
        (ReadAs::Time, _) => get!(NaiveTime, Cell::Time),
        (ReadAs::Json, Type::TEXT_ARRAY | Type::VARCHAR_ARRAY) => {
            get!(Vec<Option<String>>, |v| Cell::Json(Json::Array(
                v.into_iter()
                    .map(|e| e.map_or(Json::Null, Json::String))
                    .collect()
            )))
        }
        (ReadAs::Json, Type::INT4_ARRAY) => get!(Vec<Option<i32>>, |v| Cell::Json(Json::Array(
            v.into_iter()
                .map(|e| e.map_or(Json::Null, Json::from))
                .collect()
        ))),
        (ReadAs::Json, other) if matches!(other.kind(), Kind::Array(element) if matches!(element.kind(), Kind::Enum(_))) =>
        {
            get!(Vec<Option<Raw>>, |v| Cell::Json(Json::Array(
                v.into_iter()
                    .map(|e| e.map_or(Json::Null, |label| Json::String(
                        String::from_utf8(label.0).unwrap()
                    )))
                    .collect()
            )))
        }
        (ReadAs::Json, _) => get!(Json, Cell::Json),
        (ReadAs::Text, Type::UUID) => get!(Raw, |v| Cell::Text(uuid_text(&v.0))),
        (ReadAs::Text, other) if matches!(other.kind(), Kind::Enum(_)) => {
            get!(Raw, |v| Cell::Text(String::from_utf8(v.0).unwrap()))
        }
        (ReadAs::Text, _) => get!(String, Cell::Text),
    }
}

fn uuid_text(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    });
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The one MySQL cell reader: `value`, read `how`.
pub fn mysql_cell(value: mysql_async::Value, how: ReadAs) -> Cell {
    use mysql_async::{Value, from_value};
    if value == Value::NULL {
        return Cell::Null;
    }
    let text = |value: &Value| match value {
        Value::Bytes(text) => Some(std::str::from_utf8(text).unwrap().to_string()),
        _ => None,
    };
    match how {
        ReadAs::Text => Cell::Text(from_value(value)),
        ReadAs::Int => Cell::Int(from_value(value)),
        ReadAs::Micros => match value {
            Value::Time(negative, days, hours, minutes, seconds, micros) => {
                let whole = ((i64::from(days) * 24 + i64::from(hours)) * 60 + i64::from(minutes))
                    * 60
                    + i64::from(seconds);
                let total = whole * 1_000_000 + i64::from(micros);
                Cell::Int(if negative { -total } else { total })
            }
            other => panic!("not a TIME: {other:?}"),
        },
        ReadAs::Decimal => Cell::Decimal(normalize_decimal(&from_value::<String>(value))),
        ReadAs::Float => Cell::Float(from_value(value)),
        ReadAs::Bool => Cell::Bool(from_value::<i64>(value) != 0),
        ReadAs::Bytes => Cell::Bytes(from_value(value)),
        // Text from DATE_FORMAT, or a typed value.
        ReadAs::Date => Cell::Date(match text(&value) {
            Some(text) => NaiveDate::parse_from_str(&text, "%Y-%m-%d").unwrap(),
            None => from_value(value),
        }),
        ReadAs::DateTime => Cell::DateTime(match text(&value) {
            Some(text) => NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f").unwrap(),
            None => from_value(value),
        }),
        ReadAs::Time => Cell::Time(from_value(value)),
        ReadAs::Json => Cell::Json(serde_json::from_str(&from_value::<String>(value)).unwrap()),
    }
}

/// A decimal's value: (negative, significant digits, exponent).
fn normalize_decimal(text: &str) -> (bool, String, i64) {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all = format!("{whole}{fraction}");
    let significant = all.trim_start_matches('0').trim_end_matches('0');
    if significant.is_empty() {
        return (false, String::new(), 0);
    }
    let trailing = all.trim_start_matches('0').len() - significant.len();
    (
        negative,
        significant.to_string(),
        i64::try_from(trailing).unwrap() - i64::try_from(fraction.len()).unwrap(),
    )
}

/// Compares every row of every table the report lists, column by column:
/// Postgres read with tokio-postgres, the target with mysql_async, both
/// typed. Rows are ordered by the first two columns. Returns rows compared.
pub async fn assert_tables_equal(source_url: &str, target_url: &str, report: &Json) -> u64 {
    let source = pg_connect(source_url).await;
    let mut target = mysql_connect(target_url).await;
    let mut compared = 0;
    for table in report["tables"].as_array().unwrap() {
        let columns = table["columns"].as_array().unwrap();
        let source_columns: Vec<String> = columns
            .iter()
            .map(|c| format!("\"{}\"", c["source"].as_str().unwrap()))
            .collect();
        let target_columns: Vec<String> = columns
            .iter()
            .map(|c| format!("`{}`", c["target"].as_str().unwrap()))
            .collect();
        let order = if columns.len() > 1 { "1, 2" } else { "1" };
        let (schema, name) = table["source"].as_str().unwrap().split_once('.').unwrap();
        let source_rows = source
            .query(
                &format!(
                    "SELECT {} FROM \"{schema}\".\"{name}\" ORDER BY {order}",
                    source_columns.join(", ")
                ),
                &[],
            )
            .await
            .unwrap();
        let target_rows: Vec<mysql_async::Row> = target
            .query(format!(
                "SELECT {} FROM `{}` ORDER BY {order}",
                target_columns.join(", "),
                table["target"].as_str().unwrap()
            ))
            .await
            .unwrap();
        assert_eq!(
            source_rows.len(),
            target_rows.len(),
            "row count of {}",
            table["source"]
        );
        for (source_row, target_row) in source_rows.iter().zip(target_rows) {
            let reads: Vec<ReadAs> = source_row
                .columns()
                .iter()
                .map(|column| read_as(column.type_()))
                .collect();
            let expected: Vec<Cell> = reads
                .iter()
                .enumerate()
                .map(|(index, how)| pg_cell(source_row, index, *how))
                .collect();
            let values = target_row.unwrap();
            let actual: Vec<Cell> = values
                .into_iter()
                .zip(&reads)
                .map(|(value, how)| mysql_cell(value, *how))
                .collect();
            let differences: BTreeMap<&str, (&Cell, &Cell)> = expected
                .iter()
                .zip(&actual)
                .enumerate()
                .filter(|(_, (left, right))| left != right)
                .map(|(index, (left, right))| {
                    (columns[index]["source"].as_str().unwrap(), (left, right))
                })
                .collect();
            assert!(
                differences.is_empty(),
                "{}: row {:?} differs (source, target): {differences:?}",
                table["source"],
                expected[0]
            );
            compared += 1;
        }
    }
    compared
}
