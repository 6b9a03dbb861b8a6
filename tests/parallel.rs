//! Products cut into blocks of their weight's rows, attention cut into blocks of heads and
//! activations into blocks of values give bitwise the uncut numbers, on every fixture: in
//! order on this thread, and (with the `threads` feature) on a pool of threads.
mod common;

#[test]
fn cut_products_change_no_number() {
    for pieces in [2, 3] {
        common::cut::fixtures_are_the_same_cut_in(pieces);
        common::cut::real_sizes_are_the_same_cut_in(pieces);
        common::cut::activations_are_the_same_cut_in(pieces);
    }
}
