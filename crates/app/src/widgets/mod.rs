//! Widgets the panels share: the one chart component ([`ChartCanvas`]) with its downloads, the
//! bar chart, the vector strip, the key/value-group sentence, and small pickers and switches.
mod bar_chart;
mod chart_canvas;
mod export;
mod kv_group;
mod pickers;
mod vector;

pub use bar_chart::{BarChart, CaptionedBars};
pub use chart_canvas::{chart_width, ChartCanvas, Pointed, Tooltip};
pub use export::save_text;
pub use kv_group::KeyValueGroup;
pub use pickers::{Checkbox, HeadShortcuts, HeadSwitchTable, IndexSelect, WholeSlider};
pub use vector::vector;
