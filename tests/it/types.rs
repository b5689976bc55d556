//! Issue 3, acceptance 1: the type matrix. One Postgres table per type
//! family with edge values (tests/fixtures/types), copied into a schema a
//! person would write for MariaDB, then every value read back from both
//! servers with typed drivers and compared. Where a value has no Rust type
//! on one side, each server prints or computes it itself (Postgres'
//! `to_jsonb`, `extract(epoch …)`, MariaDB's `TIME_TO_SEC`): pg2dolt's own
//! converter is never used to check itself.

use mysql_async::prelude::Queryable as _;
use serde_json::Value as Json;

use crate::support::*;

/// How a column's two sides are read and compared (see `support::ReadAs`).
use ReadAs as Kind;

/// One compared column: the Postgres and the MariaDB select expressions.
struct Column {
    name: &'static str,
    pg: String,
    mysql: String,
    kind: Kind,
}

fn same(name: &'static str, kind: Kind) -> Column {
    let (pg, mysql) = match kind {
        // concat() prints with the type's output function, as psql shows it.
        Kind::Text => (
            format!("CASE WHEN {name} IS NOT NULL THEN concat({name}) END"),
            name.to_string(),
        ),
        Kind::Int | Kind::Micros => (format!("{name}::int8"), name.to_string()),
        Kind::Decimal => (
            format!("{name}::numeric::text"),
            format!("CAST({name} AS CHAR)"),
        ),
        Kind::Float => (format!("{name}::float8"), name.to_string()),
        Kind::Json => (format!("to_jsonb({name})"), name.to_string()),
        // Dates and times as text the server formats: Dolt cannot send a
        // DATE or DATETIME before year 1000 in the binary protocol
        // ("internal value DATE(\"1-01-01\") to MySQL value error").
        Kind::Date => (name.to_string(), format!("DATE_FORMAT({name}, '%Y-%m-%d')")),
        Kind::DateTime => (name.to_string(), datetime_text(name)),
        Kind::Bytes | Kind::Bool | Kind::Time => (name.to_string(), name.to_string()),
    };
    Column {
        name,
        pg,
        mysql,
        kind,
    }
}

/// A DATETIME or TIMESTAMP as `YYYY-MM-DD HH:MM:SS.ffffff`, formatted by
/// the target.
fn datetime_text(expression: &str) -> String {
    format!("DATE_FORMAT({expression}, '%Y-%m-%d %H:%i:%s.%f')")
}

fn custom(name: &'static str, pg: &str, mysql: &str, kind: Kind) -> Column {
    Column {
        name,
        pg: pg.to_string(),
        mysql: mysql.to_string(),
        kind,
    }
}

/// Microseconds of a time-like value, computed by each server.
fn micros(name: &'static str, pg_value: &str) -> Column {
    custom(
        name,
        &format!("(extract(epoch FROM {pg_value}) * 1000000)::int8"),
        name,
        Kind::Micros,
    )
}

