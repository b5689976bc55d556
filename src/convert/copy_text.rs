//! Postgres `COPY ... TO STDOUT` text format: split a row into fields and
//! decode a field's backslash escapes into its raw bytes.
//!
//! Pure and synchronous: no sockets, no allocation unless a field holds an
//! escape. Format reference: the PostgreSQL manual, "COPY", "Text Format".

use std::borrow::Cow;

/// One field of a COPY text row, still escaped as Postgres sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// `\N`: SQL NULL.
    Null,
    /// The field's bytes, escapes not yet decoded.
    Escaped(&'a [u8]),
}

impl<'a> Field<'a> {
    /// The field's raw value: `None` for NULL, escapes decoded otherwise.
    #[must_use]
    pub fn decode(self) -> Option<Cow<'a, [u8]>> {
        match self {
            Field::Null => None,
            Field::Escaped(bytes) => Some(decode_escapes(bytes)),
        }
    }
}

/// Splits one row (without its trailing newline) into its tab-separated
/// fields. A tab inside a value is always escaped (`\t`), so every raw tab is
/// a separator.
pub fn split_fields(row: &[u8]) -> impl Iterator<Item = Field<'_>> {
    let mut rest = Some(row);
    std::iter::from_fn(move || {
        let current = rest?;
        let field = if let Some(tab) = memchr::memchr(b'\t', current) {
            rest = Some(&current[tab + 1..]);
            &current[..tab]
        } else {
            rest = None;
            current
        };
        Some(if field == b"\\N" {
            Field::Null
        } else {
            Field::Escaped(field)
        })
    })
}

/// Decodes COPY text escapes: `\b \f \n \r \t \v \\`, octal `\ooo`, hex
/// `\xhh`, and a backslash before any other byte stands for that byte.
#[must_use]
pub fn decode_escapes(field: &[u8]) -> Cow<'_, [u8]> {
    if !field.contains(&b'\\') {
        return Cow::Borrowed(field);
    }
    let mut out = Vec::with_capacity(field.len());
    let mut index = 0;
    while index < field.len() {
        let byte = field[index];
        index += 1;
        if byte != b'\\' || index == field.len() {
            out.push(byte);
            continue;
        }
        let escaped = field[index];
        index += 1;
        match escaped {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut value = u32::from(escaped - b'0');
                let mut digits = 1;
                while digits < 3 && index < field.len() && (b'0'..=b'7').contains(&field[index]) {
                    value = value * 8 + u32::from(field[index] - b'0');
                    index += 1;
                    digits += 1;
                }
                // Postgres keeps the low byte of an octal escape above \377.
                out.push((value & 0xff) as u8);
            }
            b'x' if index < field.len() && field[index].is_ascii_hexdigit() => {
                let mut value = hex_value(field[index]);
                index += 1;
                if index < field.len() && field[index].is_ascii_hexdigit() {
                    value = value * 16 + hex_value(field[index]);
                    index += 1;
                }
                out.push(value);
            }
            other => out.push(other),
        }
    }
    Cow::Owned(out)
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

/// Encodes raw bytes the way Postgres' COPY TO writes them (used by tests to
/// produce realistic input).
#[cfg(test)]
#[must_use]
pub fn encode_like_postgres(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for &byte in raw {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x0b => out.extend_from_slice(b"\\v"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_fields_and_recognises_null() {
        let fields: Vec<_> = split_fields(b"1\t\\N\t\tx\\ty").collect();
        assert_eq!(
            fields,
            vec![
                Field::Escaped(b"1"),
                Field::Null,
                Field::Escaped(b""),
                Field::Escaped(b"x\\ty"),
            ]
        );
    }

    #[test]
    fn a_literal_backslash_n_is_text_not_null() {
        // The two characters \N as text arrive as \\N.
        let fields: Vec<_> = split_fields(b"\\\\N").collect();
        assert_eq!(fields, vec![Field::Escaped(b"\\\\N")]);
        assert_eq!(fields[0].decode().unwrap().as_ref(), b"\\N");
    }

    #[test]
    fn decodes_every_escape_form() {
        assert_eq!(
            decode_escapes(b"a\\bb\\fc\\nd\\re\\tf\\vg\\\\h").as_ref(),
            b"a\x08b\x0cc\nd\re\tf\x0bg\\h"
        );
        assert_eq!(
            decode_escapes(b"\\101\\7\\x41\\x4g").as_ref(),
            b"A\x07A\x04g"
        );
        assert_eq!(decode_escapes(b"\\q\\").as_ref(), b"q\\");
    }

    #[test]
    fn plain_fields_are_borrowed() {
        assert!(matches!(decode_escapes(b"plain text"), Cow::Borrowed(_)));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, max_shrink_time: 10_000, ..ProptestConfig::default() })]
        #[test]
        fn decode_inverts_postgres_encoding(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
            let encoded = encode_like_postgres(&raw);
            prop_assert!(!encoded.contains(&b'\t') && !encoded.contains(&b'\n'));
            let decoded = decode_escapes(&encoded);
            prop_assert_eq!(decoded.as_ref(), raw.as_slice());
        }
    }
}
