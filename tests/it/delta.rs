//! Issue 20: delta nights on a real Dolt sql-server, with default flags
//! (side-by-side loads) and foreign keys: each published diff is exactly the
//! source's change, every row equals the source (through the typed drivers,
//! and `pg2dolt verify`), and what a delta cannot prove is reloaded in full
//! and said so.

use serde_json::Value as Json;

use crate::chinook::chinook_postgres_sql;
use crate::nights::{Nights, change, changes, table};
use crate::support::*;

/// A keyless table beside Chinook (reloaded in full every night).
const PLAY_LOG: &str = "
    CREATE TABLE play_log (track_id int, played_at timestamp);
    INSERT INTO play_log VALUES (1, '2026-12-01 10:00'), (1, '2026-12-01 10:00'), (2, '2026-12-02 11:00');";
const PLAY_LOG_TABLE: &str = "CREATE TABLE PlayLog (TrackId INT, PlayedAt DATETIME);";

/// Chinook (and a keyless table), refreshed.
async fn chinook(prefix: &str, dolt: &str) -> Nights {
    let fixtures = repo_path("tests/fixtures/chinook/mysql-schema");
    let tables = std::fs::read_to_string(fixtures.join("010_tables.sql")).unwrap();
    let keys = std::fs::read_to_string(fixtures.join("020_foreign_keys.sql")).unwrap();
    let source = format!("{}\n{PLAY_LOG}", chinook_postgres_sql());
    let files = [
        ("010_tables.sql", tables.as_str()),
        ("020_foreign_keys.sql", keys.as_str()),
        ("030_play_log.sql", PLAY_LOG_TABLE),
    ];
    Nights::new(prefix, dolt, &source, &files).await
}

