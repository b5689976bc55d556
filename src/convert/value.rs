//! Per-column value converters, decided once per column from the pair
//! (Postgres kind, MySQL column type), then applied to every value.
//!
//! Pure: a converter sees one decoded Postgres text value and returns the
//! value to send, or the reason it cannot be stored exactly.

use std::borrow::Cow;
use std::collections::HashSet;

use super::mysql_text::Value;
use crate::types::{MySqlType, PgKind};

/// How one column's values are converted.
#[derive(Debug, Clone)]
pub enum Converter {
    /// Text sent as is, with optional length limits.
    Text {
        /// VARCHAR(n)/CHAR(n): the most characters the target holds.
        max_chars: Option<u64>,
        /// TEXT types: the most bytes the target holds.
        max_bytes: Option<u64>,
    },
    /// An integer checked against a narrower or UNSIGNED target.
    Integer {
        /// smallest value the target holds
        min: i128,
        /// largest value the target holds
        max: i128,
    },
    /// numeric into DECIMAL(p,s): NaN/±Infinity refused, digits checked.
    Decimal {
        /// digits allowed before the point (p − s)
        integer_digits: u32,
        /// digits allowed after the point
        scale: u32,
        /// negative values refused
        unsigned: bool,
    },
    /// real/double into a floating or decimal target: NaN/±Infinity refused.
    Float {
        /// the target is a 4-byte FLOAT and the value must survive the narrowing
        single_precision: bool,
    },
    /// boolean `t`/`f` into 1/0.
    Boolean,
    /// enum label into a MySQL ENUM: membership checked.
    EnumLabel {
        /// the labels the target ENUM accepts
        labels: HashSet<Vec<u8>>,
    },
    /// bytea (`\x…` hex) into raw bytes.
    Bytea {
        /// BINARY(n): the value must be exactly n bytes (MySQL would pad it).
        exact: Option<u64>,
        /// VARBINARY/BLOB: the most bytes the target holds.
        max: Option<u64>,
    },
    /// date, timestamp or timestamptz into DATE/DATETIME/TIMESTAMP.
    Temporal {
        /// fractional second digits the target keeps
        fsp: u8,
        /// timestamptz: drop the `+00` that the UTC session prints
        strip_utc_offset: bool,
        /// TIMESTAMP target: 1970-01-01 00:00:01 .. 2038-01-19 03:14:07 UTC
        timestamp_range: bool,
    },
    /// time into TIME(fsp).
    Time {
        /// fractional second digits the target keeps
        fsp: u8,
    },
    /// uuid into BINARY(16).
    UuidBinary,
}

impl Converter {
    /// Chooses the converter for a (source, target) pair, or says why the
    /// pair cannot convert exactly.
    pub fn choose(source: &PgKind, target: &MySqlType) -> Result<Converter, String> {
        use MySqlType as T;
        use PgKind as S;
        const VERBATIM: Converter = Converter::Text {
            max_chars: None,
            max_bytes: None,
        };
        let converter = match (source, target) {
            (S::SmallInt | S::Integer | S::BigInt | S::Oid, T::Integer { bytes, unsigned }) => {
                integer_converter(source, *bytes, *unsigned)
            }
            (
                S::SmallInt | S::Integer | S::BigInt | S::Oid | S::Numeric,
                T::Decimal {
                    precision,
                    scale,
                    unsigned,
                },
            ) => Converter::Decimal {
                integer_digits: precision.saturating_sub(*scale),
                scale: *scale,
                unsigned: *unsigned,
            },
            (S::SmallInt | S::Integer | S::BigInt | S::Oid, T::Double)
            | (S::Json | S::Jsonb | S::Array, T::Json)
            | (
                S::Text | S::Char | S::Json | S::Jsonb | S::Array | S::Enum(_) | S::Uuid,
                T::Char(_) | T::Varchar(_) | T::Text(_),
            ) => text_limits(target).unwrap_or(VERBATIM),
            (S::Numeric | S::Real | S::Double, T::Double) => Converter::Float {
                single_precision: false,
            },
            (S::Real | S::Double, T::Float) => Converter::Float {
                single_precision: true,
            },
            (S::Boolean, T::Integer { .. }) => Converter::Boolean,
            (S::Text | S::Enum(_), T::Enum(labels)) => Converter::EnumLabel {
                labels: labels
                    .iter()
                    .map(|label| label.as_bytes().to_vec())
                    .collect(),
            },
            (S::Bytea, T::Binary(length)) => Converter::Bytea {
                exact: Some(u64::from(*length)),
                max: None,
            },
            (S::Bytea, T::Varbinary(length)) => Converter::Bytea {
                exact: None,
                max: Some(u64::from(*length)),
            },
            (S::Bytea, T::Blob(bytes)) => Converter::Bytea {
                exact: None,
                max: Some(*bytes),
            },
            (
                S::Date | S::Timestamp | S::Timestamptz,
                T::Date | T::Datetime(_) | T::Timestamp(_),
            ) => temporal_converter(source, target)?,
            (S::Time, T::Time(fsp)) => Converter::Time { fsp: *fsp },
            (S::Uuid, T::Binary(16)) => Converter::UuidBinary,
            (S::Other, _) => return Err("this source type is not supported yet".to_string()),
            _ => return Err("no exact conversion between these types".to_string()),
        };
        Ok(converter)
    }