fn matrix() -> Vec<(&'static str, Vec<Column>)> {
    use Kind::*;
    vec![
        (
            "texts",
            vec![
                same("t", Text),
                same("vc", Text),
                // char(n)::text and MySQL CHAR both drop the padding.
                // CHAR pads: MySQL and MariaDB strip the padding on read, Dolt keeps it.
                custom("ch", "ch::text", "TRIM(TRAILING ' ' FROM ch)", Text),
                same("ci", Text),
                same("nm", Text),
            ],
        ),
        (
            "integers",
            ["s", "i", "b", "o", "narrow", "unsigned_b"]
                .map(|name| same(name, Int))
                .into(),
        ),
        (
            "numerics",
            ["n38", "n38s", "n", "m", "n_int"]
                .map(|name| same(name, Decimal))
                .into(),
        ),
        ("floats", vec![same("d", Float), same("r", Float)]),
        (
            "booleans",
            vec![
                custom("b", "b::int::int8", "b", Int),
                custom("bit_b", "bit_b::int::int8", "CAST(bit_b AS UNSIGNED)", Int),
            ],
        ),
        ("bytes", vec![same("b", Bytes), same("vb", Bytes)]),
        (
            "temporals",
            vec![
                same("d", Date),
                same("ts", DateTime),
                same("ts0", DateTime),
                same("ts3", DateTime),
                custom(
                    "tstz",
                    "tstz AT TIME ZONE 'UTC'",
                    &datetime_text("tstz"),
                    DateTime,
                ),
                custom(
                    "tstz_in_range",
                    "tstz_in_range AT TIME ZONE 'UTC'",
                    "tstz_in_range",
                    DateTime,
                ),
                micros("t", "t"),
                micros("ttz", "(ttz AT TIME ZONE 'UTC')::time"),
                same("iv", Text),
                micros("iv_time", "iv_time"),
            ],
        ),
        (
            "uuids",
            vec![same("u", Text), custom("ub", "uuid_send(ub)", "ub", Bytes)],
        ),
        ("jsons", vec![same("j", Json), same("jb", Json)]),
        (
            "arrays",
            ["ia", "ta", "nested", "na", "tsa", "ba", "ua"]
                .map(|name| same(name, Json))
                .into(),
        ),
        (
            "user_types",
            vec![
                same("mood", Text),
                same("mood_text", Text),
                same("amount", Int),
                same("mail", Text),
                same("place", Json),
            ],
        ),
        (
            "other_types",
            vec![
                same("r", Text),
                same("tr", Json),
                same("h", Json),
                same("ip", Text),
                same("net", Text),
                same("mac", Text),
                custom("b8", "b8::int::int8", "CAST(b8 AS UNSIGNED)", Int),
                same("vb", Text),
                same("x", Text),
                same("tv", Text),
                same("pt", Text),
                same("bx", Text),
                same("poly", Text),
                same("c", Text),
            ],
        ),
    ]
}

