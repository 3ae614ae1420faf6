//! Breakdowns in ClickHouse SQL: one grouped query, over sessions for a
//! session dimension and over events otherwise (see
//! [`crate::query::breakdown`]); rows by count, then by value with a
//! missing value first, as SQLite orders them.

use super::filter::{Scope, event_expression, events_in, has_property, on_events, on_sessions, session_column, sessions_in};
use crate::query::breakdown::{Breakdown, BreakdownRequest, Row};
use crate::query::filter::{Dimension, Level};
use crate::query::{QueryError, Site};
use crate::store::clickhouse::client::Client;

#[derive(serde::Deserialize)]
struct Counted {
    value: Option<String>,
    visitors: i64,
    total: i64,
    bounces: Option<i64>,
}

pub(super) async fn breakdown(client: &Client, site: &Site, request: &BreakdownRequest) -> Result<Breakdown, QueryError> {
    let (lo, hi) = request.period.bounds(&site.time_zone);
    let scope = Scope::of(site, lo, hi);
    let (value, from, bounces) = match request.dimension.level() {
        Level::Session => {
            let column = session_column(&request.dimension).expect("session dimensions have a column");
            (
                column.to_owned(),
                format!("{}{}", sessions_in(scope.site, lo, hi), on_sessions(&request.filters, scope)),
                "toInt64(sum(bounce))",
            )
        }
        Level::Event => {
            let only = match &request.dimension {
                Dimension::Page => " AND name = '$pageview'".to_owned(),
                Dimension::Property(key) => format!(" AND {}", has_property(key)),
                _ => String::new(),
            };
            let expression = event_expression(&request.dimension).expect("event dimensions have an expression");
            (
                expression,
                format!("{}{only}{}", events_in(scope.site, lo, hi), on_events(&request.filters, scope)),
                "CAST(NULL AS Nullable(Int64))",
            )
        }
    };
    let sql = format!(
        "SELECT {value} AS value, toInt64(uniqExact(visitor_id)) AS visitors, toInt64(count()) AS total, {bounces} AS bounces
         FROM {from} GROUP BY value ORDER BY total DESC, isNotNull(value), value LIMIT {}",
        request.limit()
    );
    let rows: Vec<Counted> = client.rows(&sql).await?;
    let rows = rows.into_iter().map(|r| Row::new(r.value, r.visitors, r.total, r.bounces)).collect();
    Ok(Breakdown { dimension: request.dimension.name(), metric: request.metric(), rows })
}
