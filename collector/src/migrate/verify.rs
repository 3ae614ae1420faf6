//! The proof of a move: events and sessions per site and UTC day in both
//! stores, side by side, and the first day where they differ.

use std::collections::BTreeSet;

use crate::clock::day_label;
use crate::store::PerDay;

/// One site's day in both stores: (SQLite, ClickHouse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRow {
    pub site: String,
    /// UTC day number.
    pub day: i64,
    pub events: (u64, u64),
    pub sessions: (u64, u64),
}

impl DayRow {
    pub fn label(&self) -> String {
        day_label(self.day)
    }

    pub fn matches(&self) -> bool {
        self.events.0 == self.events.1 && self.sessions.0 == self.sessions.1
    }
}

/// Every site and day either store holds, in (day, site) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    pub days: Vec<DayRow>,
}

impl Comparison {
    pub fn of(sqlite_events: &PerDay, clickhouse_events: &PerDay, sqlite_sessions: &PerDay, clickhouse_sessions: &PerDay) -> Comparison {
        let keys: BTreeSet<(i64, &str)> = [sqlite_events, clickhouse_events, sqlite_sessions, clickhouse_sessions]
            .into_iter()
            .flat_map(|counts| counts.keys().map(|(site, day)| (*day, site.as_str())))
            .collect();
        let days = keys
            .into_iter()
            .map(|(day, site)| {
                let key = (site.to_owned(), day);
                let of = |counts: &PerDay| counts.get(&key).copied().unwrap_or(0);
                DayRow {
                    site: site.to_owned(),
                    day,
                    events: (of(sqlite_events), of(clickhouse_events)),
                    sessions: (of(sqlite_sessions), of(clickhouse_sessions)),
                }
            })
            .collect();
        Comparison { days }
    }

    /// The earliest day (and of that day, the first site) that differs.
    pub fn first_difference(&self) -> Option<&DayRow> {
        self.days.iter().find(|d| !d.matches())
    }

    pub fn totals(&self) -> DayRow {
        let mut total = DayRow { site: String::new(), day: 0, events: (0, 0), sessions: (0, 0) };
        for d in &self.days {
            total.events = (total.events.0 + d.events.0, total.events.1 + d.events.1);
            total.sessions = (total.sessions.0 + d.sessions.0, total.sessions.1 + d.sessions.1);
        }
        total
    }
}

/// Why the check failed, in words a user can act on.
pub fn describe(d: &DayRow) -> String {
    let day = d.label();
    if d.events.0 != d.events.1 {
        let what_to_do = if d.events.0 > d.events.1 {
            "run `waymark migrate` again to copy what is missing"
        } else {
            "ClickHouse holds events SQLite no longer has (deleted there since an earlier move, by retention or an \
             erasure): erase them in ClickHouse too, or move into a new database"
        };
        return format!("events of site {:?} on {day} differ: {} in SQLite, {} in ClickHouse; {what_to_do}", d.site, d.events.0, d.events.1);
    }
    format!(
        "sessions of site {:?} on {day} differ: {} in SQLite, {} in ClickHouse, from the same events. If the site's \
         session timeout changed since they were recorded, run `waymark sessions rebuild` on the SQLite store and compare again",
        d.site, d.sessions.0, d.sessions.1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(rows: &[(&str, i64, u64)]) -> PerDay {
        rows.iter().map(|(site, day, n)| (((*site).to_owned(), *day), *n)).collect()
    }

    #[test]
    fn the_first_difference_is_the_earliest_day_whichever_site_and_a_day_one_side_lacks_counts() {
        let sqlite = counts(&[("b", 10, 5), ("a", 11, 3), ("a", 12, 1)]);
        let clickhouse = counts(&[("b", 10, 5), ("a", 11, 2)]);
        let sessions = counts(&[("b", 10, 2)]);
        let comparison = Comparison::of(&sqlite, &clickhouse, &sessions, &sessions);
        assert_eq!(comparison.days.iter().map(|d| (d.day, d.site.as_str())).collect::<Vec<_>>(), [(10, "b"), (11, "a"), (12, "a")]);
        let first = comparison.first_difference().unwrap();
        assert_eq!((first.day, first.events), (11, (3, 2)));
        assert!(describe(first).contains("events of site \"a\" on 1970-01-12 differ: 3 in SQLite, 2 in ClickHouse"), "{}", describe(first));
        assert_eq!(comparison.totals().events, (9, 7));
    }

    #[test]
    fn equal_events_with_other_sessions_name_the_sessions() {
        let events = counts(&[("a", 1, 4)]);
        let comparison = Comparison::of(&events, &events, &counts(&[("a", 1, 2)]), &counts(&[("a", 1, 3)]));
        let said = describe(comparison.first_difference().unwrap());
        assert!(said.starts_with("sessions of site \"a\" on 1970-01-02 differ: 2 in SQLite, 3 in ClickHouse"), "{said}");
        assert!(Comparison::of(&events, &events, &events, &events).first_difference().is_none());
    }
}
