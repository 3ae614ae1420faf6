//! Retention cohorts: visitors (or people) grouped by the day, week or
//! month of their first visit in the period (or of their first chosen
//! event), and the share of each group active in each following one: the
//! triangle table.
//!
//! Policy:
//! - days, weeks (Monday to Sunday) and months are the site's, in its time
//!   zone; the first and last cohorts are the periods that hold the
//!   request's first and last day (a week or month may start before it);
//! - a cohort member is active in a later period when a visit of theirs
//!   (a session passing the filters) started in it; period 0 is the
//!   cohort's own, where everyone is active by definition;
//! - each cohort has a value for every period up to the one holding the
//!   request's last day: a younger cohort has fewer (the triangle).
//!
//! Mechanism: the backend hands over the period's visits (and the first
//! events, when asked); grouping is here, the same for every backend.


use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::QueryError;
use super::filter::Filter;
use super::funnel::Unit;
use super::matching::{Condition, Match, Visit};
use super::period::Period;
use super::ratio;
use super::table::Table;
use crate::identity::{People, Person};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    Day,
    Week,
    Month,
}

impl Grain {
    pub fn parse(text: &str) -> Result<Grain, QueryError> {
        match text {
            "day" => Ok(Grain::Day),
            "week" => Ok(Grain::Week),
            "month" => Ok(Grain::Month),
            other => Err(QueryError::BadRequest(format!("`by` is day, week or month, got {other:?}"))),
        }
    }

    /// The first day of the grain's period holding `date`.
    fn start(self, date: Date) -> Date {
        match self {
            Grain::Day => date,
            Grain::Week => date.checked_sub((date.weekday().to_monday_zero_offset() as i64).days()).unwrap_or(date),
            Grain::Month => date.first_of_month(),
        }
    }

    fn next(self, date: Date) -> Date {
        let step = match self {
            Grain::Day => 1.day(),
            Grain::Week => 1.week(),
            Grain::Month => 1.month(),
        };
        date.checked_add(step).unwrap_or(date)
    }
}

#[derive(Debug, Clone)]
pub struct RetentionRequest {
    pub period: Period,
    pub grain: Grain,
    pub unit: Unit,
    /// Cohorts by the first of these events instead of the first visit.
    pub first_event: Option<Condition>,
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cohort {
    /// The cohort period's first day, local.
    pub start: String,
    pub size: i64,
    /// Members active in the cohort's period and each after it.
    pub active: Vec<i64>,
    /// `active / size`.
    pub share: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retention {
    pub grain: Grain,
    pub unit: Unit,
    pub cohorts: Vec<Cohort>,
    /// The average share per period offset over the cohorts that have it
    /// (weighted by size): the retention curve.
    pub curve: Vec<f64>,
}

/// The local periods of the request: their first days and where each starts, ms UTC.
fn periods(request: &RetentionRequest, tz: &TimeZone) -> (Vec<Date>, Vec<i64>) {
    let mut days = Vec::new();
    let mut day = request.grain.start(request.period.from);
    while day <= request.period.to {
        days.push(day);
        day = request.grain.next(day);
    }
    let starts = days.iter().map(|d| Period { from: *d, to: *d }.bounds(tz).0).collect();
    (days, starts)
}

/// The cohorts from the period's visits (and first events, when asked).
pub fn compute<'a>(request: &RetentionRequest, tz: &TimeZone, visits: &'a [Visit], first_events: &'a [Match], people: &'a People) -> Retention {
    let (days, starts) = periods(request, tz);
    let index = |ts: i64| starts.partition_point(|&s| s <= ts).saturating_sub(1);
    let unit_of = |visitor: &'a str| match request.unit {
        Unit::Visitors => Person::Visitor(visitor),
        Unit::People => people.person(visitor),
    };
    // Members by number, each with their cohort: the period of their first
    // visit or first event. Visits in time order (as backends hand them
    // over; sorted here if not), so a member's first visit comes first and
    // each member is counted in a later period on their first visit there.
    let mut member_of: foldhash::HashMap<Person<'a>, usize> = foldhash::HashMap::default();
    member_of.reserve(visits.len() / 2);
    let mut cohort_of: Vec<usize> = Vec::new();
    if request.first_event.is_some() {
        let mut firsts: Vec<&Match> = first_events.iter().collect();
        firsts.sort_by_key(|m| m.ts);
        for m in firsts {
            member_of.entry(unit_of(&m.visitor_id)).or_insert_with(|| {
                cohort_of.push(index(m.ts));
                cohort_of.len() - 1
            });
        }
    }
    let mut in_time: Vec<&Visit> = visits.iter().collect();
    if !in_time.is_sorted_by_key(|v| v.start_ts) {
        in_time.sort_by_key(|v| v.start_ts);
    }
    // The triangle: cohort `c` has a count for each period from its own on.
    let mut later: Vec<Vec<i64>> = (0..days.len()).map(|c| vec![0i64; days.len() - c]).collect();
    let mut marked: Vec<usize> = cohort_of.clone();
    for v in in_time {
        let unit = unit_of(&v.visitor_id);
        let at = index(v.start_ts);
        let member = match (request.first_event.is_some(), member_of.get(&unit)) {
            (_, Some(&member)) => member,
            (true, None) => continue,
            (false, None) => {
                member_of.insert(unit, cohort_of.len());
                cohort_of.push(at);
                marked.push(at);
                continue;
            }
        };
        if at > marked[member] {
            marked[member] = at;
            later[cohort_of[member]][at - cohort_of[member]] += 1;
        }
    }
    let mut sizes = vec![0i64; days.len()];
    for &cohort in &cohort_of {
        sizes[cohort] += 1;
    }
    let cohorts: Vec<Cohort> = days
        .iter()
        .enumerate()
        .map(|(c, day)| {
            let mut counts = std::mem::take(&mut later[c]);
            counts[0] = sizes[c];
            Cohort { start: day.to_string(), size: sizes[c], share: counts.iter().map(|&n| ratio(n, sizes[c])).collect(), active: counts }
        })
        .collect();
    let curve = (0..days.len())
        .map(|offset| {
            let with: Vec<&Cohort> = cohorts.iter().filter(|c| c.active.len() > offset).collect();
            ratio(with.iter().map(|c| c.active[offset]).sum(), with.iter().map(|c| c.size).sum())
        })
        .collect();
    Retention { grain: request.grain, unit: request.unit, cohorts, curve }
}

