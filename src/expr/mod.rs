//! PromQL expressions, parsed by `promql-parser` and evaluated over the
//! [`Store`] with Prometheus 3 semantics. `docs/promql.md` lists what is
//! supported and where andon differs from Prometheus.

mod aggregate;
mod binary;
mod eval;
mod functions;
mod histogram;
mod incremental;
mod keys;
mod plan;
mod range;
mod source;
mod tick;
mod value;

use crate::labels::Labels;
use crate::store::Store;

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use eval::{Evaluator, SelectorCache, DEFAULT_SUBQUERY_STEP_MS, LOOKBACK_MS};
use plan::Node;
use value::Value;

pub use tick::TickCache;

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
pub struct Expr {
    root: Node,
    subquery_step_ms: i64,
    /// The series each selector matched, by selector id; clones share it.
    selector_cache: Arc<[Mutex<SelectorCache>]>,
}

/// Replaces promql-parser's generic message, which names neither the place
/// nor the construct, with the mistakes that most often cause it.
fn explain_syntax_error(message: String) -> String {
    if message.trim() != "invalid promql query" {
        return message;
    }
    "syntax error (the parser gives no position): check for an operator without a right-hand side (`up ==`), \
     grouping labels without parentheses (`by (job)`, not `by job`), and unbalanced quotes"
        .to_owned()
}

impl Expr {
    /// Parses `source` and rejects functions or constructs that andon cannot
    /// evaluate.
    pub fn parse(source: &str) -> Result<Expr, ExprError> {
        let parsed = promql_parser::parser::parse(source).map_err(|message| ExprError {
            offset: source::position_of_error(source, &message),
            message: explain_syntax_error(message),
        })?;
        let (root, selectors) = plan::plan(&parsed, source)?;
        match root {
            Node::String(_) | Node::Range { .. } | Node::Subquery(_) => Err(ExprError {
                offset: Some(0),
                message: "expression must evaluate to a scalar or an instant vector".into(),
            }),
            root => Ok(Expr {
                root,
                subquery_step_ms: DEFAULT_SUBQUERY_STEP_MS,
                selector_cache: (0..selectors).map(|_| Mutex::new(SelectorCache::default())).collect(),
            }),
        }
    }

    /// Sets the step of subqueries that give none (`x[5m:]`); Prometheus uses
    /// the rule group's evaluation interval. The default is one minute.
    pub fn with_default_subquery_step_ms(mut self, step_ms: i64) -> Expr {
        self.subquery_step_ms = step_ms.max(1);
        self
    }

    /// Metric names that selectors in this expression read; `None` when a
    /// selector has no fixed name (then every series must be kept).
    pub fn metric_names(&self) -> Option<Vec<String>> {
        let mut names = Vec::new();
        let mut all_named = true;
        visit(&self.root, &mut |node| {
            if let Node::Selector(selector) | Node::Range { selector, .. } = node {
                match &selector.name {
                    Some(name) if !names.contains(name) => names.push(name.clone()),
                    Some(_) => {}
                    None => all_named = false,
                }
            }
        });
        all_named.then(|| {
            names.sort();
            names
        })
    }

    /// The longest time before the evaluation time that the expression reads,
    /// in milliseconds, including offsets and the 5-minute lookback.
    /// Selectors pinned with `@ <time>` read around that time instead and
    /// are not counted.
    pub fn lookback_ms(&self) -> i64 {
        reach_ms(&self.root).max(0)
    }

    /// The shortest range of a range selector in the expression (`x[1m]`
    /// gives 60,000), or `None` without one. Subquery ranges are not
    /// counted, because their step, not the scrape interval, spaces their
    /// points.
    pub fn shortest_range_ms(&self) -> Option<i64> {
        shortest_range_ms(&self.root)
    }

    /// Evaluates at `at_ms` and returns one value per output series. A scalar
    /// result is returned as one series with no labels.
    pub fn eval(&self, store: &Store, at_ms: i64) -> Result<Vec<(Labels, f64)>, ExprError> {
        self.eval_in(store, at_ms, None)
    }

