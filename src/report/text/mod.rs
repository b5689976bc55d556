//! The report for people: the summary at the end of a run, and the plan
//! as `pg2dolt plan` shows it (problems as a table).

use std::fmt::Write as _;

mod night;

use night::{changes_lines, refresh_lines};

use super::{CommandKind, RefreshOutcome, Report, Status, TableReport};
use crate::mysql::TargetKind;
use crate::plan::Problem;

impl Report {
    /// The summary a person reads at the end of a run.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut text = String::new();
        if self.command == CommandKind::Verify {
            let _ = writeln!(
                text,
                "pg2dolt {}: database {} ({}){} in {:.1} s",
                self.outcome_words(),
                self.database,
                self.target_version.as_deref().unwrap_or("target"),
                self.as_of(),
                self.seconds,
            );
            self.verify_lines(&mut text);
            if let Some(detail) = &self.target_state_detail {
                let _ = writeln!(text, "  target: {detail}");
            }
            return text;
        }
        let _ = writeln!(
            text,
            "pg2dolt {}: {} tables, {} rows, {} into database {} ({}){} in {:.1} s",
            self.outcome_words(),
            self.tables.len(),
            self.rows_total,
            megabytes(self.bytes_total),
            self.database,
            self.target_version.as_deref().unwrap_or("target"),
            self.as_of(),
            self.seconds,
        );
        text.push_str(&tables_table(&self.tables));
        if let Some(changes) = &self.changes {
            let first = self
                .refresh
                .as_ref()
                .is_some_and(|refresh| refresh.first_night);
            text.push_str(&changes_lines(changes, first));
        }
        if !self.foreign_key_fixups.is_empty() {
            let tables = self.foreign_key_fixups.join(", ");
            let _ = writeln!(text, "  foreign keys resolved on: {tables}");
        }
        if self.verified {
            let tables = self.tables.len();
            let _ = writeln!(text, "  verified: row counts match on all {tables} tables");
        }
        if let Some(archive) = &self.archive {
            let _ = writeln!(
                text,
                "  archived: {} ({} data files, {})",
                archive.location,
                archive.files,
                megabytes(archive.stored_bytes)
            );
        }
        // An idle night made no commit: its refresh lines say so (the
        // report's dolt_commit is the head that stays).
        let idle = self
            .refresh
            .as_ref()
            .is_some_and(|refresh| refresh.outcome == RefreshOutcome::Unchanged);
        match (&self.dolt_commit, self.target_kind) {
            (Some(_), _) if idle => {}
            (Some(hash), _) => {
                let _ = writeln!(text, "  dolt commit: {hash}");
            }
            (None, Some(TargetKind::Mysql)) if self.status == Status::Succeeded => {
                let _ = writeln!(text, "  no Dolt commit: the target is not Dolt");
            }
            _ => {}
        }
        // A failure's error line follows the summary; an interruption has
        // none.
        if let (Some(error), Status::Interrupted) = (&self.error, self.status) {
            let _ = writeln!(text, "  error: {error}");
        }
        self.verify_lines(&mut text);
        if let Some(refresh) = &self.refresh {
            text.push_str(&refresh_lines(refresh));
        }
        if let Some(detail) = &self.target_state_detail {
            let _ = writeln!(text, "  target: {detail}");
        }
        text
    }

    /// What a comparison with the snapshot found (verify, refresh --verify).
    fn verify_lines(&self, text: &mut String) {
        let Some(verify) = &self.verify else {
            return;
        };
        if verify.equal {
            let _ = writeln!(
                text,
                "  compared: every row of {} tables on {} equals the snapshot",
                verify.tables_compared, verify.branch
            );
        } else {
            let _ = writeln!(text, "  differences on {}:", verify.branch);
            for table in &verify.differences {
                let _ = writeln!(text, "    {}", table.describe());
            }
        }
    }

    /// The plan as a person reads it: matched tables, then every problem
    /// as a table row (examples indented below it), then the warnings.
    #[must_use]
    pub fn plan_summary(&self) -> String {
        let mut text = String::new();
        let columns: usize = self.planned.iter().map(|table| table.columns.len()).sum();
        let verdict = if self.problems.is_empty() {
            "no problems: a copy can run".to_string()
        } else {
            format!("{} problem(s): a copy would fail", self.problems.len())
        };
        let _ = writeln!(
            text,
            "pg2dolt plan: {} tables and {columns} columns matched{}; {verdict}",
            self.planned.len(),
            self.as_of()
        );
        text.push_str(&problems_table(&self.problems));
        for warning in &self.warnings {
            let _ = writeln!(text, "  warning: {warning}");
        }
        if let Some(error) = &self.error {
            let _ = writeln!(text, "  error: {error}");
        }
        text
    }

    /// ` as of <snapshot time>`, once the snapshot is known.
    fn as_of(&self) -> String {
        self.snapshot
            .as_ref()
            .map_or_else(String::new, |snapshot| format!(" as of {}", snapshot.time))
    }

    fn outcome_words(&self) -> &'static str {
        if self.command == CommandKind::Verify {
            return match self.status {
                Status::Succeeded => "verified",
                Status::Failed => "verify FAILED",
                Status::Interrupted => "verify INTERRUPTED",
                Status::Running => "running:",
            };
        }
        if self.command == CommandKind::Refresh {
            let held = self
                .refresh
                .as_ref()
                .is_some_and(|refresh| refresh.outcome == RefreshOutcome::HeldBack);
            return match self.status {
                Status::Failed if held => "refresh HELD BACK after loading",
                Status::Succeeded => "refreshed",
                Status::Failed => "refresh FAILED after loading",
                Status::Interrupted => "refresh INTERRUPTED after loading",
                Status::Running => "running:",
            };
        }
        match (self.status, self.command == CommandKind::Restore) {
            (Status::Succeeded, false) => "copied",
            (Status::Succeeded, true) => "restored",
            (Status::Failed, false) => "FAILED after copying",
            (Status::Failed, true) => "FAILED after restoring",
            (Status::Interrupted, false) => "INTERRUPTED after copying",
            (Status::Interrupted, true) => "INTERRUPTED after restoring",
            (Status::Running, _) => "running:",
        }
    }
}

