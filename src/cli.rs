//! Command-line definitions (clap).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{ArgGroup, Parser, ValueEnum};
use qlint::runtime::RuntimeJob;
use qlint::runtime::inputs::parse_shape;
use qlint::runtime::protocol::{InputSpec, Level as OrtLevel};

/// Lint quantized PaddlePaddle and ONNX models before they reach ONNX Runtime's int8 CPU
/// kernels.
///
/// Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it; 2 a usage,
/// config or input error (findings are still reported).
#[derive(Debug, Parser)]
#[command(name = "qlint", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  qlint model_dir\n  qlint model.onnx --target-cpu skylake-sp\n  qlint --optimized optimize_model.onnx\n  qlint --optimize model.onnx --level extended --save-optimized model.opt.onnx\n  qlint --compare model.onnx --input x=batch.npy\n  qlint --bench model.int8.onnx --float-model model.float.onnx --threads 1\n  qlint --explain QL302"
)]
#[command(group(ArgGroup::new("ort").args(["optimize", "compare", "bench"])))]
#[command(group(ArgGroup::new("ort_inputs").args(["compare", "bench"])))]
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

    /// ONNX Runtime release that QDQ fusion is predicted for (QL203, QL204): 1.31 or 1.32
    /// [default: 1.31, the release --optimize loads, or the config's ort-version].
    #[arg(long, value_name = "X.Y")]
    pub ort_version: Option<String>,

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

    /// Optimize MODEL with ONNX Runtime (CPU execution provider), save the optimized model and
    /// lint both graphs.
    #[arg(long, value_name = "MODEL", help_heading = "ONNX Runtime")]
    pub optimize: Option<PathBuf>,

    /// Run MODEL at ORT_DISABLE_ALL and at --level on the same inputs and report how far each
    /// output moved (QL501).
    #[arg(long, value_name = "MODEL", help_heading = "ONNX Runtime")]
    pub compare: Option<PathBuf>,

    /// Time MODEL (and --float-model) in ONNX Runtime: p50 and p90 latency and the int8 speed-up
    /// (QL502).
    #[arg(long, value_name = "MODEL", help_heading = "ONNX Runtime")]
    pub bench: Option<PathBuf>,

    /// Graph optimization level for --optimize, --compare and --bench.
    #[arg(long, value_enum, default_value_t = OptLevel::All, help_heading = "ONNX Runtime")]
    pub level: OptLevel,

    /// Output file of --optimize [default: MODEL_STEM.ort_LEVEL.onnx in a new directory under
    /// the system's temporary directory, kept after qlint exits].
    #[arg(
        long,
        value_name = "PATH",
        requires = "optimize",
        help_heading = "ONNX Runtime"
    )]
    pub save_optimized: Option<PathBuf>,

    /// The float model that --bench compares the quantized MODEL with.
    #[arg(
        long,
        value_name = "FILE",
        requires = "bench",
        help_heading = "ONNX Runtime"
    )]
    pub float_model: Option<PathBuf>,

    /// Shape of a model input, as NAME=1x3x224x224 (repeatable) [default: the declared shape
    /// with every symbolic dimension set to 1].
    #[arg(
        long,
        value_name = "NAME=DIMS",
        requires = "ort_inputs",
        help_heading = "ONNX Runtime"
    )]
    pub shape: Vec<String>,

    /// Read a model input from a NumPy .npy file, as NAME=FILE (repeatable) [default: seeded
    /// random values: floats uniform in [-1, 1)].
    #[arg(
        long,
        value_name = "NAME=FILE",
        requires = "ort_inputs",
        help_heading = "ONNX Runtime"
    )]
    pub input: Vec<String>,

    /// Seed of the random inputs.
    #[arg(long, default_value_t = 0, help_heading = "ONNX Runtime")]
    pub seed: u64,

    /// Timed runs per model for --bench.
    #[arg(long, default_value_t = 50, value_name = "N", requires = "bench", help_heading = "ONNX Runtime",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub runs: u32,

    /// Untimed warm-up runs per model for --bench.
    #[arg(long, default_value_t = 5, value_name = "N", requires = "bench", help_heading = "ONNX Runtime",
          value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub warmup: u32,

    /// Intra-op threads for --bench [default: ONNX Runtime's default, one per physical core].
    #[arg(long, value_name = "N", requires = "bench", help_heading = "ONNX Runtime",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,

    /// Seconds ONNX Runtime may work before qlint stops it and reports an error.
    #[arg(long, default_value_t = 600, value_name = "SECONDS", requires = "ort", help_heading = "ONNX Runtime",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
}

impl Cli {
    /// Builds the ONNX Runtime job that the options request, if any.
    pub fn runtime_job(&self) -> Result<Option<RuntimeJob>> {
        let level = self.level.into();
        let job = if let Some(model) = &self.optimize {
            RuntimeJob::Optimize {
                model: model.clone(),
                level,
                save: self.save_optimized.clone(),
            }
        } else if let Some(model) = &self.compare {
            RuntimeJob::Compare {
                model: model.clone(),
                level,
                inputs: self.input_spec()?,
            }
        } else if let Some(model) = &self.bench {
            RuntimeJob::Bench {
                model: model.clone(),
                float_model: self.float_model.clone(),
                level,
                runs: self.runs,
                warmup: self.warmup,
                threads: self.threads.map(usize::from),
                inputs: self.input_spec()?,
            }
        } else {
            return Ok(None);
        };
        Ok(Some(job))
    }

    fn input_spec(&self) -> Result<InputSpec> {
        let mut shapes = BTreeMap::new();
        for (name, dims) in pairs("--shape", "NAME=1x3x224x224", &self.shape)? {
            let dims = parse_shape(dims).map_err(|e| anyhow::anyhow!("--shape {name}: {e}"))?;
            shapes.insert(name.to_string(), dims);
        }
        let files = pairs("--input", "NAME=FILE.npy", &self.input)?
            .into_iter()
            .map(|(name, file)| (name.to_string(), PathBuf::from(file)))
            .collect();
        Ok(InputSpec {
            seed: self.seed,
            shapes,
            files,
        })
    }
}

/// Splits `NAME=VALUE` entries, rejecting a missing `=`, an empty name and repeated names.
fn pairs<'a>(option: &str, form: &str, entries: &'a [String]) -> Result<Vec<(&'a str, &'a str)>> {
    let mut seen = Vec::new();
    for entry in entries {
        let Some((name, value)) = entry.split_once('=') else {
            bail!("invalid {option} `{entry}`: expected {form}");
        };
        let name = name.trim();
        if name.is_empty() {
            bail!("invalid {option} `{entry}`: the input name is empty");
        }
        if seen.iter().any(|(seen_name, _)| *seen_name == name) {
            bail!("{option} names input `{name}` twice");
        }
        seen.push((name, value.trim()));
    }
    Ok(seen)
}

/// ONNX Runtime optimization levels offered on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptLevel {
    Basic,
    Extended,
    All,
}

impl From<OptLevel> for OrtLevel {
    fn from(level: OptLevel) -> OrtLevel {
        match level {
            OptLevel::Basic => OrtLevel::Basic,
            OptLevel::Extended => OrtLevel::Extended,
            OptLevel::All => OrtLevel::All,
        }
    }
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
    /// Returns the name the report module uses.
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
