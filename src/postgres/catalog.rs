//! Reads the source catalog: tables (partitioned parents once, never their
//! partitions, unless asked for the partitions instead), columns in order
//! with their types (domains resolved to the base type, enums with their
//! labels, arrays, composites, ranges), primary and unique keys, and sizes.

use std::collections::HashMap;

use anyhow::Context as _;
use serde::Serialize;
use tokio_postgres::Client;

use crate::column_types::PgKind;

/// One source table.
#[derive(Debug, Clone, Serialize)]
pub struct SourceTable {
    /// schema name
    pub schema: String,
    /// table name
    pub name: String,
    /// columns in attribute order
    pub columns: Vec<SourceColumn>,
    /// primary key columns, in key order (empty without a primary key)
    pub primary_key: Vec<String>,
    /// column sets of plain unique indexes (no expressions, no predicate),
    /// the primary key included
    pub unique_keys: Vec<Vec<String>>,
    /// a partitioned parent: reading it reads all its partitions
    pub partitioned: bool,
    /// planner estimate of the row count (`reltuples`)
    pub estimated_rows: i64,
    /// on-disk size in bytes
    pub estimated_bytes: i64,
}

impl SourceTable {
    /// `schema.table`, for messages.
    #[must_use]
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// One source column.
#[derive(Debug, Clone, Serialize)]
pub struct SourceColumn {
    /// column name
    pub name: String,
    /// the type as Postgres prints it (`character varying(40)`, a domain's name, …)
    pub type_name: String,
    /// the base type's kind, which decides the conversion
    #[serde(skip)]
    pub kind: PgKind,
    /// varchar(n)/char(n): the most characters a value has (from the type
    /// modifier, a domain's included), so checks it implies can be skipped
    #[serde(skip)]
    pub max_chars: Option<u32>,
    /// a domain's base type as Postgres prints it (`integer`), through any
    /// chain of domains; `None` for a column that is not of a domain
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_base: Option<String>,
}

impl SourceColumn {
    /// The type for people: `year (domain over integer)` for a domain.
    #[must_use]
    pub fn display_type(&self) -> String {
        match &self.domain_base {
            Some(base) => format!("{} (domain over {base})", self.type_name),
            None => self.type_name.clone(),
        }
    }
}

/// Reads the tables of `schemas`: ordinary tables and partitioned parents
/// (whose rows are all their partitions' rows); with `partitions_as_tables`
/// the leaf partitions instead of their parents.
pub async fn read_catalog(
    client: &Client,
    schemas: &[String],
    partitions_as_tables: bool,
) -> anyhow::Result<Vec<SourceTable>> {
    let table_rows = read_tables(client, schemas, partitions_as_tables).await?;
    let table_oids: Vec<u32> = table_rows.iter().map(|row| row.get(0)).collect();
    // language=PostgreSQL
    let column_rows = client
        .query(
            "SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod), a.atttypid, \
                 CASE WHEN a.atttypmod >= 0 THEN a.atttypmod ELSE t.typtypmod END \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attrelid, a.attnum",
            &[&table_oids],
        )
        .await
        .context("reading source columns")?;
    let type_oids: Vec<u32> = column_rows.iter().map(|row| row.get(3)).collect();
    let kinds = resolve_types(client, &type_oids).await?;
    let mut columns = columns_by_table(&column_rows, &kinds);
    let (mut keys, mut unique_keys) = read_keys(client, &table_oids).await?;
    Ok(table_rows
        .iter()
        .map(|row| {
            let oid: u32 = row.get(0);
            SourceTable {
                schema: row.get(1),
                name: row.get(2),
                columns: columns.remove(&oid).unwrap_or_default(),
                primary_key: keys.remove(&oid).unwrap_or_default(),
                unique_keys: unique_keys.remove(&oid).unwrap_or_default(),
                partitioned: row.get(5),
                estimated_rows: row.get(3),
                estimated_bytes: row.get(4),
            }
        })
        .collect())
}

/// One row per table: oid, schema, name, estimated rows and bytes (a
/// partitioned table's summed over its leaves), partitioned.
async fn read_tables(
    client: &Client,
    schemas: &[String],
    partitions_as_tables: bool,
) -> anyhow::Result<Vec<tokio_postgres::Row>> {
    let which = if partitions_as_tables {
        "c.relkind = 'r'"
    } else {
        "c.relkind IN ('r', 'p') AND NOT c.relispartition"
    };
    // language=PostgreSQL
    let statement = format!(
        "SELECT c.oid, n.nspname::text, c.relname::text, \
             CASE WHEN c.relkind = 'p' THEN COALESCE((SELECT sum(GREATEST(pc.reltuples, 0))::int8 \
                  FROM pg_partition_tree(c.oid) p JOIN pg_catalog.pg_class pc ON pc.oid = p.relid WHERE p.isleaf), 0) \
                  ELSE GREATEST(c.reltuples, 0)::int8 END, \
             CASE WHEN c.relkind = 'p' THEN COALESCE((SELECT sum(pg_total_relation_size(p.relid))::int8 \
                  FROM pg_partition_tree(c.oid) p WHERE p.isleaf), 0) \
                  ELSE pg_total_relation_size(c.oid) END, \
             c.relkind = 'p' \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = ANY($1) AND {which} \
         ORDER BY n.nspname, c.relname"
    );
    client
        .query(&statement, &[&schemas])
        .await
        .context("reading source tables")
}

/// Primary keys and unique keys (column lists) of each table, by oid.
async fn read_keys(
    client: &Client,
    table_oids: &[u32],
) -> anyhow::Result<(KeysByTable, UniqueByTable)> {
    // Unique indexes of a partitioned parent live on the parent too.
    // language=PostgreSQL
    let key_rows = client
        .query(
            "SELECT i.indrelid, i.indexrelid, i.indisprimary, a.attname::text \
             FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indisunique AND i.indrelid = ANY($1) \
               AND i.indexprs IS NULL AND i.indpred IS NULL AND 0 <> ALL(i.indkey::int2[]) \
             ORDER BY i.indrelid, i.indexrelid, array_position(i.indkey::int2[], a.attnum)",
            &[&table_oids],
        )
        .await
        .context("reading source keys")?;
    let mut keys: KeysByTable = HashMap::new();
    let mut unique: HashMap<(u32, u32), Vec<String>> = HashMap::new();
    for row in &key_rows {
        if row.get::<_, bool>(2) {
            keys.entry(row.get(0)).or_default().push(row.get(3));
        }
        unique
            .entry((row.get(0), row.get(1)))
            .or_default()
            .push(row.get(3));
    }
    let mut unique_keys: UniqueByTable = HashMap::new();
    for ((table, _), columns) in unique {
        unique_keys.entry(table).or_default().push(columns);
    }
    Ok((keys, unique_keys))
}

/// A table's primary key columns, by oid.
type KeysByTable = HashMap<u32, Vec<String>>;
/// A table's unique keys (column lists), by oid.
type UniqueByTable = HashMap<u32, Vec<Vec<String>>>;

/// The columns of each table (by oid), in order, with their kinds.
fn columns_by_table(
    rows: &[tokio_postgres::Row],
    kinds: &HashMap<u32, (PgKind, Option<String>)>,
) -> HashMap<u32, Vec<SourceColumn>> {
    let mut columns: HashMap<u32, Vec<SourceColumn>> = HashMap::new();
    for row in rows {
        let type_oid: u32 = row.get(3);
        let (kind, domain_base) = kinds
            .get(&type_oid)
            .cloned()
            .unwrap_or((PgKind::Other, None));
        // varchar and bpchar keep n + 4 in their type modifier.
        let modifier: i32 = row.get(4);
        let max_chars = match kind {
            PgKind::Text | PgKind::Char if modifier >= 4 => u32::try_from(modifier - 4).ok(),
            _ => None,
        };
        columns.entry(row.get(0)).or_default().push(SourceColumn {
            name: row.get(1),
            type_name: row.get(2),
            kind,
            max_chars,
            domain_base,
        });
    }
    columns
}

/// Resolves type oids (through any chain of domains) to the base type's
/// kind, and for a domain the base type's name.
async fn resolve_types(
    client: &Client,
    type_oids: &[u32],
) -> anyhow::Result<HashMap<u32, (PgKind, Option<String>)>> {
    // language=PostgreSQL
    let rows = client
        .query(
            "WITH RECURSIVE chain(start, current, depth) AS ( \
                 SELECT t.oid, t.oid, 0 FROM pg_catalog.pg_type t WHERE t.oid = ANY($1) \
                 UNION ALL \
                 SELECT c.start, t.typbasetype, c.depth + 1 \
                 FROM chain c JOIN pg_catalog.pg_type t ON t.oid = c.current WHERE t.typtype = 'd') \
             SELECT DISTINCT ON (c.start) c.start, b.oid, b.typname::text, b.typtype::text, b.typcategory = 'A', \
                 CASE WHEN c.depth > 0 THEN pg_catalog.format_type(b.oid, NULL) END \
             FROM chain c JOIN pg_catalog.pg_type b ON b.oid = c.current \
             ORDER BY c.start, c.depth DESC",
            &[&type_oids],
        )
        .await
        .context("resolving source column types")?;
    let base_oids: Vec<u32> = rows.iter().map(|row| row.get(1)).collect();
    // language=PostgreSQL
    let label_rows = client
        .query(
            "SELECT enumtypid, enumlabel::text FROM pg_catalog.pg_enum \
             WHERE enumtypid = ANY($1) ORDER BY enumtypid, enumsortorder",
            &[&base_oids],
        )
        .await
        .context("reading enum labels")?;
    let mut labels: HashMap<u32, Vec<String>> = HashMap::new();
    for row in &label_rows {
        labels.entry(row.get(0)).or_default().push(row.get(1));
    }
    Ok(rows
        .iter()
        .map(|row| {
            let base: u32 = row.get(1);
            let type_name: String = row.get(2);
            let typtype: String = row.get(3);
            let kind = PgKind::classify(
                &type_name,
                typtype.bytes().next().unwrap_or(b'b'),
                row.get(4),
                labels.get(&base).map(Vec::as_slice),
            );
            (row.get(0), (kind, row.get(5)))
        })
        .collect())
}
