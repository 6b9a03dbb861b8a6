//! A mutation fuzzer over the loader: config.json, tokenizer.json and model.safetensors bytes
//! from the committed fixtures (the corpus), damaged at random (bit flips, overwritten or
//! inserted bytes, truncation, interesting header lengths, edited header digits), then loaded
//! — and, when they load, traced. Any panic fails the test and saves the input under
//! `test-artifacts/fuzz-crashes/`; an allocation sized by a damaged field would abort the
//! process (also a failure).
//!
//! `AE_FUZZ_SECONDS` sets the duration (default 20 s; the closing note reports a run of ≥ 600 s)
//! and `AE_FUZZ_SEED` the seed. The counts go to `test-artifacts/faults/fuzz.json`.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use attention_explorer::engine::Model;

/// A fixture's name, config.json, tokenizer.json and model.safetensors.
type Seed = (&'static str, &'static [u8], &'static [u8], &'static [u8]);

/// The corpus: every fixture folder's three files (a GGUF fixture's single file in the
/// weights slot).
const CORPUS: [Seed; 5] = [
    (
        "gpt2",
        include_bytes!("fixtures/gpt2/config.json"),
        include_bytes!("fixtures/gpt2/tokenizer.json"),
        include_bytes!("fixtures/gpt2/model.safetensors"),
    ),
    (
        "gpt2_hub_odd_f16",
        include_bytes!("fixtures/gpt2_hub_odd_f16/config.json"),
        include_bytes!("fixtures/gpt2_hub_odd_f16/tokenizer.json"),
        include_bytes!("fixtures/gpt2_hub_odd_f16/model.safetensors"),
    ),
    (
        "distilbert",
        include_bytes!("fixtures/distilbert/config.json"),
        include_bytes!("fixtures/distilbert/tokenizer.json"),
        include_bytes!("fixtures/distilbert/model.safetensors"),
    ),
    (
        "bert_mlm_odd",
        include_bytes!("fixtures/bert_mlm_odd/config.json"),
        include_bytes!("fixtures/bert_mlm_odd/tokenizer.json"),
        include_bytes!("fixtures/bert_mlm_odd/model.safetensors"),
    ),
    (
        "llama",
        b"",
        b"",
        include_bytes!("fixtures/llama/model.gguf"),
    ),
];

thread_local! {
    /// Whether the loader is running (its panics are collected, not printed).
    static IN_LOADER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The message of the loader's last panic.
    static LAST_PANIC: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Where the safetensors header ends (8 + its length), if the length field is sane.
fn header_end(bytes: &[u8]) -> Option<usize> {
    let length = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let end = usize::try_from(length).ok()?.checked_add(8)?;
    (end <= bytes.len()).then_some(end)
}

/// One random damage to `bytes`; `safetensors` enables the header-aware ones.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, safetensors: bool) {
    let choice = rng.below(if safetensors { 8 } else { 6 });
    let len = bytes.len();
    match choice {
        0 => {
            for _ in 0..1 + rng.below(8) {
                if len > 0 {
                    let at = rng.below(len);
                    bytes[at] ^= 1 << rng.below(8);
                }
            }
        }
        1 if len > 0 => {
            let at = rng.below(len);
            let end = (at + 1 + rng.below(16)).min(len);
            for b in &mut bytes[at..end] {
                *b = rng.next() as u8;
            }
        }
        2 => bytes.truncate(rng.below(len + 1)),
        3 => {
            let at = rng.below(len + 1);
            let extra: Vec<u8> = (0..1 + rng.below(32)).map(|_| rng.next() as u8).collect();
            bytes.splice(at..at, extra);
        }
        4 if len > 0 => {
            let at = rng.below(len);
            let end = (at + 1 + rng.below(64)).min(len);
            let chunk = bytes[at..end].to_vec();
            let to = rng.below(len + 1);
            bytes.splice(to..to, chunk);
        }
        5 => {
            // A digit in JSON text (shapes, offsets, sizes in config.json) becomes another.
            let digits: Vec<usize> = bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            if !digits.is_empty() {
                let at = digits[rng.below(digits.len())];
                bytes[at] = b"0123456789"[rng.below(10)];
                if rng.below(4) == 0 {
                    bytes.insert(at, b"0123456789"[rng.below(10)]);
                }
            }
        }
        6 if len >= 8 => {
            const INTERESTING: [u64; 7] =
                [0, 1, 7, u32::MAX as u64, 1 << 31, u64::MAX, 2_000_000_000];
            let value = match rng.below(3) {
                0 => INTERESTING[rng.below(INTERESTING.len())],
                1 => len as u64,
                _ => rng.next() % (len as u64 + 64),
            };
            bytes[..8].copy_from_slice(&value.to_le_bytes());
        }
        7 => {
            // Damage inside the header JSON only (names, dtypes, shapes, offsets).
            if let Some(end) = header_end(bytes) {
                if end > 8 {
                    let at = 8 + rng.below(end - 8);
                    bytes[at] = b"{}[]\",:0123456789FIUBabcdez -"[rng.below(29)];
                }
            }
        }
        _ => {}
    }
}

