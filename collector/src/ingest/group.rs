//! A group of appends, planned: the last stage of the pipeline, run by a
//! backend's writer for each group it takes, inside its transaction.
//!
//! Policy, in order: which events are new ([`dedupe`](super::dedupe));
//! which cookieless visitors keep yesterday's key
//! ([`visitor`](super::visitor)); then, visitor by visitor, the sessions of
//! the new events by the rule in [`crate::sessions`]
//! ([`sessionize`](super::sessionize)); last, the identity links the new
//! events make ([`crate::identity::links_of`]). The result is a [`Plan`]: what to
//! answer for each event and what to write. It is the same for every
//! backend; a backend only reads what the plan asks through
//! [`StoredState`] and persists the plan.

use std::collections::HashMap;

use crate::event::StoredEvent;
use crate::sessions::Rule;
use crate::store::{Appended, StoredState};

use super::dedupe::{self, Dedupe, Position};
pub use super::plan::{Latest, Plan, SessionWrite};
use super::{sessionize, visitor};

/// A site's session rule, by site key.
pub trait Rules {
    fn of(&self, site: &str) -> Rule;
}

/// Each site's session rule; sites not listed get the default.
pub struct SiteRules(pub HashMap<String, Rule>);

impl Rules for SiteRules {
    fn of(&self, site: &str) -> Rule {
        self.0.get(site).copied().unwrap_or_default()
    }
}

/// Plans a group of batches. Sets each new event's visitor key and session
/// id in `batches`, so that the backend stores them as planned.
pub fn plan<S: StoredState>(state: &mut S, batches: &mut [Vec<StoredEvent>], dedupe: Dedupe, rules: &impl Rules) -> Result<Plan, S::Error> {
    let mut plan = Plan {
        outcomes: batches.iter().map(|events| vec![Appended::Duplicate; events.len()]).collect(),
        new: dedupe::new_events(state, batches, dedupe)?,
        ..Plan::default()
    };
    // Near midnight, cookieless events may keep yesterday's key.
    let offered: Vec<Position> = plan.new.iter().copied().filter(|&(b, i)| batches[b][i].visitor_id_yesterday.is_some()).collect();
    if !offered.is_empty() {
        let keys: Vec<(String, String, i64)> =
            plan.new.iter().map(|&(b, i)| (batches[b][i].site.clone(), batches[b][i].visitor_id.clone(), batches[b][i].ts)).collect();
        let arriving: Vec<(&str, &str, i64)> = keys.iter().map(|(s, v, ts)| (s.as_str(), v.as_str(), *ts)).collect();
        for (b, i) in offered {
            let event = &mut batches[b][i];
            let timeout = rules.of(&event.site).timeout_ms;
            visitor::keep_yesterdays_key(state, event, timeout, &arriving)?;
        }
    }
    let key = |&(b, i): &Position| (batches[b][i].site.as_str(), batches[b][i].visitor_id.as_str());
    let mut by_visitor = plan.new.clone();
    by_visitor.sort_by(|a, b| key(a).cmp(&key(b)));
    let runs: Vec<usize> = by_visitor.chunk_by(|a, b| key(a) == key(b)).map(<[Position]>::len).collect();
    let mut rest = by_visitor.as_slice();
    for len in runs {
        let (run, tail) = rest.split_at(len);
        rest = tail;
        let (b, i) = run[0];
        let rule = rules.of(&batches[b][i].site);
        sessionize::visitor(state, batches, run, rule, &mut plan)?;
    }
    plan.links = crate::identity::links_of(plan.new.iter().map(|&(b, i)| &batches[b][i]));
    Ok(plan)
}
