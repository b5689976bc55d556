//! Finds, by SQL on the source snapshot and before any data moves, every
//! value the target cannot hold: strings longer than their column, numbers
//! outside a narrower type, NaN and infinity, fractions a column would
//! round, enum labels the target lacks, and distinct values that collide
//! under a target unique key (case-insensitive or PAD SPACE collations).
//!
//! The predicates are built from each column's converter, so a check here
//! and the converter at copy time refuse the same values. Both read the
//! same snapshot: a copy whose checks pass meets no value error later.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use tokio_postgres::Client;

use crate::convert::number::{FloatSource, YEAR_RANGE};
use crate::convert::row::shorten_text;
use crate::convert::value::Converter;
use crate::plan::{ColumnPlan, Problem, ProblemKind, TablePlan};
use crate::postgres::copy::{quote_identifier, table_reference};
use crate::postgres::reader::Reader;
use crate::types::PgKind;

/// Postgres stores no field larger than 1 GB.
const POSTGRES_MAX_FIELD: u64 = 1 << 30;

/// How many offending rows a problem shows.
const EXAMPLES: i64 = 3;

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

/// One target unique key whose values may collide after folding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollisionCheck {
    /// the key's target column names
    pub target_columns: Vec<String>,
    /// the source columns, quoted, in key order
    pub source_columns: Vec<String>,
    /// the folded expressions the target compares, in key order
    pub folded: Vec<String>,
    /// how the target folds them (for the message)
    pub detail: String,
}

