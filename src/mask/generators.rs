//! The generators: each a pure function of (key, value) through keyed
//! hashing (HMAC-SHA-256), never a random seed, so an unchanged source
//! value gives a byte-identical masked value night after night, and the
//! same value through the same generator gives the same output in every
//! table (joins on masked columns still join). Values are Postgres COPY
//! text in and out: the column's converter then checks the masked value
//! fits its target column, as it would a source value.

use ring::hmac;

use super::names::{FIRST_NAMES, LAST_NAMES};

/// A masking generator, as a rule names it.
#[derive(Debug, Clone, PartialEq)]
pub enum Generator {
    /// a plausible address; distinct inputs give distinct outputs (64
    /// keyed bits in the local part; checked on the snapshot for keys)
    Email,
    /// a first name from a list
    FirstName,
    /// a last name from a list
    LastName,
    /// a first and a last name
    FullName,
    /// `+1 555 NNN NNNN`
    Phone,
    /// letters for letters and digits for digits, the same length
    Text,
    /// the keyed digest in hex, cut to the column's length
    Hash,
    /// NULL
    Null,
    /// this value for every non-NULL one
    Const(String),
    /// a date or timestamp moved by up to this many days, one shift per
    /// value
    DateShift(u32),
    /// a number moved by up to this many percent, one factor per value
    NumberNoise(f64),
}

/// The longest email the generator makes: the longest names, two dots,
/// 16 hex digits and `@example.com`.
fn email_max() -> usize {
    longest(FIRST_NAMES) + 1 + longest(LAST_NAMES) + 1 + 16 + "@example.com".len()
}

fn longest(names: &[&str]) -> usize {
    names.iter().map(|name| name.len()).max().unwrap_or(0)
}

impl Generator {
    /// Parses `name` or `name(ARGUMENT)`.
    pub fn parse(text: &str) -> Result<Generator, String> {
        let text = text.trim();
        let (name, argument) = match text.split_once('(') {
            Some((name, rest)) => {
                let Some(argument) = rest.strip_suffix(')') else {
                    return Err(format!("generator {text:?} lacks its closing parenthesis"));
                };
                (name.trim(), Some(argument.trim()))
            }
            None => (text, None),
        };
        let number = |what: &str| -> Result<f64, String> {
            argument
                .and_then(|argument| argument.parse::<f64>().ok())
                .filter(|value| value.is_finite() && *value > 0.0)
                .ok_or_else(|| format!("{name}({what}) needs a positive number, not {text:?}"))
        };
        let generator = match (name, argument) {
            ("email", None) => Generator::Email,
            ("first_name", None) => Generator::FirstName,
            ("last_name", None) => Generator::LastName,
            ("full_name", None) => Generator::FullName,
            ("phone", None) => Generator::Phone,
            ("text", None) => Generator::Text,
            ("hash", None) => Generator::Hash,
            ("null", None) => Generator::Null,
            ("const", Some(value)) => Generator::Const(unquote(value).to_string()),
            ("date_shift", Some(_)) => {
                let days = number("DAYS")?;
                if days.fract() != 0.0 || days > 36_500.0 {
                    return Err(format!(
                        "date_shift(DAYS) needs whole days up to 36500, not {text:?}"
                    ));
                }
                #[expect(clippy::cast_sign_loss, reason = "checked positive and whole above")]
                Generator::DateShift(days as u32)
            }
            ("number_noise", Some(_)) => {
                let percent = number("PERCENT")?;
                if percent > 100.0 {
                    return Err(format!(
                        "number_noise(PERCENT) takes at most 100, not {text:?}"
                    ));
                }
                Generator::NumberNoise(percent)
            }
            _ => {
                return Err(format!(
                    "unknown generator {text:?} (email, first_name, last_name, full_name, phone, text, hash, null, const(VALUE), date_shift(DAYS), number_noise(PERCENT))"
                ));
            }
        };
        Ok(generator)
    }

    /// The name a rule gives it, for reports.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Generator::Email => "email".into(),
            Generator::FirstName => "first_name".into(),
            Generator::LastName => "last_name".into(),
            Generator::FullName => "full_name".into(),
            Generator::Phone => "phone".into(),
            Generator::Text => "text".into(),
            Generator::Hash => "hash".into(),
            Generator::Null => "null".into(),
            Generator::Const(value) => format!("const({value})"),
            Generator::DateShift(days) => format!("date_shift({days})"),
            Generator::NumberNoise(percent) => format!("number_noise({percent})"),
        }
    }

    /// It needs the secret key (all but `null` and `const`).
    #[must_use]
    pub fn needs_key(&self) -> bool {
        !matches!(self, Generator::Null | Generator::Const(_))
    }

    /// It keeps distinct inputs distinct, so a key column may use it:
    /// `email`, and `hash` of at least 32 hex digits (128 bits); the
    /// snapshot check then proves it on the data.
    #[must_use]
    pub fn injective(&self, hash_length: usize) -> bool {
        match self {
            Generator::Email => true,
            Generator::Hash => hash_length >= 32,
            _ => false,
        }
    }

    /// The most characters it writes (`None`: as many as the input).
    #[must_use]
    pub fn max_chars(&self, hash_length: usize) -> Option<usize> {
        match self {
            Generator::Email => Some(email_max()),
            Generator::FirstName => Some(longest(FIRST_NAMES)),
            Generator::LastName => Some(longest(LAST_NAMES)),
            Generator::FullName => Some(longest(FIRST_NAMES) + 1 + longest(LAST_NAMES)),
            Generator::Phone => Some("+1 555 000 0000".len()),
            Generator::Hash => Some(hash_length),
            Generator::Null => Some(0),
            Generator::Const(value) => Some(value.chars().count()),
            Generator::Text | Generator::DateShift(_) | Generator::NumberNoise(_) => None,
        }
    }
}

