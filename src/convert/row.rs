//! Converts whole COPY text rows into target rows, one column plan per
//! field, and describes a failing row by its key for the error message.

use std::borrow::Cow;

use super::converter::Converter;
use super::copy_text::{Field, split_fields};
use super::mysql_text::{Format, Value};
use crate::mask::Mask;

/// What went wrong with one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowError {
    /// A value cannot be stored exactly.
    Value {
        /// index of the column in the row
        column: usize,
        /// the decoded value, shortened for messages
        value: String,
        /// why it does not fit
        reason: String,
    },
    /// A text value reads `NULL`, which the target's LOAD DATA would store
    /// as SQL NULL (Dolt: go-mysql-server reads a field `NULL` as NULL,
    /// enclosed or not, sql/rowexec/ddl_iters.go parseFields): such rows
    /// must go another way.
    TextReadAsNull {
        /// index of the column in the row
        column: usize,
    },
    /// The row had a different number of fields than planned.
    FieldCount {
        /// fields expected
        expected: usize,
        /// fields found
        found: usize,
    },
}

/// Rows are written as LOAD DATA text.
const FORMAT: Format = Format::LoadData;

/// Converts rows of one table.
#[derive(Debug, Clone)]
pub struct RowConverter {
    converters: Vec<Converter>,
    /// each column's mask (`--mask-rules`), applied before its converter:
    /// an error then shows the masked value, never the source's
    masks: Vec<Option<Mask>>,
    /// refuse text values that read `NULL` (see [`RowError::TextReadAsNull`])
    refuse_text_null: bool,
}

impl RowConverter {
    /// A converter for rows whose fields map, in order, to `converters`;
    /// it writes LOAD DATA text, the one wire encoding (the INSERT route
    /// derives its tuples from it: `mysql_text::tuple_from_load_data`).
    #[must_use]
    pub fn new(converters: Vec<Converter>) -> RowConverter {
        RowConverter {
            masks: vec![None; converters.len()],
            converters,
            refuse_text_null: false,
        }
    }

    /// The same, masking the columns that have a mask (one entry per
    /// column).
    #[must_use]
    pub fn masking(mut self, masks: Vec<Option<Mask>>) -> RowConverter {
        debug_assert_eq!(masks.len(), self.converters.len());
        self.masks = masks;
        self
    }

