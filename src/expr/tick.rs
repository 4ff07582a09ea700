//! Results that the expressions of one evaluation tick share.
//!
//! The rules of a tick are evaluated at the same time, and many of them read
//! the same series through the same range function: `rate(x[5m])` under
//! different matchers, aggregations and comparisons. Computing each range
//! function once per series and tick saves the window search, which is
//! memory-bound on large stores, and the window arithmetic.

use rustc_hash::FxHashMap;

use super::functions::Func;
use super::incremental::WindowState;
use crate::store::Store;

/// Range-function results shared by the expressions evaluated at one time.
///
/// Pass the same cache to [`Expr::eval_with`](super::Expr::eval_with) for
/// every rule of a tick. The results are reused only while the store's
/// content and the evaluation time stay the same, and are recomputed after
/// any append or prune. Keeping one cache across ticks reuses its memory
/// and lets range functions update per-series window state from the
/// previous tick instead of reading whole windows (see `incremental`).
/// That state is kept while the store's set of series is unchanged and
/// the rules read it at every tick.
#[derive(Debug, Default)]
pub struct TickCache {
    /// The store content and evaluation time of the current results.
    key: Option<((u64, u64, u64), i64)>,
    /// Incremented whenever `key` changes; slots of older epochs are unset.
    epoch: u64,
    tables: Vec<Table>,
    positions: FxHashMap<ResultKey, usize>,
    /// The store's series set that the window states' positions refer to.
    series_set: Option<(u64, u64)>,
}

/// What a range-function result depends on besides the series: the
/// function, its scalar parameter and the window relative to the
/// evaluation time. Only results evaluated at the query time itself are
/// stored, so the query time is the same for all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct ResultKey {
    pub func: Func,
    /// `f64::to_bits` of the parameter, which is NaN when the function has
    /// none.
    pub param_bits: u64,
    pub group: usize,
    pub range_ms: i64,
    /// The window's end minus the evaluation time.
    pub end_offset_ms: i64,
}

/// The results of one [`ResultKey`] for every series of one group, indexed
/// by the series' position in the group.
#[derive(Debug)]
struct Table {
    key: ResultKey,
    /// The last epoch that read the table; tables unused for a whole epoch
    /// are dropped.
    used_epoch: u64,
    slots: Vec<Slot>,
    /// Window state per series for functions with an incremental form,
    /// kept across epochs while the store's series set is unchanged. Empty
    /// unless this table is the one that [`state_key`] names.
    states: Vec<WindowState>,
    /// The index of the table whose `states` this table's function uses,
    /// set by [`TickCache::table`].
    state_table: usize,
}

/// Returns the key of the table that keeps the window states for `key`'s
/// results.
/// Functions that keep the same state over the same window share it, so
/// that `rate` and `increase` of one series move one state per tick: the
/// second one finds it already at the window and only computes its result.
fn state_key(key: ResultKey) -> ResultKey {
    let func = match key.func {
        Func::Increase => Func::Rate,
        Func::SumOverTime => Func::AvgOverTime,
        Func::PredictLinear => Func::Deriv,
        func => func,
    };
    // A state does not depend on the function's parameter, only the result
    // does.
    ResultKey { func, param_bits: f64::NAN.to_bits(), ..key }
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    /// The epoch the value was computed in; 0 is never current.
    epoch: u64,
    value: Option<f64>,
}

impl TickCache {
    /// Creates an empty cache.
    pub fn new() -> TickCache {
        TickCache::default()
    }

    /// Forgets every result and keeps the memory. Results are invalidated
    /// on their own when the store or the evaluation time changes, so only
    /// callers that evaluate the same store at the same time again without
    /// wanting the stored results (such as benchmarks) need this.
    pub fn clear(&mut self) {
        self.key = None;
    }

    /// Invalidates every result unless `store` and `query_ms` are those the
    /// results were computed for.
    pub(super) fn begin(&mut self, store: &Store, query_ms: i64) {
        let key = (store.content_key(), query_ms);
        if self.key == Some(key) {
            return;
        }
        self.key = Some(key);
        if self.series_set != Some(store.series_set_key()) {
            // Positions may now name other series.
            self.series_set = Some(store.series_set_key());
            for table in &mut self.tables {
                table.states.clear();
            }
        }
        let previous = self.epoch;
        self.epoch += 1;
        // Drop the tables that the previous epoch did not read, such as
        // those of `@`-pinned windows, whose offset changes every tick.
        let mut kept = 0;
        for index in 0..self.tables.len() {
            if self.tables[index].used_epoch >= previous {
                self.tables.swap(kept, index);
                kept += 1;
            }
        }
        self.tables.truncate(kept);
        self.positions.clear();
        for (index, table) in self.tables.iter().enumerate() {
            self.positions.insert(table.key, index);
        }
    }

    /// Returns the index of the table for `key`, sized for `group_len`
    /// series, for [`TickCache::get`] and [`TickCache::set`].
    pub(super) fn table(&mut self, key: ResultKey, group_len: usize) -> usize {
        let index = self.used_table(key);
        let slots = &mut self.tables[index].slots;
        if slots.len() != group_len {
            slots.clear();
            slots.resize(group_len, Slot::default());
        }
        let state_table = self.used_table(state_key(key));
        let states = &mut self.tables[state_table].states;
        if states.len() != group_len {
            states.clear();
            states.resize(group_len, WindowState::default());
        }
        self.tables[index].state_table = state_table;
        index
    }

    /// Returns the index of the table for `key`, added if missing, and marks
    /// it as used in this epoch.
    fn used_table(&mut self, key: ResultKey) -> usize {
        let index = match self.positions.get(&key) {
            Some(&index) => index,
            None => self.add(key),
        };
        self.tables[index].used_epoch = self.epoch;
        index
    }

    /// Returns the window state of a series, kept from earlier ticks.
    pub(super) fn state(&self, table: usize, position: usize) -> Option<&WindowState> {
        let state_table = self.tables.get(table)?.state_table;
        self.tables.get(state_table)?.states.get(position)
    }

    /// Returns the window state of a series, kept from earlier ticks.
    pub(super) fn state_mut(&mut self, table: usize, position: usize) -> Option<&mut WindowState> {
        let state_table = self.tables.get(table)?.state_table;
        self.tables.get_mut(state_table)?.states.get_mut(position)
    }

    /// Returns the stored result of a series: `Some(None)` when the series
    /// has no result, `None` when it was not computed in this epoch.
    pub(super) fn get(&self, table: usize, position: usize) -> Option<Option<f64>> {
        let slot = self.tables.get(table)?.slots.get(position)?;
        (slot.epoch == self.epoch).then_some(slot.value)
    }

    pub(super) fn set(&mut self, table: usize, position: usize, value: Option<f64>) {
        if let Some(slot) = self.tables.get_mut(table).and_then(|t| t.slots.get_mut(position)) {
            *slot = Slot { epoch: self.epoch, value };
        }
    }

    fn add(&mut self, key: ResultKey) -> usize {
        let index = self.tables.len();
        self.tables.push(Table { key, used_epoch: self.epoch, slots: Vec::new(), states: Vec::new(), state_table: index });
        self.positions.insert(key, index);
        index
    }
}
