//! Periods of whole days in a site's time zone, and their chart buckets.
//! A day starts at the site's local midnight (or the first instant after it
//! when DST skips midnight); an hour bucket is one real hour, so a day has
//! 23, 24 or 25 of them.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use super::QueryError;

/// The longest period one request may cover.
pub const MAX_DAYS: i64 = 400;

/// Days `from` through `to`, both included, in the site's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub from: Date,
    pub to: Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Hour,
    Day,
}

/// One point of a time series: `[start_ms, end_ms)` and its local label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    pub start_ms: i64,
    pub end_ms: i64,
    /// `2024-03-10` for days, `2024-03-10 14:00` for hours, local time.
    pub label: String,
}

impl Period {
    /// Parses `YYYY-MM-DD` dates; refuses reversed or overlong periods.
    pub fn parse(from: &str, to: &str) -> Result<Period, QueryError> {
        let date = |s: &str, name: &str| {
            s.parse::<Date>().map_err(|_| QueryError::BadRequest(format!("`{name}` must be a date like 2024-03-10, got {s:?}")))
        };
        let period = Period { from: date(from, "from")?, to: date(to, "to")? };
        if period.to < period.from {
            return Err(QueryError::BadRequest("`to` is before `from`".into()));
        }
        if period.days() > MAX_DAYS {
            return Err(QueryError::BadRequest(format!("a period covers at most {MAX_DAYS} days")));
        }
        Ok(period)
    }

    /// The last `days` days up to and including today, in `tz`.
    pub fn last_days(days: i64, now_ms: i64, tz: &TimeZone) -> Period {
        let today = local_date(now_ms, tz);
        let from = today.checked_sub((days - 1).days()).unwrap_or(today);
        Period { from, to: today }
    }

    pub fn days(&self) -> i64 {
        i64::from(self.from.until(self.to).map(|s| s.get_days()).unwrap_or(0)) + 1
    }

    /// The same number of days just before this period.
    pub fn previous(&self) -> Period {
        let to = self.from.checked_sub(1.day()).unwrap_or(self.from);
        let from = to.checked_sub((self.days() - 1).days()).unwrap_or(to);
        Period { from, to }
    }

    /// `[start, end)` in ms UTC: local midnight of `from` to local midnight
    /// after `to`.
    pub fn bounds(&self, tz: &TimeZone) -> (i64, i64) {
        let end = self.to.tomorrow().unwrap_or(self.to);
        (day_start(self.from, tz), day_start(end, tz))
    }

    /// Hour buckets for a period of one or two days, day buckets otherwise.
    pub fn default_interval(&self) -> Interval {
        if self.days() <= 2 { Interval::Hour } else { Interval::Day }
    }

    pub fn buckets(&self, interval: Interval, tz: &TimeZone) -> Vec<Bucket> {
        let mut buckets = Vec::new();
        let mut day = self.from;
        while day <= self.to {
            let next = day.tomorrow().unwrap_or(day);
            let (start, end) = (day_start(day, tz), day_start(next, tz));
            match interval {
                Interval::Day => buckets.push(Bucket { start_ms: start, end_ms: end, label: day.to_string() }),
                Interval::Hour => {
                    let mut hour = start;
                    while hour < end {
                        let local = Timestamp::from_millisecond(hour).unwrap_or_default().to_zoned_datetime(tz.clone());
                        let label = local.strftime("%Y-%m-%d %H:%M").to_string();
                        let hour_end = (hour + 3_600_000).min(end);
                        buckets.push(Bucket { start_ms: hour, end_ms: hour_end, label });
                        hour = hour_end;
                    }
                }
            }
            if next == day {
                break;
            }
            day = next;
        }
        buckets
    }
}

/// The local date of an instant.
pub fn local_date(ms: i64, tz: &TimeZone) -> Date {
    Timestamp::from_millisecond(ms).unwrap_or_default().to_zoned_datetime(tz.clone()).date()
}

/// The first instant of a local day, ms UTC.
fn day_start(date: Date, tz: &TimeZone) -> i64 {
    date.to_zoned_datetime(tz.clone())
        .and_then(|z| z.start_of_day())
        .map_or(0, |z| z.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    #[test]
    fn a_day_in_berlin_starts_at_local_midnight() {
        let p = Period::parse("2024-01-15", "2024-01-15").unwrap();
        // 2024-01-14T23:00Z .. 2024-01-15T23:00Z (CET is UTC+1).
        assert_eq!(p.bounds(&tz("Europe/Berlin")), (1_705_273_200_000, 1_705_359_600_000));
    }

    #[test]
    fn the_spring_forward_day_has_twenty_three_hourly_buckets() {
        let p = Period::parse("2024-03-31", "2024-03-31").unwrap();
        let buckets = p.buckets(Interval::Hour, &tz("Europe/Berlin"));
        assert_eq!(buckets.len(), 23);
        assert_eq!(buckets[2].label, "2024-03-31 03:00");
        let fall = Period::parse("2024-10-27", "2024-10-27").unwrap();
        assert_eq!(fall.buckets(Interval::Hour, &tz("Europe/Berlin")).len(), 25);
    }

    #[test]
    fn the_previous_period_is_as_long_and_ends_the_day_before() {
        let p = Period::parse("2024-03-01", "2024-03-07").unwrap();
        assert_eq!(p.previous(), Period::parse("2024-02-23", "2024-02-29").unwrap());
        assert_eq!(p.days(), 7);
    }

    #[test]
    fn reversed_and_malformed_periods_are_refused_with_the_field_named() {
        assert!(Period::parse("2024-03-07", "2024-03-01").unwrap_err().to_string().contains("before"));
        assert!(Period::parse("2024-3-7", "2024-03-08").unwrap_err().to_string().contains("`from`"));
    }
}
