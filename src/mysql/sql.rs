//! Quoting for the SQL pg2dolt writes to the target itself (names in
//! statements, literals in Dolt procedure calls). Row values never go
//! through here: they are LOAD DATA text (`convert::mysql_text`).

/// Quotes an identifier for MySQL with backticks.
#[must_use]
pub fn quote_identifier(name: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('`');
    for character in name.chars() {
        if character == '`' {
            quoted.push('`');
        }
        quoted.push(character);
    }
    quoted.push('`');
    quoted
}

/// Quotes a string literal for MySQL SQL text built by pg2dolt itself.
#[must_use]
pub fn quote_literal(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('\'');
    for character in text.chars() {
        match character {
            '\\' => quoted.push_str("\\\\"),
            '\'' => quoted.push_str("\\'"),
            '\0' => quoted.push_str("\\0"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\u{1a}' => quoted.push_str("\\Z"),
            other => quoted.push(other),
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_double_backticks() {
        assert_eq!(quote_identifier("we`ird"), "`we``ird`");
    }

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(quote_literal("it's a \\ path"), "'it\\'s a \\\\ path'");
    }
}
