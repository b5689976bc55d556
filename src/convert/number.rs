//! Numbers: integers into narrower or UNSIGNED targets, numeric into
//! DECIMAL(p,s) and into integers, and any number into FLOAT/DOUBLE only
//! when the stored binary value reads back as the same decimal.
//!
//! Pure: text in, text out (or the reason the value cannot be stored).

use std::borrow::Cow;

use super::mysql_text::Value;

/// The number's text, refusing Postgres' NaN and ±Infinity, which no MySQL
/// numeric type can store.
pub fn finite_number<'a>(raw: &'a [u8], target: &str) -> Result<&'a str, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "not a number".to_string())?;
    if matches!(text, "NaN" | "Infinity" | "-Infinity") {
        return Err(format!("NaN and infinity cannot be stored in {target}"));
    }
    Ok(text)
}

/// An integer (or an integral numeric) checked against `min..=max`.
pub fn convert_integer(raw: Cow<'_, [u8]>, min: i128, max: i128) -> Result<Value<'_>, String> {
    let text = finite_number(&raw, "an integer column")?;
    // numeric prints `12.000` for an integral value of scale 3.
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if !fraction.bytes().all(|byte| byte == b'0') {
        return Err("has a fraction, which an integer column would round away".to_string());
    }
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err("not an integer".to_string());
    }
    match whole.parse::<i128>() {
        Ok(value) if (min..=max).contains(&value) => {}
        _ => return Err(format!("out of range {min}..{max}")),
    }
    if fraction.is_empty() {
        Ok(Value::Text(raw))
    } else {
        Ok(Value::Text(Cow::Owned(whole.as_bytes().to_vec())))
    }
}

/// Checks that every number in a JSON text reads back the same from a
/// double (Dolt keeps JSON numbers as float64): `0.1` does, and
/// `12345678901234567890` does not (it would become 12345678901234567000).
pub fn json_numbers_as_doubles(json: &[u8]) -> Result<(), String> {
    let mut index = 0;
    let mut in_string = false;
    while index < json.len() {
        let byte = json[index];
        if in_string {
            match byte {
                b'\\' => index += 1,
                b'"' => in_string = false,
                _ => {}
            }
            index += 1;
            continue;
        }
        if byte == b'"' {
            in_string = true;
            index += 1;
            continue;
        }
        if byte == b'-' || byte.is_ascii_digit() {
            let start = index;
            while index < json.len()
                && matches!(json[index], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
            {
                index += 1;
            }
            let token = std::str::from_utf8(&json[start..index]).unwrap_or_default();
            let stored = token
                .parse::<f64>()
                .ok()
                .filter(|value| value.is_finite())
                .map(|value| value.to_string());
            match stored {
                Some(stored) if normalize_decimal(&stored) == normalize_decimal(token) => {}
                Some(stored) => {
                    return Err(format!(
                        "JSON number {token} would become {stored}: the target keeps JSON numbers as doubles"
                    ));
                }
                None => {
                    return Err(format!(
                        "JSON number {token} is beyond a double, which the target keeps JSON numbers as"
                    ));
                }
            }
            continue;
        }
        index += 1;
    }
    Ok(())
}

/// YEAR's range, in the values the target keeps as given.
pub const YEAR_RANGE: std::ops::RangeInclusive<i128> = 1901..=2155;

/// An integer into YEAR: 1901–2155 as they are, 0 as `0000` (the string
/// `0` would become 2000) where `zero` says the target keeps it, anything
/// else refused.
pub fn convert_year(raw: Cow<'_, [u8]>, zero: bool) -> Result<Value<'_>, String> {
    const REASON: &str = "not a year YEAR holds (1901–2155, or 0)";
    let Value::Text(digits) =
        convert_integer(raw, 0, *YEAR_RANGE.end()).map_err(|_| REASON.to_string())?
    else {
        return Err(REASON.to_string());
    };
    match std::str::from_utf8(&digits)
        .ok()
        .and_then(|text| text.parse::<i128>().ok())
    {
        Some(0) if zero => Ok(Value::Text(Cow::Borrowed(b"0000"))),
        Some(0) => Err("the year 0, which Dolt would store as 2000".to_string()),
        Some(year) if YEAR_RANGE.contains(&year) => Ok(Value::Text(digits)),
        _ => Err(REASON.to_string()),
    }
}

/// numeric (or an integer) into DECIMAL: digits before the point checked,
/// only zeros may be dropped after it.
pub fn convert_decimal(
    raw: Cow<'_, [u8]>,
    integer_digits: u32,
    scale: u32,
    unsigned: bool,
) -> Result<Value<'_>, String> {
    let text = finite_number(&raw, "DECIMAL")?;
    // real and double print `1e-05` and `1e+16`: spell those out.
    if text.contains(['e', 'E']) {
        let plain = plain_decimal(text).ok_or_else(|| "not a decimal number".to_string())?;
        return convert_decimal(
            Cow::Owned(plain.into_bytes()),
            integer_digits,
            scale,
            unsigned,
        );
    }
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

/// What kind of number goes into a FLOAT/DOUBLE column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatSource {
    /// an integer or numeric: the stored binary value must read back as
    /// the same decimal number (`0.1` does, `2^53+1` does not)
    Decimal,
    /// real: widened to double exactly, so FLOAT and DOUBLE both get the
    /// real's own binary value (its shortest text, `0.1`, would give DOUBLE
    /// a different one, and `3.4028235e38` is beyond FLOAT's range when
    /// MySQL parses it as a double first)
    Real,
    /// double precision: verbatim into DOUBLE; into FLOAT only when
    /// narrowing keeps it
    Double,
}

/// A number into FLOAT/DOUBLE; NaN and ±Infinity refused.
pub fn convert_float(
    raw: Cow<'_, [u8]>,
    single_precision: bool,
    source: FloatSource,
) -> Result<Value<'_>, String> {
    let target = if single_precision { "FLOAT" } else { "DOUBLE" };
    let text = finite_number(&raw, target)?;
    let value: f64 = text.parse().map_err(|_| "not a number".to_string())?;
    if !value.is_finite() {
        return Err(format!("too large for {target}"));
    }
    match source {
        FloatSource::Decimal => {
            let round_trip = if single_precision {
                #[expect(
                    clippy::cast_possible_truncation,
                    reason = "the narrowing is exactly what is being checked"
                )]
                let narrowed = text.parse::<f32>().unwrap_or(value as f32);
                narrowed.to_string()
            } else {
                value.to_string()
            };
            if normalize_decimal(&round_trip) != normalize_decimal(text) {
                return Err(format!(
                    "{target} would store {round_trip}, not this exact number"
                ));
            }
            Ok(Value::Text(raw))
        }
        FloatSource::Real => {
            let real: f32 = text.parse().map_err(|_| "not a number".to_string())?;
            Ok(Value::Text(Cow::Owned(
                format!("{:e}", f64::from(real)).into_bytes(),
            )))
        }
        FloatSource::Double => {
            if single_precision {
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
    }
}

