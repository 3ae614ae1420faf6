//! One visitor's new events into sessions, against what is stored: which
//! stored events the rule in [`crate::sessions`] must see again.
//!
//! Policy: the common case (every new event after the visitor's latest
//! stored one) continues or follows the visitor's last session: the rule
//! reads only that session's summary and its last event, no old events.
//! New events before the latest stored one that lie inside its session
//! (after the session's start, with its client session id) move no
//! boundary: they are absorbed into the summary ([`sessions::absorb`]),
//! again without reading old events, which keeps a late or tied event as
//! cheap as an ordered one however long the session is. Any other new
//! event before the latest stored one recomputes the window of the
//! visitor's sessions it can change, and the result equals a full rebuild:
//! the rule looks at consecutive events, so only sessions within a timeout
//! of the new events can change, plus those that follow them within a
//! timeout (sessions cut by the maximum length, whose start moves with the
//! session before them).

use std::cmp::Ordering;

use crate::event::StoredEvent;
use crate::sessions::{self, Cuts, Rule, Session};
use crate::store::{Appended, SessionSpan, StoredState};

use super::dedupe::Position;
use super::plan::{Latest, Plan, SessionWrite};

/// Plans the sessions of one visitor's new events at `positions` (all of
/// the same site and visitor), appending to `plan`.
pub fn visitor<S: StoredState>(
    state: &mut S,
    batches: &mut [Vec<StoredEvent>],
    positions: &[Position],
    rule: Rule,
    plan: &mut Plan,
) -> Result<(), S::Error> {
    let mut ordered: Vec<Position> = positions.to_vec();
    ordered.sort_by(|&(b1, i1), &(b2, i2)| sessions::order(&batches[b1][i1], &batches[b2][i2]));
    let first = &batches[ordered[0].0][ordered[0].1];
    let (site, visitor) = (first.site.clone(), first.visitor_id.clone());
    let latest = state.latest_event(&site, &visitor)?;
    let Some(last) = latest else { return follow(state, batches, &ordered, None, None, rule, plan) };
    // The new events that sort before the latest stored one.
    let late = ordered.partition_point(|&(b, i)| sessions::order(&batches[b][i], &last) == Ordering::Less);
    if late == 0 {
        return follow(state, batches, &ordered, Some(&last), None, rule, plan);
    }
    let (session, one_client) = latest_session(state, &site, &visitor, &last)?;
    let inside: Vec<&StoredEvent> = ordered[..late].iter().map(|&(b, i)| &batches[b][i]).collect();
    let absorbed =
        inside.iter().all(|e| e.ts > session.start_ts).then(|| sessions::absorb(&session, &inside, one_client)).flatten();
    let Some(absorbed) = absorbed else { return recompute_window(state, batches, &ordered, (&site, &visitor), &last, rule, plan) };
    for &(b, i) in &ordered[..late] {
        batches[b][i].session_id.clone_from(&absorbed.id);
        plan.outcomes[b][i] = Appended::Stored { session_id: absorbed.id.clone(), visitor_id: visitor.clone(), session_started: false };
    }
    if late < ordered.len() {
        return follow(state, batches, &ordered[late..], Some(&last), Some((absorbed, one_client)), rule, plan);
    }
    plan.sessions.push(SessionWrite::Extend(absorbed));
    plan.latest.push(Latest::Kept { last: Box::new(last), session: plan.sessions.len() - 1, one_client });
    Ok(())
}

/// The session of the visitor's latest stored event, and whether it holds
/// one client session id (trivially so when it has none).
fn latest_session<S: StoredState>(state: &mut S, site: &str, visitor: &str, last: &StoredEvent) -> Result<(Session, bool), S::Error> {
    let session = state.session(site, visitor, &last.session_id)?;
    let one_client = session.client_session_id.is_none() || state.one_client(site, visitor, &session.id)?;
    Ok((session, one_client))
}

/// New events that all come after the visitor's latest stored event: the
/// first continues its session unless the rule splits them. `absorbed` is
/// that session with late events already absorbed (and whether it holds
/// one client session), to write either way.
fn follow<S: StoredState>(
    state: &mut S,
    batches: &mut [Vec<StoredEvent>],
    ordered: &[Position],
    latest: Option<&StoredEvent>,
    absorbed: Option<(Session, bool)>,
    rule: Rule,
    plan: &mut Plan,
) -> Result<(), S::Error> {
    let (fb, fi) = ordered[0];
    let first = &batches[fb][fi];
    // The session is read only when the idle and client-id parts of the
    // rule let the events continue it; its start decides the rest.
    let open: Option<(Session, bool, &StoredEvent)> = match latest {
        Some(last) if !rule.splits_pair(last, first) => match absorbed.clone() {
            Some((session, one_client)) => Some((session, one_client, last)),
            None => {
                let (session, one_client) = latest_session(state, &first.site, &first.visitor_id, last)?;
                Some((session, one_client, last))
            }
        },
        _ => None,
    };
    let visitor = first.visitor_id.clone();
    let refs: Vec<&StoredEvent> = ordered.iter().map(|&(b, i)| &batches[b][i]).collect();
    let (ranges, continues) = rule.cut(&refs, open.as_ref().map(|(s, _, last)| (s.start_ts, *last)));
    // Continued, the open session is written extended below; else the
    // absorbed one is written as it is.
    if let Some((session, _)) = absorbed.filter(|_| !(open.is_some() && continues)) {
        plan.sessions.push(SessionWrite::Extend(session));
    }
    let mut planned: Vec<(Session, bool, std::ops::Range<usize>)> = Vec::with_capacity(ranges.len());
    let mut one_client = false;
    for (k, range) in ranges.into_iter().enumerate() {
        let events = &refs[range.clone()];
        let session = match &open {
            Some((previous, previous_one, _)) if continues && k == 0 => {
                let session = sessions::extend(previous, events);
                one_client = *previous_one && sessions::one_client(events, &session.client_session_id);
                (session, false, range)
            }
            _ => {
                let session = sessions::summarize(events);
                one_client = sessions::one_client(events, &session.client_session_id);
                (session, true, range)
            }
        };
        planned.push(session);
    }
    for (session, started, range) in planned {
        for (offset, &(b, i)) in ordered[range.clone()].iter().enumerate() {
            batches[b][i].session_id.clone_from(&session.id);
            plan.outcomes[b][i] =
                Appended::Stored { session_id: session.id.clone(), visitor_id: visitor.clone(), session_started: started && offset == 0 };
        }
        plan.sessions.push(if started { SessionWrite::Insert(session) } else { SessionWrite::Extend(session) });
    }
    let position = *ordered.last().expect("a visitor's run has events");
    plan.latest.push(Latest::Event { position, session: plan.sessions.len() - 1, one_client });
    Ok(())
}

