//! Per-column value converters, decided once per column from the pair
//! (Postgres kind, MySQL column type), then applied to every value.
//!
//! Pure: a converter sees one decoded Postgres text value and returns the
//! value to send, or the reason it cannot be stored exactly.

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::binary::{convert_bits, convert_bytea, decode_hex};
use super::mysql_text::Value;
use super::number::{
    FloatSource, convert_decimal, convert_float, convert_integer, convert_year,
    json_numbers_as_doubles,
};
use super::temporal::{convert_interval_to_time, convert_temporal, convert_timetz, trim_fraction};
use crate::column_types::{MySqlType, PgKind};

/// How one column's values are converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Converter {
    /// Text sent as is, with optional length limits.
    Text {
        /// VARCHAR(n)/CHAR(n): the most characters the target holds.
        max_chars: Option<u64>,
        /// TEXT types: the most bytes the target holds.
        max_bytes: Option<u64>,
        /// utf8mb3 target: characters beyond U+FFFF (4 UTF-8 bytes) refused.
        bmp_only: bool,
    },
    /// An integer (or an integral numeric) checked against the target range.
    Integer {
        /// smallest value the target holds
        min: i128,
        /// largest value the target holds
        max: i128,
    },
    /// An integer into YEAR: 1901–2155, or 0 (sent as `0000`: MySQL reads
    /// the strings `0`–`99` as 2000–2099 and 1970–1999).
    Year {
        /// 0 can be stored (not on Dolt, which reads the text `0000` as 2000)
        zero: bool,
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
    /// A number into FLOAT/DOUBLE: NaN/±Infinity refused.
    Float {
        /// the target is a 4-byte FLOAT
        single_precision: bool,
        /// what kind of number the source holds
        source: FloatSource,
    },
    /// boolean `t`/`f` into 1/0.
    Boolean,
    /// boolean into BIT(n): one byte, 0 or 1.
    BooleanBit,
    /// enum label into a MySQL ENUM: membership checked.
    EnumLabel {
        /// the labels the target ENUM accepts; ordered, so the converter
        /// prints the same in every process (a night's conversion
        /// fingerprint is made of that text; a hash set's order differs
        /// from one process to the next: issue 26)
        labels: BTreeSet<Vec<u8>>,
    },
    /// bytea (`\x…` hex) into raw bytes.
    Bytea {
        /// BINARY(n): the value must be exactly n bytes (MySQL would pad it).
        exact: Option<u64>,
        /// VARBINARY/BLOB: the most bytes the target holds.
        max: Option<u64>,
    },
    /// bit/varbit (`0101`) into BIT(n): the binary value, big-endian.
    Bits {
        /// the target's width in bits
        width: u32,
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
    /// timetz into TIME(fsp), normalised to UTC.
    Timetz {
        /// fractional second digits the target keeps
        fsp: u8,
    },
    /// interval into TIME(fsp): no months, within ±838:59:59.
    IntervalTime {
        /// fractional second digits the target keeps
        fsp: u8,
    },
    /// uuid into BINARY(16).
    UuidBinary,
    /// JSON into a JSON column that keeps numbers as doubles (Dolt): a
    /// number a double cannot hold exactly is refused.
    JsonDoubles,
}

const VERBATIM: Converter = Converter::Text {
    max_chars: None,
    max_bytes: None,
    bmp_only: false,
};

impl Converter {
    /// Chooses the converter for a (source, target) pair, or says why the
    /// pair cannot convert exactly. The source value is what the column's
    /// `SourceExpression` prints (arrays and composites as JSON, money as
    /// numeric).
    pub fn choose(source: &PgKind, target: &MySqlType) -> Result<Converter, String> {
        use MySqlType as T;
        use PgKind as S;
        if let Some(limits) = text_limits(target) {
            // Every type but bytea has an exact text form (ISO dates, JSON
            // for arrays and composites, …); bytea's is hex, not the bytes.
            return match source {
                S::Bytea => {
                    Err("bytea holds bytes: use a BINARY, VARBINARY or BLOB target".to_string())
                }
                _ => Ok(limits),
            };
        }
        let converter = match (source, target) {
            (S::SmallInt | S::Integer | S::BigInt | S::Oid, T::Integer { bytes, unsigned }) => {
                integer_converter(source, *bytes, *unsigned)
            }
            (S::SmallInt | S::Integer | S::BigInt | S::Oid | S::Numeric, T::Year) => {
                Converter::Year { zero: true }
            }
            (S::Numeric | S::Money, T::Integer { bytes, unsigned }) => {
                let (min, max) = integer_range(*bytes, *unsigned);
                Converter::Integer { min, max }
            }
            (
                S::SmallInt
                | S::Integer
                | S::BigInt
                | S::Oid
                | S::Numeric
                | S::Money
                | S::Real
                | S::Double,
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
            (S::SmallInt | S::Integer | S::Oid, T::Double) => VERBATIM,
            (S::BigInt | S::Numeric | S::Money, T::Double)
            | (S::SmallInt | S::Integer | S::BigInt | S::Oid | S::Numeric | S::Money, T::Float) => {
                Converter::Float {
                    single_precision: *target == T::Float,
                    source: FloatSource::Decimal,
                }
            }
            (S::Real, T::Double | T::Float) => Converter::Float {
                single_precision: *target == T::Float,
                source: FloatSource::Real,
            },
            (S::Double, T::Double | T::Float) => Converter::Float {
                single_precision: *target == T::Float,
                source: FloatSource::Double,
            },
            (S::Boolean, T::Integer { .. }) => Converter::Boolean,
            (S::Boolean, T::Bit(_)) => Converter::BooleanBit,
            (S::Bit, T::Bit(width)) if *width <= 64 => Converter::Bits { width: *width },
            (S::Enum(_) | S::Text | S::Char, T::Enum(labels)) => Converter::EnumLabel {
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
            (S::Timetz, T::Time(fsp)) => Converter::Timetz { fsp: *fsp },
            (S::Interval, T::Time(fsp)) => Converter::IntervalTime { fsp: *fsp },
            (S::Uuid, T::Binary(16)) => Converter::UuidBinary,
            (S::Json | S::Jsonb | S::Array | S::Composite | S::Hstore | S::Range, T::Json) => {
                VERBATIM
            }
            (S::Other, _) => {
                return Err(
                    "only this type's text form can be copied, into a CHAR, VARCHAR or TEXT column"
                        .to_string(),
                );
            }
            _ => return Err("no exact conversion between these types".to_string()),
        };
        Ok(converter)
    }

    /// The same converter, for a target column in `charset`: utf8mb3 holds
    /// no characters beyond U+FFFF.
    #[must_use]
    pub fn for_charset(self, charset: Option<&str>) -> Converter {
        match (self, charset) {
            (
                Converter::Text {
                    max_chars,
                    max_bytes,
                    ..
                },
                Some("utf8" | "utf8mb3"),
            ) => Converter::Text {
                max_chars,
                max_bytes,
                bmp_only: true,
            },
            (converter, _) => converter,
        }
    }

    /// The same converter, for a column on Dolt (`on_dolt`): Dolt keeps JSON
    /// numbers as doubles, and reads the year `0000` (any text) as 2000.
    #[must_use]
    pub fn for_dolt(self, on_dolt: bool, target: &MySqlType) -> Converter {
        match (on_dolt, self, target) {
            (true, converter, MySqlType::Json) if converter == VERBATIM => Converter::JsonDoubles,
            (true, Converter::Year { .. }, _) => Converter::Year { zero: false },
            (_, converter, _) => converter,
        }
    }

    /// True when no value can fail this converter (verbatim text without
    /// limits), so a failing value need not be kept for the message.
    #[must_use]
    pub fn is_infallible(&self) -> bool {
        *self == VERBATIM
    }

    /// True when the target receives raw bytes (sent as hex, decoded by the
    /// server), so the load must route the column through `UNHEX`.
    #[must_use]
    pub fn is_binary(&self) -> bool {
        matches!(
            self,
            Converter::Bytea { .. }
                | Converter::UuidBinary
                | Converter::Bits { .. }
                | Converter::BooleanBit
        )
    }

    /// Converts one non-NULL value (escapes already decoded).
    pub fn convert<'a>(&self, raw: Cow<'a, [u8]>) -> Result<Value<'a>, String> {
        match self {
            Converter::Text {
                max_chars,
                max_bytes,
                bmp_only,
            } => convert_text(raw, *max_chars, *max_bytes, *bmp_only),
            Converter::Integer { min, max } => convert_integer(raw, *min, *max),
            Converter::Year { zero } => convert_year(raw, *zero),
            Converter::Decimal {
                integer_digits,
                scale,
                unsigned,
            } => convert_decimal(raw, *integer_digits, *scale, *unsigned),
            Converter::Float {
                single_precision,
                source,
            } => convert_float(raw, *single_precision, *source),
            Converter::Boolean => match raw.as_ref() {
                b"t" => Ok(Value::Text(Cow::Borrowed(b"1"))),
                b"f" => Ok(Value::Text(Cow::Borrowed(b"0"))),
                _ => Err("not a boolean".to_string()),
            },
            Converter::BooleanBit => match raw.as_ref() {
                b"t" => Ok(Value::Binary(Cow::Borrowed(&[1]))),
                b"f" => Ok(Value::Binary(Cow::Borrowed(&[0]))),
                _ => Err("not a boolean".to_string()),
            },
            Converter::EnumLabel { labels } => {
                if labels.contains(raw.as_ref()) {
                    Ok(Value::Text(raw))
                } else {
                    Err("not a label of the target ENUM".to_string())
                }
            }
            Converter::Bytea { exact, max } => convert_bytea(&raw, *exact, *max),
            Converter::Bits { width } => convert_bits(&raw, *width),
            Converter::Temporal {
                fsp,
                strip_utc_offset,
                timestamp_range,
            } => convert_temporal(raw, *fsp, *strip_utc_offset, *timestamp_range),
            Converter::Time { fsp } => trim_fraction(raw, *fsp).map(Value::Text),
            Converter::Timetz { fsp } => convert_timetz(&raw, *fsp),
            Converter::IntervalTime { fsp } => convert_interval_to_time(&raw, *fsp),
            Converter::JsonDoubles => json_numbers_as_doubles(&raw).map(|()| Value::Text(raw)),
            Converter::UuidBinary => {
                let hex: Vec<u8> = raw.iter().copied().filter(|&byte| byte != b'-').collect();
                match decode_hex(&hex) {
                    Some(bytes) if bytes.len() == 16 => Ok(Value::Binary(Cow::Owned(bytes))),
                    _ => Err("not a uuid".to_string()),
                }
            }
        }
    }
}

/// VARCHAR/CHAR limits in characters, TEXT limits in bytes; `None` for
/// targets that are not text.
fn text_limits(target: &MySqlType) -> Option<Converter> {
    match target {
        MySqlType::Char(length) | MySqlType::Varchar(length) => Some(Converter::Text {
            max_chars: Some(u64::from(*length)),
            max_bytes: None,
            bmp_only: false,
        }),
        MySqlType::Text(bytes) => Some(Converter::Text {
            max_chars: None,
            max_bytes: Some(*bytes),
            bmp_only: false,
        }),
        _ => None,
    }
}

fn convert_text(
    raw: Cow<'_, [u8]>,
    max_chars: Option<u64>,
    max_bytes: Option<u64>,
    bmp_only: bool,
) -> Result<Value<'_>, String> {
    if let Some(limit) = max_chars {
        let chars = count_chars(&raw);
        if chars > limit {
            return Err(format!(
                "{chars} characters, more than the {limit} the column holds"
            ));
        }
    }
    if let Some(limit) = max_bytes
        && raw.len() as u64 > limit
    {
        return Err(format!(
            "{} bytes, more than the {limit} the column holds",
            raw.len()
        ));
    }
    // A 4-byte UTF-8 sequence starts with 0xF0..0xF4.
    if bmp_only && raw.iter().any(|&byte| byte >= 0xf0) {
        return Err(
            "has a character beyond U+FFFF (e.g. an emoji), which utf8mb3 cannot hold".to_string(),
        );
    }
    Ok(Value::Text(raw))
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

/// The range of a MySQL integer type `bytes` wide.
#[must_use]
pub fn integer_range(bytes: u8, unsigned: bool) -> (i128, i128) {
    let bits = u32::from(bytes) * 8;
    if unsigned {
        (0, (1_i128 << bits) - 1)
    } else {
        (-(1_i128 << (bits - 1)), (1_i128 << (bits - 1)) - 1)
    }
}

fn integer_converter(source: &PgKind, bytes: u8, unsigned: bool) -> Converter {
    let (min, max) = integer_range(bytes, unsigned);
    let (source_min, source_max): (i128, i128) = match source {
        PgKind::SmallInt => (i128::from(i16::MIN), i128::from(i16::MAX)),
        PgKind::Integer => (i128::from(i32::MIN), i128::from(i32::MAX)),
        PgKind::Oid => (0, i128::from(u32::MAX)),
        _ => (i128::from(i64::MIN), i128::from(i64::MAX)),
    };
    if min <= source_min && source_max <= max {
        VERBATIM
    } else {
        Converter::Integer { min, max }
    }
}

/// Counts UTF-8 characters: every byte that does not continue a sequence.
fn count_chars(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&byte| byte & 0xc0 != 0x80).count() as u64
}

#[cfg(test)]
mod tests;
