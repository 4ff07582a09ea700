//! Rule unit tests: runs existing Prometheus rule-test files against andon's
//! PromQL evaluator.

pub mod duration;
pub mod promtool;
pub mod series;
