//! Behaviour tests of the engine, fed through `Engine::observe` with exact
//! timestamps.

use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::config::{Direction, Flap, OnMissing, TierSpec};

/// One second in ms.
const SEC: i64 = 1000;

fn spec(tier: Tier, trigger: f64, clear: f64, for_secs: u64) -> TierSpec {
    TierSpec {
        tier,
        trigger,
        clear,
        for_: Duration::from_secs(for_secs),
    }
}

/// Builds an `Above` rule with yellow > 50 (clear <= 40), red > 60
/// (clear <= 55) and emergency > 90 (clear <= 80). Yellow and red need
/// 30 s and emergency none. It clears after 60 s and holds after 5 min
/// without a value.
fn above_rule() -> Rule {
    Rule {
        name: "ErrorRate".to_string(),
        expr: "x".to_string(),
        unit: String::new(),
        direction: Direction::Above,
        tiers: vec![
            spec(Tier::Yellow, 50.0, 40.0, 30),
            spec(Tier::Red, 60.0, 55.0, 30),
            spec(Tier::Emergency, 90.0, 80.0, 0),
        ],
        clear_for: Duration::from_secs(60),
        on_missing: OnMissing::Hold,
        missing_for: Duration::from_secs(300),
        flap: None,
        summary: "value {{ $value }} on {{ $labels.instance }}".to_string(),
        labels: Labels::from_pairs([("team", "db")]),
        source: PathBuf::from("rules/test.toml"),
    }
}

/// [`above_rule`] with every `for` and `clear_for` at zero, so each
/// evaluation can change the tier.
fn instant_rule() -> Rule {
    let mut rule = above_rule();
    for tier in &mut rule.tiers {
        tier.for_ = Duration::ZERO;
    }
    rule.clear_for = Duration::ZERO;
    rule
}

fn engine(rule: Rule) -> Engine {
    let expr = Expr::parse("x").expect("a plain selector parses");
    Engine::new(vec![(rule, expr)])
}

fn series() -> Labels {
    Labels::from_pairs([("__name__", "x"), ("instance", "a")])
}

fn feed(engine: &mut Engine, value: f64, at_ms: i64) -> Vec<Transition> {
    engine.observe(0, &[(series(), value)], at_ms)
}

fn feed_missing(engine: &mut Engine, at_ms: i64) -> Vec<Transition> {
    engine.observe(0, &[], at_ms)
}

/// `(from, to)` of each transition.
fn moves(transitions: &[Transition]) -> Vec<(Tier, Tier)> {
    transitions.iter().map(|t| (t.from, t.to)).collect()
}

fn reasons(transitions: &[Transition]) -> Vec<Reason> {
    transitions.iter().map(|t| t.reason).collect()
}

/// Feeds `value` every 15 s from `start_ms` to `end_ms` inclusive and
/// returns every transition.
fn feed_every_15s(engine: &mut Engine, value: f64, start_ms: i64, end_ms: i64) -> Vec<Transition> {
    let mut out = Vec::new();
    let mut at = start_ms;
    while at <= end_ms {
        out.extend(feed(engine, value, at));
        at += 15 * SEC;
    }
    out
}

fn only_state(engine: &Engine) -> SeriesState {
    let snapshot = engine.snapshot();
    assert_eq!(snapshot.len(), 1, "expected exactly one tracked series");
    snapshot[0].state
}

// Escalation

#[test]
fn enters_yellow_after_for() {
    let mut engine = engine(above_rule());
    assert!(feed(&mut engine, 52.0, 0).is_empty());
    assert!(feed(&mut engine, 52.0, 15 * SEC).is_empty());
    assert_eq!(
        moves(&feed(&mut engine, 52.0, 30 * SEC)),
        vec![(Tier::Ok, Tier::Yellow)]
    );
}

