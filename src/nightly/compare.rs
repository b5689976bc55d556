//! The fast half of `verify`: a table whose key is made of integers is
//! read from both sides in key order — the source converted and masked as
//! a copy would store it, the branch as the server renders it — and
//! compared row by row as the two stream, at read speed. Renderings that
//! differ for equal stored values (a decimal's trailing zeros, a time's
//! fraction, a float's digits, JSON's spacing and key order, CHAR's
//! trailing spaces, BINARY's padding) compare equal; any other difference,
//! a row missing on either side, or a table this cannot read in the same
//! order on both sides makes the table a suspect, which `verify` then
//! compares exactly (the snapshot loaded on a scratch branch, Dolt's own
//! diff). So this can only save time, never decide that rows differ.

use anyhow::Context as _;
use futures_util::StreamExt as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use crate::column_types::MySqlType;
use crate::convert::frame::RowSplitter;
use crate::convert::mysql_text::decode_load_data;
use crate::convert::row::RowConverter;
use crate::mysql::sql::quote_identifier;
use crate::plan::TablePlan;
use crate::postgres::reader::{Reader, copy_rows};

/// Source rows sent at a time from the reading half to the comparing half.
const ROW_BATCH: usize = 2048;

/// One row's values as the target would store them (`None`: NULL).
type Row = Vec<Option<Vec<u8>>>;

/// Whether every row of the plan's table on `conn`'s branch equals the
/// source's in the snapshot `reader` holds; `false` also when it cannot
/// tell (see the module comment).
pub async fn rows_equal(
    reader: &Reader,
    conn: &mut Conn,
    plan: &TablePlan,
) -> anyhow::Result<bool> {
    let key: Vec<usize> = plan.key_columns().iter().map(|(index, _)| *index).collect();
    if !plan.integer_key() || key.len() != plan.target.primary_key.len() {
        return Ok(false);
    }
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<Row>>(4);
    let read_source = send_source_rows(reader, plan, sender);
    let key = &key;
    let compare = async move {
        let columns: Vec<String> = plan
            .columns
            .iter()
            .map(|column| quote_identifier(&column.target))
            .collect();
        let order: Vec<String> = key
            .iter()
            .map(|&index| quote_identifier(&plan.columns[index].target))
            .collect();
        // language=MySQL
        let statement = format!(
            "SELECT {} FROM {} ORDER BY {}",
            columns.join(", "),
            quote_identifier(&plan.target.name),
            order.join(", ")
        );
        let kinds: Vec<MySqlType> = plan
            .columns
            .iter()
            .map(|column| {
                plan.target
                    .columns
                    .iter()
                    .find(|target| target.name == column.target)
                    .map_or_else(
                        || MySqlType::Other(String::new()),
                        |target| target.kind.clone(),
                    )
            })
            .collect();
        let mut result = conn
            .query_iter(statement)
            .await
            .with_context(|| format!("reading {}", plan.target.name))?;
        let (mut pending, mut at): (Vec<Row>, usize) = (Vec::new(), 0);
        let mut equal = true;
        while let Some(row) = result.next().await? {
            if !equal {
                continue;
            }
            if at == pending.len() {
                pending = receiver.recv().await.unwrap_or_default();
                at = 0;
            }
            let Some(source) = pending.get(at) else {
                equal = false;
                continue;
            };
            at += 1;
            let target = row.unwrap();
            equal = source.len() == target.len()
                && source
                    .iter()
                    .zip(target)
                    .zip(&kinds)
                    .all(|((source, target), kind)| same_value(kind, source.as_deref(), &target));
        }
        let rest = at < pending.len() || receiver.recv().await.is_some();
        drop(receiver);
        anyhow::Ok(equal && !rest)
    };
    let (read, equal) = tokio::join!(read_source, compare);
    let equal = equal?;
    read?;
    Ok(equal)
}

