//! Issue 15: deterministic masking with refresh on a real Dolt sql-server —
//! nights that stay byte-identical, no source value of a masked column in
//! the target, masked emails that still join and stay unique, a rule that
//! could merge key values refused by the plan, and a new column of a
//! masked table that stops the night.

use std::collections::BTreeSet;
use std::path::PathBuf;

use mysql_async::prelude::Queryable as _;
use serde_json::Value as Json;

use crate::support::*;

const SOURCE: &str = "
    CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL,
                            phone text, born date, note text);
    INSERT INTO customers
      SELECT n, 'person' || n || '@mail.example', 'Person Number ' || n, '+47 ' || (40000000 + n),
             date '1980-01-01' + n, 'likes ' || n
      FROM generate_series(1, 200) n;
    CREATE TABLE orders (id int PRIMARY KEY, customer_email text NOT NULL REFERENCES customers (email),
                         total numeric(10,2) NOT NULL);
    INSERT INTO orders SELECT n, 'person' || (1 + n % 200) || '@mail.example', n * 1.25
      FROM generate_series(1, 600) n;";

const TABLES: &str = "
    CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL UNIQUE, name VARCHAR(100) NOT NULL,
                            phone VARCHAR(30), born DATE, note TEXT);
    CREATE TABLE orders (id INT PRIMARY KEY, customer_email VARCHAR(100) NOT NULL, total DECIMAL(10,2) NOT NULL,
                         FOREIGN KEY (customer_email) REFERENCES customers (email));";

const RULES: &str = "
    # staging: no personal data
    customers.email = email
    customers.name = full_name
    customers.phone = phone
    customers.born = date_shift(30)
    customers.note = text
    public.orders.customer_email = email
";

/// One masked database: source, Dolt server, schema, rules and key files.
struct Masked {
    case: Case,
    dolt: String,
    schema: PathBuf,
    rules: PathBuf,
    key: PathBuf,
}

impl Masked {
    async fn new(prefix: &str, dolt: &str, rules: &str) -> Masked {
        let case = Case::new(prefix, SOURCE).await;
        let schema = case.schema_dir(&[("001_tables.sql", TABLES)]);
        let rules_path = std::env::temp_dir().join(format!("{}-rules.txt", case.name));
        std::fs::write(&rules_path, rules).unwrap();
        let key = std::env::temp_dir().join(format!("{}-key", case.name));
        std::fs::write(&key, "a secret of thirty-two bytes....\n").unwrap();
        Masked {
            case,
            dolt: dolt.to_string(),
            schema,
            rules: rules_path,
            key,
        }
    }

    fn with_rules(&self, command: &str) -> Pg2dolt {
        Pg2dolt::new(command)
            .source(&self.case.source)
            .target(&self.dolt)
            .database(&self.case.name)
            .schema_dir(&self.schema)
            .flag("--mask-rules", &self.rules)
            .flag("--mask-key-file", &self.key)
            .report(&self.case.report_path())
    }

    fn target(&self) -> String {
        with_database(&self.dolt, &self.case.name)
    }

