//! Wall-clock time as text: RFC 3339 UTC strings for reports, manifests
//! and commit messages (jiff does the calendar). A leaf: no other module of
//! pg2dolt here.

use jiff::Timestamp;

/// The current time, UTC, RFC 3339 with seconds.
#[must_use]
pub fn utc_now() -> String {
    format_utc(Timestamp::now())
}

/// Formats a time as `YYYY-MM-DDTHH:MM:SSZ`.
#[must_use]
pub fn format_utc(time: Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        let at = |seconds| format_utc(Timestamp::from_second(seconds).unwrap());
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_795_262_400), "2026-11-21T12:00:00Z");
    }
}
