//! Products cut into blocks of their weight's rows (`engine/parallel.rs`, what a pool of
//! threads computes side by side) give bitwise the uncut numbers: tests/parallel.rs natively
//! (with and without a pool), tests/wasm_engine.rs in the browser.
use crate::common;
use attention_explorer::engine::{pieces, set_pieces, Model};

/// `work` with products uncut, then cut into `cut` pieces; panics unless equal. Leaves the
/// engine uncut.
fn same_when_cut<T: PartialEq + std::fmt::Debug>(what: &str, cut: usize, work: impl Fn() -> T) {
    set_pieces(1);
    let uncut = work();
    set_pieces(cut);
    assert_eq!(pieces(), cut);
    let cut_result = work();
    set_pieces(1);
    assert!(
        uncut == cut_result,
        "{what}: cut into {cut} pieces, the numbers changed"
    );
}

/// Every one-text fixture's trace, predictions and saliency, and an encoder–decoder's trace,
/// cut into `cut` pieces.
pub fn fixtures_are_the_same_cut_in(cut: usize) {
    let one_text = [
        fixture!("gpt2").load(),
        fixture!("distilbert").load(),
        gguf_fixture!("llama").load(),
    ];
    for fixture in &one_text {
        let (model, ids) = (&fixture.model, fixture.ids(0));
        let name = |what: &str| format!("{}'s {what}", fixture.name);
        same_when_cut(&name("trace"), cut, || model.trace(&ids).expect("trace"));
        let predictions = || model.predict(&ids, 5, 1.0).ok();
        same_when_cut(&name("predictions"), cut, predictions);
        let saliency = || model.saliency(&ids, None, None).ok();
        same_when_cut(&name("saliency"), cut, saliency);
    }
    let t5 = fixture!("t5").load();
    let pair = &t5.meta["pairs"][0];
    let ids = |key: &str| -> Vec<u32> {
        let ids = pair[key].as_array().expect("ids");
        ids.iter()
            .map(|id| id.as_u64().expect("id") as u32)
            .collect()
    };
    let model: &Model = &t5.model;
    same_when_cut("t5", cut, || {
        model
            .encoder_decoder_trace(&ids("source_ids"), &ids("target_ids"))
            .expect("trace")
    });
}

/// The one-pass activations over GPT-2 small's hidden layer at 100 tokens (and 3 values more,
/// the pass's tail), cut into `cut` pieces.
pub fn activations_are_the_same_cut_in(cut: usize) {
    use attention_explorer::engine::Activation;
    use candle_core::{Device, Tensor};
    let xs = Tensor::randn(0f32, 3.0, 100 * 3072 + 3, &Device::Cpu).expect("x");
    for activation in [Activation::GeluTanh, Activation::GeluErf, Activation::Relu] {
        let values = || {
            let ys = activation.forward(&xs).expect("activation");
            let values = ys.to_vec1::<f32>().expect("values");
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        same_when_cut(&format!("{activation:?}"), cut, values);
    }
}

/// Products of GPT-2 small's shapes (d_model 768: its QKV and its MLP's second layer) over
/// 1, 8 and 100 rows — each order the engine picks by rows — and their backward (grad·W),
/// cut into `cut` pieces.
pub fn real_sizes_are_the_same_cut_in(cut: usize) {
    use attention_explorer::engine::Linear;
    use candle_core::{Device, Module, Tensor};
    let device = Device::Cpu;
    // (The 50,257-row head is left out: in the wasm test's debug build it alone takes ~18 s,
    // and the test runner gives a test 20 s. The fixtures' heads are cut above.)
    for (out, input) in [(2304, 768), (768, 3072)] {
        let weight = Tensor::randn(0f32, 1.0, (out, input), &device).expect("weight");
        let bias = Tensor::randn(0f32, 1.0, out, &device).expect("bias");
        let layer = Linear::new(weight, Some(bias));
        for rows in [1, 8, 100] {
            let xs = Tensor::randn(0f32, 1.0, (rows, input), &device).expect("x");
            let product = || {
                let ys = layer.forward(&xs).expect("product");
                ys.flatten_all()
                    .and_then(|t| t.to_vec1::<f32>())
                    .expect("values")
            };
            same_when_cut(
                &format!("[{rows}, {input}] × [{out}, {input}]ᵀ"),
                cut,
                product,
            );
            // The backward's grad·W, as saliency takes it.
            let mix = Tensor::randn(0f32, 1.0, (rows, out), &device).expect("mix");
            let gradient = || {
                let x = candle_core::Var::from_tensor(&xs).expect("var");
                let ys = layer.forward(x.as_tensor()).expect("product");
                let total = ys.mul(&mix).and_then(|t| t.sum_all()).expect("sum");
                let grads = total.backward().expect("backward");
                let grad = grads.get(x.as_tensor()).expect("x's gradient");
                grad.flatten_all()
                    .and_then(|t| t.to_vec1::<f32>())
                    .expect("values")
            };
            same_when_cut(
                &format!("[{rows}, {out}] · [{out}, {input}]"),
                cut,
                gradient,
            );
        }
    }
}
