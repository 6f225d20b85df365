//! Text and Graphviz renderings of graphs.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::sync::Arc;

use chunkwise_kernels::strip::{Program, ValueRef};

use super::{Node, NodeKind};

/// A fused program as a nested expression, such as `add(sin(in0), in1)`.
pub(crate) fn program_text(program: &Program) -> String {
    fn operand(program: &Program, o: ValueRef) -> String {
        match o {
            ValueRef::Input(i) => format!("in{i}"),
            ValueRef::Step(j) => {
                let step = &program.steps[j];
                if step.args.is_empty() {
                    step.op.name()
                } else {
                    let args: Vec<String> =
                        step.args.iter().map(|&a| operand(program, a)).collect();
                    format!("{}({})", step.op.name(), args.join(", "))
                }
            }
        }
    }
    operand(program, program.output)
}

fn grid_text(node: &Node) -> String {
    let tile = node.grid.axis_texts();
    format!(
        "shape {:?} {} in {} tile(s) of {}",
        node.shape(),
        node.dtype,
        node.grid.n_blocks(),
        if tile.is_empty() {
            "()".to_string()
        } else {
            tile.join("x")
        }
    )
}

/// The graph below `roots` as indented text, one node per line, numbered in the order they
/// are printed (so the text does not depend on how many nodes the process made before); a
/// node read twice is printed once and referred to by number after that. `annotate` adds
/// planner facts to each line.
pub(crate) fn plan_text(roots: &[Arc<Node>], annotate: &dyn Fn(&Node) -> String) -> String {
    fn visit(
        node: &Arc<Node>,
        depth: usize,
        numbers: &mut HashMap<u64, usize>,
        out: &mut String,
        annotate: &dyn Fn(&Node) -> String,
    ) {
        let indent = "  ".repeat(depth);
        if let Some(n) = numbers.get(&node.id) {
            let _ = writeln!(out, "{indent}(#{n} again)");
            return;
        }
        let number = numbers.len();
        numbers.insert(node.id, number);
        let note = annotate(node);
        let _ = writeln!(
            out,
            "{indent}#{number} {}  [{}]{}",
            node.label(),
            grid_text(node),
            if note.is_empty() {
                String::new()
            } else {
                format!("  {note}")
            }
        );
        for input in node.inputs() {
            visit(input, depth + 1, numbers, out, annotate);
        }
    }
    let mut out = String::new();
    let mut numbers = HashMap::new();
    for root in roots {
        visit(root, 0, &mut numbers, &mut out, annotate);
    }
    out
}

/// The graph below `roots` in Graphviz DOT.
pub(crate) fn to_dot(roots: &[Arc<Node>]) -> String {
    let mut out = String::from("digraph chunkwise {\n  node [shape=box, fontname=monospace];\n");
    let mut seen = HashSet::new();
    let mut stack: Vec<Arc<Node>> = roots.to_vec();
    while let Some(node) = stack.pop() {
        if !seen.insert(node.id) {
            continue;
        }
        let color = match node.kind {
            NodeKind::Source(_) => "lightblue",
            NodeKind::Elemwise(_) => "palegreen",
            NodeKind::Blockwise(_) => "khaki",
            NodeKind::Reduce(_) => "lightsalmon",
            NodeKind::Invalid(_) => "red",
        };
        let label =
            format!("#{} {}\\n{}", node.id, node.label(), grid_text(&node)).replace('"', "'");
        let _ = writeln!(
            out,
            "  n{} [label=\"{}\", style=filled, fillcolor={}];",
            node.id, label, color
        );
        for input in node.inputs() {
            let _ = writeln!(out, "  n{} -> n{};", input.id, node.id);
            stack.push(input.clone());
        }
    }
    out.push_str("}\n");
    out
}
