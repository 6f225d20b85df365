//! Per-task trace events and their Chrome / Perfetto JSON form.

use std::fmt::Write;
use std::time::Duration;

/// One task's run: what, when (since the computation started), on which worker, how big.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceEvent {
    /// The task (stage, node and block).
    pub name: String,
    /// Start time since the computation began.
    pub start: Duration,
    /// End time since the computation began.
    pub end: Duration,
    /// Worker thread index.
    pub thread: usize,
    /// Bytes of the task's result.
    pub bytes: u64,
}

/// The events as a Chrome trace (`traceEvents` with complete "X" events, times in µs).
pub(crate) fn chrome_json(events: &[TraceEvent]) -> String {
    let mut out = String::from("{\"traceEvents\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let name: String = e
            .name
            .chars()
            .flat_map(|c| match c {
                '"' => vec!['\\', '"'],
                '\\' => vec!['\\', '\\'],
                c if c.is_control() => vec![' '],
                c => vec![c],
            })
            .collect();
        let _ = write!(
            out,
            "{{\"name\":\"{}\",\"ph\":\"X\",\"pid\":1,\"tid\":{},\"ts\":{:.3},\"dur\":{:.3},\"args\":{{\"bytes\":{}}}}}",
            name,
            e.thread,
            e.start.as_secs_f64() * 1e6,
            (e.end - e.start).as_secs_f64() * 1e6,
            e.bytes
        );
    }
    out.push_str("]}");
    out
}