    /// A column's value as the target gets it before conversion: masked
    /// when the column has a mask (`None`: NULL).
    fn masked<'a>(&self, column: usize, field: &Field<'a>) -> Option<Cow<'a, [u8]>> {
        let raw = field.decode()?;
        match self.masks.get(column) {
            Some(Some(mask)) => mask.apply(&raw).map(Cow::Owned),
            _ => Some(raw),
        }
    }

    /// Describes a row by the given key columns, e.g. `id=42, org_id=7`
    /// (masked key columns as masked).
    #[must_use]
    pub fn describe_key(&self, row: &[u8], key_columns: &[(usize, String)]) -> String {
        let fields: Vec<Field<'_>> = split_fields(row).collect();
        key_columns
            .iter()
            .map(|(index, name)| {
                let value = match fields
                    .get(*index)
                    .and_then(|field| self.masked(*index, field))
                {
                    Some(raw) => shorten(&raw),
                    None => "NULL".to_string(),
                };
                format!("{name}={value}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The same, refusing a text value `NULL` (for Dolt's LOAD DATA).
    #[must_use]
    pub fn refusing_text_null(mut self) -> RowConverter {
        self.refuse_text_null = true;
        self
    }

    /// Appends one converted row to `out`. On error `out` is left as it was.
    pub fn convert_row(&self, row: &[u8], out: &mut Vec<u8>) -> Result<(), RowError> {
        let start = out.len();
        let result = self.write_row(row, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn write_row(&self, row: &[u8], out: &mut Vec<u8>) -> Result<(), RowError> {
        FORMAT.start_row(out);
        let mut fields = split_fields(row);
        for (column, converter) in self.converters.iter().enumerate() {
            let Some(field) = fields.next() else {
                return Err(RowError::FieldCount {
                    expected: self.converters.len(),
                    found: column,
                });
            };
            if column > 0 {
                FORMAT.separate(out);
            }
            let value = match self.masked(column, &field) {
                None => Value::Null,
                // The value is shown only when it fails: no formatting on
                // the hot path. A borrowed value is re-read from the row; an
                // owned one (it had escapes: rare) is kept aside.
                Some(Cow::Borrowed(raw)) => {
                    converter
                        .convert(Cow::Borrowed(raw))
                        .map_err(|reason| RowError::Value {
                            column,
                            value: shorten(raw),
                            reason,
                        })?
                }
                Some(Cow::Owned(raw)) if converter.is_infallible() => converter
                    .convert(Cow::Owned(raw))
                    .map_err(|reason| RowError::Value {
                        column,
                        value: String::new(),
                        reason,
                    })?,
                Some(Cow::Owned(raw)) => {
                    let kept = raw.clone();
                    converter
                        .convert(Cow::Owned(raw))
                        .map_err(|reason| RowError::Value {
                            column,
                            value: shorten(&kept),
                            reason,
                        })?
                }
            };
            if self.refuse_text_null
                && matches!(&value, Value::Text(text) if text.as_ref() == b"NULL")
            {
                return Err(RowError::TextReadAsNull { column });
            }
            FORMAT.write_value(out, &value);
        }
        let extra = fields.count();
        if extra > 0 {
            return Err(RowError::FieldCount {
                expected: self.converters.len(),
                found: self.converters.len() + extra,
            });
        }
        FORMAT.end_row(out);
        Ok(())
    }
}

/// Shows a value for an error message: at most 60 characters, with its full
/// length when it was cut. Invalid UTF-8 is shown lossily.
#[must_use]
pub fn shorten(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    shorten_text(&text, text.chars().count())
}

/// Shows the start of a value of `length` characters for an error message,
/// as [`shorten`] does (for values whose start alone was read).
#[must_use]
pub fn shorten_text(start: &str, length: usize) -> String {
    const LIMIT: usize = 60;
    let head: String = start.chars().take(LIMIT).collect();
    let escaped = head.escape_debug();
    if length <= LIMIT {
        format!("'{escaped}'")
    } else {
        format!("'{escaped}…' ({length} characters)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column_types::{MySqlType, PgKind};

    fn converter(pairs: &[(PgKind, &str)]) -> RowConverter {
        RowConverter::new(
            pairs
                .iter()
                .map(|(source, target)| {
                    Converter::choose(source, &MySqlType::parse(target)).unwrap()
                })
                .collect(),
        )
    }

    #[test]
    fn a_text_null_is_refused_only_when_asked() {
        let plain = converter(&[(PgKind::Text, "text"), (PgKind::Text, "text")]);
        let mut out = Vec::new();
        plain.convert_row(b"NULL\t\\N", &mut out).unwrap();
        assert_eq!(out, b"NULL\t\\N\n");
        let refusing = plain.refusing_text_null();
        let mut out = Vec::new();
        assert_eq!(
            refusing.convert_row(b"null\t\\N", &mut out),
            Ok(()),
            "only NULL itself, and SQL NULL stays NULL"
        );
        assert_eq!(
            refusing.convert_row(b"x\tNULL", &mut out),
            Err(RowError::TextReadAsNull { column: 1 })
        );
    }

    #[test]
    fn converts_a_row_and_reencodes_escapes() {
        let rows = converter(&[
            (PgKind::Integer, "int"),
            (PgKind::Text, "text"),
            (PgKind::Boolean, "tinyint(1)"),
            (PgKind::Bytea, "blob"),
        ]);
        let mut out = Vec::new();
        rows.convert_row(b"7\ta\\fb\\\\c\tt\t\\\\x00ff", &mut out)
            .unwrap();
        rows.convert_row(b"8\t\\N\tf\t\\N", &mut out).unwrap();
        assert_eq!(out, b"7\ta\x0cb\\\\c\t1\t00FF\n8\t\\N\t0\t\\N\n".to_vec());
    }

    #[test]
    fn a_bad_value_names_the_column_and_leaves_output_untouched() {
        let rows = converter(&[(PgKind::Integer, "int"), (PgKind::Text, "varchar(2)")]);
        let mut out = b"earlier\n".to_vec();
        let error = rows.convert_row(b"1\tabc", &mut out).unwrap_err();
        assert_eq!(
            error,
            RowError::Value {
                column: 1,
                value: "'abc'".into(),
                reason: "3 characters, more than the 2 the column holds".into()
            }
        );
        assert_eq!(out, b"earlier\n".to_vec());
        let key = [(0, "id".to_string())];
        assert_eq!(rows.describe_key(b"1\tabc", &key), "id='1'");
        // A masked key is shown masked, and a masked value fails as masked.
        let key_file = crate::mask::MaskKey::new(b"0123456789abcdef").unwrap();
        let masked = rows.clone().masking(vec![
            Some(crate::mask::Mask::new(
                crate::mask::Generator::Hash,
                Some(key_file),
                Some(8),
            )),
            None,
        ]);
        let shown = masked.describe_key(b"1\tabc", &key);
        assert!(shown.starts_with("id='") && shown != "id='1'", "{shown}");
    }

    #[test]
    fn masked_values_are_converted_and_their_errors_show_them_masked() {
        let rows = converter(&[(PgKind::Text, "varchar(10)")]);
        let key = crate::mask::MaskKey::new(b"0123456789abcdef").unwrap();
        let email = crate::mask::Mask::new(crate::mask::Generator::Email, Some(key), None);
        let masked = rows.masking(vec![Some(email)]);
        let mut out = Vec::new();
        let Err(RowError::Value { value, .. }) = masked.convert_row(b"ada@example.org", &mut out)
        else {
            panic!("a masked email is longer than 10 characters");
        };
        assert!(
            !value.contains("ada@example.org") && value.contains("@example.com"),
            "{value}"
        );
    }

    #[test]
    fn field_count_mismatch_is_an_error() {
        let rows = converter(&[(PgKind::Integer, "int")]);
        assert!(matches!(
            rows.convert_row(b"1\t2", &mut Vec::new()),
            Err(RowError::FieldCount {
                expected: 1,
                found: 2
            })
        ));
    }

    #[test]
    fn long_values_are_shortened() {
        let shown = shorten("x".repeat(100).as_bytes());
        assert!(shown.ends_with("…' (100 characters)"));
    }
}
