//! The drafted MySQL/Dolt type for a Postgres column: the conversion
//! table's target type, with lengths measured from the data where Postgres
//! declares none; and the defaults and CHECK constraints that translate.
//!
//! Pure: the catalog and the measurements come in, SQL text goes out.

use crate::column_types::PgKind;

/// VARCHAR lengths the draft chooses from (16383 is the most utf8mb4
/// characters a MySQL row can hold in one VARCHAR).
const VARCHAR_STEPS: [u64; 10] = [32, 64, 128, 255, 512, 1024, 2048, 4096, 8192, 16383];

/// InnoDB's index key limit, 3072 bytes, in utf8mb4 characters.
pub const INDEXABLE_CHARS: u64 = 768;

/// What the draft knows of one column.
#[derive(Debug, Clone, Default)]
pub struct ColumnFacts {
    /// the base type's kind
    pub kind: PgKind,
    /// the base type's name (`int4`, `varchar`, `bpchar`, `inet`, …)
    pub base_type: String,
    /// the type as Postgres prints it (`character varying(40)`)
    pub type_name: String,
    /// the type modifier (`atttypmod`, or the domain's), -1 without one
    pub typmod: i32,
    /// longest value in characters (text-like columns), when measured
    pub longest_chars: Option<u64>,
    /// longest value in bytes, when measured
    pub longest_bytes: Option<u64>,
    /// the column is in a key or an index
    pub indexed: bool,
}

/// A drafted column type and any notes for the reviewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drafted {
    /// the MySQL column type
    pub sql: String,
    /// what the reviewer should check (`-- REVIEW:` comments)
    pub review: Vec<String>,
}

impl Drafted {
    fn plain(sql: impl Into<String>) -> Drafted {
        Drafted {
            sql: sql.into(),
            review: Vec::new(),
        }
    }

    fn noted(sql: impl Into<String>, review: impl Into<String>) -> Drafted {
        Drafted {
            sql: sql.into(),
            review: vec![review.into()],
        }
    }
}

/// The documented length rule: the first step of 32, 64, 128, 255, 512,
/// 1024, … 16383 at or above 1.5 × the longest value; `None` when even
/// 16383 is too short (a TEXT type then).
#[must_use]
pub fn varchar_length(longest: u64) -> Option<u64> {
    let wanted = longest.saturating_mul(3).div_ceil(2).max(1);
    VARCHAR_STEPS.into_iter().find(|step| *step >= wanted)
}

/// TEXT or BLOB size for a longest value of `bytes` (with the same 1.5×
/// headroom): TINY…/plain/MEDIUM…/LONG….
fn large_type(bytes: u64, suffix: &str) -> String {
    let wanted = bytes.saturating_mul(3).div_ceil(2);
    let prefix = match wanted {
        0..=65_535 => "",
        65_536..=16_777_215 => "MEDIUM",
        _ => "LONG",
    };
    format!("{prefix}{suffix}")
}