    async fn head(&self) -> String {
        dolt_hash_of(&self.target(), "main").await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn masked_nights_are_stable_hide_every_source_value_and_still_join() {
    let Some(dolt) = dolt_url("masked_nights_are_stable_hide_every_source_value_and_still_join")
    else {
        return;
    };
    let masked = Masked::new("masked", &dolt, RULES).await;
    let first = masked.with_rules("refresh").run();
    first.assert_success();
    let report = first.report();
    let sha256 = report["mask_rules_sha256"].as_str().unwrap().to_string();
    assert_eq!(sha256.len(), 64);
    let night1 = masked.head().await;
    let mut conn = mysql_connect(&masked.target()).await;
    let message: Option<String> = conn
        .query_first("SELECT message FROM dolt_log LIMIT 1")
        .await
        .unwrap();
    assert!(
        message.unwrap().contains(&sha256),
        "the rules' SHA-256 is in the commit"
    );

    no_source_value_of_a_masked_column_is_in_the_target(&masked).await;
    masked_emails_join_and_stay_unique(&masked).await;

    // An unchanged source: no new commit, the same hash.
    let second = masked.with_rules("refresh").run();
    second.assert_success();
    assert_eq!(second.report()["refresh"]["outcome"], "unchanged");
    assert_eq!(masked.head().await, night1);

    // One changed row of a masked table: one modified row in the diff.
    masked
        .case
        .source_sql("UPDATE customers SET name = 'Renamed Person' WHERE id = 17")
        .await;
    let third = masked.with_rules("refresh").run();
    third.assert_success();
    let night3 = masked.head().await;
    let stats: Vec<(String, u64, u64, u64)> = conn
        .query(format!(
            "SELECT table_name, rows_added, rows_deleted, rows_modified FROM dolt_diff_stat('{night1}', '{night3}')"
        ))
        .await
        .unwrap();
    assert_eq!(stats, [("customers".to_string(), 0, 0, 1)]);
}

/// Every cell of every table of the target, as text.
async fn target_cells(url: &str) -> BTreeSet<String> {
    let mut conn = mysql_connect(url).await;
    let mut cells = BTreeSet::new();
    let tables: Vec<String> = conn.query("SHOW TABLES").await.unwrap();
    assert!(tables.len() >= 3, "{tables:?}");
    for table in tables {
        let rows: Vec<mysql_async::Row> = conn
            .query(format!("SELECT * FROM `{table}`"))
            .await
            .unwrap();
        for row in rows {
            for index in 0..row.len() {
                if let Some(mysql_async::Value::Bytes(bytes)) = row.as_ref(index) {
                    cells.insert(String::from_utf8_lossy(bytes).into_owned());
                }
            }
        }
    }
    cells
}

async fn no_source_value_of_a_masked_column_is_in_the_target(masked: &Masked) {
    let cells = target_cells(&masked.target()).await;
    let all = cells.iter().cloned().collect::<Vec<_>>().join("\u{1}");
    let source = pg_connect(&masked.case.source).await;
    let rows = source
        .query(
            "SELECT email, name, phone, note FROM customers
             UNION ALL SELECT customer_email, NULL, NULL, NULL FROM orders",
            &[],
        )
        .await
        .unwrap();
    let mut checked = 0;
    for row in rows {
        for index in 0..4 {
            let Some(value) = row.get::<_, Option<String>>(index) else {
                continue;
            };
            assert!(
                !cells.contains(&value) && !all.contains(&value),
                "the source value {value:?} is in the target"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 200 * 4 + 600);
    // Shifted dates stay dates of the same range (another row may hold the
    // one a row was shifted to), but none keeps its own.
    let mut conn = mysql_connect(&masked.target()).await;
    let shifted: Vec<(i32, String)> = conn
        .query("SELECT id, CAST(born AS CHAR) FROM customers ORDER BY id")
        .await
        .unwrap();
    let born = source
        .query("SELECT id, born::text FROM customers ORDER BY id", &[])
        .await
        .unwrap();
    for ((id, target), row) in shifted.iter().zip(&born) {
        assert_eq!(*id, row.get::<_, i32>(0));
        assert_ne!(
            target,
            &row.get::<_, String>(1),
            "customer {id} kept its date"
        );
    }
}

async fn masked_emails_join_and_stay_unique(masked: &Masked) {
    let mut conn = mysql_connect(&masked.target()).await;
    let joined: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM orders o JOIN customers c ON c.email = o.customer_email")
        .await
        .unwrap();
    assert_eq!(joined, Some(600), "every order joins its customer");
    let source = pg_connect(&masked.case.source).await;
    let pairs = source
        .query("SELECT o.id, c.id FROM orders o JOIN customers c ON c.email = o.customer_email ORDER BY 1", &[])
        .await
        .unwrap();
    let target_pairs: Vec<(i32, i32)> = conn
        .query("SELECT o.id, c.id FROM orders o JOIN customers c ON c.email = o.customer_email ORDER BY 1")
        .await
        .unwrap();
    let source_pairs: Vec<(i32, i32)> = pairs.iter().map(|row| (row.get(0), row.get(1))).collect();
    assert_eq!(target_pairs, source_pairs, "row for row");
    let distinct: Option<i64> = conn
        .query_first("SELECT COUNT(DISTINCT email) FROM customers")
        .await
        .unwrap();
    assert_eq!(distinct, Some(200));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_that_could_merge_key_values_is_refused_by_the_plan() {
    let Some(dolt) = dolt_url("a_rule_that_could_merge_key_values_is_refused_by_the_plan") else {
        return;
    };
    let masked = Masked::new(
        "mask_refused",
        &dolt,
        "customers.email = first_name\norders.customer_email = first_name\n",
    )
    .await;
    let plan = masked.with_rules("plan").flag("--format", "json").run();
    assert_eq!(plan.code, 3, "{}", plan.stderr);
    let report: Json = serde_json::from_str(&plan.stdout).unwrap();
    let problems = report["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|problem| problem["kind"] == "masking"
            && problem["column"] == "email → email"
            && problem["detail"]
                .as_str()
                .unwrap()
                .contains("unique-key column")),
        "{report}"
    );
    // No source value in the problems.
    assert!(!plan.stdout.contains("@mail.example"), "{}", plan.stdout);
    let copy = masked.with_rules("copy").run();
    copy.assert_one_line_error(3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_column_of_a_masked_table_stops_the_night() {
    let Some(dolt) = dolt_url("a_new_column_of_a_masked_table_stops_the_night") else {
        return;
    };
    let masked = Masked::new("mask_new_column", &dolt, RULES).await;
    masked.with_rules("refresh").run().assert_success();
    let published = masked.head().await;

    masked
        .case
        .source_sql("ALTER TABLE customers ADD COLUMN passport text; UPDATE customers SET passport = 'P' || id")
        .await;
    std::fs::write(
        masked.schema.join("002_passport.sql"),
        "ALTER TABLE customers ADD COLUMN passport VARCHAR(20);",
    )
    .unwrap();
    let stopped = masked.with_rules("refresh").run();
    let error = stopped.assert_one_line_error(3);
    assert!(
        error.contains("public.customers.passport is new"),
        "{error}"
    );
    assert_eq!(masked.head().await, published, "nothing published");

    let nulled = masked
        .with_rules("refresh")
        .flag("--mask-new-columns", "null")
        .run();
    nulled.assert_success();
    let mut conn = mysql_connect(&masked.target()).await;
    let passports: Option<i64> = conn
        .query_first("SELECT COUNT(passport) FROM customers")
        .await
        .unwrap();
    assert_eq!(passports, Some(0), "loaded as NULL");
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_masks_the_same_way_on_mariadb_and_through_foreign_keys() {
    let servers = servers();
    // No rule for orders.customer_email: it references customers.email and
    // takes its mask, so it still joins and no email stays in clear.
    let rules = RULES.replace("public.orders.customer_email = email", "");
    let masked = Masked::new("mask_mariadb", &servers.mysql_url, &rules).await;
    let first = masked.with_rules("copy").run();
    first.assert_success();
    let report = first.report();
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains(
            "public.orders.customer_email references customers.email: masked with email too"
        ),
        "{warnings}"
    );
    let planned = report["planned"].as_array().unwrap();
    let customers = planned
        .iter()
        .find(|table| table["target"] == "customers")
        .unwrap();
    let email = customers["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|column| column["source"] == "email")
        .unwrap();
    assert_eq!(email["mask"], "email", "{report}");
    no_source_value_of_a_masked_column_is_in_the_target(&masked).await;
    masked_emails_join_and_stay_unique(&masked).await;
    let before = fingerprint(&servers.mysql_url, &masked.case.name).await;
    // Another run, the same key: byte-identical values.
    masked
        .with_rules("copy")
        .args(["--replace"])
        .run()
        .assert_success();
    assert_eq!(
        fingerprint(&servers.mysql_url, &masked.case.name).await,
        before
    );
}

const PEOPLE: &str = "
    CREATE TABLE people (id int PRIMARY KEY, email text NOT NULL, name text NOT NULL, note text);
    INSERT INTO people SELECT n, 'p' || n || '@mail.example', 'Person ' || n, 'note ' || n
        FROM generate_series(1, 300) n;
    CREATE TABLE visits (id int PRIMARY KEY, person_id int NOT NULL REFERENCES people, day date NOT NULL);
    INSERT INTO visits SELECT n, 1 + n % 300, date '2026-01-01' + n % 90 FROM generate_series(1, 900) n;";

const PEOPLE_TABLES: &str = "
    CREATE TABLE people (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, name VARCHAR(100) NOT NULL, note TEXT);
    CREATE TABLE visits (id INT PRIMARY KEY, person_id INT NOT NULL, day DATE NOT NULL,
                         FOREIGN KEY (person_id) REFERENCES people (id));";

/// Issue 20: a delta night of a masked table writes the bytes a full night
/// writes (a `--full` night after it changes nothing; verify with the same
/// rules finds every row equal); changed rules reload the masked table in
/// full, the others stay deltas.
#[tokio::test(flavor = "multi_thread")]
async fn a_masked_delta_night_writes_what_a_full_night_writes() {
    let Some(dolt) = dolt_url("a_masked_delta_night_writes_what_a_full_night_writes") else {
        return;
    };
    let mut masked = Masked::new(
        "masked_delta",
        &dolt,
        "people.email = email\npeople.name = full_name\n",
    )
    .await;
    masked
        .case
        .source_sql(&format!(
            "DROP TABLE orders; DROP TABLE customers; {PEOPLE}"
        ))
        .await;
    masked.schema = masked.case.schema_dir(&[("001_tables.sql", PEOPLE_TABLES)]);
    masked.with_rules("refresh").run().assert_success();
    masked
        .case
        .source_sql(
            "UPDATE people SET email = 'new' || id || '@mail.example', name = 'Renamed' WHERE id <= 5;
             INSERT INTO people VALUES (301, 'p301@mail.example', 'Newcomer', NULL);
             DELETE FROM visits WHERE id <= 3;",
        )
        .await;
    let delta = masked.with_rules("refresh").run();
    delta.assert_success();
    let report = delta.report();
    let people = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|table| table["target"] == "people")
        .unwrap();
    assert_eq!(people["method"], "delta", "{report}");
    assert!(people["rows_upserted"].as_u64().unwrap() >= 6, "{report}");
    let night = masked.head().await;

    let full = masked.with_rules("refresh").args(["--full"]).run();
    full.assert_success();
    assert_eq!(
        full.report()["refresh"]["outcome"],
        "unchanged",
        "the same bytes"
    );
    assert_eq!(masked.head().await, night);
    let verified = masked.with_rules("verify").run();
    verified.assert_success();
    assert_eq!(verified.report()["verify"]["equal"], true);

    std::fs::write(
        &masked.rules,
        "people.email = email\npeople.name = full_name\npeople.note = text\n",
    )
    .unwrap();
    masked
        .case
        .source_sql("UPDATE visits SET day = day + 1 WHERE id = 10")
        .await;
    let changed = masked.with_rules("refresh").run();
    changed.assert_success();
    let report = changed.report();
    let method = |target: &str| {
        let table = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|table| table["target"] == target)
            .unwrap();
        (table["method"].clone(), table["reason"].clone())
    };
    assert_eq!(method("people").0, "full", "{report}");
    assert_eq!(method("people").1, "its conversion or masking changed");
    assert_eq!(method("visits").0, "delta");
}

impl Masked {
    /// `command` with no masking flags (a CronJob whose secret went missing).
    fn without_rules(&self, command: &str) -> Pg2dolt {
        Pg2dolt::new(command)
            .source(&self.case.source)
            .target(&self.dolt)
            .database(&self.case.name)
            .schema_dir(&self.schema)
            .report(&self.case.report_path())
    }

    /// The tags of the database.
    async fn tags(&self) -> Vec<String> {
        mysql_connect(&self.target())
            .await
            .query("SELECT tag_name FROM dolt_tags ORDER BY tag_name")
            .await
            .unwrap()
    }
}

/// Issue 27 item 1: a masked database is never loaded in clear by
/// accident: a night without the rules, or with the rules but without
/// the key, stops before any load (exit 3) and changes nothing; `--unmask`
/// turns masking off on purpose, and its commit says so.
#[tokio::test(flavor = "multi_thread")]
async fn a_masked_database_is_not_loaded_in_clear_without_unmask() {
    let Some(dolt) = dolt_url("a_masked_database_is_not_loaded_in_clear_without_unmask") else {
        return;
    };
    let masked = Masked::new("unmasked", &dolt, RULES).await;
    masked.with_rules("refresh").run().assert_success();
    masked
        .case
        .source_sql("UPDATE customers SET name = 'Renamed Person' WHERE id = 17")
        .await;
    let (head, tags) = (masked.head().await, masked.tags().await);
    let refused = masked.without_rules("refresh").run();
    let line = refused.assert_one_line_error(3);
    assert!(
        line.contains("masked") && line.contains("customers") && line.contains("--unmask"),
        "{line}"
    );
    assert!(
        refused.stderr.contains("nothing was done"),
        "{}",
        refused.stderr
    );
    let key_missing = masked
        .without_rules("refresh")
        .flag("--mask-rules", &masked.rules)
        .run();
    let line = key_missing.assert_one_line_error(3);
    assert!(line.contains("--mask-key-file"), "{line}");
    let verify = masked.without_rules("verify").run();
    let line = verify.assert_one_line_error(3);
    assert!(line.contains("is masked"), "{line}");
    assert_eq!(masked.head().await, head, "main moved");
    assert_eq!(masked.tags().await, tags, "a tag changed");
    // On purpose: published, in clear, and said in the commit.
    let unmasked = masked.without_rules("refresh").args(["--unmask"]).run();
    unmasked.assert_success();
    let mut conn = mysql_connect(&masked.target()).await;
    let message: Option<String> = conn
        .query_first("SELECT message FROM dolt_log LIMIT 1")
        .await
        .unwrap();
    assert!(message.unwrap().contains("--unmask"), "the commit says so");
    let email: Option<String> = conn
        .query_first("SELECT email FROM customers WHERE id = 17")
        .await
        .unwrap();
    assert_eq!(email.as_deref(), Some("person17@mail.example"));
    // Off for good: the next night needs neither.
    let next = masked.without_rules("refresh").run();
    next.assert_success();
    assert_eq!(next.report()["refresh"]["outcome"], "unchanged");
}

/// Issue 27 item 2: `copy --replace` never drops a refreshed database's
/// history unless told to.
#[tokio::test(flavor = "multi_thread")]
async fn copy_replace_keeps_history_unless_discard_history() {
    let Some(dolt) = dolt_url("copy_replace_keeps_history_unless_discard_history") else {
        return;
    };
    let masked = Masked::new("replacehistory", &dolt, RULES).await;
    masked.with_rules("refresh").run().assert_success();
    let (head, tags) = (masked.head().await, masked.tags().await);
    assert_eq!(tags.len(), 1);
    let refused = masked.with_rules("copy").args(["--replace"]).run();
    let line = refused.assert_one_line_error(3);
    assert!(
        line.contains("--discard-history") && line.contains("night"),
        "{line}"
    );
    assert_eq!(masked.head().await, head, "main moved");
    assert_eq!(masked.tags().await, tags, "a tag changed");
    let replaced = masked
        .with_rules("copy")
        .args(["--replace", "--discard-history"])
        .run();
    replaced.assert_success();
    assert_eq!(masked.tags().await, Vec::<String>::new());
    // A database one copy made is replaced without the flag.
    masked
        .with_rules("copy")
        .args(["--replace"])
        .run()
        .assert_success();
}
