//! Issue 5: running unattended. Passwords never leak (URLs in flags or in
//! files, success and failure, text and JSON logs, the report), and every
//! JSON log line is JSON with a level, a message and the table where one
//! applies.

use std::path::PathBuf;

use mysql_async::prelude::Queryable as _;

use crate::support::*;

const SOURCE: &str = "
CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);
INSERT INTO notes SELECT n, 'note ' || n FROM generate_series(1, 3000) n;
INSERT INTO notes VALUES (3001, 'a body far too long for twenty characters');
CREATE TABLE tags (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO tags VALUES (1, 'a'), (2, 'b');
";

const SCHEMA: &str = "
CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(20) NOT NULL);
CREATE TABLE tags (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL);
";

/// A Postgres role and a MariaDB user, each with a password of its own.
struct Accounts {
    pg_password: String,
    mysql_password: String,
    source: String,
    target: String,
}

async fn accounts(case: &Case, target: &str) -> Accounts {
    let pg_password = format!("Pg-Pa55-{}", case.name);
    let mysql_password = format!("My-Pa55-{}", case.name);
    let role = format!("{}_role", case.name);
    let admin = pg_connect(&case.servers.pg_url).await;
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{pg_password}'"
        ))
        .await
        .unwrap();
    pg_connect(&case.source)
        .await
        .batch_execute(&format!(
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"
        ))
        .await
        .unwrap();
    let mut conn = mysql_connect(target).await;
    conn.query_drop(format!(
        "CREATE USER '{role}'@'%' IDENTIFIED BY '{mysql_password}'"
    ))
    .await
    .unwrap();
    conn.query_drop(format!("GRANT ALL PRIVILEGES ON *.* TO '{role}'@'%'"))
        .await
        .unwrap();
    let pg = url::Url::parse(&case.source).unwrap();
    let my = url::Url::parse(target).unwrap();
    Accounts {
        source: format!(
            "postgres://{role}:{pg_password}@{}:{}{}",
            pg.host_str().unwrap(),
            pg.port().unwrap(),
            pg.path()
        ),
        target: format!(
            "mysql://{role}:{mysql_password}@{}:{}",
            my.host_str().unwrap(),
            my.port().unwrap()
        ),
        pg_password,
        mysql_password,
    }
}

fn write_file(case: &Case, name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{}-{name}", case.name));
    std::fs::write(&path, text).unwrap();
    path
}