#[test]
fn the_loader_survives_damaged_files() {
    let seconds: u64 = std::env::var("AE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("AE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd);
    let mut rng = Rng(seed | 1);
    let started = Instant::now();
    let (mut executions, mut loaded, mut traced) = (0u64, 0u64, 0u64);
    let mut crashes = Vec::new();
    // Panics inside the loader are expected to be rare and are reported with the input; the
    // default hook would print each one. Panics anywhere else (a bug in this harness) still print.
    let default_hook = std::sync::Arc::new(std::panic::take_hook());
    let hook = default_hook.clone();
    std::panic::set_hook(Box::new(move |info| {
        if IN_LOADER.with(|flag| flag.get()) {
            LAST_PANIC.with(|last| *last.borrow_mut() = info.to_string());
        } else {
            hook(info);
        }
    }));
    while started.elapsed() < Duration::from_secs(seconds) {
        let (name, config, tokenizer, weights) = CORPUS[rng.below(CORPUS.len())];
        let mut files = [config.to_vec(), tokenizer.to_vec(), weights.to_vec()];
        for _ in 0..1 + rng.below(3) {
            let which = match rng.below(10) {
                0..=1 => 0,
                2 => 1,
                _ => 2,
            };
            mutate(&mut rng, &mut files[which], which == 2);
        }
        executions += 1;
        IN_LOADER.with(|flag| flag.set(true));
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let model = if attention_explorer::engine::is_gguf(files[2].as_slice()) {
                Model::from_gguf(files[2].as_slice()).ok()?
            } else {
                Model::from_bytes(&files[0], &files[1], &files[2]).ok()?
            };
            let ids = model.tokenize("The cat sat [MASK].").ok()?.ids;
            Some(model.trace(&ids).is_ok())
        }));
        IN_LOADER.with(|flag| flag.set(false));
        match outcome {
            Ok(None) => {}
            Ok(Some(ok)) => {
                loaded += 1;
                traced += ok as u64;
            }
            Err(_) => {
                let dir = format!(
                    "{}/test-artifacts/fuzz-crashes/{executions}-{name}",
                    env!("CARGO_MANIFEST_DIR")
                );
                let saved = std::fs::create_dir_all(&dir).and_then(|_| {
                    std::fs::write(format!("{dir}/config.json"), &files[0])?;
                    std::fs::write(format!("{dir}/tokenizer.json"), &files[1])?;
                    std::fs::write(format!("{dir}/model.safetensors"), &files[2])
                });
                let message = LAST_PANIC.with(|last| last.borrow().clone());
                crashes.push(format!("{dir} (saved: {}): {message}", saved.is_ok()));
            }
        }
    }
    let _ = std::panic::take_hook();
    if let Ok(hook) = std::sync::Arc::try_unwrap(default_hook) {
        std::panic::set_hook(hook);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let summary = serde_json::json!({
        "seconds": elapsed, "executions": executions, "loaded": loaded, "traced": traced,
        "panics": crashes.len(), "seed": seed,
    });
    println!("fuzz: {summary}");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/test-artifacts/faults");
    let _ = std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::write(format!("{dir}/fuzz.json"), summary.to_string()));
    assert!(
        executions > 100,
        "only {executions} executions in {elapsed:.0} s"
    );
    assert!(
        loaded > 0,
        "no mutated input loaded at all: the mutations are too coarse to reach the model"
    );
    assert!(
        crashes.is_empty(),
        "{} inputs panicked the loader:\n{}",
        crashes.len(),
        crashes.join("\n")
    );
}
