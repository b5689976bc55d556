//! Encodes converted values for the target: LOAD DATA text rows
//! (`FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n'`),
//! the one wire encoding, and the tuples of a multi-row INSERT derived from
//! those rows (`tuple_from_load_data`).
//!
//! Pure and synchronous: convert never touches a socket.

use std::borrow::Cow;

/// A converted value, ready to be encoded for the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// SQL NULL.
    Null,
    /// Text (UTF-8 from Postgres, possibly rewritten by a converter).
    Text(Cow<'a, [u8]>),
    /// Raw bytes for a binary column: sent as hex and decoded by the server
    /// (`UNHEX` for LOAD DATA, `X'…'` for INSERT), so no character set
    /// conversion can touch them.
    Binary(Cow<'a, [u8]>),
}

/// How rows are written for the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tab-separated rows for `LOAD DATA LOCAL INFILE`.
    LoadData,
    /// `(…),(…)` tuples for `INSERT INTO t (cols) VALUES …`.
    Insert,
}

impl Format {
    /// Starts a row; `out` holds the rows of the current chunk.
    pub fn start_row(self, out: &mut Vec<u8>) {
        if self == Format::Insert {
            if !out.is_empty() {
                out.push(b',');
            }
            out.push(b'(');
        }
    }

    /// Writes the separator between two fields of a row.
    pub fn separate(self, out: &mut Vec<u8>) {
        out.push(match self {
            Format::LoadData => b'\t',
            Format::Insert => b',',
        });
    }

    /// Ends a row.
    pub fn end_row(self, out: &mut Vec<u8>) {
        out.push(match self {
            Format::LoadData => b'\n',
            Format::Insert => b')',
        });
    }

    /// Writes one value.
    pub fn write_value(self, out: &mut Vec<u8>, value: &Value<'_>) {
        match (self, value) {
            (Format::LoadData, Value::Null) => out.extend_from_slice(b"\\N"),
            (Format::LoadData, Value::Text(text)) => escape_load_data(out, text),
            (Format::LoadData, Value::Binary(bytes)) => write_hex(out, bytes),
            (Format::Insert, Value::Null) => out.extend_from_slice(b"NULL"),
            (Format::Insert, Value::Text(text)) => quote_sql_string(out, text),
            (Format::Insert, Value::Binary(bytes)) => {
                out.extend_from_slice(b"X'");
                write_hex(out, bytes);
                out.push(b'\'');
            }
        }
    }
}

/// Escapes a value for LOAD DATA: the escape character itself, the field and
/// line terminators, carriage return (MySQL strips nothing, but escaping it
/// keeps rows readable) and NUL.
pub fn escape_load_data(out: &mut Vec<u8>, text: &[u8]) {
    // Most values hold none of the five: two SIMD scans, then one copy.
    if memchr::memchr3(b'\\', b'\t', b'\n', text).is_none()
        && memchr::memchr2(b'\r', 0, text).is_none()
    {
        out.extend_from_slice(text);
        return;
    }
    let mut start = 0;
    for (index, &byte) in text.iter().enumerate() {
        let replacement: &[u8] = match byte {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            0 => b"\\0",
            _ => continue,
        };
        out.extend_from_slice(&text[start..index]);
        out.extend_from_slice(replacement);
        start = index + 1;
    }
    out.extend_from_slice(&text[start..]);
}

/// Writes a single-quoted MySQL string literal (backslash escapes on, the
/// server default, which pg2dolt's session keeps).
pub fn quote_sql_string(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'\'');
    for &byte in text {
        push_sql_byte(out, byte);
    }
    out.push(b'\'');
}

