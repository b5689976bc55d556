//! The masking rules put on the plan: each rule's column gets its mask, and
//! every rule that cannot hold is a plan problem (exit 3, before any data
//! moves): a rule naming no copied column, a generator whose values do not
//! suit or fit the target column, a generator that could merge two values
//! of a primary-key, unique or foreign-key column, and a column of a
//! masked table that is new since the rules were written.

use super::{ColumnPlan, Plan, Problem, ProblemKind, TablePlan};
use crate::convert::converter::Converter;
use crate::mask::{Baseline, Generator, Mask, MaskKey, MaskRule, MaskRules};
use crate::mysql::catalog::TargetTable;
use std::borrow::Cow;

/// What to do with a column of a masked table that is new since the rules
/// were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewColumns {
    /// a plan problem (exit 3)
    Fail,
    /// NULL is loaded
    Null,
    /// copied in clear
    Copy,
}

/// The masking of a run: the rules, the key, the new-column policy.
#[derive(Debug, Clone)]
pub struct Masking {
    /// the rules
    pub rules: MaskRules,
    /// the secret key, when a rule needs one
    pub key: Option<MaskKey>,
    /// new columns of masked tables
    pub new_columns: NewColumns,
}

/// The columns of every planned table the rules cover, now: the baseline
/// a database records when these rules are first used on it.
#[must_use]
pub fn baseline_of(plan: &[TablePlan], rules: &MaskRules) -> Baseline {
    let columns = plan
        .iter()
        .filter(|table| rules.covers_table(&table.source.schema, &table.source.name))
        .map(|table| {
            let columns = table.columns.iter().map(|column| column.source.clone());
            (table.source_name.clone(), columns.collect())
        })
        .collect();
    Baseline {
        rules_sha256: rules.sha256.clone(),
        columns,
    }
}

/// Puts the masks on the plan's columns; returns what cannot hold (and the
/// new columns copied in clear, as warnings). `known`: the baseline the
/// target database recorded, if any.
pub fn apply_masks(plan: &mut Plan, masking: &Masking, known: Option<&Baseline>) -> Vec<Problem> {
    let mut problems = Vec::new();
    plan.mask_rules_sha256 = Some(masking.rules.sha256.clone());
    for rule in &masking.rules.rules {
        let found = plan.tables.iter_mut().find_map(|table| {
            if masking
                .rules
                .rule_for(&table.source.schema, &table.source.name, &rule.column)
                != Some(rule)
            {
                return None;
            }
            let index = table.columns.iter().position(|c| c.source == rule.column)?;
            Some((table, index))
        });
        let Some((table, index)) = found else {
            problems.push(problem(
                None,
                format!(
                    "masking rule on line {} names {}, which is not a copied column",
                    rule.line,
                    rule.target_name()
                ),
            ));
            continue;
        };
        match mask_for(table, index, rule, masking.key.as_ref()) {
            Ok(mask) => table.columns[index].mask = Some(mask),
            Err(detail) => problems.push(problem(Some((table, index)), detail)),
        }
    }
    inherit_through_foreign_keys(plan, &mut problems);
    if let Some(known) = known.filter(|known| known.rules_sha256 == masking.rules.sha256) {
        new_columns(plan, masking, known, &mut problems);
    }
    problems
}

/// A foreign key's column takes the mask of the column it references (down
/// chains of keys), so masked keys still join and no value of a masked
/// key stays in clear in the tables that reference it. A column whose own
/// rule masks it otherwise is a problem.
fn inherit_through_foreign_keys(plan: &mut Plan, problems: &mut Vec<Problem>) {
    for _ in 0..plan.tables.len() {
        let mut inherited = Vec::new();
        for (table_index, table) in plan.tables.iter().enumerate() {
            for (index, column, mask, from) in referenced_masks(plan, table) {
                if column.mask.is_none() {
                    inherited.push((table_index, index, mask, from));
                }
            }
        }
        if inherited.is_empty() {
            break;
        }
        for (table_index, index, mask, from) in inherited {
            let table = &plan.tables[table_index];
            match check_mask(table, index, &mask) {
                Ok(()) => {
                    plan.warnings.push(format!(
                        "{}.{} references {from}: masked with {} too, so it still joins",
                        table.source_name,
                        table.columns[index].source,
                        mask.generator.describe()
                    ));
                    plan.tables[table_index].columns[index].mask = Some(mask);
                }
                Err(detail) => {
                    problems.push(problem(
                        Some((table, index)),
                        format!("it references {from}, masked: {detail}"),
                    ));
                    // Masked anyway: its values must not go out in clear.
                    plan.tables[table_index].columns[index].mask = Some(mask);
                }
            }
        }
    }
    for table in &plan.tables {
        for (index, column, mask, from) in referenced_masks(plan, table) {
            let same = column.mask.as_ref().is_some_and(|own| {
                own.generator == mask.generator && own.hash_length == mask.hash_length
            });
            if !same {
                problems.push(problem(
                    Some((table, index)),
                    format!(
                        "it references {from}, masked with {}: mask it the same way, or the rows no longer join",
                        mask.generator.describe()
                    ),
                ));
            }
        }
    }
}

/// The planned columns of `table` whose foreign key references a masked
/// column: (index, the column, the referenced column's mask, `table.column`
/// referenced).
fn referenced_masks<'a>(
    plan: &'a Plan,
    table: &'a TablePlan,
) -> Vec<(usize, &'a ColumnPlan, Mask, String)> {
    table
        .target
        .foreign_keys
        .iter()
        .filter_map(|key| {
            let index = table.columns.iter().position(|c| c.target == key.column)?;
            let referenced = plan
                .tables
                .iter()
                .find(|other| other.target.name == key.referenced_table)?;
            let mask = referenced
                .columns
                .iter()
                .find(|c| c.target == key.referenced_column)?
                .mask
                .clone()?;
            let from = format!("{}.{}", key.referenced_table, key.referenced_column);
            Some((index, &table.columns[index], mask, from))
        })
        .collect()
}