fn short(cell: &Cell) -> String {
    let text = format!("{cell:?}");
    if text.len() > 200 {
        format!("{}… ({} chars)", &text[..200], text.len())
    } else {
        text
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_type_family_arrives_exactly() {
    let sql = std::fs::read_to_string(repo_path("tests/fixtures/types/postgres.sql")).unwrap();
    let case = Case::new("types", &sql).await;
    let schema_dir = repo_path("tests/fixtures/types/mysql-schema");
    // LOAD DATA (the default) and INSERT (the fallback) must store the same
    // values, on every target.
    for target in targets("every_type_family_arrives_exactly") {
        let case = if target.name == "dolt" {
            dolt_refuses_json_numbers_beyond_a_double(&case, &schema_dir, &target.url);
            // The same matrix, with those two values in reach of a double.
            &Case::new("types_dolt", &format!("{sql}\n{DOLT_STORABLE}")).await
        } else {
            &case
        };
        for method in ["load-data", "insert"] {
            let database = format!("{}_{}", case.name, method.replace('-', "_"));
            let report_path = std::env::temp_dir().join(format!("{database}_{}.json", target.name));
            let run = Pg2dolt::new("copy")
                .source(&case.source)
                .target(&target.url)
                .database(&database)
                .schema_dir(&schema_dir)
                .report(&report_path)
                .flag("--load-method", method)
                .run();
            run.assert_success();
            let report = read_report(&report_path);
            let target_url = with_database(&target.url, &database);
            let compared = compare_matrix(&case.source, &target_url, &report).await;
            assert!(
                compared >= 275,
                "{} {method}: compared {compared} values",
                target.name
            );
            spot_check(&mut mysql_connect(&target_url).await).await;
        }
    }
}

/// The matrix's two JSON numbers that a double cannot hold, made ones it can.
const DOLT_STORABLE: &str = "UPDATE jsons SET jb = '1234567890123456' WHERE id = 3; \
     UPDATE arrays SET na = '{1234567890.125}' WHERE id = 3;";

/// Dolt keeps JSON numbers as doubles: the plan refuses, by name and row,
/// the two matrix values that would change.
fn dolt_refuses_json_numbers_beyond_a_double(case: &Case, schema_dir: &std::path::Path, url: &str) {
    let run = Pg2dolt::new("plan")
        .source(&case.source)
        .target(url)
        .schema_dir(schema_dir)
        .flag("--format", "json")
        .run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report: Json = serde_json::from_str(&run.stdout).unwrap();
    let mut refused: Vec<(String, String)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| {
            assert!(
                problem["detail"].as_str().unwrap().contains("double"),
                "{problem}"
            );
            (
                problem["column"].as_str().unwrap().to_string(),
                problem["examples"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    refused.sort();
    assert_eq!(
        refused,
        [
            (
                "jb → jb".to_string(),
                "row id='3': value '12345678901234567890'".to_string()
            ),
            (
                "na → na".to_string(),
                "row id='3': value '[12345678901234567890]'".to_string()
            ),
        ]
    );
}

/// Compares every value of every matrix table; returns how many.
async fn compare_matrix(source_url: &str, target_url: &str, report: &Json) -> usize {
    let source = pg_connect(source_url).await;
    // Intervals are stored as ISO 8601 text: have Postgres print that form.
    source
        .batch_execute("SET IntervalStyle = 'iso_8601'")
        .await
        .unwrap();
    let mut target = mysql_connect(target_url).await;
    target.query_drop("SET time_zone = '+00:00'").await.unwrap();
    let mut compared = 0;
    for (table, columns) in matrix() {
        let reported = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["target"] == table)
            .unwrap_or_else(|| panic!("{table} is not in the report"));
        assert_eq!(
            reported["columns"].as_array().unwrap().len(),
            columns.len() + 1,
            "{table}: every column is copied and compared (and id)"
        );
        let pg_list: Vec<&str> = columns.iter().map(|column| column.pg.as_str()).collect();
        let mysql_list: Vec<&str> = columns.iter().map(|column| column.mysql.as_str()).collect();
        let source_rows = source
            .query(
                &format!("SELECT id, {} FROM {table} ORDER BY id", pg_list.join(", ")),
                &[],
            )
            .await
            .unwrap();
        let target_rows: Vec<mysql_async::Row> = target
            .exec(
                format!(
                    "SELECT id, {} FROM {table} ORDER BY id",
                    mysql_list.join(", ")
                ),
                (),
            )
            .await
            .unwrap();
        assert_eq!(source_rows.len(), target_rows.len(), "{table}: row count");
        for (source_row, target_row) in source_rows.iter().zip(target_rows) {
            let id: i32 = source_row.get(0);
            let values = target_row.unwrap();
            assert_eq!(
                mysql_async::from_value::<i32>(values[0].clone()),
                id,
                "{table}: rows in the same order"
            );
            for (index, column) in columns.iter().enumerate() {
                let expected = pg_cell(source_row, index + 1, column.kind);
                let actual = mysql_cell(values[index + 1].clone(), column.kind);
                assert!(
                    expected == actual,
                    "{table}.{} id={id}: source {} target {}",
                    column.name,
                    short(&expected),
                    short(&actual)
                );
                if id == 99 {
                    assert_eq!(
                        actual,
                        Cell::Null,
                        "{table}.{}: NULL stays NULL",
                        column.name
                    );
                }
                compared += 1;
            }
        }
    }
    compared
}

/// The edge values are really there: checks a reader would make.
async fn spot_check(target: &mut mysql_async::Conn) {
    let (crab, length): (String, u64) = target
        .exec_first(
            "SELECT vc, CHAR_LENGTH(t) FROM texts WHERE id IN (5, 7) ORDER BY id",
            (),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(crab, "🦀".repeat(20));
    let _ = length;
    let big: Option<u64> = target
        .exec_first("SELECT LENGTH(t) FROM texts WHERE id = 7", ())
        .await
        .unwrap();
    assert_eq!(big, Some(1_048_576));
    let all_bytes: Option<Vec<u8>> = target
        .exec_first("SELECT b FROM bytes WHERE id = 1", ())
        .await
        .unwrap();
    assert_eq!(all_bytes, Some((0..=255).collect::<Vec<u8>>()));
    let subnormal: Option<f64> = target
        .exec_first("SELECT d FROM floats WHERE id = 2", ())
        .await
        .unwrap();
    assert_eq!(
        subnormal.map(f64::to_bits),
        Some(1),
        "smallest subnormal double"
    );
    // Read as a TIME value (Dolt's CAST(t AS CHAR) gives NULL).
    let midnight: Option<mysql_async::Value> = target
        .exec_first("SELECT t FROM temporals WHERE id = 2", ())
        .await
        .unwrap();
    assert_eq!(
        midnight,
        Some(mysql_async::Value::Time(false, 1, 0, 0, 0, 0))
    );
}
