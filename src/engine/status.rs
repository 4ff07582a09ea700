//! The read-only view of each series' state that the API shows.

use serde::Serialize;

use super::Tier;
use crate::labels::Labels;

/// The position of a series in its state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "tier", rename_all = "snake_case")]
pub enum SeriesState {
    /// At ok, and no tier's trigger holds.
    Ok,
    /// The trigger of this tier, above the current one, holds but has not
    /// yet held for its `for`.
    Pending(Tier),
    /// In this tier, and its clear condition does not hold.
    Active(Tier),
    /// In this tier, and its clear condition holds but not yet for
    /// `clear_for`.
    Clearing(Tier),
    /// The last evaluation gave no value (missing series, NaN or a failed
    /// evaluation).
    NoData,
}

/// One series' state and why it is in it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeriesStatus {
    pub rule: String,
    /// The labels its transitions carry.
    pub labels: Labels,
    pub fingerprint: String,
    #[serde(flatten)]
    pub state: SeriesState,
    /// The tier last sent to receivers, which is the held tier while flapping.
    pub notified_tier: Tier,
    pub flapping: bool,
    /// The latest value; NaN (JSON null) while there is none.
    pub value: f64,
    /// The threshold the value is compared with: for `Pending` the pending tier's
    /// trigger, for `Active` and `Clearing` the tier's clear threshold, for
    /// `Ok` the lowest tier's trigger, NaN for `NoData`.
    pub threshold: f64,
    /// Since when the state's condition has held, in ms since the Unix
    /// epoch: the start of the trigger run, the clear run, the missing run,
    /// or the entry into the tier.
    pub since_ms: i64,
    /// When the current incident began; `None` while notified at ok.
    pub incident_start_ms: Option<i64>,
}
