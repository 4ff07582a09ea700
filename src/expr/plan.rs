//! Conversion of the `promql-parser` syntax tree into the evaluator's own
//! tree: durations in milliseconds, regexes compiled with Prometheus 3
//! semantics, functions resolved, and everything andon cannot evaluate
//! rejected with the position of the offending function.

use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{self as ast, token, AtModifier, LabelModifier, Offset, VectorMatchCardinality};
use regex::Regex;

use super::aggregate::GroupCache;
use super::eval::{too_many_steps, DEFAULT_SUBQUERY_STEP_MS, MAX_SUBQUERY_STEPS};
use super::functions::Func;
use super::source::position_of_call;
use super::ExprError;
use crate::labels::METRIC_NAME;

/// The evaluator's expression tree.
#[derive(Clone, Debug)]
pub enum Node {
    Number(f64),
    String(String),
    Selector(Selector),
    Range { selector: Selector, range_ms: i64 },
    Subquery(Box<Subquery>),
    /// A function call; `regex` is the compiled pattern of `label_replace`.
    Call { func: Func, args: Vec<Node>, regex: Option<Regex> },
    Aggregate(Box<Aggregate>),
    Binary(Box<Binary>),
    Negate(Box<Node>),
}

/// The time that an `@` modifier pins a selector or subquery to.
#[derive(Clone, Copy, Debug)]
pub enum At {
    /// `start()` or `end()`: both are the evaluation time of an instant query.
    EvalTime,
    Millis(i64),
}

#[derive(Clone, Debug)]
pub struct Selector {
    /// Numbers the selectors of one expression from 0, to find their
    /// cached series.
    pub id: usize,
    /// The metric name, when a selector fixes it with an equality matcher.
    pub name: Option<String>,
    pub matchers: Vec<LabelMatcher>,
    pub offset_ms: i64,
    pub at: Option<At>,
}

#[derive(Clone, Debug)]
pub struct Subquery {
    pub expr: Node,
    pub range_ms: i64,
    /// The resolution; `None` takes the evaluator's default step.
    pub step_ms: Option<i64>,
    pub offset_ms: i64,
    pub at: Option<At>,
}

#[derive(Clone, Debug)]
pub enum LabelMatcher {
    Equal(String, String),
    NotEqual(String, String),
    Regex(String, Regex),
    NotRegex(String, Regex),
}

impl LabelMatcher {
    pub fn name(&self) -> &str {
        match self {
            LabelMatcher::Equal(n, _)
            | LabelMatcher::NotEqual(n, _)
            | LabelMatcher::Regex(n, _)
            | LabelMatcher::NotRegex(n, _) => n,
        }
    }

