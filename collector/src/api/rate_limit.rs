//! Per-client-address and per-site request rates (GCRA via `governor`),
//! and the dashboard's sign-in attempts.
//!
//! Policy: over the rate a request is refused with 429 and `Retry-After`
//! (the wait until one more request fits); nothing is queued for later.
//! Sign-in allows [`SIGN_IN_ATTEMPTS_PER_MINUTE`] attempts per client
//! address and, separately, per account name (a guesser spread over many
//! addresses still meets the account's limit), each refilled one at a time
//! over the minute. Every attempt counts, not only failures: while limited,
//! even the right password is refused, or the answer would tell a guesser
//! that a guess was right. The price: someone guessing at an account keeps
//! its owner waiting too, a few seconds at a time, which is the usual trade.
//!
//! Mechanism: the limiters run on the collector's injected clock
//! ([`Clock::monotonic`]), not on governor's own: tests move time instead of
//! sleeping, and a wall clock set back cannot stretch a wait.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::Clock;
use crate::config::LimitsConfig;

/// The collector's clock as governor reads it.
#[derive(Clone)]
struct LimiterClock(Arc<dyn Clock>);

impl governor::clock::Clock for LimiterClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.0.monotonic()
    }
}

type KeyedLimiter<K> = RateLimiter<K, DefaultKeyedStateStore<K>, LimiterClock, NoOpMiddleware<Duration>>;

/// Sign-in attempts allowed per minute, per client address and per account.
pub const SIGN_IN_ATTEMPTS_PER_MINUTE: u32 = 10;
/// Account names longer than this are limited under their first this many
/// characters, so the table's keys stay small.
const ACCOUNT_KEY_CHARS: usize = 64;

