//! Issue 4, acceptance 2 and 3: tables split into many ranges arrive with
//! every row exactly once, and a target that stops reading does not make
//! pg2dolt's memory grow (the pipeline is bounded end to end).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable as _;

use crate::support::*;

const SPLIT_SOURCE: &str = "
CREATE TABLE with_key (id bigint PRIMARY KEY, v text);
INSERT INTO with_key SELECT n * 7 - 50000, 'row ' || n FROM generate_series(1, 20000) n;
INSERT INTO with_key VALUES (-9223372036854775808, 'smallest'), (9223372036854775807, 'largest');
CREATE TABLE no_key (a int, b text);
INSERT INTO no_key SELECT n % 1000, CASE WHEN n % 10 = 0 THEN NULL ELSE md5(n::text) END
    FROM generate_series(1, 20000) n;
INSERT INTO no_key SELECT 1, 'duplicate' FROM generate_series(1, 50);
CREATE TABLE text_key (k text PRIMARY KEY, n int);
INSERT INTO text_key SELECT 'key ' || n, n FROM generate_series(1, 20000) n;
CREATE TABLE parted (id int PRIMARY KEY, v int) PARTITION BY RANGE (id);
CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (MINVALUE) TO (10000);
CREATE TABLE parted_high PARTITION OF parted FOR VALUES FROM (10000) TO (MAXVALUE);
INSERT INTO parted SELECT n, n * 2 FROM generate_series(1, 20000) n;
DELETE FROM no_key WHERE a = 500;
ANALYZE;
";

const SPLIT_SCHEMA: &str = "
CREATE TABLE with_key (id BIGINT PRIMARY KEY, v TEXT);
CREATE TABLE no_key (a INT, b TEXT);
CREATE TABLE text_key (k VARCHAR(20) PRIMARY KEY, n INT);
CREATE TABLE parted (id INT PRIMARY KEY, v INT);
";

#[tokio::test(flavor = "multi_thread")]
async fn split_tables_arrive_with_every_row_exactly_once() {
    let case = Case::new("split", SPLIT_SOURCE).await;
    for target in targets("split_tables_arrive_with_every_row_exactly_once") {
        copy_split(&case, &target).await;
    }
}

async fn copy_split(case: &Case, target: &Target) {
    let directory = case.schema_dir(&[("010.sql", SPLIT_SCHEMA)]);
    let run = case
        .copy(&target.url)
        .schema_dir(&directory)
        .flag("--chunk-rows", "1000")
        .flag("--jobs", "3")
        .run();
    run.assert_success();
    let report = run.report();
    for table in report["tables"].as_array().unwrap() {
        assert!(
            table["chunks"].as_u64().unwrap() >= 10,
            "{} was split into many ranges: {table}",
            table["source"]
        );
    }

    let source = pg_connect(&case.source).await;
    let mut copied = mysql_connect(&with_database(&target.url, &case.name)).await;
    // (table, Postgres row text, MySQL row text, order)
    let checks = [
        ("with_key", "id || ':' || v", "CONCAT(id, ':', v)", "id"),
        (
            "no_key",
            "a || ':' || coalesce(b, 'NULL')",
            "CONCAT(a, ':', COALESCE(b, 'NULL'))",
            "a, b",
        ),
        ("text_key", "k || ':' || n", "CONCAT(k, ':', n)", "n"),
        ("parted", "id || ':' || v", "CONCAT(id, ':', v)", "id"),
    ];
    for (table, pg_row, mysql_row, order) in checks {
        let expected = pg_checksum(&source, table, pg_row, order).await;
        let actual = mysql_checksum(&mut copied, table, mysql_row, order).await;
        assert_eq!(
            expected, actual,
            "{} {table}: count and checksum",
            target.name
        );
        assert!(expected.0 > 19_000, "{table} has its rows");
    }
}

/// A target table `big` whose inserts after row `after` wait on the user
/// lock `lock` (held by the test): the target accepts the load, then stops
/// reading.
pub(crate) fn stalling_schema(lock: &str, after: u32) -> String {
    format!(
        "CREATE TABLE big (id INT PRIMARY KEY, payload TEXT);
DELIMITER //
CREATE TRIGGER big_stall BEFORE INSERT ON big FOR EACH ROW
BEGIN
  IF NEW.id > {after} THEN DO GET_LOCK('{lock}', 3600); DO RELEASE_LOCK('{lock}'); END IF;
END//
DELIMITER ;"
    )
}

