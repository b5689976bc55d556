//! Acceptance 9: the Dolt path, against a real `dolt sql-server` (started by
//! scripts/test.sh when `dolt` is on PATH). Without one it prints SKIPPED.

use std::io::Write as _;

use mysql_async::prelude::Queryable as _;

use crate::demo::demo_sql;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn demo_copy_into_dolt_makes_one_commit() {
    let Ok(dolt_url) = std::env::var("PG2DOLT_TEST_DOLT_URL") else {
        assert!(
            std::env::var("PG2DOLT_TEST_REQUIRE_DOLT").as_deref() != Ok("1"),
            "PG2DOLT_TEST_DOLT_URL is not set, and the Dolt tests are required"
        );
        // Written past the test harness's capture, so it shows in the output.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: demo_copy_into_dolt_makes_one_commit (dolt is not on PATH)"
        );
        return;
    };
    let case = Case::new("dolt_demo", &demo_sql()).await;
    let source = case.source.as_str();
    let report_path = case.report_path();
    let run = run_pg2dolt(&[
        "--source",
        source,
        "--target",
        &dolt_url,
        "--author",
        "Nightly Job <nightly@example.com>",
        "--report",
        report_path.to_str().unwrap(),
    ]);
    run.assert_success();
    let hash = run.stdout.trim().to_string();
    assert!(!hash.is_empty(), "the commit hash is printed on stdout");
    let report = read_report(&report_path);
    assert_eq!(report["target_kind"], "dolt");
    assert_eq!(report["dolt_commit"], hash.as_str());

    let target = with_database(&dolt_url, &case.name);
    let mut conn = mysql_connect(&target).await;
    // The commit is dated at the snapshot, before the database existed:
    // HEAD, not the newest date, is pg2dolt's commit.
    let head: Option<String> = conn.query_first("SELECT HASHOF('HEAD')").await.unwrap();
    assert_eq!(head.as_deref(), Some(hash.as_str()));
    let log: Vec<(String, String, String, String)> = conn
        .query("SELECT commit_hash, committer, email, message FROM dolt_log")
        .await
        .unwrap();
    let ours: Vec<_> = log
        .iter()
        .filter(|entry| entry.3.contains("pg2dolt"))
        .collect();
    assert_eq!(ours.len(), 1, "one pg2dolt commit: {log:?}");
    assert_eq!(ours[0].0, hash);
    assert_eq!(
        (ours[0].1.as_str(), ours[0].2.as_str()),
        ("Nightly Job", "nightly@example.com"),
        "{log:?}"
    );
    let pending: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM dolt_status")
        .await
        .unwrap();
    assert_eq!(pending, Some(0));
    assert_eq!(assert_tables_equal(source, &target, &report).await, 13_060);
}
