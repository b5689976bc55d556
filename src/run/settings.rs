//! What the run driver reads from each command's resolved settings.

use super::RunSettings;
use crate::mysql::TargetAddress;
use crate::report::Report;
use crate::settings::{ReportLocation, RestoreSettings, Settings};

impl RunSettings for Settings {
    fn report_to(&self) -> (Option<ReportLocation>, bool) {
        (self.target_database.report.clone(), self.storage.path_style)
    }

    fn target(&self) -> &TargetAddress {
        &self.target
    }

    fn describe(&self, report: &mut Report) {
        report.source.clone_from(&self.source_display);
        report.target.clone_from(&self.target_display);
        report.database.clone_from(&self.database);
        report.schema.clone_from(&self.schema_origin);
    }

    fn log(&self, command: &str) {
        self.log_effective(command);
    }
}

impl RunSettings for RestoreSettings {
    fn report_to(&self) -> (Option<ReportLocation>, bool) {
        (self.target_database.report.clone(), self.path_style)
    }

    fn target(&self) -> &TargetAddress {
        &self.target
    }

    fn describe(&self, report: &mut Report) {
        report.target.clone_from(&self.target_display);
        report.schema = format!("archive {}", self.from);
    }

    fn log(&self, _command: &str) {
        tracing::info!(from = %self.from, target = %self.target_display, database = ?self.database,
            replace = self.target_database.replace, jobs = self.target_database.jobs, "pg2dolt restore starting");
    }
}

/// Copy's settings with a command's own (refresh's, verify's branch).
impl<T> RunSettings for (Settings, T) {
    fn report_to(&self) -> (Option<ReportLocation>, bool) {
        self.0.report_to()
    }

    fn target(&self) -> &TargetAddress {
        &self.0.target
    }

    fn describe(&self, report: &mut Report) {
        self.0.describe(report);
    }

    fn log(&self, command: &str) {
        self.0.log_effective(command);
    }
}
