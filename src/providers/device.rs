//! Where local models run: the CPU by default, an NVIDIA GPU with the `cuda` cargo feature
//! and `models.device = "cuda"`.

use super::ProviderError;
use candle_core::Device;

/// The candle device for a config value ("cpu" or "cuda"), with an error that says what to do.
pub fn candle_device(name: &str) -> Result<Device, ProviderError> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" => cuda_device(),
        other => Err(ProviderError::Invalid {
            provider: "models".into(),
            message: format!("models.device = {other:?} is not known: use \"cpu\" or \"cuda\""),
        }),
    }
}

#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device, ProviderError> {
    // Checked first so a machine without the driver gets a message, not a loader panic.
    let driver_present = [
        "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
        "/usr/lib64/libcuda.so.1",
        "/usr/lib/libcuda.so.1",
    ]
    .iter()
    .any(|p| std::path::Path::new(p).exists())
        || std::env::var_os("LD_LIBRARY_PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|d| d.join("libcuda.so.1").exists())
        });
    if !driver_present {
        return Err(ProviderError::Invalid {
            provider: "models".into(),
            message: "models.device = \"cuda\" but no NVIDIA driver (libcuda.so.1) was found; use \"cpu\"".into(),
        });
    }
    Device::new_cuda(0).map_err(|e| ProviderError::Invalid {
        provider: "models".into(),
        message: format!("cannot open CUDA device 0: {e}; use models.device = \"cpu\""),
    })
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Result<Device, ProviderError> {
    Err(ProviderError::Invalid {
        provider: "models".into(),
        message: "models.device = \"cuda\" needs a build with the GPU feature: cargo build --release --features cuda".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_works_and_unknown_names_are_explained() {
        assert!(matches!(candle_device("cpu"), Ok(Device::Cpu)));
        let err = candle_device("tpu").unwrap_err().to_string();
        assert!(err.contains("tpu") && err.contains("cpu"), "{err}");
    }
}
