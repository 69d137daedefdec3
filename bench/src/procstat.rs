//! What a process costs, read from `/proc`: CPU time (user + system, from `/proc/<pid>/stat`)
//! and resident memory (`VmRSS` from `/proc/<pid>/status`). Used for the server (its own pid
//! when the bench started it, or `--pid`) and for the bench itself, so a load generator that
//! saturates a core is seen to.

use std::time::Duration;

use anyhow::{bail, Context};

/// Clock ticks per second of `/proc/<pid>/stat` times. Linux has used 100 on every
/// architecture otterdoc runs on; `getconf CLK_TCK` would need libc.
const CLK_TCK: f64 = 100.0;

/// Which process to read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pid {
    /// The bench itself.
    Own,
    /// Another process.
    Of(u32),
}

impl Pid {
    fn dir(self) -> String {
        match self {
            Pid::Own => "/proc/self".into(),
            Pid::Of(pid) => format!("/proc/{pid}"),
        }
    }

    /// CPU time used so far (user + system).
    pub(crate) fn cpu(self) -> anyhow::Result<Duration> {
        let path = format!("{}/stat", self.dir());
        let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        // The command name (field 2) is in parentheses and may hold spaces: split after it.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .context("malformed /proc stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
        if fields.len() < 13 {
            bail!("short /proc stat: {stat}");
        }
        let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
        Ok(Duration::from_secs_f64(ticks / CLK_TCK))
    }

    /// Resident set size in KiB.
    pub(crate) fn rss_kib(self) -> anyhow::Result<u64> {
        let path = format!("{}/status", self.dir());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .context("no VmRSS")?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("VmRSS value")?
            .parse()?)
    }
}

/// CPU and memory of one process over a measured phase, with the RSS peak sampled every 100 ms.
pub(crate) struct Meter {
    pid: Pid,
    cpu_start: Duration,
    rss_start: u64,
    peak: std::sync::Arc<std::sync::atomic::AtomicU64>,
    sampler: tokio::task::JoinHandle<()>,
}

/// What a [`Meter`] saw.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Usage {
    pub(crate) cpu: Duration,
    pub(crate) rss_before: u64,
    pub(crate) rss_after: u64,
    pub(crate) rss_peak: u64,
}

impl Meter {
    /// Starts measuring `pid`.
    pub(crate) fn start(pid: Pid) -> anyhow::Result<Meter> {
        let rss_start = pid.rss_kib()?;
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(rss_start));
        let sampler = {
            let peak = peak.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                loop {
                    tick.tick().await;
                    match pid.rss_kib() {
                        Ok(rss) => {
                            peak.fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(_) => return,
                    }
                }
            })
        };
        Ok(Meter {
            pid,
            cpu_start: pid.cpu()?,
            rss_start,
            peak,
            sampler,
        })
    }

    /// Ends the measurement.
    pub(crate) fn stop(self) -> anyhow::Result<Usage> {
        self.sampler.abort();
        let rss_after = self.pid.rss_kib()?;
        let peak = self
            .peak
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(rss_after);
        Ok(Usage {
            cpu: self.pid.cpu()?.saturating_sub(self.cpu_start),
            rss_before: self.rss_start,
            rss_after,
            rss_peak: peak,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_cpu_and_rss() {
        let before = Pid::Own.cpu().unwrap();
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert_ne!(x, 1);
        assert!(Pid::Own.cpu().unwrap() > before);
        assert!(Pid::Own.rss_kib().unwrap() > 100);
    }
}
