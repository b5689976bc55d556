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
use crate::mysql::catalog::{TargetColumn, TargetTable};
use crate::postgres::catalog::{SourceColumn, SourceTable};
use crate::types::{PgKind, SourceExpression};

/// Explicit source → target names for what the rules cannot match:
/// `table=Target`, `schema.table=Target`, `table.column=Target` or
/// `schema.table.column=Target`.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    /// source name as written → target name
    entries: BTreeMap<String, String>,
}

impl Mappings {
    /// Parses `source=target` entries (from `--map` flags and mapping-file
    /// lines; blank lines and `#` comments skipped).
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
            let (source, target) = (source.trim(), target.trim());
            if source.is_empty() || target.is_empty() {
                return Err(format!("mapping {entry:?} has an empty side"));
            }
            mappings
                .entries
                .insert(source.to_string(), target.to_string());
        }
        Ok(mappings)
    }

    /// How many mappings there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for the first of `keys` that has one: (key, target).
    fn lookup(&self, keys: [String; 2]) -> Option<(&str, &str)> {
        let [qualified, short] = keys;
        self.entries
            .get_key_value(&qualified)
            .or_else(|| self.entries.get_key_value(&short))
            .map(|(key, target)| (key.as_str(), target.as_str()))
    }

    /// The mapped target table for a source table: (entry, target).
    fn table(&self, source: &SourceTable) -> Option<(&str, &str)> {
        self.lookup([source.qualified_name(), source.name.clone()])
    }

    /// The mapped target column for a source column: (entry, target).
    fn column(&self, source: &SourceTable, column: &str) -> Option<(&str, &str)> {
        self.lookup([
            format!("{}.{column}", source.qualified_name()),
            format!("{}.{column}", source.name),
        ])
    }
}

/// What kind of problem the plan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// a source table or column the target lacks
    MissingOnTarget,
    /// a target table or column nothing copies into
    MissingOnSource,
    /// two names match one, or a mapping names nothing
    Naming,
    /// a (source type, target type) pair with no exact conversion
    TypePair,
    /// values in the source that the target column cannot hold
    Value,
    /// distinct source values that are equal under a target unique key
    Collision,
    /// the target database exists and --replace was not given
    TargetExists,
}

/// One thing that would make the copy fail, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// what kind of problem
    pub kind: ProblemKind,
    /// `schema.table` on the source, when one is involved
    pub source_table: Option<String>,
    /// the target table, when one is involved
    pub target_table: Option<String>,
    /// the column (`source → target`, or one side's name)
    pub column: Option<String>,
    /// the source column type, for value problems (a domain as
    /// `year (domain over integer)`)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// the target column type, for type and value problems
    pub target_type: Option<String>,
    /// what is wrong
    pub detail: String,
    /// source rows affected (value and collision problems)
    pub rows: Option<u64>,
    /// up to a few offending rows: key and value
    pub examples: Vec<String>,
}

impl Problem {
    pub(crate) fn new(kind: ProblemKind, detail: impl Into<String>) -> Problem {
        Problem {
            kind,
            source_table: None,
            target_table: None,
            column: None,
            source_type: None,
            target_type: None,
            detail: detail.into(),
            rows: None,
            examples: Vec::new(),
        }
    }

    pub(crate) fn tables(mut self, source: Option<&str>, target: Option<&str>) -> Problem {
        self.source_table = source.map(str::to_string);
        self.target_table = target.map(str::to_string);
        self
    }

    pub(crate) fn column(mut self, column: impl Into<String>) -> Problem {
        self.column = Some(column.into());
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.source_table, &self.target_table) {
            (Some(source), Some(target)) => write!(formatter, "table {source} → {target}")?,
            (Some(source), None) => write!(formatter, "source table {source}")?,
            (None, Some(target)) => write!(formatter, "target table {target}")?,
            (None, None) => write!(formatter, "target")?,
        }
        if let Some(column) = &self.column {
            write!(formatter, ", column {column}")?;
        }
        match (&self.source_type, &self.target_type) {
            (Some(source_type), Some(target_type)) => {
                write!(formatter, " ({source_type} → {target_type})")?;
            }
            (None, Some(target_type)) => write!(formatter, " ({target_type})")?,
            _ => {}
        }
        write!(formatter, ": {}", self.detail)?;
        if let Some(rows) = self.rows {
            write!(
                formatter,
                " ({rows} row{})",
                if rows == 1 { "" } else { "s" }
            )?;
        }
        if !self.examples.is_empty() {
            write!(formatter, ", e.g. {}", self.examples.join("; "))?;
        }
        Ok(())
    }
}

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
    /// the target table as its catalog describes it
    #[serde(skip)]
    pub target_table: TargetTable,
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

