//! The column types pg2dolt reasons about: Postgres kinds on the source and
//! MySQL column types on the target, parsed from catalog text.
//!
//! Pure: the catalogs fill these in; convert and plan decide with them.

use std::fmt;

/// A Postgres column's type, after resolving domains to their base type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PgKind {
    /// smallint
    SmallInt,
    /// integer
    Integer,
    /// bigint
    BigInt,
    /// oid
    Oid,
    /// numeric / decimal
    Numeric,
    /// money: copied as `col::numeric`, then like numeric
    Money,
    /// real
    Real,
    /// double precision
    Double,
    /// boolean
    Boolean,
    /// text, varchar, name, citext
    Text,
    /// character(n) (bpchar): blank-padded
    Char,
    /// bytea
    Bytea,
    /// date
    Date,
    /// timestamp without time zone
    Timestamp,
    /// timestamp with time zone
    Timestamptz,
    /// time without time zone
    Time,
    /// time with time zone: normalised to UTC
    Timetz,
    /// interval (ISO 8601 text, as the session's `IntervalStyle` prints it)
    Interval,
    /// bit(n) and bit varying: a string of 0 and 1
    Bit,
    /// uuid
    Uuid,
    /// json
    Json,
    /// jsonb
    Jsonb,
    /// a user enum, with its labels in order
    Enum(Vec<String>),
    /// any array: copied as JSON through `array_to_json`
    Array,
    /// a composite (row) type: copied as JSON through `to_jsonb`
    Composite,
    /// a range or multirange: its text form, or a JSON string of it
    Range,
    /// hstore (extension): a JSON object through `to_jsonb`, or its text form
    Hstore,
    /// any other type (inet, cidr, macaddr, xml, tsvector, geometric, …):
    /// only its text form is copied, into CHAR/VARCHAR/TEXT targets
    #[default]
    Other,
}

impl PgKind {
    /// Classifies a base type from `pg_type` facts.
    #[must_use]
    pub fn classify(
        type_name: &str,
        typtype: u8,
        is_array: bool,
        enum_labels: Option<&[String]>,
    ) -> PgKind {
        if is_array {
            return PgKind::Array;
        }
        match typtype {
            b'e' => {
                return PgKind::Enum(enum_labels.map(<[String]>::to_vec).unwrap_or_default());
            }
            b'c' => return PgKind::Composite,
            b'r' | b'm' => return PgKind::Range,
            _ => {}
        }
        match type_name {
            "int2" => PgKind::SmallInt,
            "int4" => PgKind::Integer,
            "int8" => PgKind::BigInt,
            "oid" => PgKind::Oid,
            "numeric" => PgKind::Numeric,
            "money" => PgKind::Money,
            "float4" => PgKind::Real,
            "float8" => PgKind::Double,
            "bool" => PgKind::Boolean,
            "text" | "varchar" | "name" | "citext" => PgKind::Text,
            "bpchar" => PgKind::Char,
            "bytea" => PgKind::Bytea,
            "date" => PgKind::Date,
            "timestamp" => PgKind::Timestamp,
            "timestamptz" => PgKind::Timestamptz,
            "time" => PgKind::Time,
            "timetz" => PgKind::Timetz,
            "interval" => PgKind::Interval,
            "bit" | "varbit" => PgKind::Bit,
            "hstore" => PgKind::Hstore,
            "uuid" => PgKind::Uuid,
            "json" => PgKind::Json,
            "jsonb" => PgKind::Jsonb,
            _ => PgKind::Other,
        }
    }
}

/// What the COPY's select list reads for a column: Postgres does the
/// conversions it does exactly (design: "Let Postgres do what it does
/// exactly").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceExpression {
    /// the column itself, in its text form
    Column,
    /// `array_to_json(col)`: arrays of any element type and dimension
    ArrayToJson,
    /// `to_jsonb(col)`: composites, hstore (an object), ranges (a string)
    ToJsonb,
    /// `col::numeric`: money without its currency symbol and separators
    Numeric,
}

impl SourceExpression {
    /// The expression for a (source kind, target type) pair.
    #[must_use]
    pub fn choose(source: &PgKind, target: &MySqlType) -> SourceExpression {
        match source {
            PgKind::Array => SourceExpression::ArrayToJson,
            PgKind::Composite => SourceExpression::ToJsonb,
            PgKind::Hstore | PgKind::Range if *target == MySqlType::Json => {
                SourceExpression::ToJsonb
            }
            PgKind::Money => SourceExpression::Numeric,
            _ => SourceExpression::Column,
        }
    }

