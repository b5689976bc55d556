//! Issue 7: `schema draft` and `schema diff`. A draft of Chinook applies to
//! MariaDB and copies every row exactly; a draft of the type matrix copies
//! too; string lengths follow the measured data; `diff` names exactly what
//! changed in the source.

use crate::chinook::chinook_postgres_sql;
use crate::support::*;

fn draft(case: &Case, extra: &[&str]) -> (std::path::PathBuf, Run) {
    let directory = std::env::temp_dir().join(format!("{}-draft", case.name));
    let _ = std::fs::remove_dir_all(&directory);
    let mut arguments = vec![
        "schema",
        "draft",
        "--source",
        &case.source,
        "--out",
        directory.to_str().unwrap(),
    ];
    arguments.extend(extra);
    let run = Pg2dolt::new("").args(&arguments).run();
    (directory, run)
}

fn copy_with(case: &Case, schema_dir: &std::path::Path) -> serde_json::Value {
    copy_into(case, schema_dir, &case.servers.mysql_url)
}

fn copy_into(case: &Case, schema_dir: &std::path::Path, target: &str) -> serde_json::Value {
    let run = case.copy(target).schema_dir(schema_dir).run();
    run.assert_success();
    run.report()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chinook_draft_applies_and_copies_every_row() {
    let case = Case::new("draftchinook", &chinook_postgres_sql()).await;
    let (directory, run) = draft(&case, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let tables = std::fs::read_to_string(directory.join("010_tables.sql")).unwrap();
    let keys = std::fs::read_to_string(directory.join("020_foreign_keys.sql")).unwrap();
    assert_eq!(tables.matches("CREATE TABLE").count(), 11);
    assert_eq!(keys.matches("FOREIGN KEY").count(), 11, "{keys}");
    assert!(tables.contains("`title` VARCHAR(160) NOT NULL"), "{tables}");
    assert!(
        tables.contains("`unit_price` DECIMAL(10,2) NOT NULL"),
        "{tables}"
    );
    assert!(tables.contains("COLLATE = utf8mb4_0900_bin"));
    assert!(run.stderr.contains("0 REVIEW note(s)"), "{}", run.stderr);

    // MariaDB has no utf8mb4_0900_bin: pg2dolt applies its equal.
    for target in targets("a_chinook_draft_applies_and_copies_every_row") {
        let report = copy_into(&case, &directory, &target.url);
        assert_eq!(report["tables"].as_array().unwrap().len(), 11);
        assert!(
            report["tables"]
                .as_array()
                .unwrap()
                .iter()
                .all(|table| table["rule"] == "exact"),
            "the draft keeps the source's names"
        );
        assert_eq!(
            assert_tables_equal(
                &case.source,
                &with_database(&target.url, &case.name),
                &report
            )
            .await,
            CHINOOK_ROWS
        );
        assert_eq!(report["foreign_key_fixups"].as_array().unwrap().len(), 11);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_type_matrix_draft_applies_and_copies() {
    let sql = std::fs::read_to_string(repo_path("tests/fixtures/types/postgres.sql")).unwrap();
    let case = Case::new("drafttypes", &sql).await;
    let (directory, run) = draft(&case, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = copy_with(&case, &directory);
    assert_eq!(report["tables"].as_array().unwrap().len(), 12);
    assert_eq!(report["rows_total"], 59);
    let tables = std::fs::read_to_string(directory.join("010_tables.sql")).unwrap();
    assert!(
        tables.contains("-- REVIEW: numeric without precision"),
        "{tables}"
    );
    assert!(
        tables.contains("ENUM('happy', 'sad', 'it''s complicated')"),
        "{tables}"
    );
    // On Dolt the drafted files apply too; the copy stops only on the two
    // JSON numbers a double cannot hold (Dolt keeps JSON numbers as doubles).
    for target in targets("a_type_matrix_draft_applies_and_copies")
        .into_iter()
        .filter(|target| target.name == "dolt")
    {
        let run = Pg2dolt::new("plan")
            .source(&case.source)
            .target(&target.url)
            .schema_dir(&directory)
            .flag("--format", "json")
            .run();
        assert_eq!(run.code, 3, "{}", run.stderr);
        let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let problems = plan["problems"].as_array().unwrap();
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems.iter().all(|problem| problem["kind"] == "value"
                && problem["detail"].as_str().unwrap().contains("double")),
            "{problems:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn string_lengths_follow_the_measured_data() {
    let case = Case::new(
        "draftlengths",
        "CREATE TABLE notes (
            id serial PRIMARY KEY,
            short_text text NOT NULL DEFAULT 'none',
            long_text text,
            code text UNIQUE,
            empty_text text,
            created timestamptz NOT NULL DEFAULT now(),
            price numeric(8,2) CHECK (price >= 0)
         );
         COMMENT ON COLUMN notes.short_text IS 'at most forty, so far';
         CREATE INDEX notes_lower_code ON notes (lower(code));
         INSERT INTO notes (short_text, long_text, code) VALUES
            (repeat('x', 40), repeat('y', 100000), 'A-1'),
            ('short', 'short', 'a-1');",
    )
    .await;
    let (directory, run) = draft(&case, &["--collation", "utf8mb4_0900_ai_ci"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let tables = std::fs::read_to_string(directory.join("010_tables.sql")).unwrap();
    // 40 × 1.5 = 60: the next step is 64. 100,000 × 1.5 bytes: MEDIUMTEXT.
    assert!(
        tables.contains(
            "`short_text` VARCHAR(64) NOT NULL DEFAULT 'none' COMMENT 'at most forty, so far',"
        ),
        "{tables}"
    );
    assert!(tables.contains("`long_text` MEDIUMTEXT,"), "{tables}");
    assert!(tables.contains("`code` VARCHAR(32),"), "{tables}");
    assert!(
        tables.contains("`empty_text` VARCHAR(255),  -- REVIEW: no values to measure"),
        "{tables}"
    );
    assert!(
        tables.contains("`id` INT NOT NULL AUTO_INCREMENT,"),
        "{tables}"
    );
    assert!(
        tables.contains("`created` DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"),
        "{tables}"
    );
    assert!(tables.contains("CHECK ((price >= (0)))"), "{tables}");
    assert!(
        tables.contains("UNIQUE KEY `notes_code_key` (`code`)"),
        "{tables}"
    );
    assert!(
        tables.contains("-- REVIEW: public.notes: index not drafted"),
        "{tables}"
    );
    // 'A-1' and 'a-1' are one value under a case-insensitive collation.
    assert!(
        tables.contains("collide under utf8mb4_0900_ai_ci"),
        "{tables}"
    );
    assert!(
        run.stderr.contains("collide under utf8mb4_0900_ai_ci"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_diff_lists_exactly_what_changed_in_the_source() {
    let case = Case::new(
        "draftdiff",
        "CREATE TABLE users (id int PRIMARY KEY, name text);
         CREATE TABLE teams (id int PRIMARY KEY);
         INSERT INTO users VALUES (1, 'ann');",
    )
    .await;
    let (directory, run) = draft(&case, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let diff = || {
        Pg2dolt::new("schema diff")
            .source(&case.source)
            .schema_dir(&directory)
            .run()
    };
    let run = diff();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");

    pg_connect(&case.source)
        .await
        .batch_execute(
            "ALTER TABLE users ADD COLUMN email varchar(200);
             CREATE TABLE audit (id bigint PRIMARY KEY, at timestamptz);",
        )
        .await
        .unwrap();
    let run = diff();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let changes: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        changes,
        [
            "new table public.audit (id bigint, at timestamp with time zone)",
            "new column public.users.email (character varying(200))",
        ],
        "{}",
        run.stdout
    );
}