/// One line per table copied: rows, MB, seconds, rows per second.
fn tables_table(tables: &[TableReport]) -> String {
    let mut text = String::new();
    if tables.is_empty() {
        return text;
    }
    let width = tables
        .iter()
        .map(|table| table.source.len() + table.target.len() + 3)
        .max()
        .unwrap_or(10);
    let _ = writeln!(
        text,
        "  {:<width$} {:>12} {:>10} {:>8} {:>12}",
        "table", "rows", "MB", "s", "rows/s"
    );
    for table in tables {
        let rate = if table.seconds > 0.0 {
            table.rows as f64 / table.seconds
        } else {
            0.0
        };
        let _ = writeln!(
            text,
            "  {:<width$} {:>12} {:>10.2} {:>8.2} {:>12.0}",
            format!("{} → {}", table.source, table.target),
            table.rows,
            table.bytes as f64 / 1_048_576.0,
            table.seconds,
            rate
        );
    }
    text
}

/// The problems as a table (kind, table, column, target type, detail),
/// each with its example rows indented below it.
fn problems_table(problems: &[Problem]) -> String {
    let mut text = String::new();
    if problems.is_empty() {
        return text;
    }
    let rows: Vec<[String; 5]> = problems.iter().map(problem_cells).collect();
    let header = ["problem", "table", "column", "target type", "detail"];
    let widths: Vec<usize> = (0..4)
        .map(|index| {
            rows.iter()
                .map(|row| row[index].chars().count())
                .chain([header[index].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 5]| {
        let mut line = String::from(" ");
        for (index, cell) in cells.iter().enumerate() {
            if index < 4 {
                let padding = widths[index] - cell.chars().count();
                let _ = write!(line, " {cell}{} ", " ".repeat(padding));
            } else {
                let _ = write!(line, " {cell}");
            }
        }
        line
    };
    let _ = writeln!(text, "{}", line(header));
    for (row, problem) in rows.iter().zip(problems) {
        let _ = writeln!(
            text,
            "{}",
            line([&row[0], &row[1], &row[2], &row[3], &row[4]])
        );
        for example in &problem.examples {
            let _ = writeln!(text, "      e.g. {example}");
        }
    }
    text
}

/// A problem's cells in the plan's table.
fn problem_cells(problem: &Problem) -> [String; 5] {
    let table = match (&problem.source_table, &problem.target_table) {
        (Some(source), Some(target)) => format!("{source} → {target}"),
        (Some(one), None) | (None, Some(one)) => one.clone(),
        (None, None) => "-".to_string(),
    };
    let mut detail = problem.detail.clone();
    if let Some(rows) = problem.rows {
        let plural = if rows == 1 { "" } else { "s" };
        let _ = write!(detail, " ({rows} row{plural})");
    }
    [
        serde_json::to_value(problem.kind)
            .ok()
            .and_then(|value| value.as_str().map(str::to_string))
            .unwrap_or_default(),
        table,
        problem.column.clone().unwrap_or_else(|| "-".to_string()),
        problem
            .target_type
            .clone()
            .unwrap_or_else(|| "-".to_string()),
        detail,
    ]
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_048_576.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::load::LoadMethod;
    use crate::plan::{MatchRule, ProblemKind};

    fn table(source: &str, rows: u64) -> TableReport {
        TableReport {
            source: source.into(),
            target: source.trim_start_matches("public.").into(),
            rule: MatchRule::Exact,
            rows,
            bytes: 2 * 1_048_576,
            seconds: 2.0,
            load_method: LoadMethod::Insert,
            chunks: 1,
            columns: Vec::new(),
            skipped_generated: Vec::new(),
            night: None,
        }
    }

    #[test]
    fn a_restore_that_failed_says_so_and_what_it_left() {
        let mut report = Report::start(CommandKind::Restore);
        report.status = Status::Failed;
        report.database = "shop".into();
        report.tables = vec![table("public.users", 10)];
        report.rows_total = 10;
        report.target_state_detail = Some("the incomplete target database shop was dropped".into());
        let text = report.summary();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("pg2dolt FAILED after restoring: 1 tables, 10 rows, 0.0 MB into database shop (target)"),
            "{text}"
        );
        assert!(
            lines[2].contains("public.users → users") && lines[2].ends_with(" 5"),
            "{text}"
        );
        assert_eq!(
            lines.last().copied(),
            Some("  target: the incomplete target database shop was dropped")
        );
        assert!(!text.contains("verified"), "{text}");
    }

    #[test]
    fn the_plan_lists_each_problem_as_a_row_with_its_examples() {
        let mut report = Report::start(CommandKind::Plan);
        report.problems = vec![
            Problem::new(ProblemKind::Value, "longer than 5 characters")
                .tables(Some("public.users"), Some("users"))
                .column("name"),
        ];
        report.problems[0].examples = vec!["id=7: 'abcdefgh'".into()];
        report.problems[0].rows = Some(1);
        let text = report.plan_summary();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].ends_with("1 problem(s): a copy would fail"),
            "{text}"
        );
        assert!(
            lines[1].contains("problem") && lines[1].contains("detail"),
            "{text}"
        );
        assert!(
            lines[2].contains("value") && lines[2].contains("public.users → users"),
            "{text}"
        );
        assert!(
            lines[2].ends_with("longer than 5 characters (1 row)"),
            "{text}"
        );
        assert_eq!(lines[3], "      e.g. id=7: 'abcdefgh'");
    }
}
