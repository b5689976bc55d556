//! Pairs source tables and columns with target ones and picks each
//! column's converter; every mismatch becomes a problem.

use std::collections::{BTreeMap, BTreeSet};

use super::{ColumnPlan, Mappings, MatchRule, Plan, Problem, ProblemKind, TablePlan};
use crate::column_types::SourceExpression;
use crate::convert::converter::Converter;
use crate::mysql::catalog::{TargetColumn, TargetTable};
use crate::postgres::catalog::{SourceColumn, SourceTable};

/// Target tables no copied source matched: a warning when an excluded
/// source would have (the user left it out), else a problem.
fn unclaimed_targets(
    targets: &[TargetTable],
    excluded: &[SourceTable],
    claimed: &BTreeMap<usize, String>,
    plan: &mut Plan,
) {
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
            target: target.clone(),
            rule,
            columns,
            skipped_generated,
        });
    }
    unclaimed_targets(targets, excluded, &claimed, &mut plan);
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
/// Why a source column has no target column, with a hint when the target
/// column of that name is generated.
fn unmatched_detail(detail: &str, column: &str, skipped_generated: &[String]) -> String {
    let generated_match = skipped_generated
        .iter()
        .any(|name| normalize(name) == normalize(column));
    let hint = if generated_match {
        " (the target column of that name is generated)"
    } else {
        ""
    };
    format!("source column: {detail}{hint}")
}

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
                let detail = unmatched_detail(&detail, &column.name, &skipped_generated);
                problems.push(problem(kind, column.name.clone(), detail));
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
    use crate::column_types::{MySqlType, PgKind};

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
}
