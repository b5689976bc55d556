//! Reads the target catalog after the schema files ran: base tables, their
//! columns in order (type, charset and collation, generated or not,
//! AUTO_INCREMENT or not), primary and unique keys, foreign keys.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use serde::Serialize;

use crate::column_types::MySqlType;
use crate::mysql::sql::quote_identifier;

/// One target table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetTable {
    /// table name
    pub name: String,
    /// columns in ordinal order
    pub columns: Vec<TargetColumn>,
    /// primary key columns in key order
    pub primary_key: Vec<String>,
    /// column lists of every unique key, the primary key included
    pub unique_keys: Vec<Vec<String>>,
    /// tables this table's foreign keys reference
    pub references: Vec<String>,
    /// each column of this table's foreign keys, with the table and column
    /// it references
    pub foreign_keys: Vec<ForeignKeyColumn>,
}

/// One column of a foreign key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignKeyColumn {
    /// the column of this table
    pub column: String,
    /// the table it references
    pub referenced_table: String,
    /// the column it references
    pub referenced_column: String,
}

/// One target column.
#[expect(
    clippy::struct_excessive_bools,
    reason = "each is a separate fact the catalog reports about the column"
)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetColumn {
    /// column name
    pub name: String,
    /// `COLUMN_TYPE` as the server prints it
    pub column_type: String,
    /// the parsed type
    #[serde(skip)]
    pub kind: MySqlType,
    /// a generated column: the target computes it, nothing is loaded into it
    pub generated: bool,
    /// an AUTO_INCREMENT column: its counter must continue after the copy
    pub auto_increment: bool,
    /// character set of a text column
    pub charset: Option<String>,
    /// collation of a text column (decides which values collide in a key)
    pub collation: Option<String>,
    /// the column takes NULL
    pub nullable: bool,
    /// the column is on Dolt, which stores some values differently (JSON
    /// numbers as doubles, the year 0 read from text as 2000)
    #[serde(skip)]
    pub on_dolt: bool,
}

impl TargetColumn {
    /// Compares text ignoring case (see [`ignores_case`]).
    #[must_use]
    pub fn ignores_case(&self) -> bool {
        self.collation.as_deref().is_some_and(ignores_case)
    }

    /// Compares text ignoring trailing spaces (see [`pads_spaces`]; only
    /// CHAR/VARCHAR/TEXT columns have a collation).
    #[must_use]
    pub fn pads_spaces(&self) -> bool {
        self.collation.as_deref().is_some_and(pads_spaces)
    }
}

/// A `_ci` collation ignores case (MySQL 8's `_ai_ci` accents too).
#[must_use]
pub fn ignores_case(collation: &str) -> bool {
    collation.contains("_ci")
}

/// PAD SPACE: every collation but the `nopad`, 0900 and 1400 ones ignores
/// trailing spaces when comparing.
#[must_use]
pub fn pads_spaces(collation: &str) -> bool {
    !collation.contains("nopad") && !collation.contains("0900") && !collation.contains("1400")
}

/// Reads the base tables of `database`. Dolt answers a query on
/// information_schema with "no root value found in session", "could not
/// resolve initial root for database …" or "root hash doesn't exist: …"
/// while another session creates or drops a database (seen on Dolt 1.86.4 with copies running side by
/// side): such a read is tried again, a few times.
pub async fn read_catalog(conn: &mut Conn, database: &str) -> anyhow::Result<Vec<TargetTable>> {
    let mut attempt = 1;
    loop {
        match read_catalog_once(conn, database).await {
            Err(error) if attempt < 5 && is_dolt_root_race(&error) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            read => return read,
        }
    }
}

/// Dolt's transient errors while another session creates or drops a
/// database.
pub(crate) fn is_dolt_root_race(error: &anyhow::Error) -> bool {
    let text = format!("{error:#}");
    [
        "no root value found",
        "could not resolve initial root",
        "root hash doesn't exist",
    ]
    .iter()
    .any(|message| text.contains(message))
}

