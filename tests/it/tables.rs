//! Issue 3, acceptance 4 and 5, and table selection: partitioned tables
//! arrive once with all rows, AUTO_INCREMENT continues after the copy, and
//! --include/--exclude/--source-schema pick the tables.

use mysql_async::prelude::Queryable as _;

use crate::support::*;

const PARTITIONED: &str = "
CREATE TABLE measurements (id int, taken date NOT NULL, value numeric(6,2), PRIMARY KEY (id, taken))
    PARTITION BY RANGE (taken);
CREATE TABLE measurements_2023 PARTITION OF measurements FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')
    PARTITION BY RANGE (taken);
CREATE TABLE measurements_2024_h1 PARTITION OF measurements_2024 FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
CREATE TABLE measurements_2024_h2 PARTITION OF measurements_2024 FOR VALUES FROM ('2024-07-01') TO ('2025-01-01');
CREATE TABLE measurements_other PARTITION OF measurements DEFAULT;
INSERT INTO measurements
    SELECT n, DATE '2022-06-01' + n, n / 100.0 FROM generate_series(1, 1500) n;
-- Inheritance (not partitioning): the child's rows belong to the child.
CREATE TABLE events (id int PRIMARY KEY, name text);
CREATE TABLE special_events (extra text) INHERITS (events);
INSERT INTO events VALUES (1, 'parent');
INSERT INTO special_events VALUES (2, 'child', 'x');
";

#[tokio::test(flavor = "multi_thread")]
async fn a_partitioned_table_arrives_as_one_table_with_all_rows() {
    let case = Case::new("partitions", PARTITIONED).await;
    for target in targets("a_partitioned_table_arrives_as_one_table_with_all_rows") {
        let directory = case.schema_dir(&[(
            "010.sql",
            "CREATE TABLE measurements (id INT, taken DATE NOT NULL, value DECIMAL(6,2), PRIMARY KEY (id, taken));
             CREATE TABLE events (id INT PRIMARY KEY, name TEXT);
             CREATE TABLE special_events (id INT PRIMARY KEY, name TEXT, extra TEXT);",
        )]);
        let run = case.copy(&target.url).schema_dir(&directory).run();
        run.assert_success();
        let report = run.report();
        let sources: Vec<&str> = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|table| table["source"].as_str().unwrap())
            .collect();
        assert_eq!(
            sources,
            [
                "public.events",
                "public.measurements",
                "public.special_events"
            ],
            "partitions are not copied as tables of their own"
        );
        let mut target = mysql_connect(&with_database(&target.url, &case.name)).await;
        let (rows, sum): (u64, String) = target
            .query_first("SELECT COUNT(*), CAST(SUM(value) AS CHAR) FROM measurements")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            rows, 1500,
            "rows of every partition, sub-partitions included"
        );
        assert_eq!(sum, "11257.50");
        let events: Vec<(i32, String)> = target
            .query("SELECT id, name FROM events ORDER BY id")
            .await
            .unwrap();
        assert_eq!(
            events,
            [(1, "parent".to_string())],
            "an inheritance parent does not take its children's rows"
        );
        assert_eq!(rows_in(&mut target, "special_events").await, 1);
    }
}