/// The target type for a column.
#[must_use]
pub fn draft_type(facts: &ColumnFacts) -> Drafted {
    let modifier = (facts.typmod >= 0).then_some(facts.typmod);
    match &facts.kind {
        PgKind::SmallInt => Drafted::plain("SMALLINT"),
        PgKind::Integer => Drafted::plain("INT"),
        PgKind::BigInt => Drafted::plain("BIGINT"),
        PgKind::Oid => Drafted::plain("INT UNSIGNED"),
        PgKind::Numeric => numeric_type(modifier),
        PgKind::Money => Drafted::plain("DECIMAL(19,2)"),
        PgKind::Real => Drafted::plain("FLOAT"),
        PgKind::Double => Drafted::plain("DOUBLE"),
        PgKind::Boolean => Drafted::plain("BOOLEAN"),
        PgKind::Text | PgKind::Char => text_type(facts, modifier),
        PgKind::Bytea => bytea_type(facts),
        PgKind::Date => Drafted::plain("DATE"),
        PgKind::Timestamp => Drafted::plain(format!("DATETIME({})", precision(modifier))),
        PgKind::Timestamptz => Drafted::noted(
            format!("DATETIME({})", precision(modifier)),
            "timestamptz: stored as UTC in a DATETIME (TIMESTAMP holds only 1970–2038)",
        ),
        PgKind::Time => Drafted::plain(format!("TIME({})", precision(modifier))),
        PgKind::Timetz => Drafted::noted(
            format!("TIME({})", precision(modifier)),
            "timetz: the time of day normalised to UTC; the offset is not kept",
        ),
        PgKind::Interval => Drafted::noted(
            "VARCHAR(64)",
            "interval: ISO 8601 text (TIME would refuse months and years)",
        ),
        PgKind::Uuid => Drafted::plain("CHAR(36)"),
        PgKind::Json | PgKind::Jsonb | PgKind::Array | PgKind::Composite | PgKind::Hstore => {
            Drafted::plain("JSON")
        }
        PgKind::Enum(labels) => Drafted::plain(format!(
            "ENUM({})",
            labels
                .iter()
                .map(|label| quote(label))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        PgKind::Bit => bit_type(facts, modifier),
        PgKind::Range | PgKind::Other => other_type(facts),
    }
}

fn precision(modifier: Option<i32>) -> i32 {
    modifier.map_or(6, |value| value.clamp(0, 6))
}

fn numeric_type(modifier: Option<i32>) -> Drafted {
    let Some(modifier) = modifier else {
        return Drafted::noted(
            "DECIMAL(65,30)",
            "numeric without precision: DECIMAL(65,30) holds 35 digits before and 30 after the point; narrow it to the data",
        );
    };
    let precision = ((modifier - 4) >> 16) & 0xffff;
    let scale = (modifier - 4) & 0xffff;
    if precision > 65 || scale > 30 || scale > precision {
        Drafted::noted(
            "DECIMAL(65,30)",
            format!("numeric({precision},{scale}) is beyond MySQL's DECIMAL(65,30)"),
        )
    } else {
        Drafted::plain(format!("DECIMAL({precision},{scale})"))
    }
}

fn text_type(facts: &ColumnFacts, modifier: Option<i32>) -> Drafted {
    let declared = modifier
        .filter(|value| *value >= 4)
        .and_then(|value| u64::try_from(value - 4).ok());
    let mut review = Vec::new();
    let sql = match declared {
        // char(n) keeps its padding as text: a VARCHAR(n) holds it exactly,
        // and MySQL's CHAR would drop trailing spaces on reading.
        Some(length) if length <= 16_383 => format!("VARCHAR({length})"),
        Some(_) => large_type(facts.longest_bytes.unwrap_or(u64::MAX / 2), "TEXT"),
        None => match (
            facts.longest_chars,
            varchar_length(facts.longest_chars.unwrap_or(0)),
        ) {
            (None, _) => {
                review.push("no values to measure: VARCHAR(255) is a guess".to_string());
                "VARCHAR(255)".to_string()
            }
            (Some(_), Some(length)) if !facts.indexed || length <= INDEXABLE_CHARS => {
                format!("VARCHAR({length})")
            }
            (Some(longest), Some(_)) if longest <= INDEXABLE_CHARS => {
                review.push(format!(
                    "indexed: capped at {INDEXABLE_CHARS} characters (InnoDB's 3072-byte key limit); the longest value has {longest}"
                ));
                format!("VARCHAR({INDEXABLE_CHARS})")
            }
            (Some(longest), _) => {
                if facts.indexed {
                    review.push(format!(
                        "indexed, but the longest value has {longest} characters: too long for a key; index a prefix or a hash"
                    ));
                }
                large_type(facts.longest_bytes.unwrap_or(longest * 4), "TEXT")
            }
        },
    };
    if facts.base_type == "citext" {
        review.push(
            "citext: compares ignoring case in Postgres; pick a _ci collation for this column if that matters"
                .to_string(),
        );
    }
    Drafted { sql, review }
}

fn bytea_type(facts: &ColumnFacts) -> Drafted {
    match facts.longest_bytes {
        Some(longest) if facts.indexed => match varchar_length(longest) {
            Some(length) if length <= 3072 => Drafted::plain(format!("VARBINARY({length})")),
            _ => Drafted::noted(
                large_type(longest, "BLOB"),
                "indexed bytea longer than a key can be: index a prefix or a hash",
            ),
        },
        Some(longest) => Drafted::plain(large_type(longest, "BLOB")),
        None => Drafted::noted("LONGBLOB", "no values to measure: LONGBLOB holds anything"),
    }
}

fn bit_type(facts: &ColumnFacts, modifier: Option<i32>) -> Drafted {
    match (facts.base_type.as_str(), modifier) {
        ("bit", Some(bits)) if (1..=64).contains(&bits) => Drafted::plain(format!("BIT({bits})")),
        _ => {
            let longest = facts.longest_chars.unwrap_or(64);
            Drafted::noted(
                format!("VARCHAR({})", varchar_length(longest).unwrap_or(16_383)),
                "bit varying: kept as a text of 0 and 1 (BIT(n) would lose the length)",
            )
        }
    }
}

fn other_type(facts: &ColumnFacts) -> Drafted {
    let sql = match (facts.base_type.as_str(), facts.longest_chars) {
        ("inet" | "cidr", _) => return Drafted::plain("VARCHAR(43)"),
        ("macaddr", _) => return Drafted::plain("CHAR(17)"),
        ("macaddr8", _) => return Drafted::plain("CHAR(23)"),
        (_, Some(longest)) => varchar_length(longest).map_or_else(
            || large_type(facts.longest_bytes.unwrap_or(longest * 4), "TEXT"),
            |length| format!("VARCHAR({length})"),
        ),
        (_, None) => "TEXT".to_string(),
    };
    Drafted::noted(
        sql,
        format!(
            "{}: copied as its text form; no MySQL type keeps its meaning",
            facts.type_name
        ),
    )
}

/// A Postgres column default as MySQL text, or why not.
pub enum DraftedDefault {
    /// `DEFAULT …` text
    Value(String),
    /// the column becomes AUTO_INCREMENT (serial, identity)
    AutoIncrement,
    /// not translated: the reason
    Untranslated(String),
}

/// Translates a default expression (`pg_get_expr` text).
#[must_use]
pub fn draft_default(expression: &str, kind: &PgKind) -> DraftedDefault {
    let text = strip_casts(expression.trim());
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("nextval(") {
        return DraftedDefault::AutoIncrement;
    }
    if matches!(
        lower.as_str(),
        "now()"
            | "current_timestamp"
            | "localtimestamp"
            | "transaction_timestamp()"
            | "statement_timestamp()"
    ) && matches!(kind, PgKind::Timestamp | PgKind::Timestamptz)
    {
        return DraftedDefault::Value("CURRENT_TIMESTAMP(6)".to_string());
    }
    if matches!(lower.as_str(), "current_date") && *kind == PgKind::Date {
        return DraftedDefault::Value("(CURRENT_DATE)".to_string());
    }
    if matches!(lower.as_str(), "true" | "false") {
        return DraftedDefault::Value(lower.to_uppercase());
    }
    if lower == "null" {
        return DraftedDefault::Value("NULL".to_string());
    }
    let number = text.trim_start_matches(['(', '-']).trim_end_matches(')');
    if !number.is_empty()
        && number
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'.' || byte == b'e' || byte == b'-')
    {
        return DraftedDefault::Value(text.trim_matches(['(', ')']).to_string());
    }
    if let Some(literal) = single_literal(&text) {
        return match kind {
            PgKind::Json | PgKind::Jsonb | PgKind::Array | PgKind::Composite | PgKind::Hstore => {
                DraftedDefault::Untranslated(format!(
                    "default {expression} (MySQL takes no literal JSON default)"
                ))
            }
            _ => DraftedDefault::Value(quote(&literal)),
        };
    }
    DraftedDefault::Untranslated(format!("default {expression} not translated"))
}

/// A CHECK constraint MySQL can parse, or `None`.
#[must_use]
pub fn draft_check(definition: &str) -> Option<String> {
    // pg_get_constraintdef: "CHECK ((price >= (0)::numeric))"
    let body = definition.trim().strip_prefix("CHECK")?.trim();
    if definition.contains("NOT VALID") {
        return None;
    }
    let cleaned = strip_casts(body);
    let allowed = |character: char| {
        character.is_ascii_alphanumeric() || " _()<>=!'.,-+*/%\"".contains(character)
    };
    let words_ok = cleaned
        .split(|character: char| !character.is_ascii_alphabetic())
        .all(|word| {
            !matches!(
                word.to_ascii_uppercase().as_str(),
                "ANY" | "ALL" | "ARRAY" | "SIMILAR" | "ILIKE" | "OPERATOR" | "COLLATE"
            )
        });
    (cleaned.chars().all(allowed) && words_ok && !cleaned.contains("~~"))
        .then(|| format!("CHECK {cleaned}"))
}

/// Removes Postgres casts (`::numeric`, `::character varying`,
/// `::timestamp without time zone`) outside quotes.
fn strip_casts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut characters = text.chars().peekable();
    let mut quoted = false;
    while let Some(character) = characters.next() {
        if character == '\'' {
            quoted = !quoted;
            out.push(character);
            continue;
        }
        if !quoted && character == ':' && characters.peek() == Some(&':') {
            characters.next();
            // the type name: words, spaces between words, brackets
            while let Some(&next) = characters.peek() {
                let continues = next.is_ascii_alphanumeric()
                    || next == '_'
                    || next == '"'
                    || next == '['
                    || next == ']'
                    || (next == ' ' && type_word_follows(&characters));
                if !continues {
                    break;
                }
                characters.next();
            }
            continue;
        }
        out.push(character);
    }
    out
}

/// True when the text after a space continues a multi-word type name
/// (`character varying`, `timestamp without time zone`, `double precision`).
fn type_word_follows(characters: &std::iter::Peekable<std::str::Chars<'_>>) -> bool {
    let rest: String = characters.clone().skip(1).take(12).collect();
    ["varying", "without", "with", "time", "zone", "precision"]
        .iter()
        .any(|word| rest.starts_with(word))
}

/// `'abc'` (one quoted literal, quotes doubled inside) as its value.
fn single_literal(text: &str) -> Option<String> {
    let inner = text.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut value = String::new();
    let mut characters = inner.chars().peekable();
    while let Some(character) = characters.next() {
        if character == '\'' && characters.next() != Some('\'') {
            return None;
        }
        value.push(character);
    }
    Some(value)
}

/// A MySQL string literal.
#[must_use]
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

#[cfg(test)]
mod tests;
