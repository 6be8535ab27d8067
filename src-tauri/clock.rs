//! Wall-clock time as the services and the audit log write it (UTC, RFC 3339 with
//! milliseconds), and the parsing that lets callers compare instants and days as times, never
//! as strings (`2024-05-01T10:00:00Z` and `2024-05-01T12:00:00+02:00` are the same instant).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::civil::{Date, Time};
use jiff::tz::Offset;
use jiff::Timestamp;

use crate::{Error, Result};

/// Seconds since the Unix epoch.
pub fn epoch_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs()
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a time. A time before 1970 reads as the epoch and one past
/// the year 9999 as its end, as no service or record carries either.
pub fn rfc3339(t: SystemTime) -> String {
    let at = Timestamp::try_from(t.max(UNIX_EPOCH)).unwrap_or(Timestamp::MAX);
    format!("{at:.3}")
}

/// The current time, RFC 3339.
pub fn now() -> String {
    rfc3339(SystemTime::now())
}

/// Today's date `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    today_date().to_string()
}

/// Today's date (UTC), to compare with a date as a date.
pub fn today_date() -> Date {
    Offset::UTC.to_datetime(Timestamp::now()).date()
}

/// Whether a day is after today (UTC): a date an admin screen or a log shows can never be.
pub fn date_is_in_future(day: Date) -> bool {
    day > today_date()
}

/// An instant as the services and the store write it: RFC 3339 with any offset
/// (`2024-05-01T10:00:00.000Z`, `2024-05-01T12:00:00+02:00`), or a bare date as GitLab writes
/// `last_activity_on` (`2024-05-01`, read as its first instant, UTC).
pub fn parse(text: &str) -> Result<Timestamp> {
    let text = text.trim();
    let at = match text.parse::<Timestamp>() {
        Ok(at) => Ok(at),
        // Not `str::parse::<Date>`: it also takes a date-time without an offset, dropping the time.
        Err(_) => Date::strptime("%Y-%m-%d", text).and_then(|day| Offset::UTC.to_timestamp(day.to_datetime(Time::midnight()))),
    };
    at.map_err(|e| {
        Error::InvalidResponse(format!(
            "“{text}” is not a time Casekit can read ({e}); it expects 2024-05-01T10:00:00Z or 2024-05-01."
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_millis(1_709_251_199_250)), "2024-02-29T23:59:59.250Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(4_102_444_800)), "2100-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_nanos(1_999_999_999)), "1970-01-01T00:00:01.999Z", "cut, not rounded");
        assert_eq!(rfc3339(UNIX_EPOCH - Duration::from_secs(60)), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn parses_what_the_services_write_and_compares_instants_not_text() {
        let at = |s: &str| parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(at("2024-05-01T10:00:00.000Z"), at("2024-05-01T12:00:00+02:00"));
        let (bare, millis) = ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00.000Z");
        assert!(bare > millis && at(bare) == at(millis), "one instant, whatever the text sorts as");
        assert_eq!(at("2024-05-01"), at("2024-05-01T00:00:00Z"), "GitLab's date-only fields");
        assert!((Timestamp::now().as_second() - at(&now()).as_second()).abs() < 5);
        for bad in ["", "yesterday", "2024-02-30", "2024-05-01T10:00:00"] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::InvalidResponse, "{bad}");
            assert!(e.to_string().contains("2024-05-01T10:00:00Z"), "{e}");
        }
    }

    #[test]
    fn a_day_after_today_is_in_the_future() {
        let day = today_date();
        assert!(!date_is_in_future(day));
        assert!(date_is_in_future(day.tomorrow().unwrap()));
        assert!(!date_is_in_future(day.yesterday().unwrap()));
        assert_eq!(day.to_string().len(), "2024-05-01".len());
    }
}
