//! What fusion passes share: whether an input can be fused, and inlining fusable inputs into
//! a program while recording why the others were refused.

use chunkwise_kernels::strip::{Program, Step, StripOp, ValueRef};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::chunks::View;
use crate::graph::{ElemInput, Node, NodeId, NodeKind, Note, Source};
use crate::ops::generators::Translated;

/// Why `input` cannot be fused into its consumer, or `None` if it can. Views compose, so
/// elementwise work is fused through slices and transposes too: it is then computed at the
/// positions the consumer reads. It is not fused where that would change what it computes
/// or repeat it: through a view that repeats elements (a broadcast), or where it makes
/// values from element positions (generators), through a view that moves elements relative
/// to each other (a step, a reversal, a transpose). Through a translation (a slice with
/// step 1, integer indices) generators make their values at the positions read. With
/// [`Sources::Read`] generators are never inlined: their tiles are read.
///
/// A generator that the graph reads through more than [`MOST_TRANSLATED_READS`]
/// translations (`crowded`) is not fused through them either: each read would make its
/// values again (a five-point stencil of a random array would make each value five times),
/// and making its tiles once costs less than that.
///
/// A program of [`MOST_FUSED_STEPS`] steps or more is not fused into its consumers: a chain
/// of many thousand elementwise steps (`x = x * a + b` in a loop) becomes kernels of that
/// many steps each, with a tile written between them, instead of one kernel built again
/// for every step it grows by (a time that grows as the square of the chain's length).
fn refusal(input: &ElemInput, sources: Sources, crowded: bool) -> Option<&'static str> {
    let identity = input.view.is_identity(&input.node.shape());
    if crowded && !identity && makes_values_from_positions(&input.node) {
        return Some("generator read through many translations: its tiles are made once");
    }
    let moved = !identity && !input.view.is_translation();
    let generates = |e: &crate::graph::Elemwise| e.program.steps.iter().any(|s| s.args.is_empty());
    match &input.node.kind {
        NodeKind::Elemwise(e) if e.program.steps.len() >= MOST_FUSED_STEPS => {
            Some("a program of the most steps fused into one kernel")
        }
        NodeKind::Source(Source::Generator(_)) if sources == Sources::Read => {
            Some("tiles read by a merged pass")
        }
        NodeKind::Elemwise(e) if sources == Sources::Read && generates(e) => {
            Some("tiles read by a merged pass")
        }
        NodeKind::Elemwise(e) if !e.program.steps.is_empty() && input.view.repeats() => {
            Some("broadcast input: its tile is repeated, not computed per element")
        }
        NodeKind::Elemwise(e) if moved && generates(e) => {
            Some("generator read through a view: its values depend on positions")
        }
        NodeKind::Source(Source::Generator(_)) if moved => {
            Some("generator read through a view: its values depend on positions")
        }
        NodeKind::Elemwise(_) | NodeKind::Source(Source::Generator(_)) => None,
        NodeKind::Source(Source::Tiles(_)) => Some("materialised source"),
        NodeKind::Blockwise(_) => Some("blockwise producer (tiles are rearranged)"),
        NodeKind::Reduce(_) => Some("reduction result"),
        NodeKind::Invalid(_) => Some("invalid node"),
    }
}

/// How many steps a program may have before it is fused no further (see [`refusal`]).
const MOST_FUSED_STEPS: usize = 256;

/// The most translations through which a program reads one generator with the generator
/// made in its kernel at each (see [`refusal`]).
const MOST_TRANSLATED_READS: usize = 2;

/// Whether `node` makes values from element positions: a generator, or an elementwise
/// program with one.
fn makes_values_from_positions(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Source(Source::Generator(_)) => true,
        NodeKind::Elemwise(e) => e.program.steps.iter().any(|s| s.args.is_empty()),
        _ => false,
    }
}

/// Whether `node` makes values from element positions once fusion has inlined into it the
/// generators it reads element for element or through translations (`uniform * 2`), as
/// known for the nodes in `memo`.
fn will_make_values_from_positions(node: &Node, memo: &mut HashMap<NodeId, bool>) -> bool {
    if let Some(&known) = memo.get(&node.id) {
        return known;
    }
    let makes = makes_values_from_positions(node)
        || match &node.kind {
            // Inlined element for element or through a translation (the identity is one).
            NodeKind::Elemwise(e) => e
                .inputs
                .iter()
                .any(|i| i.view.is_translation() && will_make_values_from_positions(&i.node, memo)),
            _ => false,
        };
    memo.insert(node.id, makes);
    makes
}

