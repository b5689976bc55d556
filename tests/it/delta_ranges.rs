//! Issue 26 item 4: a night finds its deleted rows in proportion to the
//! change. Each night records its tables' rows per range of the first key
//! column; the next one reads the keys of the ranges that lost rows only
//! (the report's `keys_read`), and every table stays exact.

use mysql_async::prelude::Queryable as _;

use crate::nights::{Changes, Nights, table};
use crate::support::*;

/// Rows a key range holds, about (`nightly::deletes::ranges`).
const ROWS_PER_RANGE: u64 = 512;

const ORDERS_SOURCE: &str = "
    CREATE TYPE order_state AS ENUM ('new', 'paid', 'shipped');
    CREATE TABLE customer (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES customer (id),
                         state order_state NOT NULL, total numeric(12,2) NOT NULL);
    INSERT INTO customer SELECT n, 'customer ' || n FROM generate_series(1, 1000) n;
    -- even keys only, so a new odd key can land in a range that lost a row
    INSERT INTO orders SELECT 2 * n, 1 + n % 1000, (ARRAY['new','paid','shipped'])[1 + n % 3]::order_state,
                              n % 10000 / 100.0
                       FROM generate_series(1, 2000000) n;";

const ORDERS_TABLES: &str = "
    CREATE TABLE customer (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL);
    CREATE TABLE orders (id BIGINT PRIMARY KEY, customer_id INT NOT NULL,
                         state ENUM('new', 'paid', 'shipped') NOT NULL, total DECIMAL(12,2) NOT NULL,
                         FOREIGN KEY (customer_id) REFERENCES customer (id));";

#[tokio::test(flavor = "multi_thread")]
async fn one_row_deleted_from_two_million_reads_a_bounded_number_of_keys() {
    let test = "one_row_deleted_from_two_million_reads_a_bounded_number_of_keys";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let files = [("001_tables.sql", ORDERS_TABLES)];
    let nights = Nights::new("ranges", &dolt, ORDERS_SOURCE, &files).await;
    let (_, first) = nights.night(&[]);

    // A tiny night: one order deleted, five updated, a few added.
    nights
        .case
        .source_sql(
            "DELETE FROM orders WHERE id = 1234568;
             UPDATE orders SET state = 'shipped' WHERE id IN (10, 20, 30, 40, 50);
             INSERT INTO orders VALUES (4000002, 7, 'new', 1.50);
             INSERT INTO customer VALUES (1001, 'customer 1001');
             INSERT INTO orders VALUES (4000004, 1001, 'new', 2), (4000006, 1001, 'paid', 3);",
        )
        .await;
    let (report, second) = nights.night(&[]);
    let orders = table(&report, "orders");
    assert_eq!(orders["method"], "delta", "{report}");
    assert_eq!(orders["rows_deleted"], 1, "{report}");
    assert_changes_as_dolt_counts(&nights, &report, (&first, &second)).await;
    let keys_read = orders["keys_read"].as_u64().unwrap();
    assert!(
        keys_read > 0 && keys_read <= 4 * ROWS_PER_RANGE,
        "one deleted row out of 2,000,000 read {keys_read} keys"
    );
    assert_eq!(table(&report, "customer")["keys_read"], 0, "{report}");

    // Deletes a count cannot see (a row gone and a new key added in the
    // same range), at both ends of the key, and a run over many ranges; a
    // customer deleted with its orders (the foreign key); several jobs.
    nights
        .case
        .source_sql(
            "DELETE FROM orders WHERE id = 600;
             INSERT INTO orders VALUES (601, 3, 'paid', 9.99);
             DELETE FROM orders WHERE id IN (2, 4000000);
             DELETE FROM orders WHERE id BETWEEN 3000000 AND 3010000;
             DELETE FROM orders WHERE customer_id = 1001;
             DELETE FROM customer WHERE id = 1001;
             UPDATE orders SET total = total + 1 WHERE id % 100000 = 0;",
        )
        .await;
    let gone: u64 = 1 + 2 + 5001 + 2;
    let (report, third) = nights.night(&["--jobs", "3"]);
    assert_changes_as_dolt_counts(&nights, &report, (&second, &third)).await;
    let orders = table(&report, "orders");
    assert_eq!(orders["method"], "delta", "{report}");
    assert_eq!(orders["rows_deleted"], gone, "{report}");
    // about 15 ranges lost rows: their keys on both sides
    let keys_read = orders["keys_read"].as_u64().unwrap();
    assert!(
        keys_read <= 50 * 2 * ROWS_PER_RANGE,
        "{gone} deleted rows in a few ranges read {keys_read} keys"
    );
    assert_eq!(table(&report, "customer")["rows_deleted"], 1, "{report}");

    // Nothing changed: nothing read, no commit.
    let (report, _) = nights.night(&[]);
    assert_eq!(report["refresh"]["outcome"], "unchanged", "{report}");
    assert_eq!(table(&report, "orders")["keys_read"], 0, "{report}");
    // Every row equal (`verify` compares them all; the typed comparison
    // would hold 2,000,000 rows in memory), and the rows named above.
    let verified = nights.with("verify").run();
    verified.assert_success();
    assert_eq!(verified.report()["verify"]["equal"], true);
    let mut main = mysql_connect(&nights.target()).await;
    let ids: Vec<u64> = main
        .query("SELECT id FROM orders WHERE id IN (2, 600, 601, 1234568, 3000000, 4000000, 4000002, 4000004) ORDER BY id")
        .await
        .unwrap();
    assert_eq!(ids, [601, 4_000_002]);
}

