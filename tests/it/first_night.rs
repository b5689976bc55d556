//! Issue 26 item 3 (in part): a first night is crash-safe. It loads on a
//! work branch, so a first night killed before its publish (SIGKILL, a
//! lost pod) leaves the published branch empty for readers; the next
//! night finds the database holds no published night, says so once, and
//! loads it again. The same for the state older pg2dolt versions left (the
//! partial tables in the default branch's working set), which failed every
//! later night. A second run during a first night changes nothing.

use mysql_async::prelude::Queryable as _;
use serde_json::Value as Json;

use crate::nights::{Nights, table};
use crate::support::*;

const SOURCE: &str = "
    CREATE TYPE mood AS ENUM ('happy', 'sad');
    CREATE TABLE author (id bigint PRIMARY KEY, name text NOT NULL, mood mood NOT NULL);
    CREATE TABLE book (id bigint PRIMARY KEY, author_id bigint NOT NULL REFERENCES author (id),
                       title text NOT NULL, pages int);
    INSERT INTO author SELECT n, 'author ' || n, 'happy' FROM generate_series(1, 50) n;
    INSERT INTO book SELECT n, 1 + n % 50, 'book ' || n, n FROM generate_series(1, 300000) n;";

const TABLES: &str = "
    CREATE TABLE author (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, mood ENUM('happy', 'sad') NOT NULL);
    CREATE TABLE book (id BIGINT PRIMARY KEY, author_id BIGINT NOT NULL, title VARCHAR(200) NOT NULL,
                       pages INT, FOREIGN KEY (author_id) REFERENCES author (id));";

/// The tables readers of the database's `main` see.
async fn tables_on_main(nights: &Nights) -> Vec<String> {
    let url = with_database(&nights.dolt, &format!("{}/main", nights.case.name));
    mysql_connect(&url)
        .await
        .query("SHOW TABLES")
        .await
        .unwrap()
}

/// The night after the unfinished one: a first night again, said once,
/// exact; and the night after it takes deltas.
async fn loaded_again(nights: &Nights) {
    let run = nights.with("refresh").run();
    run.assert_success();
    assert_eq!(
        run.stderr.matches("never published").count(),
        1,
        "said once:\n{}",
        run.stderr
    );
    let report: Json = run.report();
    assert_eq!(report["refresh"]["first_night"], true, "{report}");
    nights.assert_exact(&report).await;
    nights
        .case
        .source_sql("UPDATE book SET pages = 0 WHERE id = 3")
        .await;
    let (next, _) = nights.night(&[]);
    assert_eq!(table(&next, "book")["method"], "delta", "{next}");
    nights.assert_exact(&next).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_night_killed_mid_load_shows_readers_nothing_and_the_next_night_loads_it() {
    let test = "a_first_night_killed_mid_load_shows_readers_nothing_and_the_next_night_loads_it";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let nights = Nights::new("firstkill", &dolt, SOURCE, &[("001_tables.sql", TABLES)]).await;
    let mut child = nights.with("refresh").spawn();
    nights.wait_for_work_branch().await;
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(tables_on_main(&nights).await, Vec::<String>::new());
    // The killed run's statements end on the server a little after it.
    let sessions = format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() \
         AND (DB = '{0}' OR DB LIKE '{0}/%')",
        nights.case.name
    );
    let mut conn = mysql_connect(&nights.dolt).await;
    for _ in 0..600 {
        let left: Option<u64> = conn.query_first(&sessions).await.unwrap();
        if left == Some(0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    loaded_again(&nights).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_an_older_first_night_left_half_loaded_is_loaded_again() {
    let test = "a_database_an_older_first_night_left_half_loaded_is_loaded_again";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let nights = Nights::new("firstold", &dolt, SOURCE, &[("001_tables.sql", TABLES)]).await;
    // What an older pg2dolt left when killed: the tables, partly loaded,
    // uncommitted on the default branch.
    let mut conn = mysql_connect(&nights.dolt).await;
    conn.query_drop(format!("CREATE DATABASE `{}`", nights.case.name))
        .await
        .unwrap();
    conn.query_drop(format!("USE `{}`", nights.case.name))
        .await
        .unwrap();
    for statement in TABLES.split(';').filter(|s| !s.trim().is_empty()) {
        conn.query_drop(statement).await.unwrap();
    }
    conn.query_drop("INSERT INTO author VALUES (1, 'partial', 'happy')")
        .await
        .unwrap();
    drop(conn);
    assert_eq!(tables_on_main(&nights).await.len(), 2);
    loaded_again(&nights).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_during_a_first_night_changes_nothing() {
    let test = "a_second_run_during_a_first_night_changes_nothing";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let nights = Nights::new("firsttwice", &dolt, SOURCE, &[("001_tables.sql", TABLES)]).await;
    let first = nights.with("refresh").spawn();
    nights.wait_for_work_branch().await;
    let second = Pg2dolt::new("refresh")
        .source(&nights.case.source)
        .target(&nights.dolt)
        .database(&nights.case.name)
        .schema_dir(&nights.schema)
        .run();
    let line = second.assert_one_line_error(7);
    assert!(line.contains("other session"), "{line}");
    let output = first.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the first night failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (next, _) = nights.night(&[]);
    assert_eq!(next["refresh"]["outcome"], "unchanged", "{next}");
    nights.assert_exact(&next).await;
}
