//! Quoting for the SQL pg2dolt writes to the source: identifiers, and a
//! table as COPY and the checks read it.

/// Quotes a Postgres identifier.
#[must_use]
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.table` quoted, with `ONLY` for a table that is not partitioned:
/// rows of inheritance children belong to the children, which are copied
/// as tables of their own. A partitioned parent reads all its partitions.
#[must_use]
pub fn table_reference(schema: &str, table: &str, partitioned: bool) -> String {
    let only = if partitioned { "" } else { "ONLY " };
    format!(
        "{only}{}.{}",
        quote_identifier(schema),
        quote_identifier(table)
    )
}
