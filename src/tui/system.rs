//! The system pane's sampler: CPU and memory of this process, read from `/proc`, and the
//! first GPU through NVML. NVML is loaded at run time (`libnvidia-ml.so.1`), so a machine
//! without an NVIDIA driver builds and runs the same binary and simply shows "no GPU".
//!
//! `sample` is meant to be called about once a second from a blocking context; each call
//! is a handful of small file reads and, with a GPU, four NVML queries. Nothing here panics:
//! a value that cannot be read is reported as zero, because a missing reading on a
//! dashboard is better than a dashboard that stops.

use super::state::{GpuSample, SystemSample};
use crate::procstat::{cpu_times, rss_bytes};
use nvml_wrapper::Nvml;
use nvml_wrapper::error::NvmlError;
use std::time::Instant;

/// Takes one `SystemSample` per call; CPU percent is measured between consecutive calls
/// (the first call measures since `new`).
pub struct SystemSampler {
    /// `Err` holds the human reason shown instead of GPU figures; NVML initialisation is
    /// done once because it loads a shared library and talks to the driver.
    nvml: Result<Nvml, String>,
    cores: usize,
    /// Process CPU time (seconds) and wall clock at the previous sample.
    last_cpu_s: f64,
    last_at: Instant,
}

impl SystemSampler {
    pub fn new() -> Self {
        let cores = crate::procstat::available_cores();
        SystemSampler {
            nvml: Nvml::init().map_err(|e| format!("no GPU (NVML: {})", nvml_reason(&e))),
            cores,
            last_cpu_s: cpu_times().own_s,
            last_at: Instant::now(),
        }
    }

    pub fn sample(&mut self) -> SystemSample {
        let now = Instant::now();
        let cpu_s = cpu_times().own_s;
        let wall_s = now.duration_since(self.last_at).as_secs_f64();
        // Clock ticks are 10 ms: a near-zero wall interval would turn one tick into a huge
        // percentage, so such a call reports 0 rather than noise.
        let cpu_percent = if wall_s > 0.001 {
            ((cpu_s - self.last_cpu_s).max(0.0) / wall_s * 100.0) as f32
        } else {
            0.0
        };
        self.last_cpu_s = cpu_s;
        self.last_at = now;
        SystemSample {
            cpu_percent,
            rss_bytes: rss_bytes(),
            cores: self.cores,
            gpu: self.gpu(),
        }
    }

    /// Device 0 only: the pipeline uses one GPU, and the pane has room for one.
    fn gpu(&self) -> Result<GpuSample, String> {
        let nvml = self.nvml.as_ref().map_err(Clone::clone)?;
        let device = nvml
            .device_by_index(0)
            .map_err(|e| format!("no GPU (NVML: {})", nvml_reason(&e)))?;
        // Individual queries can be unsupported on some boards (encoder stats on
        // data-centre parts without NVENC); those read as zero instead of hiding the GPU.
        let name = device.name().unwrap_or_else(|_| "GPU 0".to_string());
        let utilization_percent = device.utilization_rates().map(|u| u.gpu).unwrap_or(0);
        let (memory_used_bytes, memory_total_bytes) = device
            .memory_info()
            .map(|m| (m.used, m.total))
            .unwrap_or((0, 0));
        let encoder_percent = device
            .encoder_utilization()
            .map(|u| u.utilization)
            .unwrap_or(0);
        Ok(GpuSample {
            name,
            utilization_percent,
            memory_used_bytes,
            memory_total_bytes,
            encoder_percent,
        })
    }
}

impl Default for SystemSampler {
    fn default() -> Self {
        Self::new()
    }
}

/// A short reason for the status line; NVML's own messages for a missing library are long
/// and name internal symbols.
fn nvml_reason(error: &NvmlError) -> String {
    match error {
        NvmlError::LibloadingError(_) | NvmlError::FailedToLoadSymbol(_) => {
            "driver library not found".to_string()
        }
        NvmlError::DriverNotLoaded => "driver not loaded".to_string(),
        NvmlError::LibraryNotFound => "library not found".to_string(),
        NvmlError::NoPermission => "permission denied".to_string(),
        NvmlError::InvalidArg | NvmlError::NotFound => "no device".to_string(),
        other => {
            let text = other.to_string();
            match text.char_indices().nth(60) {
                Some((cut, _)) => format!("{}…", &text[..cut]),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[cfg(target_os = "linux")]
    #[test]
    fn cpu_percent_rises_while_a_thread_spins() {
        let mut sampler = SystemSampler::new();
        let spinner = std::thread::spawn(|| {
            let start = Instant::now();
            let mut x: u64 = 0;
            while start.elapsed() < Duration::from_millis(300) {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            x
        });
        spinner.join().expect("the spinning thread does not panic");
        let sample = sampler.sample();
        // One spinning thread is ~100 % of a core; 20 % leaves room for a loaded machine.
        assert!(
            sample.cpu_percent > 20.0,
            "cpu_percent = {}",
            sample.cpu_percent
        );
        assert!(sample.cpu_percent < 100.0 * sample.cores as f32 + 50.0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn rss_and_cores_are_read() {
        let sample = SystemSampler::new().sample();
        assert!(sample.rss_bytes > 1024 * 1024, "rss = {}", sample.rss_bytes);
        assert!(sample.cores >= 1);
    }

    #[test]
    fn sampler_can_run_on_its_own_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<SystemSampler>();
    }

    #[test]
    fn gpu_is_absent_or_complete() {
        let sample = SystemSampler::new().sample();
        match sample.gpu {
            // This machine has no NVIDIA driver: the reason must be short and say so.
            Err(reason) => {
                assert!(reason.contains("no GPU"), "{reason}");
                assert!(reason.chars().count() < 90, "{reason}");
            }
            Ok(gpu) => {
                assert!(!gpu.name.is_empty());
                assert!(gpu.memory_used_bytes <= gpu.memory_total_bytes);
            }
        }
    }

    #[test]
    fn back_to_back_samples_do_not_explode() {
        let mut sampler = SystemSampler::new();
        let _ = sampler.sample();
        let sample = sampler.sample();
        assert!(sample.cpu_percent.is_finite());
        assert!(sample.cpu_percent >= 0.0);
    }
}
