//! Issue 21, the command line as people read it: the logging flags before
//! or after the command, copy's flags refused before another command, and
//! `--help` that lists the commands and groups each command's flags.

use mysql_async::prelude::Queryable as _;

use crate::support::*;

const SOURCE: &str = "
    CREATE TABLE notes (id INT PRIMARY KEY, body TEXT NOT NULL);
    INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 50) g;
";

const SCHEMA: &str = "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT NOT NULL);";

#[tokio::test(flavor = "multi_thread")]
async fn logging_flags_go_before_the_command_too() {
    for target in targets("logging_flags_go_before_the_command_too") {
        let case = Case::new(&format!("globalflags_{}", target.name), SOURCE).await;
        let schema = case.schema_dir(&[("010.sql", SCHEMA)]);
        let copy = |first: &[&str]| {
            Pg2dolt::new("")
                .args(first)
                .source(&case.source)
                .target(&target.url)
                .schema_dir(&schema)
                .args(["--replace"])
                .like_a_user()
                .run()
        };
        // Quiet, with JSON logs, given before the command: no info event.
        let run = copy(&["-q", "--log-format", "json", "copy"]);
        run.assert_success();
        for line in run.stderr.lines() {
            let event: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
            assert_ne!(event["level"], "INFO", "-q before the command: {line}");
        }
        assert!(!run.stderr.contains("pg2dolt starting"), "{}", run.stderr);
        // After the command, the same.
        let after = copy(&["copy", "-q"]);
        after.assert_success();
        assert!(
            !after.stderr.contains("pg2dolt starting"),
            "{}",
            after.stderr
        );
        // Verbose before the command: the effective configuration is logged.
        let verbose = copy(&["-v", "copy"]);
        verbose.assert_success();
        assert!(
            verbose.stderr.contains("pg2dolt starting"),
            "{}",
            verbose.stderr
        );
        let mut conn = mysql_connect(&with_database(&target.url, &case.name)).await;
        let rows: Option<u64> = conn
            .query_first("SELECT COUNT(*) FROM notes")
            .await
            .unwrap();
        assert_eq!(rows, Some(50), "the copies copied");

        // Copy's flags before another command would be ignored: refused.
        let refused = Pg2dolt::new("")
            .source(&case.source)
            .args(["plan"])
            .target(&target.url)
            .run();
        assert_eq!(refused.code, 2, "{}", refused.stderr);
        let error = refused.stderr.lines().next().unwrap_or_default();
        assert!(
            error.contains("'plan'") && error.contains("'--source'"),
            "{error}"
        );
    }
}

#[test]
fn help_lists_the_commands_and_groups_each_commands_flags() {
    let help = |arguments: &[&str]| {
        let run = Pg2dolt::new("").args(arguments).like_a_user().run();
        assert_eq!(run.code, 0, "{arguments:?}: {}", run.stderr);
        run.stdout
    };
    let top = help(&["--help"]);
    for command in [
        "copy", "plan", "refresh", "verify", "rollback", "history", "restore",
    ] {
        assert!(top.contains(&format!("  {command} ")), "{command}:\n{top}");
    }
    assert!(
        top.contains("--quiet") && !top.contains("--source"),
        "{top}"
    );
    assert!(
        top.lines().count() < 60,
        "{} lines:\n{top}",
        top.lines().count()
    );

    let copy = help(&["copy", "--help"]);
    let headings = [
        "Source:",
        "Target:",
        "Schema files:",
        "Selection and mapping:",
        "Archive:",
        "Masking:",
        "Tuning:",
        "Output:",
    ];
    for heading in headings {
        assert!(
            copy.lines().any(|line| line == heading),
            "{heading}:\n{copy}"
        );
    }
    assert!(!copy.contains("Refresh:"), "{copy}");

    let refresh = help(&["refresh", "--help"]);
    assert!(refresh.lines().any(|line| line == "Refresh:"), "{refresh}");
    for refused in ["--replace", "--no-target"] {
        assert!(
            !refresh.contains(refused),
            "refresh offers {refused}:\n{refresh}"
        );
    }
    let verify = help(&["verify", "-h"]);
    assert!(!verify.contains("--archive "), "{verify}");
}