/// Waits until the case's load waits on the user lock (the trigger's
/// statement shows in the process list); returns the watching connection.
pub(crate) async fn wait_for_stall(
    case: &Case,
    child: &mut std::process::Child,
) -> mysql_async::Conn {
    let mut watcher = mysql_connect(&case.servers.mysql_url).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let waiting: Option<i64> = watcher
            .query_first(format!(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE DB = '{}' AND STATE = 'User lock'",
                case.name
            ))
            .await
            .unwrap();
        if waiting.unwrap_or(0) > 0 {
            return watcher;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "pg2dolt ended before the load stalled"
        );
        assert!(Instant::now() < deadline, "the load never stalled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Peak and current resident memory of a process, in KiB, from /proc.
fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_that_stops_reading_does_not_grow_memory() {
    // 80 MB of rows: far more than the pipeline may hold.
    let case = Case::new(
        "stall",
        "CREATE TABLE big (id int PRIMARY KEY, payload text);
         INSERT INTO big SELECT n, repeat(md5(n::text), 32) FROM generate_series(1, 80000) n;
         ANALYZE big;",
    )
    .await;
    // Every insert waits on a user lock the test holds: the target accepts
    // the LOAD DATA and then stops reading.
    let lock = format!("{}_stall", case.name);
    let schema = stalling_schema(&lock, 0);
    let directory = case.schema_dir(&[("010.sql", &schema)]);
    let mut holder = mysql_connect(&case.servers.mysql_url).await;
    let held: Option<i64> = holder
        .query_first(format!("SELECT GET_LOCK('{lock}', 10)"))
        .await
        .unwrap();
    assert_eq!(held, Some(1));

    let mut child = Command::new(env!("CARGO_BIN_EXE_pg2dolt"))
        .args([
            "--source",
            &case.source,
            "--target",
            &case.servers.mysql_url,
            "--schema-dir",
            directory.to_str().unwrap(),
            "--jobs",
            "1",
            "--chunk-rows",
            "10000000",
            "-q",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();

    let mut watcher = wait_for_stall(&case, &mut child).await;
    // While stalled, Postgres could send all 80 MB at once; watch the
    // process for a while: its memory must stay bounded.
    let mut peak = 0;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (high_water, _) = memory_kib(pid).unwrap();
        peak = peak.max(high_water);
    }
    eprintln!("pg2dolt peak resident memory while the target did not read: {peak} KiB");
    assert!(
        peak < 48 * 1024,
        "pg2dolt held {peak} KiB while the target did not read (the source table is 80 MB)"
    );

    // Let the target read again: the copy completes with every row.
    holder
        .query_drop(format!("DO RELEASE_LOCK('{lock}')"))
        .await
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Option<u64> = watcher
        .query_first(format!("SELECT COUNT(*) FROM `{}`.big", case.name))
        .await
        .unwrap();
    assert_eq!(rows, Some(80_000));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_in_the_middle_of_a_table_stops_within_ten_seconds() {
    let case = Case::new(
        "sigterm",
        "CREATE TABLE big (id int PRIMARY KEY, payload text);
         INSERT INTO big SELECT n, repeat(md5(n::text), 8) FROM generate_series(1, 50000) n;",
    )
    .await;
    let lock = format!("{}_stall", case.name);
    let schema = stalling_schema(&lock, 100);
    let directory = case.schema_dir(&[("010.sql", &schema)]);
    let mut holder = mysql_connect(&case.servers.mysql_url).await;
    holder
        .query_drop(format!("DO GET_LOCK('{lock}', 10)"))
        .await
        .unwrap();
    let report_path = case.report_path();
    let mut child = case
        .copy(&case.servers.mysql_url)
        .schema_dir(&directory)
        .flag("--jobs", "1")
        .spawn();
    // In the middle of the table: the first 100 rows are in, row 101 waits.
    wait_for_stall(&case, &mut child).await;
    let (code, output, stopped_after) = terminate(child).await;
    // Let the server finish with the aborted load before cleaning up.
    holder
        .query_drop(format!("DO RELEASE_LOCK('{lock}')"))
        .await
        .unwrap();
    let stderr = output.stderr.as_str();
    assert_eq!(code, Some(143), "{stderr}");
    assert!(
        stopped_after < Duration::from_secs(10),
        "stopped after {stopped_after:?}"
    );
    assert!(output.stdout.is_empty(), "no commit hash on stdout");
    let report = read_report(&report_path);
    assert_eq!(report["status"], "interrupted");
    assert_eq!(report["exit_code"], 143);
    assert_eq!(report["dolt_commit"], serde_json::Value::Null);
    let error = report["error"].as_str().unwrap();
    assert!(
        error.starts_with("interrupted by SIGTERM: the copy stopped and no Dolt commit was made; ")
            && error.contains(&format!("target database {}", case.name)),
        "the report says what state the target was left in: {error}"
    );
    assert!(stderr.contains(error), "and so does the summary:\n{stderr}");
}
