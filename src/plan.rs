//! Matches source tables and columns to target ones and picks each column's
//! converter. Every mismatch is collected, so the user sees them all at
//! once, before any data moves.
//!
//! Matching, per table and per column: an explicit mapping; else the same
//! name; else the one name equal ignoring case and underscores
//! (`invoice_line_id` ↔ `InvoiceLineId`) when exactly one is.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::convert::value::Converter;
use crate::source::catalog::{SourceColumn, SourceTable};
use crate::target::catalog::{TargetColumn, TargetTable};
use crate::types::PgKind;

/// Explicit source → target names for what the rules cannot match.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    /// source table → target table
    pub tables: BTreeMap<String, String>,
    /// (source table, source column) → target column
    pub columns: BTreeMap<(String, String), String>,
}

impl Mappings {
    /// Parses `table=Target` and `table.column=Target` entries (from `--map`
    /// flags and mapping-file lines; blank lines and `#` comments skipped).
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Mappings, String> {
        let mut mappings = Mappings::default();
        for entry in entries {
            let entry = entry.trim();
            if entry.is_empty() || entry.starts_with('#') {
                continue;
            }
            let Some((source, target)) = entry.split_once('=') else {
                return Err(format!("mapping {entry:?} is not source=target"));
            };
            let (source, target) = (source.trim(), target.trim().to_string());
            if source.is_empty() || target.is_empty() {
                return Err(format!("mapping {entry:?} has an empty side"));
            }
            match source.split_once('.') {
                Some((table, column)) => mappings
                    .columns
                    .insert((table.to_string(), column.to_string()), target),
                None => mappings.tables.insert(source.to_string(), target),
            };
        }
        Ok(mappings)
    }
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
    /// the source base type's kind (decides the COPY select expression)
    #[serde(skip)]
    pub source_kind: PgKind,
    /// target column
    pub target: String,
    /// target column type as the server names it
    pub target_type: String,
    /// the rule that matched the names
    pub rule: MatchRule,
    /// the value converter
    #[serde(skip)]
    pub converter: Converter,
}

/// How one table is copied.
#[derive(Debug, Clone, Serialize)]
pub struct TablePlan {
    /// the source table
    #[serde(skip)]
    pub source: SourceTable,
    /// `schema.table`
    pub source_name: String,
    /// the target table's name
    pub target: String,
    /// the rule that matched the names
    pub rule: MatchRule,
    /// columns in COPY order
    pub columns: Vec<ColumnPlan>,
    /// target generated columns, computed by the target
    pub skipped_generated: Vec<String>,
}

