//! The few errors code must branch on, and the exit code each maps to.
//! Everything else is an anyhow error with context (exit code 1).

/// What kind of failure ended the run; picks the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Bad flags, URLs, files, or a target database that exists without `--replace`.
    Usage,
    /// A server cannot be reached, or refused the credentials.
    Connect,
    /// The plan found mismatches or the schema files do not apply.
    Plan,
    /// Counts or constraints did not verify after the copy.
    Verify,
    /// A source value cannot be stored exactly in its target column.
    Data,
    /// A refresh was held back before publishing: a guard tripped, the
    /// published branch moved since the last refresh, or the merge of the
    /// night conflicted. The published branch is untouched.
    HeldBack,
    /// Another pg2dolt run holds the database's lock: nothing was done.
    Busy,
}

impl FailureKind {
    /// The process exit code for this kind (documented in README.md).
    #[must_use]
    pub fn exit_code(self) -> u8 {
        match self {
            FailureKind::Usage => 2,
            FailureKind::Plan => 3,
            FailureKind::Verify => 4,
            FailureKind::Connect => 5,
            FailureKind::Data => 6,
            FailureKind::HeldBack => 7,
            FailureKind::Busy => 8,
        }
    }
}

/// An error whose kind decides the exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// the kind
    pub kind: FailureKind,
    /// one line for the user
    pub message: String,
}

/// An error of `kind` with a one-line message.
pub fn failure(kind: FailureKind, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        kind,
        message: message.into(),
    })
}

/// Exit code 1: a runtime failure (a server error mid-copy, anything
/// unexpected).
pub const EXIT_RUNTIME: u8 = 1;

/// Exit code for SIGINT.
pub const EXIT_SIGINT: u8 = 130;
/// Exit code for SIGTERM.
pub const EXIT_SIGTERM: u8 = 143;

/// The exit code for an error: the kind of the first [`Failure`] in its
/// chain, else a runtime failure.
#[must_use]
pub fn exit_code(error: &anyhow::Error) -> u8 {
    kind(error).map_or(EXIT_RUNTIME, FailureKind::exit_code)
}

/// The kind of the first [`Failure`] in an error's chain.
#[must_use]
pub fn kind(error: &anyhow::Error) -> Option<FailureKind> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Failure>())
        .map(|failure| failure.kind)
}

/// The error chain on one line: `outer: inner: cause`, with any line breaks
/// from server messages folded.
#[must_use]
pub fn one_line(error: &anyhow::Error) -> String {
    // Causes joined by ": ", skipping one its predecessor already quotes
    // (driver errors often repeat their source in their own message).
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(text.trim()) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    // mysql_async prints an I/O error as `Input/output error: Input/output
    // error: …`: a segment the same as the one before it says nothing new.
    let mut segments: Vec<&str> = Vec::new();
    for segment in line.split(": ") {
        if segments.last() != Some(&segment) {
            segments.push(segment);
        }
    }
    segments.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_in_the_chain_picks_the_exit_code() {
        let error = failure(FailureKind::Plan, "2 mismatches").context("planning");
        assert_eq!(exit_code(&error), 3);
        assert_eq!(one_line(&error), "planning: 2 mismatches");
        assert_eq!(exit_code(&anyhow::anyhow!("boom")), 1);
        let repeated = anyhow::anyhow!("ERROR 1205: lock wait")
            .context("Server error: `ERROR 1205: lock wait'")
            .context("dropping database x");
        assert_eq!(
            one_line(&repeated),
            "dropping database x: Server error: `ERROR 1205: lock wait'"
        );
        let io = anyhow::anyhow!(
            "Input/output error: Input/output error: Connection reset by peer (os error 104)"
        )
        .context("LOAD DATA failed");
        assert_eq!(
            one_line(&io),
            "LOAD DATA failed: Input/output error: Connection reset by peer (os error 104)"
        );
    }
}
