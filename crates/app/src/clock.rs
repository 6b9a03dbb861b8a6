//! The page's monotonic clock, for progress speeds and transfer times.

/// Milliseconds on `performance.now()` (0 where there is no window).
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}
