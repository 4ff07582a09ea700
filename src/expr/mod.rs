//! PromQL expressions, parsed by `promql-parser` and evaluated over the
//! [`Store`](crate::store::Store).
//! TODO(skeleton): replaced by the full evaluator.

use crate::labels::Labels;
use crate::store::Store;

/// An expression that failed to parse or uses something andon cannot
/// evaluate.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// Byte offset in the expression source where the problem is, when known.
    pub offset: Option<usize>,
    pub message: String,
}

/// A parsed, checked expression.
#[derive(Clone, Debug)]
pub struct Expr {}

impl Expr {
    /// Parses `source` and rejects functions or constructs that andon cannot
    /// evaluate.
    pub fn parse(source: &str) -> Result<Expr, ExprError> {
        promql_parser::parser::parse(source)
            .map(|_| Expr {})
            .map_err(|message| ExprError { offset: None, message })
    }

    /// Metric names that selectors in this expression read; `None` when a
    /// selector has no fixed name (then every series must be kept).
    pub fn metric_names(&self) -> Option<Vec<String>> {
        todo!()
    }

    /// The longest time before the evaluation time that the expression reads,
    /// in milliseconds, including offsets and the 5-minute lookback.
    pub fn lookback_ms(&self) -> i64 {
        todo!()
    }

    /// Evaluates at `at_ms` and returns one value per output series. A scalar
    /// result is returned as one series with no labels.
    pub fn eval(&self, store: &Store, at_ms: i64) -> Result<Vec<(Labels, f64)>, ExprError> {
        let _ = (store, at_ms);
        todo!()
    }
}
