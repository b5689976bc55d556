//! Builds the `COPY (SELECT …) TO STDOUT` statement for a table: Postgres
//! does the conversions it does exactly (arrays and composites to JSON,
//! money to numeric), the rest is left to convert/.

use super::sql::quote_identifier;
use crate::column_types::SourceExpression;

/// The COPY statement that streams `columns` (name and select expression,
/// in this order) of a table in text format, optionally only the rows
/// matching `condition` (a range of a split table).
#[must_use]
pub fn copy_statement(
    table_reference: &str,
    columns: &[(&str, SourceExpression)],
    condition: Option<&str>,
) -> String {
    let select_list: Vec<String> = columns
        .iter()
        .map(|(name, expression)| expression.apply(&quote_identifier(name)))
        .collect();
    let filter = condition.map_or_else(String::new, |condition| format!(" WHERE {condition}"));
    // language=PostgreSQL
    format!(
        "COPY (SELECT {} FROM {table_reference}{filter}) TO STDOUT",
        select_list.join(", "),
    )
}

/// [`copy_statement`] in the order of `order` (source columns): how both
/// sides of a comparison read one table in the same order.
#[must_use]
pub fn ordered_copy_statement(
    table_reference: &str,
    columns: &[(&str, SourceExpression)],
    condition: Option<&str>,
    order: &[&str],
) -> String {
    let order: Vec<String> = order.iter().map(|name| quote_identifier(name)).collect();
    copy_statement(table_reference, columns, condition).replace(
        ") TO STDOUT",
        &format!(" ORDER BY {}) TO STDOUT", order.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::sql::table_reference;

    #[test]
    fn postgres_converts_arrays_composites_and_money() {
        let statement = copy_statement(
            &table_reference("public", "t\"x", false),
            &[
                ("id", SourceExpression::Column),
                ("tags", SourceExpression::ArrayToJson),
                ("address", SourceExpression::ToJsonb),
                ("price", SourceExpression::Numeric),
            ],
            None,
        );
        assert_eq!(
            statement,
            "COPY (SELECT \"id\", array_to_json(\"tags\"), to_jsonb(\"address\"), \"price\"::numeric \
             FROM ONLY \"public\".\"t\"\"x\") TO STDOUT"
        );
        assert_eq!(
            copy_statement("t", &[("id", SourceExpression::Column)], Some("\"id\" < 5")),
            "COPY (SELECT \"id\" FROM t WHERE \"id\" < 5) TO STDOUT"
        );
        assert_eq!(
            ordered_copy_statement(
                "t",
                &[("id", SourceExpression::Column)],
                Some("\"id\" < 5"),
                &["id"]
            ),
            "COPY (SELECT \"id\" FROM t WHERE \"id\" < 5 ORDER BY \"id\") TO STDOUT"
        );
        assert_eq!(
            table_reference("s", "measurements", true),
            "\"s\".\"measurements\""
        );
    }
}