/// A number in exponent notation (`-1.5e-3`) as plain decimal text
/// (`-0.0015`); `None` when it is not a number or absurdly long.
#[must_use]
pub fn plain_decimal(text: &str) -> Option<String> {
    let (negative, digits, exponent) = normalize_decimal(text)?;
    if digits.is_empty() {
        return Some("0".to_string());
    }
    if exponent.unsigned_abs() > 400 {
        return None;
    }
    let sign = if negative { "-" } else { "" };
    let exponent = i32::try_from(exponent).ok()?;
    let length = i32::try_from(digits.len()).ok()?;
    let plain = if exponent >= 0 {
        format!("{digits}{}", "0".repeat(exponent.unsigned_abs() as usize))
    } else if -exponent < length {
        let point = (length + exponent).unsigned_abs() as usize;
        format!("{}.{}", &digits[..point], &digits[point..])
    } else {
        let zeros = (-exponent - length).unsigned_abs() as usize;
        format!("0.{}{digits}", "0".repeat(zeros))
    };
    Some(format!("{sign}{plain}"))
}

/// A decimal number's value as (negative, significant digits, exponent of
/// the last digit), so `1.50`, `15e-1` and `0001.5` compare equal. Zero is
/// `(false, "", 0)` whatever its sign.
#[must_use]
pub fn normalize_decimal(text: &str) -> Option<(bool, String, i64)> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], unsigned[at + 1..].parse::<i64>().ok()?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let all_digits = format!("{whole}{fraction}");
    let leading_trimmed = all_digits.trim_start_matches('0');
    let significant = leading_trimmed.trim_end_matches('0');
    if significant.is_empty() {
        return Some((false, String::new(), 0));
    }
    let trailing_zeros = leading_trimmed.len() - significant.len();
    let fraction_length = i64::try_from(fraction.len()).ok()?;
    let zeros = i64::try_from(trailing_zeros).ok()?;
    Some((
        negative,
        significant.to_string(),
        exponent - fraction_length + zeros,
    ))
}

#[cfg(test)]
mod tests;
