//! Catalog tables for the plan's unit tests: a source table whose first
//! column is its key, and a target table with the given columns.

use crate::column_types::{MySqlType, PgKind};
use crate::mysql::catalog::{TargetColumn, TargetTable};
use crate::postgres::catalog::{SourceColumn, SourceTable};

/// A source table in `public`; the first column is the primary key.
pub(crate) fn source(name: &str, columns: &[(&str, PgKind)]) -> SourceTable {
    SourceTable {
        schema: "public".into(),
        name: name.into(),
        columns: columns
            .iter()
            .map(|(name, kind)| SourceColumn {
                name: (*name).into(),
                type_name: "t".into(),
                kind: kind.clone(),
                max_chars: None,
                domain_base: None,
            })
            .collect(),
        primary_key: vec![columns[0].0.into()],
        unique_keys: vec![vec![columns[0].0.into()]],
        partitioned: false,
        estimated_rows: 0,
        estimated_bytes: 0,
    }
}

/// A target table with `(name, type, generated)` columns and no keys.
pub(crate) fn target(name: &str, columns: &[(&str, &str, bool)]) -> TargetTable {
    TargetTable {
        name: name.into(),
        columns: columns
            .iter()
            .map(|(name, column_type, generated)| TargetColumn {
                name: (*name).into(),
                column_type: (*column_type).into(),
                kind: MySqlType::parse(column_type),
                generated: *generated,
                auto_increment: false,
                charset: None,
                collation: None,
                nullable: true,
                on_dolt: false,
            })
            .collect(),
        primary_key: Vec::new(),
        unique_keys: Vec::new(),
        references: Vec::new(),
        foreign_keys: Vec::new(),
    }
}
