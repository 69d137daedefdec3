//! The result of a run, in the schema shared with the ShareDB driver
//! (`bench/peers/sharedb`), so one script can compare the two: a table on stdout, the JSON
//! with `--json`, and the latency distributions as an SVG with `--plot`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;
use serde::Serialize;

use crate::procstat::Usage;
use crate::stats::{Samples, Summary};

/// Scenario parameters (`null` where a scenario has none).
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Params {
    pub(crate) editors: Option<usize>,
    pub(crate) ops: Option<usize>,
    pub(crate) docs: Option<usize>,
    pub(crate) subscribers: Option<usize>,
    pub(crate) rate: Option<f64>,
    pub(crate) connections: Option<usize>,
    pub(crate) seed: u64,
}

/// Latencies by kind (each `null` when the scenario does not measure it).
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Latencies {
    pub(crate) ack: Option<Summary>,
    pub(crate) echo: Option<Summary>,
    pub(crate) broadcast: Option<Summary>,
    pub(crate) delivery: Option<Summary>,
}

/// The server's cost.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ServerFigures {
    pub(crate) pid: u32,
    pub(crate) cpu_s: f64,
    pub(crate) cpu_us_per_op: Option<f64>,
    pub(crate) cpu_us_per_delivery: Option<f64>,
    pub(crate) rss_kib_before: u64,
    pub(crate) rss_kib_after: u64,
    pub(crate) rss_kib_peak: u64,
    pub(crate) rss_kib_per_connection: Option<f64>,
}

/// The load generator's own cost.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ClientFigures {
    pub(crate) cpu_s: f64,
    pub(crate) cpu_util: f64,
    pub(crate) saturated: bool,
}

/// One run.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) target: &'static str,
    pub(crate) scenario: &'static str,
    pub(crate) params: Params,
    pub(crate) wall_s: f64,
    pub(crate) ops: u64,
    pub(crate) ops_per_s: f64,
    pub(crate) deliveries: u64,
    pub(crate) latency_ms: Latencies,
    pub(crate) server: ServerFigures,
    pub(crate) client: ClientFigures,
    pub(crate) converged: Option<bool>,
    pub(crate) notes: Vec<String>,
    /// Scenario-specific figures (trace and history), not part of the comparison.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) extra: BTreeMap<String, serde_json::Value>,
}

/// A driver utilisation over this much of one core means the figure measures the bench.
const SATURATED: f64 = 0.85;

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// What a scenario measured, before it becomes a [`Report`].
pub(crate) struct Measured {
    pub(crate) wall: std::time::Duration,
    pub(crate) ops: u64,
    pub(crate) deliveries: u64,
    pub(crate) server: Usage,
    pub(crate) client_cpu: std::time::Duration,
    pub(crate) connections: Option<usize>,
}

impl Report {
    /// Assembles a report and derives the per-op, per-delivery and utilisation figures.
    pub(crate) fn new(
        scenario: &'static str,
        params: Params,
        pid: u32,
        measured: &Measured,
        latency_ms: Latencies,
    ) -> Report {
        let wall_s = measured.wall.as_secs_f64();
        let cpu_s = measured.server.cpu.as_secs_f64();
        let per = |n: u64| (n > 0).then(|| round(cpu_s * 1e6 / n as f64, 2));
        let client_cpu = measured.client_cpu.as_secs_f64();
        let cpu_util = if wall_s > 0.0 {
            client_cpu / wall_s
        } else {
            0.0
        };
        let rss_per_connection = measured.connections.filter(|n| *n > 0).map(|n| {
            let grown = measured.server.rss_after as f64 - measured.server.rss_before as f64;
            round(grown / n as f64, 2)
        });
        let mut notes = Vec::new();
        let saturated = cpu_util > SATURATED;
        if saturated {
            notes.push(format!(
                "the load generator used {:.0}% of a core: these figures may measure the bench, not the server",
                cpu_util * 100.0
            ));
        }
        Report {
            target: "otterdoc",
            scenario,
            params,
            wall_s: round(wall_s, 3),
            ops: measured.ops,
            ops_per_s: if wall_s > 0.0 {
                round(measured.ops as f64 / wall_s, 1)
            } else {
                0.0
            },
            deliveries: measured.deliveries,
            latency_ms,
            server: ServerFigures {
                pid,
                cpu_s: round(cpu_s, 3),
                cpu_us_per_op: per(measured.ops),
                cpu_us_per_delivery: per(measured.deliveries),
                rss_kib_before: measured.server.rss_before,
                rss_kib_after: measured.server.rss_after,
                rss_kib_peak: measured.server.rss_peak,
                rss_kib_per_connection: rss_per_connection,
            },
            client: ClientFigures {
                cpu_s: round(client_cpu, 3),
                cpu_util: round(cpu_util, 3),
                saturated,
            },
            converged: None,
            notes,
            extra: BTreeMap::new(),
        }
    }

