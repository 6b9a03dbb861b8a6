//! The attention grids the heatmaps draw (head, head average, hidden special tokens with
//! renormalisation, top share) against the trace, and the charts rendered to SVG.
mod common;

use attention_explorer::charts::{
    attention_grid, bars_table, draw_bars, draw_head_lines, draw_heatmap, draw_thumbnail,
    grid_table, hidden_positions, matrix_table, series_table, svg_document, AttentionGrid, Bar,
    Cell, DataRow, DataTable, GridOptions, HeadLines, HeatmapWords, Highlight, Matrix, Theme,
};
use attention_explorer::engine::PageTrace;
use plotters::prelude::*;

/// The page's trace of `text` (the heatmaps draw from it).
fn traced(files: common::FixtureFiles, text: &str) -> (PageTrace, Vec<bool>) {
    let fixture = files.load();
    let tokens = fixture.model.tokenize(text).expect("tokenize");
    let trace = fixture.model.page_trace(&tokens.ids).expect("trace").trace;
    (trace, tokens.special)
}

/// attentions[layer, head, query, key]
fn weight(trace: &PageTrace, layer: usize, head: usize, query: usize, key: usize) -> f32 {
    let [_, heads, tokens, _] = trace.attentions.shape[..] else {
        panic!("shape")
    };
    trace.attentions.data[((layer * heads + head) * tokens + query) * tokens + key]
}

#[test]
fn one_head_is_the_trace_and_the_future_is_masked() {
    let (trace, special) = traced(
        fixture!("gpt2"),
        "The cat sat on the mat because it was warm.",
    );
    let grid = attention_grid(&trace, &special, 1, 2, GridOptions::default()).expect("grid");
    let n = trace.tokens.len();
    assert_eq!(grid.size(), n);
    assert!(!grid.renormalised);
    for query in 0..n {
        for key in 0..n {
            match grid.cell(query, key) {
                Cell::Masked => assert!(key > query, "only future keys are masked"),
                Cell::Weight(value) => {
                    assert!(key <= query);
                    assert_eq!(value, weight(&trace, 1, 2, query, key));
                }
                Cell::BelowShare(_) => panic!("nothing is filtered at share 1"),
            }
        }
    }
}

#[test]
fn head_average_is_the_mean_over_heads() {
    let (trace, special) = traced(fixture!("distilbert"), "the cat sat on the mat");
    let options = GridOptions {
        average_heads: true,
        ..GridOptions::default()
    };
    let grid = attention_grid(&trace, &special, 0, 0, options).expect("grid");
    let heads = trace.attentions.shape[1];
    let n = trace.tokens.len();
    for query in 0..n {
        for key in 0..n {
            let mean = (0..heads)
                .map(|h| weight(&trace, 0, h, query, key))
                .sum::<f32>()
                / heads as f32;
            let shown = grid
                .cell(query, key)
                .value()
                .expect("encoders mask nothing");
            assert!(
                (shown - mean).abs() < 1e-6,
                "({query}, {key}): {shown} vs {mean}"
            );
        }
    }
}

#[test]
fn hiding_special_tokens_renormalises_the_remaining_rows() {
    let (trace, special) = traced(fixture!("distilbert"), "the cat sat on the mat");
    assert!(
        special[0] && special[special.len() - 1],
        "[CLS] and [SEP] are special"
    );
    let options = GridOptions {
        hide_special: true,
        ..GridOptions::default()
    };
    let grid = attention_grid(&trace, &special, 1, 1, options).expect("grid");
    let kept: Vec<usize> = (0..special.len()).filter(|&i| !special[i]).collect();
    assert_eq!(grid.positions, kept);
    assert!(grid.renormalised);
    for (row, &query) in kept.iter().enumerate() {
        let kept_mass: f32 = kept
            .iter()
            .map(|&key| weight(&trace, 1, 1, query, key))
            .sum();
        let mut row_sum = 0.0;
        for (column, &key) in kept.iter().enumerate() {
            let shown = grid.cell(row, column).value().expect("weight");
            let expected = weight(&trace, 1, 1, query, key) / kept_mass;
            assert!(
                (shown - expected).abs() < 1e-6,
                "({query}, {key}): {shown} vs {expected}"
            );
            row_sum += shown;
        }
        assert!(
            (row_sum - 1.0).abs() < 1e-5,
            "row {query} sums to {row_sum}"
        );
    }
    // Decoders hide their first token, the usual attention sink.
    let (gpt2, special) = traced(fixture!("gpt2"), "The cat sat on the mat.");
    assert_eq!(hidden_positions(&gpt2, &special), vec![0]);
}

