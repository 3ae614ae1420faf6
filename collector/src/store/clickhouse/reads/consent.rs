//! The consent log in ClickHouse SQL: a page of the site's `$consent`
//! events in a period, with the total (see [`crate::query::consent`]).

use super::filter::events_in;
use super::sessions::Total;
use crate::query::consent::{ConsentLog, ConsentLogRequest, ConsentRecord};
use crate::query::{QueryError, Site};
use crate::store::clickhouse::client::{Client, lit};
use waymark_protocol::names;

#[derive(serde::Deserialize)]
struct Decision {
    id: String,
    ts: i64,
    visitor_id: String,
    session_id: String,
    user_id: Option<String>,
    client_session_id: Option<String>,
    url: String,
    path: String,
    props: String,
}

pub(super) async fn consent_log(client: &Client, site: &Site, request: &ConsentLogRequest) -> Result<ConsentLog, QueryError> {
    let (lo, hi) = request.period.bounds(&site.time_zone);
    let mut from = format!("{} AND name = {}", events_in(&site.key, lo, hi), lit(names::CONSENT));
    if let Some(visitor) = &request.visitor_id {
        from.push_str(&format!(" AND visitor_id = {}", lit(visitor)));
    }
    let total: Vec<Total> = client.rows(&format!("SELECT toInt64(count()) AS total FROM {from}")).await?;
    let per_page = request.per_page();
    let rows: Vec<Decision> = client
        .rows(&format!(
            "SELECT id, ts, visitor_id, session_id, user_id, client_session_id, url, path, props FROM {from}
             ORDER BY ts DESC, id LIMIT {}, {per_page}",
            request.offset()
        ))
        .await?;
    let records = rows
        .into_iter()
        .map(|d| {
            ConsentRecord::from_event(
                d.id,
                d.ts,
                d.visitor_id,
                d.session_id,
                d.user_id,
                d.client_session_id.as_deref(),
                d.url,
                d.path,
                &d.props,
            )
        })
        .collect();
    Ok(ConsentLog { total: total.first().map_or(0, |t| t.total), page: request.page, per_page, records })
}
