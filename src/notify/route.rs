//! Routing: which receivers get a transition.

use std::collections::HashSet;

use crate::config::Route;
use crate::engine::{Tier, Transition};

/// Matches transitions against routes.
///
/// A route that sent any transition of an incident keeps sending that
/// incident's transitions until it returns to ok, even into tiers the route
/// does not list: a receiver that was paged for red must also hear of the
/// step down to yellow and the resolution.
#[derive(Debug)]
pub struct Router {
    routes: Vec<Route>,
    receivers: Vec<String>,
    /// (route index, fingerprint) of incidents each route has sent.
    open: HashSet<(usize, String)>,
}

impl Router {
    /// Creates a router. Without routes, every receiver gets everything.
    pub fn new(routes: Vec<Route>, receivers: Vec<String>) -> Router {
        Router { routes, receivers, open: HashSet::new() }
    }

    /// Returns the receivers for `transition`, each once, in route order.
    pub fn receivers_for(&mut self, transition: &Transition) -> Vec<String> {
        if self.routes.is_empty() {
            return self.receivers.clone();
        }
        let mut names: Vec<String> = Vec::new();
        for index in 0..self.routes.len() {
            if !self.route_matches(index, transition) {
                continue;
            }
            for name in &self.routes[index].receivers {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        names
    }

    fn route_matches(&mut self, index: usize, transition: &Transition) -> bool {
        let route = &self.routes[index];
        let labels_match = route.matchers.iter().all(|(name, value)| {
            let actual = if name == "alertname" { Some(transition.rule.as_str()) } else { transition.labels.get(name) };
            actual == Some(value.as_str())
        });
        if !labels_match {
            return false;
        }
        let key = (index, transition.fingerprint.clone());
        let open = self.open.contains(&key);
        let tier_listed = route.tiers.is_empty() || route.tiers.contains(&transition.to);
        if transition.to == Tier::Ok {
            self.open.remove(&key);
            return open || route.tiers.is_empty();
        }
        if tier_listed {
            self.open.insert(key);
        }
        tier_listed || open
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Reason;
    use crate::labels::Labels;

    fn transition(from: Tier, to: Tier) -> Transition {
        Transition {
            rule: "ErrorRate".into(),
            labels: Labels::new(),
            from,
            to,
            value: 1.0,
            threshold: 1.0,
            at_ms: 0,
            incident_start_ms: 0,
            fingerprint: "f".into(),
            reason: Reason::Threshold,
            summary: String::new(),
        }
    }

    fn red_route() -> Router {
        let route = Route { tiers: vec![Tier::Red, Tier::Emergency], matchers: vec![], receivers: vec!["pager".into()] };
        Router::new(vec![route], vec!["pager".into()])
    }

    #[test]
    fn unlisted_tier_is_not_sent() {
        let mut router = red_route();
        assert!(router.receivers_for(&transition(Tier::Ok, Tier::Yellow)).is_empty());
    }

    #[test]
    fn incident_follows_route_down_to_ok() {
        let mut router = red_route();
        assert_eq!(router.receivers_for(&transition(Tier::Ok, Tier::Red)), vec!["pager"]);
        assert_eq!(router.receivers_for(&transition(Tier::Red, Tier::Yellow)), vec!["pager"]);
        assert_eq!(router.receivers_for(&transition(Tier::Yellow, Tier::Ok)), vec!["pager"]);
    }

    #[test]
    fn resolution_of_unsent_incident_is_not_sent() {
        let mut router = red_route();
        router.receivers_for(&transition(Tier::Ok, Tier::Yellow));
        assert!(router.receivers_for(&transition(Tier::Yellow, Tier::Ok)).is_empty());
    }
}
