//! Issue 20: delta nights after what can go wrong between them — a
//! rollback, a night killed with SIGKILL mid-load, `--on-diverged reset`
//! and `merge` — each followed by a night that ends exact; catalog-only
//! changes (a column added with a default, an enum value renamed) carried;
//! masked tables written byte for byte as a full night writes them.

use mysql_async::prelude::Queryable as _;
use serde_json::Value as Json;

use crate::nights::{Nights, change, table};
use crate::support::*;

const SOURCE: &str = "
    CREATE TYPE mood AS ENUM ('happy', 'sad');
    CREATE TABLE author (id bigint PRIMARY KEY, name text NOT NULL, mood mood NOT NULL DEFAULT 'happy');
    CREATE TABLE book (id bigint PRIMARY KEY, author_id bigint NOT NULL REFERENCES author (id),
                       title text NOT NULL, pages int);
    INSERT INTO author SELECT n, 'author ' || n, CASE WHEN n % 3 = 0 THEN 'sad' ELSE 'happy' END::mood
        FROM generate_series(1, 50) n;
    INSERT INTO book SELECT n, 1 + n % 50, 'book ' || n, n FROM generate_series(1, 120000) n;";

const TABLES: &str = "
    CREATE TABLE author (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, mood VARCHAR(10) NOT NULL);
    CREATE TABLE book (id BIGINT PRIMARY KEY, author_id BIGINT NOT NULL, title VARCHAR(200) NOT NULL,
                       pages INT, FOREIGN KEY (author_id) REFERENCES author (id));";

async fn books(prefix: &str, dolt: &str) -> Nights {
    Nights::new(prefix, dolt, SOURCE, &[("001_tables.sql", TABLES)]).await
}

/// A night that succeeds: its report.
fn night(books: &Nights, flags: &[&str]) -> Json {
    books.night(flags).0
}

fn method<'a>(report: &'a Json, target: &str) -> (&'a Json, &'a Json) {
    let table = table(report, target);
    (&table["method"], &table["reason"])
}

