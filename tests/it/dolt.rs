//! Acceptance 9: the Dolt path, against a real `dolt sql-server` (started by
//! scripts/test.sh when `dolt` is on PATH). Without one it prints SKIPPED.

use mysql_async::prelude::Queryable as _;

use crate::demo::demo_sql;
use crate::support::dolt::OwnDolt;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn demo_copy_into_dolt_makes_one_commit() {
    let Some(dolt_url) = dolt_url("demo_copy_into_dolt_makes_one_commit") else {
        return;
    };
    let case = Case::new("dolt_demo", &demo_sql()).await;
    let source = case.source.as_str();
    let report_path = case.report_path();
    let run = Pg2dolt::new("")
        .source(source)
        .target(&dolt_url)
        .flag("--author", "Nightly Job <nightly@example.com>")
        .report(&report_path)
        .run();
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
    // Dated at the snapshot, and the message names it.
    let snapshot_time = report["snapshot"]["time"].as_str().unwrap();
    let date: Option<String> = conn
        .exec_first(
            "SELECT DATE_FORMAT(date, '%Y-%m-%dT%H:%i:%s') FROM dolt_log WHERE commit_hash = ?",
            (hash.as_str(),),
        )
        .await
        .unwrap();
    assert_eq!(date.as_deref(), Some(&snapshot_time[..19]), "{log:?}");
    assert!(
        ours[0].3.contains(snapshot_time) && ours[0].3.contains(&case.name),
        "{log:?}"
    );
    let pending: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM dolt_status")
        .await
        .unwrap();
    assert_eq!(pending, Some(0));
    assert_eq!(
        assert_tables_equal(source, &target, &report).await,
        DEMO_ROWS
    );
    foreign_keys_are_resolved_and_survive_merges(&mut conn).await;
}

