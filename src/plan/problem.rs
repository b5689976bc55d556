//! What the plan reports: a problem that stops a copy, with the tables and
//! column it is about.

use serde::Serialize;

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
    /// a masking rule that cannot hold: it names no copied column, its
    /// values would not fit or could merge two keys, or a column of a
    /// masked table is new since the rules were written
    Masking,
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
