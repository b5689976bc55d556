//! What the plan found, told: the warnings and problems logged, the
//! tables at `-v`, and a run that would fail refused with the problems on
//! one line (exit 6 when only data is at fault, else 3).

use tracing::{debug, error, warn};

use crate::error::{FailureKind, failure};
use crate::plan::{Plan, Problem, ProblemKind, TablePlan};

/// A refused copy's plan problems, one log line each (`plan` shows them
/// as a table), and the warnings.
pub fn log_findings(plan: &Plan, problems: bool) {
    for warning in &plan.warnings {
        warn!("{warning}");
    }
    if problems {
        for problem in &plan.problems {
            let table = problem
                .source_table
                .as_deref()
                .or(problem.target_table.as_deref())
                .unwrap_or("-");
            error!(kind = ?problem.kind, table, "plan: {problem}");
        }
    }
}

/// The plan, column by column, at `-v` (the report has it too).
pub fn log_plan(plans: &[TablePlan]) {
    for plan in plans {
        debug!(table = %plan.source_name, target = %plan.target.name, rule = %plan.rule, "plan: table");
        for column in &plan.columns {
            debug!(
                table = %plan.source_name, target_table = %plan.target.name,
                source = %column.source, source_type = %column.source_type,
                target = %column.target, target_type = %column.target_type,
                rule = %column.rule, "plan: column"
            );
        }
        for generated in &plan.skipped_generated {
            debug!(table = %plan.source_name, target_table = %plan.target.name, column = %generated, "plan: generated column skipped (the target computes it)");
        }
    }
}

/// How many problems the one-line error of a refused copy names; the log
/// and the report list them all.
const LISTED: usize = 10;

/// Stops a copy that would fail: exit code 6 when only data is at fault
/// (the schema is right, some values do not fit), else 3.
pub fn refuse_problems(problems: &[Problem]) -> anyhow::Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    let data_only = problems
        .iter()
        .all(|problem| matches!(problem.kind, ProblemKind::Value | ProblemKind::Collision));
    let kind = if data_only {
        FailureKind::Data
    } else {
        FailureKind::Plan
    };
    let mut listed: Vec<String> = problems
        .iter()
        .take(LISTED)
        .map(ToString::to_string)
        .collect();
    if problems.len() > LISTED {
        listed.push(format!(
            "and {} more (all are in the log and the report; `pg2dolt plan` shows them as a table)",
            problems.len() - LISTED
        ));
    }
    Err(failure(
        kind,
        format!(
            "the plan found {} problem(s); nothing was copied: {}",
            problems.len(),
            listed.join("; ")
        ),
    ))
}

/// The problem `plan` lists when the database exists without --replace.
#[must_use]
pub fn target_exists(database: &str) -> Problem {
    Problem::new(
        ProblemKind::TargetExists,
        format!("database {database} exists; copy would refuse it without --replace"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_value_problems_refuse_with_the_data_exit_code() {
        assert!(refuse_problems(&[]).is_ok());
        let value = Problem::new(ProblemKind::Value, "too long");
        let error = refuse_problems(std::slice::from_ref(&value)).unwrap_err();
        assert_eq!(crate::error::exit_code(&error), 6);
        let missing = Problem::new(ProblemKind::TargetExists, "exists");
        let error = refuse_problems(&[value, missing]).unwrap_err();
        assert_eq!(crate::error::exit_code(&error), 3);
    }

    #[test]
    fn a_refusal_names_ten_problems_and_counts_the_rest() {
        let problems: Vec<Problem> = (0..12)
            .map(|index| Problem::new(ProblemKind::Value, format!("problem {index}")))
            .collect();
        let line = refuse_problems(&problems).unwrap_err().to_string();
        assert!(line.contains("12 problem(s)"), "{line}");
        assert!(
            line.contains("problem 9") && !line.contains("problem 10;"),
            "{line}"
        );
        assert!(line.contains("and 2 more"), "{line}");
    }
}
