//! The `qlint` binary: parses arguments, calls the library, maps the outcome to an exit code.

mod cli;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;

use cli::{Cli, ColorChoice, Format, Level};
use qlint::analysis::fusion::OrtVersion;
use qlint::analysis::paddle2onnx::Paddle2OnnxVersion;
use qlint::host::CpuTarget;
use qlint::lint::{LintOptions, lint};
use qlint::report::{self, Severity};
use qlint::rules::{self, Config, RuleSet};
use qlint::runtime::protocol::WORKER_ARG;
use qlint::runtime::{self, RuntimeJob, RuntimeOptions, worker};

/// Findings at or above `--fail-on`.
const EXIT_FINDINGS: u8 = 1;
/// Usage, config or input errors.
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    // The ONNX Runtime worker is this binary started with a hidden first argument; it speaks
    // JSON on its standard streams and takes no other arguments.
    if std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new(WORKER_ARG)) {
        return ExitCode::from(worker::serve(
            &mut io::stdin().lock(),
            &mut io::stdout().lock(),
        ));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        // A closed pipe (`qlint ... | head`) is the reader's choice, not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qlint: error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

fn run(cli: &Cli) -> Result<u8> {
    let config = load_config(cli)?;
    let rules = load_rules(cli, &config)?;
    let stdout = io::stdout();
    if cli.list_rules {
        let text = match cli.format {
            Format::Json => rules::docs::list_json(&rules),
            _ => rules::docs::list(&rules, !stdout.is_terminal()),
        };
        stdout.lock().write_all(text.as_bytes())?;
        return Ok(0);
    }
    if cli.list_facts {
        let ascii = !stdout.is_terminal();
        stdout
            .lock()
            .write_all(rules::docs::list_facts(ascii).as_bytes())?;
        return Ok(0);
    }
    if let Some(code) = &cli.explain {
        let rule = rules.find(code).ok_or_else(|| {
            anyhow!("unknown rule code `{code}`: run `qlint --list-rules` to see every code")
        })?;
        stdout
            .lock()
            .write_all(rules::docs::explain(rule).as_bytes())?;
        return Ok(0);
    }
    let runtime_job = cli.runtime_job()?;
    if cli.paths.is_empty() && cli.optimized.is_empty() && runtime_job.is_none() {
        bail!("no input: pass a model file or directory, or --optimized FILE (see qlint --help)");
    }
    let cpu = match (&cli.target_cpu, &config.target_cpu) {
        (Some(spec), _) => {
            CpuTarget::parse(spec).map_err(|e| anyhow!("invalid --target-cpu: {e}"))?
        }
        (None, Some(spec)) => CpuTarget::parse(spec)
            .map_err(|e| anyhow!("{}: invalid target-cpu: {e}", config_name(&config)))?,
        (None, None) => CpuTarget::host(),
    };
    // Lists on the command line replace the config's lists rather than add to them.
    let select = if cli.select.is_empty() {
        config.select.clone()
    } else {
        cli.select.clone()
    };
    let ignore = if cli.ignore.is_empty() {
        config.ignore.clone()
    } else {
        cli.ignore.clone()
    };
    check_prefixes(&rules, &select, "--select")?;
    check_prefixes(&rules, &ignore, "--ignore")?;
    let provider = cli.provider.clone().or(config.provider.clone());
    let paddle2onnx = match &cli.paddle2onnx_version {
        Some(text) => Paddle2OnnxVersion::parse(text)
            .map_err(|e| anyhow!("invalid --paddle2onnx-version: {e}"))?,
        None => config.paddle2onnx_version.clone().unwrap_or_default(),
    };
    let ort_version = match &cli.ort_version {
        Some(text) => OrtVersion::parse(text).map_err(|e| anyhow!("invalid --ort-version: {e}"))?,
        None => config.ort_version.clone().unwrap_or_default(),
    };
    let options = LintOptions {
        paths: cli.paths.clone(),
        optimized: cli.optimized.clone(),
        cpu,
        provider: provider.unwrap_or_else(|| "cpu".into()),
        select,
        ignore,
        paddle2onnx,
        ort_version,
    };
    let report = match runtime_job {
        Some(job) => run_runtime(cli, &rules, &options, job)?,
        None => lint(&rules, &options),
    };
    write_report(cli, &report)?;
    let fail_on = match cli.fail_on {
        Some(Level::Info) => Severity::Info,
        Some(Level::Warning) => Severity::Warning,
        Some(Level::Error) => Severity::Error,
        None => config.fail_on.unwrap_or(Severity::Error),
    };
    Ok(exit_code(&report, fail_on))
}

/// Runs an `--optimize`, `--compare` or `--bench` job in a worker process started from this
/// binary, and lints with its results.
fn run_runtime(
    cli: &Cli,
    rules: &RuleSet,
    options: &LintOptions,
    job: RuntimeJob,
) -> Result<report::Report> {
    let worker = std::env::current_exe()
        .context("cannot find the qlint binary to start the ONNX Runtime worker")?;
    let runtime_options = RuntimeOptions {
        job,
        worker,
        timeout: Duration::from_secs(cli.timeout),
        progress: true,
    };
    Ok(runtime::run(rules, options, &runtime_options))
}

/// 2 when an input could not be read (even with findings), else 1 when a finding is at or
/// above `fail_on`, else 0.
fn exit_code(report: &report::Report, fail_on: Severity) -> u8 {
    if report.has_errors() {
        EXIT_ERROR
    } else if report.max_severity().is_some_and(|s| s >= fail_on) {
        EXIT_FINDINGS
    } else {
        0
    }
}

/// Rejects a code prefix that matches no rule, since a typo would silently run nothing.
fn check_prefixes(rules: &RuleSet, prefixes: &[String], option: &str) -> Result<()> {
    for prefix in prefixes {
        let wanted = prefix.trim().to_ascii_uppercase();
        if wanted.is_empty() || !rules.rules.iter().any(|r| r.code.starts_with(&wanted)) {
            bail!(
                "{option} `{prefix}` matches no rule code: run `qlint --list-rules` to see every code"
            );
        }
    }
    Ok(())
}

fn config_name(config: &Config) -> String {
    config
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| ".qlint.yaml".into())
}