#[test]
fn top_share_keeps_the_fewest_strongest_keys_reaching_the_share() {
    let (trace, special) = traced(
        fixture!("gpt2"),
        "The cat sat on the mat because it was warm.",
    );
    let share = 0.6;
    let options = GridOptions {
        top_share: share,
        ..GridOptions::default()
    };
    let grid = attention_grid(&trace, &special, 1, 0, options).expect("grid");
    let n = grid.size();
    let mut filtered = 0;
    for row in 0..n {
        let mut kept: Vec<f32> = Vec::new();
        let mut dropped: Vec<f32> = Vec::new();
        for column in 0..n {
            match grid.cell(row, column) {
                Cell::Weight(v) => kept.push(v),
                Cell::BelowShare(v) => dropped.push(v),
                Cell::Masked => {}
            }
        }
        let kept_sum: f32 = kept.iter().sum();
        let weakest_kept = kept.iter().copied().fold(f32::INFINITY, f32::min);
        assert!(
            kept_sum >= share - 1e-6,
            "row {row}: kept {kept_sum} < {share}"
        );
        assert!(
            dropped.iter().all(|&d| d <= weakest_kept),
            "row {row}: a dropped weight beats a kept one"
        );
        assert!(
            kept_sum - weakest_kept < share + 1e-6,
            "row {row}: the weakest kept key was not needed"
        );
        filtered += dropped.len();
    }
    assert!(
        filtered > 0,
        "a 60 % share filters something in an 11-token sentence"
    );
}

/// The text of every `<text>` element of an SVG document.
fn svg_texts(svg: &str) -> Vec<&str> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| t.split('>').nth(1))
        .map(|t| t.trim_end_matches("</text").trim())
        .collect()
}

/// A cross-attention grid (target × source) is drawn with its own row and column labels, and
/// its cells map back from pixels with rows ≠ columns.
#[test]
fn a_rectangular_grid_has_its_rows_and_columns() {
    let weights = [0.5, 0.25, 0.25, 0.0, 1.0, 0.0];
    let rows = vec!["<pad>".to_string(), "2".into()];
    let columns = vec!["▁two".to_string(), "▁thousand".into(), "</s>".into()];
    let grid =
        AttentionGrid::of_matrix(&weights, rows, columns, |_, column| column == 2).expect("grid");
    assert_eq!((grid.size(), grid.columns()), (2, 3));
    assert_eq!(grid.cell(1, 1), Cell::Weight(1.0));
    assert_eq!(grid.cell(0, 2), Cell::Masked);
    assert!(AttentionGrid::of_matrix(&weights, vec![], vec![], |_, _| false).is_err());
    let mut svg = String::new();
    let area = {
        let root = SVGBackend::with_string(&mut svg, (520, 440)).into_drawing_area();
        let highlight = Highlight {
            query: Some(1),
            key: Some(0),
        };
        let area = draw_heatmap(
            &root,
            &grid,
            highlight,
            &Theme::LIGHT,
            &HeatmapWords::ENGLISH,
        )
        .expect("draw");
        root.present().expect("present");
        area
    };
    let texts = svg_texts(&svg);
    for label in ["▁two", "▁thousand", "&lt;/s&gt;", "&lt;pad&gt;", "2"] {
        assert!(texts.contains(&label), "label {label} missing: {texts:?}");
    }
    let cell_w = (area.right - area.left) as f64 / 3.0;
    let cell_h = (area.bottom - area.top) as f64 / 2.0;
    let centre = |row: usize, column: usize| {
        (
            area.left as f64 + (column as f64 + 0.5) * cell_w,
            area.top as f64 + (row as f64 + 0.5) * cell_h,
        )
    };
    let (x, y) = centre(1, 2);
    assert_eq!(area.cell_at(x, y, 2, 3), Some((1, 2)));
}

