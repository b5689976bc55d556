//! Acceptance 2: while the copy runs, another connection keeps inserting
//! parents with children and deleting others; the copy holds exactly the
//! state after one writer transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use mysql_async::prelude::Queryable as _;

use crate::support::*;

const BASE_PARENTS: i64 = 20_000;
const BASE_CHILDREN_EACH: i64 = 5;
const NEW_CHILDREN_EACH: i64 = 3;

// language=PostgreSQL
const SOURCE: &str = "
CREATE TABLE parent (id bigint PRIMARY KEY, label text NOT NULL);
CREATE TABLE child (id bigint PRIMARY KEY, parent_id bigint NOT NULL REFERENCES parent (id), payload text NOT NULL);
INSERT INTO parent SELECT g, 'parent ' || g FROM generate_series(1, 20000) g;
INSERT INTO child SELECT g, 1 + (g - 1) / 5, repeat('x', 200) FROM generate_series(1, 100000) g;
";

// language=MySQL
const TARGET_SCHEMA: &str = "
CREATE TABLE parent (id BIGINT NOT NULL PRIMARY KEY, label VARCHAR(100) NOT NULL);
CREATE TABLE child (id BIGINT NOT NULL PRIMARY KEY, parent_id BIGINT NOT NULL, payload TEXT NOT NULL,
    CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id));
";

/// Batch k (one transaction) adds parent BASE+k with 3 children and deletes
/// base parent k with its 5 children.
async fn write_batches(
    writer: tokio_postgres::Client,
    stop: Arc<AtomicBool>,
    batches: Arc<AtomicI64>,
) {
    let mut k = 0_i64;
    while !stop.load(Ordering::SeqCst) && k < BASE_PARENTS {
        k += 1;
        let parent = BASE_PARENTS + k;
        let child = BASE_PARENTS * BASE_CHILDREN_EACH + (k - 1) * NEW_CHILDREN_EACH;
        writer
            .batch_execute(&format!(
                "BEGIN; \
                 INSERT INTO parent VALUES ({parent}, 'new {parent}'); \
                 INSERT INTO child VALUES ({c1}, {parent}, 'a'), ({c2}, {parent}, 'b'), ({c3}, {parent}, 'c'); \
                 DELETE FROM child WHERE parent_id = {k}; DELETE FROM parent WHERE id = {k}; \
                 COMMIT",
                c1 = child + 1,
                c2 = child + 2,
                c3 = child + 3
            ))
            .await
            .unwrap();
        batches.store(k, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_copy_is_the_state_of_one_instant() {
    for target in targets("the_copy_is_the_state_of_one_instant") {
        let case = Case::new(&format!("pit_{}", target.name), SOURCE).await;
        let source = case.source.as_str();
        let schema_dir = case.schema_dir(&[("010_tables.sql", TARGET_SCHEMA)]);

        let writer = pg_connect(source).await;
        let stop = Arc::new(AtomicBool::new(false));
        let batches = Arc::new(AtomicI64::new(0));
        let writer_task = tokio::spawn(write_batches(
            writer,
            Arc::clone(&stop),
            Arc::clone(&batches),
        ));
        while batches.load(Ordering::SeqCst) < 20 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }

        let report_path = case.report_path();
        let run = tokio::task::spawn_blocking({
            let (source, target, schema, report) = (
                case.source.clone(),
                target.url.clone(),
                schema_dir.clone(),
                report_path.clone(),
            );
            move || {
                Pg2dolt::new("")
                    .source(&source)
                    .target(&target)
                    .schema_dir(&schema)
                    .report(&report)
                    .flag("--jobs", "2")
                    .run()
            }
        })
        .await
        .unwrap();
        let writes_during_copy = batches.load(Ordering::SeqCst);
        stop.store(true, Ordering::SeqCst);
        writer_task.await.unwrap();
        run.assert_success();

        let mut target = mysql_connect(&with_database(&target.url, &case.name)).await;
        let newest: Option<i64> = target
            .query_first("SELECT MAX(id) FROM parent")
            .await
            .unwrap();
        let k = newest.unwrap() - BASE_PARENTS;
        assert!(
            k >= 20,
            "the snapshot was taken after the writer started (k = {k})"
        );
        assert!(
            k < writes_during_copy,
            "the writer kept writing while the copy ran (k = {k}, writes = {writes_during_copy})"
        );

        // Exactly the state after batch k.
        let parents: Vec<i64> = target
            .query("SELECT id FROM parent ORDER BY id")
            .await
            .unwrap();
        let expected: Vec<i64> = (k + 1..=BASE_PARENTS + k).collect();
        assert_eq!(
            parents, expected,
            "parents are exactly those alive after batch {k}"
        );
        let children: Option<i64> = target
            .query_first("SELECT COUNT(*) FROM child")
            .await
            .unwrap();
        assert_eq!(
            children,
            Some((BASE_PARENTS - k) * BASE_CHILDREN_EACH + k * NEW_CHILDREN_EACH)
        );
        let orphans: Option<i64> = target
            .query_first("SELECT COUNT(*) FROM child c LEFT JOIN parent p ON p.id = c.parent_id WHERE p.id IS NULL")
            .await
            .unwrap();
        assert_eq!(orphans, Some(0), "no child without its parent");
        let report = read_report(&report_path);
        let reported: u64 = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["rows"].as_u64().unwrap())
            .sum();
        assert_eq!(
            i64::try_from(reported).unwrap(),
            BASE_PARENTS + (BASE_PARENTS - k) * BASE_CHILDREN_EACH + k * NEW_CHILDREN_EACH
        );
    }
}
