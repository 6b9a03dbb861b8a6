//! The benchmark's floor: candle's f32 matmuls timed in the worker, on the shapes of a forward
//! pass, in every order the engine could compute them. Needs no model; the product worker
//! answers it so the benchmark measures the same build the page runs.
use candle_core::{Device, Module, Tensor};

use ae_engine::{EngineError, Linear, Result};
use ae_messages::Response;

/// Milliseconds on a monotonic clock (the worker's `performance.now()` in the browser; std's
/// clock natively and in wasm32-wasip1, where `scripts/bench-wasi.sh` runs the engine).
pub(crate) fn now_ms() -> f64 {
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        use wasm_bindgen::JsCast;
        js_sys::global()
            .unchecked_into::<web_sys::WorkerGlobalScope>()
            .performance()
            .map_or_else(js_sys::Date::now, |p| p.now())
    }
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs_f64()
            * 1e3
    }
}

/// The largest matmul a benchmark request may ask for, in multiply-adds (GPT-2's LM head at 512
/// tokens is 2·10¹⁰).
const MAX_BENCHMARK_MACS: u64 = 40_000_000_000;

/// The most memory a cold matmul benchmark may fill with copies of one weight, in bytes (wasm32
/// has 4 GiB; one layout's copies are held at a time).
const MAX_COLD_BYTES: usize = 1 << 30;

fn time_matmuls(
    shapes: &[(usize, usize, usize)],
    runs: usize,
    cold_bytes: usize,
) -> Result<[Vec<f64>; 4]> {
    let runs = runs.clamp(1, 50);
    if cold_bytes > MAX_COLD_BYTES {
        return Err(EngineError::bad_request(format!(
            "cold_bytes {cold_bytes} is more than the {MAX_COLD_BYTES} bytes a cold matmul benchmark may fill"
        )));
    }
    // One sample is one product on each weight in turn. Browsers round `performance.now()` to
    // 0.1 ms without cross-origin isolation, so a short sample is repeated until it lasts
    // ~10 ms, and divided.
    let ms_per_product = |weights: &[Tensor],
                          product: &dyn Fn(&Tensor) -> candle_core::Result<Tensor>|
     -> Result<f64> {
        let sample = || -> candle_core::Result<()> {
            for weight in weights {
                product(weight)?;
            }
            Ok(())
        };
        let start = now_ms();
        sample()?;
        let once = (now_ms() - start).max(0.01);
        let repeats = (10.0 / once).ceil().clamp(1.0, 1000.0) as usize;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = now_ms();
            for _ in 0..repeats {
                sample()?;
            }
            times.push((now_ms() - start) / (repeats * weights.len().max(1)) as f64);
        }
        times.sort_by(f64::total_cmp);
        Ok(times[runs / 2])
    };
    let (mut k_n, mut n_k, mut weight_first, mut engine) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for &(m, k, n) in shapes {
        if m == 0 || k == 0 || n == 0 || (m as u64) * (k as u64) * (n as u64) > MAX_BENCHMARK_MACS {
            return Err(EngineError::bad_request(format!(
                "matmul {m}×{k}×{n} is empty or too large to time"
            )));
        }
        // Cold: enough distinct copies to fill `cold_bytes`, and at least two, so that each
        // product reads a weight the previous one did not.
        let weight_bytes = k * n * std::mem::size_of::<f32>();
        let copies = match cold_bytes {
            0 => 1,
            bytes => bytes.div_ceil(weight_bytes).clamp(2, 10_000),
        };
        if cold_bytes > 0 && copies * weight_bytes > MAX_COLD_BYTES {
            return Err(EngineError::bad_request(format!(
                "timing {m}×{k}×{n} cold needs {copies} copies of its {:.0} MB weight, more than \
                 the {MAX_COLD_BYTES} bytes a cold matmul benchmark may fill: time it warm \
                 (cold_bytes 0)",
                weight_bytes as f64 / 1e6
            )));
        }
        // Constant operands: a matmul's time does not depend on the values, and drawing 77M
        // normal samples for GPT-2's head would take seconds in wasm (the benchmark times
        // these shapes beside every measured run).
        let weights = |dims: (usize, usize)| -> candle_core::Result<Vec<Tensor>> {
            (0..copies)
                .map(|_| Tensor::full(0.25f32, dims, &Device::Cpu))
                .collect()
        };
        let x = Tensor::full(0.5f32, (m, k), &Device::Cpu)?;
        // One layout's copies at a time: cold copies of GPT-2's head fill ~0.6 GB.
        k_n.push(ms_per_product(&weights((k, n))?, &|w| x.matmul(w))?);
        let stored_n_k = weights((n, k))?;
        n_k.push(ms_per_product(&stored_n_k, &|w| x.matmul(&w.t()?))?);
        weight_first.push(ms_per_product(&stored_n_k, &|w| w.matmul(&x.t()?)?.t())?);
        engine.push(ms_per_product(&stored_n_k, &|w| {
            Linear::new(w.clone(), None).forward(&x)
        })?);
    }
    Ok([k_n, n_k, weight_first, engine])
}

/// Answers a `MatmulBenchmark` request.
pub fn matmul_times(
    shapes: &[(usize, usize, usize)],
    runs: usize,
    cold_bytes: usize,
) -> Result<Response> {
    let [stored_k_n_ms, stored_n_k_ms, weight_first_ms, engine_ms] =
        time_matmuls(shapes, runs, cold_bytes)?;
    Ok(Response::MatmulTimes {
        stored_k_n_ms,
        stored_n_k_ms,
        weight_first_ms,
        engine_ms,
    })
}
