//! Dates and times: date/timestamp/timestamptz into DATE/DATETIME/TIMESTAMP,
//! time and timetz into TIME (timetz normalised to UTC), interval into TIME
//! when it has no months and fits TIME's range.
//!
//! Pure: the source session prints ISO text in UTC (`DateStyle=ISO, YMD`,
//! `TimeZone=UTC`, `IntervalStyle=iso_8601`); this module only reads it.

use std::borrow::Cow;

use super::mysql_text::Value;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
/// MySQL's TIME range is ±838:59:59.
const TIME_LIMIT_MICROS: i64 = (838 * 3600 + 59 * 60 + 59) * MICROS_PER_SECOND;

/// A date or timestamp into DATE/DATETIME/TIMESTAMP.
pub fn convert_temporal(
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
        if !raw.ends_with(b"+00") {
            return Err("timestamptz not printed in UTC".to_string());
        }
        let end = raw.len() - 3;
        match raw {
            Cow::Borrowed(text) => Cow::Borrowed(&text[..end]),
            Cow::Owned(mut text) => {
                text.truncate(end);
                Cow::Owned(text)
            }
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
pub fn trim_fraction(raw: Cow<'_, [u8]>, fsp: u8) -> Result<Cow<'_, [u8]>, String> {
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
    Ok(match raw {
        Cow::Borrowed(text) => Cow::Borrowed(&text[..end]),
        Cow::Owned(mut text) => {
            text.truncate(end);
            Cow::Owned(text)
        }
    })
}

/// timetz (`12:34:56.789+05:30`) into TIME: the same instant's time of day
/// in UTC.
pub fn convert_timetz(raw: &[u8], fsp: u8) -> Result<Value<'static>, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "not a time".to_string())?;
    let split = text
        .rfind(['+', '-'])
        .ok_or_else(|| "timetz without an offset".to_string())?;
    let local = parse_clock(&text[..split]).ok_or_else(|| "not a time".to_string())?;
    let offset = parse_offset(&text[split..]).ok_or_else(|| "not a UTC offset".to_string())?;
    let mut utc = local - offset;
    if utc < 0 {
        utc += MICROS_PER_DAY;
    } else if utc > MICROS_PER_DAY {
        utc -= MICROS_PER_DAY;
    }
    let formatted = format_time(utc);
    trim_fraction(Cow::Owned(formatted.into_bytes()), fsp).map(Value::Text)
}

/// interval (ISO 8601, `P1DT2H3M4.5S`) into TIME: days count 24 hours;
/// months and years have no fixed length and are refused.
pub fn convert_interval_to_time(raw: &[u8], fsp: u8) -> Result<Value<'static>, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "not an interval".to_string())?;
    let micros = interval_micros(text)?;
    if micros.abs() > TIME_LIMIT_MICROS {
        return Err("outside TIME's range of ±838:59:59".to_string());
    }
    let formatted = if micros < 0 {
        format!("-{}", format_time(-micros))
    } else {
        format_time(micros)
    };
    trim_fraction(Cow::Owned(formatted.into_bytes()), fsp).map(Value::Text)
}

/// The length of an ISO 8601 interval without months, in microseconds.
fn interval_micros(text: &str) -> Result<i64, String> {
    let malformed = || format!("not an ISO 8601 interval: {text}");
    let body = text.strip_prefix('P').ok_or_else(malformed)?;
    let (date_part, time_part) = body.split_once('T').unwrap_or((body, ""));
    let mut total: i64 = 0;
    for (part, in_time) in [(date_part, false), (time_part, true)] {
        let mut number = String::new();
        for character in part.chars() {
            if character.is_ascii_digit() || matches!(character, '-' | '.') {
                number.push(character);
                continue;
            }
            let micros_per_unit = match (in_time, character) {
                (false, 'Y' | 'M') => {
                    if number.trim_start_matches('-').trim_matches('0').is_empty() {
                        number.clear();
                        continue;
                    }
                    return Err(
                        "has months or years, which have no fixed length in TIME".to_string()
                    );
                }
                (false, 'W') => 7 * MICROS_PER_DAY,
                (false, 'D') => MICROS_PER_DAY,
                (true, 'H') => 3600 * MICROS_PER_SECOND,
                (true, 'M') => 60 * MICROS_PER_SECOND,
                (true, 'S') => MICROS_PER_SECOND,
                _ => return Err(malformed()),
            };
            let micros = scaled_micros(&number, micros_per_unit).ok_or_else(malformed)?;
            total = total
                .checked_add(micros)
                .ok_or_else(|| "outside TIME's range of ±838:59:59".to_string())?;
            number.clear();
        }
        if !number.is_empty() {
            return Err(malformed());
        }
    }
    Ok(total)
}

/// `-6.5` units of `micros_per_unit` microseconds, exactly.
fn scaled_micros(number: &str, micros_per_unit: i64) -> Option<i64> {
    let (negative, digits) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || fraction.len() > 6 {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let fraction_micros: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<6}").parse().ok()?
    };
    // Only seconds carry a fraction in Postgres' ISO output.
    let micros = whole
        .checked_mul(micros_per_unit)?
        .checked_add(fraction_micros * micros_per_unit / MICROS_PER_SECOND)?;
    Some(if negative { -micros } else { micros })
}

