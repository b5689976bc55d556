//! Unit tests of `masking.rs`: the rules put on a plan built from two
//! catalogs, as a copy's preflight does.

use super::*;
use crate::column_types::PgKind;
use crate::mysql::catalog::ForeignKeyColumn;
use crate::plan::fixtures::{source, target};
use crate::plan::{Mappings, build_plan};

/// `customer` (id, email, note) and `orders` (id, customer_email → customer.email).
fn plan() -> Plan {
    let sources = [
        source(
            "customer",
            &[
                ("id", PgKind::Integer),
                ("email", PgKind::Text),
                ("note", PgKind::Text),
            ],
        ),
        source(
            "orders",
            &[("id", PgKind::Integer), ("customer_email", PgKind::Text)],
        ),
    ];
    let mut customer = target(
        "customer",
        &[
            ("id", "int", false),
            ("email", "varchar(255)", false),
            ("note", "text", false),
        ],
    );
    customer.primary_key = vec!["id".into()];
    customer.unique_keys = vec![vec!["email".into()]];
    let mut orders = target(
        "orders",
        &[
            ("id", "int", false),
            ("customer_email", "varchar(255)", false),
        ],
    );
    orders.primary_key = vec!["id".into()];
    orders.foreign_keys = vec![ForeignKeyColumn {
        column: "customer_email".into(),
        referenced_table: "customer".into(),
        referenced_column: "email".into(),
    }];
    orders.references = vec!["customer".into()];
    let plan = build_plan(&sources, &[], &[customer, orders], &Mappings::default());
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    plan
}

fn masking(rules: &str, new_columns: NewColumns) -> Masking {
    Masking {
        rules: MaskRules::parse(rules).unwrap(),
        key: Some(MaskKey::new(b"0123456789abcdef0123456789abcdef\n").unwrap()),
        new_columns,
    }
}

fn column<'a>(plan: &'a Plan, table: &str, name: &str) -> &'a ColumnPlan {
    let table = plan.tables.iter().find(|t| t.target.name == table).unwrap();
    table.columns.iter().find(|c| c.source == name).unwrap()
}

#[test]
fn a_rule_masks_its_column_and_a_foreign_key_inherits_the_mask() {
    let mut plan = plan();
    let rules = masking(
        "customer.email = email\ncustomer.note = text\n",
        NewColumns::Fail,
    );
    let problems = apply_masks(&mut plan, &rules, None);
    assert!(problems.is_empty(), "{problems:?}");
    let email = column(&plan, "customer", "email").mask.clone().unwrap();
    assert_eq!(email.generator, Generator::Email);
    assert!(column(&plan, "customer", "note").mask.is_some());
    assert!(column(&plan, "customer", "id").mask.is_none());
    // orders.customer_email references customer.email: the same mask, so
    // the rows still join.
    let inherited = column(&plan, "orders", "customer_email")
        .mask
        .clone()
        .unwrap();
    assert_eq!(inherited.generator, Generator::Email);
    assert!(
        plan.warnings
            .iter()
            .any(|warning| warning.contains("so it still joins")),
        "{:?}",
        plan.warnings
    );
    assert_eq!(plan.mask_rules_sha256, Some(rules.rules.sha256.clone()));
}

#[test]
fn rules_that_cannot_hold_are_plan_problems() {
    let mut plan = plan();
    let rules = masking(
        "customer.nope = text\ncustomer.email = first_name\ncustomer.id = date_shift(3)\n",
        NewColumns::Fail,
    );
    let problems: Vec<String> = apply_masks(&mut plan, &rules, None)
        .iter()
        .map(ToString::to_string)
        .collect();
    let found = |text: &str| problems.iter().any(|problem| problem.contains(text));
    assert!(
        found("names customer.nope, which is not a copied column"),
        "{problems:?}"
    );
    // A unique key masked by a generator that can merge two values.
    assert!(found("email is a unique-key column"), "{problems:?}");
    assert!(found("date_shift(3) does not suit"), "{problems:?}");
    // A foreign key masked otherwise than the column it references.
    let mut plan = self::plan();
    let rules = masking(
        "customer.email = email\norders.customer_email = hash\n",
        NewColumns::Fail,
    );
    let problems = apply_masks(&mut plan, &rules, None);
    assert!(
        problems
            .iter()
            .any(|problem| problem.to_string().contains("mask it the same way")),
        "{problems:?}"
    );
}

#[test]
fn a_column_new_since_the_baseline_fails_is_nulled_or_copied() {
    let rules = masking("customer.email = email\n", NewColumns::Fail);
    // The baseline knew customer.id and customer.email: note is new.
    let mut known = baseline_of(&plan().tables, &rules.rules);
    known.columns.insert(
        "public.customer".into(),
        ["id".into(), "email".into()].into(),
    );
    let mut plan = plan();
    let problems = apply_masks(&mut plan, &rules, Some(&known));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].to_string().contains("customer.note is new"),
        "{problems:?}"
    );

    let nulling = masking("customer.email = email\n", NewColumns::Null);
    let mut plan = self::plan();
    assert!(apply_masks(&mut plan, &nulling, Some(&known)).is_empty());
    let nulled = column(&plan, "customer", "note").mask.clone().unwrap();
    assert_eq!(nulled.generator, Generator::Null);

    let copying = masking("customer.email = email\n", NewColumns::Copy);
    let mut plan = self::plan();
    assert!(apply_masks(&mut plan, &copying, Some(&known)).is_empty());
    assert!(column(&plan, "customer", "note").mask.is_none());
    assert!(
        plan.warnings
            .iter()
            .any(|warning| warning.contains("copied in clear"))
    );

    // Other rules than the baseline's: no column counts as new.
    let other = masking(
        "customer.email = email\ncustomer.note = text\n",
        NewColumns::Fail,
    );
    let mut plan = self::plan();
    assert!(apply_masks(&mut plan, &other, Some(&known)).is_empty());
}
