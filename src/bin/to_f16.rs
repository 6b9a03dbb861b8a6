//! Writes a half-precision copy of a model folder for hosting: config.json and tokenizer.json
//! copied, model.safetensors with every f32 weight stored as f16 (or bf16) — half the download.
//! The engine widens them back to f32 when it loads.
//!
//! cargo run --release --bin to_f16 -- <model folder> <output folder> [--bf16]
use std::path::PathBuf;

use attention_explorer::engine::to_half_precision;
use candle_core::DType;

fn main() {
    if let Err(message) = run() {
        eprintln!("to_f16: {message}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut folders = Vec::new();
    let mut dtype = DType::F16;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--bf16" => dtype = DType::BF16,
            "--help" | "-h" => {
                return Err("usage: to_f16 <model folder> <output folder> [--bf16]".into())
            }
            _ => folders.push(PathBuf::from(arg)),
        }
    }
    let [input, output] = folders.as_slice() else {
        return Err("usage: to_f16 <model folder> <output folder> [--bf16]".into());
    };
    std::fs::create_dir_all(output)
        .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(input.join(file), output.join(file))
            .map_err(|e| format!("cannot copy {}: {e}", input.join(file).display()))?;
    }
    let weights = input.join("model.safetensors");
    let bytes =
        std::fs::read(&weights).map_err(|e| format!("cannot read {}: {e}", weights.display()))?;
    let halved = to_half_precision(&bytes, dtype).map_err(|e| e.to_string())?;
    std::fs::write(output.join("model.safetensors"), &halved)
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    println!(
        "{} → {}: {} → {} bytes ({dtype:?})",
        input.display(),
        output.display(),
        bytes.len(),
        halved.len()
    );
    Ok(())
}
