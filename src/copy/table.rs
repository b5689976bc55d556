//! One table's copy, prepared once for all its ranges: the COPY statement's
//! columns, the converters, the load columns, the key that names a row in
//! an error, and the route its rows take.

use super::{Destination, source_reference};
use crate::column_types::SourceExpression;
use crate::convert::row::RowConverter;
use crate::mysql::load::{LoadColumn, LoadMethod, Route};
use crate::plan::TablePlan;
use crate::postgres::ranges::RowRange;
use crate::postgres::statement::copy_statement;

/// One table's copy, prepared once for all its ranges.
pub(super) struct TableStream {
    /// the table as COPY reads it
    reference: String,
    /// the columns read, with their select expressions
    columns: Vec<(String, SourceExpression)>,
    /// converts COPY text rows into LOAD DATA text rows
    converter: RowConverter,
    /// the same, refusing a text value that reads `NULL` (Dolt's LOAD DATA)
    strict: RowConverter,
    /// the target columns loaded
    pub(super) load_columns: Vec<LoadColumn>,
    /// the primary key's columns, to name a row in an error
    pub(super) key_columns: Vec<(usize, String)>,
    /// how the table is loaded (`None`: archive only)
    pub(super) route: Option<Route>,
    /// the route's LOAD DATA must not see a text value reading `NULL`
    text_null_is_null: bool,
    /// only the rows matching this are read (and upserted)
    filter: Option<String>,
}

impl TableStream {
    pub(super) fn prepare(
        plan: &TablePlan,
        destination: &Destination,
        filter: Option<&str>,
    ) -> TableStream {
        let converters: Vec<_> = plan
            .columns
            .iter()
            .map(|column| column.converter.clone())
            .collect();
        let masks = plan
            .columns
            .iter()
            .map(|column| column.mask.clone())
            .collect();
        let converter = RowConverter::new(converters).masking(masks);
        let (route, text_null_is_null) = match destination {
            Destination::Database(load) => {
                let has_binary = plan
                    .columns
                    .iter()
                    .any(|column| column.converter.is_binary());
                let route = if filter.is_some() {
                    load.route.with(LoadMethod::Upsert)
                } else if has_binary && load.binary_tables_by_insert() {
                    load.route.with(LoadMethod::Insert)
                } else {
                    load.route
                };
                (Some(route), load.text_null_is_null())
            }
            Destination::ArchiveOnly => (None, false),
        };
        TableStream {
            reference: source_reference(plan),
            columns: plan
                .columns
                .iter()
                .map(|column| (column.source.clone(), column.expression))
                .collect(),
            strict: converter.clone().refusing_text_null(),
            converter,
            load_columns: plan
                .columns
                .iter()
                .map(|column| LoadColumn {
                    name: column.target.clone(),
                    binary: column.converter.is_binary(),
                })
                .collect(),
            key_columns: plan.key_columns(),
            route,
            text_null_is_null,
            filter: filter.map(str::to_string),
        }
    }

    /// The converter for a load by `route`.
    pub(super) fn converter_for(&self, route: Option<Route>) -> &RowConverter {
        match route {
            Some(route) if self.text_null_is_null && route.method == LoadMethod::LoadData => {
                &self.strict
            }
            _ => &self.converter,
        }
    }

    /// The COPY statement for the rows of `range` (all rows: `None`).
    pub(super) fn statement(&self, range: Option<&RowRange>) -> (String, Option<String>) {
        let columns: Vec<(&str, SourceExpression)> = self
            .columns
            .iter()
            .map(|(name, expression)| (name.as_str(), *expression))
            .collect();
        let condition = match (range.map(RowRange::condition), &self.filter) {
            (Some(range), Some(filter)) => Some(format!("{range} AND {filter}")),
            (range, filter) => range.or_else(|| filter.clone()),
        };
        (
            copy_statement(&self.reference, &columns, condition.as_deref()),
            condition,
        )
    }
}