#[test]
fn heatmap_svg_has_labels_legend_and_every_cell() {
    let (trace, special) = traced(fixture!("gpt2"), "The cat sat on the mat.");
    let grid = attention_grid(&trace, &special, 0, 0, GridOptions::default()).expect("grid");
    let mut svg = String::new();
    let area = {
        let root = SVGBackend::with_string(&mut svg, (520, 440)).into_drawing_area();
        let highlight = Highlight::token(Some(2));
        let area = draw_heatmap(
            &root,
            &grid,
            highlight,
            &Theme::LIGHT,
            &HeatmapWords::ENGLISH,
        )
        .expect("draw");
        root.present().expect("present");
        area
    };
    std::fs::write(concat!(env!("CARGO_TARGET_TMPDIR"), "/heatmap.svg"), &svg).expect("write svg");
    let texts = svg_texts(&svg);
    for token in &grid.labels {
        let escaped = token.replace('&', "&amp;").replace('<', "&lt;");
        // Each token labels one row and one column.
        assert_eq!(
            texts.iter().filter(|t| **t == escaped).count() % 2,
            0,
            "label {token}"
        );
        assert!(texts.contains(&escaped.as_str()), "label {token} missing");
    }
    assert!(
        texts.contains(&"weight") && texts.contains(&"masked"),
        "legend missing: {texts:?}"
    );
    assert!(
        texts.contains(&"0.0") && texts.contains(&"1.0"),
        "legend ticks missing: {texts:?}"
    );
    let n = grid.size();
    // The pixel area maps back to cells: centre of (row, column) → (row, column).
    let cell_w = (area.right - area.left) as f64 / n as f64;
    let cell_h = (area.bottom - area.top) as f64 / n as f64;
    for (row, column) in [(0, 0), (n - 1, 0), (3, 2), (n - 1, n - 1)] {
        let x = area.left as f64 + (column as f64 + 0.5) * cell_w;
        let y = area.top as f64 + (row as f64 + 0.5) * cell_h;
        assert_eq!(area.cell_at(x, y, n, n), Some((row, column)));
    }
    assert_eq!(
        area.cell_at(area.left as f64 - 2.0, area.top as f64 + 1.0, n, n),
        None
    );

    let mut thumbnail = String::new();
    {
        let root = SVGBackend::with_string(&mut thumbnail, (64, 64)).into_drawing_area();
        draw_thumbnail(&root, &grid, true, &Theme::DARK).expect("thumbnail");
        root.present().expect("present");
    }
    assert!(
        thumbnail.matches("<rect").count() > n * n,
        "one rect per cell plus background"
    );
}

