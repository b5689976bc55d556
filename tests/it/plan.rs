//! Issue 3, acceptance 3: `pg2dolt plan` lists every problem of a source
//! whose data does not fit the schema in one run, exits 3, and leaves the
//! target untouched; `copy` runs the same checks before it moves data.

use mysql_async::prelude::Queryable as _;

use crate::support::*;

const SOURCE: &str = "
CREATE TYPE mood AS ENUM ('happy', 'sad', 'meh');
CREATE TABLE people (
    id int PRIMARY KEY,
    name text NOT NULL,
    age int,
    score numeric,
    feeling mood,
    nickname text
);
INSERT INTO people VALUES
    (1, 'Ann', 30, 1.5, 'happy', 'a'),
    (2, 'A name far too long for ten', 30, 2, 'sad', 'b'),
    (3, 'Bo', 300, 3, 'happy', 'c'),
    (4, 'Cy', 40, 'NaN', 'sad', 'd'),
    (5, 'Di', 50, 4, 'meh', 'e'),
    (6, 'ann', 60, 5, 'happy', 'f');
CREATE TABLE audit_log (id int PRIMARY KEY, note text);
";

const SCHEMA: &str = "
CREATE TABLE people (
    id INT PRIMARY KEY,
    name VARCHAR(10) COLLATE utf8mb4_general_ci NOT NULL UNIQUE,
    age TINYINT UNSIGNED,
    score DECIMAL(6,2),
    feeling ENUM('happy', 'sad'),
    created_by VARCHAR(20)
);
";

fn problems_of(report: &serde_json::Value) -> Vec<(String, String, String)> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| {
            (
                problem["kind"].as_str().unwrap().to_string(),
                problem["column"].as_str().unwrap_or("-").to_string(),
                problem["examples"].to_string(),
            )
        })
        .collect()
}

/// The JSON plan names all eight problems, with kind, column and example.
fn assert_every_problem_listed(report: &serde_json::Value) {
    assert_eq!(report["command"], "plan");
    let problems = problems_of(report);
    let has = |kind: &str, column: &str, example: &str| {
        problems
            .iter()
            .any(|(k, c, e)| k == kind && c == column && e.contains(example))
    };
    assert!(
        has("value", "name → name", "A name far too long"),
        "{problems:#?}"
    );
    assert!(has("value", "age → age", "id='3'"), "{problems:#?}");
    assert!(has("value", "score → score", "NaN"), "{problems:#?}");
    assert!(has("value", "feeling → feeling", "meh"), "{problems:#?}");
    assert!(has("collision", "name", "'Ann'"), "{problems:#?}");
    assert!(has("missing-on-target", "nickname", ""), "{problems:#?}");
    assert!(has("missing-on-source", "created_by", ""), "{problems:#?}");
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|problem| problem["kind"] == "missing-on-target"
                && problem["source_table"] == "public.audit_log"),
        "{problems:#?}"
    );
    assert_eq!(problems.len(), 8, "{problems:#?}");
    let age = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|problem| problem["column"] == "age → age")
        .unwrap();
    // MariaDB prints a display width, Dolt none.
    assert_eq!(
        age["target_type"].as_str().unwrap().replace("(3)", ""),
        "tinyint unsigned"
    );
    assert_eq!(age["rows"], 1);
}

