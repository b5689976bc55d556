//! Issue 14, the nights that must not publish, or publish as told: a
//! night that deletes most of a table is held back, a branch written to
//! between nights fails, resets or merges (`--on-diverged`), a failed
//! night leaves the published branch as it was, and refresh needs Dolt.

use mysql_async::prelude::Queryable as _;

use crate::refresh::{Nightly, SOURCE, TABLES, diff, reported_diff};
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_night_that_deletes_most_of_a_table_is_held_back() {
    let Some(dolt) = dolt_url("a_night_that_deletes_most_of_a_table_is_held_back") else {
        return;
    };
    let nightly = Nightly::new("guard", &dolt, SOURCE, TABLES).await;
    nightly.refresh().run().assert_success();
    let published = nightly.hash_of("main").await;
    nightly.source_sql("DELETE FROM book WHERE id > 200").await;

    let held = nightly.refresh().run();
    let error = held.assert_one_line_error(7);
    assert!(
        error.contains("book lost 800 of its 1000 rows (80.0%)"),
        "{error}"
    );
    let report = held.report();
    assert_eq!(report["refresh"]["outcome"], "held-back", "{report}");
    let work = report["refresh"]["work_branch"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains(&work), "the work branch is named: {error}");
    assert_eq!(
        nightly.hash_of("main").await,
        published,
        "nothing published"
    );
    assert_eq!(nightly.branches().await, ["main".to_string(), work.clone()]);
    assert_eq!(reported_diff(&report), diff(&[("book", (0, 800, 0))]));

    let allowed = nightly.refresh().flag("--max-deleted-percent", "100").run();
    allowed.assert_success();
    let night = allowed.stdout.trim().to_string();
    assert_ne!(night, published);
    assert_eq!(nightly.hash_of("main").await, night);
    assert_eq!(
        nightly.dolt_diff(&published, &night).await,
        diff(&[("book", (0, 800, 0))])
    );

    // A table a new schema file drops was meant to go: not held back.
    nightly.source_sql("DROP TABLE book").await;
    std::fs::write(nightly.schema.join("002_drop.sql"), "DROP TABLE book;").unwrap();
    let dropped = nightly.refresh().run();
    dropped.assert_success();
    let report = dropped.report();
    let book = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|change| change["table"] == "book")
        .unwrap();
    assert_eq!(book["dropped"], true, "{report}");
    assert_eq!(book["rows_deleted"], 200, "{report}");
}

