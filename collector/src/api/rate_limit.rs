//! Per-client-address and per-site request rates (GCRA via `governor`).
//! Over the rate a request is refused with 429 and `Retry-After`; nothing
//! is queued for later.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;

pub struct RateLimits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_site: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

/// Which limit a request ran into, and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    pub scope: &'static str,
    pub retry_after: Duration,
}

fn quota(per_second: u32, burst: u32) -> Quota {
    let nonzero = |n: u32| NonZeroU32::new(n.max(1)).expect("at least 1");
    Quota::per_second(nonzero(per_second)).allow_burst(nonzero(burst))
}

impl RateLimits {
    pub fn new(limits: &LimitsConfig) -> RateLimits {
        RateLimits {
            per_ip: RateLimiter::keyed(quota(limits.per_ip_per_second, limits.per_ip_burst)),
            per_site: RateLimiter::keyed(quota(limits.per_site_per_second, limits.per_site_burst)),
            clock: DefaultClock::default(),
        }
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Exceeded> {
        self.per_ip.check_key(&ip).map_err(|n| Exceeded { scope: "ip", retry_after: n.wait_time_from(self.clock.now()) })
    }

    pub fn check_site(&self, site: &str) -> Result<(), Exceeded> {
        // The key is cloned only for sites in the config (checked before).
        self.per_site
            .check_key(&site.to_owned())
            .map_err(|n| Exceeded { scope: "site", retry_after: n.wait_time_from(self.clock.now()) })
    }

    /// Forgets clients whose limits have fully recovered; run periodically
    /// so the table does not grow with every address ever seen.
    pub fn forget_idle(&self) {
        self.per_ip.retain_recent();
        self.per_ip.shrink_to_fit();
        self.per_site.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_past_the_limit_is_refused_with_a_wait() {
        let limits = RateLimits::new(&LimitsConfig { per_ip_per_second: 1, per_ip_burst: 2, ..LimitsConfig::default() });
        let ip: IpAddr = "203.0.113.1".parse().unwrap();
        assert!(limits.check_ip(ip).is_ok());
        assert!(limits.check_ip(ip).is_ok());
        let exceeded = limits.check_ip(ip).unwrap_err();
        assert_eq!(exceeded.scope, "ip");
        assert!(exceeded.retry_after > Duration::ZERO && exceeded.retry_after <= Duration::from_secs(1));
        assert!(limits.check_ip("203.0.113.2".parse().unwrap()).is_ok(), "other addresses are not affected");
    }
}
