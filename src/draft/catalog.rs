//! What the draft reads beyond the copy's catalog: each column's base type,
//! type modifier, nullability, default, identity and comment; indexes,
//! CHECK and foreign-key constraints, table comments; and, on the snapshot,
//! the longest value of every column whose type declares no length.

use std::collections::HashMap;

use anyhow::Context as _;
use tokio_postgres::Client;

use crate::column_types::PgKind;
use crate::postgres::catalog::SourceTable;
use crate::postgres::sql::{quote_identifier, table_reference};

/// Column facts the copy's catalog does not keep.
#[derive(Debug, Clone, Default)]
pub struct ColumnDetails {
    /// the base type's name (`varchar`, `citext`, `inet`, …)
    pub base_type: String,
    /// type modifier (-1 without one)
    pub typmod: i32,
    /// NOT NULL
    pub not_null: bool,
    /// the default expression, as Postgres prints it
    pub default: Option<String>,
    /// GENERATED … AS IDENTITY
    pub identity: bool,
    /// GENERATED ALWAYS AS (…) STORED: the expression
    pub generated: Option<String>,
    /// COMMENT ON COLUMN
    pub comment: Option<String>,
    /// the column's type is a domain
    pub domain: bool,
}

/// One index.
#[derive(Debug, Clone)]
pub struct Index {
    /// index name
    pub name: String,
    /// UNIQUE
    pub unique: bool,
    /// the primary key's index
    pub primary: bool,
    /// plain columns, in order (empty for expression indexes)
    pub columns: Vec<String>,
    /// a btree on plain columns without a predicate: MySQL can have it
    pub translatable: bool,
    /// `CREATE INDEX …` as Postgres prints it
    pub definition: String,
}

/// One foreign key.
#[derive(Debug, Clone)]
pub struct ForeignKey {
    /// constraint name
    pub name: String,
    /// columns of this table
    pub columns: Vec<String>,
    /// the referenced table's `schema.table`
    pub referenced: String,
    /// the referenced columns
    pub referenced_columns: Vec<String>,
    /// ON UPDATE action code (`a` no action, `r`, `c`, `n`, `d`)
    pub on_update: char,
    /// ON DELETE action code
    pub on_delete: char,
}

/// Everything the draft knows of a table beyond the copy's catalog.
#[derive(Debug, Clone, Default)]
pub struct TableDetails {
    /// per column name
    pub columns: HashMap<String, ColumnDetails>,
    /// indexes, the primary key's included
    pub indexes: Vec<Index>,
    /// CHECK constraints: (name, definition)
    pub checks: Vec<(String, String)>,
    /// foreign keys
    pub foreign_keys: Vec<ForeignKey>,
    /// COMMENT ON TABLE
    pub comment: Option<String>,
    /// PARTITION BY …, for a partitioned parent
    pub partition_key: Option<String>,
}

/// Reads the details of every table, keyed by `schema.table`.
pub async fn read_details(
    client: &Client,
    tables: &[SourceTable],
) -> anyhow::Result<HashMap<String, TableDetails>> {
    let names: Vec<String> = tables
        .iter()
        .map(|table| {
            format!(
                "{}.{}",
                quote_identifier(&table.schema),
                quote_identifier(&table.name)
            )
        })
        .collect();
    let mut details: HashMap<String, TableDetails> = tables
        .iter()
        .map(|table| (table.qualified_name(), TableDetails::default()))
        .collect();
    read_columns(client, &names, &mut details).await?;
    read_indexes(client, &names, &mut details).await?;
    read_constraints(client, &names, &mut details).await?;
    Ok(details)
}

async fn read_columns(
    client: &Client,
    names: &[String],
    details: &mut HashMap<String, TableDetails>,
) -> anyhow::Result<()> {
    // language=PostgreSQL
    let rows = client
        .query(
            "SELECT n.nspname || '.' || c.relname, a.attname::text, \
                    COALESCE(bt.typname, t.typname)::text, \
                    CASE WHEN a.atttypmod >= 0 THEN a.atttypmod ELSE t.typtypmod END, \
                    a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity <> '', \
                    a.attgenerated <> '', col_description(c.oid, a.attnum), \
                    obj_description(c.oid, 'pg_class'), \
                    CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END, \
                    t.typtype = 'd' \
             FROM pg_catalog.pg_attribute a \
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype \
             LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = ANY($1::text[]::regclass[]) AND a.attnum > 0 AND NOT a.attisdropped",
            &[&names],
        )
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .context("reading column details")?;
    for row in rows {
        let Some(table) = details.get_mut(&row.get::<_, String>(0)) else {
            continue;
        };
        let default: Option<String> = row.get(5);
        let generated: bool = row.get(7);
        table.comment = row.get(9);
        table.partition_key = row.get(10);
        table.columns.insert(
            row.get(1),
            ColumnDetails {
                base_type: row.get(2),
                typmod: row.get(3),
                not_null: row.get(4),
                default: if generated { None } else { default.clone() },
                identity: row.get(6),
                generated: if generated { default } else { None },
                comment: row.get(8),
                domain: row.get(11),
            },
        );
    }
    Ok(())
}

