//! Funnels: how many visitors (or people) go through ordered steps, and
//! where the others drop off.
//!
//! Policy:
//! - a funnel starts with a first-step event in the period; the later
//!   steps follow it within the same session, or within N days of the
//!   first step (then they may be in other sessions, on other devices of
//!   the same person);
//! - loose order: each step after the one before, anything in between;
//!   strict order: each step the very next pageview or step event after
//!   the one before (another page or another step in between ends the
//!   attempt there);
//! - an event counts for one step of an attempt; each visitor (person)
//!   counts once, by their attempt that went furthest (the earliest of
//!   those), so a step's count never exceeds the one before;
//! - per step: reached, conversion from the previous and from the first
//!   step, drop-off from the previous, and the median time from the
//!   previous step among those who reached it (the lower middle of an
//!   even count, so it is a time someone took);
//! - a breakdown splits by a visit dimension's value of the session the
//!   first step happened in.
//!
//! Mechanism: the backend hands over the matching events of the period
//! plus the window in time order ([`crate::store::read::Reads::matches`]);
//! the rest is computed here, the same for every backend. The cost is one
//! row per matching event sent from the database (a 1M-event store sends
//! its pageviews of the funnel's pages and its step events, not every event).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::filter::{Dimension, Filter};
use super::matching::{Condition, MAX_CONDITIONS, Match};
use super::period::Period;
use super::{QueryError, ratio};
use super::table::{Table, cell};
use crate::identity::{People, Person};

/// The longest window a funnel may give its steps.
pub const MAX_WINDOW_DAYS: i64 = 90;
const DAY_MS: i64 = 86_400_000;

/// What a step's count counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Visitors,
    People,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "days")]
pub enum Window {
    Session,
    Days(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Loose,
    Strict,
}

#[derive(Debug, Clone)]
pub struct FunnelRequest {
    pub period: Period,
    pub steps: Vec<Condition>,
    pub window: Window,
    pub order: Order,
    pub unit: Unit,
    pub filters: Vec<Filter>,
    pub breakdown: Option<Dimension>,
}

impl FunnelRequest {
    pub fn check(&self) -> Result<(), QueryError> {
        // One condition is the strict order's "any pageview".
        if self.steps.len() < 2 || self.steps.len() >= MAX_CONDITIONS {
            return Err(QueryError::BadRequest(format!("a funnel has 2 to {} steps, got {}", MAX_CONDITIONS - 1, self.steps.len())));
        }
        if let Window::Days(days) = self.window
            && !(1..=MAX_WINDOW_DAYS).contains(&days)
        {
            return Err(QueryError::BadRequest(format!("`within` is `session` or 1 to {MAX_WINDOW_DAYS} days, got {days}")));
        }
        self.steps.iter().try_for_each(Condition::check)
    }

    /// How long after the period a step may still come, ms.
    pub fn reach_ms(&self, session_max_ms: i64) -> i64 {
        match self.window {
            Window::Session => session_max_ms,
            Window::Days(days) => days * DAY_MS,
        }
    }