/// The nodes of the graph of `roots` that make values from positions (or will, once
/// fused: see [`will_make_values_from_positions`]) and are read through more than
/// [`MOST_TRANSLATED_READS`] distinct views other than the identity (by any nodes: the five
/// slices of a stencil are five nodes before fusion joins them).
pub(crate) fn crowded_generators(roots: &[Arc<Node>]) -> HashSet<NodeId> {
    let mut generates = HashMap::new();
    let mut views: HashSet<(NodeId, View)> = HashSet::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<&Arc<Node>> = roots.iter().collect();
    while let Some(node) = stack.pop() {
        if !seen.insert(node.id) {
            continue;
        }
        let inputs: &[ElemInput] = match &node.kind {
            NodeKind::Elemwise(e) => &e.inputs,
            NodeKind::Reduce(r) => &r.inputs,
            _ => &[],
        };
        for input in inputs {
            if !input.view.is_identity(&input.node.shape())
                && will_make_values_from_positions(&input.node, &mut generates)
            {
                views.insert((input.node.id, input.view.clone()));
            }
        }
        stack.extend(node.inputs());
    }
    let mut reads: HashMap<NodeId, usize> = HashMap::new();
    for (id, _) in views {
        *reads.entry(id).or_default() += 1;
    }
    reads
        .into_iter()
        .filter(|&(_, n)| n > MOST_TRANSLATED_READS)
        .map(|(id, _)| id)
        .collect()
}

/// What [`fuse_program`] made of a program: the inputs it reads now and the program over
/// them, whether anything was inlined, and why each input it still reads was not (the
/// pass records these on the node, for plans).
pub(crate) struct Fusion {
    pub(crate) inputs: Vec<ElemInput>,
    pub(crate) program: Program,
    /// Whether any input was inlined (else `inputs` and `program` are the ones given).
    pub(crate) fused: bool,
    /// One [`Note::NotFused`] per input of the result that could not be inlined.
    pub(crate) notes: Vec<Note>,
}

/// A node's kind rebuilt with its inputs fused: whether any input was fused, the refusal
/// notes, and the new kind (`None` for kinds a pass leaves alone).
pub(crate) type FusedKind = Option<(bool, Vec<Note>, NodeKind)>;

/// The rewrite both fusion passes make: `fuse(kind, crowded)` gives, for the nodes a pass
/// fuses into, whether it fused any input, the refusal notes and the rebuilt kind, knowing
/// the [`crowded_generators`] of the graph (those rewritten so far by their new ids). A
/// node is replaced where it fused something or its notes changed; the result says whether
/// anything was fused.
pub(crate) fn fuse_nodes(
    roots: &[Arc<Node>],
    fuse: &dyn Fn(&NodeKind, &HashSet<NodeId>) -> FusedKind,
) -> (Vec<Arc<Node>>, bool) {
    let fused_any = Cell::new(false);
    let crowded = RefCell::new(crowded_generators(roots));
    let (out, _) = super::rewrite_from(roots, &|original, node| {
        let replaced = fuse(&node.kind, &crowded.borrow()).and_then(|(fused, notes, kind)| {
            if !fused && notes == node.notes {
                return None;
            }
            fused_any.set(fused_any.get() || fused);
            Some(Node::with_notes(kind, node.grid.clone(), node.dtype, notes))
        });
        // A crowded node rewritten (a generator's consumer that fused it) stays crowded.
        if crowded.borrow().contains(&original.id) {
            let mut crowded = crowded.borrow_mut();
            crowded.insert(node.id);
            crowded.extend(replaced.as_ref().map(|r| r.id));
        }
        replaced
    });
    (out, fused_any.get())
}

/// Whether fusion inlines generator sources (the values they make from positions) or leaves
/// their tiles to be read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Sources {
    /// Generators are inlined: their values are made where they are used.
    #[default]
    Inline,
    /// Generators (and elementwise nodes that generate) stay inputs: a pass that shares
    /// one read of their tiles among several consumers (`merge-partials`) needs the tiles.
    Read,
}

/// Inlines the fusable inputs of a program, recording why the others were refused;
/// `crowded` are the generators not to be made at the positions of their translations
/// (see [`crowded_generators`]).
pub(crate) fn fuse_program(
    inputs: &[ElemInput],
    program: &Program,
    crowded: &HashSet<NodeId>,
) -> Fusion {
    fuse_program_with(inputs, program, Sources::Inline, crowded)
}

/// [`fuse_program`], inlining generator sources or not as `sources` says.
pub(crate) fn fuse_program_with(
    inputs: &[ElemInput],
    program: &Program,
    sources: Sources,
    crowded: &HashSet<NodeId>,
) -> Fusion {
    let refusals: Vec<Option<&'static str>> = inputs
        .iter()
        .map(|i| refusal(i, sources, crowded.contains(&i.node.id)))
        .collect();
    if refusals.iter().all(Option::is_some) {
        let notes = refusals
            .into_iter()
            .enumerate()
            .filter_map(|(input, why)| why.map(|reason| Note::NotFused { input, reason }))
            .collect();
        return Fusion {
            inputs: inputs.to_vec(),
            program: program.clone(),
            fused: false,
            notes,
        };
    }
    let mut fused = Fused {
        crowded: crowded.clone(),
        sources,
        ..Fused::default()
    };
    let mapped: Vec<ValueRef> = inputs.iter().map(|i| fused.operand_for(i)).collect();
    let output = fused.append(program, &mapped, None);
    Fusion {
        inputs: fused.inputs,
        program: Program {
            inputs: fused.input_dtypes,
            steps: fused.steps,
            output,
        },
        fused: true,
        notes: fused.notes,
    }
}

