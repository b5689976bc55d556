//! The plan: which source table and column goes into which target one,
//! with which converter, and every problem found on the way, collected so
//! the user sees them all at once, before any data moves.
//!
//! `matching.rs` pairs the names (an explicit mapping, `mappings.rs`; else
//! the same name; else the one name equal ignoring case and underscores,
//! `invoice_line_id` ↔ `InvoiceLineId`, when exactly one is) and picks the
//! converters; `problem.rs` is what it reports.

#[cfg(test)]
pub(crate) mod fixtures;
mod mappings;
pub mod masking;
mod matching;
mod problem;

pub use mappings::Mappings;
pub use matching::build_plan;
pub use problem::{Problem, ProblemKind};

use serde::Serialize;

use crate::column_types::{PgKind, SourceExpression};
use crate::convert::converter::Converter;
use crate::mysql::catalog::TargetTable;
use crate::postgres::catalog::SourceTable;

/// The matched tables, and every problem found on the way.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// tables whose names and columns matched (possibly with value
    /// problems still to find)
    pub tables: Vec<TablePlan>,
    /// everything that would make the copy fail
    pub problems: Vec<Problem>,
    /// things worth knowing that do not stop the copy
    pub warnings: Vec<String>,
    /// the masking rules' SHA-256, when columns are masked
    pub mask_rules_sha256: Option<String>,
}

/// Which rule matched a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MatchRule {
    /// the same name
    #[serde(rename = "exact")]
    Exact,
    /// equal ignoring case and underscores
    #[serde(rename = "ignoring-case-and-underscores")]
    IgnoringCaseAndUnderscores,
    /// an explicit mapping
    #[serde(rename = "mapping")]
    Mapping,
}

impl std::fmt::Display for MatchRule {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            MatchRule::Exact => "exact",
            MatchRule::IgnoringCaseAndUnderscores => "ignoring case and underscores",
            MatchRule::Mapping => "mapping",
        })
    }
}

/// How one column is copied.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnPlan {
    /// source column
    pub source: String,
    /// source type as Postgres names it
    pub source_type: String,
    /// the source base type's kind
    #[serde(skip)]
    pub source_kind: PgKind,
    /// what the COPY select list reads for this column
    #[serde(skip)]
    pub expression: SourceExpression,
    /// the most characters a source value has, when its type says
    #[serde(skip)]
    pub source_max_chars: Option<u32>,
    /// target column
    pub target: String,
    /// target column type as the server names it
    pub target_type: String,
    /// the rule that matched the names
    pub rule: MatchRule,
    /// the value converter
    #[serde(skip)]
    pub converter: Converter,
    /// the column's mask (`--mask-rules`): its generator, in the report
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask: Option<crate::mask::Mask>,
}

/// How one table is copied.
#[derive(Debug, Clone, Serialize)]
pub struct TablePlan {
    /// the source table
    #[serde(skip)]
    pub source: SourceTable,
    /// `schema.table`
    pub source_name: String,
    /// the target table as its catalog describes it
    #[serde(serialize_with = "target_name")]
    pub target: TargetTable,
    /// the rule that matched the names
    pub rule: MatchRule,
    /// columns in COPY order
    pub columns: Vec<ColumnPlan>,
    /// target generated columns, computed by the target
    pub skipped_generated: Vec<String>,
}

fn target_name<S: serde::Serializer>(
    target: &TargetTable,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&target.name)
}

impl TablePlan {
    /// `schema.table → target`, as logs, errors and progress name the pair.
    #[must_use]
    pub fn label(&self) -> String {
        format!("{} → {}", self.source_name, self.target.name)
    }

    /// The COPY statement reading the columns at `indexes` (all: every
    /// planned column) of the source table, in the order of its primary
    /// key, only the rows matching `condition` when given.
    #[must_use]
    pub fn copy_in_key_order(&self, indexes: Option<&[usize]>, condition: Option<&str>) -> String {
        let all: Vec<usize> = (0..self.columns.len()).collect();
        let columns: Vec<(&str, SourceExpression)> = indexes
            .unwrap_or(&all)
            .iter()
            .map(|&index| {
                (
                    self.columns[index].source.as_str(),
                    self.columns[index].expression,
                )
            })
            .collect();
        let order: Vec<&str> = self.source.primary_key.iter().map(String::as_str).collect();
        let reference = crate::postgres::sql::table_reference(
            &self.source.schema,
            &self.source.name,
            self.source.partitioned,
        );
        crate::postgres::statement::ordered_copy_statement(&reference, &columns, condition, &order)
    }

    /// The target has a unique key besides its primary key.
    #[must_use]
    pub fn other_unique_key(&self) -> bool {
        self.target
            .unique_keys
            .iter()
            .any(|key| *key != self.target.primary_key)
    }

    /// The source's primary key is made of integer columns only, none of
    /// them masked: both sides order it alike, numerically, and its text
    /// is the same on both.
    #[must_use]
    pub fn integer_key(&self) -> bool {
        let key = self.key_columns();
        !key.is_empty()
            && key.len() == self.source.primary_key.len()
            && key.iter().all(|(index, _)| {
                let column = &self.columns[*index];
                column.mask.is_none()
                    && matches!(
                        column.source_kind,
                        PgKind::SmallInt | PgKind::Integer | PgKind::BigInt
                    )
            })
    }

    /// Indexes (in COPY order) and names of the source primary key, for
    /// naming a failing row.
    #[must_use]
    pub fn key_columns(&self) -> Vec<(usize, String)> {
        self.source
            .primary_key
            .iter()
            .filter_map(|key| {
                self.columns
                    .iter()
                    .position(|column| &column.source == key)
                    .map(|index| (index, key.clone()))
            })
            .collect()
    }
}
