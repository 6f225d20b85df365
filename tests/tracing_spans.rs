//! `tracing` spans: a subscriber installed by the application sees the plan, the
//! computation, each task (with its node and block) and each Zarr tile read and write.

#![allow(missing_docs)]

#[path = "common/zarr_util.rs"]
mod zarr_util;

use std::fmt::Write;
use std::sync::Mutex;

use chunkwise::io::zarr::{self, WriteOptions};
use chunkwise::{Config, from_fn};
use ndarray::{ArrayD, IxDyn};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use zarr_util::TempDir;

/// Every span opened, as its name and its fields (`name=value` pairs).
#[derive(Default)]
struct Collect {
    spans: Mutex<Vec<(String, String)>>,
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl Subscriber for Collect {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = String::new();
        span.record(&mut Fields(&mut fields));
        let mut spans = self.spans.lock().unwrap();
        spans.push((span.metadata().name().to_string(), fields));
        Id::from_u64(spans.len() as u64)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.spans.lock().unwrap();
        let (_, fields) = &mut spans[span.into_u64() as usize - 1];
        values.record(&mut Fields(fields));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn named<'a>(spans: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    spans
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, f)| f.as_str())
        .collect()
}

// One test in this binary: the subscriber is the process's global default, so that the
// spans of the executor's worker threads reach it too.
#[test]
fn plan_task_and_io_spans_reach_a_subscriber() {
    static COLLECT: std::sync::OnceLock<&'static Collect> = std::sync::OnceLock::new();
    let collect: &'static Collect = COLLECT.get_or_init(|| Box::leak(Box::default()));
    tracing::subscriber::set_global_default(Forward(collect)).unwrap();

    let dir = TempDir::new("tracing");
    let a = from_fn::<f64, _>(&[8, 6], [4, 3], |_, ranges| {
        let shape: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
        ArrayD::from_elem(IxDyn(&shape), 1.0)
    })
    .unwrap();
    a.to_zarr(dir.path(), "a", &WriteOptions::default())
        .unwrap();
    let b = zarr::open(dir.path(), "a")
        .unwrap()
        .into_typed::<f64>()
        .unwrap();
    let total = (&b + 1.0).sum();
    let value = total.compute_with(&Config::default().threads(2)).unwrap();
    assert_eq!(value.sum(), 96.0);

    let spans = collect.spans.lock().unwrap().clone();
    let plans = named(&spans, "plan");
    assert_eq!(plans.len(), 2, "{spans:?}");
    assert!(plans.iter().all(|f| f.contains("tasks=")), "{plans:?}");
    assert_eq!(named(&spans, "compute").len(), 2, "{spans:?}");
    let tasks = named(&spans, "task");
    // Four blocks written, then four read-and-add-and-sum partials and their combine.
    assert!(tasks.len() >= 9, "{tasks:?}");
    for block in ["[0, 0]", "[0, 1]", "[1, 0]", "[1, 1]"] {
        assert!(
            tasks.iter().any(|f| f.contains(&format!("block={block}"))),
            "no task span for block {block}: {tasks:?}"
        );
    }
    assert!(tasks.iter().all(|f| f.contains("node=")), "{tasks:?}");
    assert_eq!(named(&spans, "zarr_write").len(), 4, "{spans:?}");
    assert_eq!(named(&spans, "zarr_read").len(), 4, "{spans:?}");
}

/// The subscriber, by reference (a `'static` one that the test can read afterwards).
struct Forward(&'static Collect);

impl Subscriber for Forward {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        self.0.enabled(m)
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.0.new_span(span)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        self.0.record(span, values)
    }
    fn record_follows_from(&self, span: &Id, follows: &Id) {
        self.0.record_follows_from(span, follows)
    }
    fn event(&self, event: &Event<'_>) {
        self.0.event(event)
    }
    fn enter(&self, span: &Id) {
        self.0.enter(span)
    }
    fn exit(&self, span: &Id) {
        self.0.exit(span)
    }
}