/// The keys loaded with checks off are resolved: enforced, verified clean,
/// and checked by a merge (dolthub/dolt issues 5529, 5531, 7956: unresolved
/// keys are skipped by merges, so a merge could bring in orphans).
async fn foreign_keys_are_resolved_and_survive_merges(conn: &mut mysql_async::Conn) {
    // First, before anything here writes with checks on (a write resolves
    // the keys of its table): a merge that would orphan a child is stopped
    // by the key. Its writes run with checks off, as a bulk load would.
    for statement in [
        "SET SESSION foreign_key_checks = 0",
        "CALL DOLT_BRANCH('orphan')",
        "DELETE FROM memberships WHERE organization_id = 3",
        "DELETE FROM repositories WHERE organization_id = 3",
        "DELETE FROM organizations WHERE id = 3",
        "CALL DOLT_COMMIT('-am', 'main drops organization 3')",
        "CALL DOLT_CHECKOUT('orphan')",
        "INSERT INTO memberships (organization_id, user_id, role, joined_on) \
         SELECT 3, u.id, 'member', '2020-01-01' FROM users u WHERE NOT EXISTS \
         (SELECT 1 FROM memberships m WHERE m.organization_id = 3 AND m.user_id = u.id) LIMIT 1",
        "CALL DOLT_COMMIT('-am', 'a branch adds a member of organization 3')",
        "CALL DOLT_CHECKOUT('main')",
    ] {
        conn.query_drop(statement).await.unwrap();
    }
    let merged = conn.query_drop("CALL DOLT_MERGE('orphan')").await;
    assert!(
        merged.is_err_and(|error| error.to_string().contains("constraint violation")),
        "the merge reports the orphan"
    );
    conn.query_drop("CALL DOLT_MERGE('--abort')").await.ok();
    conn.query_drop("SET SESSION foreign_key_checks = 1")
        .await
        .unwrap();

    let orphan = conn
        .query_drop(
            "INSERT INTO memberships (organization_id, user_id, role, joined_on) \
             VALUES (999999, 1, 'member', '2020-01-01')",
        )
        .await;
    assert!(
        orphan.is_err_and(|error| error.to_string().contains("Foreign key violation")),
        "a child row without its parent is refused"
    );
    let violations: Option<i64> = conn
        .query_first("CALL DOLT_VERIFY_CONSTRAINTS('--all')")
        .await
        .unwrap();
    assert_eq!(violations, Some(0));

    // A clean merge: a parent added on main, a child of another parent on
    // a branch.
    for statement in [
        "CALL DOLT_BRANCH('member')",
        "INSERT INTO organizations (id, name, `plan`, created_at) VALUES (999001, 'merged org', 'free', NOW())",
        "CALL DOLT_COMMIT('-am', 'main adds an organization')",
        "CALL DOLT_CHECKOUT('member')",
        "INSERT INTO memberships (organization_id, user_id, role, joined_on) \
         SELECT 2, u.id, 'member', '2020-01-01' FROM users u WHERE NOT EXISTS \
         (SELECT 1 FROM memberships m WHERE m.organization_id = 2 AND m.user_id = u.id) LIMIT 1",
        "CALL DOLT_COMMIT('-am', 'a branch adds a member')",
        "CALL DOLT_CHECKOUT('main')",
        "CALL DOLT_MERGE('member')",
    ] {
        conn.query_drop(statement).await.unwrap();
    }
    let after_merge = conn
        .query_drop(
            "INSERT INTO memberships (organization_id, user_id, role, joined_on) \
             VALUES (999999, 1, 'member', '2020-01-01')",
        )
        .await;
    assert!(after_merge.is_err(), "the key is enforced after a merge");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_dolt_directory_is_a_target() {
    if dolt_url("a_local_dolt_directory_is_a_target").is_none() {
        return;
    }
    let case = Case::new("dolt_dir", &demo_sql()).await;
    let directory = std::env::temp_dir().join(format!("{}-dolt", case.name));
    let _ = std::fs::remove_dir_all(&directory);
    let target = format!("dolt:{}", directory.display());
    let run = Pg2dolt::new("").source(&case.source).target(&target).run();
    run.assert_success();
    let hash = run.stdout.trim();

    // An ordinary Dolt database, for the dolt command itself.
    let dolt = |arguments: &[&str]| {
        let output = std::process::Command::new("dolt")
            .args(arguments)
            .current_dir(directory.join(&case.name))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let log = dolt(&["log", "-n", "1", "--oneline"]);
    assert!(log.contains(hash), "{log}");
    let count = dolt(&["sql", "-r", "csv", "-q", "SELECT COUNT(*) FROM users"]);
    assert_eq!(count.lines().nth(1), Some("2000"), "{count}");

    // Without dolt on PATH: one line, exit 2.
    let run = Pg2dolt::new("")
        .source(&case.source)
        .target(&target)
        .env("PATH", "/usr/bin:/bin")
        .run();
    let error = run.assert_one_line_error(2);
    assert!(error.contains("dolt command on PATH"), "{error}");
    let _ = std::fs::remove_dir_all(&directory);
}

/// The processes whose command line holds `text`.
fn processes_with(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(command) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let command = String::from_utf8_lossy(&command).replace('\0', " ");
        if command.contains(text) {
            found.push(command);
        }
    }
    found
}

/// A run on `--target dolt:PATH` killed outright (SIGKILL) does not leave
/// its private sql-server holding the directory: the next run opens it and
/// finishes the night.
#[tokio::test(flavor = "multi_thread")]
async fn a_local_dolt_run_killed_outright_leaves_no_server_behind() {
    if dolt_url("a_local_dolt_run_killed_outright_leaves_no_server_behind").is_none() {
        return;
    }
    let source = "CREATE TABLE events (id bigint PRIMARY KEY, body text NOT NULL);
        INSERT INTO events SELECT n, repeat(md5(n::text), 4) FROM generate_series(1, 600000) n;";
    let case = Case::new("dolt_dir_killed", source).await;
    let schema = case.schema_dir(&[(
        "001.sql",
        "CREATE TABLE events (id BIGINT PRIMARY KEY, body TEXT NOT NULL);",
    )]);
    let directory = std::env::temp_dir().join(format!("{}-dolt", case.name));
    let _ = std::fs::remove_dir_all(&directory);
    let target = format!("dolt:{}", directory.display());
    let refresh = || {
        Pg2dolt::new("refresh")
            .source(&case.source)
            .target(&target)
            .database(&case.name)
            .schema_dir(&schema)
    };
    let mut child = refresh().spawn();
    let marker = format!("pg2dolt-dolt-{}-", child.id());
    // Mid-load: the database exists in the directory.
    for _ in 0..600 {
        if directory.join(&case.name).exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(!processes_with(&marker).is_empty(), "no private server ran");
    child.kill().unwrap();
    let _ = child.wait();
    let mut left = processes_with(&marker);
    for _ in 0..150 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = processes_with(&marker);
    }
    assert_eq!(
        left,
        Vec::<String>::new(),
        "the private server outlived its run"
    );
    let run = refresh().run();
    run.assert_success();
    let _ = std::fs::remove_dir_all(&directory);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dolt_server_without_local_infile_gets_insert_and_the_config_line() {
    if dolt_url("a_dolt_server_without_local_infile_gets_insert_and_the_config_line").is_none() {
        return;
    }
    let case = Case::new("dolt_nolocal", &demo_sql()).await;
    let server = OwnDolt::start(&case.name).await;
    let plan = Pg2dolt::new("plan")
        .source(&case.source)
        .target(&server.url)
        .run();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let said = plan
        .stderr
        .lines()
        .filter(|line| line.contains("warning: the target refuses LOAD DATA LOCAL INFILE"))
        .collect::<Vec<_>>();
    assert_eq!(said.len(), 1, "{}", plan.stderr);
    assert!(
        said[0].contains("system_variables: {local_infile: 1}"),
        "{}",
        said[0]
    );

    let run = case.copy(&server.url).run();
    run.assert_success();
    let report = run.report();
    assert_eq!(report["load_method"], "insert");
    let target = with_database(&server.url, &case.name);
    assert_eq!(
        assert_tables_equal(&case.source, &target, &report).await,
        DEMO_ROWS
    );

    let forced = Pg2dolt::new("")
        .source(&case.source)
        .target(&server.url)
        .flag("--load-method", "load-data")
        .args(["--replace"])
        .run();
    let error = forced.assert_one_line_error(2);
    assert!(error.contains("local_infile"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_in_the_middle_of_a_dolt_copy_leaves_no_commit() {
    let Some(dolt_url) = dolt_url("sigterm_in_the_middle_of_a_dolt_copy_leaves_no_commit") else {
        return;
    };
    // Seconds of loading on Dolt (tens of thousands of rows a second).
    let case = Case::new(
        "dolt_sigterm",
        "CREATE TABLE big (id int PRIMARY KEY, payload text);
         INSERT INTO big SELECT n, repeat(md5(n::text), 4) FROM generate_series(1, 400000) n;",
    )
    .await;
    let directory = case.schema_dir(&[(
        "010.sql",
        "CREATE TABLE big (id INT PRIMARY KEY, payload TEXT);",
    )]);
    let report_path = case.report_path();
    let child = copy_in_background(&case, &dolt_url, &directory).await;
    let mut watcher = mysql_connect(&dolt_url).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (code, output, took) = terminate(child).await;
    assert_eq!(code, Some(143), "{}", output.stderr);
    assert!(took.as_secs() < 10, "stopped after {took:?}");
    assert!(output.stdout.is_empty(), "no commit hash on stdout");
    let report = read_report(&report_path);
    assert_eq!(report["status"], "interrupted");
    assert_eq!(report["dolt_commit"], serde_json::Value::Null);
    assert_eq!(report["target_state"], "dropped", "{report}");
    let databases: Vec<String> = watcher.query("SHOW DATABASES").await.unwrap();
    assert!(
        !databases.contains(&case.name),
        "the incomplete database was dropped"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dolt_server_killed_mid_copy_ends_the_run_saying_what_it_left() {
    if dolt_url("a_dolt_server_killed_mid_copy_ends_the_run_saying_what_it_left").is_none() {
        return;
    }
    let case = Case::new(
        "dolt_killed",
        "CREATE TABLE events (id bigint PRIMARY KEY, payload text NOT NULL);
         INSERT INTO events SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 400000) g;",
    )
    .await;
    let directory = case.schema_dir(&[(
        "010.sql",
        "CREATE TABLE events (id BIGINT PRIMARY KEY, payload TEXT NOT NULL);",
    )]);
    let mut server = OwnDolt::start(&case.name).await;
    let report_path = case.report_path();
    // Mid-copy: the database exists and rows are going in.
    let child = copy_in_background(&case, &server.url, &directory).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    server.kill();
    let killed = std::time::Instant::now();
    assert_ends_partial_after_kill(child, killed, &report_path, "public.events").await;
}

/// Starts `pg2dolt copy` of `case` into `target` in the background (stderr
/// piped) and returns once the copy has created its database.
#[expect(
    clippy::zombie_processes,
    reason = "the caller waits for the child; a failed test ends the whole process"
)]
async fn copy_in_background(
    case: &Case,
    target: &str,
    directory: &std::path::Path,
) -> std::process::Child {
    let mut child = case.copy(target).schema_dir(directory).spawn();
    let mut watcher = mysql_connect(target).await;
    let started = std::time::Instant::now();
    loop {
        let databases: Vec<String> = watcher.query("SHOW DATABASES").await.unwrap();
        if databases.contains(&case.name) {
            return child;
        }
        if started.elapsed().as_secs() >= 60 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the copy did not begin");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