/// The text plan shows the same problems as a table on stderr.
fn assert_problem_table(run: &Run) {
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("8 problem(s): a copy would fail"),
        "{}",
        run.stderr
    );
    for needle in [
        "e.g. row id='2': value 'A name far too long for ten'",
        "e.g. row id='3': value '300'",
        "e.g. row id='4': value 'NaN'",
        "e.g. row id='5': value 'meh'",
        "'Ann' (row id='1') and 'ann' (row id='6')",
        "public.audit_log",
        "created_by",
    ] {
        assert!(
            run.stderr.contains(needle),
            "missing {needle:?}:\n{}",
            run.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_lists_every_problem_at_once_and_touches_nothing() {
    let case = Case::new("plan", SOURCE).await;
    for target in targets("plan_lists_every_problem_at_once_and_touches_nothing") {
        plan_every_problem(&case, &target.url).await;
    }
}

async fn plan_every_problem(case: &Case, target: &str) {
    let directory = case.schema_dir(&[("010_tables.sql", SCHEMA)]);
    // An existing target database with a marker: plan must not touch it,
    // not even with --replace.
    let mut admin = mysql_connect(target).await;
    admin
        .query_drop(format!(
            "CREATE DATABASE `{0}`; CREATE TABLE `{0}`.marker (id INT); INSERT INTO `{0}`.marker VALUES (7)",
            case.name
        ))
        .await
        .unwrap();
    let arguments = |format: &'static str| {
        vec![
            "plan".to_string(),
            "--source".into(),
            case.source.clone(),
            "--target".into(),
            target.to_string(),
            "--schema-dir".into(),
            directory.to_str().unwrap().into(),
            "--replace".into(),
            "--format".into(),
            format.into(),
        ]
    };
    let json_arguments = arguments("json");
    let run = Pg2dolt::new("").args(&json_arguments).run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_every_problem_listed(&report);

    // The same, as a table for people on stderr.
    let text_arguments = arguments("text");
    let run = Pg2dolt::new("").args(&text_arguments).run();
    assert_problem_table(&run);

    let marker: Option<i32> = admin
        .query_first(format!("SELECT id FROM `{}`.marker", case.name))
        .await
        .unwrap();
    assert_eq!(marker, Some(7), "the existing database is untouched");

    // copy runs the same checks first: exit 3, nothing dropped or copied.
    let mut copy_arguments = json_arguments;
    copy_arguments[0] = "copy".into();
    copy_arguments.truncate(copy_arguments.len() - 2);
    let run = Pg2dolt::new("").args(&copy_arguments).run();
    let error = run.assert_one_line_error(3);
    assert!(
        error.contains("8 problem(s); nothing was copied"),
        "{error}"
    );
    let marker: Option<i32> = admin
        .query_first(format!("SELECT id FROM `{}`.marker", case.name))
        .await
        .unwrap();
    assert_eq!(marker, Some(7), "copy refused before dropping anything");
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_passes_a_source_that_fits() {
    let case = Case::new(
        "planok",
        "CREATE TABLE t (id int PRIMARY KEY, name text, n numeric(5,2));
         INSERT INTO t VALUES (1, 'abc', 1.5), (2, NULL, NULL);",
    )
    .await;
    let directory = case.schema_dir(&[(
        "010.sql",
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(3), n DECIMAL(5,2));",
    )]);
    let run = Pg2dolt::new("plan")
        .source(&case.source)
        .target(&case.servers.mysql_url)
        .schema_dir(&directory)
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("no problems: a copy can run"),
        "{}",
        run.stderr
    );
    assert!(
        !database_exists(&case.servers, &case.name).await,
        "plan creates no target database"
    );
}

/// Every kind of value check, run by Postgres on a value it must catch:
/// one column per check, one bad row, one good row.
#[tokio::test(flavor = "multi_thread")]
async fn every_value_check_catches_its_value() {
    let case = Case::new(
        "checks",
        "CREATE TABLE t (
            id int PRIMARY KEY, n numeric, d double precision, label text, mb3 text,
            ts timestamp(6), tz timestamptz, iv interval, b bytea, bits varbit,
            arr int[], big bigint, day date, r real, m money, ch varchar(4), t6 time, price double precision
        );
        INSERT INTO t VALUES
            (1, 0.5, 0.5, 'a', 'é', '2024-01-01 00:00:00', '2024-01-01 00:00:00+00', '1 hour',
             '\\x0001', '01', '{1}', 1, '2024-01-01', 1.5, 1, 'ab', '12:00:00', 19.99),
            (2, 0.1234567890123456789, 0.1, 'c', '🦀', '2024-01-01 00:00:00.5', '2040-01-01 00:00:00+00',
             '1 mon', '\\x00', '111', '[0:1]={1,2}', 3000000000, 'infinity', 'NaN', 1000,
             'abcd', '12:00:00.25', 1e-05);",
    )
    .await;
    let directory = case.schema_dir(&[(
        "010.sql",
        "CREATE TABLE t (
            id INT PRIMARY KEY, n DOUBLE, d FLOAT, label ENUM('a', 'b'),
            mb3 VARCHAR(10) CHARACTER SET utf8mb3, ts DATETIME, tz TIMESTAMP NULL, iv TIME,
            b BINARY(2), bits BIT(2), arr JSON, big INT, day DATE, r FLOAT,
            m DECIMAL(5,2), ch VARCHAR(3), t6 TIME, price DECIMAL(6,2)
        );",
    )]);
    for target in targets("every_value_check_catches_its_value") {
        every_check_on(&case, &directory, &target);
    }
}

fn every_check_on(case: &Case, directory: &std::path::Path, target: &Target) {
    let run = Pg2dolt::new("plan")
        .source(&case.source)
        .target(&target.url)
        .schema_dir(directory)
        .flag("--format", "json")
        .run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let mut caught: Vec<String> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| {
            assert_eq!(problem["kind"], "value", "{problem}");
            assert_eq!(problem["rows"], 1, "{problem}");
            assert!(
                problem["examples"][0]
                    .as_str()
                    .unwrap()
                    .starts_with("row id='2'"),
                "{problem}"
            );
            problem["column"]
                .as_str()
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    caught.sort();
    assert_eq!(
        caught,
        [
            "arr", "big", "b", "bits", "ch", "d", "day", "iv", "label", "m", "mb3", "n", "price",
            "r", "t6", "ts", "tz"
        ]
        .map(String::from)
        .into_iter()
        // Dolt's TIME always keeps microseconds (its COLUMN_TYPE is
        // time(6)): 12:00:00.25 fits there.
        .filter(|column| !(target.name == "dolt" && column == "t6"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>(),
        "{} {:#}",
        target.name,
        report["problems"]
    );
}