#[test]
fn escalation_carries_trigger_threshold() {
    let mut engine = engine(above_rule());
    feed(&mut engine, 52.0, 0);
    let transitions = feed(&mut engine, 52.0, 30 * SEC);
    assert_eq!(transitions[0].threshold, 50.0);
    assert_eq!(transitions[0].value, 52.0);
    assert_eq!(transitions[0].reason, Reason::Threshold);
}

#[test]
fn trigger_run_restarts_after_value_below_trigger() {
    let mut engine = engine(above_rule());
    feed(&mut engine, 52.0, 0);
    feed(&mut engine, 45.0, 15 * SEC);
    assert!(feed(&mut engine, 52.0, 30 * SEC).is_empty());
    assert!(feed(&mut engine, 52.0, 45 * SEC).is_empty());
    assert_eq!(
        moves(&feed(&mut engine, 52.0, 60 * SEC)),
        vec![(Tier::Ok, Tier::Yellow)]
    );
}

#[test]
fn skips_straight_to_emergency() {
    let mut engine = engine(above_rule());
    let transitions = feed(&mut engine, 95.0, 0);
    assert_eq!(moves(&transitions), vec![(Tier::Ok, Tier::Emergency)]);
    assert_eq!(transitions[0].threshold, 90.0);
}

#[test]
fn skips_yellow_when_red_held_as_long() {
    let mut engine = engine(above_rule());
    feed(&mut engine, 65.0, 0);
    feed(&mut engine, 65.0, 15 * SEC);
    assert_eq!(
        moves(&feed(&mut engine, 65.0, 30 * SEC)),
        vec![(Tier::Ok, Tier::Red)]
    );
}

#[test]
fn higher_tier_for_counts_from_its_own_start() {
    let mut rule = above_rule();
    rule.tiers[0].for_ = Duration::ZERO;
    let mut engine = engine(rule);
    assert_eq!(
        moves(&feed(&mut engine, 65.0, 0)),
        vec![(Tier::Ok, Tier::Yellow)]
    );
    assert!(feed(&mut engine, 65.0, 15 * SEC).is_empty());
    assert_eq!(
        moves(&feed(&mut engine, 65.0, 30 * SEC)),
        vec![(Tier::Yellow, Tier::Red)]
    );
}

#[test]
fn stays_yellow_inside_hysteresis_band() {
    let mut engine = engine(instant_rule());
    feed(&mut engine, 52.0, 0);
    // 45 is between yellow's clear (40) and its trigger (50).
    let transitions = feed_every_15s(&mut engine, 45.0, 15 * SEC, 3600 * SEC);
    assert!(
        transitions.is_empty(),
        "unexpected {:?}",
        moves(&transitions)
    );
    assert_eq!(only_state(&engine), SeriesState::Active(Tier::Yellow));
}

// De-escalation

#[test]
fn deescalates_only_after_clear_for() {
    let mut engine = engine(above_rule());
    feed_every_15s(&mut engine, 52.0, 0, 30 * SEC);
    assert!(feed(&mut engine, 35.0, 45 * SEC).is_empty());
    assert!(feed(&mut engine, 35.0, 90 * SEC).is_empty());
    let transitions = feed(&mut engine, 35.0, 105 * SEC);
    assert_eq!(moves(&transitions), vec![(Tier::Yellow, Tier::Ok)]);
    assert_eq!(transitions[0].threshold, 40.0);
}

#[test]
fn clear_run_restarts_after_value_in_band() {
    let mut engine = engine(above_rule());
    feed_every_15s(&mut engine, 52.0, 0, 30 * SEC);
    feed(&mut engine, 35.0, 45 * SEC);
    feed(&mut engine, 45.0, 60 * SEC);
    assert!(feed(&mut engine, 35.0, 75 * SEC).is_empty());
    assert!(feed(&mut engine, 35.0, 105 * SEC).is_empty());
    assert_eq!(
        moves(&feed(&mut engine, 35.0, 135 * SEC)),
        vec![(Tier::Yellow, Tier::Ok)]
    );
}

