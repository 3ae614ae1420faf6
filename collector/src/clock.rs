//! The collector's clock, passed in: production reads the system time, tests
//! set the date (midnight, salt rotation, idle gaps) and move waits (rate
//! limits) without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The time, twice: the date (wall time) and, for measuring waits, a
/// reading that never goes back.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch, UTC.
    fn now_ms(&self) -> i64;

    /// Time since an arbitrary origin that only moves forward, for waits
    /// (rate limits): a wall clock set back must not stretch them.
    fn monotonic(&self) -> Duration;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
    }

    fn monotonic(&self) -> Duration {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        ORIGIN.get_or_init(Instant::now).elapsed()
    }
}

/// A clock that only moves when told to; clones share the time. Set back
/// (events arriving out of order), its date goes back and its monotonic
/// reading stays at the furthest time it was set to, as a system's would.
#[derive(Clone)]
pub struct ManualClock(Arc<ManualTime>);

struct ManualTime {
    now: AtomicI64,
    furthest: AtomicI64,
}

impl ManualClock {
    pub fn at(ms: i64) -> ManualClock {
        ManualClock(Arc::new(ManualTime { now: AtomicI64::new(ms), furthest: AtomicI64::new(ms) }))
    }
    pub fn set(&self, ms: i64) {
        self.0.now.store(ms, Ordering::SeqCst);
        self.0.furthest.fetch_max(ms, Ordering::SeqCst);
    }
    pub fn advance(&self, ms: i64) {
        let now = self.0.now.fetch_add(ms, Ordering::SeqCst) + ms;
        self.0.furthest.fetch_max(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.now.load(Ordering::SeqCst)
    }

    fn monotonic(&self) -> Duration {
        Duration::from_millis(self.0.furthest.load(Ordering::SeqCst).max(0) as u64)
    }
}

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The UTC day number (days since the epoch) of a time.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// `YYYY-MM-DD` of a UTC day number (civil-from-days, Howard Hinnant).
pub fn day_label(day: i64) -> String {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_labelled_as_utc_dates() {
        assert_eq!(day_label(0), "1970-01-01");
        assert_eq!(day_label(day_of(1_764_000_000_000)), "2025-11-24");
        assert_eq!(day_label(day_of(951_782_400_000)), "2000-02-29");
        assert_eq!(day_of(-1), -1);
    }

    #[test]
    fn a_manual_clock_set_back_goes_back_in_date_but_not_in_monotonic_time() {
        let clock = ManualClock::at(10_000);
        clock.advance(5_000);
        clock.set(2_000);
        assert_eq!(clock.now_ms(), 2_000);
        assert_eq!(clock.monotonic(), Duration::from_millis(15_000));
        clock.set(16_000);
        assert_eq!(clock.monotonic(), Duration::from_millis(16_000));
    }

    #[test]
    fn the_system_clocks_monotonic_time_never_goes_back() {
        let first = SystemClock.monotonic();
        assert!(SystemClock.monotonic() >= first);
    }
}
