//! The number checks: range, digits, NaN and infinity, floats a target
//! type would not store exactly, fractions a column would round. Pure SQL
//! text.

use crate::convert::converter::Converter;
use crate::convert::number::{FloatSource, YEAR_RANGE};

/// Integers and DECIMAL: range, digits, NaN and infinity (numeric only).
pub(super) fn number_predicate(
    converter: &Converter,
    value: &str,
    not_finite: &str,
    is_numeric: bool,
    is_float: bool,
) -> Option<(String, String)> {
    let is_numeric = is_numeric || is_float;
    // A float's shortest text (extra_float_digits=3) is its exact decimal;
    // float8::numeric would round to 15 digits and hide a difference.
    let number = if is_float {
        format!("({value})::text::numeric")
    } else {
        format!("({value})::numeric")
    };
    match converter {
        Converter::Integer { min, max } => {
            let mut predicate = format!("{number} < {min} OR {number} > {max}");
            if is_numeric {
                predicate = format!("{not_finite} OR {predicate} OR {number} <> trunc({number})");
            }
            Some((predicate, format!("not an integer in {min}..{max}")))
        }
        Converter::Decimal {
            integer_digits,
            scale,
            unsigned,
        } => {
            let mut predicate = format!(
                "abs({number}) >= 1e{integer_digits} OR {number} <> round({number}, {scale})"
            );
            if is_numeric {
                predicate = format!("{not_finite} OR {predicate}");
            }
            if *unsigned {
                predicate = format!("{predicate} OR {number} < 0");
            }
            Some((
                predicate,
                format!(
                    "NaN, infinity, or more than {integer_digits} digits before or {scale} after the point"
                ),
            ))
        }
        Converter::Year { zero } => {
            let (first, last) = (YEAR_RANGE.start(), YEAR_RANGE.end());
            let (zero, detail) = if *zero {
                (
                    format!("{number} = 0 OR "),
                    format!("not a year in {first}..{last}, or 0"),
                )
            } else {
                (
                    String::new(),
                    format!("not a year in {first}..{last} (Dolt stores the year 0 as 2000)"),
                )
            };
            let mut predicate = format!("NOT ({zero}{number} BETWEEN {first} AND {last})");
            if is_numeric {
                predicate = format!("{not_finite} OR {predicate} OR {number} <> trunc({number})");
            }
            Some((predicate, detail))
        }
        _ => None,
    }
}

pub(super) fn float_predicate(
    value: &str,
    not_finite: &str,
    single_precision: bool,
    source: FloatSource,
    may_be_non_finite: bool,
) -> (String, String) {
    let (cast, largest, smallest, target) = if single_precision {
        (
            "float4",
            "3.4028234663852886e38",
            "1.1754943508222875e-38",
            "FLOAT",
        )
    } else {
        (
            "float8",
            "1.7976931348623157e308",
            "2.2250738585072014e-308",
            "DOUBLE",
        )
    };
    let finite = if may_be_non_finite {
        format!("WHEN {not_finite} THEN true ")
    } else {
        String::new()
    };
    // The casts below raise errors out of range: the guards come first.
    let exact_decimal = source == FloatSource::Decimal;
    let narrowed = single_precision && source == FloatSource::Double;
    let changed = if exact_decimal {
        format!("({value})::{cast}::text::numeric <> ({value})::numeric")
    } else if narrowed {
        format!("({value})::float4::float8 <> ({value})")
    } else {
        "false".to_string()
    };
    let guard = if exact_decimal || narrowed {
        format!(
            "WHEN abs(({value})::numeric) > {largest} THEN true \
             WHEN ({value}) <> 0 AND abs(({value})::numeric) < {smallest} THEN true "
        )
    } else {
        String::new()
    };
    (
        format!("CASE {finite}{guard}ELSE {changed} END"),
        format!("NaN, infinity, or a number {target} would not store exactly"),
    )
}

/// True for values with non-zero digits beyond `fsp` fractional digits.
pub(super) fn fraction_predicate(value: &str, fsp: u8) -> Option<String> {
    (fsp < 6).then(|| {
        let unit = 10_i64.pow(6 - u32::from(fsp));
        format!("extract(microseconds FROM {value})::numeric % {unit} <> 0")
    })
}
