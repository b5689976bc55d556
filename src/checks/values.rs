//! The value checks: for each column, the SQL predicates (over the source
//! table) true for a value its converter would refuse. Pure: SQL text from
//! the plan, nothing run here. An exhaustive match on the converter, so a
//! new converter does not compile until its check exists.

use crate::column_types::PgKind;
use crate::convert::converter::Converter;
use crate::plan::{ColumnPlan, TablePlan};
use crate::postgres::sql::quote_identifier;

use super::numbers::{float_predicate, fraction_predicate, number_predicate};

/// Postgres stores no field larger than 1 GB.
const POSTGRES_MAX_FIELD: u64 = 1 << 30;

/// One predicate over a table's rows: true for a row the copy would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueCheck {
    /// index into the table plan's columns
    pub column: usize,
    /// SQL predicate over the source table
    pub predicate: String,
    /// what is wrong with a matching row
    pub detail: String,
}

/// The value checks for every column of a table.
#[must_use]
pub fn value_checks(plan: &TablePlan) -> Vec<ValueCheck> {
    let mut checks = Vec::new();
    // A masked column's source values are never loaded (the masked ones
    // are: `plan::masking` checks they fit), nor shown.
    for (index, column) in plan.columns.iter().enumerate() {
        if column.mask.is_some() {
            continue;
        }
        for (predicate, detail) in column_predicates(column) {
            checks.push(ValueCheck {
                column: index,
                predicate,
                detail,
            });
        }
    }
    checks
}

/// The copied text of a column, as COPY prints it (`concat` calls the
/// type's output function, so char(n) keeps its padding, unlike `::text`).
pub(super) fn copied_text(column: &ColumnPlan) -> String {
    format!("concat({})", copied_value(column))
}

pub(super) fn copied_value(column: &ColumnPlan) -> String {
    column.expression.apply(&quote_identifier(&column.source))
}

/// (predicate, detail) pairs for one column.
fn column_predicates(column: &ColumnPlan) -> Vec<(String, String)> {
    let value = copied_value(column);
    let text = copied_text(column);
    let is_numeric = matches!(column.source_kind, PgKind::Numeric | PgKind::Money);
    let is_float = matches!(column.source_kind, PgKind::Real | PgKind::Double);
    let not_finite = format!("({value})::text IN ('NaN', 'Infinity', '-Infinity')");
    let mut checks = Vec::new();
    if column.source_kind == PgKind::Array {
        // array_to_json drops lower bounds: '[0:1]={a,b}' would arrive as ["a","b"].
        checks.push((
            format!(
                "array_dims({}) !~ '^(\\[1:[0-9]+\\])+$'",
                quote_identifier(&column.source)
            ),
            "array with lower bounds other than 1, which JSON cannot keep".to_string(),
        ));
    }
    match &column.converter {
        Converter::Text {
            max_chars,
            max_bytes,
            bmp_only,
        } => text_predicates(
            column,
            &text,
            *max_chars,
            *max_bytes,
            *bmp_only,
            &mut checks,
        ),
        Converter::Integer { .. } | Converter::Decimal { .. } | Converter::Year { .. } => {
            checks.extend(number_predicate(
                &column.converter,
                &value,
                &not_finite,
                is_numeric,
                is_float,
            ));
        }
        Converter::Float {
            single_precision,
            source,
        } => checks.push(float_predicate(
            &value,
            &not_finite,
            *single_precision,
            *source,
            is_numeric || is_float,
        )),
        Converter::EnumLabel { labels } => {
            checks.extend(enum_predicate(column, &value, &text, labels));
        }
        Converter::Bytea { .. } | Converter::Bits { .. } => {
            binary_predicates(&column.converter, &value, &mut checks);
        }
        Converter::Temporal {
            fsp,
            strip_utc_offset,
            timestamp_range,
        } => temporal_predicates(
            column,
            &value,
            *fsp,
            *strip_utc_offset,
            *timestamp_range,
            &mut checks,
        ),
        Converter::Time { fsp } | Converter::Timetz { fsp } | Converter::IntervalTime { fsp } => {
            checks.extend(time_predicate(&column.converter, &value, *fsp));
        }
        Converter::JsonDoubles => checks.push((
            format!(
                "EXISTS (SELECT 1 FROM jsonb_path_query(({value})::jsonb, \
                 'strict $.** ? (@.type() == \"number\")') AS n(v) \
                 WHERE CASE WHEN abs(v::text::numeric) > 1.7976931348623157e308 THEN true \
                 ELSE (v::text::float8)::text::numeric <> v::text::numeric END)"
            ),
            "a JSON number a double cannot hold exactly (the target keeps JSON numbers as doubles)"
                .to_string(),
        )),
        Converter::Boolean | Converter::BooleanBit | Converter::UuidBinary => {}
    }
    checks
}

