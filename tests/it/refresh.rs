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

pub(crate) const SOURCE: &str = "
    CREATE TABLE author (id bigint PRIMARY KEY, name text NOT NULL);
    CREATE TABLE book (id bigint PRIMARY KEY, author_id bigint NOT NULL REFERENCES author (id),
                       title text NOT NULL, pages int);
    INSERT INTO author SELECT n, 'author ' || n FROM generate_series(1, 50) n;
    INSERT INTO book SELECT n, 1 + n % 50, 'book ' || n, n FROM generate_series(1, 1000) n;";

pub(crate) const TABLES: &str = "
    CREATE TABLE author (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL);
    CREATE TABLE book (id BIGINT PRIMARY KEY, author_id BIGINT NOT NULL, title VARCHAR(200) NOT NULL,
                       pages INT, FOREIGN KEY (author_id) REFERENCES author (id));";

/// One refreshed database: its source, Dolt server and schema files.
pub(crate) struct Nightly {
    pub(crate) case: Case,
    pub(crate) dolt: String,
    pub(crate) schema: PathBuf,
}

/// (rows added, deleted, modified) per table.
type Diff = BTreeMap<String, (u64, u64, u64)>;

impl Nightly {
    pub(crate) async fn new(prefix: &str, dolt: &str, source: &str, tables: &str) -> Nightly {
        let case = Case::new(prefix, source).await;
        let schema = case.schema_dir(&[("001_tables.sql", tables)]);
        Nightly {
            case,
            dolt: dolt.to_string(),
            schema,
        }
    }

    pub(crate) fn refresh(&self) -> Pg2dolt {
        Pg2dolt::new("refresh")
            .source(&self.case.source)
            .target(&self.dolt)
            .database(&self.case.name)
            .schema_dir(&self.schema)
            .report(&self.case.report_path())
    }

    pub(crate) fn published_args(&self, command: &str) -> Pg2dolt {
        Pg2dolt::new(command)
            .target(&self.dolt)
            .database(&self.case.name)
    }

    pub(crate) fn target(&self) -> String {
        with_database(&self.dolt, &self.case.name)
    }

    pub(crate) async fn source_sql(&self, sql: &str) {
        self.case.source_sql(sql).await;
    }

    pub(crate) async fn target_sql(&self, branch: &str, statements: &[&str]) {
        let url = with_database(&self.dolt, &format!("{}/{branch}", self.case.name));
        let mut conn = mysql_connect(&url).await;
        for statement in statements {
            conn.query_drop(*statement).await.unwrap();
        }
    }

    pub(crate) async fn hash_of(&self, reference: &str) -> String {
        dolt_hash_of(&self.target(), reference).await
    }

    pub(crate) async fn branches(&self) -> Vec<String> {
        let mut conn = mysql_connect(&self.target()).await;
        conn.query("SELECT name FROM dolt_branches ORDER BY name")
            .await
            .unwrap()
    }

    /// Dolt's own diff statistics between two commits.
    pub(crate) async fn dolt_diff(&self, from: &str, to: &str) -> Diff {
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
    pub(crate) async fn assert_untouched(
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
    pub(crate) async fn nights(&self) -> Vec<String> {
        let mut conn = mysql_connect(&self.target()).await;
        conn.query("SELECT commit_hash FROM dolt_log('main') WHERE message LIKE 'pg2dolt%'")
            .await
            .unwrap()
    }
}

/// The report's `changes`, tables with a change only (pg2dolt's record of
/// schema files left out).
pub(crate) fn reported_diff(report: &Json) -> Diff {
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

pub(crate) fn diff(entries: &[(&str, (u64, u64, u64))]) -> Diff {
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