/// Matches `sources` to `targets`: the matched tables, and every naming
/// and type problem at once. `excluded` are source tables the user left
/// out: a target table that only they match stays empty (a warning, not a
/// problem).
#[must_use]
pub fn build_plan(
    sources: &[SourceTable],
    excluded: &[SourceTable],
    targets: &[TargetTable],
    mappings: &Mappings,
) -> Plan {
    let mut plan = Plan::default();
    let mut used_mappings = BTreeSet::new();
    let target_names: Vec<&str> = targets.iter().map(|table| table.name.as_str()).collect();
    let mut claimed: BTreeMap<usize, String> = BTreeMap::new();
    for source in sources {
        let source_name = source.qualified_name();
        let mapped = mappings.table(source).map(|(key, target)| {
            used_mappings.insert(key.to_string());
            target
        });
        let (index, rule) = match find_match(&source.name, mapped, &target_names) {
            Ok(found) => found,
            Err((kind, detail)) => {
                plan.problems
                    .push(Problem::new(kind, detail).tables(Some(&source_name), None));
                continue;
            }
        };
        let target = &targets[index];
        if let Some(other) = claimed.insert(index, source_name.clone()) {
            plan.problems.push(
                Problem::new(
                    ProblemKind::Naming,
                    format!("{other} matches this target table too; add --map for one of them"),
                )
                .tables(Some(&source_name), Some(&target.name)),
            );
            continue;
        }
        let (columns, skipped_generated) = plan_columns(
            source,
            target,
            mappings,
            &mut used_mappings,
            &mut plan.problems,
        );
        plan.tables.push(TablePlan {
            source: source.clone(),
            source_name,
            target: target.name.clone(),
            target_table: target.clone(),
            rule,
            columns,
            skipped_generated,
        });
    }
    for (index, target) in targets.iter().enumerate() {
        if claimed.contains_key(&index) {
            continue;
        }
        let left_out = excluded
            .iter()
            .find(|source| find_match(&source.name, None, &[target.name.as_str()]).is_ok());
        match left_out {
            Some(source) => plan.warnings.push(format!(
                "target table {} stays empty: its source {} is excluded",
                target.name,
                source.qualified_name()
            )),
            None => plan.problems.push(
                Problem::new(
                    ProblemKind::MissingOnSource,
                    "no source table matches it (it would stay empty)",
                )
                .tables(None, Some(&target.name)),
            ),
        }
    }
    for entry in mappings.entries.keys() {
        if !used_mappings.contains(entry) {
            plan.problems.push(Problem::new(
                ProblemKind::Naming,
                format!("the mapping {entry}=… names no copied source table or column"),
            ));
        }
    }
    plan
}

/// Matches the columns of one table pair; problems are appended.
fn plan_columns(
    source: &SourceTable,
    target: &TargetTable,
    mappings: &Mappings,
    used_mappings: &mut BTreeSet<String>,
    problems: &mut Vec<Problem>,
) -> (Vec<ColumnPlan>, Vec<String>) {
    let source_name = source.qualified_name();
    let problem = |kind: ProblemKind, column: String, detail: String| {
        Problem::new(kind, detail)
            .tables(Some(&source_name), Some(&target.name))
            .column(column)
    };
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
    for column in &source.columns {
        let mapped = mappings.column(source, &column.name).map(|(key, target)| {
            used_mappings.insert(key.to_string());
            target
        });
        match find_match(&column.name, mapped, &names) {
            Ok((index, _)) if !claimed.insert(index) => problems.push(problem(
                ProblemKind::Naming,
                names[index].to_string(),
                "the target column matches two source columns".to_string(),
            )),
            Ok((index, rule)) => match plan_column(column, loadable[index], rule) {
                Ok(plan) => columns.push(plan),
                Err(detail) => {
                    let mut found = problem(
                        ProblemKind::TypePair,
                        format!("{} → {}", column.name, loadable[index].name),
                        detail,
                    );
                    found.target_type = Some(loadable[index].column_type.clone());
                    problems.push(found);
                }
            },
            Err((kind, detail)) => {
                let generated_match = skipped_generated
                    .iter()
                    .any(|name| normalize(name) == normalize(&column.name));
                let hint = if generated_match {
                    " (the target column of that name is generated)"
                } else {
                    ""
                };
                problems.push(problem(
                    kind,
                    column.name.clone(),
                    format!("source column: {detail}{hint}"),
                ));
            }
        }
    }
    for (index, name) in names.iter().enumerate() {
        if !claimed.contains(&index) {
            problems.push(problem(
                ProblemKind::MissingOnSource,
                (*name).to_string(),
                "target column has no source column".to_string(),
            ));
        }
    }
    (columns, skipped_generated)
}