/// `'value'` or `"value"` → `value`.
fn unquote(value: &str) -> &str {
    for quote in ['\'', '"'] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// The keyed pseudo-random function: HMAC-SHA-256 over the generator's
/// domain, a separator and the value.
fn prf(key: &hmac::Key, domain: &[u8], value: &[u8]) -> [u8; 32] {
    let mut context = hmac::Context::with_key(key);
    context.update(domain);
    context.update(&[0]);
    context.update(value);
    let tag = context.sign();
    let mut out = [0; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

fn number_of(bytes: &[u8]) -> u64 {
    let mut eight = [0; 8];
    eight.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(eight)
}

fn pick<'a>(names: &[&'a str], digest: &[u8]) -> &'a str {
    let count = u64::try_from(names.len()).unwrap_or(1);
    names[usize::try_from(number_of(digest) % count).unwrap_or(0)]
}

/// Masks one non-NULL value (COPY text, decoded); `None`: NULL.
/// `hash_length`: the hex digits `hash` writes.
#[must_use]
pub fn mask(
    generator: &Generator,
    key: &hmac::Key,
    hash_length: usize,
    value: &[u8],
) -> Option<Vec<u8>> {
    let out = match generator {
        Generator::Email => {
            let digest = prf(key, b"email", value);
            let first = pick(FIRST_NAMES, &digest[8..16]).to_ascii_lowercase();
            let last = pick(LAST_NAMES, &digest[16..24]).to_ascii_lowercase();
            let tag = crate::digest::hex(&digest[..8]);
            format!("{first}.{last}.{tag}@example.com").into_bytes()
        }
        Generator::FirstName => pick(FIRST_NAMES, &prf(key, b"first_name", value)).into(),
        Generator::LastName => pick(LAST_NAMES, &prf(key, b"last_name", value)).into(),
        Generator::FullName => {
            let digest = prf(key, b"full_name", value);
            let first = pick(FIRST_NAMES, &digest[..8]);
            let last = pick(LAST_NAMES, &digest[8..16]);
            format!("{first} {last}").into_bytes()
        }
        Generator::Phone => {
            let number = number_of(&prf(key, b"phone", value)) % 10_000_000;
            format!("+1 555 {:03} {:04}", number / 10_000, number % 10_000).into_bytes()
        }
        Generator::Text => same_shape(key, value),
        Generator::Hash => {
            let digest = crate::digest::hex(&prf(key, b"hash", value));
            digest.as_bytes()[..hash_length.min(digest.len())].to_vec()
        }
        Generator::Null => return None,
        Generator::Const(constant) => constant.as_bytes().to_vec(),
        Generator::DateShift(days) => shift_date(key, *days, value),
        Generator::NumberNoise(percent) => noise(key, *percent, value),
    };
    Some(out)
}

/// Letters for letters (case kept), digits for digits, everything else
/// kept; one character for each, so the value keeps its length in
/// characters (ASCII letters replace any letters: bytes may shrink).
fn same_shape(key: &hmac::Key, value: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(value);
    let mut out = Vec::with_capacity(value.len());
    let mut block = [0u8; 32];
    let mut block_index = 0u64;
    for (position, character) in text.chars().enumerate() {
        let within = position % 32;
        if within == 0 {
            let mut seed = value.to_vec();
            seed.extend_from_slice(&block_index.to_be_bytes());
            block = prf(key, b"text", &seed);
            block_index += 1;
        }
        let byte = block[within];
        let replaced = if character.is_alphabetic() {
            let letter = b'a' + byte % 26;
            if character.is_uppercase() {
                letter.to_ascii_uppercase()
            } else {
                letter
            }
        } else if character.is_ascii_digit() {
            b'0' + byte % 10
        } else {
            let mut buffer = [0; 4];
            out.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
            continue;
        };
        out.push(replaced);
    }
    out
}

/// A date or timestamp (`YYYY-MM-DD…`) moved by a whole number of days in
/// −days..=−1 or 1..=days, from the keyed digest of the whole value; the time of day
/// and zone kept. Text that is not such a date (`infinity`) is kept.
fn shift_date(key: &hmac::Key, days: u32, value: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(value);
    let Some(date) = text
        .get(..10)
        .and_then(|head| head.parse::<jiff::civil::Date>().ok())
    else {
        return value.to_vec();
    };
    // Never 0 (that would leave the value as it was): −days..=−1, 1..=days.
    let span = u64::from(days) * 2;
    let drawn = i64::try_from(number_of(&prf(key, b"date_shift", value)) % span).unwrap_or(0);
    let offset = if drawn < i64::from(days) {
        drawn - i64::from(days)
    } else {
        drawn - i64::from(days) + 1
    };
    match date.checked_add(jiff::Span::new().days(offset)) {
        Ok(shifted) => format!("{shifted}{}", &text[10..]).into_bytes(),
        Err(_) => value.to_vec(),
    }
}

