//! Command-line definitions (clap).

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Lint quantized PaddlePaddle and ONNX models before they reach ONNX Runtime's int8 CPU
/// kernels.
///
/// Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it; 2 a usage,
/// config or input error (findings are still reported).
#[derive(Debug, Parser)]
#[command(name = "qlint", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  qlint model_dir\n  qlint model.onnx --target-cpu skylake-sp\n  qlint --optimized optimize_model.onnx\n  qlint --explain QL302"
)]
pub struct Cli {
    /// Paddle model directories or program files, ONNX files, or directories to search.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Lint FILE as a graph that ONNX Runtime already optimized (repeatable).
    #[arg(long, value_name = "FILE")]
    pub optimized: Vec<PathBuf>,

    /// List every rule with its code, name, default severity and stages.
    #[arg(long)]
    pub list_rules: bool,

    /// List every fact that rules can read, with its scope and meaning.
    #[arg(long)]
    pub list_facts: bool,

    /// Print a rule's summary, why, fix, example and known problems.
    #[arg(long, value_name = "CODE")]
    pub explain: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Lowest severity that makes qlint exit with 1 [default: error, or the config's fail-on].
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<Level>,

    /// Run only rules whose code starts with one of these prefixes (QL3 selects every QL3xx).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub select: Vec<String>,

    /// Skip rules whose code starts with one of these prefixes.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub ignore: Vec<String>,

    /// Override rule severities, as CODE=LEVEL[,CODE=LEVEL...] (repeatable).
    #[arg(long, value_name = "CODE=LEVEL")]
    pub severity: Vec<String>,

    /// Deployment CPU: host, a profile (haswell, skylake-sp, cascadelake, icelake-server,
    /// sapphirerapids, alderlake, zen2, zen3, zen4), or /proc/cpuinfo flags such as
    /// avx2,avx512_vnni [default: host, or the config's target-cpu].
    #[arg(long, value_name = "CPU")]
    pub target_cpu: Option<String>,

    /// Execution provider the model will run on: cpu, cuda, tensorrt, openvino, dml, ...
    /// [default: cpu, or the config's provider].
    #[arg(long, value_name = "EP")]
    pub provider: Option<String>,

    /// Paddle2ONNX release that Paddle programs are judged for (QL108): 1.0.6, 1.2.0 to
    /// 1.2.11, 1.3.1 or 2.1.0 [default: 1.3.1, or the config's paddle2onnx-version].
    #[arg(long, value_name = "X.Y.Z")]
    pub paddle2onnx_version: Option<String>,

    /// Config file [default: the nearest .qlint.yaml from the current directory upward].
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,

    /// Ignore .qlint.yaml files.
    #[arg(long)]
    pub no_config: bool,

    /// Add a rule pack (repeatable); its rules run with the built-in ones.
    #[arg(long = "rules", value_name = "FILE")]
    pub rule_packs: Vec<PathBuf>,

    /// When to color text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Github,
    Junit,
}

impl Format {
    /// The name the report module uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Github => "github",
            Format::Junit => "junit",
        }
    }
}

/// Severity levels for `--fail-on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// Color modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
