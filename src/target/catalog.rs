//! Reads the target catalog after the schema files ran: base tables, their
//! columns in order (type, generated or not), primary keys, foreign keys.

use std::collections::BTreeMap;

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use serde::Serialize;

use crate::types::MySqlType;

/// One target table.
#[derive(Debug, Clone, Serialize)]
pub struct TargetTable {
    /// table name
    pub name: String,
    /// columns in ordinal order
    pub columns: Vec<TargetColumn>,
    /// primary key columns in key order
    pub primary_key: Vec<String>,
    /// tables this table's foreign keys reference
    pub references: Vec<String>,
}

/// One target column.
#[derive(Debug, Clone, Serialize)]
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
}

/// Reads the base tables of `database`.
pub async fn read_catalog(conn: &mut Conn, database: &str) -> anyhow::Result<Vec<TargetTable>> {
    // language=MySQL
    let tables: Vec<String> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
            (database,),
        )
        .await
        .context("reading target tables")?;
    let mut by_name: BTreeMap<String, TargetTable> = tables
        .into_iter()
        .map(|name| {
            (
                name.clone(),
                TargetTable {
                    name,
                    columns: Vec::new(),
                    primary_key: Vec::new(),
                    references: Vec::new(),
                },
            )
        })
        .collect();

    // language=MySQL
    let columns: Vec<(String, String, String, Option<String>)> = conn
        .exec(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, EXTRA FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION",
            (database,),
        )
        .await
        .context("reading target columns")?;
    for (table, name, column_type, extra) in columns {
        let extra = extra.unwrap_or_default().to_ascii_uppercase();
        // MySQL says VIRTUAL/STORED GENERATED, MariaDB also PERSISTENT;
        // DEFAULT_GENERATED (an expression default) is not a generated column.
        let generated = ["VIRTUAL", "STORED", "PERSISTENT"]
            .iter()
            .any(|word| extra.contains(word));
        if let Some(entry) = by_name.get_mut(&table) {
            entry.columns.push(TargetColumn {
                kind: MySqlType::parse(&column_type),
                name,
                column_type,
                generated,
            });
        }
    }

    // language=MySQL
    let keys: Vec<(String, String, String, Option<String>)> = conn
        .exec(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = ? AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL) \
             ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
            (database,),
        )
        .await
        .context("reading target keys")?;
    for (table, constraint, column, referenced) in keys {
        let Some(entry) = by_name.get_mut(&table) else {
            continue;
        };
        match referenced {
            Some(referenced) if !entry.references.contains(&referenced) => {
                entry.references.push(referenced);
            }
            None if constraint == "PRIMARY" => entry.primary_key.push(column),
            _ => {}
        }
    }
    Ok(by_name.into_values().collect())
}