/// A published branch someone committed to (and left uncommitted changes
/// on) since the last refresh.
async fn written_between_nights(nightly: &Nightly, name: &str) {
    nightly
        .target_sql(
            "main",
            &[
                &format!("INSERT INTO author VALUES (900, '{name}')"),
                "CALL DOLT_COMMIT('-am', 'staging wrote this')",
            ],
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_branch_written_to_between_nights_fails_resets_or_merges() {
    let Some(dolt) = dolt_url("a_branch_written_to_between_nights_fails_resets_or_merges") else {
        return;
    };
    let nightly = Nightly::new("diverged", &dolt, SOURCE, TABLES).await;
    nightly.refresh().run().assert_success();

    // fail (the default): exit 7, nothing published, the work branch kept.
    written_between_nights(&nightly, "staging one").await;
    let staged = nightly.hash_of("main").await;
    nightly
        .source_sql("UPDATE book SET pages = 0 WHERE id = 1")
        .await;
    let failed = nightly.refresh().run();
    let error = failed.assert_one_line_error(7);
    assert!(
        error.contains("written to since the last refresh"),
        "{error}"
    );
    let report = failed.report();
    let work = report["refresh"]["work_branch"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains(&work), "{error}");
    assert_eq!(nightly.hash_of("main").await, staged, "nothing published");
    assert!(nightly.branches().await.contains(&work));
    nightly
        .target_sql("main", &[&format!("CALL DOLT_BRANCH('-D', '{work}')")])
        .await;

    // reset: the old head tagged, the branch moved to the night.
    let reset = nightly.refresh().flag("--on-diverged", "reset").run();
    reset.assert_success();
    let report = reset.report();
    let night = reset.stdout.trim().to_string();
    assert_eq!(nightly.hash_of("main").await, night);
    let kept = report["refresh"]["previous_head_tag"].as_str().unwrap();
    assert_eq!(
        nightly.hash_of(kept).await,
        staged,
        "the old head is tagged"
    );
    assert_eq!(
        assert_tables_equal(&nightly.case.source, &nightly.target(), &report).await,
        1050,
        "main holds the source's rows, not staging's"
    );
    // Issue 27 item 4: the night says what it did to main.
    assert_eq!(report["refresh"]["moved"], "reset", "{report}");
    assert_eq!(report["refresh"]["moved_from"], staged.as_str(), "{report}");
    assert!(
        reset.stderr.contains("was reset from") && reset.stderr.contains(kept),
        "{}",
        reset.stderr
    );

    // merge: staging's write and the night's change are both on main.
    written_between_nights(&nightly, "staging two").await;
    let staged = nightly.hash_of("main").await;
    nightly
        .source_sql("UPDATE book SET pages = 1 WHERE id = 2")
        .await;
    let merged = nightly.refresh().flag("--on-diverged", "merge").run();
    merged.assert_success();
    let head = merged.stdout.trim().to_string();
    assert_eq!(nightly.hash_of("main").await, head);
    let mut conn = mysql_connect(&nightly.target()).await;
    // Filtered here: Dolt 1.86.4 answers `WHERE commit_hash = <a merge
    // commit>` on dolt_commit_ancestors with "max1Row iterator returned
    // more than one row".
    let ancestry: Vec<(String, Option<String>)> = conn
        .query("SELECT commit_hash, parent_hash FROM dolt_commit_ancestors")
        .await
        .unwrap();
    let parents: Vec<String> = ancestry
        .into_iter()
        .filter(|(commit, _)| *commit == head)
        .filter_map(|(_, parent)| parent)
        .collect();
    assert!(parents.contains(&staged), "a merge commit: {parents:?}");
    let staging: Option<String> = conn
        .query_first("SELECT name FROM author WHERE id = 900")
        .await
        .unwrap();
    assert_eq!(staging.as_deref(), Some("staging two"));
    let pages: Option<i64> = conn
        .query_first("SELECT pages FROM book WHERE id = 2")
        .await
        .unwrap();
    assert_eq!(pages, Some(1));
    let report = merged.report();
    assert_eq!(report["refresh"]["moved"], "merged", "{report}");
    assert_eq!(report["refresh"]["moved_from"], staged.as_str(), "{report}");
    assert!(merged.stderr.contains("merged into"), "{}", merged.stderr);

    a_reset_night_without_a_change_says_so(&nightly).await;
    a_conflicting_merge_publishes_nothing(&nightly, &dolt).await;
}

/// A reset night without a source change: the write undone, no new commit
/// (main back at the last night), and it says so (issue 27 item 4).
async fn a_reset_night_without_a_change_says_so(nightly: &Nightly) {
    // First a night that takes staging's rows out again.
    let plain = nightly.refresh().run();
    plain.assert_success();
    let head = nightly.hash_of("main").await;
    nightly
        .target_sql(
            "main",
            &[
                "INSERT INTO author VALUES (901, 'staging three')",
                "CALL DOLT_COMMIT('-am', 'staging wrote this too')",
            ],
        )
        .await;
    let staged = nightly.hash_of("main").await;
    let reset = nightly.refresh().flag("--on-diverged", "reset").run();
    reset.assert_success();
    let report = reset.report();
    assert_eq!(
        nightly.hash_of("main").await,
        head,
        "back at the last night"
    );
    assert_eq!(report["refresh"]["moved"], "reset", "{report}");
    assert_eq!(report["refresh"]["moved_from"], staged.as_str(), "{report}");
    assert!(report["refresh"]["new_commit"].is_null(), "{report}");
    assert!(
        reset.stderr.contains("was reset from") && reset.stderr.contains("did not change"),
        "{}",
        reset.stderr
    );
}

/// merge with a conflict: nothing published, exit 7; an uncommitted change
/// on main is left uncommitted, as it was.
async fn a_conflicting_merge_publishes_nothing(nightly: &Nightly, dolt: &str) {
    nightly
        .target_sql(
            "main",
            &[
                "UPDATE book SET pages = 77 WHERE id = 3",
                "CALL DOLT_COMMIT('-am', 'staging edits book 3')",
                "INSERT INTO author VALUES (901, 'not committed')",
            ],
        )
        .await;
    let staged = nightly.hash_of("main").await;
    nightly
        .source_sql("UPDATE book SET pages = 33 WHERE id = 3")
        .await;
    let conflicted = nightly.refresh().flag("--on-diverged", "merge").run();
    let error = conflicted.assert_one_line_error(7);
    assert!(error.contains("conflicts on book"), "{error}");
    assert_eq!(nightly.hash_of("main").await, staged);
    let mut conn =
        mysql_connect(&with_database(dolt, &format!("{}/main", nightly.case.name))).await;
    let pending: Vec<(String, String)> = conn
        .query("SELECT table_name, status FROM dolt_status")
        .await
        .unwrap();
    assert_eq!(
        pending,
        [("author".to_string(), "modified".to_string())],
        "the conflicted merge left nothing behind but the change it found"
    );
    let conflicts: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM dolt_conflicts")
        .await
        .unwrap();
    assert_eq!(conflicts, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_night_leaves_the_published_branch_as_it_was() {
    let Some(dolt) = dolt_url("a_failed_night_leaves_the_published_branch_as_it_was") else {
        return;
    };
    // Seconds of loading on Dolt; the target refuses negative amounts (a
    // CHECK the plan does not know): the load fails midway.
    let nightly = Nightly::new(
        "failed_night",
        &dolt,
        "CREATE TABLE big (id int PRIMARY KEY, payload text, amount int NOT NULL);
         INSERT INTO big SELECT n, repeat(md5(n::text), 4), n FROM generate_series(1, 300000) n;",
        "CREATE TABLE big (id INT PRIMARY KEY, payload TEXT, amount INT NOT NULL, CHECK (amount >= 0));",
    )
    .await;
    nightly.refresh().run().assert_success();
    let published = nightly.hash_of("main").await;
    let rows = fingerprint(&dolt, &nightly.case.name).await;

    // A value the target refuses, in the middle of the load.
    nightly
        .source_sql("UPDATE big SET amount = -1 WHERE id = 150000")
        .await;
    let refused = nightly.refresh().run();
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    nightly
        .assert_untouched(&refused.report(), &published, &rows)
        .await;

    // SIGTERM in the middle of the large table.
    nightly
        .source_sql("UPDATE big SET amount = 1 WHERE id = 150000; UPDATE big SET payload = 'x' WHERE id % 10 = 0")
        .await;
    let report_path = nightly.case.report_path();
    let child = nightly.refresh().spawn();
    // Wait for the work branch, then into the load (one transaction per
    // table on Dolt: its rows show only once it is whole).
    let started = std::time::Instant::now();
    while !nightly
        .branches()
        .await
        .iter()
        .any(|name| name.starts_with("pg2dolt-work-"))
    {
        assert!(started.elapsed().as_secs() < 60, "the night did not begin");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let (code, output, took) = terminate(child).await;
    assert_eq!(code, Some(143), "{}", output.stderr);
    assert!(took.as_secs() < 10, "stopped after {took:?}");
    let report = read_report(&report_path);
    assert_eq!(report["status"], "interrupted");
    assert_eq!(
        report["tables"],
        serde_json::json!([]),
        "stopped mid-load: {report}"
    );
    nightly.assert_untouched(&report, &published, &rows).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_needs_dolt() {
    let case = Case::new("refresh_mariadb", SOURCE).await;
    let schema = case.schema_dir(&[("001_tables.sql", TABLES)]);
    let run = Pg2dolt::new("refresh")
        .source(&case.source)
        .target(&case.servers.mysql_url)
        .database(&case.name)
        .schema_dir(&schema)
        .run();
    let error = run.assert_one_line_error(2);
    assert!(error.contains("refresh needs Dolt"), "{error}");
    assert!(!database_exists(&case.servers, &case.name).await);
}

/// Issue 27 item 3: two refreshes of one database started together (a
/// CronJob and a manual run): one holds the database's lock and
/// publishes, the other stops at once with exit 8, naming the holder, and
/// leaves nothing behind.
#[tokio::test(flavor = "multi_thread")]
async fn two_refreshes_started_together_publish_once() {
    let Some(dolt) = dolt_url("two_refreshes_started_together_publish_once") else {
        return;
    };
    let nightly = Nightly::new("together", &dolt, SOURCE, TABLES).await;
    nightly.refresh().run().assert_success();
    nightly
        .source_sql("UPDATE book SET pages = 7 WHERE id <= 5")
        .await;
    let first = nightly.refresh().spawn();
    let second = nightly.refresh().spawn();
    let ends: Vec<std::process::Output> = [first, second]
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    let codes: Vec<Option<i32>> = ends.iter().map(|end| end.status.code()).collect();
    let refused = ends
        .iter()
        .find(|end| end.status.code() == Some(8))
        .unwrap_or_else(|| panic!("no run was refused: {codes:?}"));
    assert!(codes.contains(&Some(0)), "no run published: {codes:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("holds the lock"), "{stderr}");
    assert_eq!(
        nightly.branches().await,
        ["main".to_string()],
        "a branch was left"
    );
    let after = nightly.refresh().run();
    after.assert_success();
    assert_eq!(after.report()["refresh"]["outcome"], "unchanged");
}

/// Issue 27 item 3: the work branches runs that died left (no commit of
/// their own) are removed by the next run, which holds the lock, said
/// once; a held-back night's branch (a commit of its own) stays.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_runs_work_branch_is_removed_by_the_next_run() {
    let Some(dolt) = dolt_url("a_dead_runs_work_branch_is_removed_by_the_next_run") else {
        return;
    };
    let nightly = Nightly::new("deadbranch", &dolt, SOURCE, TABLES).await;
    nightly.refresh().run().assert_success();
    let dead = "pg2dolt-work-20200101T000000.000000Z";
    let looked_at = "pg2dolt-work-20200102T000000.000000Z";
    // The held-back night's commit, made on main and taken back there.
    nightly
        .target_sql(
            "main",
            &[
                &format!("CALL DOLT_BRANCH('{dead}', 'main')"),
                "INSERT INTO author VALUES (950, 'held back')",
                "CALL DOLT_COMMIT('-am', 'a held-back night')",
                &format!("CALL DOLT_BRANCH('{looked_at}', 'main')"),
                "CALL DOLT_RESET('--hard', 'HEAD~1')",
            ],
        )
        .await;
    nightly
        .source_sql("UPDATE book SET pages = 3 WHERE id = 1")
        .await;
    let run = nightly.refresh().run();
    run.assert_success();
    assert_eq!(
        run.stderr.matches("removed the work branches").count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(
        nightly.branches().await,
        ["main".to_string(), looked_at.to_string()]
    );
}
