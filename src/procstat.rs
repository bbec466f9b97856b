//! This process's use of the machine, read from `/proc`: CPU time (its own threads and its
//! reaped children), resident memory now and at its peak. Zero where `/proc` is missing.

/// CPU time of the process's own threads and of its children that have exited and been
/// waited for (ffmpeg, espeak-ng), seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuTimes {
    pub own_s: f64,
    pub children_s: f64,
}

impl CpuTimes {
    pub fn total_s(&self) -> f64 {
        self.own_s + self.children_s
    }
}

#[cfg(target_os = "linux")]
pub fn cpu_times() -> CpuTimes {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return CpuTimes::default();
    };
    // The command name (field 2) is in parentheses and may itself contain spaces or ')',
    // so fields are counted from the last ')': state is then field 0, utime 11, stime 12,
    // cutime 13, cstime 14.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return CpuTimes::default();
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = if per_second > 0 {
        per_second as f64
    } else {
        100.0
    };
    CpuTimes {
        own_s: (ticks(11) + ticks(12)) as f64 / per_second,
        children_s: (ticks(13) + ticks(14)) as f64 / per_second,
    }
}

#[cfg(not(target_os = "linux"))]
pub fn cpu_times() -> CpuTimes {
    CpuTimes::default()
}

/// Resident set size now: `/proc/self/statm` field 2 is in pages.
#[cfg(target_os = "linux")]
pub fn rss_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf only reads a configuration value.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page_size = if page_size > 0 {
        page_size as u64
    } else {
        4096
    };
    pages * page_size
}

#[cfg(not(target_os = "linux"))]
pub fn rss_bytes() -> u64 {
    0
}

/// The cores this process may use (1 when unknown), read once: the standard library reads
/// the affinity mask and cgroup quota files on every call, and the model kernels ask per
/// product.
pub fn available_cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The largest resident set size the process has had (`VmHWM`), bytes.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(0)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn readings_are_plausible() {
        let spin = std::time::Instant::now();
        while spin.elapsed().as_millis() < 50 {
            std::hint::black_box(0u64);
        }
        assert!(cpu_times().own_s > 0.0);
        let rss = rss_bytes();
        assert!(rss > 1 << 20, "rss {rss}");
        assert!(peak_rss_bytes() >= rss);
    }
}