async fn read_indexes(
    client: &Client,
    names: &[String],
    details: &mut HashMap<String, TableDetails>,
) -> anyhow::Result<()> {
    // language=PostgreSQL
    let rows = client
        .query(
            "SELECT n.nspname || '.' || c.relname, ci.relname::text, i.indisunique, i.indisprimary, \
                    am.amname = 'btree' AND i.indexprs IS NULL AND i.indpred IS NULL, \
                    ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) \
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                          ORDER BY k.ord), \
                    pg_get_indexdef(i.indexrelid) \
             FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid \
             JOIN pg_catalog.pg_am am ON am.oid = ci.relam \
             WHERE i.indrelid = ANY($1::text[]::regclass[]) \
             ORDER BY ci.relname",
            &[&names],
        )
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .context("reading indexes")?;
    for row in rows {
        if let Some(table) = details.get_mut(&row.get::<_, String>(0)) {
            table.indexes.push(Index {
                name: row.get(1),
                unique: row.get(2),
                primary: row.get(3),
                translatable: row.get(4),
                columns: row.get(5),
                definition: row.get(6),
            });
        }
    }
    Ok(())
}

async fn read_constraints(
    client: &Client,
    names: &[String],
    details: &mut HashMap<String, TableDetails>,
) -> anyhow::Result<()> {
    // language=PostgreSQL
    let rows = client
        .query(
            "SELECT n.nspname || '.' || c.relname, co.conname::text, co.contype::text, \
                    pg_get_constraintdef(co.oid), \
                    ARRAY(SELECT a.attname::text FROM unnest(co.conkey) WITH ORDINALITY k(attnum, ord) \
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.attnum \
                          ORDER BY k.ord), \
                    rn.nspname || '.' || rc.relname, \
                    ARRAY(SELECT a.attname::text FROM unnest(co.confkey) WITH ORDINALITY k(attnum, ord) \
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.attnum \
                          ORDER BY k.ord), \
                    co.confupdtype::text, co.confdeltype::text \
             FROM pg_catalog.pg_constraint co \
             JOIN pg_catalog.pg_class c ON c.oid = co.conrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_catalog.pg_class rc ON rc.oid = co.confrelid \
             LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace \
             WHERE co.conrelid = ANY($1::text[]::regclass[]) AND co.contype IN ('c', 'f') \
               AND co.conparentid = 0 \
             ORDER BY co.conname",
            &[&names],
        )
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .context("reading constraints")?;
    for row in rows {
        let Some(table) = details.get_mut(&row.get::<_, String>(0)) else {
            continue;
        };
        let kind: String = row.get(2);
        let action = |index: usize| row.get::<_, String>(index).chars().next().unwrap_or('a');
        if kind == "c" {
            table.checks.push((row.get(1), row.get(3)));
        } else {
            table.foreign_keys.push(ForeignKey {
                name: row.get(1),
                columns: row.get(4),
                referenced: row.get::<_, Option<String>>(5).unwrap_or_default(),
                referenced_columns: row.get(6),
                on_update: action(7),
                on_delete: action(8),
            });
        }
    }
    Ok(())
}

/// Longest values (characters, bytes) of the columns whose type declares
/// no length, per column name, measured on the snapshot in one scan.
pub async fn measure(
    client: &Client,
    table: &SourceTable,
    wanted: &[&str],
) -> anyhow::Result<HashMap<String, (Option<u64>, Option<u64>)>> {
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let kinds: HashMap<&str, &PgKind> = table
        .columns
        .iter()
        .map(|column| (column.name.as_str(), &column.kind))
        .collect();
    let expressions: Vec<String> = wanted
        .iter()
        .map(|name| {
            let column = quote_identifier(name);
            // bytea's length is its bytes; other types' is their text form's.
            if kinds.get(name) == Some(&&PgKind::Bytea) {
                format!("max(octet_length({column}))::int8, max(octet_length({column}))::int8")
            } else {
                // concat() prints with the output function (char(n) padded)
                // but turns NULL into '': NULLs stay out of the measure.
                let text = format!("CASE WHEN {column} IS NOT NULL THEN concat({column}) END");
                format!("max(char_length({text}))::int8, max(octet_length({text}))::int8")
            }
        })
        .collect();
    // language=PostgreSQL
    let statement = format!(
        "SELECT {} FROM {}",
        expressions.join(", "),
        table_reference(&table.schema, &table.name, table.partitioned)
    );
    let row = client
        .query_one(&statement, &[])
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .with_context(|| format!("measuring {}", table.qualified_name()))?;
    let value = |index: usize| {
        row.get::<_, Option<i64>>(index)
            .and_then(|value| u64::try_from(value).ok())
    };
    Ok(wanted
        .iter()
        .enumerate()
        .map(|(index, name)| {
            (
                (*name).to_string(),
                (value(index * 2), value(index * 2 + 1)),
            )
        })
        .collect())
}
