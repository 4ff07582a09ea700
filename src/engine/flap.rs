//! Flap detection: keeps a series' notified tier fixed while its state
//! machine changes tier too often.

use std::collections::VecDeque;

use crate::config::Flap;

use super::machine::{duration_ms, Change};
use super::Tier;

/// [`Flap`] with the window in ms.
#[derive(Clone, Debug)]
pub(super) struct FlapPolicy {
    pub max_transitions: usize,
    pub window_ms: i64,
}

impl FlapPolicy {
    pub fn from_config(flap: &Flap) -> FlapPolicy {
        FlapPolicy {
            max_transitions: flap.max_transitions,
            window_ms: duration_ms(flap.window),
        }
    }
}

/// The decision on what to send for one change of the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FlapVerdict {
    /// Not flapping: send the change as it is.
    Send,
    /// This change started flapping: send one `FlappingStarted` to the
    /// given tier, the highest seen in the window, and hold it.
    Start(Tier),
    /// Flapping, and the state machine rose above the held tier: send the
    /// change from the held tier and hold the new one. A page for a worse
    /// tier is never delayed by flapping below it.
    Escalate,
    /// Flapping: send nothing.
    Suppress,
}

/// Per-series flap state.
#[derive(Clone, Debug, Default)]
pub(super) struct FlapDetector {
    /// Changes inside the window while not flapping: their time and the
    /// higher of their two tiers. At most `max_transitions + 1` entries,
    /// because reaching that count starts flapping and empties it.
    recent: VecDeque<(i64, Tier)>,
    /// The tier held while flapping; `None` when not flapping.
    held: Option<Tier>,
    /// Time of the latest change of the state machine.
    last_change_ms: Option<i64>,
}

impl FlapDetector {
    pub fn held(&self) -> Option<Tier> {
        self.held
    }

    /// Records one change of the state machine at `at_ms` and decides what
    /// to send for it.
    pub fn record(&mut self, policy: &FlapPolicy, change: &Change, at_ms: i64) -> FlapVerdict {
        self.last_change_ms = Some(at_ms);
        if let Some(held) = self.held {
            if change.to > held {
                self.held = Some(change.to);
                return FlapVerdict::Escalate;
            }
            return FlapVerdict::Suppress;
        }

        self.recent.push_back((at_ms, change.from.max(change.to)));
        // A change belongs to the window while it is less than `window_ms` old.
        while self
            .recent
            .front()
            .is_some_and(|(t, _)| at_ms.saturating_sub(*t) >= policy.window_ms)
        {
            self.recent.pop_front();
        }
        if self.recent.len() <= policy.max_transitions {
            return FlapVerdict::Send;
        }

        let highest = self
            .recent
            .iter()
            .map(|(_, tier)| *tier)
            .max()
            .unwrap_or(change.to);
        self.recent.clear();
        self.held = Some(highest);
        FlapVerdict::Start(highest)
    }

    /// Ends flapping once no change has happened for a whole window, and
    /// returns the tier that was held.
    pub fn end_if_calm(&mut self, policy: &FlapPolicy, at_ms: i64) -> Option<Tier> {
        let held = self.held?;
        let last = self.last_change_ms?;
        if at_ms.saturating_sub(last) < policy.window_ms {
            return None;
        }
        self.held = None;
        Some(held)
    }
}
