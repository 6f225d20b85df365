//! A `tracing` subscriber for tests: it keeps every span opened, with its fields, and is
//! the process's global default, so that the spans of the executor's worker threads and of
//! the I/O threads reach it too. Installed once per test binary ([`spans`]); tests that
//! share a binary tell their spans apart by their fields (an array's path).

#![allow(dead_code, unreachable_pub)]

use std::fmt::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Every span opened since [`spans`] installed the subscriber, as its name and its fields
/// (`name=value ` pairs, those recorded later appended).
#[derive(Default)]
pub struct Spans {
    opened: Mutex<Vec<(String, String)>>,
}

impl Spans {
    /// The fields of every span named `name` opened so far.
    pub fn named(&self, name: &str) -> Vec<String> {
        self.opened
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, fields)| fields.clone())
            .collect()
    }

    /// The fields of the `zarr_read` spans (one per tile read) of the array at `path` (as
    /// `/name`), in any store.
    pub fn zarr_reads(&self, path: &str) -> Vec<String> {
        let array = format!("array={path} ");
        let mut reads = self.named("zarr_read");
        reads.retain(|fields| fields.contains(&array));
        reads
    }
}

/// The process's span collector, installed as the global default on the first call.
pub fn spans() -> Arc<Spans> {
    static SPANS: OnceLock<Arc<Spans>> = OnceLock::new();
    SPANS
        .get_or_init(|| {
            let spans = Arc::new(Spans::default());
            tracing::subscriber::set_global_default(spans.clone())
                .expect("no other global subscriber in this test binary");
            spans
        })
        .clone()
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = String::new();
        span.record(&mut Fields(&mut fields));
        let mut opened = self.opened.lock().unwrap();
        opened.push((span.metadata().name().to_string(), fields));
        Id::from_u64(opened.len() as u64)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut opened = self.opened.lock().unwrap();
        let (_, fields) = &mut opened[span.into_u64() as usize - 1];
        values.record(&mut Fields(fields));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
