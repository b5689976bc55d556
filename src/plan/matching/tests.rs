//! Unit tests of `matching.rs`.

use super::*;
use crate::column_types::PgKind;
use crate::plan::fixtures::{source, target};

#[test]
fn matches_exactly_then_ignoring_case_and_underscores_then_by_mapping() {
    let sources = [
        source(
            "invoice_line",
            &[
                ("invoice_line_id", PgKind::Integer),
                ("unit_price", PgKind::Numeric),
            ],
        ),
        source("media", &[("id", PgKind::Integer)]),
    ];
    let targets = [
        target(
            "InvoiceLine",
            &[
                ("InvoiceLineId", "int(11)", false),
                ("Price", "decimal(10,2)", false),
                ("Total", "decimal(10,2)", true),
            ],
        ),
        target("media", &[("id", "int", false)]),
    ];
    let mappings = Mappings::parse(["invoice_line.unit_price = Price"]).unwrap();
    let plan = build_plan(&sources, &[], &targets, &mappings);
    assert_eq!(plan.problems, Vec::new());
    let plans = plan.tables;
    assert_eq!(plans[0].rule, MatchRule::IgnoringCaseAndUnderscores);
    assert_eq!(
        plans[0].columns[0].rule,
        MatchRule::IgnoringCaseAndUnderscores
    );
    assert_eq!(plans[0].columns[1].rule, MatchRule::Mapping);
    assert_eq!(plans[0].skipped_generated, vec!["Total".to_string()]);
    assert_eq!(plans[1].rule, MatchRule::Exact);
}

#[test]
fn every_mismatch_is_reported_at_once() {
    let sources = [
        source(
            "users",
            &[
                ("id", PgKind::Integer),
                ("extra", PgKind::Text),
                ("blob", PgKind::Bytea),
            ],
        ),
        source("lonely", &[("id", PgKind::Integer)]),
    ];
    let targets = [
        target(
            "users",
            &[
                ("id", "int", false),
                ("blob", "int", false),
                ("missing", "text", false),
            ],
        ),
        target("orphan", &[("id", "int", false)]),
    ];
    let plan = build_plan(&sources, &[], &targets, &Mappings::default());
    let kinds: Vec<ProblemKind> = plan.problems.iter().map(|problem| problem.kind).collect();
    assert_eq!(
        kinds,
        [
            ProblemKind::MissingOnTarget,
            ProblemKind::TypePair,
            ProblemKind::MissingOnSource,
            ProblemKind::MissingOnTarget,
            ProblemKind::MissingOnSource,
        ]
    );
    let text: Vec<String> = plan.problems.iter().map(ToString::to_string).collect();
    let text = text.join("\n");
    assert!(
        text.contains("table public.users → users, column extra: source column"),
        "{text}"
    );
    assert!(
        text.contains("column blob → blob (int): t cannot become int"),
        "{text}"
    );
    assert!(
        text.contains("column missing: target column has no source"),
        "{text}"
    );
    assert!(text.contains("source table public.lonely"), "{text}");
    assert!(
        text.contains("target table orphan: no source table"),
        "{text}"
    );
    // The matched columns of a table with problems are still planned,
    // so their values can be checked in the same run.
    assert_eq!(plan.tables[0].columns.len(), 1);
}

#[test]
fn excluded_sources_leave_their_targets_empty_with_a_warning() {
    let targets = [target("users", &[("id", "int", false)])];
    let excluded = [source("users", &[("id", PgKind::Integer)])];
    let plan = build_plan(&[], &excluded, &targets, &Mappings::default());
    assert_eq!(plan.problems, Vec::new());
    assert!(
        plan.warnings[0].contains("stays empty"),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn qualified_mappings_and_unused_ones() {
    let sources = [source("users", &[("id", PgKind::Integer)])];
    let targets = [target("people", &[("person_id", "int", false)])];
    let mappings =
        Mappings::parse(["public.users=people", "public.users.id=person_id", "typo=x"]).unwrap();
    let plan = build_plan(&sources, &[], &targets, &mappings);
    assert_eq!(plan.tables[0].columns[0].target, "person_id");
    assert_eq!(plan.problems.len(), 1, "{:?}", plan.problems);
    assert!(plan.problems[0].detail.contains("typo"));
}

#[test]
fn ambiguous_names_are_not_guessed() {
    let sources = [source("ab", &[("id", PgKind::Integer)])];
    let targets = [
        target("A_b", &[("id", "int", false)]),
        target("a_B", &[("id", "int", false)]),
    ];
    let plan = build_plan(&sources, &[], &targets, &Mappings::default());
    assert!(
        plan.problems[0].detail.contains("ambiguous"),
        "{:?}",
        plan.problems
    );
}