pub struct RateLimits {
    per_ip: KeyedLimiter<IpAddr>,
    per_site: KeyedLimiter<String>,
    sign_in_per_ip: KeyedLimiter<IpAddr>,
    sign_in_per_account: KeyedLimiter<String>,
    clock: Arc<dyn Clock>,
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

fn sign_in_quota() -> Quota {
    let attempts = NonZeroU32::new(SIGN_IN_ATTEMPTS_PER_MINUTE).expect("at least 1");
    Quota::per_minute(attempts).allow_burst(attempts)
}

fn keyed<K: Clone + Eq + std::hash::Hash>(quota: Quota, clock: &Arc<dyn Clock>) -> KeyedLimiter<K> {
    RateLimiter::new(quota, DefaultKeyedStateStore::default(), LimiterClock(clock.clone()))
}

impl RateLimits {
    pub fn new(limits: &LimitsConfig, clock: Arc<dyn Clock>) -> RateLimits {
        RateLimits {
            per_ip: keyed(quota(limits.per_ip_per_second, limits.per_ip_burst), &clock),
            per_site: keyed(quota(limits.per_site_per_second, limits.per_site_burst), &clock),
            sign_in_per_ip: keyed(sign_in_quota(), &clock),
            sign_in_per_account: keyed(sign_in_quota(), &clock),
            clock,
        }
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Exceeded> {
        self.per_ip.check_key(&ip).map_err(|n| Exceeded { scope: "ip", retry_after: n.wait_time_from(self.clock.monotonic()) })
    }

    pub fn check_site(&self, site: &str) -> Result<(), Exceeded> {
        // The key is cloned only for sites in the config (checked before).
        self.per_site
            .check_key(&site.to_owned())
            .map_err(|n| Exceeded { scope: "site", retry_after: n.wait_time_from(self.clock.monotonic()) })
    }

    /// Counts one sign-in attempt from `ip` for `account`.
    pub fn check_sign_in(&self, ip: IpAddr, account: &str) -> Result<(), Exceeded> {
        let wait = |n: governor::NotUntil<Duration>| n.wait_time_from(self.clock.monotonic());
        self.sign_in_per_ip.check_key(&ip).map_err(|n| Exceeded { scope: "from this address", retry_after: wait(n) })?;
        let key: String = account.chars().take(ACCOUNT_KEY_CHARS).collect::<String>().to_lowercase();
        self.sign_in_per_account.check_key(&key).map_err(|n| Exceeded { scope: "for this account", retry_after: wait(n) })
    }

    /// Forgets clients whose limits have fully recovered; run periodically
    /// so the table does not grow with every address ever seen.
    pub fn forget_idle(&self) {
        self.per_ip.retain_recent();
        self.per_ip.shrink_to_fit();
        self.per_site.retain_recent();
        self.sign_in_per_ip.retain_recent();
        self.sign_in_per_account.retain_recent();
        self.sign_in_per_account.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn limits_at(clock: &ManualClock, limits: LimitsConfig) -> RateLimits {
        RateLimits::new(&limits, Arc::new(clock.clone()))
    }

    #[test]
    fn a_burst_past_the_limit_is_refused_with_a_wait_and_after_the_wait_it_is_accepted_again() {
        let clock = ManualClock::at(1_000_000);
        let limits = limits_at(&clock, LimitsConfig { per_ip_per_second: 1, per_ip_burst: 2, ..LimitsConfig::default() });
        let ip: IpAddr = "203.0.113.1".parse().unwrap();
        assert!(limits.check_ip(ip).is_ok());
        assert!(limits.check_ip(ip).is_ok());
        let exceeded = limits.check_ip(ip).unwrap_err();
        assert_eq!(exceeded, Exceeded { scope: "ip", retry_after: Duration::from_secs(1) });
        assert!(limits.check_ip("203.0.113.2".parse().unwrap()).is_ok(), "other addresses are not affected");

        clock.advance(999);
        assert_eq!(limits.check_ip(ip).unwrap_err().retry_after, Duration::from_millis(1), "still short of the wait");
        clock.advance(1);
        assert!(limits.check_ip(ip).is_ok(), "accepted once the wait is over");
        assert!(limits.check_ip(ip).is_err(), "one request per second, not a new burst");
    }

    #[test]
    fn a_site_over_its_rate_waits_while_other_sites_do_not() {
        let clock = ManualClock::at(1_000_000);
        let limits = limits_at(&clock, LimitsConfig { per_site_per_second: 10, per_site_burst: 1, ..LimitsConfig::default() });
        assert!(limits.check_site("shop").is_ok());
        assert_eq!(limits.check_site("shop").unwrap_err(), Exceeded { scope: "site", retry_after: Duration::from_millis(100) });
        assert!(limits.check_site("demo").is_ok());
        clock.advance(100);
        assert!(limits.check_site("shop").is_ok());
    }

    #[test]
    fn the_eleventh_sign_in_within_a_minute_waits_per_address_and_per_account() {
        let clock = ManualClock::at(1_000_000);
        let limits = limits_at(&clock, LimitsConfig::default());
        let ip: IpAddr = "203.0.113.1".parse().unwrap();
        for _ in 0..10 {
            assert!(limits.check_sign_in(ip, "admin").is_ok());
        }
        let exceeded = limits.check_sign_in(ip, "ana").unwrap_err();
        assert_eq!(exceeded, Exceeded { scope: "from this address", retry_after: Duration::from_secs(6) });
        let other: IpAddr = "203.0.113.2".parse().unwrap();
        assert_eq!(limits.check_sign_in(other, "ADMIN").unwrap_err().scope, "for this account");
        assert!(limits.check_sign_in(other, "ana").is_ok());
        clock.advance(6_000);
        assert!(limits.check_sign_in(ip, "admin").is_ok(), "one attempt back every six seconds");
        assert!(limits.check_sign_in(ip, "admin").is_err());
    }

    #[test]
    fn a_full_recovery_is_a_full_burst_again() {
        let clock = ManualClock::at(1_000_000);
        let limits = limits_at(&clock, LimitsConfig { per_ip_per_second: 2, per_ip_burst: 3, ..LimitsConfig::default() });
        let ip: IpAddr = "198.51.100.9".parse().unwrap();
        let burst = |limits: &RateLimits| (0..10).take_while(|_| limits.check_ip(ip).is_ok()).count();
        assert_eq!(burst(&limits), 3);
        clock.advance(60_000);
        limits.forget_idle();
        assert_eq!(burst(&limits), 3, "a minute idle gives the burst back, not more");
    }
}
