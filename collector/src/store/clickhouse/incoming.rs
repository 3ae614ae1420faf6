//! Events appended by collectors that leave sessions to the sessionizer
//! (`[store] sessionizer = "inside"` or `"separate"`), and how the
//! sessionizer reads them back.
//!
//! Policy: such a collector answers 2xx once ClickHouse has acknowledged
//! the group's insert into `incoming`; it answers an id it can see stored
//! (in `events`, or still in `incoming`) as a duplicate. Two copies that
//! slip past it (sent to two collectors at once) are both appended; the
//! sessionizer plans with a lookup of every id, so only one becomes an
//! event, and `events` is read through `FINAL` by id anyway (see
//! `schema`).
//!
//! Mechanism: each row holds the event as the pipeline made it (JSON, with
//! the visitor's key under yesterday's salt, which only the plan may use)
//! and when it was written (`arrived_ms`: the collector's clock set to the
//! server's, [`ServerClock`], so that a collector's wrong clock does not
//! put its rows behind the sessionizer). The sessionizer
//! reads rows in `(arrived_ms, site, id)` order after its cursor, only
//! once their second is `lag` old, so that inserts still running are
//! done; an insert slower than that is found by the catch-up read, which
//! looks back [`GRACE_MS`] for rows that never became events. Rows older
//! than yesterday (and than the day before where the slowest sessionizer
//! is) are dropped with their day's partition.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::client::lit;
use super::db::Db;
use super::state::pairs;
use crate::event::StoredEvent;
use crate::store::{Appended, BotHit, StoreError};

/// How far back the catch-up read looks for rows a slow insert committed
/// behind the cursor: longer than any insert may take (the client gives
/// up on a statement after 30 s, and an insert it gave up on was not
/// acknowledged).
pub const GRACE_MS: i64 = 120_000;

/// Rows read in one page.
pub const PAGE: usize = 5_000;

#[derive(Serialize)]
struct Row<'a> {
    site: &'a str,
    id: &'a str,
    visitor_id: &'a str,
    visitor_id_yesterday: Option<&'a str>,
    event: String,
    arrived_ms: i64,
}

/// How often a collector compares its clock with the server's.
const CLOCK_CHECK: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Deserialize)]
struct ServerNow {
    now_ms: i64,
}

/// The collector's clock set to the server's: the offset measured at most
/// a minute ago (to the server's whole second, rounded to the middle).
#[derive(Default)]
pub(super) struct ServerClock {
    offset_ms: i64,
    checked: Option<std::time::Instant>,
}

impl ServerClock {
    fn now_ms(&mut self, db: &Db) -> Result<i64, StoreError> {
        use crate::clock::Clock;
        let local = || crate::clock::SystemClock.now_ms();
        if self.checked.is_none_or(|at| at.elapsed() >= CLOCK_CHECK) {
            let before = local();
            let server: Vec<ServerNow> = db.rows("SELECT toInt64(toUnixTimestamp(now())) * 1000 + 500 AS now_ms")?;
            let after = local();
            if let Some(server) = server.first() {
                self.offset_ms = server.now_ms - (before + after) / 2;
            }
            self.checked = Some(std::time::Instant::now());
        }
        Ok(local() + self.offset_ms)
    }
}

/// A row read back, with its place in the order.
#[derive(Deserialize)]
pub(super) struct Arrived {
    pub site: String,
    pub id: String,
    visitor_id_yesterday: Option<String>,
    event: String,
    pub arrived_ms: i64,
}

impl Arrived {
    pub(super) fn into_event(self) -> Result<StoredEvent, StoreError> {
        let mut event: StoredEvent =
            serde_json::from_str(&self.event).map_err(|e| StoreError::Backend(format!("an incoming row is not an event: {e}")))?;
        event.visitor_id_yesterday = self.visitor_id_yesterday;
        Ok(event)
    }
}

#[derive(Deserialize)]
struct IdRow {
    site: String,
    id: String,
}

/// Appends the group's new events to `incoming` (and its bot counts),
/// answering stored ids as duplicates.
pub(super) fn append(
    db: &Db,
    clock: &mut ServerClock,
    batches: &[Vec<StoredEvent>],
    bots: &[BotHit],
) -> Result<Vec<Vec<Appended>>, StoreError> {
    let ids = pairs(batches.iter().flatten().map(|e| (e.site.as_str(), e.id.as_str())));
    let stored: HashSet<(String, String)> = db
        .rows::<IdRow>(&format!(
            "SELECT site, id FROM event_keys WHERE (site, id) IN {ids} UNION ALL SELECT site, id FROM incoming WHERE (site, id) IN {ids}"
        ))?
        .into_iter()
        .map(|r| (r.site, r.id))
        .collect();
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    let mut rows = Vec::new();
    let arrived_ms = clock.now_ms(db)?;
    let mut outcomes = Vec::with_capacity(batches.len());
    for events in batches {
        let mut answered = Vec::with_capacity(events.len());
        for e in events {
            let fresh = seen.insert((&e.site, &e.id)) && !stored.contains(&(e.site.clone(), e.id.clone()));
            if !fresh {
                answered.push(Appended::Duplicate);
                continue;
            }
            let event = serde_json::to_string(e).map_err(|err| StoreError::Backend(err.to_string()))?;
            rows.push(Row {
                site: &e.site,
                id: &e.id,
                visitor_id: &e.visitor_id,
                visitor_id_yesterday: e.visitor_id_yesterday.as_deref(),
                event,
                arrived_ms,
            });
            answered.push(Appended::Accepted { visitor_id: e.visitor_id.clone() });
        }
        outcomes.push(answered);
    }
    db.insert("incoming", &rows)?;
    db.insert("bot_hits", bots)?;
    Ok(outcomes)
}

