//! The page: a Leptos single-page app. Data flows one way: text → worker (tokenizer, engine)
//! → trace → shared signals → panels. It runs in a browser; natively it compiles so its plain
//! parts (the request queue, link parsing, model sources) are unit-tested.
mod app;
mod client;
mod clock;
#[cfg(target_arch = "wasm32")]
mod heap_meter;
mod i18n;
mod input;
mod integrity;
mod lesson;
mod link;
mod loading;
mod panels;
mod picker;
mod sources;
mod state;
mod url;
mod widgets;

pub use app::start;