/// Streams the source's rows in key order, converted and masked, into
/// `sender`; stops quietly when the comparison stopped listening.
async fn send_source_rows(
    reader: &Reader,
    plan: &TablePlan,
    sender: tokio::sync::mpsc::Sender<Vec<Row>>,
) -> anyhow::Result<()> {
    let statement = plan.copy_in_key_order(None, None);
    let converter = RowConverter::new(
        plan.columns
            .iter()
            .map(|column| column.converter.clone())
            .collect(),
    )
    .masking(
        plan.columns
            .iter()
            .map(|column| column.mask.clone())
            .collect(),
    );
    let binary: Vec<bool> = plan
        .columns
        .iter()
        .map(|column| column.converter.is_binary())
        .collect();
    let stream = copy_rows(reader, &statement)
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .with_context(|| format!("reading {}", plan.source_name))?;
    futures_util::pin_mut!(stream);
    let mut splitter = RowSplitter::default();
    let mut text = Vec::new();
    while let Some(data) = stream.next().await {
        let data = data
            .map_err(|error| crate::postgres::pg_error(&error))
            .with_context(|| format!("reading {}", plan.source_name))?;
        splitter
            .push(&data, |line| {
                converter.convert_row(line, &mut text).map_err(|_| ())
            })
            .map_err(|()| anyhow::anyhow!("a row of {} does not convert", plan.source_name))?;
        if text.len() >= ROW_BATCH * 64 || splitter.pending() == 0 {
            let rows: Vec<Row> = decode_load_data(&text)
                .into_iter()
                .map(|row| decode_binary(row, &binary))
                .collect();
            text.clear();
            if !rows.is_empty() && sender.send(rows).await.is_err() {
                return Ok(());
            }
        }
    }
    let rows: Vec<Row> = decode_load_data(&text)
        .into_iter()
        .map(|row| decode_binary(row, &binary))
        .collect();
    if !rows.is_empty() {
        let _ = sender.send(rows).await;
    }
    Ok(())
}

/// Binary values arrive as hex in LOAD DATA text: their bytes.
fn decode_binary(row: Row, binary: &[bool]) -> Row {
    row.into_iter()
        .zip(binary)
        .map(|(value, &binary)| {
            value.map(|value| {
                if binary {
                    crate::digest::unhex(&value).unwrap_or_default()
                } else {
                    value
                }
            })
        })
        .collect()
}

/// Whether a source value (as a copy would send it) and the value the
/// target returns are the same stored value of a column of type `kind`.
#[must_use]
pub fn same_value(kind: &MySqlType, source: Option<&[u8]>, target: &mysql_async::Value) -> bool {
    let target: Option<std::borrow::Cow<'_, [u8]>> = match target {
        mysql_async::Value::NULL => None,
        mysql_async::Value::Bytes(bytes) => Some(bytes.as_slice().into()),
        mysql_async::Value::Int(number) => Some(number.to_string().into_bytes().into()),
        mysql_async::Value::UInt(number) => Some(number.to_string().into_bytes().into()),
        mysql_async::Value::Float(number) => Some(number.to_string().into_bytes().into()),
        mysql_async::Value::Double(number) => Some(number.to_string().into_bytes().into()),
        _ => return false,
    };
    let (Some(source), Some(target)) = (source, target.as_deref()) else {
        return source.is_none() && target.is_none();
    };
    if source == target {
        return true;
    }
    let text = |bytes: &[u8]| std::str::from_utf8(bytes).ok().map(str::to_string);
    match kind {
        MySqlType::Decimal { .. } => {
            text(source).map(|text| decimal(&text)) == text(target).map(|text| decimal(&text))
        }
        MySqlType::Float => {
            number::<f32>(source) == number::<f32>(target) && number::<f32>(source).is_some()
        }
        MySqlType::Double => {
            number::<f64>(source) == number::<f64>(target) && number::<f64>(source).is_some()
        }
        MySqlType::Char(_) => source.trim_ascii_end() == target.trim_ascii_end(),
        MySqlType::Binary(_) => trim_zeros(source) == trim_zeros(target),
        MySqlType::Datetime(_) | MySqlType::Timestamp(_) | MySqlType::Time(_) => {
            text(source).map(|text| temporal(&text)) == text(target).map(|text| temporal(&text))
        }
        MySqlType::Json => json(source).is_some() && json(source) == json(target),
        _ => false,
    }
}

