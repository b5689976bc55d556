//! Issue 26 item 3: `copy --keep-failed` killed after some tables were
//! loaded, then `copy --resume`: the tables the failed copy finished are
//! kept (caught up by delta from its snapshot: the source changed in
//! between), the others load, every row exact, one commit; and `--resume`
//! refuses what is not a kept copy, changing nothing.

use mysql_async::prelude::Queryable as _;
use serde_json::Value as Json;

use crate::first_night::{MANY_SOURCE, MANY_TABLES, killed_sessions_ended};
use crate::nights::{Nights, assert_resumed_upserts, table};
use crate::support::dolt::OwnDolt;
use crate::support::*;

/// The tables the running copy has marked loaded in its database.
async fn marked_in_database(nights: &Nights) -> Vec<String> {
    let url = with_database(&nights.dolt, "information_schema");
    let mut conn = mysql_connect(&url).await;
    conn.query(format!(
        "SELECT name FROM `{}`.pg2dolt_night_progress \
         WHERE name <> '' AND name NOT LIKE 'pg2dolt schema files%' ORDER BY name",
        nights.case.name
    ))
    .await
    .unwrap_or_default()
}

/// Waits until the running copy has marked two tables loaded.
async fn two_marked(nights: &Nights) -> Vec<String> {
    let mut marked = Vec::new();
    for _ in 0..1200 {
        marked = marked_in_database(nights).await;
        if marked.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    marked
}

/// The resumed copy: author and shelf kept and caught up, book loaded,
/// exact, one commit, no bookkeeping left in it.
async fn resumed_exactly(nights: &Nights) {
    nights
        .case
        .source_sql(
            "UPDATE author SET mood = 'sad' WHERE id = 7;
             INSERT INTO author VALUES (2001, 'author 2001', 'happy');
             UPDATE book SET shelf_id = NULL WHERE shelf_id = 499;
             DELETE FROM shelf WHERE id = 499;",
        )
        .await;
    killed_sessions_ended(nights).await;
    let run = nights.with("copy").args(["--resume"]).run();
    run.assert_success();
    let report: Json = run.report();
    let author = table(&report, "author");
    assert_eq!(author["method"], "resumed", "{report}");
    assert_eq!(author["kept_rows"], 2000, "{report}");
    assert_resumed_upserts(&report, "author", 2, 2001);
    let shelf = table(&report, "shelf");
    assert_eq!(shelf["method"], "resumed", "{report}");
    assert_eq!(shelf["rows_deleted"], 1, "{report}");
    assert_eq!(table(&report, "book")["method"], "full", "{report}");
    assert_eq!(report["target_state"], "complete", "{report}");
    nights.assert_exact(&report).await;
    let mut conn = mysql_connect(&nights.target()).await;
    let commits: Vec<String> = conn
        .query("SELECT commit_hash FROM dolt_log")
        .await
        .unwrap();
    assert_eq!(commits.len(), 2, "Dolt's first commit and the copy's");
    let tables: Vec<String> = conn.query("SHOW TABLES").await.unwrap();
    assert_eq!(tables, ["author", "book", "shelf"]);
    let status: Vec<String> = conn
        .query("SELECT table_name FROM dolt_status")
        .await
        .unwrap();
    assert_eq!(status, Vec::<String>::new(), "all of it committed");
    // A complete copy is not continued again: refused, untouched.
    let again = nights.with("copy").args(["--resume"]).run();
    let line = again.assert_one_line_error(2);
    assert!(line.contains("not a copy a failed run kept"), "{line}");
    let after: Vec<String> = conn
        .query("SELECT commit_hash FROM dolt_log")
        .await
        .unwrap();
    assert_eq!(after, commits);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_copy_killed_after_some_tables_loaded_is_resumed() {
    let test = "a_kept_copy_killed_after_some_tables_loaded_is_resumed";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let files = [("001_tables.sql", MANY_TABLES)];
    let nights = Nights::new("copyresume", &dolt, MANY_SOURCE, &files).await;
    let mut child = nights
        .with("copy")
        .args(["--keep-failed", "--jobs", "2"])
        .spawn();
    assert_eq!(two_marked(&nights).await, ["author", "shelf"]);
    // A second run meanwhile (issue 27): stopped at once by the lock.
    let second = nights.with("copy").args(["--resume"]).run();
    let line = second.assert_one_line_error(8);
    assert!(line.contains("holds the lock"), "{line}");
    child.kill().unwrap();
    let _ = child.wait();
    resumed_exactly(&nights).await;
}

/// `copy --resume` alone: a copy that fails with an error (its sessions
/// ended by the server) keeps what it finished for the next `--resume`.
#[tokio::test(flavor = "multi_thread")]
async fn a_copy_run_with_resume_that_failed_keeps_what_it_finished() {
    let test = "a_copy_run_with_resume_that_failed_keeps_what_it_finished";
    if dolt_url(test).is_none() {
        return;
    }
    let files = [("001_tables.sql", MANY_TABLES)];
    // Its sessions are ended: on a server of its own.
    let server = OwnDolt::start(&unique_name("copyfailed")).await;
    let nights = Nights::new("copyfailed", &server.url, MANY_SOURCE, &files).await;
    let child = nights
        .with("copy")
        .args(["--resume", "--jobs", "2"])
        .spawn();
    assert_eq!(two_marked(&nights).await, ["author", "shelf"]);
    let mut conn = mysql_connect(&nights.dolt).await;
    let sessions: Vec<u64> = conn
        .query(format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND DB = '{}'",
            nights.case.name
        ))
        .await
        .unwrap();
    for id in sessions {
        let _ = conn.query_drop(format!("KILL {id}")).await;
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.code().is_some_and(|code| code != 0),
        "{output:?}"
    );
    let report: Json =
        serde_json::from_str(&std::fs::read_to_string(nights.case.report_path()).unwrap()).unwrap();
    assert_eq!(report["target_state"], "partial", "{report}");
    let detail = report["target_state_detail"].as_str().unwrap();
    assert!(detail.contains("--resume"), "{detail}");
    resumed_exactly(&nights).await;
}

/// `--resume` on MariaDB, or on a database that is not a kept copy:
/// refused with exit 2, the database untouched.
#[tokio::test(flavor = "multi_thread")]
async fn resume_refuses_what_it_cannot_continue() {
    let case = Case::new(
        "resumerefused",
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);",
    )
    .await;
    let directory = case.schema_dir(&[("001.sql", "CREATE TABLE t (id INT PRIMARY KEY);")]);
    for target in targets("resume_refuses_what_it_cannot_continue") {
        let copy = || {
            Pg2dolt::new("copy")
                .source(&case.source)
                .target(&target.url)
                .database(&case.name)
                .schema_dir(&directory)
        };
        copy().run().assert_success();
        let mut conn = mysql_connect(&with_database(&target.url, &case.name)).await;
        conn.query_drop("INSERT INTO t VALUES (2)").await.unwrap();
        let refused = copy().args(["--resume"]).run();
        let line = refused.assert_one_line_error(2);
        assert!(
            line.contains("--resume") && line.contains("untouched"),
            "{}: {line}",
            target.name
        );
        let rows: Vec<i32> = conn.query("SELECT id FROM t ORDER BY id").await.unwrap();
        assert_eq!(rows, [1, 2], "{}", target.name);
        let both = copy().args(["--resume", "--replace"]).run();
        assert_eq!(both.code, 2, "{}", both.stderr);
        drop(conn);
        let mut admin = mysql_connect(&target.url).await;
        admin
            .query_drop(format!("DROP DATABASE `{}`", case.name))
            .await
            .unwrap();
    }
}
