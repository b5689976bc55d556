//! Issue 26 item 3 (in part): a first night is crash-safe. It loads on a
//! work branch, so a first night killed before its publish (SIGKILL, a
//! lost pod) leaves the published branch empty for readers; the next
//! night finds the database holds no published night, says so once, and
//! loads it again. The same for the state older pg2dolt versions left (the
//! partial tables in the default branch's working set), which failed every
//! later night. A second run during a first night changes nothing.

use mysql_async::prelude::Queryable as _;
use serde_json::Value as Json;

use crate::nights::{Nights, assert_resumed_upserts, table};
use crate::support::dolt::OwnDolt;
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
    next_night_by_delta(nights, &["book"]).await;
}

/// A change, then a night that takes `tables` by delta, exact.
async fn next_night_by_delta(nights: &Nights, tables: &[&str]) {
    nights
        .case
        .source_sql("UPDATE book SET pages = 0 WHERE id = 3")
        .await;
    let (next, _) = nights.night(&[]);
    for target in tables {
        assert_eq!(table(&next, target)["method"], "delta", "{next}");
    }
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
    killed_sessions_ended(&nights).await;
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

pub const MANY_SOURCE: &str = "
    CREATE TYPE mood AS ENUM ('happy', 'sad');
    CREATE TABLE author (id bigint PRIMARY KEY, name text NOT NULL, mood mood NOT NULL);
    CREATE TABLE shelf (id int PRIMARY KEY, label text NOT NULL UNIQUE);
    CREATE TABLE book (id bigint PRIMARY KEY, author_id bigint NOT NULL REFERENCES author (id),
                       shelf_id int REFERENCES shelf (id), title text NOT NULL, pages int);
    INSERT INTO author SELECT n, 'author ' || n, 'happy' FROM generate_series(1, 2000) n;
    INSERT INTO shelf SELECT n, 'shelf ' || n FROM generate_series(1, 500) n;
    INSERT INTO book SELECT n, 1 + n % 2000, 1 + n % 500, 'book ' || n, n FROM generate_series(1, 600000) n;";

pub const MANY_TABLES: &str = "
    CREATE TABLE author (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, mood ENUM('happy', 'sad') NOT NULL);
    CREATE TABLE shelf (id INT PRIMARY KEY, label VARCHAR(50) NOT NULL UNIQUE);
    CREATE TABLE book (id BIGINT PRIMARY KEY, author_id BIGINT NOT NULL, shelf_id INT,
                       title VARCHAR(200) NOT NULL, pages INT,
                       FOREIGN KEY (author_id) REFERENCES author (id), FOREIGN KEY (shelf_id) REFERENCES shelf (id));";

/// The tables the running first night has marked loaded on its work branch.
async fn marked_loaded(nights: &Nights) -> Vec<String> {
    let url = with_database(&nights.dolt, "information_schema");
    let mut conn = mysql_connect(&url).await;
    let branches: Vec<String> = conn
        .query(format!(
            "SELECT name FROM `{}`.dolt_branches WHERE name LIKE 'pg2dolt-work-%'",
            nights.case.name
        ))
        .await
        .unwrap_or_default();
    let Some(branch) = branches.first() else {
        return Vec::new();
    };
    conn.query(format!(
        "SELECT name FROM `{}/{branch}`.pg2dolt_night_progress \
         WHERE name <> '' AND name NOT LIKE 'pg2dolt schema files%' ORDER BY name",
        nights.case.name
    ))
    .await
    .unwrap_or_default()
}

/// Waits until the running night has marked `count` tables loaded;
/// returns them.
async fn marked_at_least(nights: &Nights, count: usize) -> Vec<String> {
    let mut marked = Vec::new();
    for _ in 0..1200 {
        marked = marked_loaded(nights).await;
        if marked.len() >= count {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    marked
}

/// Kills the running night `child` once two tables are marked loaded (the
/// large one still loading); returns the marked tables.
async fn killed_once_two_marked(nights: &Nights, mut child: std::process::Child) -> Vec<String> {
    let marked = marked_at_least(nights, 2).await;
    child.kill().unwrap();
    let _ = child.wait();
    marked
}

/// Waits until the statements of a killed run have ended on the server
/// (a little after the run).
pub async fn killed_sessions_ended(nights: &Nights) {
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
}

/// Issue 26 item 3: a first night killed after some tables were loaded;
/// the rerun keeps them (caught up by delta from the killed night's
/// snapshot: the source changed in between) and loads the rest.
#[tokio::test(flavor = "multi_thread")]
async fn a_first_night_killed_after_some_tables_loaded_keeps_them() {
    let test = "a_first_night_killed_after_some_tables_loaded_keeps_them";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let files = [("001_tables.sql", MANY_TABLES)];
    let nights = Nights::new("firstresume", &dolt, MANY_SOURCE, &files).await;
    // The small tables load beside the large one and finish first.
    let child = nights.with("refresh").args(["--jobs", "2"]).spawn();
    assert_eq!(
        killed_once_two_marked(&nights, child).await,
        ["author", "shelf"]
    );
    assert_eq!(tables_on_main(&nights).await, Vec::<String>::new());
    nights
        .case
        .source_sql(
            "UPDATE author SET mood = 'sad' WHERE id = 7;
             INSERT INTO author VALUES (2001, 'author 2001', 'happy');
             UPDATE shelf SET label = 'shelf 1b' WHERE id = 1;
             UPDATE book SET shelf_id = NULL WHERE shelf_id = 499;
             DELETE FROM shelf WHERE id = 499;",
        )
        .await;
    killed_sessions_ended(&nights).await;
    let run = nights.with("refresh").run();
    run.assert_success();
    let report: Json = run.report();
    assert_eq!(report["refresh"]["first_night"], true, "{report}");
    let author = table(&report, "author");
    assert_eq!(author["method"], "resumed", "{report}");
    assert_eq!(author["kept_rows"], 2000, "{report}");
    assert_resumed_upserts(&report, "author", 2, 2001);
    let shelf = table(&report, "shelf");
    assert_eq!(shelf["method"], "resumed", "{report}");
    assert_eq!(shelf["rows_deleted"], 1, "{report}");
    assert_eq!(table(&report, "book")["method"], "full", "{report}");
    assert!(
        run.stderr.contains("resumed: kept the 2000 rows"),
        "{}",
        run.stderr
    );
    nights.assert_exact(&report).await;
    // Nothing of the night's own bookkeeping was published.
    let published = tables_on_main(&nights).await;
    for name in ["author", "book", "shelf"] {
        assert!(published.iter().any(|table| table == name), "{published:?}");
    }
    assert!(
        !published.iter().any(|table| table.contains("progress")),
        "{published:?}"
    );
    // The night after takes deltas from the resumed night.
    next_night_by_delta(&nights, &["book", "author"]).await;
}

/// The same for a later `--full` night (a weekly reset, say): killed after
/// some tables were loaded, readers keep the last night; the rerun keeps
/// those tables and reloads the rest.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_night_killed_after_some_tables_loaded_keeps_them() {
    let test = "a_full_night_killed_after_some_tables_loaded_keeps_them";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let files = [("001_tables.sql", MANY_TABLES)];
    let nights = Nights::new("fullresume", &dolt, MANY_SOURCE, &files).await;
    let (_, published) = nights.night(&[]);
    nights
        .case
        .source_sql("UPDATE author SET name = 'renamed' WHERE id = 1")
        .await;
    let child = nights
        .with("refresh")
        .args(["--full", "--jobs", "2"])
        .spawn();
    assert_eq!(
        killed_once_two_marked(&nights, child).await,
        ["author", "shelf"]
    );
    // Readers still have the last night.
    assert_eq!(dolt_hash_of(&nights.target(), "main").await, published);
    nights
        .case
        .source_sql("UPDATE author SET mood = 'sad' WHERE id = 9; DELETE FROM book WHERE id = 10;")
        .await;
    killed_sessions_ended(&nights).await;
    let run = nights.with("refresh").args(["--full"]).run();
    run.assert_success();
    let report: Json = run.report();
    let author = table(&report, "author");
    assert_eq!(author["method"], "resumed", "{report}");
    assert_resumed_upserts(&report, "author", 1, 2000);
    assert_eq!(table(&report, "shelf")["method"], "resumed", "{report}");
    assert_eq!(table(&report, "book")["method"], "full", "{report}");
    assert_eq!(report["refresh"]["outcome"], "published", "{report}");
    nights.assert_exact(&report).await;
    // Two nights' changes in the one new commit: the rename before the
    // killed night and the mood after it.
    let mut main = mysql_connect(&nights.target()).await;
    let authors: Vec<(String, String)> = main
        .query("SELECT name, CAST(mood AS CHAR) FROM author WHERE id IN (1, 9) ORDER BY id")
        .await
        .unwrap();
    assert_eq!(
        authors,
        [
            ("renamed".to_string(), "happy".to_string()),
            ("author 9".to_string(), "sad".to_string())
        ]
    );
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
    // Issue 27 item 3: at once, exit 8, naming the lock's holder.
    let line = second.assert_one_line_error(8);
    assert!(line.contains("holds the lock"), "{line}");
    let rollback = Pg2dolt::new("rollback")
        .target(&nights.dolt)
        .database(&nights.case.name)
        .args(["--to", "main"])
        .run();
    let line = rollback.assert_one_line_error(8);
    assert!(line.contains("holds the lock"), "{line}");
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

/// Once `child` (a running night) has marked two tables loaded, the
/// server ends every session of its work branch (a lost target, as the
/// night sees it): the night fails with an error, not a signal. Returns
/// the marked tables and the failed run's report.
async fn failed_once_two_marked(
    nights: &Nights,
    child: std::process::Child,
) -> (Vec<String>, Json) {
    let marked = marked_at_least(nights, 2).await;
    let mut conn = mysql_connect(&nights.dolt).await;
    let sessions: Vec<u64> = conn
        .query(format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() \
             AND DB LIKE '{}/pg2dolt-work-%'",
            nights.case.name
        ))
        .await
        .unwrap();
    assert!(
        !sessions.is_empty(),
        "the night has no session on its work branch"
    );
    for id in sessions {
        let _ = conn.query_drop(format!("KILL {id}")).await;
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code().is_some_and(|code| code != 0),
        "the night did not fail with an exit code: {:?}\n{stderr}",
        output.status
    );
    let report = std::fs::read_to_string(nights.case.report_path()).unwrap();
    (marked, serde_json::from_str(&report).unwrap())
}

/// Issue 26 item 3: a first night that fails with an error (its target
/// sessions lost) after some tables were loaded keeps them, and the next
/// night continues from it.
#[tokio::test(flavor = "multi_thread")]
async fn a_first_night_that_failed_after_some_tables_loaded_keeps_them() {
    let test = "a_first_night_that_failed_after_some_tables_loaded_keeps_them";
    let Some(_) = dolt_url(test) else {
        return;
    };
    let files = [("001_tables.sql", MANY_TABLES)];
    // Its sessions are ended: on a server of its own.
    let server = OwnDolt::start(&unique_name("firstfailed")).await;
    let nights = Nights::new("firstfailed", &server.url, MANY_SOURCE, &files).await;
    let child = nights.with("refresh").args(["--jobs", "2"]).spawn();
    let (marked, report) = failed_once_two_marked(&nights, child).await;
    assert_eq!(marked, ["author", "shelf"]);
    assert_eq!(report["target_state"], "partial", "{report}");
    let detail = report["target_state_detail"].as_str().unwrap();
    assert!(detail.contains("the next refresh continues"), "{detail}");
    assert!(report["refresh"]["work_branch"].is_string(), "{report}");
    // Readers see nothing of it.
    assert_eq!(tables_on_main(&nights).await, Vec::<String>::new());
    nights
        .case
        .source_sql("UPDATE author SET mood = 'sad' WHERE id = 7")
        .await;
    killed_sessions_ended(&nights).await;
    let run = nights.with("refresh").run();
    run.assert_success();
    let report: Json = run.report();
    assert_eq!(report["refresh"]["first_night"], true, "{report}");
    let author = table(&report, "author");
    assert_eq!(author["method"], "resumed", "{report}");
    assert_eq!(author["kept_rows"], 2000, "{report}");
    assert_resumed_upserts(&report, "author", 1, 2000);
    assert_eq!(table(&report, "shelf")["method"], "resumed", "{report}");
    assert_eq!(table(&report, "book")["method"], "full", "{report}");
    nights.assert_exact(&report).await;
    next_night_by_delta(&nights, &["book", "author"]).await;
}

/// The same for a later `--full` night: readers keep the last night, and
/// the rerun keeps what the failed night finished.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_night_that_failed_after_some_tables_loaded_keeps_them() {
    let test = "a_full_night_that_failed_after_some_tables_loaded_keeps_them";
    let Some(_) = dolt_url(test) else {
        return;
    };
    let files = [("001_tables.sql", MANY_TABLES)];
    // Its sessions are ended: on a server of its own.
    let server = OwnDolt::start(&unique_name("fullfailed")).await;
    let nights = Nights::new("fullfailed", &server.url, MANY_SOURCE, &files).await;
    let (_, published) = nights.night(&[]);
    let child = nights
        .with("refresh")
        .args(["--full", "--jobs", "2"])
        .spawn();
    let (marked, report) = failed_once_two_marked(&nights, child).await;
    assert_eq!(marked, ["author", "shelf"]);
    assert_eq!(report["target_state"], "untouched", "{report}");
    assert!(report["refresh"]["work_branch"].is_string(), "{report}");
    assert_eq!(dolt_hash_of(&nights.target(), "main").await, published);
    nights
        .case
        .source_sql("UPDATE shelf SET label = 'renamed' WHERE id = 3")
        .await;
    killed_sessions_ended(&nights).await;
    let run = nights.with("refresh").args(["--full"]).run();
    run.assert_success();
    let report: Json = run.report();
    assert_eq!(table(&report, "author")["method"], "resumed", "{report}");
    let shelf = table(&report, "shelf");
    assert_eq!(shelf["method"], "resumed", "{report}");
    assert_resumed_upserts(&report, "shelf", 1, 500);
    assert_eq!(table(&report, "book")["method"], "full", "{report}");
    assert_eq!(report["refresh"]["outcome"], "published", "{report}");
    nights.assert_exact(&report).await;
    // No work branch is left behind once the night is published.
    let mut conn = mysql_connect(&nights.target()).await;
    let left: Vec<String> = conn
        .query("SELECT name FROM dolt_branches WHERE name LIKE 'pg2dolt-work-%'")
        .await
        .unwrap();
    assert_eq!(left, Vec::<String>::new());
}

/// A child table loaded beside its parents: Dolt records the rows whose
/// parent was not loaded yet as violations when the loads' transactions
/// meet on the working set. A night killed then keeps the child: its
/// rerun clears them, keeps it (its hash without them) and is exact.
const REVIEWED_SOURCE: &str = "
    CREATE TABLE review (id bigint PRIMARY KEY, book_id bigint NOT NULL REFERENCES book (id),
                         stars smallint NOT NULL);
    INSERT INTO review SELECT n, 1 + (n * 7919) % 600000, n % 5 FROM generate_series(1, 3000) n;";

const REVIEWED_TABLES: &str = "
    CREATE TABLE review (id BIGINT PRIMARY KEY, book_id BIGINT NOT NULL, stars SMALLINT NOT NULL,
                         FOREIGN KEY (book_id) REFERENCES book (id));";

#[tokio::test(flavor = "multi_thread")]
async fn a_night_killed_after_a_child_table_loaded_before_its_parent_keeps_it() {
    let test = "a_night_killed_after_a_child_table_loaded_before_its_parent_keeps_it";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let source = format!("{MANY_SOURCE};{REVIEWED_SOURCE}");
    let files = [
        ("001_tables.sql", MANY_TABLES),
        ("002_review.sql", REVIEWED_TABLES),
    ];
    let nights = Nights::new("childresume", &dolt, &source, &files).await;
    let (_, published) = nights.night(&[]);
    // Default flags: the small tables load beside the large one.
    let child = nights.with("refresh").args(["--full"]).spawn();
    let marked = marked_at_least(&nights, 3).await;
    let mut child = child;
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(marked, ["author", "review", "shelf"]);
    assert_eq!(dolt_hash_of(&nights.target(), "main").await, published);
    nights
        .case
        .source_sql("UPDATE review SET stars = 5 WHERE id = 11; DELETE FROM review WHERE id = 12;")
        .await;
    killed_sessions_ended(&nights).await;
    let run = nights.with("refresh").args(["--full"]).run();
    run.assert_success();
    let report: Json = run.report();
    let review = table(&report, "review");
    assert_eq!(review["method"], "resumed", "{report}");
    assert_resumed_upserts(&report, "review", 1, 3000);
    assert_eq!(review["rows_deleted"], 1, "{report}");
    assert_eq!(table(&report, "book")["method"], "full", "{report}");
    nights.assert_exact(&report).await;
    next_night_by_delta(&nights, &["book", "review"]).await;
}

/// The state the running night's progress records for `table`.
async fn marked_state(nights: &Nights, table: &str) -> Option<String> {
    let url = with_database(&nights.dolt, "information_schema");
    let mut conn = mysql_connect(&url).await;
    let branches: Vec<String> = conn
        .query(format!(
            "SELECT name FROM `{}`.dolt_branches WHERE name LIKE 'pg2dolt-work-%'",
            nights.case.name
        ))
        .await
        .unwrap_or_default();
    let branch = branches.first()?;
    conn.query_first(format!(
        "SELECT state FROM `{}/{branch}`.pg2dolt_night_progress WHERE name = '{table}'",
        nights.case.name
    ))
    .await
    .ok()
    .flatten()
}

/// A night that continues a stopped one and is stopped too: the third run
/// still keeps what the first loaded and the second caught up.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_first_night_killed_again_is_resumed_again() {
    let test = "a_resumed_first_night_killed_again_is_resumed_again";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let files = [("001_tables.sql", MANY_TABLES)];
    let nights = Nights::new("resumetwice", &dolt, MANY_SOURCE, &files).await;
    let child = nights.with("refresh").args(["--jobs", "2"]).spawn();
    assert_eq!(
        killed_once_two_marked(&nights, child).await,
        ["author", "shelf"]
    );
    let first = marked_state(&nights, "author").await.unwrap();
    nights
        .case
        .source_sql("INSERT INTO author VALUES (2001, 'author 2001', 'happy')")
        .await;
    killed_sessions_ended(&nights).await;
    // The rerun catches author up and marks it again, then loads book.
    let mut child = nights.with("refresh").args(["--jobs", "2"]).spawn();
    let mut again = None;
    for _ in 0..1200 {
        again = marked_state(&nights, "author")
            .await
            .filter(|state| *state != first);
        if again.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(again.is_some(), "the rerun did not mark author again");
    assert_eq!(tables_on_main(&nights).await, Vec::<String>::new());
    nights
        .case
        .source_sql("UPDATE author SET mood = 'sad' WHERE id = 2001")
        .await;
    killed_sessions_ended(&nights).await;
    let run = nights.with("refresh").run();
    run.assert_success();
    let report: Json = run.report();
    let author = table(&report, "author");
    assert_eq!(author["method"], "resumed", "{report}");
    assert_eq!(author["kept_rows"], 2001, "{report}");
    assert_eq!(table(&report, "shelf")["method"], "resumed", "{report}");
    assert_eq!(table(&report, "book")["method"], "full", "{report}");
    nights.assert_exact(&report).await;
    next_night_by_delta(&nights, &["book", "author"]).await;
}