/// One stored value's text whatever its rendering, for keys compared as
/// bytes: a decimal's, a time's (see [`same_value`]); CHAR without trailing
/// spaces, BINARY without trailing zero bytes; anything else as it is.
#[must_use]
pub fn canonical(kind: &MySqlType, value: &[u8]) -> Vec<u8> {
    let text = || std::str::from_utf8(value).ok();
    match kind {
        MySqlType::Decimal { .. } => {
            text().map_or_else(|| value.to_vec(), |text| decimal(text).into_bytes())
        }
        MySqlType::Datetime(_) | MySqlType::Timestamp(_) | MySqlType::Time(_) => {
            text().map_or_else(|| value.to_vec(), |text| temporal(text).into_bytes())
        }
        MySqlType::Char(_) => value.trim_ascii_end().to_vec(),
        MySqlType::Binary(_) => trim_zeros(value).to_vec(),
        _ => value.to_vec(),
    }
}

/// A decimal without a plus sign, trailing fractional zeros or a lone point.
fn decimal(text: &str) -> String {
    let text = text.trim().trim_start_matches('+');
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    };
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

fn number<T: std::str::FromStr>(bytes: &[u8]) -> Option<T> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

fn trim_zeros(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&byte| byte != 0)
        .map_or(0, |at| at + 1);
    &bytes[..end]
}

/// A date-time or time with `T` as a space and no trailing fractional zeros.
fn temporal(text: &str) -> String {
    let text = text.replace('T', " ");
    match text.split_once('.') {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                whole.to_string()
            } else {
                format!("{whole}.{fraction}")
            }
        }
        None => text,
    }
}

/// JSON with every number as a double (Dolt stores them so), key order and
/// spacing ignored.
fn json(bytes: &[u8]) -> Option<serde_json::Value> {
    fn doubles(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Number(number) => number
                .as_f64()
                .and_then(serde_json::Number::from_f64)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(doubles).collect())
            }
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.into_iter()
                    .map(|(key, value)| (key, doubles(value)))
                    .collect(),
            ),
            other => other,
        }
    }
    serde_json::from_slice(bytes).ok().map(doubles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_async::Value;

    fn bytes(text: &str) -> Value {
        Value::Bytes(text.as_bytes().to_vec())
    }

    #[test]
    fn equal_stored_values_compare_equal_whatever_their_rendering() {
        let decimal = MySqlType::Decimal {
            precision: 10,
            scale: 2,
            unsigned: false,
        };
        assert!(same_value(&decimal, Some(b"1.5"), &bytes("1.50")));
        assert!(same_value(&decimal, Some(b"-0.00"), &bytes("0.00")));
        assert!(!same_value(&decimal, Some(b"1.5"), &bytes("1.05")));
        assert!(same_value(
            &MySqlType::Datetime(6),
            Some(b"2026-12-06 01:02:03.5"),
            &bytes("2026-12-06 01:02:03.500000")
        ));
        assert!(!same_value(
            &MySqlType::Datetime(0),
            Some(b"2026-12-06 01:02:03"),
            &bytes("2026-12-06 01:02:04")
        ));
        assert!(same_value(&MySqlType::Double, Some(b"0.1"), &bytes("0.1")));
        assert!(same_value(&MySqlType::Float, Some(b"1.1"), &bytes("1.1")));
        assert!(same_value(
            &MySqlType::Json,
            Some(br#"{"b": 1, "a": [1.0]}"#),
            &bytes(r#"{"a":[1],"b":1}"#)
        ));
        assert!(!same_value(
            &MySqlType::Json,
            Some(br#"{"a": 1}"#),
            &bytes(r#"{"a":2}"#)
        ));
        assert!(same_value(
            &MySqlType::Char(5),
            Some(b"ab   "),
            &bytes("ab")
        ));
        assert!(same_value(
            &MySqlType::Binary(4),
            Some(&[1, 2]),
            &Value::Bytes(vec![1, 2, 0, 0])
        ));
        assert!(same_value(&MySqlType::Varchar(5), None, &Value::NULL));
        assert!(!same_value(&MySqlType::Varchar(5), None, &bytes("")));
        assert!(!same_value(
            &MySqlType::Varchar(5),
            Some(b"a "),
            &bytes("a")
        ));
        assert!(same_value(
            &MySqlType::Integer {
                bytes: 4,
                unsigned: false
            },
            Some(b"7"),
            &Value::Int(7)
        ));
    }
}
