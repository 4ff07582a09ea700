//! andon: an alerting sidecar that scrapes Prometheus metrics, evaluates
//! tiered rules with hysteresis and sends every change of tier.

pub mod config;
pub mod engine;
pub mod exposition;
pub mod expr;
pub mod labels;
pub mod ruletest;
pub mod store;