async fn read_catalog_once(conn: &mut Conn, database: &str) -> anyhow::Result<Vec<TargetTable>> {
    let mut by_name = read_tables(conn, database).await?;
    let dolt = conn
        .query_first::<String, _>("SELECT dolt_version()")
        .await
        .ok()
        .flatten()
        .is_some();
    read_columns(conn, database, dolt, &mut by_name).await?;
    if dolt {
        mark_generated_from_ddl(conn, database, &mut by_name).await?;
    }
    read_unique_keys(conn, database, &mut by_name).await?;
    read_keys(conn, database, &mut by_name).await?;
    Ok(by_name.into_values().collect())
}

/// The database's base tables, by name, still without columns and keys
/// (pg2dolt's records of applied schema files and of the masking baseline
/// left out).
async fn read_tables(
    conn: &mut Conn,
    database: &str,
) -> anyhow::Result<BTreeMap<String, TargetTable>> {
    // language=MySQL
    let tables: Vec<String> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
            (database,),
        )
        .await
        .context("reading target tables")?;
    Ok(tables
        .into_iter()
        .filter(|name| {
            name != super::records::schema_files::TABLE
                && name != super::records::mask_baseline::TABLE
                && name != crate::nightly::progress::TABLE
        })
        .map(|name| {
            let table = TargetTable {
                name: name.clone(),
                columns: Vec::new(),
                primary_key: Vec::new(),
                unique_keys: Vec::new(),
                references: Vec::new(),
                foreign_keys: Vec::new(),
            };
            (name, table)
        })
        .collect())
}

/// Every table's columns, in ordinal order (MariaDB's JSON columns, which
/// it reports as longtext, known by their check constraint).
async fn read_columns(
    conn: &mut Conn,
    database: &str,
    dolt: bool,
    by_name: &mut BTreeMap<String, TargetTable>,
) -> anyhow::Result<()> {
    let json_columns = if dolt {
        BTreeSet::new()
    } else {
        mariadb_json_columns(conn, database).await
    };
    // language=MySQL
    let columns: Vec<ColumnRow> = conn
        .exec(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, EXTRA, CHARACTER_SET_NAME, COLLATION_NAME, IS_NULLABLE \
             FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION",
            (database,),
        )
        .await
        .context("reading target columns")?;
    for (table, name, column_type, extra, charset, collation, nullable) in columns {
        let extra = extra.unwrap_or_default().to_ascii_uppercase();
        // MySQL says VIRTUAL/STORED GENERATED, MariaDB also PERSISTENT;
        // DEFAULT_GENERATED (an expression default) is not a generated column.
        let generated = ["VIRTUAL", "STORED", "PERSISTENT"]
            .iter()
            .any(|word| extra.contains(word));
        let kind = if json_columns.contains(&(table.clone(), name.clone())) {
            MySqlType::Json
        } else {
            MySqlType::parse(&column_type)
        };
        if let Some(entry) = by_name.get_mut(&table) {
            entry.columns.push(TargetColumn {
                kind,
                name,
                column_type,
                generated,
                auto_increment: extra.contains("AUTO_INCREMENT"),
                charset,
                collation,
                nullable: nullable.eq_ignore_ascii_case("YES"),
                on_dolt: dolt,
            });
        }
    }
    Ok(())
}

/// Primary keys and the tables each table's foreign keys reference.
async fn read_keys(
    conn: &mut Conn,
    database: &str,
    by_name: &mut BTreeMap<String, TargetTable>,
) -> anyhow::Result<()> {
    // language=MySQL
    let keys: Vec<KeyRow> = conn
        .exec(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = ? AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL) \
             ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
            (database,),
        )
        .await
        .context("reading target keys")?;
    for (table, constraint, column, referenced, referenced_column) in keys {
        let Some(entry) = by_name.get_mut(&table) else {
            continue;
        };
        match referenced {
            Some(referenced) => {
                if !entry.references.contains(&referenced) {
                    entry.references.push(referenced.clone());
                }
                entry.foreign_keys.push(ForeignKeyColumn {
                    column,
                    referenced_table: referenced,
                    referenced_column: referenced_column.unwrap_or_default(),
                });
            }
            None if constraint == "PRIMARY" => entry.primary_key.push(column),
            None => {}
        }
    }
    Ok(())
}

type KeyRow = (String, String, String, Option<String>, Option<String>);

type ColumnRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

/// Dolt leaves EXTRA and GENERATION_EXPRESSION empty for generated columns
/// (go-mysql-server, sql/information_schema/columns_table.go, fills
/// `generation_expression` with "" and EXTRA only from defaults), so on
/// Dolt they are read from SHOW CREATE TABLE. Elsewhere nothing is asked.
async fn mark_generated_from_ddl(
    conn: &mut Conn,
    database: &str,
    tables: &mut BTreeMap<String, TargetTable>,
) -> anyhow::Result<()> {
    let dolt: Option<String> = conn
        .query_first("SELECT dolt_version()")
        .await
        .ok()
        .flatten();
    if dolt.is_none() {
        return Ok(());
    }
    for (name, table) in tables.iter_mut() {
        // language=MySQL
        let created: Option<(String, String)> = conn
            .query_first(format!(
                "SHOW CREATE TABLE {}.{}",
                quote_identifier(database),
                quote_identifier(name)
            ))
            .await
            .with_context(|| format!("reading the definition of {name}"))?;
        let Some((_, ddl)) = created else { continue };
        for generated in generated_columns(&ddl) {
            if let Some(column) = table
                .columns
                .iter_mut()
                .find(|column| column.name == generated)
            {
                column.generated = true;
            }
        }
    }
    Ok(())
}

/// The columns a `SHOW CREATE TABLE` text defines as `GENERATED ALWAYS AS`.
fn generated_columns(ddl: &str) -> Vec<String> {
    ddl.lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix('`')?;
            let mut name = String::new();
            let mut characters = rest.chars().peekable();
            while let Some(character) = characters.next() {
                if character == '`' {
                    if characters.peek() == Some(&'`') {
                        characters.next();
                    } else {
                        break;
                    }
                }
                name.push(character);
            }
            let definition: String = characters.collect();
            definition
                .to_ascii_uppercase()
                .contains(" GENERATED ALWAYS AS ")
                .then_some(name)
        })
        .collect()
}

/// MariaDB's JSON is LONGTEXT with a `json_valid(col)` check; it must be
/// told apart from plain LONGTEXT. (MySQL and Dolt say `json`, and their
/// CHECK_CONSTRAINTS has no TABLE_NAME: the query fails there, harmlessly.)
async fn mariadb_json_columns(conn: &mut Conn, database: &str) -> BTreeSet<(String, String)> {
    // language=MySQL
    let checks: Vec<(String, String)> = conn
        .exec(
            "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = ? AND CHECK_CLAUSE LIKE 'json_valid(%'",
            (database,),
        )
        .await
        .unwrap_or_default();
    checks
        .into_iter()
        .filter_map(|(table, clause)| {
            let column = clause
                .strip_prefix("json_valid(`")?
                .strip_suffix("`)")?
                .replace("``", "`");
            Some((table, column))
        })
        .collect()
}

/// Fills in every table's unique keys (PRIMARY and UNIQUE indexes).
async fn read_unique_keys(
    conn: &mut Conn,
    database: &str,
    by_name: &mut BTreeMap<String, TargetTable>,
) -> anyhow::Result<()> {
    // language=MySQL
    let rows: Vec<(String, String, String)> = conn
        .exec(
            "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND NON_UNIQUE = 0 AND COLUMN_NAME IS NOT NULL \
             ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
            (database,),
        )
        .await
        .context("reading target unique keys")?;
    let mut keys: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (table, index, column) in rows {
        keys.entry((table, index)).or_default().push(column);
    }
    for ((table, _), columns) in keys {
        if let Some(entry) = by_name.get_mut(&table) {
            entry.unique_keys.push(columns);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_columns_are_read_from_dolt_ddl() {
        let ddl = "CREATE TABLE `u` (\n  `id` int NOT NULL,\n  `e``x` varchar(20),\n  \
                   `d` varchar(20) GENERATED ALWAYS AS (SUBSTRING_INDEX(`e``x`, '@', -1)) STORED,\n  \
                   `v` int GENERATED ALWAYS AS ((`id` + 1)),\n  PRIMARY KEY (`id`)\n)";
        assert_eq!(generated_columns(ddl), ["d", "v"]);
    }
}