    /// The human-readable table.
    pub(crate) fn table(&self) -> String {
        let mut out = format!(
            "otterdoc bench {} {}\n",
            self.scenario,
            serde_json::to_string(&self.params).unwrap_or_default()
        );
        let mut row = |k: &str, v: String| out.push_str(&format!("  {k:<28} {v}\n"));
        row("wall", format!("{:.3} s", self.wall_s));
        row(
            "committed ops",
            format!("{} ({:.1}/s)", self.ops, self.ops_per_s),
        );
        row("deliveries", self.deliveries.to_string());
        let lat = &self.latency_ms;
        for (name, s) in [
            ("ack (SEND->RECEIPT)", &lat.ack),
            ("echo (SEND->own op)", &lat.echo),
            ("broadcast (->all others)", &lat.broadcast),
            ("delivery (->each sub)", &lat.delivery),
        ] {
            if let Some(s) = s {
                row(
                    name,
                    format!(
                        "p50 {:.3}  p99 {:.3}  p999 {:.3}  max {:.3} ms  (n={})",
                        s.p50, s.p99, s.p999, s.max, s.count
                    ),
                );
            }
        }
        let srv = &self.server;
        row("server cpu", format!("{:.3} s", srv.cpu_s));
        if let Some(v) = srv.cpu_us_per_op {
            row("server cpu per op", format!("{v:.2} us"));
        }
        if let Some(v) = srv.cpu_us_per_delivery {
            row("server cpu per delivery", format!("{v:.2} us"));
        }
        row(
            "server rss",
            format!(
                "{} -> {} KiB (peak {})",
                srv.rss_kib_before, srv.rss_kib_after, srv.rss_kib_peak
            ),
        );
        if let Some(v) = srv.rss_kib_per_connection {
            row("server rss per connection", format!("{v:.2} KiB"));
        }
        row(
            "bench cpu",
            format!(
                "{:.3} s ({:.0}% of a core){}",
                self.client.cpu_s,
                self.client.cpu_util * 100.0,
                if self.client.saturated {
                    "  SATURATED"
                } else {
                    ""
                }
            ),
        );
        if let Some(c) = self.converged {
            row("converged", c.to_string());
        }
        for (k, v) in &self.extra {
            row(k, v.to_string());
        }
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        out
    }

    /// Writes the JSON.
    pub(crate) fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
    }
}

/// Plots each latency distribution as a CDF (log-scale ms) into an SVG file.
pub(crate) fn plot(path: &Path, title: &str, series: &[(&str, &Samples)]) -> anyhow::Result<()> {
    let series: Vec<(&str, Vec<f64>)> = series
        .iter()
        .filter(|(_, s)| s.len() > 0)
        .map(|(n, s)| (*n, s.sorted_ms()))
        .collect();
    let max = series
        .iter()
        .filter_map(|(_, v)| v.last().copied())
        .fold(0.01f64, f64::max);
    let min = series
        .iter()
        .filter_map(|(_, v)| v.first().copied())
        .fold(max, f64::min)
        .max(0.001);
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((min..max * 1.1).log_scale(), 0.0..100.0)?;
    chart
        .configure_mesh()
        .x_desc("latency (ms, log scale)")
        .y_desc("percentile")
        .draw()?;
    let colors = [BLUE, RED, GREEN, MAGENTA];
    for (i, (name, values)) in series.iter().enumerate() {
        let color = colors[i % colors.len()];
        let n = values.len() as f64;
        let points = values
            .iter()
            .enumerate()
            .map(|(k, v)| (v.max(min), (k as f64 + 1.0) * 100.0 / n));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