/// The translation (view and source shape) through which a consumer reads a node's values,
/// or `None` where it reads them element for element.
type Translation<'a> = Option<(&'a View, &'a [usize])>;

/// The generator `op`, making its values at the positions the consumer reads (`at`).
fn generator_at(op: &Arc<dyn StripOp>, at: Translation) -> Arc<dyn StripOp> {
    match at {
        None => op.clone(),
        Some((view, source_shape)) => Arc::new(Translated {
            op: op.clone(),
            view: view.clone(),
            source_shape: source_shape.to_vec(),
        }),
    }
}

/// A program being assembled from the programs of several nodes.
#[derive(Default)]
struct Fused {
    inputs: Vec<ElemInput>,
    input_dtypes: Vec<crate::graph::DType>,
    steps: Vec<Step>,
    /// The value already standing for a node (so shared work is computed once per strip).
    by_node: HashMap<(NodeId, View), ValueRef>,
    /// Steps already present, by operation identity and operands: a step that two fused
    /// programs share (such as the generator of an input read by both) is kept once.
    by_step: HashMap<(usize, Vec<ValueRef>), ValueRef>,
    /// Why each input in `inputs` was not inlined.
    notes: Vec<Note>,
    /// Generators read through too many translations to be made at each.
    crowded: HashSet<NodeId>,
    /// Whether generator sources are inlined.
    sources: Sources,
}

impl Fused {
    fn operand_for(&mut self, input: &ElemInput) -> ValueRef {
        let key = (input.node.id, input.view.clone());
        if let Some(&op) = self.by_node.get(&key) {
            return op;
        }
        let shape = input.node.shape();
        let at = (!input.view.is_identity(&shape)).then_some((&input.view, shape.as_slice()));
        let crowded = self.crowded.contains(&input.node.id);
        let operand = match (&input.node.kind, refusal(input, self.sources, crowded)) {
            (NodeKind::Elemwise(e), None) => {
                // The producer's inputs as the consumer reads them: through both views.
                let mapped: Vec<ValueRef> = e
                    .inputs
                    .iter()
                    .map(|i| {
                        self.operand_for(&ElemInput {
                            node: i.node.clone(),
                            view: i.view.then(&input.view),
                        })
                    })
                    .collect();
                self.append(&e.program, &mapped, at)
            }
            (NodeKind::Source(Source::Generator(op)), None) => self.push(Step {
                op: generator_at(op, at),
                args: Vec::new(),
            }),
            (_, Some(reason)) => {
                self.inputs.push(input.clone());
                self.input_dtypes.push(input.node.dtype);
                let input = self.inputs.len() - 1;
                self.notes.push(Note::NotFused { input, reason });
                ValueRef::Input(input)
            }
            (_, None) => unreachable!("refusal() accepts elementwise nodes and generators only"),
        };
        self.by_node.insert(key, operand);
        operand
    }

    /// Appends `program`'s steps, its inputs standing for `mapped`; returns its output.
    /// `at` is the translation through which the consumer reads the program's values, if
    /// any: its generators make theirs at the positions read.
    fn append(&mut self, program: &Program, mapped: &[ValueRef], at: Translation) -> ValueRef {
        let mut mapped_steps = Vec::with_capacity(program.steps.len());
        for step in &program.steps {
            let args: Vec<ValueRef> = step
                .args
                .iter()
                .map(|&a| match a {
                    ValueRef::Input(i) => mapped[i],
                    ValueRef::Step(j) => mapped_steps[j],
                })
                .collect();
            let op = if args.is_empty() {
                generator_at(&step.op, at)
            } else {
                step.op.clone()
            };
            let operand = self.push(Step { op, args });
            mapped_steps.push(operand);
        }
        match program.output {
            ValueRef::Input(i) => mapped[i],
            ValueRef::Step(j) => mapped_steps[j],
        }
    }

    /// Adds `step` unless the same operation on the same operands is already there.
    fn push(&mut self, step: Step) -> ValueRef {
        let key = (
            std::sync::Arc::as_ptr(&step.op) as *const () as usize,
            step.args.clone(),
        );
        if let Some(&existing) = self.by_step.get(&key) {
            return existing;
        }
        self.steps.push(step);
        let operand = ValueRef::Step(self.steps.len() - 1);
        self.by_step.insert(key, operand);
        operand
    }
}