#[test]
fn line_view_draws_one_line_per_visible_weight_and_focus_narrows_it() {
    let (trace, _) = traced(fixture!("distilbert"), "the cat sat on the mat");
    let n = trace.tokens.len();
    let head_size = n * n;
    let heads: Vec<(usize, &[f32])> = (0..2)
        .map(|h| {
            (
                h,
                &trace.attentions.data[h * head_size..(h + 1) * head_size],
            )
        })
        .collect();
    let min_weight = 0.02;
    let visible = |focus: Option<usize>| {
        heads
            .iter()
            .map(|(_, w)| {
                w.iter()
                    .enumerate()
                    .filter(|(i, &x)| x >= min_weight && focus.is_none_or(|q| i / n == q))
                    .count()
            })
            .sum::<usize>()
    };
    for focus in [None, Some(3)] {
        let mut svg = String::new();
        let drawn = {
            let root = SVGBackend::with_string(&mut svg, (400, 300)).into_drawing_area();
            let lines = HeadLines {
                queries: &trace.tokens,
                keys: &trace.tokens,
                keys_left: false,
                titles: None,
                heads: heads.clone(),
                focus,
                min_weight,
            };
            let drawn = draw_head_lines(&root, &lines, &Theme::LIGHT).expect("draw");
            root.present().expect("present");
            drawn
        };
        assert_eq!(drawn, visible(focus));
        assert_eq!(svg.matches("<polyline").count(), drawn);
    }
}

#[test]
fn cross_attention_lines_join_the_target_on_the_right_to_the_source_on_the_left() {
    let (target, source) = (
        vec!["a".to_string(), "b".to_string()],
        vec!["x".to_string(), "y".to_string(), "z".to_string()],
    );
    // 2 target × 3 source weights; one under the minimum.
    let weights = [0.5, 0.001, 0.499, 0.2, 0.3, 0.5];
    let draw = |titles: Option<[&str; 2]>| {
        let mut svg = String::new();
        let drawn = {
            let root = SVGBackend::with_string(&mut svg, (400, 300)).into_drawing_area();
            let lines = HeadLines {
                queries: &target,
                keys: &source,
                keys_left: true,
                titles,
                heads: vec![(0, &weights[..])],
                focus: None,
                min_weight: 0.01,
            };
            let drawn = draw_head_lines(&root, &lines, &Theme::LIGHT).expect("draw");
            root.present().expect("present");
            drawn
        };
        (drawn, svg)
    };
    let (drawn, svg) = draw(None);
    assert_eq!(drawn, 5);
    // Each column spreads its own tokens over the height: target a at y 75, source z at y 250;
    // the target column is at 70 % of the width, the source at 30 %.
    assert!(svg.contains("points=\"280,75 120,250 \""), "{svg}");
    // Titles take the top band; the tokens share the 278 pixels below it.
    let (drawn, svg) = draw(Some(["Source", "Target"]));
    assert_eq!(drawn, 5);
    assert!(svg.contains("Source") && svg.contains("Target"), "{svg}");
    assert!(svg.contains("points=\"280,91 120,253 \""), "{svg}");
}

#[test]
fn matrices_and_lines_draw_with_a_diverging_scale_that_survives_nan() {
    use attention_explorer::charts::{diverging, draw_matrix, draw_series_lines, Matrix};
    use attention_explorer::engine::sinusoidal_position_encoding;
    // −1 is blue, +1 red, 0 near white; NaN does not panic.
    let (blue, red, white) = (
        diverging(-1.0, 1.0),
        diverging(1.0, 1.0),
        diverging(0.0, 1.0),
    );
    assert!(blue.2 > blue.0 && red.0 > red.2, "{blue:?} {red:?}");
    assert!(white.0 > 240 && white.1 > 240 && white.2 > 240, "{white:?}");
    assert_eq!(diverging(f32::NAN, 1.0), diverging(f32::INFINITY, 1.0));
    let _ = attention_explorer::charts::sequential(f32::NAN);

    let encoding = sinusoidal_position_encoding(30, 12).expect("encoding");
    let matrix = Matrix {
        values: &encoding.data,
        rows: 30,
        columns: 12,
        row_name: "position",
        column_name: "dimension",
        row_labels: &[],
        column_labels: &[],
        limit: 1.0,
        from_zero: false,
    };
    let mut svg = String::new();
    let area = {
        let root = SVGBackend::with_string(&mut svg, (480, 360)).into_drawing_area();
        let area = draw_matrix(&root, &matrix, &Theme::LIGHT).expect("matrix");
        root.present().expect("present");
        area
    };
    assert!(
        svg.contains("position") && svg.contains("dimension"),
        "axis names"
    );
    let (cell_w, cell_h) = (
        (area.right - area.left) as f64 / 12.0,
        (area.bottom - area.top) as f64 / 30.0,
    );
    let centre = |row: usize, column: usize| {
        (
            area.left as f64 + (column as f64 + 0.5) * cell_w,
            area.top as f64 + (row as f64 + 0.5) * cell_h,
        )
    };
    for (row, column) in [(0, 0), (29, 11), (7, 4)] {
        let (x, y) = centre(row, column);
        assert_eq!(area.cell_at(x, y, 30, 12), Some((row, column)));
    }
    let mut lines = String::new();
    {
        let root = SVGBackend::with_string(&mut lines, (480, 240)).into_drawing_area();
        let series: Vec<(String, Vec<f32>)> = (4..6)
            .map(|d| {
                (
                    format!("dim {d}"),
                    (0..30).map(|p| encoding.data[p * 12 + d]).collect(),
                )
            })
            .collect();
        draw_series_lines(&root, &series, "position", 0, &Theme::LIGHT).expect("lines");
        root.present().expect("present");
    }
    assert!(
        lines.contains("dim 4") && lines.contains("dim 5"),
        "legend names the dimensions"
    );
}

