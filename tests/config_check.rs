//! Loading and checking config and rule files through the public API:
//! the shipped files load with the documented values, and every kind of
//! mistake is reported at its exact line and column.

use std::path::{Path, PathBuf};
use std::time::Duration;

use andon::config::{
    check, load, load_rules_str, render_errors, Config, ConfigError, ConfigErrors, Direction,
    OnMissing, ReceiverKind, Rule,
};
use andon::engine::Tier;
use andon::exposition::Format;

/// A config folder in a temporary directory with `andon.toml` and any other
/// files the test needs.
struct Folder {
    dir: tempfile::TempDir,
}

impl Folder {
    fn new(files: &[(&str, &str)]) -> Folder {
        let dir = tempfile::tempdir().expect("create temporary directory");
        for (name, text) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create folder");
            }
            std::fs::write(path, text).expect("write fixture");
        }
        Folder { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn load(&self) -> Result<Config, ConfigErrors> {
        load(&self.path("andon.toml"))
    }
}

const TARGET: &str = "[[target]]\nname = \"api\"\nurl = \"http://127.0.0.1:8080/metrics\"\n";

/// Loads a main file that needs no other files.
fn load_main(text: &str) -> Result<Config, ConfigErrors> {
    Folder::new(&[("andon.toml", text)]).load()
}

fn main_errors(text: &str) -> Vec<ConfigError> {
    load_main(text).expect_err("config should be invalid").0
}

fn rules(text: &str) -> Vec<Rule> {
    load_rules_str(Path::new("rules.toml"), text).expect("rules should be valid")
}

fn rule_errors(text: &str) -> Vec<ConfigError> {
    load_rules_str(Path::new("rules.toml"), text)
        .expect_err("rules should be invalid")
        .0
}

/// Returns the only error of a list, so a test fails if others appear.
fn only(errors: Vec<ConfigError>) -> ConfigError {
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    errors.into_iter().next().expect("one error")
}

fn position(error: &ConfigError) -> (usize, usize) {
    (error.line, error.column)
}

fn rule_named<'a>(rules: &'a [Rule], name: &str) -> &'a Rule {
    rules
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no rule {name}"))
}

