//! Assembles the named facts of one model for the rule engine.
//!
//! Every fact named in [`crate::analysis::FACTS`] is filled where it applies: model facts
//! always (`opset` only for ONNX), node facts for every node, island facts for every island.
//! Node facts that describe something the node lacks are left out: `macs` of a compute op with
//! unknown shapes and the `output_*` facts of a node
//! whose output no QuantizeLinear reads. The `paddle2onnx.*` facts depend on the Paddle2ONNX
//! release chosen for the run, so [`crate::analysis::paddle2onnx::add_facts`] adds them later.

mod nodes;

use std::collections::BTreeMap;

use crate::analysis::chains::{self, ChainAnalysis};
use crate::analysis::macs::{self, MacCount};
use crate::analysis::shapes;
use crate::analysis::{FactMap, Facts, Island, Value, qdq, quant, saturation};
use crate::graph::{Model, ModelFormat, Stage};
use crate::host::CpuTarget;

/// Computes every fact of `model` as judged for the target CPU.
pub fn compute(model: &Model, cpu: &CpuTarget, provider: &str) -> Facts {
    let inferred = shapes::infer(model);
    let mac_count = macs::count(model, &inferred);
    let mut analysis = chains::analyze(model, &inferred);
    let fused = analysis.chains.iter().any(|c| c.size > 0);
    if model.stage != Stage::Optimized || !fused {
        // In an exported QDQ graph every op sits between DequantizeLinear and QuantizeLinear
        // until ORT fuses it, so islands describe only optimized graphs in which ORT fused
        // something. A file passed as optimized without any fusion gets QL306 instead.
        analysis.islands.clear();
        analysis
            .node_island
            .iter_mut()
            .for_each(|island| *island = None);
    }
    let mut facts = FactMap::new();
    model_facts(&mut facts, model);
    mac_facts(&mut facts, &mac_count);
    chain_facts(&mut facts, &analysis);
    cpu_facts(&mut facts, cpu, provider);
    let islands = island_facts(model, &analysis);
    let mut node_facts = nodes::node_facts(model, &inferred, &mac_count, &analysis);
    qdq::add_facts(model, &inferred, provider, &mut facts, &mut node_facts);
    saturation::insert_facts(model, &mut node_facts);
    Facts {
        model: facts,
        nodes: node_facts,
        islands,
        chains: analysis.chains,
    }
}

fn num(n: usize) -> Value {
    Value::Num(n as f64)
}

fn count_nodes(model: &Model, predicate: impl Fn(&crate::graph::Node) -> bool) -> usize {
    model
        .graph
        .dag
        .node_weights()
        .filter(|n| predicate(n))
        .count()
}

fn model_facts(facts: &mut FactMap, model: &Model) {
    let put = |facts: &mut FactMap, name: &str, value: Value| {
        facts.insert(name.to_string(), value);
    };
    put(facts, "stage", Value::Str(model.stage.as_str().to_string()));
    put(
        facts,
        "format",
        Value::Str(model.format.as_str().to_string()),
    );
    if model.format == ModelFormat::Onnx
        && let Some(&opset) = model.meta.opsets.get("ai.onnx")
    {
        put(facts, "opset", Value::Num(opset as f64));
    }

    put(facts, "nodes.count", num(model.graph.node_count()));
    put(
        facts,
        "quant_ops.count",
        num(count_nodes(model, quant::is_quant_op)),
    );
    put(facts, "qdq.count", num(count_nodes(model, quant::is_qdq)));
    put(
        facts,
        "qlinear_ops.count",
        num(count_nodes(model, quant::is_quantized_compute)),
    );
    put(
        facts,
        "legacy_fake_quant.count",
        num(count_nodes(model, quant::is_paddle_legacy_fake_quant)),
    );

    let layout: Vec<String> = model
        .graph
        .dag
        .node_weights()
        .filter(|n| quant::is_layout_op(n))
        .map(|n| n.qualified_op())
        .collect();
    put(facts, "layout_ops.count", num(layout.len()));
    put(facts, "layout_ops.list", Value::Str(op_summary(layout)));

    let fingerprint = model.format == ModelFormat::Onnx && quant::has_ort_fingerprint(&model.meta);
    put(facts, "ort_fingerprint", Value::Bool(fingerprint));
}

