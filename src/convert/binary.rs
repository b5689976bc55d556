//! Binary values: bytea in Postgres' hex output (`\\x…`) into raw bytes
//! (length-checked for BINARY/VARBINARY), bit strings into BIT(n) bytes,
//! and hex decoding.

use std::borrow::Cow;

use super::mysql_text::Value;

pub(super) fn convert_bytea(
    raw: &[u8],
    exact: Option<u64>,
    max: Option<u64>,
) -> Result<Value<'static>, String> {
    let hex = raw
        .strip_prefix(b"\\x")
        .ok_or_else(|| "bytea not in hex output format".to_string())?;
    let bytes = decode_hex(hex).ok_or_else(|| "bytea hex is malformed".to_string())?;
    let length = bytes.len() as u64;
    if let Some(exact) = exact
        && length != exact
    {
        return Err(format!(
            "{length} bytes; BINARY({exact}) would pad or cut it"
        ));
    }
    if let Some(max) = max
        && length > max
    {
        return Err(format!(
            "{length} bytes, more than the {max} the column holds"
        ));
    }
    Ok(Value::Binary(Cow::Owned(bytes)))
}

/// `0101` into the big-endian bytes of a BIT(width) value; leading zeros
/// beyond the width are fine, a one there would be cut.
pub(super) fn convert_bits(raw: &[u8], width: u32) -> Result<Value<'static>, String> {
    if raw.iter().any(|&byte| byte != b'0' && byte != b'1') {
        return Err("not a bit string".to_string());
    }
    let significant = raw
        .iter()
        .position(|&byte| byte == b'1')
        .map_or(&[][..], |at| &raw[at..]);
    if significant.len() > width as usize {
        return Err(format!(
            "needs {} bits, the column holds {width}",
            significant.len()
        ));
    }
    let value = significant
        .iter()
        .fold(0_u64, |value, &bit| (value << 1) | u64::from(bit - b'0'));
    let bytes = width.div_ceil(8).max(1) as usize;
    Ok(Value::Binary(Cow::Owned(
        value.to_be_bytes()[8 - bytes..].to_vec(),
    )))
}

/// Hex digits (either case) into bytes; `None` when not hex.
#[must_use]
pub fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
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
