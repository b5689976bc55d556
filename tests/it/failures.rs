//! Acceptance 4–7: bad schema SQL, values that do not fit, an existing
//! target database, and bad input: each one line, a distinct exit code, no
//! panic, no password in the output.

use mysql_async::prelude::Queryable as _;

use crate::support::*;

// language=PostgreSQL
const NOTES: &str = "
CREATE TABLE notes (id integer PRIMARY KEY, body text NOT NULL);
INSERT INTO notes VALUES (1, 'short'), (2, 'this body is far too long'), (3, 'ok');
CREATE TABLE tags (id integer PRIMARY KEY, name text NOT NULL);
INSERT INTO tags SELECT g, 'tag ' || g FROM generate_series(1, 500) g;
";

#[tokio::test(flavor = "multi_thread")]
async fn a_schema_syntax_error_names_file_and_line_before_any_data_moves() {
    let case = Case::new("badschema", NOTES).await;
    for target in targets("a_schema_syntax_error_names_file_and_line_before_any_data_moves") {
        let (name, source) = (case.name.as_str(), case.source.as_str());
        let directory = case.schema_dir(&[
                (
                    "010_tables.sql",
                    "CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(100) NOT NULL);\n",
                ),
                (
                    "020_tags.sql",
                    "-- tags\n\nCREATE TABLE tags (\n  id INT PRIMARY KEY,\n  name VARCHAR(100) NOT NULL,,\n);\n",
                ),
            ],
        );
        let run = Pg2dolt::new("")
            .source(source)
            .target(&target.url)
            .schema_dir(&directory)
            .run();
        let error = run.assert_one_line_error(3);
        assert!(error.contains("020_tags.sql line 5"), "{error}");
        assert!(
            !run.stderr.contains("table copied"),
            "no data was copied:\n{}",
            run.stderr
        );
        assert!(
            !database_exists_at(&target.url, name).await,
            "the target database was not created"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_too_long_for_its_column_stops_the_run_and_names_it() {
    let case = Case::new("toolong", NOTES).await;
    for target in targets("a_value_too_long_for_its_column_stops_the_run_and_names_it") {
        let source = case.source.as_str();
        let directory = case.schema_dir(&[(
                "010_tables.sql",
                "CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(10) NOT NULL);\nCREATE TABLE tags (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL);\n",
            )],
        );
        let report_path = case.report_path();
        let run = Pg2dolt::new("")
            .source(source)
            .target(&target.url)
            .schema_dir(&directory)
            .report(&report_path)
            .flag("--jobs", "1")
            .run();
        let error = run.assert_one_line_error(6);
        assert!(
            error.contains("public.notes") && error.contains("body") && error.contains("id='2'"),
            "{error}"
        );
        assert!(
            error.contains("VARCHAR(10)") || error.contains("varchar(10)"),
            "{error}"
        );
        assert!(error.contains("this body is far too long"), "{error}");
        let report = read_report(&report_path);
        assert_eq!(report["status"], "failed");
        assert_eq!(report["exit_code"], 6);
        let copied: Vec<&str> = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["source"].as_str().unwrap())
            .collect();
        assert!(
            !copied.contains(&"public.notes"),
            "nothing is reported as copied for the failed table: {copied:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_database_is_refused_without_replace_and_recreated_with_it() {
    let case = Case::new("existing", NOTES).await;
    for target in targets("an_existing_database_is_refused_without_replace_and_recreated_with_it") {
        let (name, source) = (case.name.as_str(), case.source.as_str());
        let mut conn = mysql_connect(&target.url).await;
        conn.query_drop(format!("CREATE DATABASE `{name}`"))
            .await
            .unwrap();
        conn.query_drop(format!("CREATE TABLE `{name}`.keepme (x INT)"))
            .await
            .unwrap();
        let directory = case.schema_dir(&[(
                "010_tables.sql",
                "CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(100) NOT NULL);\nCREATE TABLE tags (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL);\n",
            )],
        );
        let arguments = [
            "--source",
            source,
            "--target",
            &target.url,
            "--schema-dir",
            directory.to_str().unwrap(),
        ];

        let refused = Pg2dolt::new("").args(arguments).run();
        let error = refused.assert_one_line_error(2);
        assert!(
            error.contains("already exists") && error.contains("--replace"),
            "{error}"
        );
        let untouched: Vec<String> = conn
            .query(format!("SHOW TABLES FROM `{name}`"))
            .await
            .unwrap();
        assert_eq!(untouched, vec!["keepme".to_string()]);

        let mut with_replace = arguments.to_vec();
        with_replace.push("--replace");
        Pg2dolt::new("").args(&with_replace).run().assert_success();
        let recreated: Vec<String> = conn
            .query(format!("SHOW TABLES FROM `{name}`"))
            .await
            .unwrap();
        assert_eq!(recreated, vec!["notes".to_string(), "tags".to_string()]);
        let notes: Option<i64> = conn
            .query_first(format!("SELECT COUNT(*) FROM `{name}`.notes"))
            .await
            .unwrap();
        assert_eq!(notes, Some(3));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_one_line_and_a_distinct_exit_code() {
    let case = Case::new("badinput", NOTES).await;
    for target in targets("bad_input_gets_one_line_and_a_distinct_exit_code") {
        let (servers, name, source) = (&case.servers, case.name.as_str(), case.source.as_str());

        // Malformed URLs: usage (2).
        Pg2dolt::new("")
            .source("postgres://[broken")
            .target(&target.url)
            .run()
            .assert_one_line_error(2);
        Pg2dolt::new("")
            .source(source)
            .target("mysql//nohost")
            .run()
            .assert_one_line_error(2);
        Pg2dolt::new("")
            .target(&target.url)
            .run()
            .assert_one_line_error(2);
        // A missing schema directory: usage (2).
        let error = Pg2dolt::new("")
            .source(source)
            .target(&target.url)
            .flag("--schema-dir", "/nonexistent/schema")
            .run()
            .assert_one_line_error(2);
        assert!(error.contains("/nonexistent/schema"), "{error}");
        // Unreachable hosts: connection (5).
        let error = Pg2dolt::new("")
            .source("postgres://postgres@127.0.0.1:1/x")
            .target(&target.url)
            .run()
            .assert_one_line_error(5);
        assert!(error.contains("Postgres"), "{error}");
        let error = Pg2dolt::new("")
            .source(source)
            .target("mysql://root@127.0.0.1:1")
            .run()
            .assert_one_line_error(5);
        assert!(error.contains("target"), "{error}");

        // Wrong passwords: connection (5), and the password is never printed.
        let admin = pg_connect(&servers.pg_url).await;
        let role = format!("{name}_{}_role", target.name);
        admin
            .batch_execute(&format!(
                "CREATE ROLE {role} LOGIN PASSWORD 'Right-Pass-123'"
            ))
            .await
            .unwrap();
        let secret = "Wr0ng-Secret-Pa55";
        let wrong_source = format!(
            "postgres://{role}:{secret}@127.0.0.1:{}/{name}",
            url::Url::parse(&servers.pg_url).unwrap().port().unwrap()
        );
        let run = Pg2dolt::new("")
            .source(&wrong_source)
            .target(&target.url)
            .run();
        let error = run.assert_one_line_error(5);
        assert!(error.contains("password authentication failed"), "{error}");
        assert!(
            !run.stderr.contains(secret) && !run.stdout.contains(secret),
            "password leaked:\n{}",
            run.stderr
        );

        let mut conn = mysql_connect(&target.url).await;
        conn.query_drop(format!(
            "CREATE USER '{role}'@'%' IDENTIFIED BY 'Right-Pass-123'"
        ))
        .await
        .unwrap();
        let target = target.url.replace("root@", &format!("{role}:{secret}@"));
        let run = Pg2dolt::new("").source(source).target(&target).run();
        let error = run.assert_one_line_error(5);
        assert!(error.contains("Access denied"), "{error}");
        assert!(
            !run.stderr.contains(secret) && !run.stdout.contains(secret),
            "password leaked:\n{}",
            run.stderr
        );
    }
}
