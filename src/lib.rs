//! Attention Explorer's command-line tools and cross-crate tests, over the workspace's crates:
//! `engine` runs the models (native and wasm), `messages` are what crosses the worker boundary,
//! `charts` draws them with plotters on any backend, `worker` answers the page's requests. The
//! page itself is the `ae-app` crate.
pub use ae_charts as charts;
pub use ae_engine as engine;
pub use ae_messages as messages;
pub use ae_worker as worker;