#[test]
fn deescalates_to_intermediate_tier() {
    let mut engine = engine(above_rule());
    feed(&mut engine, 65.0, 0);
    feed(&mut engine, 65.0, 30 * SEC);
    // 45 clears red (<= 55) but not yellow (> 40).
    feed(&mut engine, 45.0, 45 * SEC);
    let transitions = feed(&mut engine, 45.0, 105 * SEC);
    assert_eq!(moves(&transitions), vec![(Tier::Red, Tier::Yellow)]);
    assert_eq!(transitions[0].threshold, 55.0);
}

#[test]
fn deescalates_past_every_cleared_tier() {
    let mut engine = engine(above_rule());
    feed(&mut engine, 95.0, 0);
    feed(&mut engine, 10.0, 15 * SEC);
    assert_eq!(
        moves(&feed(&mut engine, 10.0, 75 * SEC)),
        vec![(Tier::Emergency, Tier::Ok)]
    );
}

#[test]
fn below_rule_triggers_and_clears() {
    let mut rule = instant_rule();
    rule.direction = Direction::Below;
    rule.tiers = vec![
        spec(Tier::Yellow, 20.0, 25.0, 0),
        spec(Tier::Red, 10.0, 15.0, 0),
    ];
    let mut engine = engine(rule);
    assert!(
        feed(&mut engine, 20.0, 0).is_empty(),
        "20 is not below the trigger 20"
    );
    assert_eq!(
        moves(&feed(&mut engine, 19.0, 15 * SEC)),
        vec![(Tier::Ok, Tier::Yellow)]
    );
    assert_eq!(
        moves(&feed(&mut engine, 5.0, 30 * SEC)),
        vec![(Tier::Yellow, Tier::Red)]
    );
    assert!(
        feed(&mut engine, 14.0, 45 * SEC).is_empty(),
        "14 is inside red's band"
    );
    assert_eq!(
        moves(&feed(&mut engine, 22.0, 60 * SEC)),
        vec![(Tier::Red, Tier::Yellow)]
    );
    assert_eq!(
        moves(&feed(&mut engine, 25.0, 75 * SEC)),
        vec![(Tier::Yellow, Tier::Ok)]
    );
}

// Missing data

#[test]
fn nan_neither_triggers_nor_clears() {
    let mut engine = engine(above_rule());
    feed(&mut engine, 52.0, 0);
    feed(&mut engine, f64::NAN, 15 * SEC);
    assert!(
        feed(&mut engine, 52.0, 30 * SEC).is_empty(),
        "NaN broke the trigger run"
    );
    assert_eq!(
        moves(&feed(&mut engine, 52.0, 60 * SEC)),
        vec![(Tier::Ok, Tier::Yellow)]
    );
    feed(&mut engine, 35.0, 75 * SEC);
    feed(&mut engine, f64::NAN, 90 * SEC);
    assert!(
        feed(&mut engine, 35.0, 135 * SEC).is_empty(),
        "NaN broke the clear run"
    );
    assert_eq!(
        moves(&feed(&mut engine, 35.0, 195 * SEC)),
        vec![(Tier::Yellow, Tier::Ok)]
    );
}

#[test]
fn missing_series_neither_triggers_nor_clears() {
    let mut engine = engine(above_rule());
    feed(&mut engine, 52.0, 0);
    feed_missing(&mut engine, 15 * SEC);
    assert!(
        feed(&mut engine, 52.0, 30 * SEC).is_empty(),
        "absence broke the trigger run"
    );
    assert_eq!(
        moves(&feed(&mut engine, 52.0, 60 * SEC)),
        vec![(Tier::Ok, Tier::Yellow)]
    );
    feed(&mut engine, 35.0, 75 * SEC);
    feed_missing(&mut engine, 90 * SEC);
    assert!(
        feed(&mut engine, 35.0, 135 * SEC).is_empty(),
        "absence broke the clear run"
    );
    assert_eq!(
        moves(&feed(&mut engine, 35.0, 195 * SEC)),
        vec![(Tier::Yellow, Tier::Ok)]
    );
}