#[tokio::test(flavor = "multi_thread")]
async fn nights_after_a_rollback_a_kill_a_reset_and_a_merge_end_exact() {
    let test = "nights_after_a_rollback_a_kill_a_reset_and_a_merge_end_exact";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let books = books("recovery", &dolt).await;
    let first = night(&books, &[]);
    let tag1 = first["refresh"]["tag"].as_str().unwrap().to_string();
    books
        .case
        .source_sql("UPDATE book SET pages = 0 WHERE id <= 10; DELETE FROM book WHERE id > 119990")
        .await;
    night(&books, &[]);

    // A rollback to night 1, then a night: the delta starts from night 1.
    Pg2dolt::new("rollback")
        .target(&books.dolt)
        .database(&books.case.name)
        .flag("--to", &tag1)
        .run()
        .assert_success();
    books
        .case
        .source_sql("UPDATE author SET name = 'renamed' WHERE id = 7")
        .await;
    let after_rollback = night(&books, &[]);
    assert_eq!(
        method(&after_rollback, "book").0,
        "delta",
        "{after_rollback}"
    );
    assert_eq!(change(&after_rollback, "book")["rows_deleted"], 10);
    books.assert_exact(&after_rollback).await;

    // A night killed with SIGKILL while it loads every row (--full).
    books
        .case
        .source_sql("UPDATE book SET pages = 1 WHERE id <= 20")
        .await;
    let mut child = books.with("refresh").args(["--full"]).spawn();
    books.wait_for_work_branch().await;
    child.kill().unwrap();
    let _ = child.wait();
    let after_kill = night(&books, &[]);
    assert_eq!(method(&after_kill, "book").0, "delta", "{after_kill}");
    books.assert_exact(&after_kill).await;

    // Someone commits on main; the night resets main to itself.
    books
        .on_main(&[
            "INSERT INTO author VALUES (900, 'staging', 'happy')",
            "CALL DOLT_COMMIT('-am', 'staging')",
        ])
        .await;
    books
        .case
        .source_sql("UPDATE book SET pages = 2 WHERE id = 30")
        .await;
    let reset = night(&books, &["--on-diverged", "reset"]);
    books.assert_exact(&reset).await;
    let after_reset = night(&books, &[]);
    books.assert_exact(&after_reset).await;

    // Someone commits on main; the night merges; the next night is exact
    // again (the merged table's hash differs from the night's: in full).
    books
        .on_main(&[
            "INSERT INTO author VALUES (901, 'staging', 'sad')",
            "CALL DOLT_COMMIT('-am', 'staging')",
        ])
        .await;
    books
        .case
        .source_sql("UPDATE book SET pages = 3 WHERE id = 31")
        .await;
    night(&books, &["--on-diverged", "merge"]);
    books
        .case
        .source_sql("UPDATE book SET pages = 4 WHERE id = 32")
        .await;
    let after_merge = night(&books, &[]);
    let (author, reason) = method(&after_merge, "author");
    assert_eq!(author, "full", "{after_merge}");
    assert!(
        reason.as_str().unwrap().contains("changed on the target"),
        "{reason}"
    );
    assert_eq!(method(&after_merge, "book").0, "delta");
    books.assert_exact(&after_merge).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_column_added_with_a_default_and_a_renamed_enum_value_are_carried() {
    let test = "a_column_added_with_a_default_and_a_renamed_enum_value_are_carried";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let books = books("catalog", &dolt).await;
    night(&books, &[]);

    // No row is written by either change: the catalog alone changes values.
    books
        .case
        .source_sql("ALTER TABLE book ADD COLUMN edition int NOT NULL DEFAULT 1")
        .await;
    std::fs::write(
        books.schema.join("002_edition.sql"),
        "ALTER TABLE book ADD COLUMN edition INT NOT NULL DEFAULT 0;",
    )
    .unwrap();
    let added = night(&books, &[]);
    books.assert_exact(&added).await;

    books
        .case
        .source_sql("ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'")
        .await;
    let renamed = night(&books, &[]);
    let (author, reason) = method(&renamed, "author");
    assert_eq!(author, "full", "{renamed}");
    assert_eq!(reason, "the source table's definition changed");
    assert_eq!(method(&renamed, "book").0, "delta");
    assert_eq!(change(&renamed, "author")["rows_modified"], 16);
    books.assert_exact(&renamed).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delta_meets_no_old_value_of_another_unique_key() {
    let test = "a_delta_meets_no_old_value_of_another_unique_key";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let books = Nights::new(
        "unique",
        &dolt,
        "CREATE TABLE member (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, name text);
         INSERT INTO member SELECT n, 'm' || n || '@mail.example', 'member ' || n FROM generate_series(1, 500) n;
         CREATE TABLE post (id bigint PRIMARY KEY, member_id bigint NOT NULL REFERENCES member, body text);
         INSERT INTO post SELECT n, 1 + n % 500, 'post ' || n FROM generate_series(1, 2000) n;",
        &[(
            "001_tables.sql",
            "CREATE TABLE member (id BIGINT PRIMARY KEY, email VARCHAR(100) NOT NULL UNIQUE, name VARCHAR(100));
             CREATE TABLE post (id BIGINT PRIMARY KEY, member_id BIGINT NOT NULL, body TEXT,
                                FOREIGN KEY (member_id) REFERENCES member (id));",
        )],
    )
    .await;
    night(&books, &[]);
    // Two members swap emails; a deleted member's email goes to a new one.
    books
        .case
        .source_sql(
            "BEGIN;
             UPDATE member SET email = 'swap' WHERE id = 1;
             UPDATE member SET email = 'm1@mail.example' WHERE id = 2;
             UPDATE member SET email = 'm2@mail.example' WHERE id = 1;
             COMMIT;
             DELETE FROM post WHERE member_id = 3; DELETE FROM member WHERE id = 3;
             INSERT INTO member VALUES (501, 'm3@mail.example', 'newcomer');",
        )
        .await;
    let night = night(&books, &[]);
    let (member, reason) = method(&night, "member");
    assert_eq!(member, "delta", "{reason}: {night}");
    let change = change(&night, "member");
    assert_eq!(
        (
            &change["rows_added"],
            &change["rows_deleted"],
            &change["rows_modified"]
        ),
        (&Json::from(1), &Json::from(1), &Json::from(2)),
        "{night}"
    );
    books.assert_exact(&night).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nights_over_a_cycle_of_nullable_foreign_keys_leave_no_violation() {
    let test = "nights_over_a_cycle_of_nullable_foreign_keys_leave_no_violation";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let books = Nights::new(
        "cycle",
        &dolt,
        "CREATE TABLE team (id int PRIMARY KEY, name text NOT NULL, captain_id int);
         CREATE TABLE player (id int PRIMARY KEY, team_id int REFERENCES team, mentor_id int REFERENCES player);
         ALTER TABLE team ADD FOREIGN KEY (captain_id) REFERENCES player;
         INSERT INTO team SELECT n, 'team ' || n, NULL FROM generate_series(1, 40) n;
         INSERT INTO player SELECT n, 1 + n % 40, CASE WHEN n > 1 THEN n - 1 END FROM generate_series(1, 4000) n;
         UPDATE team SET captain_id = id * 10;",
        &[(
            "001_tables.sql",
            "CREATE TABLE team (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, captain_id INT);
             CREATE TABLE player (id INT PRIMARY KEY, team_id INT, mentor_id INT,
                 FOREIGN KEY (team_id) REFERENCES team (id), FOREIGN KEY (mentor_id) REFERENCES player (id));
             ALTER TABLE team ADD FOREIGN KEY (captain_id) REFERENCES player (id);",
        )],
    )
    .await;
    night(&books, &[]);
    books
        .case
        .source_sql(
            "INSERT INTO team VALUES (41, 'new team', NULL);
             INSERT INTO player VALUES (4001, 41, 4000);
             UPDATE team SET captain_id = 4001 WHERE id = 41;
             UPDATE team SET captain_id = NULL WHERE id = 1;",
        )
        .await;
    // Every table reloaded side by side (default --jobs), then a delta.
    let full = night(&books, &["--full"]);
    assert_eq!(method(&full, "player").1, "--full");
    books.assert_exact(&full).await;
    books
        .case
        .source_sql(
            "UPDATE player SET mentor_id = NULL WHERE mentor_id = 500;
             DELETE FROM player WHERE id = 500;
             UPDATE team SET name = 'renamed' WHERE id = 2;",
        )
        .await;
    let delta = night(&books, &[]);
    assert_eq!(method(&delta, "team").0, "delta");
    let player = table(&delta, "player");
    assert_eq!(player["rows_deleted"], 1, "{delta}");
    books.assert_exact(&delta).await;
    let mut conn = mysql_connect(&books.target()).await;
    let violations: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM dolt_constraint_violations")
        .await
        .unwrap();
    assert_eq!(violations, Some(0), "no night leaves violations behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn deletes_are_found_by_text_and_time_keys() {
    let test = "deletes_are_found_by_text_and_time_keys";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let books = Nights::new(
        "text_keys",
        &dolt,
        "CREATE TABLE tag (name text PRIMARY KEY, uses int NOT NULL);
         INSERT INTO tag SELECT 'tag ' || n, n FROM generate_series(1, 300) n;
         CREATE TABLE event (at timestamp(3) PRIMARY KEY, what text NOT NULL);
         INSERT INTO event SELECT timestamp '2026-01-01' + n * interval '1.5 second', 'event ' || n
             FROM generate_series(1, 300) n;",
        &[(
            "001_tables.sql",
            "CREATE TABLE tag (name VARCHAR(50) PRIMARY KEY, uses INT NOT NULL);
             CREATE TABLE event (at DATETIME(3) PRIMARY KEY, what VARCHAR(50) NOT NULL);",
        )],
    )
    .await;
    night(&books, &[]);
    books
        .case
        .source_sql(
            "DELETE FROM tag WHERE uses % 50 = 0; INSERT INTO tag VALUES ('Tag 1', 1);
             UPDATE tag SET name = 'renamed' WHERE name = 'tag 7';
             DELETE FROM event WHERE at < timestamp '2026-01-01 00:00:10';",
        )
        .await;
    let (report, _) = books.night(&[]);
    assert_eq!(table(&report, "tag")["method"], "delta", "{report}");
    assert_eq!(table(&report, "tag")["rows_deleted"], 7, "{report}");
    assert_eq!(table(&report, "event")["rows_deleted"], 6, "{report}");
    books.assert_exact(&report).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn partitioned_tables_and_masked_keys_take_deltas_with_deletes() {
    let test = "partitioned_tables_and_masked_keys_take_deltas_with_deletes";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let nights = Nights::new(
        "partitioned",
        &dolt,
        "CREATE TABLE reading (id bigint, day date, value int, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
         CREATE TABLE reading_2025 PARTITION OF reading FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
         CREATE TABLE reading_2026 PARTITION OF reading FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
         INSERT INTO reading SELECT n, date '2025-06-01' + n, n FROM generate_series(1, 400) n;
         CREATE TABLE subscriber (email text PRIMARY KEY, tier text NOT NULL);
         INSERT INTO subscriber SELECT 's' || n || '@mail.example', 'basic' FROM generate_series(1, 200) n;",
        &[(
            "001_tables.sql",
            "CREATE TABLE reading (id BIGINT, day DATE, value INT, PRIMARY KEY (id, day));
             CREATE TABLE subscriber (email VARCHAR(100) PRIMARY KEY, tier VARCHAR(20) NOT NULL);",
        )],
    )
    .await;
    let rules = std::env::temp_dir().join(format!("{}-rules", nights.case.name));
    std::fs::write(&rules, "subscriber.email = email\n").unwrap();
    let key = std::env::temp_dir().join(format!("{}-key", nights.case.name));
    std::fs::write(&key, "another secret of thirty-two b.\n").unwrap();
    let masked = |command: &str| {
        nights
            .with(command)
            .flag("--mask-rules", &rules)
            .flag("--mask-key-file", &key)
    };
    masked("refresh").run().assert_success();
    nights
        .case
        .source_sql(
            "UPDATE reading SET day = day + 200 WHERE id <= 5;
             DELETE FROM reading WHERE id BETWEEN 100 AND 104;
             UPDATE reading SET value = 0 WHERE id = 300;
             DELETE FROM subscriber WHERE email IN ('s1@mail.example', 's2@mail.example');
             UPDATE subscriber SET tier = 'gold' WHERE email = 's3@mail.example';",
        )
        .await;
    let run = masked("refresh").run();
    run.assert_success();
    let report = run.report();
    assert_eq!(table(&report, "reading")["method"], "delta", "{report}");
    assert_eq!(
        table(&report, "reading")["rows_deleted"],
        10,
        "moved rows change key"
    );
    assert_eq!(table(&report, "subscriber")["method"], "delta");
    assert_eq!(table(&report, "subscriber")["rows_deleted"], 2);
    let verified = masked("verify").run();
    verified.assert_success();
    assert_eq!(verified.report()["verify"]["equal"], true);
}
