//! Process-wide counters and histograms for `GET /metrics` (Prometheus text format). A small
//! registry of our own: a few dozen series, updated under one mutex, rendered on scrape.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};

/// Upper bounds (seconds) of every histogram's buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

type Key = (&'static str, String);

#[derive(Default)]
struct Registry {
    counters: BTreeMap<Key, u64>,
    histograms: BTreeMap<Key, Histogram>,
    help: BTreeMap<&'static str, &'static str>,
}

fn registry() -> &'static Mutex<Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    R.get_or_init(Default::default)
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Adds one to a counter.
pub fn inc(name: &'static str, help: &'static str, pairs: &[(&str, &str)]) {
    let mut r = registry().lock().unwrap_or_else(|e| e.into_inner());
    r.help.insert(name, help);
    *r.counters.entry((name, labels(pairs))).or_default() += 1;
}

/// Records one observation (in seconds) in a histogram.
pub fn observe(name: &'static str, help: &'static str, pairs: &[(&str, &str)], seconds: f64) {
    let mut r = registry().lock().unwrap_or_else(|e| e.into_inner());
    r.help.insert(name, help);
    let h = r.histograms.entry((name, labels(pairs))).or_default();
    for (i, b) in BUCKETS.iter().enumerate() {
        if seconds <= *b {
            h.counts[i] += 1;
        }
    }
    h.sum += seconds;
    h.count += 1;
}

/// Every counter and histogram, in the text exposition format.
pub fn render(out: &mut String) {
    let r = registry().lock().unwrap_or_else(|e| e.into_inner());
    let mut last = "";
    for ((name, l), v) in &r.counters {
        if *name != last {
            let _ = writeln!(
                out,
                "# HELP {name} {}\n# TYPE {name} counter",
                r.help.get(name).unwrap_or(&"")
            );
            last = name;
        }
        let _ = writeln!(out, "{name}{{{l}}} {v}");
    }
    for ((name, l), h) in &r.histograms {
        if *name != last {
            let _ = writeln!(
                out,
                "# HELP {name} {}\n# TYPE {name} histogram",
                r.help.get(name).unwrap_or(&"")
            );
            last = name;
        }
        let sep = if l.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"{b}\"}} {}", h.counts[i]);
        }
        let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{{l}}} {}", h.sum);
        let _ = writeln!(out, "{name}_count{{{l}}} {}", h.count);
    }
}

/// A gauge read at scrape time.
pub fn gauge(out: &mut String, name: &str, help: &str, series: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (l, v) in series {
        let _ = writeln!(out, "{name}{{{l}}} {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        observe("t_seconds", "test", &[("route", "/a\"b")], 0.003);
        observe("t_seconds", "test", &[("route", "/a\"b")], 0.2);
        let mut s = String::new();
        render(&mut s);
        assert!(s.contains("# TYPE t_seconds histogram"), "{s}");
        assert!(s.contains("t_seconds_bucket{route=\"/a\\\"b\",le=\"0.005\"} 1"), "{s}");
        assert!(s.contains("t_seconds_bucket{route=\"/a\\\"b\",le=\"0.25\"} 2"), "{s}");
        assert!(s.contains("t_seconds_bucket{route=\"/a\\\"b\",le=\"+Inf\"} 2"), "{s}");
        assert!(s.contains("t_seconds_count{route=\"/a\\\"b\"} 2"), "{s}");
    }
}