#[test]
fn hold_keeps_tier_while_missing() {
    let mut engine = engine(instant_rule());
    feed(&mut engine, 52.0, 0);
    let mut transitions = Vec::new();
    for step in 1..=60 {
        transitions.extend(feed_missing(&mut engine, step * 15 * SEC));
    }
    assert!(transitions.is_empty());
    let snapshot = engine.snapshot();
    assert_eq!(snapshot[0].notified_tier, Tier::Yellow);
    assert_eq!(snapshot[0].state, SeriesState::NoData);
}

#[test]
fn clear_returns_to_ok_after_missing_for() {
    let mut rule = instant_rule();
    rule.on_missing = OnMissing::Clear;
    let mut engine = engine(rule);
    feed(&mut engine, 52.0, 0);
    assert!(feed_missing(&mut engine, 15 * SEC).is_empty());
    assert!(
        feed_missing(&mut engine, 300 * SEC).is_empty(),
        "missing for 285 s only"
    );
    let transitions = feed_missing(&mut engine, 315 * SEC);
    assert_eq!(moves(&transitions), vec![(Tier::Yellow, Tier::Ok)]);
    assert_eq!(transitions[0].reason, Reason::Missing);
    assert!(transitions[0].value.is_nan());
    assert!(
        feed_missing(&mut engine, 330 * SEC).is_empty(),
        "acts once per missing period"
    );
    assert!(
        engine.snapshot().is_empty(),
        "an ok series missing for missing_for is forgotten"
    );
}

#[test]
fn alert_enters_highest_tier_after_missing_for() {
    let mut rule = above_rule();
    rule.on_missing = OnMissing::Alert;
    let mut engine = engine(rule);
    feed(&mut engine, 10.0, 0);
    assert!(feed_missing(&mut engine, 15 * SEC).is_empty());
    let transitions = feed_missing(&mut engine, 315 * SEC);
    assert_eq!(moves(&transitions), vec![(Tier::Ok, Tier::Emergency)]);
    assert_eq!(transitions[0].reason, Reason::Missing);
    assert!(transitions[0].threshold.is_nan());
    assert!(
        feed_missing(&mut engine, 330 * SEC).is_empty(),
        "acts once per missing period"
    );
}

#[test]
fn alert_acts_again_in_next_missing_period() {
    let mut rule = instant_rule();
    rule.on_missing = OnMissing::Alert;
    let mut engine = engine(rule);
    feed(&mut engine, 10.0, 0);
    feed_missing(&mut engine, 15 * SEC);
    feed_missing(&mut engine, 315 * SEC);
    assert_eq!(
        moves(&feed(&mut engine, 10.0, 330 * SEC)),
        vec![(Tier::Emergency, Tier::Ok)]
    );
    feed_missing(&mut engine, 345 * SEC);
    assert_eq!(
        moves(&feed_missing(&mut engine, 645 * SEC)),
        vec![(Tier::Ok, Tier::Emergency)]
    );
}

#[test]
fn ok_series_forgotten_after_missing_for() {
    let mut engine = engine(above_rule());
    feed(&mut engine, 10.0, 0);
    feed_missing(&mut engine, 15 * SEC);
    assert_eq!(only_state(&engine), SeriesState::NoData);
    feed_missing(&mut engine, 315 * SEC);
    assert!(engine.snapshot().is_empty());
}

#[test]
fn nan_first_value_creates_no_state() {
    let mut engine = engine(above_rule());
    feed(&mut engine, f64::NAN, 0);
    assert!(engine.snapshot().is_empty());
}

// Flapping

/// Yellow above 50, cleared at 40, no delays; flapping past 2 changes in 10 min.
fn flapping_rule(max_transitions: usize) -> Rule {
    let mut rule = instant_rule();
    rule.flap = Some(Flap {
        max_transitions,
        window: Duration::from_secs(600),
    });
    rule
}

