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
        mask: None,
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
mod tests;
