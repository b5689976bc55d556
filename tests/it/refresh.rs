//! Issue 14: the nightly refresh on a real Dolt sql-server — nights as
//! commits on one published branch, each diff equal to the real change,
//! no commit without a change, failed and held-back nights that leave the
//! published branch as it was, rollback, history, and the three answers
//! to a branch written to between nights.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mysql_async::prelude::Queryable as _;
use serde_json::Value as Json;

use crate::support::*;

const SOURCE: &str = "
    CREATE TABLE author (id bigint PRIMARY KEY, name text NOT NULL);
    CREATE TABLE book (id bigint PRIMARY KEY, author_id bigint NOT NULL REFERENCES author (id),
                       title text NOT NULL, pages int);
    INSERT INTO author SELECT n, 'author ' || n FROM generate_series(1, 50) n;
    INSERT INTO book SELECT n, 1 + n % 50, 'book ' || n, n FROM generate_series(1, 1000) n;";

const TABLES: &str = "
    CREATE TABLE author (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL);
    CREATE TABLE book (id BIGINT PRIMARY KEY, author_id BIGINT NOT NULL, title VARCHAR(200) NOT NULL,
                       pages INT, FOREIGN KEY (author_id) REFERENCES author (id));";

/// One refreshed database: its source, Dolt server and schema files.
struct Nightly {
    case: Case,
    dolt: String,
    schema: PathBuf,
}

/// (rows added, deleted, modified) per table.
type Diff = BTreeMap<String, (u64, u64, u64)>;

impl Nightly {
    async fn new(prefix: &str, dolt: &str, source: &str, tables: &str) -> Nightly {
        let case = Case::new(prefix, source).await;
        let schema = case.schema_dir(&[("001_tables.sql", tables)]);
        Nightly {
            case,
            dolt: dolt.to_string(),
            schema,
        }
    }

    fn refresh(&self) -> Pg2dolt {
        Pg2dolt::new("refresh")
            .source(&self.case.source)
            .target(&self.dolt)
            .database(&self.case.name)
            .schema_dir(&self.schema)
            .report(&self.case.report_path())
    }

    fn published_args(&self, command: &str) -> Pg2dolt {
        Pg2dolt::new(command)
            .target(&self.dolt)
            .database(&self.case.name)
    }

    fn target(&self) -> String {
        with_database(&self.dolt, &self.case.name)
    }

    async fn source_sql(&self, sql: &str) {
        self.case.source_sql(sql).await;
    }

    async fn target_sql(&self, branch: &str, statements: &[&str]) {
        let url = with_database(&self.dolt, &format!("{}/{branch}", self.case.name));
        let mut conn = mysql_connect(&url).await;
        for statement in statements {
            conn.query_drop(*statement).await.unwrap();
        }
    }

    async fn hash_of(&self, reference: &str) -> String {
        dolt_hash_of(&self.target(), reference).await
    }

    async fn branches(&self) -> Vec<String> {
        let mut conn = mysql_connect(&self.target()).await;
        conn.query("SELECT name FROM dolt_branches ORDER BY name")
            .await
            .unwrap()
    }

    /// Dolt's own diff statistics between two commits.
    async fn dolt_diff(&self, from: &str, to: &str) -> Diff {
        let mut conn = mysql_connect(&self.target()).await;
        let rows: Vec<(String, u64, u64, u64)> = conn
            .query(format!(
                "SELECT table_name, rows_added, rows_deleted, rows_modified FROM dolt_diff_stat('{from}', '{to}')"
            ))
            .await
            .unwrap();
        rows.into_iter()
            .map(|(table, added, deleted, modified)| (table, (added, deleted, modified)))
            .filter(|(table, _)| table != "pg2dolt_schema_files")
            .collect()
    }

    /// A failed night left main as it was (`published`, holding `rows`)
    /// and deleted its work branch.
    async fn assert_untouched(
        &self,
        report: &Json,
        published: &str,
        rows: &[(String, u64, String)],
    ) {
        assert_eq!(report["target_state"], "untouched", "{report}");
        assert_eq!(self.hash_of("main").await, published);
        assert_eq!(
            self.branches().await,
            ["main"],
            "the work branch was deleted"
        );
        assert_eq!(fingerprint(&self.dolt, &self.case.name).await, rows);
    }