    /// The select-list text for the (already quoted) column.
    #[must_use]
    pub fn apply(self, quoted_column: &str) -> String {
        match self {
            SourceExpression::Column => quoted_column.to_string(),
            SourceExpression::ArrayToJson => format!("array_to_json({quoted_column})"),
            SourceExpression::ToJsonb => format!("to_jsonb({quoted_column})"),
            SourceExpression::Numeric => format!("{quoted_column}::numeric"),
        }
    }
}

/// A MySQL/MariaDB/Dolt column type, parsed from `COLUMN_TYPE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MySqlType {
    /// TINYINT … BIGINT, `bytes` wide.
    Integer {
        /// storage width: 1, 2, 3, 4 or 8
        bytes: u8,
        /// UNSIGNED
        unsigned: bool,
    },
    /// DECIMAL(p,s)
    Decimal {
        /// total digits
        precision: u32,
        /// digits after the point
        scale: u32,
        /// UNSIGNED (deprecated but parsed)
        unsigned: bool,
    },
    /// FLOAT
    Float,
    /// DOUBLE
    Double,
    /// CHAR(n), n in characters
    Char(u32),
    /// VARCHAR(n), n in characters
    Varchar(u32),
    /// TINYTEXT … LONGTEXT, with the maximum length in bytes
    Text(u64),
    /// BINARY(n)
    Binary(u32),
    /// VARBINARY(n)
    Varbinary(u32),
    /// TINYBLOB … LONGBLOB, with the maximum length in bytes
    Blob(u64),
    /// DATE
    Date,
    /// DATETIME(fsp)
    Datetime(u8),
    /// TIMESTAMP(fsp)
    Timestamp(u8),
    /// TIME(fsp)
    Time(u8),
    /// BIT(n), n bits
    Bit(u32),
    /// YEAR: 1901–2155, and 0 (stored as 0000)
    Year,
    /// JSON
    Json,
    /// ENUM('a', …)
    Enum(Vec<String>),
    /// anything else, by its column type text
    Other(String),
}

impl MySqlType {
    /// Parses `information_schema.COLUMNS.COLUMN_TYPE` (e.g. `int(11) unsigned`,
    /// `varchar(40)`, `decimal(10,2)`, `enum('a','b')`).
    #[must_use]
    pub fn parse(column_type: &str) -> MySqlType {
        let lower = column_type.trim().to_ascii_lowercase();
        let unsigned = lower.contains(" unsigned");
        let (base, arguments) = match lower.find('(') {
            Some(open) => {
                let close = lower.rfind(')').unwrap_or(lower.len());
                (
                    lower[..open].trim(),
                    column_type.trim()[open + 1..close].to_string(),
                )
            }
            None => (lower.split_whitespace().next().unwrap_or(""), String::new()),
        };
        let numbers: Vec<u64> = arguments
            .split(',')
            .filter_map(|part| part.trim().parse().ok())
            .collect();
        let first = |default: u64| numbers.first().copied().unwrap_or(default);
        let narrow = |value: u64| u32::try_from(value).unwrap_or(u32::MAX);
        let fsp = |value: u64| u8::try_from(value.min(6)).unwrap_or(6);
        match base {
            "tinyint" | "bool" | "boolean" => MySqlType::Integer { bytes: 1, unsigned },
            "smallint" => MySqlType::Integer { bytes: 2, unsigned },
            "mediumint" => MySqlType::Integer { bytes: 3, unsigned },
            "int" | "integer" => MySqlType::Integer { bytes: 4, unsigned },
            "bigint" => MySqlType::Integer { bytes: 8, unsigned },
            "decimal" | "numeric" | "dec" | "fixed" => MySqlType::Decimal {
                precision: narrow(first(10)),
                scale: narrow(numbers.get(1).copied().unwrap_or(0)),
                unsigned,
            },
            "float" => MySqlType::Float,
            "double" | "double precision" | "real" => MySqlType::Double,
            "char" | "nchar" | "national char" => MySqlType::Char(narrow(first(1))),
            "varchar" | "nvarchar" | "national varchar" => MySqlType::Varchar(narrow(first(0))),
            "tinytext" => MySqlType::Text(255),
            "text" => MySqlType::Text(65_535),
            "mediumtext" => MySqlType::Text(16_777_215),
            "longtext" => MySqlType::Text(4_294_967_295),
            "binary" => MySqlType::Binary(narrow(first(1))),
            "varbinary" => MySqlType::Varbinary(narrow(first(0))),
            "tinyblob" => MySqlType::Blob(255),
            "blob" => MySqlType::Blob(65_535),
            "mediumblob" => MySqlType::Blob(16_777_215),
            "longblob" => MySqlType::Blob(4_294_967_295),
            "date" => MySqlType::Date,
            "datetime" => MySqlType::Datetime(fsp(first(0))),
            "timestamp" => MySqlType::Timestamp(fsp(first(0))),
            "time" => MySqlType::Time(fsp(first(0))),
            "bit" => MySqlType::Bit(narrow(first(1))),
            "year" => MySqlType::Year,
            "json" => MySqlType::Json,
            "enum" => MySqlType::Enum(parse_quoted_list(&arguments)),
            _ => MySqlType::Other(column_type.to_string()),
        }
    }
}

