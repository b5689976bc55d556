//! The report's types for a refresh night's tables: how each was loaded
//! (`TableNight`), what it changed against the last published commit
//! (`TableChange`), and how it differs from a snapshot (`TableDifference`,
//! verify). The nightly domain fills them; the report only holds them.

use serde::Serialize;

use crate::dolt::diff::TableDiff;

/// How the night loaded one table, in the report (`tables` and `changes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableNight {
    /// `delta`, `resumed` (a delta catching up a table a killed night
    /// loaded) or `full`
    pub method: String,
    /// why `full`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// source rows the night looked at (the table's rows in the snapshot)
    pub rows_examined: u64,
    /// rows written: the row versions changed since the last published
    /// night (delta), every row (full)
    pub rows_upserted: u64,
    /// rows deleted by their key (delta; a full load empties the table)
    pub rows_deleted: u64,
    /// keys read, on both sides, to find the deleted rows (delta): only
    /// the key ranges that lost rows when the last night counted them
    pub keys_read: u64,
    /// `resumed`: the rows a killed night had loaded, kept
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_rows: Option<u64>,
    /// `resumed`: the killed night's work branch they were kept from
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<String>,
    /// what the night did to the table, when its delta read Dolt's diff
    /// already (the night's changes take it instead of a second diff)
    #[serde(skip)]
    pub counted: Option<CountedChanges>,
}

/// A table's change against the last published night, as its delta
/// counted it from Dolt's diff of the work branch (`nightly::deletes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountedChanges {
    /// rows the upserts added
    pub rows_added: u64,
    /// rows deleted after them
    pub rows_deleted: u64,
    /// rows the upserts modified
    pub rows_modified: u64,
    /// rows at the last published night
    pub rows_before: u64,
    /// rows now
    pub rows_after: u64,
}

/// What the evidence says of the source's history since the last night.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// proven continuous: deltas are exact
    Continuous,
    /// proven broken: every table reloads, whatever the flags
    Broken,
    /// not provable with what the role may read
    Unproven,
}

impl Verdict {
    /// As the report writes it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Continuous => "continuous",
            Verdict::Broken => "broken",
            Verdict::Unproven => "unproven",
        }
    }
}

/// Whether the source's history since the last published night is
/// continuous, in the report (`refresh.source_history`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceHistory {
    /// `continuous`, `broken` or `unproven`
    pub verdict: Verdict,
    /// why, unless continuous
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// unproven, and deltas taken anyway (`--trust-source-history`)
    pub trusted: bool,
}

/// One table's change against the last published commit, in the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableChange {
    /// Dolt's diff statistics
    #[serde(flatten)]
    pub diff: TableDiff,
    /// refresh: how the night loaded the table (`method`, `reason`,
    /// `rows_examined`, `rows_upserted`, `rows_deleted`)
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub night: Option<TableNight>,
}

/// A change reads as its diff statistics.
impl std::ops::Deref for TableChange {
    type Target = TableDiff;

    fn deref(&self) -> &TableDiff {
        &self.diff
    }
}

/// How one table differs from the snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableDifference {
    /// the target table
    pub table: String,
    /// rows of the snapshot the branch does not have
    pub missing: u64,
    /// rows of the branch the snapshot does not have
    pub extra: u64,
    /// rows whose key is on both sides with other values
    pub different: u64,
    /// up to 5 keys of each kind (`missing (id=4)`), masked where the key is
    pub keys: Vec<String>,
}

impl TableDifference {
    /// One line for people.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut line = format!(
            "{}: {} missing, {} extra, {} different",
            self.table, self.missing, self.extra, self.different
        );
        if !self.keys.is_empty() {
            line.push_str(" (");
            line.push_str(&self.keys.join(", "));
            line.push(')');
        }
        line
    }
}
