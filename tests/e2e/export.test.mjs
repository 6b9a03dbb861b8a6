// Every chart downloads as PNG, SVG, CSV and JSON: the files are non-empty and parse, the SVG
// carries the chart's labels, and the heatmap's numbers are the trace CLI's attention weights.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { download, openPage, start, traceCli } from './support.mjs';

const TEXT = 'The cat sat on the mat because it was warm.';
let site;

before(async () => {
  mkdirSync('test-artifacts/downloads', { recursive: true });
  site = await start();
});
after(async () => site?.close());

/** Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF). */
function parseCsv(text) {
  const rows = [];
  let row = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\r') continue;
    else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; }
    else field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows;
}

/** Downloads all four formats of one chart and checks each parses. */
async function checkChart(page, testid, label) {
  const png = await download(page, `${testid}-png`);
  assert.ok(png.bytes.length > 500, `${testid}.png has ${png.bytes.length} bytes`);
  assert.deepEqual([...png.bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${png.name} is a PNG`);
  const svg = (await download(page, `${testid}-svg`)).bytes.toString('utf8');
  assert.match(svg, /^<svg[\s\S]*<\/svg>\s*$/, `${testid}.svg is an SVG document`);
  if (label) assert.ok(svg.includes(label), `${testid}.svg contains the label ${label}`);
  const csv = parseCsv((await download(page, `${testid}-csv`)).bytes.toString('utf8'));
  assert.ok(csv.length >= 2, `${testid}.csv has a header and rows`);
  assert.ok(csv.every((r) => r.length === csv[0].length), `${testid}.csv rows have ${csv[0].length} fields`);
  const json = JSON.parse((await download(page, `${testid}-json`)).bytes.toString('utf8'));
  assert.equal(json.rows.length, csv.length - 1, `${testid}: JSON and CSV have the same rows`);
  assert.deepEqual(json.columns, csv[0].slice(1));
  return { svg, csv, json, png };
}

test('every chart downloads as PNG, SVG, CSV and JSON with the model\'s numbers', async () => {
  const context = await site.browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const { page, errors } = await openPage(context, site.origin, `?model=folder:fixture-gpt2&text=${encodeURIComponent(TEXT)}&layer=2&head=3`);
  await page.waitForSelector('[data-testid=model-ready]', { timeout: 60_000 });
  const cli = traceCli('gpt2', TEXT);
  const n = cli.tokens.length;

  await page.click('[data-testid=tab-heatmaps]');
  await page.waitForSelector('[data-testid=heatmap][data-plot*=" "]');
  const heatmap = await checkChart(page, 'heatmap-export');
  assert.equal(heatmap.json.columns.length, n);
  assert.equal(heatmap.json.rows.length, n);
  for (const label of heatmap.json.columns.slice(1, 4)) {
    assert.ok(heatmap.svg.includes(`>${label.trim()}<`) || heatmap.svg.includes(label.trim()), `the SVG heatmap shows the token label ${label}`);
  }
  assert.ok(heatmap.svg.includes('weight'), 'the SVG heatmap has its legend caption');
  assert.match(heatmap.json.title, /Layer 2, head 3/);
  for (let q = 0; q < n; q++) {
    for (let k = 0; k < n; k++) {
      const expected = cli.attentions[1][2][q][k];
      const csvValue = heatmap.csv[q + 1][k + 1];
      const jsonValue = heatmap.json.rows[q].values[k];
      if (k > q) {
        assert.equal(csvValue, '', `masked cell (${q}, ${k}) is empty in the CSV`);
        assert.equal(jsonValue, null, `masked cell (${q}, ${k}) is null in the JSON`);
      } else {
        assert.ok(Math.abs(Number(csvValue) - expected) < 1e-6, `CSV (${q}, ${k}) ${csvValue} vs ${expected}`);
        assert.ok(Math.abs(jsonValue - expected) < 1e-6, `JSON (${q}, ${k}) ${jsonValue} vs ${expected}`);
      }
    }
  }
  const lines = await checkChart(page, 'lines-export');
  assert.equal(lines.json.rows.length, 4 * n, 'one row per head and query (4 heads)');

  await page.click('[data-testid=tab-positions]');
  await page.waitForSelector('[data-testid=pe-sinusoidal][data-shape*=" "]');
  await page.waitForSelector('[data-testid=pe-learned][data-shape*=" "]');
  for (const id of ['pe-sinusoidal', 'pe-learned', 'pe-sinusoidal-similarity', 'pe-learned-similarity']) {
    const chart = await checkChart(page, id, 'position');
    const [rows, columns] = (await page.getAttribute(`[data-testid=${id}]`, 'data-shape')).split(' ').map(Number);
    assert.equal(chart.json.rows.length, rows);
    assert.equal(chart.json.columns.length, columns);
  }
  const sinusoid = (await checkChart(page, 'pe-sinusoidal')).json;
  const d = sinusoid.columns.length;
  assert.ok(Math.abs(sinusoid.rows[3].values[4] - Math.sin(3 / 10000 ** (4 / d))) < 1e-5, 'PE(3, 4) in the JSON is the formula');
  await checkChart(page, 'pe-lines', 'position');

  await page.click('[data-testid=tab-predictions]');
  await page.waitForSelector('[data-testid=candidate]');
  const bars = await checkChart(page, 'prediction-bars');
  const ids = await page.$$eval('[data-testid=candidate]', (nodes) => nodes.map((n) => Number(n.dataset.probability)));
  assert.deepEqual(bars.json.rows.map((r) => r.values[0]).map((v) => v.toFixed(5)), ids.map((v) => v.toFixed(5)));

  await page.click('[data-testid=tab-saliency]');
  await page.waitForSelector('[data-testid=saliency-bars]');
  const saliency = await checkChart(page, 'saliency-bars');
  const sum = saliency.json.rows.reduce((total, r) => total + r.values[0], 0);
  assert.ok(Math.abs(sum - 1) < 1e-4, `saliency shares sum to 1 (${sum})`);
  assert.deepEqual(errors, []);
  await context.close();
});