    /// Evaluates as [`Expr::eval`] does, sharing range-function results
    /// with the other expressions evaluated at `at_ms` through `cache`.
    pub fn eval_with(&self, store: &Store, at_ms: i64, cache: &mut TickCache) -> Result<Vec<(Labels, f64)>, ExprError> {
        // The cell is moved back out below, so the cache keeps its memory
        // for the next rule and tick.
        let cell = RefCell::new(std::mem::take(cache));
        let result = self.eval_in(store, at_ms, Some(&cell));
        *cache = cell.into_inner();
        result
    }

    fn eval_in(&self, store: &Store, at_ms: i64, tick: Option<&RefCell<TickCache>>) -> Result<Vec<(Labels, f64)>, ExprError> {
        let evaluator = Evaluator {
            store,
            query_ms: at_ms,
            default_step_ms: self.subquery_step_ms,
            selector_cache: &self.selector_cache,
            tick,
        };
        let samples = match evaluator.eval(&self.root, at_ms)? {
            Value::Scalar(value) => return Ok(vec![(Labels::new(), value)]),
            Value::Vector(samples) => samples,
            _ => return Err(eval::internal("the expression is neither a scalar nor an instant vector")),
        };
        if keeps_order(&self.root) {
            functions::check_unique_labels(&samples)?;
        }
        let mut out: Vec<(Labels, f64)> = samples
            .into_iter()
            .map(|sample| {
                let value = sample.value;
                (sample.into_labels(), value)
            })
            .collect();
        if !keeps_order(&self.root) {
            out.sort_by(|a, b| a.0.cmp(&b.0));
            if out.windows(2).any(|pair| pair[0].0 == pair[1].0) {
                return Err(functions::duplicate_labels_error());
            }
        }
        Ok(out)
    }
}

/// Whether the result order is part of the result (`sort`, `sort_desc`);
/// other results are sorted by labels so that they are deterministic.
fn keeps_order(node: &Node) -> bool {
    use functions::Func;
    matches!(node, Node::Call { func: Func::Sort | Func::SortDesc, .. })
}

/// Calls `f` on every node, parents first.
fn visit(node: &Node, f: &mut impl FnMut(&Node)) {
    f(node);
    match node {
        Node::Subquery(sq) => visit(&sq.expr, f),
        Node::Call { args, .. } => args.iter().for_each(|a| visit(a, f)),
        Node::Aggregate(agg) => {
            if let Some(param) = &agg.param {
                visit(param, f);
            }
            visit(&agg.expr, f);
        }
        Node::Binary(bin) => {
            visit(&bin.lhs, f);
            visit(&bin.rhs, f);
        }
        Node::Negate(inner) => visit(inner, f),
        _ => {}
    }
}

/// How far before the evaluation time `node` reads, in milliseconds.
fn reach_ms(node: &Node) -> i64 {
    match node {
        Node::Selector(s) if s.at.is_none() => s.offset_ms.saturating_add(LOOKBACK_MS),
        Node::Range { selector, range_ms } if selector.at.is_none() => selector.offset_ms.saturating_add(*range_ms),
        Node::Subquery(sq) => {
            let inner = reach_ms(&sq.expr);
            if sq.at.is_some() {
                0
            } else {
                sq.offset_ms.saturating_add(sq.range_ms).saturating_add(inner)
            }
        }
        Node::Call { args, .. } => args.iter().map(reach_ms).max().unwrap_or(0),
        Node::Aggregate(agg) => {
            let param = agg.param.as_ref().map_or(0, reach_ms);
            param.max(reach_ms(&agg.expr))
        }
        Node::Binary(bin) => reach_ms(&bin.lhs).max(reach_ms(&bin.rhs)),
        Node::Negate(inner) => reach_ms(inner),
        _ => 0,
    }
}

fn shortest_range_ms(node: &Node) -> Option<i64> {
    let shortest = |nodes: &mut dyn Iterator<Item = &Node>| nodes.filter_map(shortest_range_ms).min();
    match node {
        Node::Range { range_ms, .. } => Some(*range_ms),
        Node::Subquery(sq) => shortest_range_ms(&sq.expr),
        Node::Call { args, .. } => shortest(&mut args.iter()),
        Node::Aggregate(agg) => {
            let param = agg.param.as_ref().and_then(shortest_range_ms);
            [param, shortest_range_ms(&agg.expr)].into_iter().flatten().min()
        }
        Node::Binary(bin) => [shortest_range_ms(&bin.lhs), shortest_range_ms(&bin.rhs)].into_iter().flatten().min(),
        Node::Negate(inner) => shortest_range_ms(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