    /// True when the target receives raw bytes (sent as hex, decoded by the
    /// server), so the load must route the column through `UNHEX`.
    #[must_use]
    pub fn is_binary(&self) -> bool {
        matches!(self, Converter::Bytea { .. } | Converter::UuidBinary)
    }

    /// Converts one non-NULL value (escapes already decoded).
    pub fn convert<'a>(&self, raw: Cow<'a, [u8]>) -> Result<Value<'a>, String> {
        match self {
            Converter::Text {
                max_chars,
                max_bytes,
            } => {
                if let Some(limit) = max_chars {
                    let chars = count_chars(&raw);
                    if chars > *limit {
                        return Err(format!(
                            "{chars} characters, more than the {limit} the column holds"
                        ));
                    }
                }
                if let Some(limit) = max_bytes
                    && raw.len() as u64 > *limit
                {
                    return Err(format!(
                        "{} bytes, more than the {limit} the column holds",
                        raw.len()
                    ));
                }
                Ok(Value::Text(raw))
            }
            Converter::Integer { min, max } => {
                let parsed = std::str::from_utf8(&raw)
                    .ok()
                    .and_then(|text| text.parse::<i128>().ok());
                match parsed {
                    Some(value) if (*min..=*max).contains(&value) => Ok(Value::Text(raw)),
                    Some(_) => Err(format!("out of range {min}..{max}")),
                    None => Err("not an integer".to_string()),
                }
            }
            Converter::Decimal {
                integer_digits,
                scale,
                unsigned,
            } => convert_decimal(raw, *integer_digits, *scale, *unsigned),
            Converter::Float { single_precision } => convert_float(raw, *single_precision),
            Converter::Boolean => match raw.as_ref() {
                b"t" => Ok(Value::Text(Cow::Borrowed(b"1"))),
                b"f" => Ok(Value::Text(Cow::Borrowed(b"0"))),
                _ => Err("not a boolean".to_string()),
            },
            Converter::EnumLabel { labels } => {
                if labels.contains(raw.as_ref()) {
                    Ok(Value::Text(raw))
                } else {
                    Err("not a label of the target ENUM".to_string())
                }
            }
            Converter::Bytea { exact, max } => {
                let bytes = decode_bytea_hex(&raw)?;
                let length = bytes.len() as u64;
                if let Some(exact) = exact
                    && length != *exact
                {
                    return Err(format!(
                        "{length} bytes; BINARY({exact}) would pad or cut it"
                    ));
                }
                if let Some(max) = max
                    && length > *max
                {
                    return Err(format!(
                        "{length} bytes, more than the {max} the column holds"
                    ));
                }
                Ok(Value::Binary(Cow::Owned(bytes)))
            }
            Converter::Temporal {
                fsp,
                strip_utc_offset,
                timestamp_range,
            } => convert_temporal(raw, *fsp, *strip_utc_offset, *timestamp_range),
            Converter::Time { fsp } => trim_fraction(raw, *fsp).map(Value::Text),
            Converter::UuidBinary => {
                let hex: Vec<u8> = raw.iter().copied().filter(|&byte| byte != b'-').collect();
                decode_hex(&hex)
                    .map(|bytes| Value::Binary(Cow::Owned(bytes)))
                    .ok_or_else(|| "not a uuid".to_string())
            }
        }
    }
}

