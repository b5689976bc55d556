//! `pg2dolt schema draft|diff`: settings, the work, what is
//! printed (files and findings on stdout, the summary on stderr), and the
//! exit code.

use std::io::Write as _;

use crate::cli::{LoggingArgs, SchemaAction, SchemaArgs};
use crate::error::{FailureKind, failure};
use crate::mysql::schema;
use crate::output::Output;

/// Runs `schema draft` or `schema diff`; returns the exit code.
pub async fn run(arguments: &SchemaArgs, logging: &LoggingArgs) -> u8 {
    let output = Output::new(logging.log_format, None);
    let result = match &arguments.action {
        SchemaAction::Draft(draft) => run_draft(draft, &output).await,
        SchemaAction::Diff(diff) => run_diff(diff, &output).await,
    };
    match result {
        Ok(code) => code,
        Err(error) => output.error(&error),
    }
}

async fn run_draft(arguments: &crate::cli::DraftArgs, output: &Output) -> anyhow::Result<u8> {
    let settings = crate::settings::resolve_draft(&arguments.source, &arguments.collation)?;
    let draft = crate::draft::draft(&settings).await?;
    let written = crate::draft::write_files(&draft, &arguments.out)?;
    let mut stdout = std::io::stdout();
    for path in &written {
        writeln!(stdout, "{}", path.display())?;
    }
    output.tell(&format!(
        "pg2dolt schema draft: {} tables into {}; {} REVIEW note(s) to read before committing the files to schema/",
        draft.signature.len(),
        arguments.out.display(),
        draft.reviews
    ));
    Ok(0)
}

async fn run_diff(arguments: &crate::cli::DiffArgs, output: &Output) -> anyhow::Result<u8> {
    let files = match &arguments.schema_dir {
        Some(directory) => schema::read_directory(directory)?,
        None => schema::embedded_files()?,
    };
    let texts: Vec<(String, String)> = files
        .into_iter()
        .map(|file| (file.name, file.sql))
        .collect();
    let Some(recorded) = crate::draft::read_signature(&texts) else {
        return Err(failure(
            FailureKind::Usage,
            "these schema files carry no pg2dolt source signature (only drafted files do); `pg2dolt plan` compares hand-written files with the source",
        ));
    };
    let settings = crate::settings::resolve_draft(&arguments.source, "utf8mb4_0900_bin")?;
    let current = crate::draft::current_signature(&settings).await?;
    let changes = crate::draft::diff(&recorded, &current);
    let mut stdout = std::io::stdout();
    for change in &changes {
        writeln!(stdout, "{change}")?;
    }
    if changes.is_empty() {
        output.tell(&format!(
            "pg2dolt schema diff: the source matches the schema files ({} tables)",
            current.len()
        ));
        Ok(0)
    } else {
        output.tell(&format!(
            "pg2dolt schema diff: {} change(s) in the source since the schema files were drafted",
            changes.len()
        ));
        Ok(FailureKind::Plan.exit_code())
    }
}
