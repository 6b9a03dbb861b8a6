//! The Web Worker's entry point (trunk builds it with `data-type="worker"`).
fn main() {
    attention_explorer::worker::run_binary();
}