fn plan_column(
    source: &SourceColumn,
    target: &TargetColumn,
    rule: MatchRule,
) -> Result<ColumnPlan, String> {
    let converter = Converter::choose(&source.kind, &target.kind)
        .map_err(|reason| {
            format!(
                "{} cannot become {}: {reason}",
                source.display_type(),
                target.column_type
            )
        })?
        .for_charset(target.charset.as_deref())
        .for_dolt(target.on_dolt, &target.kind);
    Ok(ColumnPlan {
        source: source.name.clone(),
        source_type: source.display_type(),
        source_kind: source.kind.clone(),
        expression: SourceExpression::choose(&source.kind, &target.kind),
        source_max_chars: source.max_chars,
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
) -> Result<(usize, MatchRule), (ProblemKind, String)> {
    if let Some(mapped) = mapped {
        return candidates
            .iter()
            .position(|candidate| *candidate == mapped)
            .map(|index| (index, MatchRule::Mapping))
            .ok_or_else(|| {
                (
                    ProblemKind::Naming,
                    format!("the mapping names {mapped}, which the target does not have"),
                )
            });
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
        [] => Err((
            ProblemKind::MissingOnTarget,
            "no target of that name (map it with --map)".to_string(),
        )),
        several => Err((
            ProblemKind::Naming,
            format!(
                "ambiguous: {} all match ignoring case and underscores; map it with --map",
                several
                    .iter()
                    .map(|&index| candidates[index])
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
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
                    auto_increment: false,
                    charset: None,
                    collation: None,
                    on_dolt: false,
                })
                .collect(),
            primary_key: Vec::new(),
            unique_keys: Vec::new(),
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
        let plan = build_plan(&sources, &[], &targets, &mappings);
        assert_eq!(plan.problems, Vec::new());
        let plans = plan.tables;
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
        let plan = build_plan(&sources, &[], &targets, &Mappings::default());
        let kinds: Vec<ProblemKind> = plan.problems.iter().map(|problem| problem.kind).collect();
        assert_eq!(
            kinds,
            [
                ProblemKind::MissingOnTarget,
                ProblemKind::TypePair,
                ProblemKind::MissingOnSource,
                ProblemKind::MissingOnTarget,
                ProblemKind::MissingOnSource,
            ]
        );
        let text: Vec<String> = plan.problems.iter().map(ToString::to_string).collect();
        let text = text.join("\n");
        assert!(
            text.contains("table public.users → users, column extra: source column"),
            "{text}"
        );
        assert!(
            text.contains("column blob → blob (int): t cannot become int"),
            "{text}"
        );
        assert!(
            text.contains("column missing: target column has no source"),
            "{text}"
        );
        assert!(text.contains("source table public.lonely"), "{text}");
        assert!(
            text.contains("target table orphan: no source table"),
            "{text}"
        );
        // The matched columns of a table with problems are still planned,
        // so their values can be checked in the same run.
        assert_eq!(plan.tables[0].columns.len(), 1);
    }

    #[test]
    fn excluded_sources_leave_their_targets_empty_with_a_warning() {
        let targets = [target("users", &[("id", "int", false)])];
        let excluded = [source("users", &[("id", PgKind::Integer)])];
        let plan = build_plan(&[], &excluded, &targets, &Mappings::default());
        assert_eq!(plan.problems, Vec::new());
        assert!(
            plan.warnings[0].contains("stays empty"),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn qualified_mappings_and_unused_ones() {
        let sources = [source("users", &[("id", PgKind::Integer)])];
        let targets = [target("people", &[("person_id", "int", false)])];
        let mappings =
            Mappings::parse(["public.users=people", "public.users.id=person_id", "typo=x"])
                .unwrap();
        let plan = build_plan(&sources, &[], &targets, &mappings);
        assert_eq!(plan.tables[0].columns[0].target, "person_id");
        assert_eq!(plan.problems.len(), 1, "{:?}", plan.problems);
        assert!(plan.problems[0].detail.contains("typo"));
    }

    #[test]
    fn ambiguous_names_are_not_guessed() {
        let sources = [source("ab", &[("id", PgKind::Integer)])];
        let targets = [
            target("A_b", &[("id", "int", false)]),
            target("a_B", &[("id", "int", false)]),
        ];
        let plan = build_plan(&sources, &[], &targets, &Mappings::default());
        assert!(
            plan.problems[0].detail.contains("ambiguous"),
            "{:?}",
            plan.problems
        );
    }

    #[test]
    fn mapping_entries_must_have_two_sides() {
        assert!(Mappings::parse(["nonsense"]).is_err());
        assert!(
            Mappings::parse(["# comment", "", "a=b"])
                .unwrap()
                .entries
                .contains_key("a")
        );
    }
}
