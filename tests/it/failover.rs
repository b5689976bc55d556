//! Issue 31: a night proves the source's history continuous before it takes
//! a delta. On clusters of the tests' own (PostgreSQL 15 and the newest
//! major the test command installed): a failover to a standby that never
//! had the last night's transaction, with as many transactions after it as
//! were lost and with more; a point-in-time restore to before a night;
//! nights read from a hot standby, with a role that may not read its
//! timeline and with one that may, then the standby promoted without loss.
//! Every night ends equal to the source it read, row for row.

use mysql_async::prelude::Queryable as _;
use serde_json::Value as Json;

use crate::chinook::chinook_postgres_sql;
use crate::nights::{Nights, table};
use crate::support::postgres::{PgBuild, PgCluster, pg_builds};
use crate::support::*;

/// Chinook's artists get a 20,000-row table of notes.
const BIG: &str = "
    CREATE TABLE big (id bigint PRIMARY KEY, artist_id int NOT NULL REFERENCES artist (artist_id),
                      note text NOT NULL);
    INSERT INTO big SELECT n, 1 + n % 275, 'note ' || n FROM generate_series(1, 20000) n;";

const BIG_TABLE: &str = "CREATE TABLE Big (Id BIGINT PRIMARY KEY, ArtistId INT NOT NULL,
    Note VARCHAR(40) NOT NULL, FOREIGN KEY (ArtistId) REFERENCES Artist (ArtistId));";

/// The transaction the failover loses: 400 rows of `big` updated, 200
/// deleted, 300 inserted, artist 3 renamed.
const LOST: &str = "BEGIN;
    UPDATE big SET note = 'lost' WHERE id <= 400;
    DELETE FROM big WHERE id > 19800;
    INSERT INTO big SELECT n, 1, 'lost ' || n FROM generate_series(30001, 30300) n;
    UPDATE artist SET name = 'lost artist' WHERE artist_id = 3;
    COMMIT;";

/// The new primary's first transaction: 285 rows updated, 50 inserted,
/// artist 4 renamed.
const AFTER_FAILOVER: &str = "BEGIN;
    UPDATE big SET note = 'new primary' WHERE id BETWEEN 1000 AND 1284;
    INSERT INTO big SELECT n, 2, 'new ' || n FROM generate_series(40001, 40050) n;
    UPDATE artist SET name = 'new primary artist' WHERE artist_id = 4;
    COMMIT;";

/// The database `app` on `cluster`: Chinook and `big`.
async fn load_source(cluster: &PgCluster) {
    cluster.sql("postgres", "CREATE DATABASE app").await;
    cluster.sql("app", &chinook_postgres_sql()).await;
    cluster.sql("app", BIG).await;
}

/// Nights of `source` into a new Dolt database, with Chinook's schema
/// files and `big`'s.
fn nights_of(source: String, dolt: &str, prefix: &str) -> Nights {
    let case = Case {
        servers: servers(),
        name: unique_name(prefix),
        source,
    };
    let directory = repo_path("tests/fixtures/chinook/mysql-schema");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.push(("030_big.sql".to_string(), BIG_TABLE.to_string()));
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect();
    let schema = case.schema_dir(&files);
    Nights {
        case,
        dolt: dolt.to_string(),
        schema,
    }
}

fn verdict(report: &Json) -> &Json {
    &report["refresh"]["source_history"]["verdict"]
}

