//! Unit tests of the resolution: flags as a user types them, parsed by
//! the real command line, resolved into settings (no server is reached).

use clap::Parser as _;

use super::*;
use crate::cli::{Cli, Command};
use crate::error::exit_code;

/// The command line `pg2dolt COMMAND ARGUMENTS…`, parsed.
fn command(arguments: &[&str]) -> Command {
    let cli =
        Cli::try_parse_from(std::iter::once("pg2dolt").chain(arguments.iter().copied())).unwrap();
    cli.into_command().0
}

fn copy(arguments: &[&str]) -> anyhow::Result<Settings> {
    let mut all = vec!["copy", "--source", "postgres://app:secret@db.internal/shop"];
    all.extend_from_slice(arguments);
    match command(&all) {
        Command::Copy(arguments) => Settings::resolve(&arguments),
        other => panic!("not a copy: {other:?}"),
    }
}

#[test]
fn a_copy_resolves_its_defaults_from_the_urls() {
    let settings = copy(&["--target", "mysql://root:pw@dolt.internal:3306"]).unwrap();
    assert_eq!(settings.database, "shop", "the source database's name");
    assert_eq!(settings.destination, Destination::Database);
    assert!(!settings.source_display.contains("secret"));
    assert!(!settings.target_display.contains("pw"));
    assert_eq!(settings.schema_origin, "embedded");
    assert!(settings.target_database.jobs >= 1);
    assert!(settings.target.local_dolt.is_none());
    let named = copy(&["--target", "mysql://root@h", "--database", "staging"]).unwrap();
    assert_eq!(named.database, "staging");
}

#[test]
fn no_target_is_a_destination_not_a_flag_read_later() {
    let directory = std::env::temp_dir();
    let archive = directory.to_str().unwrap();
    let settings = copy(&[
        "--target",
        "mysql://root@h",
        "--no-target",
        "--archive",
        archive,
    ])
    .unwrap();
    assert_eq!(settings.destination, Destination::ArchiveOnly);
    assert!(settings.archive.is_some());
}

#[test]
fn bad_flags_are_usage_errors() {
    let refused = |arguments: &[&str]| {
        let error = copy(arguments).unwrap_err();
        assert_eq!(exit_code(&error), 2, "{error:#}");
        error.to_string()
    };
    let target = ["--target", "mysql://root@h"];
    assert!(refused(&["--target", "postgres://h/db"]).contains("mysql://"));
    assert!(refused(&[&target[..], &["--chunk-rows", "0"]].concat()).contains("--chunk-rows"));
    assert!(refused(&[&target[..], &["--database", "a/b"]].concat()).contains("a/b"));
    assert!(refused(&[&target[..], &["--jobs", "0"]].concat()).contains("--jobs"));
    let dolt = refused(&["--target", "dolt:"]);
    assert!(dolt.contains("names no directory"), "{dolt}");
}

#[test]
fn refresh_refuses_copy_flags_and_checks_its_own() {
    let refresh = |arguments: &[&str]| {
        let mut all = vec![
            "refresh",
            "--source",
            "postgres://h/shop",
            "--target",
            "mysql://root@h",
        ];
        all.extend_from_slice(arguments);
        match command(&all) {
            Command::Refresh(arguments) => RefreshSettings::resolve(&arguments),
            other => panic!("not a refresh: {other:?}"),
        }
    };
    let resolved = refresh(&["--branch", "staging", "--on-diverged", "merge"]).unwrap();
    assert_eq!(resolved.branch.name, "staging");
    assert_eq!(resolved.branch.tag_prefix, "pg2dolt/");
    assert_eq!(resolved.on_diverged, OnDiverged::Merge);
    for bad in [
        &["--replace"][..],
        &["--max-deleted-percent", "101"],
        &["--branch", "a b"],
        &["--tag-prefix", "x:y/"],
    ] {
        let error = refresh(bad).unwrap_err();
        assert_eq!(exit_code(&error), 2, "{bad:?}: {error:#}");
    }
}

#[test]
fn logging_flags_go_before_or_after_the_command() {
    for arguments in [&["-q", "history"][..], &["history", "-q"]] {
        let mut all = arguments.to_vec();
        all.extend_from_slice(&["--target", "mysql://root@h", "--database", "d"]);
        let cli =
            Cli::try_parse_from(std::iter::once("pg2dolt").chain(all.iter().copied())).unwrap();
        let (command, logging) = cli.into_command();
        assert!(logging.quiet, "{arguments:?}");
        assert!(matches!(command, Command::History(_)));
    }
}