/// Each table's `method` in a refresh report, by target table.
fn methods(report: &Json) -> std::collections::BTreeMap<String, String> {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|table| {
            let method = table["method"].as_str().unwrap().to_string();
            (table["target"].as_str().unwrap().to_string(), method)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn chinook_nights_write_only_what_changed_and_verify_equal() {
    let test = "chinook_nights_write_only_what_changed_and_verify_equal";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let chinook = chinook("delta", &dolt).await;
    let (first, night1) = chinook.night(&[]);
    assert_eq!(table(&first, "Track")["method"], "full");
    chinook.assert_exact(&first).await;

    // Night 2: updates, deletes (a parent's children first), inserts, a
    // changed primary key, on tables tied by foreign keys.
    chinook
        .case
        .source_sql(
            "UPDATE track SET name = name || ' (remastered)' WHERE track_id IN (5, 500, 3000);
             DELETE FROM playlist_track WHERE playlist_id = 1 AND track_id < 100;
             DELETE FROM invoice_line WHERE invoice_id = 1;
             DELETE FROM invoice WHERE invoice_id = 1;
             INSERT INTO genre VALUES (26, 'Polka');
             INSERT INTO track (track_id, name, media_type_id, genre_id, milliseconds, unit_price)
                 VALUES (3504, 'Beer Barrel', 1, 26, 180000, 0.99);
             INSERT INTO playlist_track VALUES (1, 3504);
             UPDATE invoice_line SET invoice_line_id = 9000 WHERE invoice_line_id = 7;
             INSERT INTO play_log VALUES (3504, '2026-12-06 01:00');",
        )
        .await;
    let (second, night2) = chinook.night(&[]);
    assert_eq!(
        chinook.diff(&night1, &night2).await,
        changes(&[
            ("Genre", 1, 0, 0),
            ("Invoice", 0, 1, 0),
            ("InvoiceLine", 1, 3, 0),
            ("PlayLog", 1, 0, 0),
            ("PlaylistTrack", 1, 99, 0),
            ("Track", 1, 0, 3),
        ])
    );
    let methods2 = methods(&second);
    assert_eq!(methods2["Track"], "delta", "{second}");
    assert_eq!(methods2["InvoiceLine"], "delta");
    // At least the 4 changed rows: a transaction of another test running
    // on the cluster at night 1's snapshot holds its xmin back, and the
    // rows written since are looked at again (unchanged, they change
    // nothing).
    let upserted = table(&second, "Track")["rows_upserted"].as_u64().unwrap();
    assert!(upserted >= 4, "{second}");
    assert_eq!(table(&second, "PlaylistTrack")["rows_deleted"], 99);
    assert_eq!(table(&second, "InvoiceLine")["rows_deleted"], 3);
    assert_eq!(table(&second, "PlayLog")["method"], "full");
    assert_eq!(table(&second, "PlayLog")["reason"], "no primary key");
    assert_eq!(change(&second, "Track")["method"], "delta", "{second}");
    chinook.assert_exact(&second).await;

    // Night 3: a new table through a new schema file, the diff still
    // exactly the change.
    chinook
        .case
        .source_sql(
            "CREATE TABLE review (review_id int PRIMARY KEY, track_id int NOT NULL REFERENCES track, stars int);
             INSERT INTO review VALUES (1, 5, 4), (2, 3504, 5);
             UPDATE artist SET name = 'AC/DC (band)' WHERE artist_id = 1;",
        )
        .await;
    std::fs::write(
        chinook.schema.join("040_review.sql"),
        "CREATE TABLE Review (ReviewId INT PRIMARY KEY, TrackId INT NOT NULL, Stars INT,
             FOREIGN KEY (TrackId) REFERENCES Track (TrackId));",
    )
    .unwrap();
    let (third, night3) = chinook.night(&[]);
    chinook.assert_exact(&third).await;
    assert_eq!(
        chinook.diff(&night2, &night3).await,
        changes(&[("Artist", 0, 0, 1), ("Review", 2, 0, 0)])
    );
    // The schema file changed no table the last night had: those stay
    // deltas, the new one loads in full.
    assert_eq!(table(&third, "Track")["method"], "delta", "{third}");
    assert_eq!(table(&third, "Review")["method"], "full");
    assert_eq!(
        table(&third, "Review")["reason"],
        "not in the last published night"
    );

    // Night 4: deltas again; the branch checked behind pg2dolt's back.
    chinook
        .case
        .source_sql("UPDATE review SET stars = 1 WHERE review_id = 1")
        .await;
    let (fourth, night4) = chinook.night(&["--verify"]);
    assert_eq!(fourth["verify"]["equal"], true, "{fourth}");
    assert!(
        fourth["verify"]["branch"]
            .as_str()
            .unwrap()
            .starts_with("pg2dolt-work-")
    );
    assert_eq!(
        chinook.diff(&night3, &night4).await,
        changes(&[("Review", 0, 0, 1)])
    );
    assert_eq!(table(&fourth, "Review")["method"], "delta", "{fourth}");
    chinook.assert_exact(&fourth).await;
    behind_the_back(&chinook).await;
}

/// A row changed, one deleted and one added on main by someone else: verify
/// names each table (exit 4); the next night's delta does not see them (the
/// published branch diverged), and `--full` puts every row right.
async fn behind_the_back(chinook: &Nights) {
    use mysql_async::prelude::Queryable as _;
    let mut conn = mysql_connect(&chinook.target()).await;
    for statement in [
        "UPDATE Artist SET Name = 'changed' WHERE ArtistId = 2",
        "DELETE FROM Review WHERE ReviewId = 2",
        "INSERT INTO Genre VALUES (99, 'Fake')",
    ] {
        conn.query_drop(statement).await.unwrap();
    }
    let run = chinook.with("verify").run();
    let error = run.assert_one_line_error(4);
    assert!(
        error.contains("Artist: 0 missing, 0 extra, 1 different"),
        "{error}"
    );
    assert!(
        error.contains("Review: 1 missing, 0 extra, 0 different"),
        "{error}"
    );
    assert!(
        error.contains("Genre: 0 missing, 1 extra, 0 different"),
        "{error}"
    );
    let report = run.report();
    assert_eq!(report["verify"]["equal"], false);
    let differences = report["verify"]["differences"].as_array().unwrap();
    assert_eq!(differences.len(), 3, "{report}");
    let genre = differences
        .iter()
        .find(|table| table["table"] == "Genre")
        .unwrap();
    assert_eq!(genre["keys"][0], "extra (GenreId: 99)", "{report}");
    conn.query_drop("CALL DOLT_RESET('--hard')").await.unwrap();
    let clean = chinook.with("verify").run();
    clean.assert_success();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_open_at_the_snapshot_is_carried_the_next_night() {
    let test = "a_transaction_open_at_the_snapshot_is_carried_the_next_night";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let chinook = chinook("inflight", &dolt).await;
    chinook.night(&[]);
    // A transaction writes before the night's snapshot and commits after it.
    let client = pg_connect(&chinook.case.source).await;
    client
        .batch_execute(
            "BEGIN; INSERT INTO genre VALUES (30, 'Open at the snapshot');
             SAVEPOINT inner_work; INSERT INTO genre VALUES (31, 'In a savepoint');
             UPDATE artist SET name = 'Changed in a savepoint' WHERE artist_id = 3;
             RELEASE SAVEPOINT inner_work;",
        )
        .await
        .unwrap();
    chinook
        .case
        .source_sql("UPDATE media_type SET name = 'MP3' WHERE media_type_id = 3")
        .await;
    let (during, night2) = chinook.night(&[]);
    client.batch_execute("COMMIT").await.unwrap();
    assert_eq!(table(&during, "Genre")["method"], "delta", "{during}");
    assert_eq!(table(&during, "Genre")["rows_examined"], 25, "left out");
    let (after, night3) = chinook.night(&[]);
    assert_eq!(
        chinook.diff(&night2, &night3).await,
        changes(&[("Artist", 0, 0, 1), ("Genre", 2, 0, 0)])
    );
    assert_eq!(table(&after, "Genre")["method"], "delta");
    chinook.assert_exact(&after).await;

    // Writes while a night loads: that night holds its snapshot, the next
    // carries every write.
    let running = chinook.with("refresh").spawn();
    let client = pg_connect(&chinook.case.source).await;
    for step in 0..30 {
        client
            .batch_execute(&format!(
                "UPDATE track SET milliseconds = milliseconds + 1 WHERE track_id = {};
                 INSERT INTO genre VALUES ({}, 'written during a night');
                 DELETE FROM playlist_track WHERE playlist_id = 8 AND track_id = {};",
                100 + step,
                40 + step,
                1000 + step * 7
            ))
            .await
            .unwrap();
    }
    let during = tokio::task::spawn_blocking(move || running.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        during.status.success(),
        "{}",
        String::from_utf8_lossy(&during.stderr)
    );
    let (carried, _) = chinook.night(&[]);
    assert_eq!(table(&carried, "Genre")["method"], "delta", "{carried}");
    chinook.assert_exact(&carried).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rewrites_that_change_no_value_make_no_commit() {
    let test = "rewrites_that_change_no_value_make_no_commit";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let chinook = chinook("rewrites", &dolt).await;
    let (_, published) = chinook.night(&[]);
    for rewrite in [
        "VACUUM FULL track",
        "BEGIN; CREATE TEMP TABLE kept AS SELECT * FROM playlist_track;
         TRUNCATE playlist_track; INSERT INTO playlist_track SELECT * FROM kept; COMMIT;
         BEGIN; CREATE TEMP TABLE one AS SELECT * FROM invoice_line WHERE invoice_line_id = 4;
         DELETE FROM invoice_line WHERE invoice_line_id = 4;
         INSERT INTO invoice_line SELECT * FROM one; COMMIT;
         UPDATE album SET title = title WHERE album_id < 50",
    ] {
        // VACUUM and CLUSTER each run alone (not in a transaction block).
        if rewrite.starts_with("VACUUM") {
            for statement in [
                rewrite,
                "CLUSTER invoice USING invoice_pkey",
                "VACUUM FREEZE",
            ] {
                chinook.case.source_sql(statement).await;
            }
        } else {
            chinook.case.source_sql(rewrite).await;
        }
        let (report, head) = chinook.night(&[]);
        assert_eq!(
            report["refresh"]["outcome"], "unchanged",
            "{rewrite}: {report}"
        );
        assert_eq!(head, published);
        assert_eq!(table(&report, "Track")["method"], "delta");
    }
}

/// The safety net: a delta that does not add up (here the last night's
/// recorded transaction range is moved past writes it never saw, as a
/// change the row versions do not show would look) reloads that table in
/// full, says why, and the night ends exact.
#[tokio::test(flavor = "multi_thread")]
async fn a_delta_that_does_not_add_up_reloads_the_table_in_full() {
    use mysql_async::prelude::Queryable as _;
    let test = "a_delta_that_does_not_add_up_reloads_the_table_in_full";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let nights = Nights::new(
        "tampered",
        &dolt,
        "CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL);
         INSERT INTO item SELECT n, 'item ' || n FROM generate_series(1, 100) n;",
        &[(
            "001_tables.sql",
            "CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL);",
        )],
    )
    .await;
    let (first, _) = nights.night(&[]);
    let tag = first["refresh"]["tag"].as_str().unwrap().to_string();
    nights
        .case
        .source_sql(
            "INSERT INTO item SELECT n, 'item ' || n FROM generate_series(101, 110) n;
             DELETE FROM item WHERE id <= 3;",
        )
        .await;
    let now: String = pg_connect(&nights.case.source)
        .await
        .query_one(
            "SELECT split_part(txid_current_snapshot()::text, ':', 2)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let mut conn = mysql_connect(&nights.target()).await;
    let (hash, message): (String, String) = conn
        .exec_first(
            "SELECT tag_hash, message FROM dolt_tags WHERE tag_name = ?",
            (&tag,),
        )
        .await
        .unwrap()
        .unwrap();
    let (said, recorded) = message.split_once("pg2dolt-night-state: ").unwrap();
    let mut state: Json = serde_json::from_str(recorded).unwrap();
    state["xmin"] = Json::from(now.parse::<u64>().unwrap());
    state["xmax"] = state["xmin"].clone();
    let tampered = format!("{said}pg2dolt-night-state: {state}");
    conn.exec_drop("CALL DOLT_TAG('-d', ?)", (&tag,))
        .await
        .unwrap();
    conn.exec_drop("CALL DOLT_TAG(?, ?, '-m', ?)", (&tag, &hash, &tampered))
        .await
        .unwrap();

    let (report, _) = nights.night(&[]);
    let item = table(&report, "item");
    assert_eq!(item["method"], "full", "{report}");
    assert!(
        item["reason"].as_str().unwrap().contains("did not add up"),
        "{report}"
    );
    assert_eq!(item["rows"], 107);
    nights.assert_exact(&report).await;
}