    /// pg2dolt's commits on main (the refreshes), newest first.
    async fn nights(&self) -> Vec<String> {
        let mut conn = mysql_connect(&self.target()).await;
        conn.query("SELECT commit_hash FROM dolt_log('main') WHERE message LIKE 'pg2dolt%'")
            .await
            .unwrap()
    }
}

/// The report's `changes`, tables with a change only (pg2dolt's record of
/// schema files left out).
fn reported_diff(report: &Json) -> Diff {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|change| change["table"] != "pg2dolt_schema_files")
        .map(|change| {
            let count = |field: &str| change[field].as_u64().unwrap();
            let table = change["table"].as_str().unwrap().to_string();
            (
                table,
                (
                    count("rows_added"),
                    count("rows_deleted"),
                    count("rows_modified"),
                ),
            )
        })
        .filter(|(_, counts)| *counts != (0, 0, 0))
        .collect()
}

fn diff(entries: &[(&str, (u64, u64, u64))]) -> Diff {
    entries
        .iter()
        .map(|(table, counts)| ((*table).to_string(), *counts))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_nights_are_three_commits_each_diff_the_real_change() {
    let test = "three_nights_are_three_commits_each_diff_the_real_change";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let nightly = Nightly::new("nights", &dolt, SOURCE, TABLES).await;

    // Night 1: the database does not exist; a copy, tagged, on main.
    let first = nightly.refresh().run();
    first.assert_success();
    let report = first.report();
    assert_eq!(report["command"], "refresh");
    assert_eq!(report["refresh"]["outcome"], "published", "{report}");
    assert_eq!(report["refresh"]["first_night"], true);
    let night1 = first.stdout.trim().to_string();
    assert_eq!(nightly.hash_of("main").await, night1);
    let tag1 = report["refresh"]["tag"].as_str().unwrap().to_string();
    assert!(tag1.starts_with("pg2dolt/"), "{tag1}");
    assert_eq!(nightly.hash_of(&tag1).await, night1);
    assert_eq!(
        assert_tables_equal(&nightly.case.source, &nightly.target(), &report).await,
        1050
    );

    let night2 = second_night(&nightly, &night1).await;
    let night3 = third_night(&nightly, &night2).await;
    assert_eq!(
        nightly.nights().await,
        [night3.clone(), night2.clone(), night1.clone()]
    );
    unchanged_and_refused_nights(&nightly, &night3).await;
    history_and_rollback(&nightly, [&night1, &night2, &night3], &tag1).await;
}

/// Night 2: updates, deletes, inserts; returns its commit.
async fn second_night(nightly: &Nightly, night1: &str) -> String {
    nightly
        .source_sql(
            "UPDATE book SET title = title || ' (2nd edition)' WHERE id <= 7;
             DELETE FROM book WHERE id > 995;
             INSERT INTO author VALUES (51, 'new author'), (52, 'another');
             INSERT INTO book VALUES (2001, 51, 'debut', 100), (2002, 52, 'second debut', 90),
                                     (2003, 51, 'sequel', 120);",
        )
        .await;
    let second = nightly.refresh().run();
    second.assert_success();
    let report = second.report();
    let night2 = second.stdout.trim().to_string();
    assert_ne!(night2, night1);
    assert_eq!(nightly.hash_of("main").await, night2);
    let expected = diff(&[("author", (2, 0, 0)), ("book", (3, 5, 7))]);
    assert_eq!(nightly.dolt_diff(night1, &night2).await, expected);
    assert_eq!(reported_diff(&report), expected, "{report}");
    assert_eq!(report["refresh"]["base"], night1);
    assert!(
        second.stderr.contains("+3 added  -5 deleted  ~7 modified"),
        "{}",
        second.stderr
    );
    assert_eq!(
        assert_tables_equal(&nightly.case.source, &nightly.target(), &report).await,
        1050
    );

    night2
}

/// Night 3: a new table through a new schema file, and more changes;
/// returns its commit.
async fn third_night(nightly: &Nightly, night2: &str) -> String {
    nightly
        .source_sql(
            "CREATE TABLE genre (id int PRIMARY KEY, name text NOT NULL);
             INSERT INTO genre VALUES (1, 'fiction'), (2, 'poetry'), (3, 'essays');
             UPDATE author SET name = 'renamed' WHERE id = 3;",
        )
        .await;
    std::fs::write(
        nightly.schema.join("002_genre.sql"),
        "CREATE TABLE genre (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL);",
    )
    .unwrap();
    let third = nightly.refresh().run();
    third.assert_success();
    let report = third.report();
    let night3 = third.stdout.trim().to_string();
    let expected = diff(&[("author", (0, 0, 1)), ("genre", (3, 0, 0))]);
    assert_eq!(nightly.dolt_diff(night2, &night3).await, expected);
    assert_eq!(reported_diff(&report), expected, "{report}");
    let genre = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|change| change["table"] == "genre")
        .unwrap();
    assert_eq!(genre["schema_changed"], true, "{report}");
    assert_eq!(
        report["refresh"]["schema_files_applied"],
        serde_json::json!(["002_genre.sql"])
    );
    assert_eq!(
        assert_tables_equal(&nightly.case.source, &nightly.target(), &report).await,
        1053
    );
    night3
}