/// One byte inside a single-quoted MySQL string literal.
fn push_sql_byte(out: &mut Vec<u8>, byte: u8) {
    match byte {
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\'' => out.extend_from_slice(b"\\'"),
        0 => out.extend_from_slice(b"\\0"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        0x1a => out.extend_from_slice(b"\\Z"),
        other => out.push(other),
    }
}

/// Appends one LOAD DATA text row (without its newline, as the encoder
/// wrote it) to `out` as an INSERT tuple, `(…)` after a comma when `out`
/// holds tuples already: `\N` is NULL, fields of `binary` columns are hex
/// and become `X'…'`, text is unescaped the way LOAD DATA reads it and
/// quoted. The INSERT route of every load derives its tuples this way, so
/// rows are encoded once.
///
/// # Errors
/// The row has another number of fields than `binary`, or a binary field
/// is not hex.
pub fn tuple_from_load_data(
    out: &mut Vec<u8>,
    row: &[u8],
    binary: &[bool],
) -> Result<(), &'static str> {
    Format::Insert.start_row(out);
    let mut fields = 0;
    for (index, field) in row.split(|&byte| byte == b'\t').enumerate() {
        fields += 1;
        if index > 0 {
            out.push(b',');
        }
        if field == b"\\N" {
            out.extend_from_slice(b"NULL");
        } else if binary.get(index).copied().unwrap_or(false) {
            if field.len() % 2 != 0 || !field.iter().all(u8::is_ascii_hexdigit) {
                return Err("a binary value is not hex");
            }
            out.extend_from_slice(b"X'");
            out.extend_from_slice(field);
            out.push(b'\'');
        } else {
            quote_load_data_text(out, field);
        }
    }
    if fields != binary.len() {
        return Err("a row has another number of fields than its table");
    }
    out.push(b')');
    Ok(())
}

/// A LOAD DATA text field as a MySQL string literal.
fn quote_load_data_text(out: &mut Vec<u8>, field: &[u8]) {
    out.push(b'\'');
    if memchr::memchr3(b'\\', b'\'', 0x1a, field).is_none() {
        // LOAD DATA text holds no raw newline, CR or NUL: nothing to escape.
        out.extend_from_slice(field);
    } else {
        let mut bytes = field.iter();
        while let Some(&byte) = bytes.next() {
            let byte = if byte == b'\\' {
                match bytes.next() {
                    Some(b'0') => 0,
                    Some(b'b') => 0x08,
                    Some(b'n') => b'\n',
                    Some(b'r') => b'\r',
                    Some(b't') => b'\t',
                    Some(b'Z') => 0x1a,
                    Some(&other) => other,
                    None => b'\\',
                }
            } else {
                byte
            };
            push_sql_byte(out, byte);
        }
    }
    out.push(b'\'');
}

/// Writes bytes as uppercase hex digits.
pub fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(bytes.len() * 2);
    for &byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)]);
        out.push(DIGITS[usize::from(byte & 0x0f)]);
    }
}

