//! Edge values and faults (issue 11): values of tens of MB, an
//! AUTO_INCREMENT id 0 beside a binary column, integers into YEAR, a target
//! server killed in the middle of a load, a server that refuses LOAD DATA
//! LOCAL, and a restore that meets a damaged file.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable as _;

use crate::support::mariadb::Mariadb;
use crate::support::*;

/// md5 of every row's values, in key order, on each side.
async fn row_digests(
    case: &Case,
    target_url: &str,
    table: &str,
    pg: &str,
    my: &str,
) -> (Vec<String>, Vec<String>) {
    let source = pg_connect(&case.source).await;
    let source: Vec<String> = source
        .query(&format!("SELECT {pg} FROM {table} ORDER BY id"), &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut conn = mysql_connect(&with_database(target_url, &case.name)).await;
    let target: Vec<String> = conn
        .query(format!("SELECT {my} FROM {table} ORDER BY id"))
        .await
        .unwrap();
    (source, target)
}

#[tokio::test(flavor = "multi_thread")]
async fn values_of_tens_of_megabytes_arrive_exactly() {
    // language=PostgreSQL
    let case = Case::new(
        "bigvalues",
        "CREATE TABLE docs (id int PRIMARY KEY, body text NOT NULL, data bytea NOT NULL);
         INSERT INTO docs SELECT g, repeat(md5(g::text) || E'\\t\\\\\\n', 24 * 1024 * 1024 / 35),
             decode(repeat(md5((g * 3)::text) || '00090a5c0d', 6 * 1024 * 1024 / 21), 'hex')
         FROM generate_series(1, 4) g;
         INSERT INTO docs VALUES (5, 'small', '\\x00');",
    )
    .await;
    let directory = case.schema_dir(&[(
        "010_tables.sql",
        "CREATE TABLE docs (id INT PRIMARY KEY, body LONGTEXT NOT NULL, data LONGBLOB NOT NULL);",
    )]);
    let report = case.report_path();
    for target in targets("values_of_tens_of_megabytes_arrive_exactly") {
        let run = Pg2dolt::new("")
            .source(&case.source)
            .target(&target.url)
            .schema_dir(&directory)
            .report(&report)
            .run();
        run.assert_success();
        // SHA-256 of the values fetched whole: Dolt's MD5() fails on a
        // LONGBLOB stored out of row ("interface {} is *val.ByteArray").
        let source: Vec<String> = pg_connect(&case.source)
            .await
            .query(
                "SELECT encode(sha256(convert_to(body, 'UTF8')), 'hex') || encode(sha256(data), 'hex') \
                 FROM docs ORDER BY id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        // Rows of 30 MB come back in one packet.
        let url = format!(
            "{}?max_allowed_packet=1073741824",
            with_database(&target.url, &case.name)
        );
        let mut conn = mysql_connect(&url).await;
        let rows: Vec<(Vec<u8>, Vec<u8>)> = conn
            .query("SELECT body, data FROM docs ORDER BY id")
            .await
            .unwrap();
        let hex = |bytes: &[u8]| {
            let mut text = String::new();
            for byte in ring::digest::digest(&ring::digest::SHA256, bytes).as_ref() {
                let _ = write!(text, "{byte:02x}");
            }
            text
        };
        let copied: Vec<String> = rows
            .iter()
            .map(|(body, data)| format!("{}{}", hex(body), hex(data)))
            .collect();
        assert_eq!(source.len(), 5);
        assert_eq!(source, copied, "{}", target.name);
        assert_eq!(read_report(&report)["rows_total"], 5);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_auto_increment_id_0_beside_a_bytea_column_keeps_id_0() {
    let case = Case::new(
        "idzero",
        "CREATE TABLE files (id int PRIMARY KEY, n int NOT NULL, data bytea);
         INSERT INTO files VALUES (0, 5, '\\x00ff'), (1, 6, '\\x0a0b'), (2, 7, NULL), (3, 8, '\\x');",
    )
    .await;
    let directory = case.schema_dir(&[(
        "010_tables.sql",
        "CREATE TABLE files (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL, data BLOB);",
    )]);
    for target in targets("an_auto_increment_id_0_beside_a_bytea_column_keeps_id_0") {
        for method in ["load-data", "insert"] {
            let run = Pg2dolt::new("")
                .source(&case.source)
                .target(&target.url)
                .schema_dir(&directory)
                .flag("--load-method", method)
                .args(["--replace"])
                .run();
            run.assert_success();
            let (source, copied) = row_digests(
                &case,
                &target.url,
                "files",
                "id || ' ' || n || ' ' || coalesce(encode(data, 'hex'), 'NULL')",
                "CONCAT(id, ' ', n, ' ', COALESCE(LOWER(HEX(data)), 'NULL'))",
            )
            .await;
            assert_eq!(source, copied, "{} {method}", target.name);
            assert_eq!(copied[0], "0 5 00ff", "{} {method}", target.name);
        }
    }
}

// language=PostgreSQL
const YEARS: &str = "
CREATE DOMAIN year AS integer CONSTRAINT year_check CHECK (VALUE >= 1901 AND VALUE <= 2155 OR VALUE = 0);
CREATE TABLE films (id int PRIMARY KEY, released year, small smallint, plain integer);
INSERT INTO films VALUES (1, 1901, 2155, 0), (2, 2155, 1999, 1901), (3, 0, 0, 2024), (4, NULL, NULL, NULL);
";

const YEARS_SCHEMA: &str =
    "CREATE TABLE films (id INT PRIMARY KEY, released YEAR, small YEAR, plain YEAR);";

#[tokio::test(flavor = "multi_thread")]
async fn integers_and_a_year_domain_arrive_in_year_columns() {
    let case = Case::new("years", YEARS).await;
    let directory = case.schema_dir(&[("010_tables.sql", YEARS_SCHEMA)]);
    for target in targets("integers_and_a_year_domain_arrive_in_year_columns") {
        let copy = |source: &str| {
            Pg2dolt::new("")
                .source(source)
                .target(&target.url)
                .schema_dir(&directory)
                .run()
        };
        let (case, expected) = if target.name == "dolt" {
            // Dolt reads the year 0, from any text, as 2000: refused.
            let error = copy(&case.source).assert_one_line_error(6);
            assert!(
                error.contains("Dolt stores the year 0 as 2000") && error.contains("id='1'"),
                "{error}"
            );
            let zero_free = Case::new("years_dolt", &format!("{YEARS} UPDATE films SET released = 1999 WHERE released = 0; UPDATE films SET small = 1998 WHERE small = 0; UPDATE films SET plain = 1997 WHERE plain = 0;")).await;
            (
                zero_free,
                [
                    "1 1901 2155 1997",
                    "2 2155 1999 1901",
                    "3 1999 1998 2024",
                    "4 NULL NULL NULL",
                ],
            )
        } else {
            (
                Case::new("years_mariadb", YEARS).await,
                [
                    "1 1901 2155 0000",
                    "2 2155 1999 1901",
                    "3 0000 0000 2024",
                    "4 NULL NULL NULL",
                ],
            )
        };
        copy(&case.source).assert_success();
        let mut conn = mysql_connect(&with_database(&target.url, &case.name)).await;
        let rows: Vec<String> = conn
            .query(
                "SELECT CONCAT_WS(' ', id, COALESCE(CAST(released AS CHAR), 'NULL'), \
                 COALESCE(CAST(small AS CHAR), 'NULL'), COALESCE(CAST(plain AS CHAR), 'NULL')) \
                 FROM films ORDER BY id",
            )
            .await
            .unwrap();
        assert_eq!(rows, expected, "{}", target.name);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_year_out_of_range_is_refused_by_the_plan_naming_the_row() {
    let case = Case::new(
        "badyear",
        &format!("{YEARS} ALTER DOMAIN year DROP CONSTRAINT year_check; INSERT INTO films VALUES (5, 1900, 1, 2156);"),
    )
    .await;
    let directory = case.schema_dir(&[("010_tables.sql", YEARS_SCHEMA)]);
    let run = Pg2dolt::new("plan")
        .source(&case.source)
        .target(&case.servers.mysql_url)
        .schema_dir(&directory)
        .flag("--format", "json")
        .run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    for (column, source_type, value) in [
        ("released → released", "year (domain over integer)", "1900"),
        ("small → small", "smallint", "'1'"),
        ("plain → plain", "integer", "2156"),
    ] {
        let problem = problems
            .iter()
            .find(|problem| problem["column"] == column)
            .unwrap_or_else(|| panic!("{column}: {problems:#?}"));
        assert_eq!(problem["kind"], "value");
        assert_eq!(problem["source_type"], source_type);
        assert_eq!(problem["rows"], 1);
        let example = problem["examples"][0].as_str().unwrap();
        assert!(
            example.contains("id='5'") && example.contains(value),
            "{example}"
        );
    }
}

/// Rows enough for a load that lasts a few seconds.
// language=PostgreSQL
const LONG_LOAD: &str = "
CREATE TABLE events (id bigint PRIMARY KEY, kind text NOT NULL, payload text NOT NULL);
INSERT INTO events SELECT g, 'kind ' || (g % 17), repeat(md5(g::text), 6) FROM generate_series(1, 400000) g;
";

const LONG_LOAD_SCHEMA: &str = "CREATE TABLE events (id BIGINT PRIMARY KEY, kind VARCHAR(20) NOT NULL, payload TEXT NOT NULL);";

#[tokio::test(flavor = "multi_thread")]
async fn a_target_killed_mid_load_ends_the_run_saying_what_it_left() {
    let case = Case::new("killed", LONG_LOAD).await;
    let directory = case.schema_dir(&[("010_tables.sql", LONG_LOAD_SCHEMA)]);
    let mut server = Mariadb::start(&[]).await;
    let report = case.report_path();
    let _ = std::fs::remove_file(&report);
    let child = Command::new(env!("CARGO_BIN_EXE_pg2dolt"))
        .args([
            "--source",
            &case.source,
            "--target",
            &server.url,
            "--schema-dir",
            directory.to_str().unwrap(),
            "--jobs",
            "1",
            "--report",
            report.to_str().unwrap(),
        ])
        .env("RUST_LOG", "pg2dolt=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-load: the LOAD DATA statement is running on the server.
    let mut watcher = mysql_connect(&server.url).await;
    let started = Instant::now();
    loop {
        let loading: Option<u64> = watcher
            .query_first(
                // The load of events, not the planner's probe of the route
                // ('pg2dolt-probe'): killing the server then flaked.
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE INFO LIKE 'LOAD DATA%pg2dolt-stream%events%'",
            )
            .await
            .unwrap();
        if loading.unwrap_or(0) > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no load began");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(watcher);
    server.kill();
    let killed = Instant::now();
    assert_ends_partial_after_kill(child, killed, &report, "public.events").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_refuses_local_infile_gets_insert_or_the_fix() {
    let case = Case::new(
        "nolocal",
        "CREATE TABLE notes (id int PRIMARY KEY, body text, data bytea);
         INSERT INTO notes SELECT g, 'note ' || g, '\\x00ff' FROM generate_series(0, 999) g;",
    )
    .await;
    let directory = case.schema_dir(&[(
        "010_tables.sql",
        "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT, data BLOB);",
    )]);
    let server = Mariadb::start(&["--local-infile=0"]).await;
    let report = case.report_path();
    let copy = |method: &str| {
        let _ = std::fs::remove_file(&report);
        Pg2dolt::new("")
            .source(&case.source)
            .target(&server.url)
            .schema_dir(&directory)
            .flag("--load-method", method)
            .report(&report)
            .args(["--replace"])
            .run()
    };
    let forced = copy("load-data");
    let error = forced.assert_one_line_error(2);
    assert!(
        error.contains("refuses LOAD DATA LOCAL INFILE") && error.contains("local_infile"),
        "{error}"
    );
    assert_eq!(read_report(&report)["target_state"], "dropped");

    let automatic = copy("auto");
    automatic.assert_success();
    let written = read_report(&report);
    assert_eq!(written["load_method"], "insert");
    assert_eq!(written["target_state"], "complete");
    let (source, target) = row_digests(
        &case,
        &server.url,
        "notes",
        "id || body || encode(data, 'hex')",
        "CONCAT(id, body, LOWER(HEX(data)))",
    )
    .await;
    assert_eq!(source.len(), 1000);
    assert_eq!(source, target);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_stops_at_the_first_damaged_file() {
    for target in targets("a_restore_stops_at_the_first_damaged_file") {
        let case = Case::new(
            &format!("firstdamaged_{}", target.name),
            &crate::demo::demo_sql(),
        )
        .await;
        let archive_root = std::env::temp_dir().join(format!("{}-archive", case.name));
        let _ = std::fs::remove_dir_all(&archive_root);
        Pg2dolt::new("")
            .source(&case.source)
            .target(&target.url)
            .flag("--archive", archive_root.to_str().unwrap())
            .args(["--no-target"])
            .run()
            .assert_success();
        let archive = std::fs::read_dir(&archive_root)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        // The largest file, taken first: its frame header is gone, so it fails
        // at once while the other worker is still loading.
        let largest = std::fs::read_dir(archive.join("data"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .max_by_key(|path| std::fs::metadata(path).unwrap().len())
            .unwrap();
        let mut bytes = std::fs::read(&largest).unwrap();
        bytes[..4].copy_from_slice(b"oops");
        std::fs::write(&largest, bytes).unwrap();
        let database = format!("{}_restored", case.name);
        let run = Pg2dolt::new("restore")
            .flag("--from", archive.to_str().unwrap())
            .target(&target.url)
            .database(&database)
            .flag("--jobs", "2")
            .run();
        let error = run.assert_one_line_error(4);
        let name = largest.file_name().unwrap().to_str().unwrap();
        assert!(error.contains(name), "{error}");
        assert!(
            run.stderr.matches("data file loaded").count() <= 1,
            "the other worker stopped too:\n{}",
            run.stderr
        );
        assert!(!database_exists_at(&target.url, &database).await);
    }
}