/// As CSV: one row per cohort and period offset.
impl Table for Retention {
    fn columns(&self) -> Vec<&'static str> {
        vec!["cohort", "size", "offset", "active", "share"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.cohorts
            .iter()
            .flat_map(|c| {
                c.active.iter().zip(&c.share).enumerate().map(|(offset, (n, share))| {
                    vec![c.start.clone(), c.size.to_string(), offset.to_string(), n.to_string(), format!("{share:.4}")]
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::Weekday;

    proptest::proptest! {
        /// Each cohort's counts are, by brute force, its members (first
        /// visit in its day) with a visit in each later day.
        #[test]
        fn cohorts_count_each_member_once_per_later_period(
            visits in proptest::collection::vec((0..6usize, 0..5 * 86_400_000i64), 0..40),
        ) {
            let request = RetentionRequest {
                period: Period::parse("2024-01-01", "2024-01-05").unwrap(),
                grain: Grain::Day,
                unit: Unit::Visitors,
                first_event: None,
                filters: vec![],
            };
            let t0 = request.period.bounds(&TimeZone::UTC).0;
            let mut visits: Vec<Visit> = visits
                .into_iter()
                .map(|(v, at)| Visit { visitor_id: format!("v{v}"), session_id: String::new(), start_ts: t0 + at, end_ts: t0 + at, device: None, country: None, value: None })
                .collect();
            visits.sort_by_key(|v| v.start_ts);
            let found = compute(&request, &TimeZone::UTC, &visits, &[], &People::default());
            let day = |v: &Visit| ((v.start_ts - t0) / 86_400_000) as usize;
            for (c, cohort) in found.cohorts.iter().enumerate() {
                let members: Vec<&str> = (0..6)
                    .map(|n| format!("v{n}"))
                    .filter(|id| visits.iter().filter(|v| &v.visitor_id == id).map(day).min() == Some(c))
                    .map(|id| visits.iter().find(|v| v.visitor_id == id).unwrap().visitor_id.as_str())
                    .collect();
                proptest::prop_assert_eq!(cohort.size, members.len() as i64);
                for k in 1..cohort.active.len() {
                    let active = members.iter().filter(|m| visits.iter().any(|v| v.visitor_id == **m && day(v) == c + k)).count();
                    proptest::prop_assert_eq!(cohort.active[k], active as i64);
                }
            }
        }
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        let d: Date = "2024-02-01".parse().unwrap();
        assert_eq!(d.weekday(), Weekday::Thursday);
        assert_eq!(Grain::Week.start(d).to_string(), "2024-01-29");
        assert_eq!(Grain::Month.start("2024-02-29".parse().unwrap()).to_string(), "2024-02-01");
        assert_eq!(Grain::Month.next("2024-01-01".parse().unwrap()).to_string(), "2024-02-01");
    }
}