/// Where a sessionizer is in `incoming`: the last row it took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    pub arrived_ms: i64,
    pub site: String,
    pub id: String,
}

/// Which visitors a sessionizer takes: shard `index` of `count`, by a hash
/// of the visitor's key (yesterday's, when the event offers it, so that a
/// visit across midnight stays with one sessionizer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Reads `i/n`, as `waymark sessionize --shard` takes it.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {text:?}: expected i/n with 0 <= i < n, e.g. 0/2");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse::<u32>().map_err(|_| bad())?, n.trim().parse::<u32>().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Its name in `sessionizer_progress`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.index, self.count)
    }

    fn condition(&self) -> String {
        if self.count == 1 {
            return String::new();
        }
        format!("AND cityHash64(site, ifNull(visitor_id_yesterday, visitor_id)) % {} = {}", self.count, self.index)
    }
}

const ARRIVED: &str = "site, id, visitor_id_yesterday, event, arrived_ms";

/// The next page of rows after `cursor` whose second is `lag_ms` old.
pub(super) fn after(db: &Db, cursor: &Cursor, shard: Shard, lag_ms: i64) -> Result<Vec<Arrived>, StoreError> {
    let Cursor { arrived_ms: a, site, id } = cursor;
    let (s, i) = (lit(site), lit(id));
    db.rows(&format!(
        "SELECT {ARRIVED} FROM incoming
         WHERE arrived_ms <= toInt64(toUnixTimestamp(now())) * 1000 + 1000 - {lag_ms}
           AND (arrived_ms > {a} OR (arrived_ms = {a} AND (site > {s} OR (site = {s} AND id > {i})))) {}
         ORDER BY arrived_ms, site, id LIMIT {PAGE}",
        shard.condition()
    ))
}

/// The visitors (each key a row offers) of the rows from the
/// [`GRACE_MS`] before the cursor on that are events already. Where a
/// sessionizer resumes, those after the cursor (and those of a catch-up
/// read) may have been written by one killed between its events insert and
/// its sessions insert: read again they are duplicates, which make no
/// sessions, so their visitors' sessions are rebuilt.
pub(super) fn written(db: &Db, cursor: &Cursor, shard: Shard) -> Result<Vec<(String, String)>, StoreError> {
    #[derive(Deserialize)]
    struct Keys {
        site: String,
        visitor_id: String,
        visitor_id_yesterday: Option<String>,
    }
    let from = cursor.arrived_ms - GRACE_MS;
    let received = from - 10 * GRACE_MS;
    let rows: Vec<Keys> = db.rows(&format!(
        "SELECT DISTINCT site, visitor_id, visitor_id_yesterday FROM incoming
         WHERE arrived_ms >= {from} {}
           AND (site, id) GLOBAL IN (SELECT site, id FROM event_keys WHERE received_ms >= {received})",
        shard.condition()
    ))?;
    let mut visitors: Vec<(String, String)> = rows
        .into_iter()
        .flat_map(|k| std::iter::once(k.visitor_id).chain(k.visitor_id_yesterday).map(move |v| (k.site.clone(), v)))
        .collect();
    visitors.sort();
    visitors.dedup();
    Ok(visitors)
}

/// Rows of the [`GRACE_MS`] up to the cursor that are not events: those
/// of inserts that committed behind it.
pub(super) fn missed(db: &Db, cursor: &Cursor, shard: Shard) -> Result<Vec<Arrived>, StoreError> {
    let (to, from) = (cursor.arrived_ms, cursor.arrived_ms - GRACE_MS);
    // An event is received before its row arrives; how much before is the
    // queue's wait and the insert's time, far less than this.
    let received = from - 10 * GRACE_MS;
    db.rows(&format!(
        "SELECT {ARRIVED} FROM incoming
         WHERE arrived_ms >= {from} AND arrived_ms <= {to} {}
           AND (site, id) GLOBAL NOT IN (SELECT site, id FROM event_keys WHERE received_ms >= {received})
         ORDER BY arrived_ms, site, id",
        shard.condition()
    ))
}

#[derive(Deserialize)]
struct Partition {
    partition: String,
}

/// Drops the days of `incoming` before the day before `read_past` (today,
/// or the earliest day a sessionizer is at) on every server: what they
/// held is in `events`, or was erased.
pub(super) fn prune(db: &Db, read_past: i64) -> Result<(), StoreError> {
    let connection = db.client().connection();
    let local = super::schema::local("incoming", connection.cluster.is_some());
    for server in connection.servers() {
        let client = super::client::Client::new(server);
        let parts: Vec<Partition> = db.block_on(client.rows(&format!(
            "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = {} AND active",
            lit(&local)
        )))?;
        for day in parts.iter().filter_map(|p| p.partition.trim_matches('\'').parse::<i64>().ok()).filter(|&d| d < read_past - 1) {
            db.block_on(client.execute(&format!("ALTER TABLE {local} DROP PARTITION {day}")))?;
        }
    }
    Ok(())
}
