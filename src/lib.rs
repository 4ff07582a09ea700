//! andon: an alerting sidecar that scrapes Prometheus metrics, evaluates
//! tiered rules with hysteresis and sends every change of tier.

pub mod clock;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod engine;
pub mod exposition;
pub mod expr;
pub mod labels;
pub mod notify;
pub mod ruletest;
pub mod scrape;
pub mod server;
pub mod store;