/// bytea lengths and the bits a BIT value needs.
fn binary_predicates(converter: &Converter, value: &str, checks: &mut Vec<(String, String)>) {
    match converter {
        Converter::Bytea { exact, max } => {
            if let Some(exact) = exact {
                checks.push((
                    format!("octet_length({value}) <> {exact}"),
                    format!("not exactly {exact} bytes"),
                ));
            }
            if let Some(max) = max {
                checks.push((
                    format!("octet_length({value}) > {max}"),
                    format!("longer than {max} bytes"),
                ));
            }
        }
        Converter::Bits { width } => checks.push((
            format!("length(ltrim(({value})::text, '0')) > {width}"),
            format!("a value needing more than {width} bits"),
        )),
        _ => {}
    }
}

/// time, timetz and interval into TIME: fractional digits, and for an
/// interval months, years and TIME's range.
fn time_predicate(converter: &Converter, value: &str, fsp: u8) -> Option<(String, String)> {
    let fraction = fraction_predicate(value, fsp);
    if !matches!(converter, Converter::IntervalTime { .. }) {
        return fraction.map(|predicate| {
            (
                predicate,
                format!("more than {fsp} fractional second digits"),
            )
        });
    }
    let mut predicate = format!(
        "extract(year FROM {value}) <> 0 OR extract(month FROM {value}) <> 0 \
         OR abs(extract(epoch FROM {value})) > 3020399"
    );
    if let Some(fraction) = fraction {
        predicate = format!("{predicate} OR {fraction}");
    }
    Some((
        predicate,
        format!("months, years, more than ±838:59:59, or more than {fsp} fractional digits"),
    ))
}

fn text_predicates(
    column: &ColumnPlan,
    text: &str,
    max_chars: Option<u64>,
    max_bytes: Option<u64>,
    bmp_only: bool,
    checks: &mut Vec<(String, String)>,
) {
    // Skip what the source type already guarantees: varchar(n) into n or
    // more characters (or 4n bytes), anything into a type holding more
    // than Postgres' 1 GB field limit.
    let longest = column.source_max_chars.map(u64::from);
    let max_chars = max_chars.filter(|limit| longest.is_none_or(|n| n > *limit));
    let max_bytes = max_bytes
        .filter(|limit| *limit < POSTGRES_MAX_FIELD && longest.is_none_or(|n| n * 4 > *limit));
    if let Some(limit) = max_chars {
        checks.push((
            format!("char_length({text}) > {limit}"),
            format!("longer than {limit} characters"),
        ));
    }
    if let Some(limit) = max_bytes {
        checks.push((
            format!("octet_length({text}) > {limit}"),
            format!("longer than {limit} bytes"),
        ));
    }
    if bmp_only {
        checks.push((
            format!("{text} ~ '[\\U00010000-\\U0010FFFF]'"),
            "characters beyond U+FFFF (emoji), which utf8mb3 cannot hold".to_string(),
        ));
    }
}

/// A source enum: only its labels the target lacks are looked for. Text:
/// every value must be a target label.
fn enum_predicate(
    column: &ColumnPlan,
    value: &str,
    text: &str,
    labels: &std::collections::BTreeSet<Vec<u8>>,
) -> Option<(String, String)> {
    if let PgKind::Enum(source_labels) = &column.source_kind {
        let missing: Vec<String> = source_labels
            .iter()
            .filter(|label| !labels.contains(label.as_bytes()))
            .cloned()
            .collect();
        return (!missing.is_empty()).then(|| {
            (
                format!("({value})::text IN ({})", literal_list(&missing)),
                "enum label the target ENUM lacks".to_string(),
            )
        });
    }
    let mut accepted: Vec<String> = labels
        .iter()
        .map(|label| String::from_utf8_lossy(label).into_owned())
        .collect();
    accepted.sort();
    Some((
        format!("{text} NOT IN ({})", literal_list(&accepted)),
        "not a label of the target ENUM".to_string(),
    ))
}

