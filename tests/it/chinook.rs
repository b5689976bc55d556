//! Acceptance 1: Chinook, Postgres (snake_case) into Chinook's own MySQL
//! schema (PascalCase), every value equal.

use mysql_async::prelude::Queryable as _;

use crate::support::*;

/// `Chinook_PostgreSql.sql` without its DROP/CREATE DATABASE and `\c` lines.
pub fn chinook_postgres_sql() -> String {
    let text = std::fs::read_to_string(repo_path("tests/fixtures/chinook/postgres.sql")).unwrap();
    text.lines()
        .filter(|line| !line.starts_with("\\c") && !line.contains("DATABASE"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn chinook_copies_into_its_own_mysql_schema_exactly() {
    let case = Case::new("chinook", &chinook_postgres_sql()).await;
    for target in targets("chinook_copies_into_its_own_mysql_schema_exactly") {
        copy_chinook(&case, &target).await;
    }
}

async fn copy_chinook(case: &Case, target: &Target) {
    let (name, source) = (case.name.as_str(), case.source.as_str());
    let run = case
        .copy(&target.url)
        .schema_dir(&repo_path("tests/fixtures/chinook/mysql-schema"))
        .args(["-v"])
        .like_a_user()
        .run();
    run.assert_success();
    let report = run.report();

    // Names matched by rule: the same tables, PascalCase on the target.
    let tables = report["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 11);
    let invoice_line = tables
        .iter()
        .find(|t| t["source"] == "public.invoice_line")
        .unwrap();
    assert_eq!(invoice_line["target"], "InvoiceLine");
    assert_eq!(invoice_line["rule"], "ignoring-case-and-underscores");
    assert_eq!(invoice_line["columns"][0]["target"], "InvoiceLineId");
    assert!(
        run.stderr.contains("rule=ignoring case and underscores"),
        "the plan prints the rule:\n{}",
        run.stderr
    );
    // Chinook's DDL drops, creates and switches databases: skipped, said so.
    assert!(
        run.stderr
            .contains("skipping a statement that would leave the target database"),
        "{}",
        run.stderr
    );

    // Row counts from the dataset's README, and every value equal.
    let total: u64 = tables.iter().map(|t| t["rows"].as_u64().unwrap()).sum();
    assert_eq!(total, CHINOOK_ROWS, "{}", target.name);
    let target_url = with_database(&target.url, name);
    assert_eq!(
        assert_tables_equal(source, &target_url, &report).await,
        CHINOOK_ROWS
    );

    assert_upstream_quirks(&target_url).await;
}

/// The dataset's two quirks: backslashes kept, Postgres' trimmed 'Edinburgh'.
async fn assert_upstream_quirks(target: &str) {
    let mut conn = mysql_connect(target).await;
    let backslashes: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM Track WHERE Name LIKE '%\\\\\\\\%'")
        .await
        .unwrap();
    assert_eq!(backslashes, Some(4));
    let city: Option<String> = conn
        .query_first("SELECT City FROM Customer WHERE CustomerId = 54")
        .await
        .unwrap();
    assert_eq!(city.as_deref(), Some("Edinburgh"));
}