/// The report's changes are what Dolt's own `dolt_diff_stat` counts
/// between the two nights' commits (a delta that read Dolt's diff reports
/// its counts instead of diffing the table again).
async fn assert_changes_as_dolt_counts(
    nights: &Nights,
    report: &serde_json::Value,
    (from, to): (&str, &str),
) {
    let reported: Changes = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|change| {
            change["rows_added"].as_u64().unwrap()
                + change["rows_deleted"].as_u64().unwrap()
                + change["rows_modified"].as_u64().unwrap()
                > 0
        })
        .map(|change| {
            (
                change["table"].as_str().unwrap().to_string(),
                change["rows_added"].as_u64().unwrap(),
                change["rows_deleted"].as_u64().unwrap(),
                change["rows_modified"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(reported, nights.diff(from, to).await, "{report}");
}

const REGIONS_SOURCE: &str = "
    CREATE TABLE region (id smallint PRIMARY KEY, name text NOT NULL);
    CREATE TABLE account (region smallint NOT NULL REFERENCES region (id), id int NOT NULL,
                          balance bigint NOT NULL, PRIMARY KEY (region, id));
    INSERT INTO region SELECT n, 'region ' || n FROM generate_series(-3, 3) n;
    INSERT INTO account SELECT r, n, r * n FROM generate_series(-3, 3) r, generate_series(1, 20000) n;";

const REGIONS_TABLES: &str = "
    CREATE TABLE region (id SMALLINT PRIMARY KEY, name VARCHAR(50) NOT NULL);
    CREATE TABLE account (region SMALLINT NOT NULL, id INT NOT NULL, balance BIGINT NOT NULL,
                          PRIMARY KEY (region, id), FOREIGN KEY (region) REFERENCES region (id));";

/// A key of two integer columns whose first one holds a few values
/// (negative ones too): its ranges are the first column's values, and
/// deletes with inserts beside them stay exact night after night.
#[tokio::test(flavor = "multi_thread")]
async fn deletes_under_a_composite_key_stay_exact_night_after_night() {
    let test = "deletes_under_a_composite_key_stay_exact_night_after_night";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let files = [("001_tables.sql", REGIONS_TABLES)];
    let nights = Nights::new("ranges_composite", &dolt, REGIONS_SOURCE, &files).await;
    nights.night(&[]);
    let changes = [
        // one row gone, one added beside it: the region's count is equal
        "DELETE FROM account WHERE region = -2 AND id = 500;
         INSERT INTO account VALUES (-2, 20001, 0);",
        // rows gone in three regions, one region emptied and deleted
        "DELETE FROM account WHERE id % 1000 = 7 AND region IN (-3, 0, 3);
         DELETE FROM account WHERE region = 1; DELETE FROM region WHERE id = 1;
         UPDATE account SET balance = balance + 1 WHERE id = 42;",
        // a new region, rows moved to it (deleted and added)
        "INSERT INTO region VALUES (9, 'region 9');
         UPDATE account SET region = 9 WHERE region = 2 AND id <= 100;",
    ];
    let expected = [1_u64, 3 * 20 + 20000, 100];
    for (change, deleted) in changes.into_iter().zip(expected) {
        nights.case.source_sql(change).await;
        let (report, _) = nights.night(&["--jobs", "2"]);
        let account = table(&report, "account");
        assert_eq!(account["method"], "delta", "{report}");
        assert_eq!(account["rows_deleted"], deleted, "{change}: {report}");
        nights.assert_exact(&report).await;
    }
}
