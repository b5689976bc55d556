//! Unit tests of `number.rs`.

use super::*;

fn text(value: &str) -> Value<'static> {
    Value::Text(Cow::Owned(value.as_bytes().to_vec()))
}

fn owned(value: &str) -> Cow<'static, [u8]> {
    Cow::Owned(value.as_bytes().to_vec())
}

#[test]
fn decimals_compare_by_value() {
    assert_eq!(normalize_decimal("1.50"), normalize_decimal("15e-1"));
    assert_eq!(normalize_decimal("0001.5"), normalize_decimal("1.5"));
    assert_eq!(normalize_decimal("-0"), normalize_decimal("0.000"));
    assert_ne!(normalize_decimal("100"), normalize_decimal("1"));
    assert_eq!(normalize_decimal("1e2"), normalize_decimal("100"));
    assert_eq!(normalize_decimal("abc"), None);
}

#[test]
fn numbers_into_floating_point_must_read_back_the_same() {
    use FloatSource::{Decimal, Double, Real};
    assert_eq!(convert_float(owned("0.1"), false, Decimal), Ok(text("0.1")));
    assert_eq!(
        convert_float(owned("9007199254740992"), false, Decimal),
        Ok(text("9007199254740992"))
    );
    assert!(convert_float(owned("9007199254740993"), false, Decimal).is_err());
    assert!(convert_float(owned("0.1"), true, Decimal).is_ok());
    assert!(convert_float(owned("16777217"), true, Decimal).is_err());
    assert!(convert_float(owned("1e400"), false, Decimal).is_err());
    assert_eq!(
        convert_float(owned("5e-324"), false, Double),
        Ok(text("5e-324"))
    );
    assert_eq!(convert_float(owned("-0"), false, Double), Ok(text("-0")));
    assert!(convert_float(owned("0.1"), true, Double).is_err());
    // A real's exact binary value, widened: FLOAT's largest value is
    // in range, 0.1f stays 0.1f in DOUBLE.
    assert_eq!(
        convert_float(owned("3.4028235e38"), true, Real),
        Ok(text("3.4028234663852886e38"))
    );
    assert_eq!(
        convert_float(owned("0.1"), false, Real),
        Ok(text("1.0000000149011612e-1"))
    );
    assert_eq!(convert_float(owned("-0"), true, Real), Ok(text("-0e0")));
}

#[test]
fn numeric_into_integer_needs_an_integral_value_in_range() {
    assert_eq!(convert_integer(owned("12.000"), 0, 255), Ok(text("12")));
    assert_eq!(convert_integer(owned("-5"), -128, 127), Ok(text("-5")));
    assert!(convert_integer(owned("12.5"), 0, 255).is_err());
    assert!(convert_integer(owned("256"), 0, 255).is_err());
    assert!(convert_integer(owned("123456789012345678901234567890123456789012"), 0, 255).is_err());
    assert!(convert_integer(owned("NaN"), 0, 255).is_err());
}

#[test]
fn json_numbers_must_survive_a_double() {
    assert!(
        json_numbers_as_doubles(
            br#"{"a": [0.1, -2.5e-3, 1234567890123456], "b": "12345678901234567890"}"#
        )
        .is_ok()
    );
    assert!(json_numbers_as_doubles(br#"{"a\"": 1e400}"#).is_err());
    let error = json_numbers_as_doubles(b"[1, 12345678901234567890]").unwrap_err();
    assert!(error.contains("12345678901234567000"), "{error}");
    assert!(json_numbers_as_doubles(b"3.141592653589793238").is_err());
}

#[test]
fn years_keep_1901_to_2155_and_zero_as_0000() {
    assert_eq!(convert_year(owned("1901"), true), Ok(text("1901")));
    assert_eq!(convert_year(owned("2155"), true), Ok(text("2155")));
    assert_eq!(convert_year(owned("1999.000"), true), Ok(text("1999")));
    assert_eq!(convert_year(owned("0"), true), Ok(text("0000")));
    assert!(convert_year(owned("0"), false).is_err(), "Dolt");
    for refused in ["1900", "2156", "1", "99", "-1", "1999.5", "NaN"] {
        assert!(convert_year(owned(refused), true).is_err(), "{refused}");
    }
}

#[test]
fn exponents_are_spelled_out() {
    assert_eq!(plain_decimal("1e-05").as_deref(), Some("0.00001"));
    assert_eq!(
        plain_decimal("-1.5e+16").as_deref(),
        Some("-15000000000000000")
    );
    assert_eq!(plain_decimal("1.25e1").as_deref(), Some("12.5"));
    assert_eq!(plain_decimal("-0e0").as_deref(), Some("0"));
    assert_eq!(
        convert_decimal(owned("1e-05"), 8, 5, false),
        Ok(text("0.00001"))
    );
    assert!(convert_decimal(owned("1e-05"), 8, 2, false).is_err());
}

#[test]
fn decimals_refuse_nan_and_rounding() {
    assert_eq!(
        convert_decimal(owned("-12.34"), 8, 2, false),
        Ok(text("-12.34"))
    );
    assert_eq!(
        convert_decimal(owned("1.500"), 8, 2, false),
        Ok(text("1.50"))
    );
    assert_eq!(convert_decimal(owned("7.000"), 10, 0, false), Ok(text("7")));
    assert!(convert_decimal(owned("1.005"), 8, 2, false).is_err());
    assert!(convert_decimal(owned("123.1"), 2, 2, false).is_err());
    assert!(convert_decimal(owned("NaN"), 8, 2, false).is_err());
    assert!(convert_decimal(owned("-1"), 8, 2, true).is_err());
    let digits38 = "12345678901234567890123456789012345678";
    assert_eq!(
        convert_decimal(owned(digits38), 38, 0, false),
        Ok(text(digits38))
    );
}