    /// Tests a label value; an absent label has the value "".
    pub fn matches(&self, value: &str) -> bool {
        match self {
            LabelMatcher::Equal(_, v) => v == value,
            LabelMatcher::NotEqual(_, v) => v != value,
            LabelMatcher::Regex(_, r) => r.is_match(value),
            LabelMatcher::NotRegex(_, r) => !r.is_match(value),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    CountValues,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Quantile,
}

/// The labels that an aggregation keeps.
#[derive(Clone, Debug)]
pub enum Grouping {
    /// The listed labels, sorted and without duplicates.
    By(Vec<String>),
    Without(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct Aggregate {
    pub op: AggOp,
    pub expr: Node,
    pub param: Option<Node>,
    pub grouping: Grouping,
    /// The groups of the store's series, kept between evaluations; clones
    /// of the expression share it.
    pub groups: Arc<Mutex<GroupCache>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl BinOp {
    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Lt | BinOp::Ge | BinOp::Le)
    }
}

/// Vector matching cardinality; `Many*` name the side with many series.
#[derive(Clone, Debug)]
pub enum Card {
    OneToOne,
    /// `group_left(labels)`: the left side has many series per match.
    ManyToOne(Vec<String>),
    /// `group_right(labels)`: the right side has many series per match.
    OneToMany(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct Binary {
    pub op: BinOp,
    pub lhs: Node,
    pub rhs: Node,
    pub return_bool: bool,
    /// `on(...)` when true, else `ignoring(...)` (empty when absent).
    pub on: bool,
    pub matching_labels: Vec<String>,
    /// The labels that vector matching compares, as a grouping: `by` the
    /// `on` labels, or `without` the `ignoring` ones (and the name).
    pub matching: Grouping,
    /// The match group of each series read so far, shared by clones.
    pub signatures: Arc<Mutex<GroupCache>>,
    pub card: Card,
}

/// Converts a parsed expression; `source` locates rejected functions.
/// Also returns the number of selectors.
pub fn plan(expr: &ast::Expr, source: &str) -> Result<(Node, usize), ExprError> {
    let planner = Planner { source, selectors: Cell::new(0) };
    let node = planner.node(expr)?;
    Ok((node, planner.selectors.get()))
}

struct Planner<'a> {
    source: &'a str,
    selectors: Cell<usize>,
}

impl Planner<'_> {
    fn node(&self, expr: &ast::Expr) -> Result<Node, ExprError> {
        match expr {
            ast::Expr::NumberLiteral(n) => Ok(Node::Number(n.val)),
            ast::Expr::StringLiteral(s) => Ok(Node::String(s.val.clone())),
            ast::Expr::Paren(p) => self.node(&p.expr),
            ast::Expr::Unary(u) => Ok(Node::Negate(Box::new(self.node(&u.expr)?))),
            ast::Expr::VectorSelector(vs) => Ok(Node::Selector(self.selector(vs)?)),
            ast::Expr::MatrixSelector(ms) => Ok(Node::Range {
                selector: self.selector(&ms.vs)?,
                range_ms: duration_ms(&ms.range),
            }),
            ast::Expr::Subquery(sq) => self.subquery(sq),
            ast::Expr::Call(call) => self.call(call),
            ast::Expr::Aggregate(agg) => self.aggregate(agg),
            ast::Expr::Binary(bin) => self.binary(bin),
            ast::Expr::Extension(_) => Err(unsupported_construct("extension expressions")),
        }
    }

    fn selector(&self, vs: &ast::VectorSelector) -> Result<Selector, ExprError> {
        if !vs.matchers.or_matchers.is_empty() {
            return Err(unsupported_construct("\"or\" inside label matchers"));
        }
        let mut matchers = Vec::with_capacity(vs.matchers.matchers.len() + 1);
        if let Some(name) = &vs.name {
            matchers.push(LabelMatcher::Equal(METRIC_NAME.to_string(), name.clone()));
        }
        for matcher in &vs.matchers.matchers {
            matchers.push(label_matcher(matcher)?);
        }
        let name = matchers.iter().find_map(|m| match m {
            LabelMatcher::Equal(n, v) if n == METRIC_NAME => Some(v.clone()),
            _ => None,
        });
        let id = self.selectors.get();
        self.selectors.set(id + 1);
        Ok(Selector {
            id,
            name,
            matchers,
            offset_ms: offset_ms(&vs.offset),
            at: vs.at.as_ref().map(at_modifier),
        })
    }

    fn subquery(&self, sq: &ast::SubqueryExpr) -> Result<Node, ExprError> {
        let step_ms = sq.step.as_ref().map(duration_ms);
        if step_ms == Some(0) {
            return Err(ExprError { offset: None, message: "subquery step must be greater than zero".into() });
        }
        let steps = duration_ms(&sq.range) / step_ms.unwrap_or(DEFAULT_SUBQUERY_STEP_MS);
        if steps > MAX_SUBQUERY_STEPS {
            return Err(too_many_steps(steps));
        }
        Ok(Node::Subquery(Box::new(Subquery {
            expr: self.node(&sq.expr)?,
            range_ms: duration_ms(&sq.range),
            step_ms,
            offset_ms: offset_ms(&sq.offset),
            at: sq.at.as_ref().map(at_modifier),
        })))
    }

    fn call(&self, call: &ast::Call) -> Result<Node, ExprError> {
        let name = call.func.name;
        let Some(func) = Func::from_name(name) else {
            return Err(ExprError {
                offset: position_of_call(self.source, name),
                message: format!("function \"{name}\" is not supported by andon"),
            });
        };
        let args = call.args.args.iter().map(|a| self.node(a)).collect::<Result<Vec<_>, _>>()?;
        let regex = check_call_args(func, name, &args, self.source)?;
        Ok(Node::Call { func, args, regex })
    }

    fn aggregate(&self, agg: &ast::AggregateExpr) -> Result<Node, ExprError> {
        let op = match agg.op.id() {
            token::T_SUM => AggOp::Sum,
            token::T_AVG => AggOp::Avg,
            token::T_MIN => AggOp::Min,
            token::T_MAX => AggOp::Max,
            token::T_COUNT => AggOp::Count,
            token::T_COUNT_VALUES => AggOp::CountValues,
            token::T_GROUP => AggOp::Group,
            token::T_STDDEV => AggOp::Stddev,
            token::T_STDVAR => AggOp::Stdvar,
            token::T_TOPK => AggOp::Topk,
            token::T_BOTTOMK => AggOp::Bottomk,
            token::T_QUANTILE => AggOp::Quantile,
            _ => {
                // limitk and limit_ratio are experimental in Prometheus 3 and
                // pick series by hash, which andon cannot reproduce.
                let name = agg.op.to_string();
                return Err(ExprError {
                    offset: position_of_call(self.source, &name),
                    message: format!("function \"{name}\" is not supported by andon"),
                });
            }
        };
        let param = agg.param.as_ref().map(|p| self.node(p)).transpose()?;
        if op == AggOp::CountValues {
            check_count_values_label(param.as_ref())?;
        }
        let grouping = match &agg.modifier {
            None => Grouping::By(Vec::new()),
            Some(LabelModifier::Include(ls)) => Grouping::By(sorted_unique(&ls.labels)),
            Some(LabelModifier::Exclude(ls)) => Grouping::Without(ls.labels.clone()),
        };
        Ok(Node::Aggregate(Box::new(Aggregate {
            op,
            expr: self.node(&agg.expr)?,
            param,
            grouping,
            groups: Arc::default(),
        })))
    }

    fn binary(&self, bin: &ast::BinaryExpr) -> Result<Node, ExprError> {
        let op = binary_op(bin.op.id())?;
        let (return_bool, on, matching_labels, card) = match &bin.modifier {
            None => (false, false, Vec::new(), Card::OneToOne),
            Some(modifier) => {
                if modifier.fill_values.lhs.is_some() || modifier.fill_values.rhs.is_some() {
                    let mut error = unsupported_construct("fill modifiers in vector matching");
                    error.offset = ["fill", "fill_left", "fill_right"]
                        .iter()
                        .filter_map(|name| position_of_call(self.source, name))
                        .min();
                    return Err(error);
                }
                let (on, labels) = match &modifier.matching {
                    None => (false, Vec::new()),
                    Some(LabelModifier::Include(ls)) => (true, ls.labels.clone()),
                    Some(LabelModifier::Exclude(ls)) => (false, ls.labels.clone()),
                };
                let card = match &modifier.card {
                    VectorMatchCardinality::ManyToOne(ls) => Card::ManyToOne(ls.labels.clone()),
                    VectorMatchCardinality::OneToMany(ls) => Card::OneToMany(ls.labels.clone()),
                    VectorMatchCardinality::OneToOne | VectorMatchCardinality::ManyToMany => Card::OneToOne,
                };
                (modifier.return_bool, on, labels, card)
            }
        };
        let matching = if on { Grouping::By(sorted_unique(&matching_labels)) } else { Grouping::Without(matching_labels.clone()) };
        Ok(Node::Binary(Box::new(Binary {
            op,
            lhs: self.node(&bin.lhs)?,
            rhs: self.node(&bin.rhs)?,
            return_bool,
            on,
            matching_labels,
            matching,
            signatures: Arc::default(),
            card,
        })))
    }
}

fn binary_op(id: token::TokenId) -> Result<BinOp, ExprError> {
    Ok(match id {
        token::T_ADD => BinOp::Add,
        token::T_SUB => BinOp::Sub,
        token::T_MUL => BinOp::Mul,
        token::T_DIV => BinOp::Div,
        token::T_MOD => BinOp::Mod,
        token::T_POW => BinOp::Pow,
        token::T_ATAN2 => BinOp::Atan2,
        token::T_EQLC => BinOp::Eq,
        token::T_NEQ => BinOp::Ne,
        token::T_GTR => BinOp::Gt,
        token::T_LSS => BinOp::Lt,
        token::T_GTE => BinOp::Ge,
        token::T_LTE => BinOp::Le,
        token::T_LAND => BinOp::And,
        token::T_LOR => BinOp::Or,
        token::T_LUNLESS => BinOp::Unless,
        other => {
            let name = token::TokenType::new(other);
            return Err(unsupported_construct(&format!("the operator {name}")));
        }
    })
}

/// Compiles a matcher. Regexes are fully anchored and, as in Prometheus 3,
/// `.` also matches a newline.
fn label_matcher(matcher: &Matcher) -> Result<LabelMatcher, ExprError> {
    let name = matcher.name.clone();
    Ok(match &matcher.op {
        MatchOp::Equal => LabelMatcher::Equal(name, matcher.value.clone()),
        MatchOp::NotEqual => LabelMatcher::NotEqual(name, matcher.value.clone()),
        MatchOp::Re(parsed) => LabelMatcher::Regex(name, dot_all(parsed)?),
        MatchOp::NotRe(parsed) => LabelMatcher::NotRegex(name, dot_all(parsed)?),
    })
}

/// Recompiles a regex of the parser (already anchored, and with Go's
/// literal `{` escaped) with the `s` flag.
fn dot_all(parsed: &Regex) -> Result<Regex, ExprError> {
    compile_regex(&format!("(?s:{})", parsed.as_str()))
}

/// Compiles an anchored regex for `label_replace`, which Prometheus 3 also
/// compiles with `.` matching newlines.
pub fn anchored_regex(pattern: &str) -> Result<Regex, ExprError> {
    compile_regex(&format!("^(?s:{pattern})$"))
}

fn compile_regex(pattern: &str) -> Result<Regex, ExprError> {
    Regex::new(pattern).map_err(|e| ExprError { offset: None, message: format!("invalid regular expression {pattern:?}: {e}") })
}

/// Checks the string arguments of `label_replace` and `label_join`, and
/// returns the compiled regex of `label_replace`.
fn check_call_args(func: Func, name: &str, args: &[Node], source: &str) -> Result<Option<Regex>, ExprError> {
    let invalid = |message: String| ExprError { offset: position_of_call(source, name), message };
    match func {
        Func::LabelReplace => {
            let (Some(Node::String(dst)), Some(Node::String(regex))) = (args.get(1), args.get(4)) else {
                return Err(invalid("label_replace() needs string literals as arguments".into()));
            };
            if dst.is_empty() {
                return Err(invalid(format!("invalid destination label name in label_replace(): {dst:?}")));
            }
            let compiled = anchored_regex(regex).map_err(|e| invalid(format!("invalid regular expression in label_replace(): {}", e.message)))?;
            return Ok(Some(compiled));
        }
        Func::LabelJoin => {
            let all_strings = args.get(1..).unwrap_or_default().iter().all(|a| matches!(a, Node::String(_)));
            if !all_strings {
                return Err(invalid("label_join() needs string literals as arguments".into()));
            }
            if matches!(args.get(1), Some(Node::String(dst)) if dst.is_empty()) {
                return Err(invalid("invalid destination label name in label_join(): \"\"".into()));
            }
        }
        _ => {}
    }
    Ok(None)
}

fn check_count_values_label(param: Option<&Node>) -> Result<(), ExprError> {
    match param {
        Some(Node::String(label)) if !label.is_empty() => Ok(()),
        Some(Node::String(label)) => Err(ExprError { offset: None, message: format!("invalid label name {label:?} in count_values") }),
        _ => Err(ExprError { offset: None, message: "count_values needs a string literal as its label name".into() }),
    }
}

/// Sorts and deduplicates label names, so that looking them up one by one
/// yields pairs in the order of a label set.
fn sorted_unique(names: &[String]) -> Vec<String> {
    let mut names = names.to_vec();
    names.sort();
    names.dedup();
    names
}

fn unsupported_construct(what: &str) -> ExprError {
    ExprError { offset: None, message: format!("{what} are not supported by andon") }
}

pub fn duration_ms(duration: &Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(d),
        Some(Offset::Neg(d)) => -duration_ms(d),
    }
}

fn at_modifier(at: &AtModifier) -> At {
    match at {
        AtModifier::Start | AtModifier::End => At::EvalTime,
        AtModifier::At(time) => At::Millis(system_time_ms(time)),
    }
}

fn system_time_ms(time: &SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => duration_ms(&after),
        Err(before) => -duration_ms(&before.duration()),
    }
}