/// VARCHAR/CHAR limits in characters, TEXT limits in bytes.
fn text_limits(target: &MySqlType) -> Option<Converter> {
    match target {
        MySqlType::Char(length) | MySqlType::Varchar(length) => Some(Converter::Text {
            max_chars: Some(u64::from(*length)),
            max_bytes: None,
        }),
        MySqlType::Text(bytes) => Some(Converter::Text {
            max_chars: None,
            max_bytes: Some(*bytes),
        }),
        _ => None,
    }
}

/// date → DATE; date, timestamp or timestamptz → DATETIME/TIMESTAMP. A
/// timestamp into DATE would drop the time of day: refused.
fn temporal_converter(source: &PgKind, target: &MySqlType) -> Result<Converter, String> {
    let strip_utc_offset = *source == PgKind::Timestamptz;
    match target {
        MySqlType::Date if *source == PgKind::Date => Ok(Converter::Temporal {
            fsp: 0,
            strip_utc_offset,
            timestamp_range: false,
        }),
        MySqlType::Datetime(fsp) => Ok(Converter::Temporal {
            fsp: *fsp,
            strip_utc_offset,
            timestamp_range: false,
        }),
        MySqlType::Timestamp(fsp) => Ok(Converter::Temporal {
            fsp: *fsp,
            strip_utc_offset,
            timestamp_range: true,
        }),
        _ => Err("DATE would drop the time of day".to_string()),
    }
}

fn integer_converter(source: &PgKind, bytes: u8, unsigned: bool) -> Converter {
    let bits = u32::from(bytes) * 8;
    let (min, max) = if unsigned {
        (0, (1_i128 << bits) - 1)
    } else {
        (-(1_i128 << (bits - 1)), (1_i128 << (bits - 1)) - 1)
    };
    let (source_min, source_max): (i128, i128) = match source {
        PgKind::SmallInt => (i128::from(i16::MIN), i128::from(i16::MAX)),
        PgKind::Integer => (i128::from(i32::MIN), i128::from(i32::MAX)),
        PgKind::Oid => (0, i128::from(u32::MAX)),
        _ => (i128::from(i64::MIN), i128::from(i64::MAX)),
    };
    if min <= source_min && source_max <= max {
        Converter::Text {
            max_chars: None,
            max_bytes: None,
        }
    } else {
        Converter::Integer { min, max }
    }
}

/// Counts UTF-8 characters: every byte that does not continue a sequence.
fn count_chars(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&byte| byte & 0xc0 != 0x80).count() as u64
}

/// The number's text, refusing Postgres' NaN and ±Infinity, which no MySQL
/// numeric type can store.
fn finite_number<'a>(raw: &'a [u8], target: &str) -> Result<&'a str, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "not a number".to_string())?;
    if matches!(text, "NaN" | "Infinity" | "-Infinity") {
        return Err(format!("NaN and infinity cannot be stored in {target}"));
    }
    Ok(text)
}

fn convert_decimal(
    raw: Cow<'_, [u8]>,
    integer_digits: u32,
    scale: u32,
    unsigned: bool,
) -> Result<Value<'_>, String> {
    let text = finite_number(&raw, "DECIMAL")?;
    let unsigned_text = text.strip_prefix('-').unwrap_or(text);
    if unsigned
        && text.starts_with('-')
        && unsigned_text
            .bytes()
            .any(|byte| byte.is_ascii_digit() && byte != b'0')
    {
        return Err("negative value for an UNSIGNED column".to_string());
    }
    let (whole, fraction) = unsigned_text.split_once('.').unwrap_or((unsigned_text, ""));
    if whole.is_empty()
        || !whole.bytes().all(|byte| byte.is_ascii_digit())
        || !fraction.bytes().all(|byte| byte.is_ascii_digit())
    {
        return Err("not a decimal number".to_string());
    }
    let significant_whole = whole.trim_start_matches('0').len() as u64;
    if significant_whole > u64::from(integer_digits) {
        return Err(format!(
            "{significant_whole} digits before the point, the column holds {integer_digits}"
        ));
    }
    let kept = fraction.len().min(scale as usize);
    if fraction[kept..].bytes().any(|byte| byte != b'0') {
        return Err(format!(
            "{} digits after the point, the column keeps {scale}",
            fraction.trim_end_matches('0').len()
        ));
    }
    if kept == fraction.len() {
        return Ok(Value::Text(raw));
    }
    // Only zeros were dropped: the value is unchanged, the server sees no
    // excess digits (and so no truncation note).
    let sign_and_whole = &text[..text.len() - unsigned_text.len() + whole.len()];
    let mut trimmed = sign_and_whole.to_string();
    if kept > 0 {
        trimmed.push('.');
        trimmed.push_str(&fraction[..kept]);
    }
    Ok(Value::Text(Cow::Owned(trimmed.into_bytes())))
}