    /// The conditions to fetch: the steps, then (strict order) any pageview.
    pub fn conditions(&self) -> Vec<Condition> {
        let mut conditions = self.steps.clone();
        if self.order == Order::Strict {
            conditions.push(Condition::Page { pattern: "*".into() });
        }
        conditions
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub step: Condition,
    pub reached: i64,
    /// Reached / the previous step's reached (1 for the first step).
    pub from_previous: f64,
    pub from_first: f64,
    /// Of the previous step's, those who did not reach this one.
    pub dropped: i64,
    /// Median time from the previous step, ms (none for the first step, or when no one reached it).
    pub median_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelSteps {
    /// The breakdown's value (`None` for the whole funnel, or a missing value).
    pub value: Option<String>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Funnel {
    pub unit: Unit,
    pub window: Window,
    pub order: Order,
    pub total: FunnelSteps,
    /// By the breakdown's value, largest first (by first step, then value).
    pub breakdown: Vec<FunnelSteps>,
}

/// How far one attempt went: the time of each step reached.
type Reach = Vec<i64>;

/// The funnel from the matched events (in time order) of `[lo, hi + reach)`;
/// `people` joins visitors when counting people; `value_of` gives a
/// session's breakdown value.
pub fn compute(request: &FunnelRequest, lo: i64, hi: i64, matches: &[Match], people: &People, value_of: &HashMap<String, Option<String>>) -> Funnel {
    let mut by_unit: HashMap<Person<'_>, Vec<&Match>> = HashMap::new();
    for m in matches {
        let unit = match request.unit {
            Unit::Visitors => Person::Visitor(&m.visitor_id),
            Unit::People => people.person(&m.visitor_id),
        };
        by_unit.entry(unit).or_default().push(m);
    }
    let mut best: Vec<(Reach, Option<String>)> = Vec::new();
    for events in by_unit.values() {
        if let Some((reach, start)) = furthest(request, lo, hi, events) {
            best.push((reach, value_of.get(&start.session_id).cloned().flatten()));
        }
    }
    let total = steps_of(request, best.iter().map(|(r, _)| r), None);
    let mut groups: BTreeMap<Option<String>, Vec<&Reach>> = BTreeMap::new();
    if request.breakdown.is_some() {
        for (reach, value) in &best {
            groups.entry(value.clone()).or_default().push(reach);
        }
    }
    let mut breakdown: Vec<FunnelSteps> = groups.into_iter().map(|(value, reaches)| steps_of(request, reaches.into_iter(), value)).collect();
    breakdown.sort_by(|a, b| b.steps[0].reached.cmp(&a.steps[0].reached).then_with(|| a.value.cmp(&b.value)));
    Funnel { unit: request.unit, window: request.window, order: request.order, total, breakdown }
}

/// The unit's attempt that went furthest (the earliest of those) and the
/// event it started with.
fn furthest<'a>(request: &FunnelRequest, lo: i64, hi: i64, events: &[&'a Match]) -> Option<(Reach, &'a Match)> {
    let n = request.steps.len();
    let reach_ms = match request.window {
        Window::Session => i64::MAX,
        Window::Days(days) => days * DAY_MS,
    };
    let mut best: Option<(Reach, &Match)> = None;
    for (i, start) in events.iter().enumerate() {
        if !start.matches(0) || start.ts < lo || start.ts >= hi {
            continue;
        }
        let mut reach = vec![start.ts];
        for next in &events[i + 1..] {
            if reach.len() == n || next.ts - start.ts > reach_ms {
                break;
            }
            if request.window == Window::Session && next.session_id != start.session_id {
                continue;
            }
            if next.matches(reach.len()) {
                reach.push(next.ts);
            } else if request.order == Order::Strict {
                break;
            }
        }
        if best.as_ref().is_none_or(|(b, _)| reach.len() > b.len()) {
            let done = reach.len() == n;
            best = Some((reach, start));
            if done {
                break;
            }
        }
    }
    best
}

fn steps_of<'a>(request: &FunnelRequest, reaches: impl Iterator<Item = &'a Reach>, value: Option<String>) -> FunnelSteps {
    let n = request.steps.len();
    let mut reached = vec![0i64; n];
    let mut times: Vec<Vec<i64>> = vec![Vec::new(); n];
    for reach in reaches {
        for k in 0..reach.len() {
            reached[k] += 1;
            if k > 0 {
                times[k].push(reach[k] - reach[k - 1]);
            }
        }
    }
    let steps = (0..n)
        .map(|k| {
            let previous = if k == 0 { reached[0] } else { reached[k - 1] };
            let mut t = std::mem::take(&mut times[k]);
            t.sort_unstable();
            Step {
                step: request.steps[k].clone(),
                reached: reached[k],
                from_previous: if k == 0 { 1.0 } else { ratio(reached[k], previous) },
                from_first: if k == 0 { 1.0 } else { ratio(reached[k], reached[0]) },
                dropped: previous - reached[k],
                median_ms: (!t.is_empty()).then(|| t[(t.len() - 1) / 2]),
            }
        })
        .collect();
    FunnelSteps { value, steps }
}

/// As CSV: one row per step, the whole funnel's then each breakdown value's.
impl Table for Funnel {
    fn columns(&self) -> Vec<&'static str> {
        vec!["value", "step", "condition", "reached", "from_previous", "from_first", "dropped", "median_ms"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        std::iter::once(&self.total)
            .chain(&self.breakdown)
            .flat_map(|group| {
                group.steps.iter().enumerate().map(|(k, s)| {
                    vec![
                        cell(&group.value), (k + 1).to_string(), serde_json::to_string(&s.step).unwrap_or_default(), s.reached.to_string(),
                        format!("{:.4}", s.from_previous), format!("{:.4}", s.from_first), s.dropped.to_string(), cell(&s.median_ms),
                    ]
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(visitor: &str, session: &str, ts: i64, mask: u64) -> Match {
        Match { visitor_id: visitor.into(), session_id: session.into(), ts, mask }
    }

    fn request(order: Order, window: Window) -> FunnelRequest {
        FunnelRequest {
            period: Period::parse("2024-01-01", "2024-01-01").unwrap(),
            steps: vec![Condition::Page { pattern: "/".into() }, Condition::Page { pattern: "/a".into() }, Condition::Page { pattern: "/b".into() }],
            window,
            order,
            unit: Unit::Visitors,
            filters: vec![],
            breakdown: None,
        }
    }

    fn reached(f: &Funnel) -> Vec<i64> {
        f.total.steps.iter().map(|s| s.reached).collect()
    }

    #[test]
    fn strict_order_stops_at_a_page_between_steps_and_loose_order_goes_past_it() {
        // x: / → /other → /a → /b; the strict order's "any page" is bit 3.
        let events = [m("x", "s", 1, 1 | 8), m("x", "s", 2, 8), m("x", "s", 3, 2 | 8), m("x", "s", 4, 4 | 8)];
        let none = HashMap::new();
        let loose = compute(&request(Order::Loose, Window::Session), 0, 10, &events, &People::default(), &none);
        assert_eq!(reached(&loose), [1, 1, 1]);
        let strict = compute(&request(Order::Strict, Window::Session), 0, 10, &events, &People::default(), &none);
        assert_eq!(reached(&strict), [1, 0, 0]);
        assert_eq!(loose.total.steps[2].median_ms, Some(1));
        assert_eq!((strict.total.steps[1].dropped, strict.total.steps[1].from_previous), (1, 0.0));
    }

    #[test]
    fn a_later_attempt_that_goes_further_counts_and_the_window_bounds_each_attempt() {
        let events = [m("x", "s1", 1, 1), m("x", "s2", 5, 1), m("x", "s2", 6, 2), m("x", "s3", 2 * DAY_MS, 4)];
        let none = HashMap::new();
        let session = compute(&request(Order::Loose, Window::Session), 0, 10, &events, &People::default(), &none);
        assert_eq!(reached(&session), [1, 1, 0]);
        let days = compute(&request(Order::Loose, Window::Days(2)), 0, 10, &events, &People::default(), &none);
        assert_eq!(reached(&days), [1, 1, 1]);
        assert_eq!(reached(&compute(&request(Order::Loose, Window::Days(1)), 0, 10, &events, &People::default(), &none)), [1, 1, 0]);
    }
}
