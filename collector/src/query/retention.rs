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

use std::collections::{BTreeSet, HashMap};

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
use crate::identity::People;

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
pub fn compute(request: &RetentionRequest, tz: &TimeZone, visits: &[Visit], first_events: &[Match], people: &People) -> Retention {
    let (days, starts) = periods(request, tz);
    let index = |ts: i64| starts.partition_point(|&s| s <= ts).saturating_sub(1);
    let unit_of = |visitor: &str| match request.unit {
        Unit::Visitors => visitor.to_owned(),
        Unit::People => people.person(visitor).key(),
    };
    // Each member's cohort: the period of their first visit or first event.
    let mut cohort_of: HashMap<String, usize> = HashMap::new();
    let mut firsts: Vec<(i64, &str)> = match request.first_event {
        Some(_) => first_events.iter().map(|m| (m.ts, m.visitor_id.as_str())).collect(),
        None => visits.iter().map(|v| (v.start_ts, v.visitor_id.as_str())).collect(),
    };
    firsts.sort_unstable();
    for (ts, visitor) in firsts {
        cohort_of.entry(unit_of(visitor)).or_insert_with(|| index(ts));
    }
    let mut active: Vec<BTreeSet<(usize, &String)>> = vec![BTreeSet::new(); days.len()];
    let units: Vec<(String, i64)> = visits.iter().map(|v| (unit_of(&v.visitor_id), v.start_ts)).collect();
    for (unit, ts) in &units {
        let Some((key, &cohort)) = cohort_of.get_key_value(unit) else { continue };
        let at = index(*ts);
        if at > cohort {
            active[cohort].insert((at - cohort, key));
        }
    }
    let mut sizes = vec![0i64; days.len()];
    for &cohort in cohort_of.values() {
        sizes[cohort] += 1;
    }
    let cohorts: Vec<Cohort> = days
        .iter()
        .enumerate()
        .map(|(c, day)| {
            let offsets = days.len() - c;
            let mut counts = vec![0i64; offsets];
            counts[0] = sizes[c];
            for (offset, _) in &active[c] {
                counts[*offset] += 1;
            }
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

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        let d: Date = "2024-02-01".parse().unwrap();
        assert_eq!(d.weekday(), Weekday::Thursday);
        assert_eq!(Grain::Week.start(d).to_string(), "2024-01-29");
        assert_eq!(Grain::Month.start("2024-02-29".parse().unwrap()).to_string(), "2024-02-01");
        assert_eq!(Grain::Month.next("2024-01-01".parse().unwrap()).to_string(), "2024-02-01");
    }
}
