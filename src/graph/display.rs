//! Text and Graphviz renderings of graphs.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::sync::Arc;

use chunkwise_kernels::strip::{Program, ValueRef};

use super::{Node, NodeId, NodeKind};

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

/// How many levels [`plan_text`] indents at most.
const MAX_INDENT: usize = 40;

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
        // Deep graphs are indented no further than [`MAX_INDENT`] levels (else the text
        // would grow as the square of the depth), and say their level there.
        let indent = match depth <= MAX_INDENT {
            true => "  ".repeat(depth),
            false => format!("{}[level {depth}] ", "  ".repeat(MAX_INDENT)),
        };
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

/// The graph below `roots` in Graphviz DOT, nodes numbered as [`node_numbers`] does.
pub(crate) fn to_dot(roots: &[Arc<Node>]) -> String {
    let mut out = String::from("digraph chunkwise {\n  node [shape=box, fontname=monospace];\n");
    let numbers = node_numbers(roots);
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
        let number = numbers[&node.id];
        let label = format!("#{number} {}\\n{}", node.label(), grid_text(&node)).replace('"', "'");
        let _ = writeln!(
            out,
            "  n{number} [label=\"{label}\", style=filled, fillcolor={color}];",
        );
        for input in node.inputs() {
            let _ = writeln!(out, "  n{} -> n{number};", numbers[&input.id]);
            stack.push(input.clone());
        }
    }
    out.push_str("}\n");
    out
}

/// A number for every node below `roots`: its place in a depth-first walk from the roots
/// (in order, each node before its inputs, in order). The numbers depend only on the
/// graph's structure, never on how many nodes the process made before or on which thread,
/// so every process that builds the same program numbers its nodes alike: plans, errors and
/// the tasks an executor exchanges name nodes by these numbers.
pub(crate) fn node_numbers(roots: &[Arc<Node>]) -> HashMap<NodeId, usize> {
    let mut numbers = HashMap::new();
    let mut stack: Vec<&Arc<Node>> = roots.iter().rev().collect();
    while let Some(node) = stack.pop() {
        if numbers.contains_key(&node.id) {
            continue;
        }
        numbers.insert(node.id, numbers.len());
        stack.extend(node.inputs().into_iter().rev());
    }
    numbers
}