/// Where an event of a visitor's window comes from.
#[derive(Clone, Copy)]
enum Origin {
    Stored,
    New(Position),
}

/// The stored sessions a late event can change: those overlapping a
/// timeout around the new events, then, while a stored session starts
/// within a timeout of the window's end, that one too.
fn window<S: StoredState>(state: &mut S, site: &str, visitor: &str, lo: i64, hi: i64, rule: Rule) -> Result<Vec<SessionSpan>, S::Error> {
    let from = lo.saturating_sub(rule.timeout_ms);
    let mut reach = hi;
    loop {
        let spans = state.sessions_overlapping(site, visitor, from, reach.saturating_add(rule.timeout_ms), usize::MAX)?;
        let end = spans.iter().map(|s| s.end_ts).max().unwrap_or(reach).max(reach);
        if end == reach {
            return Ok(spans);
        }
        reach = end;
    }
}

/// Recomputes the window of the visitor's sessions the new events can
/// change. When the window holds the visitor's `latest` stored event, its
/// last event is the visitor's latest after the plan: the backend then
/// remembers it with its session (and whether that holds one client
/// session id), as after an ordered event; otherwise it forgets the
/// visitor.
fn recompute_window<S: StoredState>(
    state: &mut S,
    batches: &mut [Vec<StoredEvent>],
    ordered: &[Position],
    (site, visitor): (&str, &str),
    latest: &StoredEvent,
    rule: Rule,
    plan: &mut Plan,
) -> Result<(), S::Error> {
    let (lo, hi) = {
        let ts = |&(b, i): &Position| batches[b][i].ts;
        (ordered.first().map(ts).unwrap_or_default(), ordered.last().map(ts).unwrap_or_default())
    };
    let old_sessions = window(state, site, visitor, lo, hi, rule)?;
    let stored = state.events_of(site, &old_sessions)?;

    let mut events: Vec<(&StoredEvent, Origin)> = stored.iter().map(|e| (e, Origin::Stored)).collect();
    events.extend(ordered.iter().map(|&(b, i)| (&batches[b][i], Origin::New((b, i)))));
    events.sort_by(|a, c| sessions::order(a.0, c.0));
    let refs: Vec<&StoredEvent> = events.iter().map(|(e, _)| *e).collect();
    let computed = sessions::sessionize(&refs, rule);

    let mut assigned: Vec<(Position, Appended)> = Vec::with_capacity(ordered.len());
    for (session, range) in &computed {
        let started = events[range.clone()].iter().all(|(_, o)| matches!(o, Origin::New(..)));
        for (k, (e, origin)) in events[range.clone()].iter().enumerate() {
            match *origin {
                Origin::Stored if e.session_id != session.id => plan.moved.push((site.to_owned(), e.id.clone(), session.id.clone())),
                Origin::Stored => {}
                Origin::New(position) => assigned.push((
                    position,
                    Appended::Stored { session_id: session.id.clone(), visitor_id: visitor.to_owned(), session_started: started && k == 0 },
                )),
            }
        }
    }
    let holds_latest = old_sessions.iter().any(|s| s.id == latest.session_id);
    let last_one_client = computed.last().is_some_and(|(s, range)| sessions::one_client(&refs[range.clone()], &s.client_session_id));
    let last_origin = events.last().map(|(e, origin)| (*origin, (*e).clone()));
    plan.sessions.extend(old_sessions.into_iter().map(|s| SessionWrite::Delete { site: site.to_owned(), id: s.id }));
    plan.sessions.extend(computed.into_iter().map(|(session, _)| SessionWrite::Insert(session)));
    for ((b, i), appended) in assigned {
        if let Appended::Stored { session_id, .. } = &appended {
            batches[b][i].session_id.clone_from(session_id);
        }
        plan.outcomes[b][i] = appended;
    }
    let session = plan.sessions.len() - 1;
    plan.latest.push(match last_origin {
        Some((Origin::New(position), _)) if holds_latest => Latest::Event { position, session, one_client: last_one_client },
        Some((Origin::Stored, last)) if holds_latest => Latest::Kept { last: Box::new(last), session, one_client: last_one_client },
        _ => Latest::Recomputed { site: site.to_owned(), visitor: visitor.to_owned() },
    });
    Ok(())
}