fn convert_float(raw: Cow<'_, [u8]>, single_precision: bool) -> Result<Value<'_>, String> {
    let text = finite_number(&raw, "MySQL floating point")?;
    if single_precision {
        let value: f64 = text.parse().map_err(|_| "not a number".to_string())?;
        #[expect(
            clippy::cast_possible_truncation,
            reason = "the narrowing is exactly what is being checked"
        )]
        let narrowed = f64::from(value as f32);
        if narrowed.to_bits() != value.to_bits() {
            return Err("does not fit FLOAT without rounding".to_string());
        }
    }
    Ok(Value::Text(raw))
}

fn convert_temporal(
    raw: Cow<'_, [u8]>,
    fsp: u8,
    strip_utc_offset: bool,
    timestamp_range: bool,
) -> Result<Value<'_>, String> {
    if raw.ends_with(b" BC") {
        return Err("dates before year 1 (BC) cannot be stored".to_string());
    }
    if raw.as_ref() == b"infinity" || raw.as_ref() == b"-infinity" {
        return Err("infinity cannot be stored".to_string());
    }
    if raw.len() < 10 || raw[4] != b'-' {
        return Err("year beyond 9999 or not an ISO date".to_string());
    }
    let raw = if strip_utc_offset {
        match raw.strip_suffix(b"+00") {
            Some(stripped) => Cow::Owned(stripped.to_vec()),
            None => return Err("timestamptz not printed in UTC".to_string()),
        }
    } else {
        raw
    };
    let value = trim_fraction(raw, fsp)?;
    if timestamp_range {
        let text = value.as_ref();
        let seconds_part = &text[..text.len().min(19)];
        if seconds_part < b"1970-01-01 00:00:01".as_slice()
            || seconds_part > b"2038-01-19 03:14:07".as_slice()
        {
            return Err(
                "outside the TIMESTAMP range 1970-01-01 00:00:01 .. 2038-01-19 03:14:07 UTC"
                    .to_string(),
            );
        }
    }
    Ok(Value::Text(value))
}