#[test]
fn flapping_starts_once_holds_and_ends_once_calm() {
    let mut engine = engine(flapping_rule(2));
    let mut sent = Vec::new();
    // The machine changes tier at every step: ok->yellow, yellow->ok, ...
    for (step, value) in [55.0, 35.0, 55.0, 35.0, 55.0, 35.0].into_iter().enumerate() {
        sent.extend(feed(&mut engine, value, step as i64 * 15 * SEC));
    }
    assert_eq!(
        reasons(&sent),
        vec![
            Reason::Threshold,
            Reason::Threshold,
            Reason::FlappingStarted
        ],
        "nothing is sent after flapping starts"
    );
    assert_eq!(moves(&sent[2..]), vec![(Tier::Ok, Tier::Yellow)]);
    assert!(engine.snapshot()[0].flapping);

    // The last change was at 75 s, so the window is calm at 675 s.
    let quiet = feed_every_15s(&mut engine, 35.0, 90 * SEC, 660 * SEC);
    assert!(quiet.is_empty(), "unexpected {:?}", moves(&quiet));
    let ended = feed(&mut engine, 35.0, 675 * SEC);
    assert_eq!(reasons(&ended), vec![Reason::FlappingEnded]);
    assert_eq!(moves(&ended), vec![(Tier::Yellow, Tier::Ok)]);
    assert!(
        feed(&mut engine, 35.0, 690 * SEC).is_empty(),
        "flapping ends once"
    );
}

#[test]
fn flapping_holds_highest_tier_in_window() {
    let mut engine = engine(flapping_rule(3));
    let mut sent = Vec::new();
    // ok->yellow, yellow->red, red->yellow, yellow->ok: the fourth starts it.
    for (step, value) in [55.0, 65.0, 45.0, 35.0].into_iter().enumerate() {
        sent.extend(feed(&mut engine, value, step as i64 * 15 * SEC));
    }
    assert_eq!(sent[3].reason, Reason::FlappingStarted);
    assert_eq!((sent[3].from, sent[3].to), (Tier::Yellow, Tier::Red));
}

#[test]
fn flapping_ended_sent_even_when_tier_unchanged() {
    let mut engine = engine(flapping_rule(2));
    for (step, value) in [55.0, 35.0, 55.0].into_iter().enumerate() {
        feed(&mut engine, value, step as i64 * 15 * SEC);
    }
    // Held at yellow; the machine is at yellow too when the window calms.
    feed_every_15s(&mut engine, 52.0, 45 * SEC, 615 * SEC);
    let ended = feed(&mut engine, 52.0, 630 * SEC);
    assert_eq!(reasons(&ended), vec![Reason::FlappingEnded]);
    assert_eq!(moves(&ended), vec![(Tier::Yellow, Tier::Yellow)]);
}

#[test]
fn flapping_still_sends_escalation() {
    let mut engine = engine(flapping_rule(2));
    for (step, value) in [55.0, 35.0, 55.0].into_iter().enumerate() {
        feed(&mut engine, value, step as i64 * 15 * SEC);
    }
    // Held at yellow; a jump to emergency must page at once.
    let escalated = feed(&mut engine, 95.0, 45 * SEC);
    assert_eq!(moves(&escalated), vec![(Tier::Yellow, Tier::Emergency)]);
    assert_eq!(reasons(&escalated), vec![Reason::Threshold]);
    // Falling back below the held tier is still suppressed.
    assert!(feed(&mut engine, 35.0, 60 * SEC).is_empty());
}

#[test]
fn slow_changes_do_not_flap() {
    let mut engine = engine(flapping_rule(2));
    let mut sent = Vec::new();
    for (step, value) in [55.0, 35.0, 55.0, 35.0].into_iter().enumerate() {
        sent.extend(feed(&mut engine, value, step as i64 * 400 * SEC));
    }
    assert_eq!(reasons(&sent), vec![Reason::Threshold; 4]);
}

