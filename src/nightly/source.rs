//! What the source says about its tables for a delta night, read inside
//! the night's snapshot: each table's oid and a fingerprint of everything
//! that can change its rows' values without writing a row version (columns
//! added with a default, dropped or retyped columns, an enum's labels, a
//! composite type's attributes, the partitions of a partitioned table),
//! and its exact row count.

use std::collections::HashMap;

use anyhow::Context as _;
use tokio_postgres::Client;

use crate::postgres::sql::table_reference;

/// A source table's identity in this snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceIdentity {
    /// `pg_class.oid`
    pub oid: u32,
    /// md5 of the definition (see the module comment)
    pub fingerprint: String,
}

/// The definition of a column's type that decides its values' text: an
/// enum's labels in order (also of an array's element or a domain's base),
/// a composite's attributes, a domain's base type.
// language=PostgreSQL
const TYPE_DETAIL: &str = "(SELECT concat_ws('/', \
      (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e \
        WHERE e.enumtypid IN (ty.oid, ty.typelem, ty.typbasetype)), \
      (SELECT string_agg(ca.attname || ':' || format_type(ca.atttypid, ca.atttypmod), ',' ORDER BY ca.attnum) \
        FROM pg_attribute ca WHERE ca.attnum > 0 AND NOT ca.attisdropped AND ca.attrelid IN \
          (ty.typrelid, (SELECT el.typrelid FROM pg_type el WHERE el.oid = ty.typelem))), \
      format_type(ty.typbasetype, ty.typtypmod)) \
    FROM pg_type ty WHERE ty.oid = a.atttypid)";

/// Reads the identity of `tables` (schema, name) inside the snapshot the
/// coordinator holds. Needs PostgreSQL 11 (`atthasmissing`); older servers
/// give nothing, and every table is reloaded in full.
pub async fn identities(
    coordinator: &Client,
    server_version_num: i32,
    tables: &[(String, String)],
) -> anyhow::Result<HashMap<(String, String), SourceIdentity>> {
    if server_version_num < 110_000 || tables.is_empty() {
        return Ok(HashMap::new());
    }
    let schemas: Vec<&str> = tables.iter().map(|(schema, _)| schema.as_str()).collect();
    let names: Vec<&str> = tables.iter().map(|(_, name)| name.as_str()).collect();
    // language=PostgreSQL
    let query = format!(
        "SELECT t.schema_name, t.table_name, c.oid::bigint, md5(concat( \
           (SELECT string_agg(concat_ws('|', a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), \
               a.attisdropped, a.atthasmissing, a.attmissingval::text, a.attgenerated, {TYPE_DETAIL}), \
               ';' ORDER BY a.attnum) \
             FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0), \
           '#', (SELECT string_agg(i.inhrelid::text, ',' ORDER BY i.inhrelid) \
             FROM pg_inherits i WHERE i.inhparent = c.oid))) \
         FROM unnest($1::text[], $2::text[]) AS t(schema_name, table_name) \
         JOIN pg_namespace n ON n.nspname = t.schema_name \
         JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name"
    );
    let rows = coordinator
        .query(&query, &[&schemas, &names])
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .context("reading the source tables' definitions")?;
    let mut found = HashMap::new();
    for row in rows {
        let schema: String = row.get(0);
        let name: String = row.get(1);
        let oid: i64 = row.get(2);
        let fingerprint: String = row.get(3);
        found.insert(
            (schema, name),
            SourceIdentity {
                oid: u32::try_from(oid).unwrap_or(0),
                fingerprint,
            },
        );
    }
    Ok(found)
}

/// The exact row count of a table in the snapshot (`partitioned`: all its
/// partitions' rows).
pub async fn count_rows(
    client: &Client,
    schema: &str,
    name: &str,
    partitioned: bool,
) -> anyhow::Result<u64> {
    // language=PostgreSQL
    let statement = format!(
        "SELECT count(*) FROM {}",
        table_reference(schema, name, partitioned)
    );
    let rows = scanning(client, &statement)
        .await
        .with_context(|| format!("counting the rows of {schema}.{name}"))?;
    let count: i64 = rows.first().map_or(0, |row| row.get(0));
    Ok(u64::try_from(count).unwrap_or(0))
}

/// `statement` (a whole-table aggregate) run on sequential scans, inside
/// the caller's transaction. The planner prefers an index-only scan of the
/// primary key for a count, which visits the heap for every row on pages
/// not marked all-visible: after a day of updates most of them, so on
/// pgbench scale 100 a count took 1.27 s that way and 0.31 s scanning the
/// table (a `GROUP BY` of the key 2.1 s and 1.1 s). A night's delta scans
/// the table anyway.
pub async fn scanning(
    client: &Client,
    statement: &str,
) -> anyhow::Result<Vec<tokio_postgres::Row>> {
    const PATHS: [&str; 3] = [
        "enable_indexonlyscan",
        "enable_indexscan",
        "enable_bitmapscan",
    ];
    let off: Vec<String> = PATHS
        .iter()
        .map(|path| format!("SET LOCAL {path} = off"))
        .collect();
    client
        .batch_execute(&off.join("; "))
        .await
        .map_err(|error| crate::postgres::pg_error(&error))?;
    let rows = client
        .query(statement, &[])
        .await
        .map_err(|error| crate::postgres::pg_error(&error));
    let reset: Vec<String> = PATHS.iter().map(|path| format!("RESET {path}")).collect();
    let reset = client
        .batch_execute(&reset.join("; "))
        .await
        .map_err(|error| crate::postgres::pg_error(&error));
    // The statement's own error first: after it the reset fails too.
    let rows = rows?;
    reset?;
    Ok(rows)
}

/// The row versions a night must look at: those written by a transaction
/// not older than `since_xmin` (the last published snapshot's `xmin`, a
/// 64-bit id). `age()` compares both ids against the same latest
/// transaction, modulo 2³², so it stays right after a wraparound (a cast
/// `xmin::text::xid8` would put every row of a later epoch below the
/// bound and miss it); special ids (frozen, bootstrap) are `INT_MAX` old
/// and never selected. Valid while the distance stays under 2³¹, which
/// the caller checks. Transactions in progress at that snapshot got ids
/// at or above its `xmin`, so they are caught the next night.
#[must_use]
pub fn changed_since(since_xmin: u64) -> String {
    let xid = since_xmin % (1_u64 << 32);
    format!("age(xmin) <= age('{xid}'::xid)")
}

#[cfg(test)]
mod tests {
    use super::changed_since;

    #[test]
    fn the_filter_takes_the_transaction_id_modulo_two_to_the_32() {
        assert_eq!(changed_since(750), "age(xmin) <= age('750'::xid)");
        assert_eq!(
            changed_since((3_u64 << 32) + 12),
            "age(xmin) <= age('12'::xid)"
        );
    }
}
