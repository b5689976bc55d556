//! The embedded demo schema: every phase, foreign keys present afterwards,
//! the report's contents.

use mysql_async::prelude::Queryable as _;

use crate::support::*;

pub fn demo_sql() -> String {
    std::fs::read_to_string(repo_path("demo/postgres.sql")).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_copy_keeps_foreign_keys_and_reports_every_table() {
    let case = Case::new("demo", &demo_sql()).await;
    let (servers, name, source) = (&case.servers, case.name.as_str(), case.source.as_str());
    let report_path = case.report_path();
    // --database defaults to the source database's name.
    let run = Pg2dolt::new("")
        .source(source)
        .target(&servers.mysql_url)
        .report(&report_path)
        .run();
    run.assert_success();
    let report = read_report(&report_path);

    // Acceptance 8: per table rows, bytes, seconds; snapshot; target kind.
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["database"], name);
    assert_eq!(report["target_kind"], "mysql");
    assert!(report["dolt_commit"].is_null());
    assert!(report["snapshot"]["id"].as_str().unwrap().contains('-'));
    assert!(report["snapshot"]["time"].as_str().unwrap().ends_with('Z'));
    let expected_rows = [
        ("public.memberships", 6000),
        ("public.organizations", 60),
        ("public.repositories", 5000),
        ("public.users", 2000),
    ];
    for (table, rows) in expected_rows {
        let entry = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["source"] == table)
            .unwrap();
        assert_eq!(entry["rows"], rows, "{table}");
        assert!(entry["bytes"].as_u64().unwrap() > 0, "{table}");
        assert!(entry["seconds"].as_f64().unwrap() > 0.0, "{table}");
    }
    let users = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["source"] == "public.users")
        .unwrap();
    assert_eq!(
        users["skipped_generated"],
        serde_json::json!(["email_domain"])
    );

    // Every value equal, through typed drivers.
    let target = case.target_url();
    assert_eq!(
        assert_tables_equal(source, &target, &report).await,
        DEMO_ROWS
    );

    // Acceptance 3: the foreign keys exist; every table that has or is
    // referenced by one got the no-op delete.
    let mut conn = mysql_connect(&target).await;
    let keys: Vec<(String, String)> = conn
        .exec(
            "SELECT TABLE_NAME, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = ? ORDER BY CONSTRAINT_NAME",
            (&name,),
        )
        .await
        .unwrap();
    assert_eq!(
        keys,
        vec![
            ("memberships".to_string(), "organizations".to_string()),
            ("memberships".to_string(), "users".to_string()),
            ("repositories".to_string(), "organizations".to_string()),
        ]
    );
    assert_eq!(
        report["foreign_key_fixups"],
        serde_json::json!(["memberships", "organizations", "repositories", "users"])
    );
    // The generated column was computed by the target.
    let domain: Option<String> = conn
        .query_first("SELECT email_domain FROM users WHERE id = 5")
        .await
        .unwrap();
    assert_eq!(domain.as_deref(), Some("example1.com"));
}

#[tokio::test(flavor = "multi_thread")]
async fn insert_fallback_copies_the_same_values() {
    let case = Case::new("demo_insert", &demo_sql()).await;
    for target in targets("insert_fallback_copies_the_same_values") {
        let source = case.source.as_str();
        let report_path = case.report_path();
        let run = Pg2dolt::new("")
            .source(source)
            .target(&target.url)
            .flag("--load-method", "insert")
            .report(&report_path)
            .run();
        run.assert_success();
        let report = read_report(&report_path);
        assert_eq!(report["load_method"], "insert");
        let target = with_database(&target.url, &case.name);
        assert_eq!(
            assert_tables_equal(source, &target, &report).await,
            DEMO_ROWS
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn values_differing_only_in_case_stay_distinct_keys() {
    // Postgres compares text case-sensitively; a target database created
    // with a case-insensitive default collation would call these duplicates.
    let case = Case::new(
        "case_keys",
        "CREATE TABLE logins (id int PRIMARY KEY, login text NOT NULL UNIQUE); \
         INSERT INTO logins VALUES (1, 'Ada'), (2, 'ada'), (3, 'ADA'), (4, 'straße'), (5, 'STRASSE');",
    )
    .await;
    for target in targets("values_differing_only_in_case_stay_distinct_keys") {
        let source = &case.source;
        let directory = case.schema_dir(&[(
            "010_logins.sql",
            "CREATE TABLE logins (id INT PRIMARY KEY, login VARCHAR(40) NOT NULL, UNIQUE KEY (login));\n",
        )]);
        let run = Pg2dolt::new("")
            .source(source)
            .target(&target.url)
            .schema_dir(&directory)
            .run();
        run.assert_success();
        let mut conn = mysql_connect(&with_database(&target.url, &case.name)).await;
        let logins: Vec<String> = conn
            .query("SELECT login FROM logins ORDER BY id")
            .await
            .unwrap();
        assert_eq!(logins, vec!["Ada", "ada", "ADA", "straße", "STRASSE"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_output_fits_one_screen_and_v_shows_every_planned_column() {
    let case = Case::new("screen", &demo_sql()).await;
    let report_path = case.report_path();
    let arguments = [
        "--source",
        case.source.as_str(),
        "--target",
        case.servers.mysql_url.as_str(),
        "--report",
        report_path.to_str().unwrap(),
        "--replace",
    ];
    let run = Pg2dolt::new("").args(arguments).like_a_user().run();
    run.assert_success();
    let lines = run.stderr.lines().count();
    assert!(lines <= 30, "{lines} lines:\n{}", run.stderr);
    assert!(!run.stderr.contains("plan: column"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("pg2dolt copied: 4 tables, {DEMO_ROWS} rows")),
        "{}",
        run.stderr
    );

    let verbose = Pg2dolt::new("")
        .args([&arguments[..], &["-v"]].concat())
        .like_a_user()
        .run();
    verbose.assert_success();
    let report = read_report(&report_path);
    let planned: usize = report["planned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|table| table["columns"].as_array().unwrap().len())
        .sum();
    assert!(planned >= 28, "{report}");
    assert_eq!(verbose.stderr.matches("plan: column").count(), planned);
}