/// Splits LOAD DATA text into rows of fields the way MySQL reads it with
/// pg2dolt's field options (`\N` is NULL; a backslash before `0 b n r t Z`
/// is that control byte, before anything else that byte itself). The test
/// oracle for the encoder, and how a delta night reads back converted keys.
#[must_use]
pub fn decode_load_data(data: &[u8]) -> Vec<Vec<Option<Vec<u8>>>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = Vec::new();
    let mut is_null_marker = false;
    let mut index = 0;
    let finish_field = |row: &mut Vec<Option<Vec<u8>>>, field: &mut Vec<u8>, null: &mut bool| {
        row.push(if *null {
            None
        } else {
            Some(std::mem::take(field))
        });
        field.clear();
        *null = false;
    };
    while index < data.len() {
        let byte = data[index];
        index += 1;
        match byte {
            b'\\' if index < data.len() => {
                let escaped = data[index];
                index += 1;
                match escaped {
                    b'N' if field.is_empty()
                        && matches!(data.get(index), None | Some(b'\t' | b'\n')) =>
                    {
                        is_null_marker = true;
                    }
                    b'0' => field.push(0),
                    b'b' => field.push(0x08),
                    b'n' => field.push(b'\n'),
                    b'r' => field.push(b'\r'),
                    b't' => field.push(b'\t'),
                    b'Z' => field.push(0x1a),
                    other => field.push(other),
                }
            }
            b'\t' => finish_field(&mut row, &mut field, &mut is_null_marker),
            b'\n' => {
                finish_field(&mut row, &mut field, &mut is_null_marker);
                rows.push(std::mem::take(&mut row));
            }
            other => field.push(other),
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::copy_text::{decode_escapes, encode_like_postgres};
    use proptest::prelude::*;

    fn load_data_row(values: &[Value<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        let format = Format::LoadData;
        format.start_row(&mut out);
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                format.separate(&mut out);
            }
            format.write_value(&mut out, value);
        }
        format.end_row(&mut out);
        out
    }

    #[test]
    fn load_data_escapes_specials_and_writes_null() {
        let row = load_data_row(&[
            Value::Text(Cow::Borrowed(b"a\tb\nc\\d\re\0")),
            Value::Null,
            Value::Text(Cow::Borrowed(b"\\N")),
            Value::Binary(Cow::Borrowed(&[0, 0xff, 0x10])),
        ]);
        assert_eq!(row, b"a\\tb\\nc\\\\d\\re\\0\t\\N\t\\\\N\t00FF10\n".to_vec());
    }

    #[test]
    fn insert_tuples_quote_and_hex() {
        let mut out = Vec::new();
        for _ in 0..2 {
            Format::Insert.start_row(&mut out);
            Format::Insert.write_value(&mut out, &Value::Text(Cow::Borrowed(b"it's \\ \n")));
            Format::Insert.separate(&mut out);
            Format::Insert.write_value(&mut out, &Value::Null);
            Format::Insert.separate(&mut out);
            Format::Insert.write_value(&mut out, &Value::Binary(Cow::Borrowed(&[0xab])));
            Format::Insert.end_row(&mut out);
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "('it\\'s \\\\ \\n',NULL,X'AB'),('it\\'s \\\\ \\n',NULL,X'AB')"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, max_shrink_time: 10_000, ..ProptestConfig::default() })]
        /// Postgres COPY text decode, then LOAD DATA encode, then MySQL's own
        /// decoding rules give back the same bytes.
        #[test]
        fn postgres_to_mysql_round_trip(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
            let from_postgres = encode_like_postgres(&raw);
            let decoded = decode_escapes(&from_postgres);
            let row = load_data_row(&[Value::Text(decoded), Value::Null]);
            let rows = decode_load_data(&row);
            prop_assert_eq!(rows, vec![vec![Some(raw), None]]);
        }

        /// A row encoded as LOAD DATA text and turned into an INSERT tuple is
        /// the tuple the values make directly.
        #[test]
        fn tuples_from_load_data_equal_tuples_from_values(
            fields in proptest::collection::vec((proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)), any::<bool>()), 1..8)
        ) {
            let values: Vec<Value<'_>> = fields
                .iter()
                .map(|(field, binary)| match (field, binary) {
                    (None, _) => Value::Null,
                    (Some(bytes), true) => Value::Binary(Cow::Borrowed(bytes)),
                    (Some(bytes), false) => Value::Text(Cow::Borrowed(bytes)),
                })
                .collect();
            let binary: Vec<bool> = fields.iter().map(|(_, binary)| *binary).collect();
            let row = load_data_row(&values);
            let mut derived = Vec::new();
            tuple_from_load_data(&mut derived, &row[..row.len() - 1], &binary).unwrap();
            let mut direct = Vec::new();
            Format::Insert.start_row(&mut direct);
            for (index, value) in values.iter().enumerate() {
                if index > 0 {
                    Format::Insert.separate(&mut direct);
                }
                Format::Insert.write_value(&mut direct, value);
            }
            Format::Insert.end_row(&mut direct);
            prop_assert_eq!(derived, direct);
        }

        /// The encoder never emits an unescaped tab or newline inside a field.
        #[test]
        fn encoded_rows_keep_their_shape(
            fields in proptest::collection::vec(proptest::option::of(proptest::collection::vec(any::<u8>(), 0..50)), 1..8)
        ) {
            let values: Vec<Value<'_>> = fields
                .iter()
                .map(|field| field.as_ref().map_or(Value::Null, |bytes| Value::Text(Cow::Borrowed(bytes))))
                .collect();
            let row = load_data_row(&values);
            let tabs = row.iter().filter(|&&byte| byte == b'\t').count();
            let newlines = row.iter().filter(|&&byte| byte == b'\n').count();
            prop_assert_eq!(tabs, fields.len() - 1);
            prop_assert_eq!(newlines, 1);
            prop_assert_eq!(decode_load_data(&row), vec![fields]);
        }
    }
}
