//! Time sources for the live loop.
//!
//! The engine never reads a clock itself: the loop reads one of these and
//! passes the time in. `andon demo` uses a scaled clock so that a 15-minute
//! load-test profile plays out in 90 seconds with every `for`, `clear_for`
//! and rate window scaled alike.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of "now" in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> i64;

    /// The real time to wait for `virtual_duration` to pass on this clock.
    fn real_duration(&self, virtual_duration: Duration) -> Duration;
}

/// The wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        system_now_ms()
    }

    fn real_duration(&self, virtual_duration: Duration) -> Duration {
        virtual_duration
    }
}

/// Milliseconds since the Unix epoch from the wall clock.
pub fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A clock that runs `speed` times faster than real time from a start point.
#[derive(Debug)]
pub struct ScaledClock {
    start_real: Instant,
    start_ms: i64,
    speed: f64,
}

impl ScaledClock {
    /// Starts at `start_ms` now and advances `speed` virtual seconds per real
    /// second. `speed` must be positive.
    pub fn new(start_ms: i64, speed: f64) -> ScaledClock {
        ScaledClock { start_real: Instant::now(), start_ms, speed }
    }
}

impl Clock for ScaledClock {
    fn now_ms(&self) -> i64 {
        let elapsed = self.start_real.elapsed().as_secs_f64() * self.speed;
        self.start_ms + (elapsed * 1000.0) as i64
    }

    fn real_duration(&self, virtual_duration: Duration) -> Duration {
        virtual_duration.div_f64(self.speed)
    }
}

/// Formats ms since the Unix epoch as RFC 3339 in UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("{ms}ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_clock_divides_waits() {
        let clock = ScaledClock::new(0, 10.0);
        assert_eq!(clock.real_duration(Duration::from_secs(1)), Duration::from_millis(100));
    }

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(1_700_000_000_000), "2023-11-14T22:13:20Z");
    }
}
