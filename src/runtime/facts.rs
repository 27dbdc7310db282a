//! Model facts measured by ONNX Runtime, for rules with `stages: [runtime]`.
//!
//! Each name here is listed in [`crate::analysis::FACTS`]. A fact is present only when its
//! measurement ran: `compare.*` after `--compare`, `bench.*` after `--bench`, and the `float_*`
//! and `speedup` facts only when `--float-model` was given.

use crate::analysis::{FactMap, Value};

use super::results::{BenchRole, RuntimeReport};

/// Collects the runtime facts of the model that `report` is about.
pub fn runtime_facts(report: &RuntimeReport) -> FactMap {
    let mut facts = FactMap::new();
    if let Some(version) = &report.ort_version {
        facts.insert("runtime.ort_version".into(), Value::Str(version.clone()));
    }
    if let Some(compare) = &report.compare {
        facts.insert(
            "runtime.level".into(),
            Value::Str(compare.level.as_str().into()),
        );
        // The output that moved most decides; NaN-free because differences are never NaN.
        let worst = compare
            .outputs
            .iter()
            .max_by(|a, b| a.difference.max_abs.total_cmp(&b.difference.max_abs));
        if let Some(worst) = worst {
            let max_mean = compare
                .outputs
                .iter()
                .map(|o| o.difference.mean_abs)
                .fold(0.0, f64::max);
            let min_cosine = compare
                .outputs
                .iter()
                .map(|o| o.difference.cosine)
                .fold(1.0, f64::min);
            facts.insert(
                "compare.max_abs".into(),
                Value::Num(worst.difference.max_abs),
            );
            facts.insert("compare.mean_abs".into(), Value::Num(max_mean));
            facts.insert("compare.cosine".into(), Value::Num(min_cosine));
            facts.insert("compare.output".into(), Value::Str(worst.name.clone()));
        }
    }
    if let Some(bench) = &report.bench {
        facts.insert(
            "runtime.level".into(),
            Value::Str(bench.level.as_str().into()),
        );
        if let Some(model) = bench.model(BenchRole::Quantized) {
            facts.insert("bench.p50_ms".into(), Value::Num(model.p50_ms));
            facts.insert("bench.p90_ms".into(), Value::Num(model.p90_ms));
        }
        if let Some(model) = bench.model(BenchRole::Float) {
            facts.insert("bench.float_p50_ms".into(), Value::Num(model.p50_ms));
            facts.insert("bench.float_p90_ms".into(), Value::Num(model.p90_ms));
        }
        if let Some(speedup) = bench.speedup {
            facts.insert("bench.speedup".into(), Value::Num(speedup));
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::analysis::{Scope, fact_doc};
    use crate::runtime::metrics::Difference;
    use crate::runtime::protocol::Level;
    use crate::runtime::results::{
        BenchModel, BenchReport, CompareReport, LibrarySource, OutputDifference,
    };
    use crate::runtime::tensor::ElementType;

    fn output(name: &str, max_abs: f64, mean_abs: f64, cosine: f64) -> OutputDifference {
        OutputDifference {
            name: name.into(),
            element_type: ElementType::Float32,
            shape: vec![1, 10],
            difference: Difference {
                max_abs,
                mean_abs,
                cosine,
            },
        }
    }

    fn bench_model(role: BenchRole, p50_ms: f64) -> BenchModel {
        BenchModel {
            path: PathBuf::from("m.onnx"),
            role,
            inputs: Vec::new(),
            p50_ms,
            p90_ms: p50_ms * 1.5,
            mean_ms: p50_ms,
        }
    }

    fn report() -> RuntimeReport {
        RuntimeReport {
            library: PathBuf::from("/lib/libonnxruntime.so.1.31.1"),
            library_source: LibrarySource::Cache,
            ort_version: Some("1.31.1".into()),
            ort_build_info: None,
            model: PathBuf::from("m.onnx"),
            optimize: None,
            compare: Some(CompareReport {
                baseline: Level::DisableAll,
                level: Level::All,
                seed: 0,
                inputs: Vec::new(),
                outputs: vec![
                    output("a", 1e-7, 5e-8, 0.99),
                    output("b", 3e-7, 1e-8, 0.999),
                ],
            }),
            bench: Some(BenchReport {
                level: Level::All,
                runs: 10,
                warmup: 2,
                threads: Some(1),
                seed: 0,
                models: vec![
                    bench_model(BenchRole::Quantized, 2.0),
                    bench_model(BenchRole::Float, 3.0),
                ],
                speedup: Some(1.5),
            }),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn compare_facts_take_worst_output() {
        let facts = runtime_facts(&report());
        assert_eq!(facts.get("compare.max_abs"), Some(&Value::Num(3e-7)));
        assert_eq!(facts.get("compare.mean_abs"), Some(&Value::Num(5e-8)));
        assert_eq!(facts.get("compare.cosine"), Some(&Value::Num(0.99)));
        assert_eq!(facts.get("compare.output"), Some(&Value::Str("b".into())));
    }

    #[test]
    fn bench_facts_follow_roles() {
        let facts = runtime_facts(&report());
        assert_eq!(facts.get("bench.p50_ms"), Some(&Value::Num(2.0)));
        assert_eq!(facts.get("bench.float_p50_ms"), Some(&Value::Num(3.0)));
        assert_eq!(facts.get("bench.speedup"), Some(&Value::Num(1.5)));
    }

    #[test]
    fn absent_measurements_give_no_facts() {
        let mut bare = report();
        bare.compare = None;
        bare.bench = None;
        let facts = runtime_facts(&bare);
        assert!(facts.keys().all(|k| k.starts_with("runtime.")), "{facts:?}");
    }

    #[test]
    fn every_registered_runtime_fact_is_filled() {
        let facts = runtime_facts(&report());
        let measured = crate::analysis::FACTS.iter().filter(|doc| {
            ["compare.", "bench.", "runtime."]
                .iter()
                .any(|prefix| doc.name.starts_with(prefix))
        });
        for doc in measured {
            assert!(facts.contains_key(doc.name), "{} is never filled", doc.name);
        }
    }

    #[test]
    fn every_fact_is_registered() {
        for name in runtime_facts(&report()).keys() {
            assert!(
                fact_doc(Scope::Model, name).is_some(),
                "{name} not in FACTS"
            );
        }
    }
}