fn load_config(cli: &Cli) -> Result<Config> {
    if cli.no_config {
        return Ok(Config::default());
    }
    let path: Option<PathBuf> = match &cli.config {
        Some(path) => Some(path.clone()),
        None => std::env::current_dir()
            .ok()
            .and_then(|dir| rules::find_config(&dir)),
    };
    match path {
        Some(path) => Ok(rules::load_config(&path)?),
        None => Ok(Config::default()),
    }
}

fn load_rules(cli: &Cli, config: &Config) -> Result<RuleSet> {
    let packs: Vec<PathBuf> = config
        .rules
        .iter()
        .chain(&cli.rule_packs)
        .cloned()
        .collect();
    let mut rules = RuleSet::with_extra_packs(&packs)?;
    for (name, value) in &config.thresholds {
        rules
            .set_threshold(name, *value)
            .map_err(|e| anyhow!("{}: {e}", config_name(config)))?;
    }
    for (code, level) in &config.severity {
        rules
            .set_severity(code, *level)
            .map_err(|e| anyhow!("{}: {e}", config_name(config)))?;
    }
    let entries = cli.severity.iter().flat_map(|s| s.split(','));
    for entry in entries.filter(|s| !s.trim().is_empty()) {
        let (code, level) = entry
            .split_once('=')
            .ok_or_else(|| anyhow!("invalid --severity `{entry}`: expected CODE=LEVEL"))?;
        let level: Severity = level
            .trim()
            .parse()
            .map_err(|e| anyhow!("--severity: {e}"))?;
        rules
            .set_severity(code.trim(), level)
            .map_err(|e| anyhow!("--severity: {e}"))?;
    }
    Ok(rules)
}

fn write_report(cli: &Cli, report: &report::Report) -> Result<()> {
    let to_terminal = cli.output.is_none() && io::stdout().is_terminal();
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none(),
    };
    let renderer = report::renderer(cli.format.as_str(), color)
        .ok_or_else(|| anyhow!("unsupported format `{}`", cli.format.as_str()))?;
    match &cli.output {
        Some(path) => {
            let file = File::create(path)
                .with_context(|| format!("cannot write report to {}", path.display()))?;
            let mut out = BufWriter::new(file);
            renderer.render(report, &mut out)?;
            out.flush()?;
        }
        None => {
            let mut out = io::stdout().lock();
            renderer.render(report, &mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}
