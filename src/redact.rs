//! Secrets out of every output: the registry of secrets known so far (URLs
//! in flags at start, passwords read from files while settings resolve),
//! and the pure functions that find and scrub them. A leaf: settings,
//! logging, errors and reports all use it, and it uses none of them.

use std::sync::RwLock;

/// Every secret known so far.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Adds secrets to scrub from every output from now on (shorter than 3
/// characters are ignored: they would mangle ordinary text).
pub fn add_secrets(secrets: impl IntoIterator<Item = String>) {
    if let Ok(mut known) = SECRETS.write() {
        for secret in secrets {
            if secret.len() >= 3 && !known.contains(&secret) {
                known.push(secret);
            }
        }
        // Longest first: a secret containing another is scrubbed whole.
        known.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    }
}

/// The text with every known secret replaced by `***`.
#[must_use]
pub fn redact(text: &str) -> String {
    match SECRETS.read() {
        Ok(known) => redact_text(text, &known),
        Err(_) => text.to_string(),
    }
}

/// The URL with its password replaced by `***` (key=value strings too).
#[must_use]
pub fn redact_url(text: &str) -> String {
    if let Ok(mut url) = url::Url::parse(text)
        && url.password().is_some()
    {
        let _ = url.set_password(Some("***"));
        return url.to_string();
    }
    redact_text(text, &secrets_of_url(text))
}

/// The passwords a URL or key=value connection string carries (percent-
/// decoded and as written), so every output can be scrubbed of them.
#[must_use]
pub fn secrets_of_url(text: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Ok(url) = url::Url::parse(text)
        && let Some(password) = url.password()
    {
        secrets.push(password.to_string());
        if let Some(decoded) = percent_decode(password) {
            secrets.push(decoded);
        }
    }
    for part in text.split_whitespace() {
        if let Some(value) = part.strip_prefix("password=") {
            secrets.push(value.trim_matches('\'').to_string());
        }
    }
    for (key, value) in url::Url::parse(text)
        .map(|url| url.query_pairs().into_owned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if key == "password" || key == "pass" {
            secrets.push(value);
        }
    }
    secrets.retain(|secret| secret.len() >= 3);
    secrets
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Replaces every occurrence of each secret with `***`.
#[must_use]
pub fn redact_text(text: &str, secrets: &[String]) -> String {
    let mut redacted = text.to_string();
    for secret in secrets {
        if !secret.is_empty() {
            redacted = redacted.replace(secret.as_str(), "***");
        }
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cr%40t@db:5432/prod"),
            "postgres://app:***@db:5432/prod"
        );
        assert_eq!(
            redact_url("host=db password=hunter2 dbname=x"),
            "host=db password=*** dbname=x"
        );
        assert_eq!(
            secrets_of_url("mysql://root:p%40ss@h:3306"),
            vec!["p%40ss".to_string(), "p@ss".to_string()]
        );
        assert_eq!(redact_url("mysql://root@h:3306"), "mysql://root@h:3306");
    }
}
