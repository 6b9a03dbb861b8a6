//! The Web Worker's entry point (trunk builds it with `data-type="worker"`).
#[cfg(target_arch = "wasm32")]
fn main() {
    attention_explorer::worker::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "this is the browser worker of Attention Explorer; build it with trunk (scripts/serve.sh)"
    );
    std::process::exit(2);
}