#[test]
fn tables_quote_csv_and_write_missing_values_as_null() {
    let table = DataTable {
        title: "t".into(),
        row_header: "query ↓ key →".into(),
        columns: vec!["a,b".into(), "say \"hi\"".into(), " cat".into()],
        rows: vec![DataRow {
            label: "x\ny".into(),
            values: vec![Some(0.25), None, Some(f32::NAN)],
        }],
    };
    assert_eq!(
        table.to_csv(),
        "query ↓ key →,\"a,b\",\"say \"\"hi\"\"\",\" cat\"\r\n\"x\ny\",0.25,,\r\n"
    );
    let json: serde_json::Value = serde_json::from_str(&table.to_json()).expect("valid JSON");
    assert_eq!(
        json["rows"][0]["values"],
        serde_json::json!([0.25, null, null])
    );
    assert_eq!(json["columns"][2], " cat");
}

#[test]
fn every_chart_kind_has_a_table_that_matches_what_it_draws() {
    let (trace, special) = traced(fixture!("gpt2"), "The cat sat on the mat.");
    let grid = attention_grid(&trace, &special, 1, 2, GridOptions::default()).expect("grid");
    let table = grid_table(&grid, "g".into(), "q\\k".into());
    let n = trace.tokens.len();
    assert_eq!((table.rows.len(), table.columns.len()), (n, n));
    for q in 0..n {
        for k in 0..n {
            let value = table.rows[q].values[k];
            if k > q {
                assert_eq!(value, None, "masked ({q}, {k}) is missing");
            } else {
                let index = ((trace.attentions.shape[1] + 2) * n + q) * n + k;
                assert_eq!(value, Some(trace.attentions.data[index]), "({q}, {k})");
            }
        }
    }
    let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let matrix = Matrix {
        values: &values,
        rows: 2,
        columns: 3,
        row_name: "position",
        column_name: "dimension",
        row_labels: &[],
        column_labels: &[],
        limit: 6.0,
        from_zero: false,
    };
    let table = matrix_table(&matrix, "m".into());
    assert_eq!(table.columns, ["0", "1", "2"]);
    assert_eq!(table.rows[1].values, [Some(4.0), Some(5.0), Some(6.0)]);
    // A labelled matrix (tokens × neurons) names its rows and columns in the table and the chart.
    let (tokens, neurons) = (
        ["The", "cat"].map(String::from),
        ["#7", "#2", "#40"].map(String::from),
    );
    let labelled = Matrix {
        row_labels: &tokens,
        column_labels: &neurons,
        ..matrix
    };
    let table = matrix_table(&labelled, "m".into());
    assert_eq!(table.columns, ["#7", "#2", "#40"]);
    assert_eq!(table.rows[1].label, "cat");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480, 360)).into_drawing_area();
        attention_explorer::charts::draw_matrix(&root, &labelled, &Theme::LIGHT)
            .expect("labelled matrix");
        root.present().expect("present");
    }
    assert!(
        svg.contains("cat") && svg.contains("#40"),
        "every label is drawn"
    );
    let table = series_table(
        &[
            ("dim 4".into(), vec![0.5, 0.25]),
            ("dim 5".into(), vec![1.0]),
        ],
        -1,
        "position".into(),
        "s".into(),
    );
    assert_eq!(table.rows[1].values, [Some(0.25), None]);
    assert_eq!(table.rows[0].label, "-1", "rows are labelled from x_from");
    let bars = [Bar {
        label: " cat".into(),
        value: 0.5,
        active: true,
    }];
    assert_eq!(
        bars_table(&bars, "b".into(), "token".into(), "p".into()).to_csv(),
        "token,p\r\n\" cat\",0.5\r\n"
    );
}