// Transition contents

#[test]
fn fingerprint_equal_across_tiers_of_incident() {
    let mut engine = engine(instant_rule());
    let yellow = feed(&mut engine, 52.0, 0);
    let red = feed(&mut engine, 65.0, 15 * SEC);
    let ok = feed(&mut engine, 10.0, 30 * SEC);
    assert_eq!(yellow[0].fingerprint, red[0].fingerprint);
    assert_eq!(red[0].fingerprint, ok[0].fingerprint);
}

#[test]
fn fingerprint_hashes_rule_name_and_labels() {
    let mut engine = engine(instant_rule());
    let transitions = feed(&mut engine, 52.0, 0);
    let expected = Labels::from_pairs([
        ("alertname", "ErrorRate"),
        ("instance", "a"),
        ("team", "db"),
    ]);
    assert_eq!(transitions[0].fingerprint, expected.fingerprint());
}

#[test]
fn fingerprint_differs_between_series() {
    let mut engine = engine(instant_rule());
    let other = Labels::from_pairs([("instance", "b")]);
    let transitions = engine.observe(0, &[(series(), 52.0), (other, 52.0)], 0);
    assert_ne!(transitions[0].fingerprint, transitions[1].fingerprint);
}

#[test]
fn incident_start_kept_across_tier_changes() {
    let mut engine = engine(instant_rule());
    feed(&mut engine, 10.0, 0);
    let yellow = feed(&mut engine, 52.0, 15 * SEC);
    let red = feed(&mut engine, 65.0, 30 * SEC);
    let back_to_yellow = feed(&mut engine, 45.0, 45 * SEC);
    let ok = feed(&mut engine, 10.0, 60 * SEC);
    assert_eq!(yellow[0].incident_start_ms, 15 * SEC);
    assert_eq!(red[0].incident_start_ms, 15 * SEC);
    assert_eq!(back_to_yellow[0].incident_start_ms, 15 * SEC);
    assert_eq!(
        ok[0].incident_start_ms,
        15 * SEC,
        "the return to ok names the incident it ends"
    );
    let next = feed(&mut engine, 52.0, 75 * SEC);
    assert_eq!(
        next[0].incident_start_ms,
        75 * SEC,
        "a new incident starts anew"
    );
}

#[test]
fn labels_add_rule_labels_drop_name() {
    let mut engine = engine(instant_rule());
    let transitions = feed(&mut engine, 52.0, 0);
    assert_eq!(
        transitions[0].labels,
        Labels::from_pairs([("instance", "a"), ("team", "db")])
    );
}

#[test]
fn transition_carries_rule_time_and_summary() {
    let mut engine = engine(instant_rule());
    let transitions = feed(&mut engine, 52.5, 7 * SEC);
    assert_eq!(transitions[0].rule, "ErrorRate");
    assert_eq!(transitions[0].at_ms, 7 * SEC);
    assert_eq!(transitions[0].summary, "value 52.5 on a");
}

#[test]
fn missing_transition_summary_renders_nan() {
    let mut rule = instant_rule();
    rule.on_missing = OnMissing::Alert;
    rule.missing_for = Duration::ZERO;
    let mut engine = engine(rule);
    feed(&mut engine, 10.0, 0);
    let transitions = feed_missing(&mut engine, 15 * SEC);
    assert_eq!(transitions[0].summary, "value NaN on a");
}

#[test]
fn series_keep_separate_state() {
    let mut engine = engine(above_rule());
    let other = Labels::from_pairs([("instance", "b")]);
    engine.observe(0, &[(series(), 52.0), (other.clone(), 10.0)], 0);
    let transitions = engine.observe(0, &[(series(), 52.0), (other, 10.0)], 30 * SEC);
    assert_eq!(transitions.len(), 1);
    assert_eq!(transitions[0].labels.get("instance"), Some("a"));
}

