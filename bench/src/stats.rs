//! Latency samples and their summary (count, mean, p50/p99/p999, max), in milliseconds as the
//! shared result schema has them.

use std::time::Duration;

use serde::Serialize;

/// A latency distribution's summary.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub(crate) struct Summary {
    pub(crate) count: usize,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) p999: f64,
    pub(crate) max: f64,
    pub(crate) mean: f64,
}

/// Latency samples, kept whole (percentiles are exact; a few million samples fit easily).
#[derive(Clone, Debug, Default)]
pub(crate) struct Samples {
    micros: Vec<u64>,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Samples {
    pub(crate) fn push(&mut self, d: Duration) {
        self.micros
            .push(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    pub(crate) fn extend(&mut self, other: Samples) {
        self.micros.extend(other.micros);
    }

    pub(crate) fn len(&self) -> usize {
        self.micros.len()
    }

    /// The samples in ms, sorted (for plotting).
    pub(crate) fn sorted_ms(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.micros.iter().map(|&u| u as f64 / 1000.0).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// `None` when there are no samples.
    pub(crate) fn summary(&self) -> Option<Summary> {
        if self.micros.is_empty() {
            return None;
        }
        let mut v = self.micros.clone();
        v.sort_unstable();
        let at = |q: f64| {
            // Nearest rank: the smallest sample with at least q of all samples at or below it.
            let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
            v[rank - 1] as f64 / 1000.0
        };
        let sum: u128 = v.iter().map(|&u| u128::from(u)).sum();
        Some(Summary {
            count: v.len(),
            p50: round3(at(0.50)),
            p99: round3(at(0.99)),
            p999: round3(at(0.999)),
            max: round3(*v.last().unwrap_or(&0) as f64 / 1000.0),
            mean: round3(sum as f64 / v.len() as f64 / 1000.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        for ms in 1..=1000u64 {
            s.push(Duration::from_millis(ms));
        }
        let sum = s.summary().unwrap();
        assert_eq!(
            (sum.count, sum.p50, sum.p99, sum.p999, sum.max),
            (1000, 500.0, 990.0, 999.0, 1000.0)
        );
        assert_eq!(sum.mean, 500.5);
        assert!(Samples::default().summary().is_none());
    }
}
