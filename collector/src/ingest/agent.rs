//! User agent → browser, OS and device type, or a bot.
//!
//! Policy: a request is a bot when woothee calls it a crawler or when the
//! `isbot` pattern list matches (crawlers, monitors, HTTP libraries,
//! headless browsers unless the config counts those as visitors). Bots are
//! counted per day in `bot_hits`, never turned into events or visits.
//! Mechanism: parsing is cached per distinct user agent, since a site's
//! traffic repeats a few hundred of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the collector knows about the software that sent an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    Visitor(Agent),
    /// A bot, by the name it gives (`Googlebot`, `curl`, …).
    Bot(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Agent {
    pub browser: Option<String>,
    pub browser_version: Option<String>,
    pub os: Option<String>,
    /// `desktop`, `mobile`, `tablet` or `other`.
    pub device: &'static str,
}

/// Distinct user agents remembered; past this the cache starts over.
const CACHE_CAPACITY: usize = 10_000;
const UNKNOWN: &str = "UNKNOWN";

pub struct AgentParser {
    parser: woothee::parser::Parser,
    bots: isbot::Bots,
    cache: Mutex<HashMap<Box<str>, Arc<Client>>>,
}

impl AgentParser {
    pub fn new(headless_browsers_are_bots: bool) -> AgentParser {
        let mut bots = isbot::Bots::default();
        if !headless_browsers_are_bots {
            bots.remove(&["headlesschrome", "headless"]);
        }
        AgentParser { parser: woothee::parser::Parser::new(), bots, cache: Mutex::new(HashMap::new()) }
    }

    pub fn classify(&self, user_agent: &str) -> Arc<Client> {
        if let Some(hit) = self.cache.lock().expect("agent cache").get(user_agent) {
            return hit.clone();
        }
        let client = Arc::new(self.parse(user_agent));
        let mut cache = self.cache.lock().expect("agent cache");
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(user_agent.into(), client.clone());
        client
    }

    fn parse(&self, user_agent: &str) -> Client {
        if user_agent.trim().is_empty() {
            return Client::Bot("(no user agent)".into());
        }
        let parsed = self.parser.parse(user_agent);
        if let Some(p) = &parsed
            && p.category == "crawler"
        {
            return Client::Bot(bot_name(user_agent));
        }
        if self.bots.is_bot(user_agent) {
            return Client::Bot(bot_name(user_agent));
        }
        let Some(p) = parsed else { return Client::Visitor(Agent { device: "other", ..Agent::default() }) };
        let known = |s: &str| (s != UNKNOWN && !s.is_empty()).then(|| s.to_owned());
        let device = match p.category {
            _ if p.os == "iPad" || (p.os == "Android" && !user_agent.contains("Mobile")) => "tablet",
            "pc" => "desktop",
            "smartphone" | "mobilephone" => "mobile",
            _ => "other",
        };
        Client::Visitor(Agent { browser: known(p.name), browser_version: known(p.version), os: known(p.os), device })
    }
}

/// The product token that names the bot: `Mozilla/5.0 (compatible;
/// AhrefsBot/7.0; …)` → `AhrefsBot`; else the first token (`curl/8.5` →
/// `curl`).
fn bot_name(user_agent: &str) -> String {
    let tokens = || user_agent.split([' ', ';', '(', ')', ',']).filter(|t| !t.is_empty());
    let looks_like_bot = |t: &&str| {
        let t = t.to_ascii_lowercase();
        ["bot", "crawl", "spider", "slurp", "headless", "fetch"].iter().any(|b| t.contains(b))
    };
    let token = tokens().find(looks_like_bot).or_else(|| tokens().next()).unwrap_or("bot");
    let name = token.split('/').next().unwrap_or(token);
    name.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
    const SAFARI_IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
    const HEADLESS: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36";

    fn visitor(client: &Client) -> &Agent {
        match client {
            Client::Visitor(agent) => agent,
            Client::Bot(name) => panic!("a bot: {name}"),
        }
    }

    #[test]
    fn browsers_give_their_name_os_and_device() {
        let parser = AgentParser::new(true);
        let chrome = parser.classify(CHROME_WINDOWS);
        let chrome = visitor(&chrome);
        assert_eq!((chrome.browser.as_deref(), chrome.os.as_deref(), chrome.device), (Some("Chrome"), Some("Windows 10"), "desktop"));
        assert_eq!(chrome.browser_version.as_deref(), Some("131.0.0.0"));
        assert_eq!(visitor(&parser.classify(SAFARI_IPHONE)).device, "mobile");
        assert_eq!(visitor(&parser.classify(SAFARI_IPAD)).device, "tablet");
    }

    #[test]
    fn crawlers_and_tools_are_bots_by_name() {
        let parser = AgentParser::new(true);
        let cases = [
            ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
            ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "AhrefsBot"),
            ("curl/8.5.0", "curl"),
            ("python-requests/2.31.0", "python-requests"),
            ("", "(no user agent)"),
        ];
        for (ua, name) in cases {
            assert_eq!(*parser.classify(ua), Client::Bot(name.into()), "{ua}");
        }
    }

    #[test]
    fn headless_browsers_are_bots_unless_configured_as_visitors() {
        assert!(matches!(*AgentParser::new(true).classify(HEADLESS), Client::Bot(_)));
        assert!(matches!(*AgentParser::new(false).classify(HEADLESS), Client::Visitor(_)));
    }
}
