//! A refresh's lines in the summary: what the night did with the
//! published branch, and what changed per table.

use std::fmt::Write as _;

use crate::report::{OnDiverged, RefreshOutcome, RefreshReport, TableChange, Verdict};

/// What changed since the last published night (on the first night:
/// everything), one line per changed table.
pub(super) fn changes_lines(changes: &[TableChange], first_night: bool) -> String {
    let touched: Vec<&TableChange> = changes
        .iter()
        .filter(|change| change.rows_changed() > 0 || change.schema_changed)
        .collect();
    if touched.is_empty() {
        let mut text = "  changes: none since the last published night\n".to_string();
        let full: Vec<String> = changes
            .iter()
            .filter_map(|change| {
                let night = change.night.as_ref()?;
                (night.method == "full" && !first_night).then(|| {
                    format!(
                        "{} ({})",
                        change.table,
                        night.reason.as_deref().unwrap_or("full")
                    )
                })
            })
            .collect();
        if !full.is_empty() {
            let _ = writeln!(text, "  loaded in full: {}", full.join(", "));
        }
        return text;
    }
    let since = if first_night {
        "on the first night"
    } else {
        "since the last published night"
    };
    let mut text = format!(
        "  changes {since} ({} of {} tables):\n",
        touched.len(),
        changes.len()
    );
    for change in touched {
        let schema = if change.schema_changed {
            ", schema changed"
        } else {
            ""
        };
        let how = match &change.night {
            Some(night) if night.method == "resumed" => format!(
                ", resumed: kept the {} rows a stopped night loaded (on {}), caught up by delta: {} upserted, {} deleted",
                night.kept_rows.unwrap_or(0),
                night.resumed_from.as_deref().unwrap_or("its work branch"),
                night.rows_upserted,
                night.rows_deleted
            ),
            Some(night) if night.method == "delta" && night.keys_read > 0 => format!(
                ", delta: {} upserted, {} deleted of {} rows ({} keys read to find them)",
                night.rows_upserted, night.rows_deleted, night.rows_examined, night.keys_read
            ),
            Some(night) if night.method == "delta" => format!(
                ", delta: {} upserted, {} deleted of {} rows",
                night.rows_upserted, night.rows_deleted, night.rows_examined
            ),
            Some(night) if !first_night => {
                format!(", full: {}", night.reason.as_deref().unwrap_or("reloaded"))
            }
            _ => String::new(),
        };
        let _ = writeln!(
            text,
            "    {:<32} +{} added  -{} deleted  ~{} modified{schema}{how}",
            change.table, change.rows_added, change.rows_deleted, change.rows_modified
        );
    }
    let methods: Vec<&str> = changes
        .iter()
        .filter_map(|change| change.night.as_ref().map(|night| night.method.as_str()))
        .collect();
    let resumed = methods
        .iter()
        .filter(|method| **method == "resumed")
        .count();
    if (!first_night || resumed > 0) && !methods.is_empty() {
        let deltas = methods.iter().filter(|method| **method == "delta").count();
        let kept = if resumed > 0 {
            format!(", {resumed} kept from a stopped night")
        } else {
            String::new()
        };
        let _ = writeln!(
            text,
            "  loaded: {deltas} tables by delta (only what changed){kept}, {} in full",
            methods.len() - deltas - resumed
        );
    }
    text
}

/// What the refresh did with the published branch.
pub(super) fn refresh_lines(refresh: &RefreshReport) -> String {
    let mut text = String::new();
    let branch = &refresh.branch;
    match refresh.outcome {
        RefreshOutcome::Published => {
            let _ = writeln!(
                text,
                "  published: {branch} at {} (tag {})",
                refresh.head.as_deref().unwrap_or("?"),
                refresh.tag.as_deref().unwrap_or("none")
            );
        }
        RefreshOutcome::Unchanged => {
            let _ = writeln!(
                text,
                "  no new commit: the source did not change; {branch} stays at {}",
                refresh.head.as_deref().unwrap_or("?")
            );
        }
        RefreshOutcome::HeldBack => {
            let _ = writeln!(
                text,
                "  HELD BACK (exit 7): nothing published; the night is on branch {}",
                refresh.work_branch.as_deref().unwrap_or("?")
            );
        }
        RefreshOutcome::NotPublished => {}
    }
    if let Some(divergence) = &refresh.divergence {
        let _ = writeln!(
            text,
            "  {branch} was written to since the last refresh: {divergence} (--on-diverged {})",
            match refresh.on_diverged {
                OnDiverged::Fail => "fail",
                OnDiverged::Reset => "reset",
                OnDiverged::Merge => "merge",
            }
        );
    }
    if let Some(kept) = &refresh.previous_head_tag {
        let _ = writeln!(text, "  the old head of {branch} is tagged {kept}");
    }
    if !refresh.schema_files_applied.is_empty() {
        let _ = writeln!(
            text,
            "  schema files applied: {}",
            refresh.schema_files_applied.join(", ")
        );
    }
    if let Some(history) = refresh
        .source_history
        .as_ref()
        .filter(|history| history.verdict != Verdict::Continuous)
    {
        let then = if history.trusted {
            "deltas taken anyway (--trust-source-history)"
        } else {
            "every table reloaded"
        };
        let _ = writeln!(
            text,
            "  source history {}: {}; {then}",
            history.verdict.name(),
            history.reason.as_deref().unwrap_or("")
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::refresh_lines;
    use crate::report::{OnDiverged, RefreshReport, SourceHistory, Verdict};

    #[test]
    fn a_night_whose_source_history_is_not_proven_says_so_once() {
        let mut refresh = RefreshReport::new("main", OnDiverged::Fail);
        refresh.source_history = Some(SourceHistory {
            verdict: Verdict::Continuous,
            reason: None,
            trusted: false,
        });
        assert_eq!(refresh_lines(&refresh), "");
        refresh.source_history = Some(SourceHistory {
            verdict: Verdict::Broken,
            reason: Some("the source failed over".to_string()),
            trusted: false,
        });
        assert_eq!(
            refresh_lines(&refresh),
            "  source history broken: the source failed over; every table reloaded\n"
        );
    }
}
