//! Choosing where tensors live: CPU by default, CUDA or Metal when compiled in.

use candle_core::{DType, Device};

/// Parses `f32`, `f16` or `bf16`: the type of a dense (safetensors) model's weights and
/// activations. GGUF models keep their stored weight types and run f32 activations.
pub fn parse_dtype(spec: &str) -> anyhow::Result<DType> {
    match spec.trim() {
        "f32" => Ok(DType::F32),
        "f16" => Ok(DType::F16),
        "bf16" => Ok(DType::BF16),
        other => anyhow::bail!("unknown dtype '{other}': use f32, f16 or bf16"),
    }
}

/// Parses `cpu`, `cuda:N` or `metal` into a device, with a clear error where this build lacks
/// the backend.
pub fn parse_device(spec: &str) -> anyhow::Result<Device> {
    let spec = spec.trim();
    if spec == "cpu" {
        return Ok(Device::Cpu);
    }
    if let Some(rest) = spec.strip_prefix("cuda") {
        let ordinal: usize = match rest.strip_prefix(':') {
            Some(n) => n
                .parse()
                .map_err(|_| anyhow::anyhow!("device '{spec}': expected cuda:N"))?,
            None if rest.is_empty() => 0,
            None => anyhow::bail!("device '{spec}': expected cuda:N"),
        };
        if !candle_core::utils::cuda_is_available() {
            anyhow::bail!(
                "device '{spec}': this build has no CUDA support (build with --features cuda)"
            );
        }
        return Device::new_cuda(ordinal).map_err(|e| {
            anyhow::anyhow!(
                "device '{spec}': cannot open CUDA device {ordinal} ({e}); is an NVIDIA GPU with \
                 its driver here, and are the CUDA 13 libraries on LD_LIBRARY_PATH?"
            )
        });
    }
    if spec == "metal" {
        if !candle_core::utils::metal_is_available() {
            anyhow::bail!(
                "device '{spec}': this build has no Metal support (build with --features metal)"
            );
        }
        return Ok(Device::new_metal(0)?);
    }
    anyhow::bail!("unknown device '{spec}': use cpu, cuda:N or metal")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_or_explain() {
        assert!(parse_device("cpu").unwrap().is_cpu());
        assert!(parse_device("tpu")
            .unwrap_err()
            .to_string()
            .contains("unknown device"));
        assert_eq!(parse_dtype("bf16").unwrap(), DType::BF16);
        assert!(parse_dtype("f64")
            .unwrap_err()
            .to_string()
            .contains("f32, f16 or bf16"));
        if !candle_core::utils::cuda_is_available() {
            assert!(parse_device("cuda:0")
                .unwrap_err()
                .to_string()
                .contains("--features cuda"));
        }
    }
}
