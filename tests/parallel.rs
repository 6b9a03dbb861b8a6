//! Products cut into blocks of their weight's rows, attention cut into blocks of heads and
//! activations into blocks of values give bitwise the uncut numbers, on every fixture: in
//! order on this thread, and (with the `threads` feature) on rayon's pool and on a team of
//! spinning threads.
mod common;

/// One test, as the number of pieces is the engine's global setting and the team's job is one
/// at a time.
#[test]
fn cut_work_changes_no_number() {
    let all_cut_in = |pieces| {
        common::cut::fixtures_are_the_same_cut_in(pieces);
        common::cut::real_sizes_are_the_same_cut_in(pieces);
        common::cut::activations_are_the_same_cut_in(pieces);
    };
    for pieces in [2, 3] {
        all_cut_in(pieces);
        // As the threaded worker runs a request: its thread leads a team of spinning threads.
        attention_explorer::engine::with_team(pieces, || all_cut_in(pieces));
    }
}