/// The mask of column `index` of `table` by `rule`, or why it cannot be.
fn mask_for(
    table: &TablePlan,
    index: usize,
    rule: &MaskRule,
    key: Option<&MaskKey>,
) -> Result<Mask, String> {
    let max_chars = text_limit(&table.columns[index]);
    let mask = Mask::new(rule.generator.clone(), key.cloned(), max_chars);
    check_mask(table, index, &mask)?;
    Ok(mask)
}

/// Why `mask` cannot mask column `index` of `table`, if it cannot: its
/// values do not suit or fit the column, or could merge two key values.
fn check_mask(table: &TablePlan, index: usize, mask: &Mask) -> Result<(), String> {
    let column = &table.columns[index];
    let generator = &mask.generator;
    let name = generator.describe();
    let max_chars = text_limit(column);
    let suits = match generator {
        Generator::Null | Generator::Const(_) => true,
        Generator::DateShift(_) => matches!(column.converter, Converter::Temporal { .. }),
        Generator::NumberNoise(_) => matches!(
            column.converter,
            Converter::Integer { .. } | Converter::Decimal { .. } | Converter::Float { .. }
        ),
        _ => matches!(column.converter, Converter::Text { .. }),
    };
    if !suits {
        return Err(format!(
            "{name} does not suit a column of type {} → {}",
            column.source_type, column.target_type
        ));
    }
    let target = table
        .target
        .columns
        .iter()
        .find(|c| c.name == column.target);
    if *generator == Generator::Null && target.is_some_and(|target| !target.nullable) {
        return Err(format!("null, but {} is NOT NULL", column.target));
    }
    if let Generator::Const(value) = generator {
        column
            .converter
            .convert(Cow::Borrowed(value.as_bytes()))
            .map_err(|reason| format!("const({value}) cannot be stored: {reason}"))?;
    }
    if let (Some(longest), Some(limit)) = (mask.max_chars(), max_chars)
        && u64::try_from(longest).unwrap_or(u64::MAX) > limit
    {
        return Err(format!(
            "{name} writes up to {longest} characters; {} holds {limit}",
            column.target_type
        ));
    }
    if let Some(role) = key_role(&table.target, &column.target)
        && !mask.injective()
    {
        return Err(format!(
            "{} is {role}: {name} can map two different values to one (use email, or hash of at least 32 hex digits)",
            column.target
        ));
    }
    Ok(())
}

/// The most characters a text column holds (`None`: unbounded, or not
/// text).
fn text_limit(column: &ColumnPlan) -> Option<u64> {
    match &column.converter {
        Converter::Text { max_chars, .. } => *max_chars,
        _ => None,
    }
}

/// Which key `column` of `target` belongs to, if any.
#[must_use]
pub fn key_role(target: &TargetTable, column: &str) -> Option<&'static str> {
    let name = column.to_string();
    if target.primary_key.contains(&name) {
        Some("a primary-key column")
    } else if target.unique_keys.iter().any(|key| key.contains(&name)) {
        Some("a unique-key column")
    } else if target.foreign_keys.iter().any(|key| key.column == name) {
        Some("a foreign-key column")
    } else {
        None
    }
}

/// Columns of masked tables the baseline does not know and no rule names:
/// a problem, NULL, or a warning, as `--mask-new-columns` says.
fn new_columns(plan: &mut Plan, masking: &Masking, known: &Baseline, problems: &mut Vec<Problem>) {
    for table in &mut plan.tables {
        let Some(columns) = known.columns.get(&table.source_name) else {
            continue;
        };
        for index in 0..table.columns.len() {
            let column = &table.columns[index];
            if column.mask.is_some() || columns.contains(&column.source) {
                continue;
            }
            let detail = format!(
                "{}.{} is new since the masking rules were written (rules SHA-256 {}): give it a rule, or pass --mask-new-columns null|copy",
                table.source_name,
                column.source,
                &known.rules_sha256[..12.min(known.rules_sha256.len())]
            );
            match masking.new_columns {
                NewColumns::Fail => problems.push(problem(Some((table, index)), detail)),
                NewColumns::Null => {
                    let nullable = table
                        .target
                        .columns
                        .iter()
                        .any(|c| c.name == column.target && c.nullable);
                    if nullable {
                        table.columns[index].mask = Some(Mask::new(Generator::Null, None, None));
                    } else {
                        problems.push(problem(
                            Some((table, index)),
                            format!("{detail} (--mask-new-columns null, but it is NOT NULL)"),
                        ));
                    }
                }
                NewColumns::Copy => plan.warnings.push(format!(
                    "{}.{} is new since the masking rules were written and is copied in clear (--mask-new-columns copy)",
                    table.source_name, column.source
                )),
            }
        }
    }
}

fn problem(at: Option<(&TablePlan, usize)>, detail: String) -> Problem {
    match at {
        Some((table, index)) => {
            let column: &ColumnPlan = &table.columns[index];
            Problem::new(ProblemKind::Masking, detail)
                .tables(Some(&table.source_name), Some(&table.target.name))
                .column(format!("{} → {}", column.source, column.target))
        }
        None => Problem::new(ProblemKind::Masking, detail),
    }
}

#[cfg(test)]
mod tests;