/// `HH:MM:SS[.ffffff]` into microseconds since midnight.
fn parse_clock(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, ':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    let seconds = parts.next()?;
    let micros = scaled_micros(seconds, MICROS_PER_SECOND)?;
    Some((hours * 3600 + minutes * 60) * MICROS_PER_SECOND + micros)
}

/// `+05`, `-08:30`, `+05:30:15` into microseconds east of UTC.
fn parse_offset(text: &str) -> Option<i64> {
    let negative = text.starts_with('-');
    let mut seconds = 0_i64;
    for (index, part) in text[1..].split(':').enumerate() {
        let value: i64 = part.parse().ok()?;
        let unit = [3600, 60, 1].get(index)?;
        seconds += value * unit;
    }
    let micros = seconds * MICROS_PER_SECOND;
    Some(if negative { -micros } else { micros })
}

/// Microseconds (non-negative) as `H:MM:SS[.ffffff]`, without trailing
/// fraction zeros.
fn format_time(micros: i64) -> String {
    let seconds = micros / MICROS_PER_SECOND;
    let fraction = micros % MICROS_PER_SECOND;
    let mut text = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Value<'static> {
        Value::Text(Cow::Owned(value.as_bytes().to_vec()))
    }

    fn owned(value: &str) -> Cow<'static, [u8]> {
        Cow::Owned(value.as_bytes().to_vec())
    }

    #[test]
    fn temporal_values() {
        assert_eq!(
            convert_temporal(owned("2024-01-02 03:04:05.5+00"), 6, true, false),
            Ok(text("2024-01-02 03:04:05.5"))
        );
        assert_eq!(
            convert_temporal(owned("2024-01-02 03:04:05.000"), 0, false, false),
            Ok(text("2024-01-02 03:04:05"))
        );
        assert!(convert_temporal(owned("2024-01-02 03:04:05.1"), 0, false, false).is_err());
        assert!(convert_temporal(owned("infinity"), 0, false, false).is_err());
        assert!(convert_temporal(owned("0044-03-15 BC"), 0, false, false).is_err());
        assert!(convert_temporal(owned("10000-01-01"), 0, false, false).is_err());
        assert!(convert_temporal(owned("2040-01-01 00:00:00"), 0, false, true).is_err());
        assert!(convert_temporal(owned("1970-01-01 00:00:00"), 0, false, true).is_err());
        assert!(convert_temporal(owned("2038-01-19 03:14:07.5"), 1, false, true).is_ok());
    }

    #[test]
    fn timetz_is_normalised_to_utc() {
        assert_eq!(
            convert_timetz(b"12:34:56.789+05:30", 6),
            Ok(text("07:04:56.789"))
        );
        assert_eq!(convert_timetz(b"23:00:00-02", 0), Ok(text("01:00:00")));
        assert_eq!(convert_timetz(b"01:00:00+02", 0), Ok(text("23:00:00")));
        assert_eq!(convert_timetz(b"24:00:00+00", 0), Ok(text("24:00:00")));
        assert_eq!(
            convert_timetz(b"00:00:00+00:00:30", 0),
            Ok(text("23:59:30"))
        );
        assert!(convert_timetz(b"12:00:00.5+00", 0).is_err());
    }

    #[test]
    fn intervals_into_time() {
        assert_eq!(
            convert_interval_to_time(b"P1DT2H3M4.5S", 6),
            Ok(text("26:03:04.5"))
        );
        assert_eq!(
            convert_interval_to_time(b"PT-1H-30M", 0),
            Ok(text("-01:30:00"))
        );
        assert_eq!(convert_interval_to_time(b"PT0S", 0), Ok(text("00:00:00")));
        assert_eq!(
            convert_interval_to_time(b"P0Y0M1DT-0.000001S", 6),
            Ok(text("23:59:59.999999"))
        );
        assert!(
            convert_interval_to_time(b"P1M", 0)
                .unwrap_err()
                .contains("months")
        );
        assert!(convert_interval_to_time(b"P35D", 0).is_err());
        assert!(convert_interval_to_time(b"PT838H59M59S", 0).is_ok());
        assert!(convert_interval_to_time(b"PT1.5S", 0).is_err());
    }
}