impl TablePlan {
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

/// Builds the plan, or lists every mismatch.
pub fn build_plan(
    sources: &[SourceTable],
    targets: &[TargetTable],
    mappings: &Mappings,
) -> Result<Vec<TablePlan>, Vec<String>> {
    let mut problems = Vec::new();
    let mut plans = Vec::new();
    let target_names: Vec<&str> = targets.iter().map(|table| table.name.as_str()).collect();
    let mut claimed: BTreeMap<usize, String> = BTreeMap::new();
    for source in sources {
        let mapped = mappings
            .tables
            .get(&source.name)
            .or_else(|| mappings.tables.get(&source.qualified_name()));
        let (index, rule) =
            match find_match(&source.name, mapped.map(String::as_str), &target_names) {
                Ok(found) => found,
                Err(problem) => {
                    problems.push(format!(
                        "source table {}: {problem}",
                        source.qualified_name()
                    ));
                    continue;
                }
            };
        if let Some(other) = claimed.insert(index, source.qualified_name()) {
            problems.push(format!(
                "target table {} matches both {other} and {}; add --map for one of them",
                targets[index].name,
                source.qualified_name()
            ));
            continue;
        }
        match plan_columns(source, &targets[index], mappings) {
            Ok((columns, skipped_generated)) => plans.push(TablePlan {
                source: source.clone(),
                source_name: source.qualified_name(),
                target: targets[index].name.clone(),
                rule,
                columns,
                skipped_generated,
            }),
            Err(mut column_problems) => problems.append(&mut column_problems),
        }
    }
    for (index, target) in targets.iter().enumerate() {
        if !claimed.contains_key(&index) {
            problems.push(format!(
                "target table {} has no source table (it would stay empty)",
                target.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(plans)
    } else {
        Err(problems)
    }
}

type ColumnsAndSkipped = (Vec<ColumnPlan>, Vec<String>);

fn plan_columns(
    source: &SourceTable,
    target: &TargetTable,
    mappings: &Mappings,
) -> Result<ColumnsAndSkipped, Vec<String>> {
    let mut problems = Vec::new();
    let loadable: Vec<&TargetColumn> = target
        .columns
        .iter()
        .filter(|column| !column.generated)
        .collect();
    let skipped_generated: Vec<String> = target
        .columns
        .iter()
        .filter(|column| column.generated)
        .map(|column| column.name.clone())
        .collect();
    let names: Vec<&str> = loadable.iter().map(|column| column.name.as_str()).collect();
    let mut claimed = BTreeSet::new();
    let mut columns = Vec::new();
    let place = format!("{} → {}", source.qualified_name(), target.name);
    for column in &source.columns {
        let mapped = mappings
            .columns
            .get(&(source.name.clone(), column.name.clone()));
        match find_match(&column.name, mapped.map(String::as_str), &names) {
            Ok((index, rule)) => {
                if !claimed.insert(index) {
                    problems.push(format!(
                        "{place}: target column {} matches two source columns",
                        names[index]
                    ));
                    continue;
                }
                match plan_column(column, loadable[index], rule) {
                    Ok(plan) => columns.push(plan),
                    Err(problem) => problems.push(format!("{place}: {problem}")),
                }
            }
            Err(problem) => {
                let generated_match = skipped_generated
                    .iter()
                    .any(|name| normalize(name) == normalize(&column.name));
                let hint = if generated_match {
                    " (the target column of that name is generated)"
                } else {
                    ""
                };
                problems.push(format!(
                    "{place}: source column {}: {problem}{hint}",
                    column.name
                ));
            }
        }
    }
    for (index, name) in names.iter().enumerate() {
        if !claimed.contains(&index) {
            problems.push(format!(
                "{place}: target column {name} has no source column"
            ));
        }
    }
    if problems.is_empty() {
        Ok((columns, skipped_generated))
    } else {
        Err(problems)
    }
}

fn plan_column(
    source: &SourceColumn,
    target: &TargetColumn,
    rule: MatchRule,
) -> Result<ColumnPlan, String> {
    let converter = Converter::choose(&source.kind, &target.kind).map_err(|reason| {
        format!(
            "column {} ({}) → {} ({}): {reason}",
            source.name, source.type_name, target.name, target.column_type
        )
    })?;
    Ok(ColumnPlan {
        source: source.name.clone(),
        source_type: source.type_name.clone(),
        source_kind: source.kind.clone(),
        target: target.name.clone(),
        target_type: target.column_type.clone(),
        rule,
        converter,
    })
}

/// Finds `name` among `candidates` by the matching rules.
fn find_match(
    name: &str,
    mapped: Option<&str>,
    candidates: &[&str],
) -> Result<(usize, MatchRule), String> {
    if let Some(mapped) = mapped {
        return candidates
            .iter()
            .position(|candidate| *candidate == mapped)
            .map(|index| (index, MatchRule::Mapping))
            .ok_or_else(|| format!("the mapping names {mapped}, which the target does not have"));
    }
    if let Some(index) = candidates.iter().position(|candidate| *candidate == name) {
        return Ok((index, MatchRule::Exact));
    }
    let wanted = normalize(name);
    let similar: Vec<usize> = (0..candidates.len())
        .filter(|&index| normalize(candidates[index]) == wanted)
        .collect();
    match similar.as_slice() {
        [index] => Ok((*index, MatchRule::IgnoringCaseAndUnderscores)),
        [] => Err("no target of that name (map it with --map)".to_string()),
        several => Err(format!(
            "ambiguous: {} all match ignoring case and underscores; map it with --map",
            several
                .iter()
                .map(|&index| candidates[index])
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn normalize(name: &str) -> String {
    name.chars()
        .filter(|&character| character != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::MySqlType;

    fn source(name: &str, columns: &[(&str, PgKind)]) -> SourceTable {
        SourceTable {
            schema: "public".into(),
            name: name.into(),
            columns: columns
                .iter()
                .map(|(name, kind)| SourceColumn {
                    name: (*name).into(),
                    type_name: "t".into(),
                    kind: kind.clone(),
                })
                .collect(),
            primary_key: vec![columns[0].0.into()],
            estimated_rows: 0,
            estimated_bytes: 0,
        }
    }

    fn target(name: &str, columns: &[(&str, &str, bool)]) -> TargetTable {
        TargetTable {
            name: name.into(),
            columns: columns
                .iter()
                .map(|(name, column_type, generated)| TargetColumn {
                    name: (*name).into(),
                    column_type: (*column_type).into(),
                    kind: MySqlType::parse(column_type),
                    generated: *generated,
                })
                .collect(),
            primary_key: Vec::new(),
            references: Vec::new(),
        }
    }

    #[test]
    fn matches_exactly_then_ignoring_case_and_underscores_then_by_mapping() {
        let sources = [
            source(
                "invoice_line",
                &[
                    ("invoice_line_id", PgKind::Integer),
                    ("unit_price", PgKind::Numeric),
                ],
            ),
            source("media", &[("id", PgKind::Integer)]),
        ];
        let targets = [
            target(
                "InvoiceLine",
                &[
                    ("InvoiceLineId", "int(11)", false),
                    ("Price", "decimal(10,2)", false),
                    ("Total", "decimal(10,2)", true),
                ],
            ),
            target("media", &[("id", "int", false)]),
        ];
        let mappings = Mappings::parse(["invoice_line.unit_price = Price"]).unwrap();
        let plans = build_plan(&sources, &targets, &mappings).unwrap();
        assert_eq!(plans[0].rule, MatchRule::IgnoringCaseAndUnderscores);
        assert_eq!(
            plans[0].columns[0].rule,
            MatchRule::IgnoringCaseAndUnderscores
        );
        assert_eq!(plans[0].columns[1].rule, MatchRule::Mapping);
        assert_eq!(plans[0].skipped_generated, vec!["Total".to_string()]);
        assert_eq!(plans[1].rule, MatchRule::Exact);
    }

    #[test]
    fn every_mismatch_is_reported_at_once() {
        let sources = [
            source(
                "users",
                &[
                    ("id", PgKind::Integer),
                    ("extra", PgKind::Text),
                    ("blob", PgKind::Bytea),
                ],
            ),
            source("lonely", &[("id", PgKind::Integer)]),
        ];
        let targets = [
            target(
                "users",
                &[
                    ("id", "int", false),
                    ("blob", "int", false),
                    ("missing", "text", false),
                ],
            ),
            target("orphan", &[("id", "int", false)]),
        ];
        let problems = build_plan(&sources, &targets, &Mappings::default()).unwrap_err();
        let text = problems.join("\n");
        assert!(text.contains("source column extra"), "{text}");
        assert!(text.contains("column blob (t) → blob (int)"), "{text}");
        assert!(
            text.contains("target column missing has no source column"),
            "{text}"
        );
        assert!(text.contains("source table public.lonely"), "{text}");
        assert!(
            text.contains("target table orphan has no source table"),
            "{text}"
        );
        assert_eq!(problems.len(), 5);
    }

    #[test]
    fn ambiguous_names_are_not_guessed() {
        let sources = [source("ab", &[("id", PgKind::Integer)])];
        let targets = [
            target("A_b", &[("id", "int", false)]),
            target("a_B", &[("id", "int", false)]),
        ];
        let problems = build_plan(&sources, &targets, &Mappings::default()).unwrap_err();
        assert!(problems[0].contains("ambiguous"), "{problems:?}");
    }

    #[test]
    fn mapping_entries_must_have_two_sides() {
        assert!(Mappings::parse(["nonsense"]).is_err());
        assert!(
            Mappings::parse(["# comment", "", "a=b"])
                .unwrap()
                .tables
                .contains_key("a")
        );
    }
}