#[test]
fn infinite_value_triggers_highest_tier() {
    let mut engine = engine(above_rule());
    assert_eq!(
        moves(&feed(&mut engine, f64::INFINITY, 0)),
        vec![(Tier::Ok, Tier::Emergency)]
    );
}

#[test]
fn rule_without_tiers_never_changes() {
    let mut rule = instant_rule();
    rule.tiers.clear();
    rule.on_missing = OnMissing::Alert;
    rule.missing_for = Duration::ZERO;
    let mut engine = engine(rule);
    assert!(feed(&mut engine, 1e9, 0).is_empty());
    assert!(feed_missing(&mut engine, 15 * SEC).is_empty());
}

#[test]
fn unknown_rule_index_returns_nothing() {
    let mut engine = engine(instant_rule());
    assert!(engine.observe(5, &[(series(), 99.0)], 0).is_empty());
}

// Snapshot

#[test]
fn snapshot_shows_pending_with_trigger_and_start() {
    let mut engine = engine(above_rule());
    feed(&mut engine, 52.0, 0);
    feed(&mut engine, 52.0, 15 * SEC);
    let status = &engine.snapshot()[0];
    assert_eq!(status.state, SeriesState::Pending(Tier::Yellow));
    assert_eq!(status.threshold, 50.0);
    assert_eq!(status.since_ms, 0);
    assert_eq!(status.value, 52.0);
}

#[test]
fn snapshot_shows_clearing_with_clear_threshold() {
    let mut engine = engine(above_rule());
    feed(&mut engine, 95.0, 0);
    feed(&mut engine, 70.0, 15 * SEC);
    let status = &engine.snapshot()[0];
    assert_eq!(status.state, SeriesState::Clearing(Tier::Emergency));
    assert_eq!(status.threshold, 80.0);
    assert_eq!(status.since_ms, 15 * SEC);
}

#[test]
fn snapshot_shows_ok_against_lowest_trigger() {
    let mut engine = engine(above_rule());
    feed(&mut engine, 10.0, 0);
    let status = &engine.snapshot()[0];
    assert_eq!(status.state, SeriesState::Ok);
    assert_eq!(status.threshold, 50.0);
}

#[test]
fn snapshot_serializes_state_and_tier() {
    let mut engine = engine(above_rule());
    feed(&mut engine, 95.0, 0);
    let json = serde_json::to_value(&engine.snapshot()[0]).expect("a status serializes");
    assert_eq!(json["state"], "active");
    assert_eq!(json["tier"], "emergency");
    assert_eq!(json["notified_tier"], "emergency");
}

// Evaluation errors

#[test]
fn evaluation_errors_logged_once_per_interval() {
    let mut log = ErrorLog::default();
    let error = ExprError {
        offset: None,
        message: "division by zero".to_string(),
    };
    assert!(log.record("ErrorRate", &error, 0));
    assert!(!log.record("ErrorRate", &error, 30 * SEC));
    assert!(log.record("ErrorRate", &error, 60 * SEC));
}

// Properties