/// Every table of the night was reloaded in full, for a reason saying `why`.
fn all_full(report: &Json, why: &str) {
    for table in report["tables"].as_array().unwrap() {
        assert_eq!(table["method"], "full", "{table}");
        let reason = table["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(why), "{reason}");
    }
}

async fn artist_name(nights: &Nights, id: u32) -> String {
    let mut conn = mysql_connect(&nights.target()).await;
    let name: Option<String> = conn
        .exec_first("SELECT Name FROM Artist WHERE ArtistId = ?", (id,))
        .await
        .unwrap();
    name.unwrap()
}

fn xmax(report: &Json) -> u64 {
    report["snapshot"]["transactions"]["xmax"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failover_that_lost_transactions_reloads_with_as_many_transactions_after_it() {
    let test = "a_failover_that_lost_transactions_reloads_with_as_many_transactions_after_it";
    let (Some(dolt), Some(builds)) = (dolt_url(test), pg_builds(test)) else {
        return;
    };
    for build in &builds {
        failover(build, &dolt, 0).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failover_that_lost_transactions_reloads_with_more_transactions_after_it() {
    let test = "a_failover_that_lost_transactions_reloads_with_more_transactions_after_it";
    let (Some(dolt), Some(builds)) = (dolt_url(test), pg_builds(test)) else {
        return;
    };
    for build in &builds {
        failover(build, &dolt, 5).await;
    }
}

/// The scenario: night 1 and 2 read the primary; the standby, cut
/// off before night 2's transaction, is promoted and written on (one
/// transaction, then `more`); night 3 reads it.
async fn failover(build: &PgBuild, dolt: &str, more: u32) {
    let primary = PgCluster::primary(build, &[]);
    load_source(&primary).await;
    let standby = primary.standby("standby");
    let mut nights = nights_of(primary.url("app"), dolt, "failover");
    nights.night(&[]);

    // The standby stops receiving; the primary commits one transaction,
    // which night 2 publishes.
    standby.wait_replayed(&primary).await;
    standby.stop("fast");
    primary.sql("app", LOST).await;
    let (second, _) = nights.night(&[]);
    assert_eq!(table(&second, "Big")["method"], "delta", "{second}");
    assert_eq!(verdict(&second), "continuous", "{second}");
    nights.assert_exact(&second).await;

    // The primary is lost; the standby is promoted and written on.
    primary.stop("immediate");
    standby.start();
    standby.promote();
    standby.sql("app", AFTER_FAILOVER).await;
    for id in 0..more {
        let sql = format!("UPDATE big SET note = 'later' WHERE id = {}", 2000 + id);
        standby.sql("app", &sql).await;
    }
    nights.case.source = standby.url("app");
    let (third, _) = nights.night(&[]);
    // The transaction ids did not go back: only the history tells.
    assert!(
        xmax(&third) >= xmax(&second),
        "PostgreSQL {}: {} < {}",
        build.major,
        xmax(&third),
        xmax(&second)
    );
    assert_eq!(verdict(&third), "broken", "{third}");
    all_full(&third, "failed over or was restored");
    nights.assert_exact(&third).await;
    assert_eq!(artist_name(&nights, 3).await, "Aerosmith");
    assert_eq!(artist_name(&nights, 4).await, "new primary artist");

    // The new timeline's next night takes deltas again.
    standby
        .sql(
            "app",
            "UPDATE artist SET name = 'fourth night' WHERE artist_id = 5",
        )
        .await;
    let (fourth, _) = nights.night(&[]);
    assert_eq!(verdict(&fourth), "continuous", "{fourth}");
    assert_eq!(table(&fourth, "Artist")["method"], "delta", "{fourth}");
    nights.assert_exact(&fourth).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_to_before_a_night_reloads_and_equals_the_restored_source() {
    let test = "a_restore_to_before_a_night_reloads_and_equals_the_restored_source";
    let (Some(dolt), Some(builds)) = (dolt_url(test), pg_builds(test)) else {
        return;
    };
    for build in &builds {
        let primary = PgCluster::primary(build, &[]);
        let archive = primary.archive_wal();
        load_source(&primary).await;
        let mut nights = nights_of(primary.url("app"), &dolt, "restore");
        nights.night(&[]);
        let backup = primary.base_backup("backup");
        primary
            .sql("app", "SELECT pg_create_restore_point('before_night_2')")
            .await;
        primary
            .sql(
                "app",
                "UPDATE artist SET name = 'after the restore point' WHERE artist_id = 3;
                 DELETE FROM big WHERE id > 19900",
            )
            .await;
        let (second, _) = nights.night(&[]);
        assert_eq!(table(&second, "Big")["method"], "delta", "{second}");
        nights.assert_exact(&second).await;

        // Everything archived, the primary gone, the backup restored to
        // the restore point.
        let segment = primary
            .value("app", "SELECT pg_walfile_name(pg_current_wal_lsn())")
            .await;
        primary.sql("app", "SELECT pg_switch_wal()").await;
        let archived = format!(
            "SELECT coalesce(last_archived_wal >= '{segment}', false) FROM pg_stat_archiver"
        );
        primary.wait_for(&archived, "the WAL to be archived").await;
        primary.stop("immediate");
        backup.configure(&[
            &format!("restore_command = 'cp {}/%f %p'", archive.display()),
            "recovery_target_name = 'before_night_2'",
            "recovery_target_action = 'promote'",
        ]);
        std::fs::write(backup.data().join("recovery.signal"), "").unwrap();
        backup.start();
        backup
            .wait_for("SELECT NOT pg_is_in_recovery()", "the restore to end")
            .await;
        backup
            .sql("app", "UPDATE big SET note = 'restored' WHERE id = 7")
            .await;

        nights.case.source = backup.url("app");
        let (third, _) = nights.night(&[]);
        assert_eq!(verdict(&third), "broken", "{third}");
        all_full(&third, "failed over or was restored");
        nights.assert_exact(&third).await;
        assert_eq!(artist_name(&nights, 3).await, "Aerosmith");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nights_read_from_a_standby_then_promoted_without_loss_stay_exact_by_delta() {
    let test = "nights_read_from_a_standby_then_promoted_without_loss_stay_exact_by_delta";
    let (Some(dolt), Some(builds)) = (dolt_url(test), pg_builds(test)) else {
        return;
    };
    for build in &builds {
        standby_nights(build, &dolt).await;
    }
}

/// A delta night that proved the source's history: every row exact.
async fn proven_delta(nights: &Nights, flags: &[&str], targets: &[&str]) {
    let (report, _) = nights.night(flags);
    assert_eq!(verdict(&report), "continuous", "{report}");
    for target in targets {
        assert_eq!(table(&report, target)["method"], "delta", "{report}");
    }
    nights.assert_exact(&report).await;
}

/// Nights read a hot standby; it is promoted without loss; a new standby
/// is made from the new primary (a replica rebuilt from a base backup), and
/// read by a role that may not read its timeline.
async fn standby_nights(build: &PgBuild, dolt: &str) {
    let primary = PgCluster::primary(build, &[]);
    load_source(&primary).await;
    let grant = "CREATE ROLE reader LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader";
    primary.sql("app", grant).await;
    let standby = primary.standby("standby");
    standby.wait_replayed(&primary).await;
    let mut nights = nights_of(standby.url("app"), dolt, "standby");
    nights.night(&[]);
    let change = |n: u32| format!("UPDATE artist SET name = 'night {n}' WHERE artist_id = {n}");
    primary.sql("app", &change(2)).await;
    standby.wait_replayed(&primary).await;
    proven_delta(&nights, &[], &["Artist"]).await;

    // The primary shuts down cleanly (its standby gets everything first);
    // the standby is promoted and written on.
    primary.sql("app", &change(3)).await;
    primary.stop("fast");
    standby.promote();
    standby.sql("app", AFTER_FAILOVER).await;
    proven_delta(&nights, &[], &["Artist", "Big"]).await;
    assert_eq!(artist_name(&nights, 3).await, "night 3");

    // A role without special rights proves a primary's history.
    standby.sql("app", &change(4)).await;
    nights.case.source = standby.url_as("reader", "app");
    proven_delta(&nights, &[], &["Artist"]).await;

    // A replica made from a new base backup of the new primary.
    let replica = standby.standby("replica");
    standby.sql("app", &change(5)).await;
    replica.wait_replayed(&standby).await;
    nights.case.source = replica.url("app");
    proven_delta(&nights, &[], &["Artist"]).await;

    // Read by a role that may not read the replica's timeline: said once,
    // every table in full.
    standby.sql("app", &change(6)).await;
    replica.wait_replayed(&standby).await;
    nights.case.source = replica.url_as("reader", "app");
    let run = nights.with("refresh").run();
    run.assert_success();
    let unproven = run.report();
    assert_eq!(verdict(&unproven), "unproven", "{unproven}");
    all_full(&unproven, "pg_read_all_stats");
    assert_eq!(
        run.stderr.matches("cannot be proven continuous").count(),
        1,
        "said once a night:\n{}",
        run.stderr
    );
    nights.assert_exact(&unproven).await;

    // The operator accepts the risk.
    standby.sql("app", &change(7)).await;
    replica.wait_replayed(&standby).await;
    let (trusted, _) = nights.night(&["--trust-source-history"]);
    assert_eq!(
        trusted["refresh"]["source_history"]["trusted"], true,
        "{trusted}"
    );
    assert_eq!(table(&trusted, "Artist")["method"], "delta", "{trusted}");
    nights.assert_exact(&trusted).await;
}
