//! The `andon` command line: parses arguments, sets up logging, calls the
//! library and maps the outcome to an exit code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use andon::clock::SystemClock;
use andon::config;

#[derive(Parser)]
#[command(name = "andon", version, about = "Alerting sidecar: scrapes Prometheus metrics, evaluates tiered rules, pages on every change of tier")]
struct Cli {
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct CheckArgs {
    #[command(subcommand)]
    what: Option<CheckWhat>,
    /// The config file to check.
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum CheckWhat {
    /// Parse a metrics body as a scrape would; print every sample in a
    /// normalized form and every problem as line:column.
    Metrics {
        /// Exposition format of the body.
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
        /// The body to check; standard input when absent.
        file: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    Openmetrics,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: scrape targets, evaluate rules, send notifications.
    Run {
        /// The config file.
        #[arg(long, short, default_value = "andon.toml")]
        config: PathBuf,
    },
    /// Check a config file and every rule file it names, or a metrics body
    /// (`andon check metrics`); exit 1 on any error.
    Check(CheckArgs),
    /// Run Prometheus rule unit-test files through andon's evaluator; exit 1
    /// on any failure.
    Test {
        /// Read the files as `promtool test rules` files and run their
        /// `promql_expr_test` entries.
        #[arg(long, required = true)]
        promtool: bool,
        /// Rule unit-test files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Replay a simulated load test against the default rules and print
    /// every transition.
    Demo {
        /// Profile seconds per real second; the 900-second profile takes
        /// 90 s at the default of 10.
        #[arg(long, default_value_t = 10.0)]
        speed: f64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo prints every transition itself; its logs would repeat them.
    let default_level = if matches!(cli.command, Command::Demo { .. }) { "warn" } else { "info" };
    init_tracing(cli.log_format, default_level);
    match cli.command {
        Command::Run { config } => run(config),
        Command::Check(CheckArgs { what: Some(CheckWhat::Metrics { format, file }), .. }) => check_metrics(format, file),
        Command::Check(CheckArgs { config: Some(config), .. }) => check(&config),
        Command::Check(_) => {
            eprintln!("error: name a config file (`andon check andon.toml`) or use `andon check metrics [FILE]`");
            ExitCode::from(2)
        }
        Command::Demo { speed } => demo(speed),
        Command::Test { promtool: _, files } => test_promtool(&files),
    }
}

fn init_tracing(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ANDON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: could not start the async runtime: {err}");
            std::process::exit(1);
        }
    }
}

fn run(path: PathBuf) -> ExitCode {
    let config = match config::load(&path) {
        Ok(config) => config,
        Err(errors) => {
            eprint!("{}", config::render_errors(&errors));
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime().block_on(andon::daemon::run(
        config,
        Arc::new(SystemClock),
        andon::daemon::Options::default(),
        shutdown_signal(),
    ));
    report(outcome)
}

fn check(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(config) => {
            for warning in andon::daemon::rule_warnings(&config) {
                eprintln!("warning: {warning}");
            }
            println!(
                "{}: ok ({}, {}, {}, {})",
                path.display(),
                count(config.targets.len(), "target"),
                count(config.rules.len(), "rule"),
                count(config.receivers.len(), "receiver"),
                count(config.routes.len(), "route")
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprint!("{}", config::render_errors(&errors));
            ExitCode::FAILURE
        }
    }
}

fn test_promtool(files: &[PathBuf]) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match andon::ruletest::promtool::run_files(files, &mut stdout) {
        Ok(summary) if summary.is_success() => {
            if summary.unsupported > 0 {
                eprintln!("warning: {} test entries were skipped because andon does not run them yet (listed above)", summary.unsupported);
            }
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn check_metrics(format: FormatArg, file: Option<PathBuf>) -> ExitCode {
    use std::io::Read as _;

    let (name, body) = match &file {
        Some(path) => (path.display().to_string(), std::fs::read(path)),
        None => {
            let mut body = Vec::new();
            ("standard input".to_owned(), std::io::stdin().read_to_end(&mut body).map(|_| body))
        }
    };
    let body = match body {
        Ok(body) => body,
        Err(err) => {
            eprintln!("error: could not read {name}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let format = match format {
        FormatArg::Text => andon::exposition::Format::Text,
        FormatArg::Openmetrics => andon::exposition::Format::OpenMetrics,
    };
    let (listing, valid) = andon::exposition::check_metrics(&body, format);
    print!("{listing}");
    if valid {
        ExitCode::SUCCESS
    } else {
        eprintln!("{name}: invalid {format:?} exposition; problems are listed as line:column");
        ExitCode::FAILURE
    }
}

/// Formats `n` with `noun`, plural unless `n` is 1.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn demo(speed: f64) -> ExitCode {
    report(runtime().block_on(andon::demo::run(speed, shutdown_signal())))
}

fn report<E: std::fmt::Display>(outcome: Result<(), E>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        // Without a handler SIGHUP would end the process at once, skipping
        // the drain of queued notifications.
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        tokio::pin!(interrupt);
        loop {
            tokio::select! {
                _ = &mut interrupt => return,
                _ = terminate.recv() => return,
                Some(()) = async { hangup.as_mut()?.recv().await } => {
                    tracing::warn!("SIGHUP received: reloading the config is not supported yet; restart andon to apply changes");
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