#[test]
fn svg_document_draws_the_chart_with_its_labels() {
    let bars = [
        Bar {
            label: "mat".into(),
            value: 0.6,
            active: true,
        },
        Bar {
            label: "rug".into(),
            value: 0.3,
            active: false,
        },
    ];
    let svg = svg_document(300, 60, |root| draw_bars(root, &bars, &Theme::DARK)).expect("svg");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    let texts = svg_texts(&svg);
    assert!(
        texts.contains(&"mat") && texts.contains(&"rug"),
        "{texts:?}"
    );
    assert!(
        svg.contains("#181A1B") || svg.contains("#181a1b"),
        "drawn on the dark background"
    );
}

/// The rankings grid: every cell's rank written in it when there is room, its colour on a log
/// scale (rank 1 brightest, the vocabulary's size darkest), labels and the legend's powers of
/// ten, and a table with the ranks.
#[test]
fn rank_grid_writes_each_rank_on_a_log_colour_scale() {
    use attention_explorer::charts::{rank_shade, Chart, RankChart};
    assert_eq!(rank_shade(1, 1000), 1.0);
    assert!(rank_shade(1000, 1000).abs() < 1e-6);
    assert!(
        (rank_shade(10, 1000) - 2.0 / 3.0).abs() < 1e-6,
        "10 is a third of the way"
    );
    let chart = RankChart {
        ranks: vec![900, 40, 7, 120, 3, 1],
        row_labels: vec!["embeddings".into(), "layer 1".into()],
        column_labels: vec![" The".into(), " cat".into(), " sat".into()],
        vocabulary: 1000,
        rank_word: "rank".into(),
        title: "rank of the prediction".into(),
        corner: "stream ↓ position →".into(),
    };
    let svg = chart.svg(520, 240, &Theme::LIGHT).expect("svg");
    std::fs::write(concat!(env!("CARGO_TARGET_TMPDIR"), "/ranks.svg"), &svg).expect("write svg");
    let texts = svg_texts(&svg);
    for rank in &chart.ranks {
        assert!(
            texts.contains(&rank.to_string().as_str()),
            "rank {rank}: {texts:?}"
        );
    }
    for label in chart.row_labels.iter().chain(&chart.column_labels) {
        assert!(texts.contains(&label.trim()), "label {label}: {texts:?}");
    }
    // The legend's ticks are the powers of ten up to the vocabulary.
    for tick in ["rank", "10", "100", "1000"] {
        assert!(texts.contains(&tick), "legend tick {tick}: {texts:?}");
    }
    assert_eq!(chart.rank(1, 2), Some(1));
    assert_eq!(chart.rank(0, 3), None);
    let table = chart.table();
    assert_eq!(table.rows[1].values, [Some(120.0), Some(3.0), Some(1.0)]);
}