/// The value checks for every column of a table.
#[must_use]
pub fn value_checks(plan: &TablePlan) -> Vec<ValueCheck> {
    let mut checks = Vec::new();
    for (index, column) in plan.columns.iter().enumerate() {
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
fn copied_text(column: &ColumnPlan) -> String {
    format!("concat({})", copied_value(column))
}

fn copied_value(column: &ColumnPlan) -> String {
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

/// Integers and DECIMAL: range, digits, NaN and infinity (numeric only).
fn number_predicate(
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
    labels: &std::collections::HashSet<Vec<u8>>,
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

fn float_predicate(
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

/// True for values with non-zero digits beyond `fsp` fractional digits.
fn fraction_predicate(value: &str, fsp: u8) -> Option<String> {
    (fsp < 6).then(|| {
        let unit = 10_i64.pow(6 - u32::from(fsp));
        format!("extract(microseconds FROM {value})::numeric % {unit} <> 0")
    })
}

/// `'a', 'b''c'` for an SQL IN list (standard_conforming_strings is on in
/// every supported Postgres).
fn literal_list(values: &[String]) -> String {
    values
        .iter()
        .map(|value| format!("'{}'", value.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The collision checks for a table: every target unique key whose
/// collation folds case or trailing spaces, or that the source does not
/// enforce itself.
#[must_use]
pub fn collision_checks(plan: &TablePlan) -> Vec<CollisionCheck> {
    let mut checks = Vec::new();
    'keys: for key in &plan.target_table.unique_keys {
        let mut check = CollisionCheck {
            target_columns: key.clone(),
            source_columns: Vec::new(),
            folded: Vec::new(),
            detail: String::new(),
        };
        let mut folds = BTreeSet::new();
        let mut source_names = BTreeSet::new();
        for name in key {
            let Some(column) = plan.columns.iter().find(|column| &column.target == name) else {
                continue 'keys; // a generated or unplanned column: not checkable
            };
            let Some(target) = plan.target_table.columns.iter().find(|c| &c.name == name) else {
                continue 'keys;
            };
            let mut folded = copied_value(column);
            if target.collation.is_some() {
                folded = copied_text(column);
                if target.ignores_case() {
                    folded = format!("lower({folded})");
                    folds.insert(format!(
                        "case ({})",
                        target.collation.as_deref().unwrap_or("")
                    ));
                }
                if target.pads_spaces() {
                    folded = format!("rtrim({folded}, ' ')");
                    folds.insert("trailing spaces".to_string());
                }
            }
            source_names.insert(column.source.clone());
            check.source_columns.push(quote_identifier(&column.source));
            check.folded.push(folded);
        }
        let enforced_by_source =
            plan.source.unique_keys.iter().any(|source_key| {
                source_key.iter().cloned().collect::<BTreeSet<_>>() == source_names
            });
        if folds.is_empty() && enforced_by_source {
            continue;
        }
        check.detail = if folds.is_empty() {
            "duplicate values: the source does not enforce this unique key".to_string()
        } else {
            format!(
                "values collide in this unique key, which ignores {}",
                folds.into_iter().collect::<Vec<_>>().join(" and ")
            )
        };
        checks.push(check);
    }
    checks
}

/// Runs every table's checks on `readers` (each inside the snapshot), the
/// largest tables first; returns the problems found.
pub async fn run_checks(readers: &[Reader], plans: &[TablePlan]) -> anyhow::Result<Vec<Problem>> {
    let mut order: Vec<usize> = (0..plans.len()).collect();
    order.sort_by_key(|&index| std::cmp::Reverse(plans[index].source.estimated_bytes));
    let next = AtomicUsize::new(0);
    let workers = readers.iter().map(|reader| {
        let (order, next) = (&order, &next);
        async move {
            let mut problems = Vec::new();
            loop {
                let position = next.fetch_add(1, Ordering::Relaxed);
                let Some(&index) = order.get(position) else {
                    return Ok::<_, anyhow::Error>(problems);
                };
                problems.extend(check_table(reader, &plans[index]).await?);
            }
        }
    });
    let mut problems = Vec::new();
    for result in futures_util::future::join_all(workers).await {
        problems.extend(result?);
    }
    problems.sort_by(|left, right| {
        (&left.source_table, &left.column).cmp(&(&right.source_table, &right.column))
    });
    Ok(problems)
}

/// One table: one scan counting every value check, then a few example
/// rows per failed check; then each collision check.
async fn check_table(reader: &Client, plan: &TablePlan) -> anyhow::Result<Vec<Problem>> {
    let table = table_reference(
        &plan.source.schema,
        &plan.source.name,
        plan.source.partitioned,
    );
    let mut problems = Vec::new();
    let checks = value_checks(plan);
    if !checks.is_empty() {
        let counts: Vec<String> = checks
            .iter()
            .map(|check| format!("count(*) FILTER (WHERE {})", check.predicate))
            .collect();
        // language=PostgreSQL
        let statement = format!("SELECT {} FROM {table}", counts.join(", "));
        let row = reader
            .query_one(&statement, &[])
            .await
            .map_err(|error| crate::postgres::pg_error(&error))
            .with_context(|| format!("checking the values of {}", plan.source_name))?;
        for (index, check) in checks.iter().enumerate() {
            let rows: i64 = row.get(index);
            if rows == 0 {
                continue;
            }
            let column = &plan.columns[check.column];
            let examples =
                value_examples(reader, plan, &table, &copied_text(column), &check.predicate)
                    .await?;
            problems.push(Problem {
                source_type: Some(column.source_type.clone()),
                target_type: Some(column.target_type.clone()),
                rows: u64::try_from(rows).ok(),
                examples,
                ..Problem::new(ProblemKind::Value, check.detail.clone())
                    .tables(Some(&plan.source_name), Some(&plan.target))
                    .column(format!("{} → {}", column.source, column.target))
            });
        }
    }
    for check in collision_checks(plan) {
        if let Some(problem) = find_collisions(reader, plan, &table, &check).await? {
            problems.push(problem);
        }
    }
    Ok(problems)
}

/// `key='value', …` for a row, as SQL (the copy's own format): the
/// primary key, else the ctid.
fn key_description(plan: &TablePlan) -> String {
    if plan.source.primary_key.is_empty() {
        return "'ctid=' || ctid::text".to_string();
    }
    let parts: Vec<String> = plan
        .source
        .primary_key
        .iter()
        .map(|key| {
            format!(
                "{} || quote_nullable(({})::text)",
                literal_list(&[format!("{key}=")]),
                quote_identifier(key)
            )
        })
        .collect();
    format!("concat_ws(', ', {})", parts.join(", "))
}

async fn value_examples(
    reader: &Client,
    plan: &TablePlan,
    table: &str,
    text: &str,
    predicate: &str,
) -> anyhow::Result<Vec<String>> {
    // language=PostgreSQL
    let statement = format!(
        "SELECT {}, left({text}, 61), char_length({text})::int8 FROM {table} WHERE {predicate} LIMIT {EXAMPLES}",
        key_description(plan)
    );
    let rows = reader
        .query(&statement, &[])
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .with_context(|| format!("finding example rows of {}", plan.source_name))?;
    Ok(rows
        .iter()
        .map(|row| {
            let key: String = row.get(0);
            let head: String = row.get(1);
            let length: i64 = row.get(2);
            let length = usize::try_from(length).unwrap_or(usize::MAX);
            format!("row {key}: value {}", shorten_text(&head, length))
        })
        .collect())
}

async fn find_collisions(
    reader: &Client,
    plan: &TablePlan,
    table: &str,
    check: &CollisionCheck,
) -> anyhow::Result<Option<Problem>> {
    let not_null: Vec<String> = check
        .source_columns
        .iter()
        .map(|column| format!("{column} IS NOT NULL"))
        .collect();
    let mut values: Vec<String> = check
        .source_columns
        .iter()
        .map(|column| format!("quote_nullable(left(concat({column}), 40))"))
        .collect();
    values.push(format!("'(row ' || {} || ')'", key_description(plan)));
    let folded = check.folded.join(", ");
    // language=PostgreSQL
    let statement = format!(
        "SELECT count(*) OVER (), sum(count(*)) OVER ()::int8, \
                array_to_string((array_agg(concat_ws(' ', {}) ORDER BY {}))[1:{EXAMPLES}], ' and ') \
                || CASE WHEN count(*) > {EXAMPLES} THEN ' and ' || (count(*) - {EXAMPLES}) || ' more' ELSE '' END \
         FROM {table} WHERE {} GROUP BY {folded} HAVING count(*) > 1 LIMIT {EXAMPLES}",
        values.join(", "),
        check.source_columns.join(", "),
        not_null.join(" AND "),
    );
    let rows = reader
        .query(&statement, &[])
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .with_context(|| format!("checking unique keys of {}", plan.source_name))?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let groups: i64 = first.get(0);
    let rows_affected: i64 = first.get(1);
    Ok(Some(Problem {
        rows: u64::try_from(rows_affected).ok(),
        examples: rows.iter().map(|row| row.get::<_, String>(2)).collect(),
        ..Problem::new(
            ProblemKind::Collision,
            format!("{} ({groups} colliding groups)", check.detail),
        )
        .tables(Some(&plan.source_name), Some(&plan.target))
        .column(check.target_columns.join(", "))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::MatchRule;
    use crate::types::{MySqlType, SourceExpression};

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