/// A night without a change: no new commit, the same hash; a night with an
/// applied schema file edited: refused.
async fn unchanged_and_refused_nights(nightly: &Nightly, night3: &str) {
    // A night without a change: no new commit, the same hash.
    let unchanged = nightly.refresh().run();
    unchanged.assert_success();
    let report = unchanged.report();
    assert_eq!(report["refresh"]["outcome"], "unchanged", "{report}");
    assert_eq!(report["refresh"]["new_commit"], serde_json::Value::Null);
    assert_eq!(unchanged.stdout.trim(), night3);
    assert_eq!(nightly.hash_of("main").await, night3);
    assert_eq!(nightly.nights().await.len(), 3);
    assert_eq!(nightly.branches().await, ["main"], "no work branch is left");

    // An applied schema file edited: refused, naming it, nothing moved.
    std::fs::write(
        nightly.schema.join("001_tables.sql"),
        format!("{TABLES}\n-- edited"),
    )
    .unwrap();
    let edited = nightly.refresh().run();
    let error = edited.assert_one_line_error(3);
    assert!(error.contains("001_tables.sql changed"), "{error}");
    assert_eq!(nightly.hash_of("main").await, night3);
    std::fs::write(nightly.schema.join("001_tables.sql"), TABLES).unwrap();
}

/// History lists the nights; rollback moves main back to the first.
async fn history_and_rollback(nightly: &Nightly, nights: [&str; 3], tag1: &str) {
    let [first, second, third] = nights;
    // History: the three nights, newest first, with their rows changed.
    let history = nightly
        .published_args("history")
        .flag("--format", "json")
        .run();
    history.assert_success();
    let listed: Json = serde_json::from_str(&history.stdout).unwrap();
    let commits: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|night| night["commit"].as_str().unwrap())
        .collect();
    assert_eq!(commits, [third, second, first]);
    let changed: Vec<u64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|night| night["rows_changed"].as_u64().unwrap())
        .collect();
    assert_eq!(changed, [4, 17, 1050]);
    assert_eq!(listed[2]["tag"], tag1);

    // Rollback to the first night's tag; the old head is tagged first.
    let rollback = nightly.published_args("rollback").flag("--to", tag1).run();
    rollback.assert_success();
    assert_eq!(rollback.stdout.trim(), first);
    assert_eq!(nightly.hash_of("main").await, first);
    let mut conn = mysql_connect(&nightly.target()).await;
    let kept: Vec<String> = conn
        .exec(
            "SELECT tag_name FROM dolt_tags WHERE tag_hash = ? AND tag_name LIKE 'pg2dolt/before-rollback/%'",
            (third,),
        )
        .await
        .unwrap();
    assert_eq!(kept.len(), 1, "the old head is tagged");
    // The next night builds on the rolled-back branch: not diverged.
    let after = nightly.refresh().run();
    after.assert_success();
    let report = after.report();
    assert_eq!(report["refresh"]["diverged"], false, "{report}");
    assert_eq!(report["refresh"]["base"], first);
    assert_eq!(
        assert_tables_equal(&nightly.case.source, &nightly.target(), &report).await,
        1053
    );
}

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

    a_conflicting_merge_publishes_nothing(&nightly, &dolt).await;
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