/// Keeps at most `fsp` fractional second digits; dropping non-zero digits
/// would round the value, so that is an error.
fn trim_fraction(raw: Cow<'_, [u8]>, fsp: u8) -> Result<Cow<'_, [u8]>, String> {
    let Some(dot) = raw.iter().rposition(|&byte| byte == b'.') else {
        return Ok(raw);
    };
    let digits = &raw[dot + 1..];
    let keep = digits.len().min(usize::from(fsp));
    if digits[keep..].iter().any(|&byte| byte != b'0') {
        return Err(format!(
            "{} fractional second digits, the column keeps {fsp}",
            digits.len()
        ));
    }
    if keep == digits.len() {
        return Ok(raw);
    }
    let end = if keep == 0 { dot } else { dot + 1 + keep };
    Ok(Cow::Owned(raw[..end].to_vec()))
}

fn decode_bytea_hex(raw: &[u8]) -> Result<Vec<u8>, String> {
    let hex = raw
        .strip_prefix(b"\\x")
        .ok_or_else(|| "bytea not in hex output format".to_string())?;
    decode_hex(hex).ok_or_else(|| "bytea hex is malformed".to_string())
}

fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    hex.chunks_exact(2)
        .map(|pair| {
            let high = (pair[0] as char).to_digit(16)?;
            let low = (pair[1] as char).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(source: &PgKind, target: &str, raw: &str) -> Result<Value<'static>, String> {
        let converter = Converter::choose(source, &MySqlType::parse(target))?;
        converter.convert(Cow::Owned(raw.as_bytes().to_vec()))
    }

    fn text(value: &str) -> Value<'static> {
        Value::Text(Cow::Owned(value.as_bytes().to_vec()))
    }

    #[test]
    fn varchar_length_is_counted_in_characters() {
        assert_eq!(convert(&PgKind::Text, "varchar(3)", "äöü"), Ok(text("äöü")));
        assert!(
            convert(&PgKind::Text, "varchar(3)", "abcd")
                .unwrap_err()
                .contains("4 characters")
        );
        assert!(
            convert(&PgKind::Text, "tinytext", &"é".repeat(128))
                .unwrap_err()
                .contains("256 bytes")
        );
    }

    #[test]
    fn integers_are_range_checked_only_when_narrower() {
        assert!(matches!(
            Converter::choose(&PgKind::Integer, &MySqlType::parse("int(11)")),
            Ok(Converter::Text {
                max_chars: None,
                max_bytes: None
            })
        ));
        assert_eq!(
            convert(&PgKind::Integer, "smallint", "32767"),
            Ok(text("32767"))
        );
        assert!(convert(&PgKind::Integer, "smallint", "32768").is_err());
        assert!(convert(&PgKind::BigInt, "int unsigned", "-1").is_err());
        assert_eq!(
            convert(&PgKind::BigInt, "bigint unsigned", "9223372036854775807"),
            Ok(text("9223372036854775807"))
        );
    }

    #[test]
    fn decimals_refuse_nan_and_rounding() {
        assert_eq!(
            convert(&PgKind::Numeric, "decimal(10,2)", "-12.34"),
            Ok(text("-12.34"))
        );
        assert_eq!(
            convert(&PgKind::Numeric, "decimal(10,2)", "1.500"),
            Ok(text("1.50"))
        );
        assert_eq!(
            convert(&PgKind::Numeric, "decimal(10,0)", "7.000"),
            Ok(text("7"))
        );
        assert!(convert(&PgKind::Numeric, "decimal(10,2)", "1.005").is_err());
        assert!(convert(&PgKind::Numeric, "decimal(4,2)", "123.1").is_err());
        assert!(convert(&PgKind::Numeric, "decimal(10,2)", "NaN").is_err());
    }

    #[test]
    fn floats_refuse_nan_and_infinity() {
        assert!(convert(&PgKind::Double, "double", "NaN").is_err());
        assert!(convert(&PgKind::Double, "double", "-Infinity").is_err());
        assert_eq!(convert(&PgKind::Double, "double", "-0"), Ok(text("-0")));
        assert!(convert(&PgKind::Double, "float", "0.1").is_err());
        assert_eq!(convert(&PgKind::Real, "float", "0.5"), Ok(text("0.5")));
    }

    #[test]
    fn temporal_values() {
        assert_eq!(
            convert(
                &PgKind::Timestamptz,
                "datetime(6)",
                "2024-01-02 03:04:05.5+00"
            ),
            Ok(text("2024-01-02 03:04:05.5"))
        );
        assert_eq!(
            convert(&PgKind::Timestamp, "datetime", "2024-01-02 03:04:05.000"),
            Ok(text("2024-01-02 03:04:05"))
        );
        assert!(convert(&PgKind::Timestamp, "datetime", "2024-01-02 03:04:05.1").is_err());
        assert!(convert(&PgKind::Timestamp, "datetime", "infinity").is_err());
        assert!(convert(&PgKind::Date, "date", "0044-03-15 BC").is_err());
        assert!(convert(&PgKind::Date, "date", "10000-01-01").is_err());
        assert!(convert(&PgKind::Timestamp, "timestamp", "2040-01-01 00:00:00").is_err());
        assert_eq!(
            convert(&PgKind::Time, "time", "24:00:00"),
            Ok(text("24:00:00"))
        );
    }

    #[test]
    fn bytea_and_uuid_become_raw_bytes() {
        assert_eq!(
            convert(&PgKind::Bytea, "blob", "\\x00ff"),
            Ok(Value::Binary(Cow::Owned(vec![0, 255])))
        );
        assert!(convert(&PgKind::Bytea, "binary(4)", "\\x00ff").is_err());
        assert_eq!(
            convert(
                &PgKind::Uuid,
                "binary(16)",
                "00112233-4455-6677-8899-aabbccddeeff"
            ),
            Ok(Value::Binary(Cow::Owned(
                (0..16).map(|index| index * 0x11).collect()
            )))
        );
    }

    #[test]
    fn enums_are_checked_for_membership() {
        let source = PgKind::Enum(vec!["owner".into(), "member".into()]);
        assert_eq!(
            convert(&source, "enum('owner','member')", "owner"),
            Ok(text("owner"))
        );
        assert!(convert(&source, "enum('owner')", "member").is_err());
    }

    #[test]
    fn unsupported_pairs_say_why() {
        assert!(
            Converter::choose(&PgKind::Other, &MySqlType::parse("text"))
                .unwrap_err()
                .contains("not supported")
        );
        assert!(Converter::choose(&PgKind::Bytea, &MySqlType::parse("int")).is_err());
    }
}
