//! The page's entry point (trunk builds it with `data-type="main"`).
#[cfg(target_arch = "wasm32")]
fn main() {
    ae_app::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("Attention Explorer is a web page; build and serve it with scripts/serve.sh");
    std::process::exit(2);
}
