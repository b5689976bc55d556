//! The collision checks: distinct source values a target unique key would
//! compare equal (case-insensitive or PAD SPACE collations, or a key the
//! source does not enforce). Pure SQL text.

use std::collections::BTreeSet;

use crate::plan::TablePlan;
use crate::postgres::sql::quote_identifier;

use super::values::{copied_text, copied_value};

/// One target unique key whose values may collide after folding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollisionCheck {
    /// the key's target column names
    pub target_columns: Vec<String>,
    /// the source columns, quoted, in key order
    pub source_columns: Vec<String>,
    /// the folded expressions the target compares, in key order
    pub folded: Vec<String>,
    /// how the target folds them (for the message)
    pub detail: String,
}

/// A text expression as a collation compares it, approximated in
/// Postgres: `lower()` when it ignores case, `rtrim(…, ' ')` when it pads
/// with spaces (accent folding is not approximated).
#[must_use]
pub fn fold(text: String, ignores_case: bool, pads_spaces: bool) -> String {
    let mut folded = text;
    if ignores_case {
        folded = format!("lower({folded})");
    }
    if pads_spaces {
        folded = format!("rtrim({folded}, ' ')");
    }
    folded
}

/// The collision checks for a table: every target unique key whose
/// collation folds case or trailing spaces, or that the source does not
/// enforce itself.
#[must_use]
pub fn collision_checks(plan: &TablePlan) -> Vec<CollisionCheck> {
    let mut checks = Vec::new();
    'keys: for key in &plan.target.unique_keys {
        let mut check = CollisionCheck {
            target_columns: key.clone(),
            source_columns: Vec::new(),
            folded: Vec::new(),
            detail: String::new(),
        };
        let mut folds = BTreeSet::new();
        let mut source_names = BTreeSet::new();
        for name in key {
            let Some(column) = plan.columns.iter().find(|column| &column.target == name) else {
                continue 'keys; // a generated or unplanned column: not checkable
            };
            if column.mask.is_some() {
                continue 'keys; // masked: the masking check proves it distinct
            }
            let Some(target) = plan.target.columns.iter().find(|c| &c.name == name) else {
                continue 'keys;
            };
            let mut folded = copied_value(column);
            if target.collation.is_some() {
                folded = fold(
                    copied_text(column),
                    target.ignores_case(),
                    target.pads_spaces(),
                );
                if target.ignores_case() {
                    let collation = target.collation.as_deref().unwrap_or("");
                    folds.insert(format!("case ({collation})"));
                }
                if target.pads_spaces() {
                    folds.insert("trailing spaces".to_string());
                }
            }
            source_names.insert(column.source.clone());
            check.source_columns.push(quote_identifier(&column.source));
            check.folded.push(folded);
        }
        let enforced_by_source =
            plan.source.unique_keys.iter().any(|source_key| {
                source_key.iter().cloned().collect::<BTreeSet<_>>() == source_names
            });
        if folds.is_empty() && enforced_by_source {
            continue;
        }
        check.detail = if folds.is_empty() {
            "duplicate values: the source does not enforce this unique key".to_string()
        } else {
            format!(
                "values collide in this unique key, which ignores {}",
                folds.into_iter().collect::<Vec<_>>().join(" and ")
            )
        };
        checks.push(check);
    }
    checks
}
