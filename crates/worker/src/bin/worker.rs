//! The Web Worker's entry point (trunk builds it with `data-type="worker"`).
fn main() {
    ae_worker::run_binary();
}