fn temporal_predicates(
    column: &ColumnPlan,
    value: &str,
    fsp: u8,
    strip_utc_offset: bool,
    timestamp_range: bool,
    checks: &mut Vec<(String, String)>,
) {
    let literal_type = if strip_utc_offset {
        "timestamptz"
    } else {
        "timestamp"
    };
    let utc = if strip_utc_offset { "+00" } else { "" };
    checks.push((
        format!(
            "NOT isfinite({value}) OR {value} < '0001-01-01 00:00:00{utc}'::{literal_type} \
             OR {value} >= '10000-01-01 00:00:00{utc}'::{literal_type}"
        ),
        "infinity, a BC date or a year beyond 9999".to_string(),
    ));
    if column.source_kind != PgKind::Date
        && let Some(predicate) = fraction_predicate(value, fsp)
    {
        checks.push((
            predicate,
            format!("more than {fsp} fractional second digits"),
        ));
    }
    if timestamp_range {
        checks.push((
            format!(
                "{value} < '1970-01-01 00:00:01{utc}'::{literal_type} \
                 OR {value} >= '2038-01-19 03:14:08{utc}'::{literal_type}"
            ),
            "outside TIMESTAMP's range 1970-01-01 00:00:01 .. 2038-01-19 03:14:07 UTC".to_string(),
        ));
    }
}

/// `'a', 'b''c'` for an SQL IN list (standard_conforming_strings is on in
/// every supported Postgres).
pub(super) fn literal_list(values: &[String]) -> String {
    values
        .iter()
        .map(|value| format!("'{}'", value.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column_types::{MySqlType, SourceExpression};
    use crate::plan::MatchRule;

    fn column(kind: PgKind, target: &str) -> ColumnPlan {
        let target_kind = MySqlType::parse(target);
        ColumnPlan {
            source: "c".into(),
            source_type: "t".into(),
            expression: SourceExpression::choose(&kind, &target_kind),
            converter: Converter::choose(&kind, &target_kind).unwrap(),
            source_kind: kind,
            source_max_chars: None,
            target: "c".into(),
            target_type: target.into(),
            rule: MatchRule::Exact,
            mask: None,
        }
    }

    #[test]
    fn predicates_follow_the_converter() {
        let predicates = column_predicates(&column(PgKind::Char, "varchar(5)"));
        assert_eq!(predicates[0].0, "char_length(concat(\"c\")) > 5");
        let predicates = column_predicates(&column(PgKind::Integer, "smallint unsigned"));
        assert_eq!(
            predicates[0].0,
            "(\"c\")::numeric < 0 OR (\"c\")::numeric > 65535"
        );
        assert!(column_predicates(&column(PgKind::Integer, "int")).is_empty());
        assert!(column_predicates(&column(PgKind::Text, "longtext")).is_empty());
        let mut bounded = column(PgKind::Text, "varchar(40)");
        bounded.source_max_chars = Some(40);
        assert!(
            column_predicates(&bounded).is_empty(),
            "varchar(40) fits 40"
        );
        bounded.source_max_chars = Some(41);
        assert_eq!(column_predicates(&bounded).len(), 1);
        let enum_column = column(PgKind::Enum(vec!["a".into(), "it's".into()]), "enum('a')");
        assert_eq!(
            column_predicates(&enum_column)[0].0,
            "(\"c\")::text IN ('it''s')"
        );
        let money = column_predicates(&column(PgKind::Money, "decimal(6,2)"));
        assert!(
            money[0].0.contains("abs((\"c\"::numeric)::numeric) >= 1e4"),
            "{money:?}"
        );
        let timestamp = column_predicates(&column(PgKind::Timestamptz, "timestamp(3)"));
        assert_eq!(timestamp.len(), 3, "{timestamp:?}");
        assert!(timestamp[1].0.contains("% 1000 <> 0"));
    }
}
