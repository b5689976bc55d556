//! Support for the delta-night tests: one refreshed database (its source,
//! Dolt server and schema files), nights run as a user runs them, and the
//! checks every night ends with (every row equal to the source through the
//! typed drivers and through `pg2dolt verify`).

use std::path::PathBuf;

use mysql_async::prelude::Queryable as _;
use serde_json::Value as Json;

use crate::support::*;

/// One refreshed database.
pub struct Nights {
    pub case: Case,
    pub dolt: String,
    pub schema: PathBuf,
}

/// (table, rows added, deleted, modified).
pub type Changes = Vec<(String, u64, u64, u64)>;

impl Nights {
    /// A source made by `source_sql`, schema files `files`.
    pub async fn new(prefix: &str, dolt: &str, source_sql: &str, files: &[(&str, &str)]) -> Nights {
        let case = Case::new(prefix, source_sql).await;
        let schema = case.schema_dir(files);
        Nights {
            case,
            dolt: dolt.to_string(),
            schema,
        }
    }

    /// `command` with the source, target, database, schema and report.
    pub fn with(&self, command: &str) -> Pg2dolt {
        Pg2dolt::new(command)
            .source(&self.case.source)
            .target(&self.dolt)
            .database(&self.case.name)
            .schema_dir(&self.schema)
            .report(&self.case.report_path())
    }

    /// The target database's URL.
    pub fn target(&self) -> String {
        with_database(&self.dolt, &self.case.name)
    }

    /// A night (with `flags`) that succeeds: its report and head.
    pub fn night(&self, flags: &[&str]) -> (Json, String) {
        let run = self.with("refresh").args(flags).run();
        run.assert_success();
        (run.report(), run.stdout.trim().to_string())
    }

    /// Waits until a running refresh has made its work branch (it loads
    /// from then on; on a first night the database may not exist before).
    pub async fn wait_for_work_branch(&self) {
        let url = with_database(&self.dolt, "information_schema");
        let query = format!(
            "SELECT name FROM `{}`.dolt_branches WHERE name LIKE 'pg2dolt-work-%'",
            self.case.name
        );
        for _ in 0..600 {
            let branches: Vec<String> = mysql_connect(&url)
                .await
                .query(&query)
                .await
                .unwrap_or_default();
            if !branches.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the refresh made no work branch in 30 s");
    }

    /// Runs statements on the published branch, as someone else would.
    pub async fn on_main(&self, statements: &[&str]) {
        let url = with_database(&self.dolt, &format!("{}/main", self.case.name));
        let mut conn = mysql_connect(&url).await;
        for statement in statements {
            conn.query_drop(*statement).await.unwrap();
        }
    }

    /// `dolt_diff_stat` between two commits, tables with changes only.
    pub async fn diff(&self, from: &str, to: &str) -> Changes {
        let mut conn = mysql_connect(&self.target()).await;
        let rows: Vec<(String, u64, u64, Option<u64>)> = conn
            .query(format!(
                "SELECT table_name, rows_added, rows_deleted, rows_modified FROM dolt_diff_stat('{from}', '{to}') \
                 WHERE table_name NOT LIKE 'pg2dolt%' ORDER BY table_name"
            ))
            .await
            .unwrap();
        // Keyless tables have no modified rows: NULL.
        rows.into_iter()
            .map(|(table, added, deleted, modified)| (table, added, deleted, modified.unwrap_or(0)))
            .collect()
    }

    /// Every row equal to the source: the typed drivers and verify agree.
    pub async fn assert_exact(&self, report: &Json) {
        assert_tables_equal(&self.case.source, &self.target(), report).await;
        let verified = self.with("verify").run();
        verified.assert_success();
        assert_eq!(verified.report()["verify"]["equal"], true);
    }
}

/// A table's entry in a report's `tables`.
pub fn table<'a>(report: &'a Json, target: &str) -> &'a Json {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|table| table["target"] == target)
        .unwrap()
}

/// A table's entry in a report's `changes`.
pub fn change<'a>(report: &'a Json, target: &str) -> &'a Json {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|change| change["table"] == target)
        .unwrap()
}

/// Expected changes, as `Nights::diff` gives them.
pub fn changes(entries: &[(&str, u64, u64, u64)]) -> Changes {
    entries
        .iter()
        .map(|(table, added, deleted, modified)| {
            ((*table).to_string(), *added, *deleted, *modified)
        })
        .collect()
}

/// A resumed table's upserts: at least the rows changed since the stopped
/// run, at most all of them (the delta starts at the oldest transaction
/// running at the stopped run's snapshot: other tests' too).
pub fn assert_resumed_upserts(report: &Json, target: &str, changed: u64, rows: u64) {
    let resumed = table(report, target);
    assert_eq!(resumed["method"], "resumed", "{report}");
    let upserted = resumed["rows_upserted"].as_u64().unwrap();
    assert!((changed..=rows).contains(&upserted), "{report}");
}
