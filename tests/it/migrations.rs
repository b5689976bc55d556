//! Issue 26 item 2: a night that applies schema files reloads only the
//! tables they changed (Dolt's table hash, after the files, against the
//! one the last night recorded); every other table stays a delta. One
//! night per kind of migration: a column added with a default on both
//! sides, a type changed, an index added, an `UPDATE` in a schema file.

use crate::nights::{Nights, table};
use crate::support::*;

const SOURCE: &str = "
    CREATE TABLE genre (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE author (id bigint PRIMARY KEY, name text NOT NULL);
    CREATE TABLE book (id bigint PRIMARY KEY, author_id bigint NOT NULL REFERENCES author (id),
                       genre_id int REFERENCES genre (id), title text NOT NULL, pages int);
    INSERT INTO genre VALUES (1, 'fiction'), (2, 'poetry'), (3, 'essays');
    INSERT INTO author SELECT n, 'author ' || n FROM generate_series(1, 200) n;
    INSERT INTO book SELECT n, 1 + n % 200, 1 + n % 3, 'book ' || n, n FROM generate_series(1, 20000) n;";

const TABLES: &str = "
    CREATE TABLE genre (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL);
    CREATE TABLE author (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL);
    CREATE TABLE book (id BIGINT PRIMARY KEY, author_id BIGINT NOT NULL, genre_id INT,
                       title VARCHAR(200) NOT NULL, pages INT,
                       FOREIGN KEY (author_id) REFERENCES author (id),
                       FOREIGN KEY (genre_id) REFERENCES genre (id));";

/// A night with the schema file `name` added (and `source` run on the
/// source first): `changed` in full, every other table by delta, exact.
async fn migration_night(nights: &Nights, (name, file): (&str, &str), source: &str, changed: &str) {
    if !source.is_empty() {
        nights.case.source_sql(source).await;
    }
    // A row changed in every table, so each one's delta has work to do.
    nights
        .case
        .source_sql(
            "UPDATE genre SET name = name || '.' WHERE id = 3;
             UPDATE author SET name = name || '.' WHERE id = 5;
             UPDATE book SET pages = pages + 1 WHERE id = 7;",
        )
        .await;
    std::fs::write(nights.schema.join(name), file).unwrap();
    let (report, _) = nights.night(&[]);
    assert_eq!(
        report["refresh"]["schema_files_applied"],
        serde_json::json!([name]),
        "{report}"
    );
    for target in ["genre", "author", "book"] {
        let method = &table(&report, target)["method"];
        let expected = if target == changed { "full" } else { "delta" };
        assert_eq!(method, expected, "{name}: {target}: {report}");
    }
    nights.assert_exact(&report).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_night_reloads_only_the_table_it_changes() {
    let test = "a_migration_night_reloads_only_the_table_it_changes";
    let Some(dolt) = dolt_url(test) else {
        return;
    };
    let nights = Nights::new("migrate", &dolt, SOURCE, &[("001_tables.sql", TABLES)]).await;
    nights.night(&[]);
    migration_night(
        &nights,
        (
            "002_shelf.sql",
            "ALTER TABLE genre ADD COLUMN shelf INT DEFAULT 1;",
        ),
        "ALTER TABLE genre ADD COLUMN shelf int DEFAULT 1",
        "genre",
    )
    .await;
    migration_night(
        &nights,
        (
            "003_longer_names.sql",
            "ALTER TABLE author MODIFY name VARCHAR(300) NOT NULL;",
        ),
        "",
        "author",
    )
    .await;
    migration_night(
        &nights,
        ("004_index.sql", "CREATE INDEX book_pages ON book (pages);"),
        "",
        "book",
    )
    .await;
    migration_night(
        &nights,
        (
            "005_rename.sql",
            "UPDATE genre SET name = 'rewritten' WHERE id = 1;",
        ),
        "",
        "genre",
    )
    .await;
    let (after, _) = nights.night(&[]);
    for target in ["genre", "author", "book"] {
        assert_eq!(table(&after, target)["method"], "delta", "{after}");
    }
}
