//! The schema files a refresh applied, recorded in the database itself
//! (table [`TABLE`]: file name, SHA-256, the snapshot of the night that
//! applied it), versioned with the data: a rollback rolls the record back
//! with the tables it describes. Schema files are ordered migrations: a
//! later night applies only the files added since, and refuses a file that
//! changed after it was applied (exit 3, naming it).

use crate::clock::SnapshotTime;
use std::collections::BTreeMap;

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use crate::digest::sha256_hex;
use crate::error::{FailureKind, failure};
use crate::mysql::schema::ParsedSchemaFile;
use crate::mysql::sql::{quote_identifier, quote_literal};

/// The record's table; the catalog reader leaves it out (it is pg2dolt's,
/// not the schema files').
pub const TABLE: &str = "pg2dolt_schema_files";

/// The recorded files (name → SHA-256) in `database` (a `db/branch`
/// revision database works), or `None` when nothing was recorded there (a
/// database made by `copy`).
pub async fn applied(
    conn: &mut Conn,
    database: &str,
) -> anyhow::Result<Option<BTreeMap<String, String>>> {
    let rows =
        super::read_record::<(String, String)>(conn, database, TABLE, "file, sha256").await?;
    Ok(rows.map(|rows| rows.into_iter().collect()))
}

/// The files still to apply, in order: those not in `applied`. A recorded
/// file that changed or is gone is refused (exit 3): applied migrations are
/// never edited. `None` (nothing recorded): nothing is applied, every file
/// is recorded, and the catalog check after it proves the database already
/// has their schema.
pub fn pending<'a>(
    files: &'a [ParsedSchemaFile],
    applied: Option<&BTreeMap<String, String>>,
) -> anyhow::Result<Vec<&'a ParsedSchemaFile>> {
    let Some(applied) = applied else {
        return Ok(Vec::new());
    };
    for (name, sha256) in applied {
        match files.iter().find(|file| &file.name == name) {
            None => {
                return Err(failure(
                    FailureKind::Plan,
                    format!(
                        "schema file {name} was applied by an earlier refresh and is missing now; applied schema files are never removed (add a new file that undoes it)"
                    ),
                ));
            }
            Some(file) if &sha256_hex(file.sql.as_bytes()) != sha256 => {
                return Err(failure(
                    FailureKind::Plan,
                    format!(
                        "schema file {name} changed after an earlier refresh applied it (SHA-256 {}, recorded {sha256}); applied schema files are never edited: put the change in a new file",
                        sha256_hex(file.sql.as_bytes())
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(files
        .iter()
        .filter(|file| !applied.contains_key(&file.name))
        .collect())
}

/// Records `files` as applied as of `snapshot` (the table made when
/// missing), on the connected database.
pub async fn record(
    conn: &mut Conn,
    files: &[&ParsedSchemaFile],
    snapshot: &SnapshotTime,
) -> anyhow::Result<()> {
    let table = quote_identifier(TABLE);
    // language=MySQL
    conn.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {table} (\
           file VARCHAR(255) NOT NULL PRIMARY KEY, \
           sha256 CHAR(64) NOT NULL, \
           applied_at_snapshot VARCHAR(40) NOT NULL\
         )"
    ))
    .await
    .context("creating the record of applied schema files")?;
    for file in files {
        // language=MySQL
        conn.query_drop(format!(
            "INSERT INTO {table} (file, sha256, applied_at_snapshot) VALUES ({}, {}, {})",
            quote_literal(&file.name),
            quote_literal(&sha256_hex(file.sql.as_bytes())),
            quote_literal(&snapshot.to_string())
        ))
        .await
        .with_context(|| format!("recording schema file {} as applied", file.name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, sql: &str) -> ParsedSchemaFile {
        ParsedSchemaFile {
            name: name.to_string(),
            sql: sql.to_string(),
            statements: Vec::new(),
        }
    }

    #[test]
    fn only_new_files_are_pending_and_edited_or_removed_ones_are_refused() {
        let files = [file("001_a.sql", "A"), file("002_b.sql", "B")];
        let applied: BTreeMap<String, String> =
            [("001_a.sql".to_string(), sha256_hex(b"A"))].into();
        let names = |pending: Vec<&ParsedSchemaFile>| -> Vec<String> {
            pending.iter().map(|file| file.name.clone()).collect()
        };
        assert_eq!(
            names(pending(&files, Some(&applied)).unwrap()),
            ["002_b.sql"]
        );
        assert!(pending(&files, None).unwrap().is_empty());

        let edited = [file("001_a.sql", "A2"), file("002_b.sql", "B")];
        let error = pending(&edited, Some(&applied)).unwrap_err();
        assert_eq!(crate::error::exit_code(&error), 3);
        assert!(error.to_string().contains("001_a.sql changed"), "{error}");

        let removed = [file("002_b.sql", "B")];
        let error = pending(&removed, Some(&applied)).unwrap_err();
        assert!(error.to_string().contains("001_a.sql"), "{error}");
    }
}