fn mac_facts(facts: &mut FactMap, macs: &MacCount) {
    let share = if macs.quantizable == 0 {
        0.0
    } else {
        macs.int8 as f64 / macs.quantizable as f64
    };
    facts.insert("macs.total".into(), Value::Num(macs.total as f64));
    facts.insert(
        "macs.quantizable".into(),
        Value::Num(macs.quantizable as f64),
    );
    facts.insert("macs.int8".into(), Value::Num(macs.int8 as f64));
    facts.insert("macs.int8_share".into(), Value::Num(share));
    facts.insert("macs.exact".into(), Value::Bool(macs.exact));
}

fn chain_facts(facts: &mut FactMap, analysis: &ChainAnalysis) {
    let mut sizes: Vec<usize> = analysis.chains.iter().map(|c| c.size).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    facts.insert("chains.count".into(), num(analysis.chains.len()));
    facts.insert(
        "chains.max".into(),
        num(sizes.first().copied().unwrap_or(0)),
    );
    facts.insert(
        "chains.sizes".into(),
        Value::List(sizes.into_iter().map(num).collect()),
    );
    facts.insert("islands.count".into(), num(analysis.islands.len()));
}

fn cpu_facts(facts: &mut FactMap, cpu: &CpuTarget, provider: &str) {
    facts.insert("cpu.name".into(), Value::Str(cpu.name.clone()));
    for flag in ["avx512_vnni", "avx_vnni", "amx_int8"] {
        facts.insert(format!("cpu.{flag}"), Value::Bool(cpu.has(flag)));
    }
    facts.insert("cpu.vnni".into(), Value::Bool(cpu.has_vnni()));
    let flags = cpu.flags.iter().map(|f| Value::Str(f.clone())).collect();
    facts.insert("cpu.flags".into(), Value::List(flags));
    facts.insert("provider".into(), Value::Str(provider.to_string()));
}

fn island_facts(model: &Model, analysis: &ChainAnalysis) -> Vec<Island> {
    let graph = &model.graph;
    analysis
        .islands
        .iter()
        .map(|parts| {
            let ops = op_summary(parts.nodes.iter().map(|&n| graph.node(n).qualified_op()));
            let compute = parts
                .nodes
                .iter()
                .filter(|&&n| quant::is_float_compute(graph.node(n)))
                .count();
            let chain_sizes = parts
                .chains
                .iter()
                .filter_map(|&c| analysis.chains.get(c))
                .map(|c| num(c.size))
                .collect();
            let mut facts = FactMap::new();
            facts.insert("island.size".into(), num(parts.nodes.len()));
            facts.insert("island.ops".into(), Value::Str(ops));
            facts.insert("island.compute_ops".into(), num(compute));
            facts.insert("island.chains".into(), num(parts.chains.len()));
            facts.insert("island.chain_sizes".into(), Value::List(chain_sizes));
            Island {
                nodes: parts.nodes.clone(),
                facts,
            }
        })
        .collect()
}

/// Lists op types in order of first appearance, with a count when an op repeats:
/// `HardSigmoid, Mul` or `Relu×2, Add`.
pub fn op_summary(ops: impl IntoIterator<Item = String>) -> String {
    let mut order: Vec<String> = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for op in ops {
        let count = counts.entry(op.clone()).or_insert(0);
        if *count == 0 {
            order.push(op);
        }
        *count += 1;
    }
    order
        .iter()
        .map(|op| match counts.get(op).copied().unwrap_or(0) {
            1 => op.clone(),
            count => format!("{op}×{count}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
