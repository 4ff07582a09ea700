//! `andon demo`: a simulated erlmcp server replays a load test while the
//! real daemon watches it with the default rules and prints every
//! transition.

pub mod profile;
mod sim;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, ScaledClock};
use crate::config::{self, Config, Global, Receiver, ReceiverKind, Target};
use crate::daemon;
use crate::exposition::Format;
use crate::labels::Labels;

pub use sim::Simulator;

/// The default rules, built into the binary so the demo needs no files.
pub const ERLMCP_RULES: &str = include_str!("../../rules/erlmcp.toml");

/// An error that stops the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("built-in rules are invalid:\n{0}")]
    Rules(String),
    #[error("could not start the simulated server: {0}")]
    Listen(#[from] std::io::Error),
    #[error(transparent)]
    Daemon(#[from] daemon::DaemonError),
    #[error("--speed must be a number of profile seconds per real second above 0 and at most 100, got {0}")]
    Speed(f64),
}

/// Runs the demo at `speed` times real time until the profile ends or
/// `shutdown` completes.
pub async fn run(speed: f64, shutdown: impl Future<Output = ()>) -> Result<(), DemoError> {
    // Above 100x the 1-second scrape interval drops below 10 ms of real
    // time, and scrapes and evaluations no longer keep up with the clock.
    if !(speed.is_finite() && speed > 0.0 && speed <= 100.0) {
        return Err(DemoError::Speed(speed));
    }
    let rules_path = PathBuf::from("rules/erlmcp.toml");
    let rules = config::load_rules_str(&rules_path, ERLMCP_RULES)
        .map_err(|errors| DemoError::Rules(config::render_errors(&errors)))?;

    let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(crate::clock::system_now_ms(), speed));
    let simulator = Arc::new(Simulator::new(clock.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = axum::serve(listener, sim::router(simulator.clone()));
    tokio::spawn(async move { server.await });

    let real_length = Duration::from_secs_f64(profile::DURATION_SECONDS / speed);
    println!(
        "andon demo: a simulated erlmcp server on http://{address}/metrics replays a load test \
         ({} profile seconds at {speed}x, about {} s); rules: {}",
        profile::DURATION_SECONDS,
        real_length.as_secs(),
        rules_path.display()
    );

    let config = demo_config(format!("http://{address}/metrics"), rules, simulator.start_ms());
    let phases = print_phases(simulator.clone());
    let ended = async move {
        tokio::select! {
            _ = shutdown => {}
            _ = tokio::time::sleep(real_length) => {}
        }
    };
    let options = daemon::Options { jitter: false, ..daemon::Options::default() };
    let result = daemon::run(config, clock, options, ended).await;
    phases.abort();
    result?;
    println!("andon demo: profile finished");
    Ok(())
}

/// Prints a line whenever the profile enters a new phase.
fn print_phases(simulator: Arc<Simulator>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = "";
        loop {
            let phase = profile::phase_at(simulator.profile_seconds());
            if phase != last {
                let time = crate::notify::stdout_offset((simulator.profile_seconds() * 1000.0) as i64);
                println!("{time} == load test phase: {phase} ==");
                last = phase;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

fn demo_config(url: String, rules: Vec<config::Rule>, origin_ms: i64) -> Config {
    let global = Global {
        scrape_interval: Duration::from_secs(1),
        evaluation_interval: Duration::from_secs(1),
        scrape_timeout: Duration::from_secs(1),
        body_size_limit: 1 << 20,
        listen: "127.0.0.1:0".to_owned(),
        external_url: String::new(),
        target_down_after: Duration::from_secs(30),
        rule_files: vec![PathBuf::from("rules/erlmcp.toml")],
    };
    let target = Target {
        name: "erlmcp".to_owned(),
        url,
        labels: Labels::new(),
        timeout: Duration::from_secs(1),
        body_size_limit: 1 << 20,
        line_size_limit: 1 << 20,
        fallback_format: Format::Text,
    };
    Config {
        path: PathBuf::from("(built-in demo config)"),
        global,
        targets: vec![target],
        receivers: vec![Receiver { name: "stdout".to_owned(), kind: ReceiverKind::Stdout { origin_ms: Some(origin_ms) } }],
        routes: Vec::new(),
        rules,
    }
}