/// Neither password appears in anything the run wrote.
fn assert_no_secret(accounts: &Accounts, run: &Run, report: Option<&PathBuf>, what: &str) {
    let report_text = report
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default();
    for secret in [&accounts.pg_password, &accounts.mysql_password] {
        for (place, text) in [
            ("stdout", &run.stdout),
            ("stderr", &run.stderr),
            ("report", &report_text),
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "{what}: a password leaked into {place}:\n{text}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_in_urls_appear_nowhere() {
    for target in targets("passwords_in_urls_appear_nowhere") {
        let case = Case::new(&format!("secrets_{}", target.name), SOURCE).await;
        passwords_in_urls(&case, &target.url).await;
    }
}

async fn passwords_in_urls(case: &Case, target: &str) {
    let accounts = accounts(case, target).await;
    let schema = case.schema_dir(&[("010.sql", SCHEMA)]);
    let schema = schema.to_str().unwrap();
    let report = case.report_path();
    let report_arg = report.to_str().unwrap();

    // URLs in flags, text logs, verbose: a value too long fails the run.
    let run = Pg2dolt::new("")
        .source(&accounts.source)
        .target(&accounts.target)
        .flag("--schema-dir", schema)
        .flag("--report", report_arg)
        .args(["-v"])
        .run();
    run.assert_one_line_error(6);
    assert_no_secret(&accounts, &run, Some(&report), "data failure, text logs");

    // URLs from files, JSON logs: the same failure.
    let source_file = write_file(case, "source-url", &format!("{}\n", accounts.source));
    let target_file = write_file(case, "target-url", &accounts.target);
    let files = [
        "--source-url-file",
        source_file.to_str().unwrap(),
        "--target-url-file",
        target_file.to_str().unwrap(),
    ];
    let mut arguments = vec![
        "--schema-dir",
        schema,
        "--report",
        report_arg,
        "--log-format",
        "json",
    ];
    arguments.extend(files);
    let run = Pg2dolt::new("").args(&arguments).run();
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert_no_secret(
        &accounts,
        &run,
        Some(&report),
        "data failure, json logs, url files",
    );

    // A schema that fits: success, with URLs from files and the plan too.
    let fitting = case.schema_dir(&[(
        "010.sql",
        "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT NOT NULL);
         CREATE TABLE tags (id INT PRIMARY KEY, name TEXT NOT NULL);",
    )]);
    let fitting = fitting.to_str().unwrap();
    let mut arguments = vec![
        "--schema-dir",
        fitting,
        "--report",
        report_arg,
        "--log-format",
        "json",
    ];
    arguments.extend(files);
    let run = Pg2dolt::new("").args(&arguments).run();
    run.assert_success();
    assert_no_secret(&accounts, &run, Some(&report), "success, json logs");
    let mut plan_arguments = vec![
        "plan",
        "--schema-dir",
        fitting,
        "--format",
        "json",
        "--replace",
    ];
    plan_arguments.extend(files);
    let run = Pg2dolt::new("").args(&plan_arguments).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_no_secret(&accounts, &run, None, "plan json");
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_in_files_appear_nowhere() {
    for target in targets("passwords_in_files_appear_nowhere") {
        let case = Case::new(&format!("pwfiles_{}", target.name), SOURCE).await;
        passwords_in_files(&case, &target.url).await;
    }
}

async fn passwords_in_files(case: &Case, target: &str) {
    let accounts = accounts(case, target).await;
    let report = case.report_path();
    let report_arg = report.to_str().unwrap();
    let fitting = case.schema_dir(&[(
        "010.sql",
        "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT NOT NULL);
         CREATE TABLE tags (id INT PRIMARY KEY, name TEXT NOT NULL);",
    )]);
    let fitting = fitting.to_str().unwrap();
    // Passwords in files of their own, URLs without them: success again.
    let role = format!("{}_role", case.name);
    let bare_source = accounts
        .source
        .replace(&format!(":{}@", accounts.pg_password), "@");
    let bare_target = accounts
        .target
        .replace(&format!(":{}@", accounts.mysql_password), "@");
    assert!(!bare_source.contains(&accounts.pg_password) && bare_source.contains(&role));
    let pg_file = write_file(case, "pg-password", &format!("{}\n", accounts.pg_password));
    let my_file = write_file(case, "my-password", &accounts.mysql_password);
    let run = Pg2dolt::new("")
        .source(&bare_source)
        .target(&bare_target)
        .flag("--source-password-file", pg_file.to_str().unwrap())
        .flag("--target-password-file", my_file.to_str().unwrap())
        .flag("--schema-dir", fitting)
        .flag("--report", report_arg)
        .args(["--replace"])
        .run();
    run.assert_success();
    assert_no_secret(&accounts, &run, Some(&report), "password files");

    // A wrong password in a file: a connection error, the password unsaid.
    let wrong = write_file(
        case,
        "wrong-password",
        &format!("{}-wrong", accounts.mysql_password),
    );
    let run = Pg2dolt::new("")
        .source(&bare_source)
        .target(&bare_target)
        .flag("--source-password-file", pg_file.to_str().unwrap())
        .flag("--target-password-file", wrong.to_str().unwrap())
        .flag("--schema-dir", fitting)
        .flag("--report", report_arg)
        .flag("--log-format", "json")
        .run();
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("Access denied"), "{}", run.stderr);
    assert_no_secret(&accounts, &run, Some(&report), "wrong password");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_json_log_line_is_json_with_level_message_and_table() {
    for target in targets("every_json_log_line_is_json_with_level_message_and_table") {
        let case = Case::new(&format!("jsonlogs_{}", target.name), SOURCE).await;
        let schema = case.schema_dir(&[(
            "010.sql",
            "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT NOT NULL);
             CREATE TABLE tags (id INT PRIMARY KEY, name TEXT NOT NULL);",
        )]);
        let run = Pg2dolt::new("")
            .source(&case.source)
            .target(&target.url)
            .schema_dir(&schema)
            .flag("--log-format", "json")
            .flag("--chunk-rows", "1000")
            .args(["-v"])
            .like_a_user()
            .run();
        run.assert_success();
        let mut per_table = 0;
        for line in run.stderr.lines() {
            let event: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
            assert!(event["level"].is_string(), "no level: {line}");
            assert!(event["message"].is_string(), "no message: {line}");
            let message = event["message"].as_str().unwrap();
            if [
                "table copied",
                "chunk copied",
                "table split into ranges",
                "plan: table",
                "plan: column",
            ]
            .contains(&message)
            {
                assert!(
                    event["table"]
                        .as_str()
                        .is_some_and(|table| table.starts_with("public.")),
                    "an event about a table names it: {line}"
                );
                per_table += 1;
            }
        }
        assert!(
            per_table >= 8,
            "events about tables: {per_table}\n{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("\"message\":\"run finished\""),
            "the end of the run is an event too:\n{}",
            run.stderr
        );
    }
}
