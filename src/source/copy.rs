//! Builds the `COPY (SELECT …) TO STDOUT` statement for a table: Postgres
//! does the conversions it does exactly (arrays to JSON), the rest is left to
//! convert/.

use crate::types::PgKind;

/// Quotes a Postgres identifier.
#[must_use]
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The COPY statement that streams `columns` (name and kind, in this order)
/// of `schema.table` in text format.
#[must_use]
pub fn copy_statement(schema: &str, table: &str, columns: &[(&str, &PgKind)]) -> String {
    let select_list: Vec<String> = columns
        .iter()
        .map(|(name, kind)| {
            let column = quote_identifier(name);
            match kind {
                PgKind::Array => format!("array_to_json({column})"),
                _ => column,
            }
        })
        .collect();
    // language=PostgreSQL
    format!(
        "COPY (SELECT {} FROM {}.{}) TO STDOUT",
        select_list.join(", "),
        quote_identifier(schema),
        quote_identifier(table)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_go_through_array_to_json() {
        let statement = copy_statement(
            "public",
            "t\"x",
            &[("id", &PgKind::Integer), ("tags", &PgKind::Array)],
        );
        assert_eq!(
            statement,
            "COPY (SELECT \"id\", array_to_json(\"tags\") FROM \"public\".\"t\"\"x\") TO STDOUT"
        );
    }
}