async fn rows_in(target: &mut mysql_async::Conn, table: &str) -> u64 {
    target
        .query_first(format!("SELECT COUNT(*) FROM `{table}`"))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn partitions_as_tables_copies_the_leaves_when_asked() {
    let case = Case::new("leaves", PARTITIONED).await;
    for target in targets("partitions_as_tables_copies_the_leaves_when_asked") {
        let leaves = ["2023", "2024_h1", "2024_h2", "other"]
            .map(|suffix| {
                format!("CREATE TABLE measurements_{suffix} (id INT, taken DATE NOT NULL, value DECIMAL(6,2), PRIMARY KEY (id, taken));")
            })
            .join("\n");
        let schema = format!(
            "{leaves}\nCREATE TABLE events (id INT PRIMARY KEY, name TEXT);\nCREATE TABLE special_events (id INT PRIMARY KEY, name TEXT, extra TEXT);"
        );
        let directory = case.schema_dir(&[("010.sql", &schema)]);
        let run = Pg2dolt::new("")
            .source(&case.source)
            .target(&target.url)
            .schema_dir(&directory)
            .args(["--partitions-as-tables"])
            .run();
        run.assert_success();
        let mut target = mysql_connect(&with_database(&target.url, &case.name)).await;
        let mut total = 0;
        for suffix in ["2023", "2024_h1", "2024_h2", "other"] {
            let rows = rows_in(&mut target, &format!("measurements_{suffix}")).await;
            assert!(rows > 0, "measurements_{suffix} has rows");
            total += rows;
        }
        assert_eq!(total, 1500);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_increment_continues_after_the_largest_copied_id() {
    let case = Case::new(
        "autoinc",
        "CREATE TABLE tickets (id serial PRIMARY KEY, title text NOT NULL);
         INSERT INTO tickets (title) SELECT 'ticket ' || n FROM generate_series(1, 40) n;
         DELETE FROM tickets WHERE id > 37;
         CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, total int);
         INSERT INTO orders (total) VALUES (10), (20);
         INSERT INTO orders OVERRIDING SYSTEM VALUE VALUES (1000, 30);
         CREATE TABLE empty_one (id serial PRIMARY KEY);",
    )
    .await;
    for target in targets("auto_increment_continues_after_the_largest_copied_id") {
        let directory = case.schema_dir(&[(
            "010.sql",
            "CREATE TABLE tickets (id INT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(100) NOT NULL);
             CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, total INT);
             CREATE TABLE empty_one (id INT AUTO_INCREMENT PRIMARY KEY);",
        )]);
        let run = case.copy(&target.url).schema_dir(&directory).run();
        run.assert_success();
        let report = run.report();
        assert_eq!(report["auto_increment"]["tickets"], 38);
        assert_eq!(report["auto_increment"]["orders"], 1001);

        let mut target = mysql_connect(&with_database(&target.url, &case.name)).await;
        target
            .query_drop("INSERT INTO tickets (title) VALUES ('new')")
            .await
            .unwrap();
        assert_eq!(target.last_insert_id(), Some(38), "max(id) + 1");
        target
            .query_drop("INSERT INTO orders (total) VALUES (40)")
            .await
            .unwrap();
        assert_eq!(target.last_insert_id(), Some(1001));
        target
            .query_drop("INSERT INTO empty_one () VALUES ()")
            .await
            .unwrap();
        assert_eq!(
            target.last_insert_id(),
            Some(1),
            "an empty table starts at 1"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn include_exclude_and_source_schemas_pick_the_tables() {
    let case = Case::new(
        "select",
        "CREATE SCHEMA app; CREATE SCHEMA audit; CREATE SCHEMA scratch;
         CREATE TABLE app.users (id int PRIMARY KEY);
         CREATE TABLE app.users_tmp (id int PRIMARY KEY);
         CREATE TABLE app.sessions (id int PRIMARY KEY);
         CREATE TABLE audit.events (id int PRIMARY KEY);
         CREATE TABLE audit.noise (id int PRIMARY KEY);
         CREATE TABLE scratch.junk (id int PRIMARY KEY);
         CREATE TABLE public.ignored (id int PRIMARY KEY);
         INSERT INTO app.users VALUES (1), (2);
         INSERT INTO app.sessions VALUES (1);
         INSERT INTO audit.events VALUES (1), (2), (3);",
    )
    .await;
    for target in targets("include_exclude_and_source_schemas_pick_the_tables") {
        let directory = case.schema_dir(&[(
            "010.sql",
            "CREATE TABLE users (id INT PRIMARY KEY);
             CREATE TABLE sessions (id INT PRIMARY KEY);
             CREATE TABLE events (id INT PRIMARY KEY);",
        )]);
        let run = case
            .copy(&target.url)
            .schema_dir(&directory)
            .flag("--source-schema", "app")
            .flag("--source-schema", "audit")
            .flag("--include", "app.*")
            .flag("--include", "audit.events")
            .flag("--exclude", "*_tmp")
            .flag("--exclude", "sessions")
            .run();
        run.assert_success();
        let report = run.report();
        let sources: Vec<&str> = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|table| table["source"].as_str().unwrap())
            .collect();
        assert_eq!(sources, ["app.users", "audit.events"]);
        let warnings = report["warnings"].to_string();
        assert!(
            warnings
                .contains("target table sessions stays empty: its source app.sessions is excluded"),
            "{warnings}"
        );
        let mut target = mysql_connect(&with_database(&target.url, &case.name)).await;
        assert_eq!(rows_in(&mut target, "users").await, 2);
        assert_eq!(rows_in(&mut target, "events").await, 3);
        assert_eq!(rows_in(&mut target, "sessions").await, 0);
    }
}