/// A number moved by a factor in 1 ± percent/100, from the keyed digest
/// of the value, written with as many fractional digits as it had (an
/// integer stays one). Text that is not a plain number (`NaN`) is kept.
fn noise(key: &hmac::Key, percent: f64, value: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(value);
    let Ok(number) = text.parse::<f64>() else {
        return value.to_vec();
    };
    if !number.is_finite() || text.contains(['e', 'E']) {
        return value.to_vec();
    }
    #[expect(
        clippy::cast_precision_loss,
        reason = "a fraction in 0..1 is enough here"
    )]
    let unit = number_of(&prf(key, b"number_noise", value)) as f64 / u64::MAX as f64;
    let factor = 1.0 + (unit * 2.0 - 1.0) * percent / 100.0;
    let scale = text
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.len());
    format!("{:.*}", scale, number * factor).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, b"a test key of enough bytes")
    }

    fn masked(generator: &str, value: &str) -> String {
        let generator = Generator::parse(generator).unwrap();
        String::from_utf8(mask(&generator, &key(), 64, value.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn generators_are_functions_of_key_and_value() {
        for generator in ["email", "first_name", "full_name", "phone", "text", "hash"] {
            assert_eq!(
                masked(generator, "Ada"),
                masked(generator, "Ada"),
                "{generator}"
            );
            assert_ne!(
                masked(generator, "Ada Lovelace"),
                "Ada Lovelace",
                "{generator}"
            );
        }
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"another key of enough bytes");
        let email = Generator::Email;
        assert_ne!(
            mask(&email, &key(), 64, b"a@b.c"),
            mask(&email, &other, 64, b"a@b.c")
        );
    }

    #[test]
    fn emails_look_like_emails_and_fit_their_bound() {
        let email = masked("email", "someone@example.org");
        assert!(
            email.ends_with("@example.com") && email.contains('.'),
            "{email}"
        );
        assert!(email.len() <= email_max(), "{email}");
        assert_eq!(email_max(), 44);
        assert_ne!(masked("email", "a@x.org"), masked("email", "b@x.org"));
    }

    #[test]
    fn text_keeps_the_shape() {
        let text = masked("text", "Élan 42, Oslo");
        assert_eq!(text.chars().count(), "Élan 42, Oslo".chars().count());
        assert_eq!(&text[4..5], " ");
        assert!(text.chars().nth(5).unwrap().is_ascii_digit(), "{text}");
        assert!(text.chars().next().unwrap().is_ascii_uppercase(), "{text}");
        let long = "x".repeat(100);
        assert_eq!(masked("text", &long).len(), 100);
    }

    #[test]
    fn dates_and_numbers_move_within_their_bounds() {
        let shifted = masked("date_shift(30)", "2024-03-15 10:20:30+00");
        assert!(shifted.ends_with(" 10:20:30+00"), "{shifted}");
        let day: jiff::civil::Date = shifted[..10].parse().unwrap();
        let original: jiff::civil::Date = "2024-03-15".parse().unwrap();
        let moved = (day - original).get_days().abs();
        assert!((1..=30).contains(&moved), "{shifted}");
        for day in 1..=28 {
            let date = format!("2024-02-{day:02}");
            assert_ne!(masked("date_shift(1)", &date), date, "never shifted by 0");
        }
        assert_eq!(masked("date_shift(30)", "infinity"), "infinity");

        let number: f64 = masked("number_noise(10)", "1000.00").parse().unwrap();
        assert!((900.0..=1100.0).contains(&number), "{number}");
        assert_eq!(
            masked("number_noise(10)", "1000.00")
                .split('.')
                .nth(1)
                .unwrap()
                .len(),
            2
        );
        assert!(!masked("number_noise(10)", "1000").contains('.'));
    }

    #[test]
    fn rules_name_generators_and_bad_ones_are_refused() {
        assert_eq!(
            Generator::parse("const('x')").unwrap(),
            Generator::Const("x".into())
        );
        assert_eq!(
            Generator::parse("date_shift(7)").unwrap(),
            Generator::DateShift(7)
        );
        assert_eq!(masked("hash", "v").len(), 64);
        assert_eq!(masked("const(REDACTED)", "secret"), "REDACTED");
        for bad in [
            "emails",
            "date_shift(x)",
            "date_shift(1.5)",
            "number_noise(200)",
            "const(x",
        ] {
            assert!(Generator::parse(bad).is_err(), "{bad}");
        }
        assert!(Generator::Email.injective(0));
        assert!(!Generator::Hash.injective(16));
        assert!(!Generator::FirstName.injective(64));
    }
}