/// Generates a rule with random, valid thresholds: three tiers with
/// `clear` strictly on the clear side of `trigger`, and triggers ordered
/// from yellow up.
fn arbitrary_rule() -> impl Strategy<Value = Rule> {
    (
        any::<bool>(),
        prop::array::uniform3(1.0f64..100.0),
        prop::array::uniform3(0.1f64..1.0),
        prop::array::uniform3(0u64..60),
        0u64..120,
        prop_oneof![
            Just(OnMissing::Hold),
            Just(OnMissing::Clear),
            Just(OnMissing::Alert)
        ],
        0u64..120,
        prop::option::of((0usize..5, 1u64..300)),
    )
        .prop_map(
            |(below, steps, widths, fors, clear_for, on_missing, missing_for, flap)| {
                let mut rule = above_rule();
                let mut trigger = 0.0;
                let tiers = [Tier::Yellow, Tier::Red, Tier::Emergency];
                rule.tiers = (0..3)
                    .map(|i| {
                        trigger += steps[i];
                        // The band must fit between this trigger and the one below.
                        let clear = trigger - steps[i] * widths[i];
                        spec(tiers[i], trigger, clear, fors[i])
                    })
                    .collect();
                if below {
                    rule.direction = Direction::Below;
                    for tier in &mut rule.tiers {
                        tier.trigger = -tier.trigger;
                        tier.clear = -tier.clear;
                    }
                }
                rule.clear_for = Duration::from_secs(clear_for);
                rule.on_missing = on_missing;
                rule.missing_for = Duration::from_secs(missing_for);
                rule.flap = flap.map(|(max_transitions, window)| Flap {
                    max_transitions,
                    window: Duration::from_secs(window),
                });
                rule
            },
        )
}

/// Returns a value at `fraction` of the way from `tier`'s clear threshold
/// (exclusive) to its trigger (inclusive): neither clears nor triggers.
fn value_in_band(tier: &TierSpec, fraction: f64) -> f64 {
    let value = tier.clear + (tier.trigger - tier.clear) * fraction;
    if value == tier.clear {
        tier.trigger
    } else {
        value
    }
}

proptest! {
    #[test]
    fn values_inside_band_never_change_tier(
        rule in arbitrary_rule(),
        tier_index in 0usize..3,
        fractions in prop::collection::vec(0.0f64..=1.0, 1..60),
        gaps in prop::collection::vec(1i64..600, 60),
    ) {
        let mut rule = rule;
        rule.flap = None;
        let band = rule.tiers[tier_index].clone();
        let mut engine = engine(rule.clone());

        // Enter the tier: a value just past its trigger and below the next,
        // held for its `for`.
        let entry = value_in_band(&band, 1.0) + match rule.direction {
            Direction::Above => 1e-9,
            Direction::Below => -1e-9,
        };
        let for_ms = machine::duration_ms(band.for_);
        feed(&mut engine, entry, 0);
        feed(&mut engine, entry, for_ms);
        prop_assert_eq!(engine.snapshot()[0].notified_tier, band.tier);

        let mut at = for_ms;
        for (fraction, gap) in fractions.iter().zip(&gaps) {
            at += gap * SEC;
            let transitions = feed(&mut engine, value_in_band(&band, *fraction), at);
            prop_assert!(transitions.is_empty(), "moved {:?} at {}", moves(&transitions), at);
        }
    }

    #[test]
    fn any_input_is_handled_without_panic(
        rule in arbitrary_rule(),
        steps in prop::collection::vec((prop::option::of(any::<f64>()), any::<i64>()), 1..100),
    ) {
        let mut engine = engine(rule);
        for (value, at) in steps {
            match value {
                Some(value) => feed(&mut engine, value, at),
                None => feed_missing(&mut engine, at),
            };
        }
        prop_assert!(engine.snapshot().len() <= 1);
    }

    #[test]
    fn only_flap_transitions_keep_tier(
        rule in arbitrary_rule(),
        steps in prop::collection::vec((prop::option::of(-120.0f64..120.0), 1i64..120), 1..200),
    ) {
        let mut engine = engine(rule);
        let mut at = 0;
        let mut previous_to = Tier::Ok;
        for (value, gap) in steps {
            at += gap * SEC;
            let transitions = match value {
                Some(value) => feed(&mut engine, value, at),
                None => feed_missing(&mut engine, at),
            };
            for transition in transitions {
                let flap = matches!(transition.reason, Reason::FlappingStarted | Reason::FlappingEnded);
                prop_assert!(transition.from != transition.to || flap, "{:?}", transition);
                prop_assert_eq!(transition.from, previous_to, "transitions chain");
                previous_to = transition.to;
            }
        }
    }
}