impl fmt::Display for MySqlType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unsigned = |flag: bool| if flag { " UNSIGNED" } else { "" };
        match self {
            MySqlType::Integer {
                bytes,
                unsigned: flag,
            } => {
                let name = match bytes {
                    1 => "TINYINT",
                    2 => "SMALLINT",
                    3 => "MEDIUMINT",
                    4 => "INT",
                    _ => "BIGINT",
                };
                write!(formatter, "{name}{}", unsigned(*flag))
            }
            MySqlType::Decimal {
                precision,
                scale,
                unsigned: flag,
            } => {
                write!(formatter, "DECIMAL({precision},{scale}){}", unsigned(*flag))
            }
            MySqlType::Float => write!(formatter, "FLOAT"),
            MySqlType::Double => write!(formatter, "DOUBLE"),
            MySqlType::Char(length) => write!(formatter, "CHAR({length})"),
            MySqlType::Varchar(length) => write!(formatter, "VARCHAR({length})"),
            MySqlType::Text(bytes) => write!(formatter, "{}", text_name("TEXT", *bytes)),
            MySqlType::Binary(length) => write!(formatter, "BINARY({length})"),
            MySqlType::Varbinary(length) => write!(formatter, "VARBINARY({length})"),
            MySqlType::Blob(bytes) => write!(formatter, "{}", text_name("BLOB", *bytes)),
            MySqlType::Date => write!(formatter, "DATE"),
            MySqlType::Datetime(fsp) => write!(formatter, "DATETIME({fsp})"),
            MySqlType::Timestamp(fsp) => write!(formatter, "TIMESTAMP({fsp})"),
            MySqlType::Time(fsp) => write!(formatter, "TIME({fsp})"),
            MySqlType::Bit(bits) => write!(formatter, "BIT({bits})"),
            MySqlType::Year => write!(formatter, "YEAR"),
            MySqlType::Json => write!(formatter, "JSON"),
            MySqlType::Enum(labels) => write!(formatter, "ENUM({} labels)", labels.len()),
            MySqlType::Other(text) => write!(formatter, "{}", text.to_uppercase()),
        }
    }
}

fn text_name(suffix: &str, bytes: u64) -> String {
    let prefix = match bytes {
        255 => "TINY",
        65_535 => "",
        16_777_215 => "MEDIUM",
        _ => "LONG",
    };
    format!("{prefix}{suffix}")
}

/// Parses `'a','b''c'` (as in ENUM column types) into its values.
fn parse_quoted_list(text: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        if character != '\'' {
            continue;
        }
        let mut value = String::new();
        while let Some(inner) = characters.next() {
            match inner {
                '\'' if characters.peek() == Some(&'\'') => {
                    characters.next();
                    value.push('\'');
                }
                '\'' => break,
                '\\' => {
                    if let Some(escaped) = characters.next() {
                        value.push(escaped);
                    }
                }
                other => value.push(other),
            }
        }
        values.push(value);
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_column_types() {
        assert_eq!(
            MySqlType::parse("int(11)"),
            MySqlType::Integer {
                bytes: 4,
                unsigned: false
            }
        );
        assert_eq!(
            MySqlType::parse("bigint unsigned"),
            MySqlType::Integer {
                bytes: 8,
                unsigned: true
            }
        );
        assert_eq!(MySqlType::parse("varchar(40)"), MySqlType::Varchar(40));
        assert_eq!(
            MySqlType::parse("decimal(10,2)"),
            MySqlType::Decimal {
                precision: 10,
                scale: 2,
                unsigned: false
            }
        );
        assert_eq!(MySqlType::parse("datetime(6)"), MySqlType::Datetime(6));
        assert_eq!(MySqlType::parse("datetime"), MySqlType::Datetime(0));
        assert_eq!(MySqlType::parse("longtext"), MySqlType::Text(4_294_967_295));
        assert_eq!(
            MySqlType::parse("enum('a','it''s','x,y')"),
            MySqlType::Enum(vec!["a".into(), "it's".into(), "x,y".into()])
        );
        assert_eq!(
            MySqlType::parse("geometry"),
            MySqlType::Other("geometry".into())
        );
    }

    #[test]
    fn enum_labels_keep_their_case() {
        assert_eq!(
            MySqlType::parse("ENUM('Owner','member')"),
            MySqlType::Enum(vec!["Owner".into(), "member".into()])
        );
    }
}
