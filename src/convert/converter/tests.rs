//! Unit tests of `converter.rs`.

use super::*;

fn convert(source: &PgKind, target: &str, raw: &str) -> Result<Value<'static>, String> {
    let converter = Converter::choose(source, &MySqlType::parse(target))?;
    converter.convert(Cow::Owned(raw.as_bytes().to_vec()))
}

fn text(value: &str) -> Value<'static> {
    Value::Text(Cow::Owned(value.as_bytes().to_vec()))
}

fn binary(bytes: &[u8]) -> Value<'static> {
    Value::Binary(Cow::Owned(bytes.to_vec()))
}

#[test]
fn varchar_length_is_counted_in_characters() {
    assert_eq!(convert(&PgKind::Text, "varchar(3)", "äöü"), Ok(text("äöü")));
    assert!(
        convert(&PgKind::Text, "varchar(3)", "abcd")
            .unwrap_err()
            .contains("4 characters")
    );
    assert!(
        convert(&PgKind::Text, "tinytext", &"é".repeat(128))
            .unwrap_err()
            .contains("256 bytes")
    );
}

#[test]
fn utf8mb3_targets_refuse_characters_beyond_the_bmp() {
    let converter = Converter::choose(&PgKind::Text, &MySqlType::parse("varchar(10)"))
        .unwrap()
        .for_charset(Some("utf8mb3"));
    assert!(converter.convert(Cow::Borrowed("é€".as_bytes())).is_ok());
    assert!(converter.convert(Cow::Borrowed("🦀".as_bytes())).is_err());
}

#[test]
fn integers_are_range_checked_only_when_narrower() {
    assert_eq!(
        Converter::choose(&PgKind::Integer, &MySqlType::parse("int(11)")),
        Ok(VERBATIM)
    );
    assert_eq!(
        convert(&PgKind::Integer, "smallint", "32767"),
        Ok(text("32767"))
    );
    assert!(convert(&PgKind::Integer, "smallint", "32768").is_err());
    assert!(convert(&PgKind::BigInt, "int unsigned", "-1").is_err());
    assert_eq!(
        convert(&PgKind::BigInt, "bigint unsigned", "9223372036854775807"),
        Ok(text("9223372036854775807"))
    );
    assert!(convert(&PgKind::BigInt, "double", "9007199254740993").is_err());
    assert!(convert(&PgKind::Numeric, "tinyint unsigned", "12.5").is_err());
}

#[test]
fn floats_refuse_nan_and_infinity() {
    assert!(convert(&PgKind::Double, "double", "NaN").is_err());
    assert!(convert(&PgKind::Double, "double", "-Infinity").is_err());
    assert_eq!(convert(&PgKind::Double, "double", "-0"), Ok(text("-0")));
    assert!(convert(&PgKind::Double, "float", "0.1").is_err());
    assert_eq!(convert(&PgKind::Real, "float", "0.5"), Ok(text("5e-1")));
    assert!(convert(&PgKind::Money, "decimal(10,2)", "12.34").is_ok());
    // A float's shortest text must fit the DECIMAL exactly.
    assert_eq!(
        convert(&PgKind::Double, "decimal(10,2)", "19.99"),
        Ok(text("19.99"))
    );
    assert!(convert(&PgKind::Double, "decimal(10,2)", "0.30000000000000004").is_err());
}

#[test]
fn bytea_uuid_and_bits_become_raw_bytes() {
    assert_eq!(
        convert(&PgKind::Bytea, "blob", "\\x00ff"),
        Ok(binary(&[0, 255]))
    );
    assert!(convert(&PgKind::Bytea, "binary(4)", "\\x00ff").is_err());
    assert_eq!(
        convert(
            &PgKind::Uuid,
            "binary(16)",
            "00112233-4455-6677-8899-aabbccddeeff"
        ),
        Ok(Value::Binary(Cow::Owned(
            (0..16).map(|index| index * 0x11).collect()
        )))
    );
    assert_eq!(
        convert(&PgKind::Bit, "bit(10)", "1100000101"),
        Ok(binary(&[3, 5]))
    );
    assert_eq!(convert(&PgKind::Bit, "bit(4)", "00101"), Ok(binary(&[5])));
    assert!(convert(&PgKind::Bit, "bit(4)", "10101").is_err());
    assert_eq!(convert(&PgKind::Boolean, "bit(1)", "t"), Ok(binary(&[1])));
    assert!(Converter::choose(&PgKind::Bytea, &MySqlType::parse("text")).is_err());
}

#[test]
fn enums_are_checked_for_membership() {
    let source = PgKind::Enum(vec!["owner".into(), "member".into()]);
    assert_eq!(
        convert(&source, "enum('owner','member')", "owner"),
        Ok(text("owner"))
    );
    assert!(convert(&source, "enum('owner')", "member").is_err());
    assert!(convert(&source, "enum('Owner')", "owner").is_err());
}

/// A night records a fingerprint of each column's converter (its `Debug`
/// text) and compares it the next night, in another process: the same
/// column must print the same, whatever order a set iterates in (issue 26:
/// a `HashSet` of labels reloaded every table with an enum every night).
#[test]
fn an_enum_converter_prints_the_same_in_every_process() {
    let labels: Vec<String> = (0..40).map(|n| format!("state{n}")).collect();
    let quoted: Vec<String> = labels.iter().map(|label| format!("'{label}'")).collect();
    let target = MySqlType::parse(&format!("enum({})", quoted.join(",")));
    let source = PgKind::Enum(labels);
    let printed: Vec<String> = (0..5)
        .map(|_| format!("{:?}", Converter::choose(&source, &target).unwrap()))
        .collect();
    assert!(
        printed.windows(2).all(|pair| pair[0] == pair[1]),
        "{printed:?}"
    );
}

#[test]
fn every_type_has_a_text_form_but_only_text_targets_take_it() {
    for kind in [PgKind::Other, PgKind::Interval, PgKind::Range, PgKind::Date] {
        assert_eq!(
            Converter::choose(&kind, &MySqlType::parse("varchar(20)")),
            Ok(Converter::Text {
                max_chars: Some(20),
                max_bytes: None,
                bmp_only: false
            })
        );
    }
    assert!(
        Converter::choose(&PgKind::Other, &MySqlType::parse("int"))
            .unwrap_err()
            .contains("text form")
    );
    assert!(Converter::choose(&PgKind::Bytea, &MySqlType::parse("int")).is_err());
    assert!(Converter::choose(&PgKind::Text, &MySqlType::parse("json")).is_err());
    assert_eq!(
        Converter::choose(&PgKind::Composite, &MySqlType::Json),
        Ok(VERBATIM)
    );
}
