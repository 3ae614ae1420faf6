//! Enrichment: what the collector adds to a valid event from the request
//! around it — browser, OS and device from the user agent, source, medium
//! and campaign from the referrer and URL, and the place from the IP
//! address. The IP address goes no further than this module and the
//! cookieless key ([`super::visitor`]): nothing here stores it.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use super::agent::{AgentParser, Client};
use super::geo::{GeoDb, GeoDbError};
use super::referrer::Attributions;
use crate::event::StoredEvent;

pub struct Enricher {
    agents: AgentParser,
    geo: Option<GeoDb>,
}

/// The request an event came with. A browser's request always has both; a
/// server may state neither for an event that names its visitor by id.
#[derive(Clone, Copy)]
pub struct Sender<'a> {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<&'a str>,
}

impl Enricher {
    pub fn new(geoip_db: Option<&Path>, headless_browsers_are_bots: bool) -> Result<Enricher, GeoDbError> {
        Ok(Enricher { agents: AgentParser::new(headless_browsers_are_bots), geo: geoip_db.map(GeoDb::open).transpose()? })
    }

    /// What the user agent is; cached, and called once per request for a
    /// browser's batch.
    pub fn classify(&self, user_agent: &str) -> Arc<Client> {
        self.agents.classify(user_agent)
    }

    /// Fills in the enrichment columns of `row` from its sender, whose user
    /// agent (if stated) `client` classified; `Err` with the bot's name when
    /// the sender is a bot (the event is then counted, not stored).
    /// `attributions` remembers what the batch's earlier events had.
    pub fn enrich(
        &self,
        row: &mut StoredEvent,
        sender: &Sender,
        client: Option<&Client>,
        attributions: &mut Attributions,
    ) -> Result<(), String> {
        if let Some(client) = client {
            match client {
                Client::Bot(name) => return Err(name.clone()),
                Client::Visitor(agent) => {
                    row.browser = agent.browser.clone();
                    row.browser_version = agent.browser_version.clone();
                    row.os = agent.os.clone();
                    row.device = Some(agent.device.to_owned());
                }
            }
        }
        let a = attributions.attribute(&row.url, row.referrer.as_deref());
        row.referrer_host = a.referrer_host;
        row.source = Some(a.source);
        row.medium = Some(a.medium);
        row.utm_source = a.utm_source;
        row.utm_medium = a.utm_medium;
        row.utm_campaign = a.utm_campaign;
        row.utm_term = a.utm_term;
        row.utm_content = a.utm_content;
        if let (Some(geo), Some(ip)) = (&self.geo, sender.ip) {
            let place = geo.locate(ip);
            row.country = place.country;
            row.region = place.region;
            row.city = place.city;
        }
        Ok(())
    }
}