fn approx(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

// The shipped files.

#[test]
fn example_config_loads() {
    let config = load(Path::new("examples/andon.toml")).expect("examples/andon.toml should load");
    assert_eq!(config.global.scrape_interval, Duration::from_secs(15));
    assert_eq!(config.global.body_size_limit, 16 << 20);
    assert_eq!(config.targets[0].url, "http://127.0.0.1:8080/metrics");
    assert_eq!(
        config.targets[0].labels.get("instance"),
        Some("127.0.0.1:8080")
    );
    assert_eq!(config.targets[0].timeout, Duration::from_secs(5));
    assert_eq!(config.targets[0].fallback_format, Format::Text);
    assert_eq!(config.routes[0].tiers, vec![Tier::Red, Tier::Emergency]);
    assert_eq!(config.routes[0].receivers, vec![String::from("oncall")]);
    assert_eq!(config.rules.len(), 6);
}

#[test]
fn example_config_sends_red_to_webhook() {
    let config = load(Path::new("examples/andon.toml")).expect("examples/andon.toml should load");
    let oncall = config
        .receivers
        .iter()
        .find(|r| r.name == "oncall")
        .expect("oncall receiver");
    let ReceiverKind::Webhook { url, .. } = &oncall.kind else {
        panic!("oncall is not a webhook")
    };
    assert_eq!(url, "http://127.0.0.1:9095/alerts");
}

#[test]
fn example_rules_resolve_from_config_folder() {
    let config = load(Path::new("examples/andon.toml")).expect("examples/andon.toml should load");
    assert_eq!(
        config.rules[0].source,
        Path::new("examples").join("../rules/erlmcp.toml")
    );
}

#[test]
fn check_counts_example() {
    let summary = check(Path::new("examples/andon.toml")).expect("examples/andon.toml should pass");
    assert_eq!(
        summary.to_string(),
        "examples/andon.toml: ok, 6 rules from 1 rule file, 1 target, 2 receivers, 2 routes"
    );
}

#[test]
fn erlmcp_error_rate_tiers_match_report() {
    let text = std::fs::read_to_string("rules/erlmcp.toml").expect("read rules/erlmcp.toml");
    let rules = rules(&text);
    let rule = rule_named(&rules, "ErlmcpErrorRate");
    let triggers: Vec<f64> = rule.tiers.iter().map(|t| t.trigger).collect();
    assert_eq!(triggers, vec![0.0005, 0.001, 0.005]);
    assert!(
        approx(rule.tiers[0].clear, 0.0004),
        "yellow clear {}",
        rule.tiers[0].clear
    );
    assert_eq!(rule.tiers[2].for_, Duration::ZERO);
    assert_eq!(rule.clear_for, Duration::from_secs(90));
}

#[test]
fn erlmcp_rules_cover_every_signal() {
    let text = std::fs::read_to_string("rules/erlmcp.toml").expect("read rules/erlmcp.toml");
    let names: Vec<String> = rules(&text).into_iter().map(|r| r.name).collect();
    assert_eq!(
        names,
        [
            "ErlmcpErrorRate",
            "ErlmcpLatencyP95",
            "ErlmcpLatencyP99",
            "ErlmcpCpu",
            "ErlmcpMemory",
            "ErlmcpConnections"
        ]
    );
}

#[test]
fn erlmcp_cpu_clears_above_lower_trigger() {
    let text = std::fs::read_to_string("rules/erlmcp.toml").expect("read rules/erlmcp.toml");
    let rules = rules(&text);
    let cpu = rule_named(&rules, "ErlmcpCpu");
    assert!(
        approx(cpu.tiers[1].clear, 0.55),
        "red clear {}",
        cpu.tiers[1].clear
    );
    assert!(cpu.tiers[1].clear > cpu.tiers[0].trigger);
}

#[test]
fn erlmcp_memory_is_per_process() {
    let text = std::fs::read_to_string("rules/erlmcp.toml").expect("read rules/erlmcp.toml");
    let rules = rules(&text);
    let memory = rule_named(&rules, "ErlmcpMemory");
    assert_eq!(memory.tiers[2].trigger, 400e6 / 8.0);
}

#[test]
fn traefik_rules_load() {
    let text = std::fs::read_to_string("rules/traefik.toml").expect("read rules/traefik.toml");
    assert_eq!(rules(&text).len(), 3);
}

// Defaults.

#[test]
fn global_defaults_apply() {
    let config = load_main(TARGET).expect("minimal config should load");
    assert_eq!(config.global.scrape_interval, Duration::from_secs(15));
    assert_eq!(config.global.evaluation_interval, Duration::from_secs(15));
    assert_eq!(config.global.scrape_timeout, Duration::from_secs(10));
    assert_eq!(config.global.listen, "127.0.0.1:9071");
    assert_eq!(config.global.external_url, "http://127.0.0.1:9071");
    assert_eq!(config.global.target_down_after, Duration::from_secs(30));
    assert_eq!(config.targets[0].body_size_limit, 16 << 20);
}

#[test]
fn scrape_timeout_default_is_capped_at_interval() {
    let config = load_main(&format!("[global]\nscrape_interval = \"5s\"\n{TARGET}"))
        .expect("config should load");
    assert_eq!(config.global.scrape_timeout, Duration::from_secs(5));
}

#[test]
fn rule_defaults_apply() {
    let rule = rules("[[rule]]\nname = \"r\"\nexpr = 'up'\nred = { above = 1 }\n").remove(0);
    assert_eq!(rule.clear_for, Duration::from_secs(60));
    assert_eq!(rule.missing_for, Duration::from_secs(300));
    assert_eq!(rule.on_missing, OnMissing::Hold);
    assert_eq!(rule.tiers[0].for_, Duration::ZERO);
    assert_eq!(rule.tiers[0].clear, 1.0);
    assert_eq!(rule.flap, None);
}

#[test]
fn file_defaults_override_builtin() {
    let text = "[defaults]\nclear_for = \"2m\"\nmissing_for = \"1m\"\non_missing = \"clear\"\n\n[[rule]]\nname = \"r\"\nexpr = 'up'\nred = { above = 1 }\n";
    let rule = rules(text).remove(0);
    assert_eq!(rule.clear_for, Duration::from_secs(120));
    assert_eq!(rule.missing_for, Duration::from_secs(60));
    assert_eq!(rule.on_missing, OnMissing::Clear);
}

#[test]
fn tier_for_defaults_to_rule_for() {
    let text = "[[rule]]\nname = \"r\"\nexpr = 'up'\nfor = \"30s\"\nyellow = { above = 1 }\nred = { above = 2, for = \"5s\" }\n";
    let rule = rules(text).remove(0);
    assert_eq!(rule.tiers[0].for_, Duration::from_secs(30));
    assert_eq!(rule.tiers[1].for_, Duration::from_secs(5));
}

#[test]
fn absolute_hysteresis_lowers_clear() {
    let text = "[[rule]]\nname = \"r\"\nexpr = 'up'\nhysteresis = 10\nred = { above = 100 }\n";
    assert_eq!(rules(text)[0].tiers[0].clear, 90.0);
}

#[test]
fn percent_hysteresis_scales_with_trigger() {
    let text = "[[rule]]\nname = \"r\"\nexpr = 'up'\nhysteresis = \"10%\"\nred = { above = 200 }\n";
    assert_eq!(rules(text)[0].tiers[0].clear, 180.0);
}

#[test]
fn below_rule_clears_above_trigger() {
    let text = "[[rule]]\nname = \"r\"\nexpr = 'free'\nhysteresis = 5\nyellow = { below = 100 }\nred = { below = 50 }\n";
    let rule = rules(text).remove(0);
    assert_eq!(rule.direction, Direction::Below);
    assert_eq!(rule.tiers[0].clear, 105.0);
    assert_eq!(rule.tiers[1].clear, 55.0);
}

#[test]
fn explicit_clear_overrides_hysteresis() {
    let text = "[[rule]]\nname = \"r\"\nexpr = 'up'\nhysteresis = 10\nred = { above = 100, clear_below = 50 }\n";
    assert_eq!(rules(text)[0].tiers[0].clear, 50.0);
}

#[test]
fn flap_settings_load() {
    let text = "[[rule]]\nname = \"r\"\nexpr = 'up'\nflap = { max_transitions = 4, window = \"10m\" }\nred = { above = 1 }\n";
    let flap = rules(text).remove(0).flap.expect("flap settings");
    assert_eq!(flap.max_transitions, 4);
    assert_eq!(flap.window, Duration::from_secs(600));
}

#[test]
fn rule_labels_and_summary_load() {
    let text = "[[rule]]\nname = \"r\"\nexpr = 'up'\nsummary = \"v {{ $value }}\"\nlabels = { team = \"core\" }\nred = { above = 1 }\n";
    let rule = rules(text).remove(0);
    assert_eq!(rule.summary, "v {{ $value }}");
    assert_eq!(rule.labels.get("team"), Some("core"));
}

#[test]
fn headers_file_supplies_headers() {
    let folder = Folder::new(&[
        (
            "andon.toml",
            &format!("{TARGET}[[receiver]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:1/x\"\nheaders_file = \"secret/headers\"\n"),
        ),
        ("secret/headers", "# token for the hook\nAuthorization: Bearer abc\n"),
    ]);
    let config = folder.load().expect("config should load");
    let ReceiverKind::Webhook { headers, .. } = &config.receivers[0].kind else {
        panic!("not a webhook")
    };
    assert_eq!(
        headers,
        &vec![(String::from("Authorization"), String::from("Bearer abc"))]
    );
}

#[test]
fn url_file_supplies_webhook_url() {
    let folder = Folder::new(&[
        (
            "andon.toml",
            &format!("{TARGET}[[receiver]]\nname = \"hook\"\nkind = \"webhook\"\nurl_file = \"hook-url\"\n"),
        ),
        ("hook-url", "http://127.0.0.1:9095/secret-path\n"),
    ]);
    let config = folder.load().expect("config should load");
    let ReceiverKind::Webhook { url, .. } = &config.receivers[0].kind else {
        panic!("not a webhook")
    };
    assert_eq!(url, "http://127.0.0.1:9095/secret-path");
}

// One fixture with many mistakes.

#[test]
fn many_errors_are_all_reported() {
    let errors = load(Path::new("tests/fixtures/config/many-errors.toml"))
        .expect_err("fixture should be invalid")
        .0;
    let main = "tests/fixtures/config/many-errors.toml";
    let rules = "tests/fixtures/config/many-errors-rules.toml";
    let found: Vec<(&str, usize, usize)> = errors
        .iter()
        .map(|e| (e.file.as_str(), e.line, e.column))
        .collect();
    let expected = vec![
        (main, 3, 1),    // unknown key scrape_intervall
        (main, 4, 23),   // duration without unit
        (main, 5, 18),   // integer for a duration
        (main, 6, 19),   // unknown size unit
        (main, 7, 41),   // missing rule file
        (main, 11, 7),   // URL without http scheme
        (main, 14, 8),   // duplicate target name
        (main, 16, 19),  // unknown fallback_format
        (main, 18, 1),   // target without url
        (main, 27, 8),   // duplicate receiver name
        (main, 31, 17),  // unknown tier
        (main, 32, 14),  // unknown receiver
        (rules, 6, 17),  // tiers out of order
        (rules, 12, 17), // above mixed with below
        (rules, 17, 36), // clear threshold above the trigger
        (rules, 21, 12), // unparsable PromQL, at the unclosed parenthesis
        (rules, 24, 1),  // rule without tier
        (rules, 29, 8),  // duplicate rule name
        (rules, 31, 26), // bad duration
    ];
    assert_eq!(found, expected, "{errors:#?}");
}

#[test]
fn many_errors_render_with_carets() {
    let errors = load(Path::new("tests/fixtures/config/many-errors.toml"))
        .expect_err("fixture should be invalid");
    let rendered = render_errors(&errors);
    assert!(
        rendered.contains("4 | evaluation_interval = \"15\""),
        "{rendered}"
    );
    assert!(
        rendered.contains("\n  |                       ^\n"),
        "{rendered}"
    );
    assert!(
        rendered.ends_with("19 errors in tests/fixtures/config/many-errors.toml, tests/fixtures/config/many-errors-rules.toml\n"),
        "{rendered}"
    );
}

// One test per kind of mistake: position and a quote of the bad value.

#[test]
fn syntax_error_has_position() {
    let error = only(main_errors("[global]\nscrape_interval = 15s\n"));
    assert_eq!(position(&error), (2, 19));
    assert!(error.message.contains("invalid TOML"), "{}", error.message);
}

#[test]
fn duplicate_toml_key_is_syntax_error() {
    let error = only(main_errors(&format!("{TARGET}name = \"again\"\n")));
    assert_eq!(position(&error), (4, 1));
    assert!(error.message.contains("\"name\""), "{}", error.message);
}

#[test]
fn unknown_key_suggests_closest() {
    let error = only(main_errors(&format!("{TARGET}timout = \"5s\"\n")));
    assert_eq!(position(&error), (4, 1));
    assert!(error.message.contains("\"timout\""), "{}", error.message);
    assert!(
        error.message.contains("did you mean \"timeout\"?"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("allowed keys are name, url, labels"),
        "{}",
        error.message
    );
}

#[test]
fn global_key_at_top_level_is_reported() {
    let error = only(main_errors(&format!("rule_files = []\n{TARGET}")));
    assert_eq!(position(&error), (1, 1));
    assert!(
        error.message.contains("\"rule_files\" belongs in [global]"),
        "{}",
        error.message
    );
}

#[test]
fn rule_in_main_file_is_reported() {
    let error = only(main_errors(&format!("{TARGET}[[rule]]\nname = \"r\"\n")));
    assert_eq!(position(&error), (4, 3));
    assert!(
        error.message.contains("belong in a rule file"),
        "{}",
        error.message
    );
}

#[test]
fn swapped_letters_get_suggestion() {
    let error = only(rule_errors(
        "[[rule]]\nname = \"r\"\nexpr = 'up'\nred = { above = 1, fro = \"5s\" }\n",
    ));
    assert_eq!(position(&error), (4, 20));
    assert!(
        error.message.contains("did you mean \"for\"?"),
        "{}",
        error.message
    );
}

#[test]
fn unknown_rule_key_is_reported() {
    let error = only(rule_errors(
        "[[rule]]\nname = \"r\"\nexpr = 'up'\nsevere = { above = 1 }\nred = { above = 1 }\n",
    ));
    assert_eq!(position(&error), (4, 1));
    assert!(error.message.contains("\"severe\""), "{}", error.message);
}

#[test]
fn missing_required_key_points_at_table() {
    let error = only(main_errors(
        "[[target]]\nurl = \"http://127.0.0.1:8080/metrics\"\n",
    ));
    assert_eq!(position(&error), (1, 1));
    assert!(
        error.message.contains("missing required key \"name\""),
        "{}",
        error.message
    );
}

#[test]
fn missing_expr_is_reported() {
    let error = only(rule_errors("[[rule]]\nname = \"r\"\nred = { above = 1 }\n"));
    assert_eq!(position(&error), (1, 1));
    assert!(error.message.contains("\"expr\""), "{}", error.message);
}

#[test]
fn config_without_target_is_reported() {
    let error = only(main_errors("[global]\nscrape_interval = \"15s\"\n"));
    assert_eq!(position(&error), (1, 1));
    assert!(error.message.contains("[[target]]"), "{}", error.message);
}

#[test]
fn wrong_type_quotes_value() {
    let error = only(main_errors(&format!(
        "[global]\nscrape_interval = 15\n{TARGET}"
    )));
    assert_eq!(position(&error), (2, 19));
    assert!(
        error.message.contains("found integer 15"),
        "{}",
        error.message
    );
}

#[test]
fn wrong_threshold_type_quotes_value() {
    let error = only(rule_errors(
        "[[rule]]\nname = \"r\"\nexpr = 'up'\nred = { above = \"high\" }\n",
    ));
    assert_eq!(position(&error), (4, 17));
    assert!(error.message.contains("\"high\""), "{}", error.message);
}

#[test]
fn bad_duration_quotes_value() {
    let error = only(main_errors(&format!(
        "[global]\nscrape_interval = \"1.5m\"\n{TARGET}"
    )));
    assert_eq!(position(&error), (2, 19));
    assert!(error.message.contains("\"1.5m\""), "{}", error.message);
}

#[test]
fn zero_interval_is_rejected() {
    let error = only(main_errors(&format!(
        "[global]\nscrape_interval = \"0s\"\n{TARGET}"
    )));
    assert_eq!(position(&error), (2, 19));
    assert!(
        error.message.contains("\"scrape_interval\""),
        "{}",
        error.message
    );
}

#[test]
fn bad_size_quotes_value() {
    let error = only(main_errors(&format!(
        "{TARGET}body_size_limit = \"16 megabytes\"\n"
    )));
    assert_eq!(position(&error), (4, 19));
    assert!(
        error.message.contains("\"16 megabytes\""),
        "{}",
        error.message
    );
}

#[test]
fn timeout_above_interval_is_rejected() {
    let error = only(main_errors(&format!("{TARGET}timeout = \"20s\"\n")));
    assert_eq!(position(&error), (4, 11));
    assert!(error.message.contains("\"20s\""), "{}", error.message);
}

#[test]
fn tiers_out_of_order_above() {
    let error = only(rule_errors("[[rule]]\nname = \"r\"\nexpr = 'up'\nyellow = { above = 5 }\nred = { above = 9 }\nemergency = { above = 7 }\n"));
    assert_eq!(position(&error), (6, 23));
    assert!(
        error
            .message
            .contains("trigger 7 must be greater than tier \"red\" trigger 9"),
        "{}",
        error.message
    );
}

#[test]
fn tiers_out_of_order_below() {
    let error = only(rule_errors(
        "[[rule]]\nname = \"r\"\nexpr = 'free'\nyellow = { below = 5 }\nred = { below = 9 }\n",
    ));
    assert_eq!(position(&error), (5, 17));
    assert!(
        error.message.contains("trigger 9 must be less than"),
        "{}",
        error.message
    );
}

#[test]
fn mixed_directions_are_rejected() {
    let error = only(rule_errors(
        "[[rule]]\nname = \"r\"\nexpr = 'up'\nyellow = { above = 1 }\nred = { below = 0 }\n",
    ));
    assert_eq!(position(&error), (5, 17));
    assert!(
        error.message.contains("tier \"red\" uses \"below\""),
        "{}",
        error.message
    );
}

#[test]
fn above_and_below_in_one_tier_are_rejected() {
    let error = only(rule_errors(
        "[[rule]]\nname = \"r\"\nexpr = 'up'\nred = { above = 1, below = 0 }\n",
    ));
    assert_eq!(position(&error), (4, 28));
    assert!(
        error.message.contains("both \"above\" and \"below\""),
        "{}",
        error.message
    );
}

#[test]
fn clear_on_wrong_side_above() {
    let error = only(rule_errors(
        "[[rule]]\nname = \"r\"\nexpr = 'up'\nred = { above = 10, clear_below = 12 }\n",
    ));
    assert_eq!(position(&error), (4, 35));
    assert!(
        error.message.contains("clear_below = 12"),
        "{}",
        error.message
    );
}

#[test]
fn clear_on_wrong_side_below() {
    let error = only(rule_errors(
        "[[rule]]\nname = \"r\"\nexpr = 'free'\nred = { below = 10, clear_above = 8 }\n",
    ));
    assert_eq!(position(&error), (4, 35));
    assert!(
        error.message.contains("clear_above = 8"),
        "{}",
        error.message
    );
}

#[test]
fn clear_key_of_other_direction_is_rejected() {
    let error = only(rule_errors(
        "[[rule]]\nname = \"r\"\nexpr = 'up'\nred = { above = 10, clear_above = 8 }\n",
    ));
    assert_eq!(position(&error), (4, 21));
    assert!(
        error.message.contains("use \"clear_below\""),
        "{}",
        error.message
    );
}

#[test]
fn unparsable_promql_quotes_expression() {
    let error = only(rule_errors(
        "[[rule]]\nname = \"r\"\nexpr = 'rate(x[1m]'\nred = { above = 1 }\n",
    ));
    // The column of the unclosed parenthesis inside the expression.
    assert_eq!(position(&error), (3, 13));
    assert!(
        error.message.contains("\"rate(x[1m]\""),
        "{}",
        error.message
    );
}

#[test]
fn unknown_receiver_in_route() {
    let text = format!("{TARGET}[[receiver]]\nname = \"pager\"\nkind = \"stdout\"\n\n[[route]]\nreceivers = [\"pagr\"]\n");
    let error = only(main_errors(&text));
    assert_eq!(position(&error), (9, 14));
    assert!(
        error.message.contains("unknown receiver \"pagr\""),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("did you mean \"pager\"?"),
        "{}",
        error.message
    );
}

#[test]
fn duplicate_rule_name_in_file() {
    let error = only(rule_errors("[[rule]]\nname = \"r\"\nexpr = 'up'\nred = { above = 1 }\n\n[[rule]]\nname = \"r\"\nexpr = 'up'\nred = { above = 1 }\n"));
    assert_eq!(position(&error), (7, 8));
    assert!(
        error.message.contains("duplicate rule name \"r\""),
        "{}",
        error.message
    );
}

#[test]
fn duplicate_rule_name_across_files() {
    let rule = "[[rule]]\nname = \"Same\"\nexpr = 'up'\nred = { above = 1 }\n";
    let folder = Folder::new(&[
        (
            "andon.toml",
            &format!("[global]\nrule_files = [\"a.toml\", \"b.toml\"]\n{TARGET}"),
        ),
        ("a.toml", rule),
        ("b.toml", &format!("# second file\n{rule}")),
    ]);
    let error = only(folder.load().expect_err("config should be invalid").0);
    assert_eq!(error.file, folder.path("b.toml").display().to_string());
    assert_eq!(position(&error), (3, 8));
    assert!(error.message.contains("\"Same\""), "{}", error.message);
}

#[test]
fn duplicate_target_name() {
    let error = only(main_errors(&format!("{TARGET}\n{TARGET}")));
    assert_eq!(position(&error), (6, 8));
    assert!(
        error.message.contains("duplicate target name \"api\""),
        "{}",
        error.message
    );
}

#[test]
fn duplicate_receiver_name() {
    let receiver = "[[receiver]]\nname = \"log\"\nkind = \"stdout\"\n";
    let error = only(main_errors(&format!("{TARGET}{receiver}{receiver}")));
    assert_eq!(position(&error), (8, 8));
    assert!(
        error.message.contains("duplicate receiver name \"log\""),
        "{}",
        error.message
    );
}

#[test]
fn rule_without_tier() {
    let error = only(rule_errors(
        "# comment\n[[rule]]\nname = \"r\"\nexpr = 'up'\n",
    ));
    assert_eq!(position(&error), (2, 1));
    assert!(
        error.message.contains("rule \"r\" has no tier"),
        "{}",
        error.message
    );
}

#[test]
fn invalid_url_quotes_value() {
    let error = only(main_errors(
        "[[target]]\nname = \"api\"\nurl = \"ftp://127.0.0.1/metrics\"\n",
    ));
    assert_eq!(position(&error), (3, 7));
    assert!(
        error.message.contains("\"ftp://127.0.0.1/metrics\""),
        "{}",
        error.message
    );
}

#[test]
fn missing_rule_file_points_at_entry() {
    let error = only(main_errors(&format!(
        "[global]\nrule_files = [\"rules/none.toml\"]\n{TARGET}"
    )));
    assert_eq!(position(&error), (2, 15));
    assert!(
        error.message.contains("\"rules/none.toml\""),
        "{}",
        error.message
    );
}

#[test]
fn unset_env_variable_is_named() {
    let text = format!("{TARGET}[[receiver]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:1/x\"\nheaders = {{ Authorization = \"Bearer ${{ANDON_TEST_VARIABLE_NEVER_SET}}\" }}\n");
    let error = only(main_errors(&text));
    assert_eq!(position(&error), (8, 29));
    assert!(
        error
            .message
            .contains("\"ANDON_TEST_VARIABLE_NEVER_SET\" is not set"),
        "{}",
        error.message
    );
}

#[test]
fn header_error_hides_secret_value() {
    let folder = Folder::new(&[
        (
            "andon.toml",
            &format!("{TARGET}[[receiver]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:1/x\"\nheaders_file = \"headers\"\n"),
        ),
        ("headers", "Bad Header: s3cret-token\n"),
    ]);
    let error = only(folder.load().expect_err("config should be invalid").0);
    assert_eq!(position(&error), (8, 16));
    assert!(
        error.message.contains("\"Bad Header\""),
        "{}",
        error.message
    );
    assert!(!error.message.contains("s3cret"), "{}", error.message);
}

#[test]
fn bad_on_missing_quotes_value() {
    let error = only(rule_errors(
        "[[rule]]\nname = \"r\"\nexpr = 'up'\non_missing = \"ignore\"\nred = { above = 1 }\n",
    ));
    assert_eq!(position(&error), (4, 14));
    assert!(error.message.contains("\"ignore\""), "{}", error.message);
}

#[test]
fn bad_hysteresis_quotes_value() {
    let error = only(rule_errors(
        "[[rule]]\nname = \"r\"\nexpr = 'up'\nhysteresis = \"ten%\"\nred = { above = 1 }\n",
    ));
    assert_eq!(position(&error), (4, 14));
    assert!(error.message.contains("\"ten%\""), "{}", error.message);
}

#[test]
fn unreadable_config_has_no_position() {
    let error = only(
        load(Path::new("tests/fixtures/config/does-not-exist.toml"))
            .expect_err("missing file")
            .0,
    );
    assert_eq!(
        error.to_string().split(':').next(),
        Some("tests/fixtures/config/does-not-exist.toml")
    );
    assert_eq!(position(&error), (0, 0));
}

// Robustness: no input makes the loader panic.

proptest::proptest! {
    #[test]
    fn edited_rule_file_never_panics(cut in 0usize..4000, insert in "[ -~\\n\u{e9}]{0,12}") {
        let text = std::fs::read_to_string("rules/erlmcp.toml").expect("read rules/erlmcp.toml");
        let mut at = cut.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let edited = format!("{}{insert}{}", &text[..at], &text[at..]);
        let _ = load_rules_str(Path::new("rules.toml"), &edited);
    }

    #[test]
    fn edited_config_never_panics(cut in 0usize..3000, insert in "[ -~\\n]{0,12}") {
        let text = std::fs::read_to_string("examples/andon.toml").expect("read examples/andon.toml");
        let mut at = cut.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let edited = format!("{}{insert}{}", &text[..at], &text[at..]);
        let folder = Folder::new(&[("andon.toml", &edited)]);
        if let Err(errors) = folder.load() {
            let _ = render_errors(&errors);
        }
    }
}

#[test]
fn hysteresis_wider_than_trigger_is_rejected() {
    let error = only(rule_errors(
        "[[rule]]\nname = \"r\"\nexpr = 'up'\nhysteresis = 20\nyellow = { above = 10 }\n",
    ));
    assert_eq!(position(&error), (5, 20));
    assert!(error.message.contains("\"20%\""), "{}", error.message);
}

#[test]
fn bad_receiver_is_not_also_unknown() {
    let errors = main_errors(
        "[[target]]\nname = \"t\"\nurl = \"http://127.0.0.1:1/metrics\"\n\n[[receiver]]\nname = \"oncall\"\nkind = \"slack\"\n\n[[route]]\nreceivers = [\"oncall\"]\n",
    );
    let error = only(errors);
    assert!(error.message.contains("unknown receiver kind"), "{}", error.message);
}

#[test]
fn url_credentials_with_authorization_header_rejected() {
    let config = format!(
        "{TARGET}\n[[receiver]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://u:p@127.0.0.1:1/hook\"\nheaders = {{ Authorization = \"Bearer x\" }}\n"
    );
    let error = only(main_errors(&config));
    assert!(error.message.contains("keep one"), "{}", error.message);
}

#[test]
fn hysteresis_wider_than_below_trigger_is_rejected() {
    let error = only(rule_errors(
        "[[rule]]\nname = \"r\"\nexpr = 'up'\nhysteresis = 20\nyellow = { below = 0.1 }\n",
    ));
    assert!(error.message.contains("\"20%\""), "{}", error.message);
}
