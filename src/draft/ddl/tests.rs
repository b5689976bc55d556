//! Unit tests of `ddl.rs`.

use super::*;

fn text_facts(longest: Option<u64>, indexed: bool) -> ColumnFacts {
    ColumnFacts {
        kind: PgKind::Text,
        base_type: "text".into(),
        type_name: "text".into(),
        typmod: -1,
        longest_chars: longest,
        longest_bytes: longest.map(|chars| chars * 2),
        indexed,
    }
}

#[test]
fn lengths_follow_the_documented_rule() {
    assert_eq!(varchar_length(40), Some(64));
    assert_eq!(varchar_length(42), Some(64));
    assert_eq!(varchar_length(43), Some(128));
    assert_eq!(varchar_length(0), Some(32));
    assert_eq!(varchar_length(170), Some(255));
    assert_eq!(varchar_length(10_922), Some(16_383));
    assert_eq!(varchar_length(11_000), None);
    assert_eq!(draft_type(&text_facts(Some(40), false)).sql, "VARCHAR(64)");
    assert_eq!(
        draft_type(&text_facts(Some(100_000), false)).sql,
        "MEDIUMTEXT"
    );
    assert_eq!(draft_type(&text_facts(Some(20_000), false)).sql, "TEXT");
    let indexed = draft_type(&text_facts(Some(700), true));
    assert_eq!(indexed.sql, "VARCHAR(768)");
    assert_eq!(indexed.review.len(), 1);
    assert!(draft_type(&text_facts(None, false)).review[0].contains("no values"));
}

#[test]
fn declared_types_keep_their_size() {
    let varchar = ColumnFacts {
        kind: PgKind::Text,
        base_type: "varchar".into(),
        typmod: 44,
        ..ColumnFacts::default()
    };
    assert_eq!(draft_type(&varchar).sql, "VARCHAR(40)");
    let numeric = ColumnFacts {
        kind: PgKind::Numeric,
        typmod: ((10 << 16) | 2) + 4,
        ..ColumnFacts::default()
    };
    assert_eq!(draft_type(&numeric).sql, "DECIMAL(10,2)");
    let stamp = ColumnFacts {
        kind: PgKind::Timestamptz,
        typmod: 3,
        ..ColumnFacts::default()
    };
    assert_eq!(draft_type(&stamp).sql, "DATETIME(3)");
    let labels = ColumnFacts {
        kind: PgKind::Enum(vec!["a".into(), "it's".into()]),
        ..ColumnFacts::default()
    };
    assert_eq!(draft_type(&labels).sql, "ENUM('a', 'it''s')");
}

#[test]
fn defaults_translate_or_say_why_not() {
    assert!(matches!(
        draft_default("nextval('users_id_seq'::regclass)", &PgKind::Integer),
        DraftedDefault::AutoIncrement
    ));
    assert!(matches!(
        draft_default("now()", &PgKind::Timestamptz),
        DraftedDefault::Value(text) if text == "CURRENT_TIMESTAMP(6)"
    ));
    assert!(matches!(
        draft_default("'active'::character varying", &PgKind::Text),
        DraftedDefault::Value(text) if text == "'active'"
    ));
    assert!(matches!(
        draft_default("0", &PgKind::Integer),
        DraftedDefault::Value(text) if text == "0"
    ));
    assert!(matches!(
        draft_default("true", &PgKind::Boolean),
        DraftedDefault::Value(text) if text == "TRUE"
    ));
    assert!(matches!(
        draft_default("gen_random_uuid()", &PgKind::Uuid),
        DraftedDefault::Untranslated(_)
    ));
}

#[test]
fn checks_mysql_can_parse() {
    assert_eq!(
        draft_check("CHECK ((price >= (0)::numeric))").as_deref(),
        Some("CHECK ((price >= (0)))")
    );
    assert_eq!(
        draft_check("CHECK (((status)::text = 'a'::text))").as_deref(),
        Some("CHECK (((status) = 'a'))")
    );
    assert_eq!(draft_check("CHECK ((email ~~ '%@%'::text))"), None);
    assert_eq!(draft_check("CHECK ((x = ANY (ARRAY[1, 2])))"), None);
}
