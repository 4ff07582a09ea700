//! The load-test profile that `andon demo` replays: what an erlmcp server's
//! metrics look like at each second of a load test.

/// The server's condition at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Condition {
    /// Requests (messages) per second.
    pub requests_per_second: f64,
    /// Fraction of requests that fail.
    pub error_ratio: f64,
    /// Latency quantiles in seconds.
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    /// CPU use as a fraction of one core.
    pub cpu: f64,
    /// Resident memory of this one process. The load tests measured the sum
    /// over 8 replicas, so each figure here is that sum divided by 8, as
    /// the default memory rule expects.
    pub memory_bytes: f64,
    pub connections: f64,
}

const MB: f64 = 1_000_000.0;

/// Baseline at 25 clients, from the erlmcp load tests: 2,500 msg/s, p50
/// 15 ms, p95 85 ms, p99 180 ms.
const BASELINE: Condition = Condition {
    requests_per_second: 2_500.0,
    error_ratio: 0.0001,
    p50: 0.015,
    p95: 0.085,
    p99: 0.180,
    cpu: 0.30,
    memory_bytes: 220.0 * MB / 8.0,
    connections: 25.0,
};

/// A connection flood: 420 connections (past the emergency line of 350),
/// CPU at 65% (red) and memory at 320 MB over 8 replicas (yellow).
const FLOOD: Condition = Condition {
    requests_per_second: 3_000.0,
    error_ratio: 0.0002,
    p50: 0.020,
    p95: 0.110,
    p99: 0.250,
    cpu: 0.65,
    memory_bytes: 320.0 * MB / 8.0,
    connections: 420.0,
};

/// Message bombing: 9,000 msg/s, nearly twice the safe 5,000. Errors,
/// latency, CPU and memory all pass their emergency lines.
const BOMBING: Condition = Condition {
    requests_per_second: 9_000.0,
    error_ratio: 0.008,
    p50: 0.090,
    p95: 0.380,
    p99: 1.400,
    cpu: 0.85,
    memory_bytes: 420.0 * MB / 8.0,
    connections: 380.0,
};

/// One phase: from `start` seconds, move linearly over `ramp` seconds from
/// the previous phase's condition to `condition`.
struct Phase {
    name: &'static str,
    start: f64,
    ramp: f64,
    condition: Condition,
}

const PHASES: [Phase; 4] = [
    Phase { name: "baseline: 25 clients", start: 0.0, ramp: 0.0, condition: BASELINE },
    Phase { name: "connection flood", start: 120.0, ramp: 40.0, condition: FLOOD },
    Phase { name: "message bombing", start: 300.0, ramp: 20.0, condition: BOMBING },
    Phase { name: "recovery", start: 480.0, ramp: 60.0, condition: BASELINE },
];

/// Length of the whole profile in seconds: recovery, then enough calm for
/// every rate window and the 90-second `clear_for` to return to ok.
pub const DURATION_SECONDS: f64 = 900.0;

/// Returns the condition `t` seconds into the profile.
pub fn condition_at(t: f64) -> Condition {
    let mut current = PHASES[0].condition;
    for phase in &PHASES[1..] {
        if t < phase.start {
            break;
        }
        let progress = if phase.ramp > 0.0 { ((t - phase.start) / phase.ramp).min(1.0) } else { 1.0 };
        current = interpolate(&current, &phase.condition, progress);
    }
    current
}

/// Returns the name of the phase `t` seconds into the profile.
pub fn phase_at(t: f64) -> &'static str {
    PHASES.iter().rev().find(|phase| t >= phase.start).map_or(PHASES[0].name, |phase| phase.name)
}

fn interpolate(a: &Condition, b: &Condition, progress: f64) -> Condition {
    if progress >= 1.0 {
        return *b;
    }
    let mix = |x: f64, y: f64| x + (y - x) * progress;
    Condition {
        requests_per_second: mix(a.requests_per_second, b.requests_per_second),
        error_ratio: mix(a.error_ratio, b.error_ratio),
        p50: mix(a.p50, b.p50),
        p95: mix(a.p95, b.p95),
        p99: mix(a.p99, b.p99),
        cpu: mix(a.cpu, b.cpu),
        memory_bytes: mix(a.memory_bytes, b.memory_bytes),
        connections: mix(a.connections, b.connections),
    }
}

/// Fraction of requests faster than `bound` seconds, from a piecewise-linear
/// latency distribution through the condition's quantiles.
pub fn latency_cdf(condition: &Condition, bound: f64) -> f64 {
    let points = [
        (0.0, 0.0),
        (condition.p50, 0.5),
        (condition.p95, 0.95),
        (condition.p99, 0.99),
        (condition.p99 * 2.0, 1.0),
    ];
    for pair in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        if bound <= x1 {
            return y0 + (y1 - y0) * (bound - x0) / (x1 - x0);
        }
    }
    1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_starts_at_baseline() {
        assert_eq!(condition_at(0.0), BASELINE);
    }

    #[test]
    fn flood_ramps_in() {
        let halfway = condition_at(140.0);
        assert!((halfway.connections - (25.0 + 420.0) / 2.0).abs() < 1e-9);
    }

    #[test]
    fn profile_ends_at_baseline() {
        assert_eq!(condition_at(DURATION_SECONDS), BASELINE);
    }

    #[test]
    fn cdf_passes_through_quantiles() {
        assert!((latency_cdf(&BASELINE, BASELINE.p95) - 0.95).abs() < 1e-9);
    }
}
