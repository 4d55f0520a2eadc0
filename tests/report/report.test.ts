import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderReport, type ReportData } from '../../src/report';
import { keptScoreText, scoringCostWords } from '../../src/report/tables';
import { HOSTILE_FALLBACK, HOSTILE_RATIONALE, emptyFixture, reportFixture } from './fixture';
import { decodePng, pixelStats } from './png';

const ROOT = path.join(__dirname, '..', '..');
const CHROMIUM = process.env.AP_CHROMIUM ?? '/usr/bin/chromium';

/** Every chart the full fixture must draw, with how many of each (2 targets; CPU and CUDA latency). */
const EXPECTED_CHARTS: Record<string, number> = {
  summary: 1,
  convergence: 2,
  'ratio-macs': 2,
  stages: 1,
  accuracy: 1,
  latency: 2,
  speedup: 1,
  loss: 1,
};

/** Text that must never reach the page from a missing or broken number. */
const BROKEN = /\bNaN\b|undefined|Infinity/;

const escapeHtml = (s: string) =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

function chartCounts(html: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of html.matchAll(/<svg class="chart" data-chart="([^"]+)"/g))
    counts[m[1]!] = (counts[m[1]!] ?? 0) + 1;
  return counts;
}

/** A recovery score of `steps` steps on 1,000 held-out images, as the scoreCandidate activity records it. */
const recoveryScore = (top1: number, loss: number, steps: number) => ({
  mode: 'recovery' as const,
  top1,
  loss,
  count: 1000,
  steps,
  wallMs: 9000,
});

describe('renderReport', () => {
  const html = renderReport(reportFixture);

  it('draws every chart as <svg class="chart" data-chart=...>', () => {
    expect(chartCounts(html)).toEqual(EXPECTED_CHARTS);
  });

  it('is one self-contained page: no script, no external resource', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link|@import|@font-face|<img|<iframe/i);
    // The only URL is the SVG namespace; url(...) only points at the in-page hatch pattern.
    expect(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')).not.toMatch(/https?:\/\//);
    expect([...html.matchAll(/url\(([^)]*)\)/g)].map((m) => m[1])).toEqual(
      expect.arrayContaining(['#ap-hatch']),
    );
    expect(html).not.toMatch(/url\((?!#)/);
  });

  it('escapes LLM text: rationales and fallback reasons arrive as text', () => {
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<script>steal');
    expect(html).toContain(escapeHtml(HOSTILE_RATIONALE));
    expect(html).toContain(escapeHtml(HOSTILE_FALLBACK));
  });

  it('writes no NaN, undefined or Infinity', () => {
    expect(html.match(BROKEN)?.[0]).toBeUndefined();
  });

  it('formats numbers for people and never calls MACs FLOPs', () => {
    for (const text of [
      '4.11 GMACs',
      '25.6 M',
      '76.13%',
      '74.82%',
      '-1.31 pp',
      '+30.51%',
      '-1.12%',
      '1.87×',
      '2.35×',
      '$0.0448',
      '13,517',
      '-5%..+1%',
      '38.4 ms',
    ]) {
      expect(html).toContain(text);
    }
    expect(html).not.toMatch(/flop/i);
  });

  it('marks the error attempt, the fallback and the kept attempt', () => {
    expect(html).toContain('class="error-mark"');
    expect(html).toContain('engine error: engine prune: taylor importance needs calibration data');
    expect(html).toContain('class="flag flag-fallback"');
    expect(html).toMatch(/<tr class="row-chosen">/);
    expect(html).toMatch(/<tr class="row-error">/);
  });

  it("shows each attempt's role, and a scored search's scores, the failed scoring and the kept best score", () => {
    const t = reportFixture.targets[0]!;
    const kept = t.attempts.find((a) => a.index === 4)!;
    // Attempt 4 (in band, kept) scored after a recovery fine-tune; a fifth, in band, whose scoring failed.
    const scoredData: ReportData = {
      ...reportFixture,
      targets: [
        {
          ...t,
          attempts: [
            ...t.attempts.filter((a) => a.index !== 4),
            {
              ...kept,
              score: { mode: 'recovery', top1: 0.7421, loss: 0.8312, count: 256, steps: 50, wallMs: 9000 },
            },
            { ...kept, index: 5, scoreError: 'EngineError: CUDA out of memory' },
          ],
        },
        ...reportFixture.targets.slice(1),
      ],
    };
    const scored = renderReport(scoredData);
    const row = (i: number) => scored.match(new RegExp(`<tr[^>]*><td class="num">${i}<div[^]*?</tr>`))![0];
    expect(row(1)).toContain('<div class="sub">scaling</div>');
    expect(row(2)).toContain('<div class="sub">failed</div>');
    expect(row(4)).toContain('<div class="sub">candidate · kept</div>');
    expect(scored).toContain('<th class="num">score top-1<div class="sub">train/ slice</div></th>');
    expect(row(4)).toContain('74.2%<div class="sub">recovery 50 steps · loss 0.831</div>');
    expect(row(5)).toContain('<span class="muted">failed</span>');
    expect(row(5)).toContain('scoring failed (kept unscored): EngineError: CUDA out of memory');
    expect(scored).toContain(
      '5: 2 in band, 1 failed in the engine; 1 candidate scored, scoring failed for 1',
    );
    expect(scored).toMatch(/attempt 4 by solver: [^<]*, the best score: top-1 74\.2% \(recovery\)/);
    // Ranked by loss, the kept line says which figure kept it.
    const byLoss = renderReport({ ...scoredData, targets: [{ ...scoredData.targets[0]!, rankBy: 'loss' }] });
    expect(byLoss).toMatch(
      /attempt 4 by solver: [^<]*, the best score: loss 0\.831, top-1 74\.2% \(recovery, ranked by loss\)/,
    );
    // Without scores the column is absent.
    expect(html).not.toContain('score top-1');
  });

  it("shows each attempt's shape under its strategy, so candidates that differ only in shape read apart", () => {
    const t = reportFixture.targets[0]!;
    const base = t.attempts.find((a) => a.index === 4)!;
    const shapes = [
      { globalPruning: true, isomorphic: false },
      { importance: 'l1' as const, globalPruning: false, isomorphic: false, roundTo: 1 },
      { globalPruning: true, isomorphic: true, stageRatios: { layer3: 0, layer4: 0.54 } },
      { layerRatios: { a: 0.1, b: 0.2, c: 0.3, d: 0.4 }, ignoredLayers: ['fc', 'conv1', 'x', 'y'] },
    ];
    const page = renderReport({
      ...reportFixture,
      targets: [
        {
          ...t,
          chosenIndex: 8,
          attempts: shapes.map((shape, i) => ({
            ...base,
            index: 8 + i,
            strategy: { ...base.strategy, stageRatios: undefined, ...shape },
          })),
        },
      ],
    });
    const cell = (i: number) =>
      page.match(new RegExp(`<tr[^>]*><td class="num">${i}<div[^]*?<td class="strategy">([^]*?)</td>`))![1];
    expect(cell(8)).toContain('<div class="sub">non-isomorphic</div>');
    expect(cell(9)).toContain('· l1 · round 1</span><div class="sub">local · non-isomorphic</div>');
    expect(cell(10)).toContain('<div class="sub">layer3=0.000 · layer4=0.540</div>');
    // The report names every layer ratio and ignored layer (the log's cell names three and a count).
    expect(cell(11)).toContain(
      '<div class="sub">a=0.100 · b=0.200 · c=0.300 · d=0.400 · ignore fc,conv1,x,y</div>',
    );
    // Global isomorphic pruning with nothing else set has no shape line.
    expect(renderReport(reportFixture)).toMatch(/<td class="strategy">(?:(?!<\/td>)[^])*<\/span><\/td>/);
  });

  it("says by how much the kept score led the next one, beside one score's sampling error", () => {
    // The bench's 100-class mild cut after 160 recovery steps on 1,000 held-out images: #13 kept at 87.1 %,
    // #10 next (86.3 %, level on top-1 with #9 and ahead of it on loss); 1.96 sqrt(0.871 x 0.129 / 1000) = 2.08 points.
    const t = reportFixture.targets[0]!;
    const base = t.attempts.find((a) => a.index === 4)!;
    const s = (top1: number, loss: number) => recoveryScore(top1, loss, 160);
    const target = (scores: [number, number][], keptIndex: number, rankBy?: 'loss') =>
      renderReport({
        ...reportFixture,
        targets: [
          {
            ...t,
            ...(rankBy ? { rankBy } : {}),
            chosenIndex: keptIndex,
            attempts: scores.map(([top1, loss], i) => ({ ...base, index: 8 + i, score: s(top1, loss) })),
          },
        ],
      });
    const mild: [number, number][] = [
      [0.858, 0.447],
      [0.863, 0.753],
      [0.863, 0.435],
      [0.859, 0.478],
      [0.856, 0.493],
      [0.871, 0.563],
    ];
    expect(target(mild, 13)).toMatch(
      /the best score: top-1 87\.1% \(recovery\); 0\.8 points ahead of attempt 10 \(86\.3%\); one score&#39;s 95% sampling error on 1,000 held-out images: ±2\.1 points/,
    );
    // Ranked by loss: #10 kept (0.435), #8 next (0.447); no top-1 error is claimed for a loss.
    const byLoss = target(mild, 10, 'loss');
    expect(byLoss).toContain('(recovery, ranked by loss); attempt 8 next (loss 0.447)');
    expect(byLoss).not.toContain('sampling error');
    // Level on top-1: kept for its lower loss.
    expect(
      target(
        [
          [0.863, 0.753],
          [0.863, 0.435],
        ],
        9,
      ),
    ).toContain('; level with attempt 8 (86.3%), kept for its lower loss; one score&#39;s');
    // Kept behind another (a human's pick), and a lead under 0.1 points on 4,000 images, are worded so too.
    expect(target(mild, 8)).toContain(
      '; 1.3 points behind attempt 13 (87.1%); one score&#39;s 95% sampling error on 1,000 held-out images: ±2.2 points',
    );
    expect(
      target(
        [
          [0.8623, 0.5],
          [0.862, 0.4],
        ],
        8,
      ),
    ).toContain('; 0.03 points ahead of attempt 9 (86.2%)');
    // The kept candidate alone scored: nothing to compare.
    expect(target([[0.871, 0.563]], 8)).toMatch(/the best score: top-1 87\.1% \(recovery\)<\/dd>/);
  });

  it("states the scoring's fine-tune steps beside the final fine-tune's", () => {
    // The bench's 100-class case: 6 candidates scored after a 40-step recovery each, a 2,442-step fine-tune.
    const t = reportFixture.targets[0]!;
    const kept = t.attempts.find((a) => a.index === 4)!;
    const recovery = {
      mode: 'recovery' as const,
      top1: 0.8,
      loss: 0.6,
      count: 1000,
      steps: 40,
      wallMs: 9000,
    };
    const candidates = [4, 5, 6, 7, 8, 9].map((index) => ({ ...kept, index, score: recovery }));
    const target = {
      ...t,
      attempts: [...t.attempts.filter((a) => a.index !== 4), ...candidates],
      finetune: { ...t.finetune!, steps: 2442 },
    };
    const facts = (x: ReportData['targets'][number]) => renderReport({ ...reportFixture, targets: [x] });
    expect(facts(target)).toContain(
      '<dt>scoring cost</dt><dd>240 fine-tune steps for 6 candidates, 9.8% of the final fine-tune&#39;s 2,442 steps</dd>',
    );
    // Not fine-tuned (yet): the steps alone.
    const { finetune: _ft, ...unfinished } = target;
    expect(facts(unfinished)).toContain('<dt>scoring cost</dt><dd>240 fine-tune steps for 6 candidates</dd>');
    // Zero-shot scores cost no fine-tune steps: no such line.
    const zeroShot = candidates.map((a) => ({
      ...a,
      score: { ...recovery, mode: 'zero-shot' as const, steps: 0 },
    }));
    expect(facts({ ...target, attempts: zeroShot })).not.toContain('scoring cost');
  });

  it("with finalists scored again: the kept line, the lead and the cost are the second scores'", () => {
    // 6 candidates after a 20-step recovery; #4, #5, #6 the finalists, scored again with 40 steps each; the
    // first stage put #4 first, the second stage keeps #5.
    const t = reportFixture.targets[0]!;
    const kept = t.attempts.find((a) => a.index === 4)!;
    const score = (top1: number, steps: number) => recoveryScore(top1, 1 - top1, steps);
    const firsts = [0.8, 0.79, 0.78, 0.7, 0.69, 0.68];
    const seconds: Record<number, number> = { 4: 0.85, 5: 0.871, 6: 0.84 };
    const candidates = [4, 5, 6, 7, 8, 9].map((index, i) => ({
      ...kept,
      index,
      score: score(firsts[i]!, 20),
      ...(seconds[index] !== undefined ? { rescore: score(seconds[index], 40) } : {}),
    }));
    const target = {
      ...t,
      attempts: [...t.attempts.filter((a) => a.index !== 4), ...candidates],
      chosenIndex: 5,
      finetune: { ...t.finetune!, steps: 2442 },
    };
    const html = renderReport({ ...reportFixture, targets: [target] });
    expect(html).toContain(
      '<dt>scoring cost</dt><dd>240 fine-tune steps for 6 candidates and 3 finalists again, 9.8% of the final fine-tune&#39;s 2,442 steps</dd>',
    );
    expect(html).toMatch(
      /the best second score of 3 finalists: top-1 87\.1% \(recovery 40 steps\); 2\.1 points ahead of attempt 4 \(85\.0%\); one score&#39;s 95% sampling error on 1,000 held-out images: ±2\.1 points<\/dd>/,
    );
    expect(html).toContain('; 3 finalists scored again');
    expect(keptScoreText(target, candidates[1]!)).toBe(
      ', the best second score of 3 finalists: top-1 87.1% (recovery 40 steps)',
    );
    expect(keptScoreText({ ...target, rankBy: 'loss' }, candidates[1]!)).toBe(
      ', the best second score of 3 finalists: loss 0.129, top-1 87.1% (recovery 40 steps, ranked by loss)',
    );
    // The kept row's score cell shows both scores.
    expect(html).toContain('then <strong>87.1%</strong>');
    // A finalist whose second score failed: its cell says so, its notes say why and that it was not kept; the
    // cost and kept lines count the two finalists scored again.
    const failed = {
      ...target,
      attempts: target.attempts.map((a) => {
        if (a.index !== 6) return a;
        const { rescore: _rescore, ...rest } = a as typeof a & { rescore?: unknown };
        return { ...rest, rescoreError: 'EngineError: out of memory' };
      }),
    };
    const failedHtml = renderReport({ ...reportFixture, targets: [failed] });
    expect(failedHtml).toContain('<div class="sub">then failed</div>');
    expect(failedHtml).toContain(
      '<div class="flag flag-error">second score failed (finalist not kept): EngineError: out of memory</div>',
    );
    expect(failedHtml).toContain('200 fine-tune steps for 6 candidates and 2 finalists again');
    expect(failedHtml).toContain('the best second score of 2 finalists: top-1 87.1% (recovery 40 steps)');
  });

  it('words the scoring cost as bench/accuracy prints it: a share just under 10 % does not read as 10 %', () => {
    // The bench's 10,000-step case: 6 candidates x 160 recovery steps (its old line said "10 %").
    expect(scoringCostWords(960, 6, 10_000)).toBe(
      "960 fine-tune steps for 6 candidates, 9.6% of the final fine-tune's 10,000 steps",
    );
    expect(scoringCostWords(40, 1, 2442)).toBe(
      "40 fine-tune steps for 1 candidate, 1.6% of the final fine-tune's 2,442 steps",
    );
    expect(scoringCostWords(240, 6)).toBe('240 fine-tune steps for 6 candidates');
  });

  it('is a pure function of its data', () => {
    expect(renderReport(reportFixture)).toBe(html);
    expect(renderReport(structuredClone(reportFixture))).toBe(html);
  });

  const converged = reportFixture.targets[0]!;
  const diverged = reportFixture.targets[1]!;
  const { accuracy: _denseAccuracy, latency: _denseLatency, ...denseBare } = reportFixture.dense;
  const {
    accuracy: _prunedAccuracy,
    latency: _prunedLatency,
    speedup: _speedup,
    ...prunedBare
  } = converged.pruned!;
  const { finetune: _finetune, ...convergedNoFinetune } = converged;

  // One case per missing piece: what must still render, and the note that says what is missing.
  const emptyCases: { name: string; data: ReportData; notes: string[]; charts: string[] }[] = [
    {
      name: 'nothing known, no attempts',
      data: emptyFixture,
      notes: [
        'no attempts were made',
        'No per-stage MACs',
        'No accuracy is known',
        'No latency was measured',
        'not fine-tuned',
      ],
      charts: ['summary'],
    },
    {
      name: 'no targets at all',
      data: { ...emptyFixture, targets: [] },
      notes: ['This campaign has no MAC targets.'],
      charts: ['summary'],
    },
    {
      name: 'no accuracy, latency or fine-tuning',
      data: {
        ...reportFixture,
        dense: denseBare,
        targets: [{ ...convergedNoFinetune, pruned: prunedBare }, diverged],
      },
      notes: [
        'No accuracy is known',
        'Target 1.77G: not fine-tuned.',
        'Target 0.9G: not fine-tuned (the search diverged).',
      ],
      charts: ['summary', 'convergence', 'stages', 'speedup', 'ratio-macs'],
    },
    {
      name: 'fine-tuning without loss values',
      data: {
        ...reportFixture,
        targets: [
          { ...converged, finetune: { lossCurve: [], steps: 0, imagesPerSec: 0, resumedFromStep: null } },
        ],
      },
      notes: ['fine-tuning recorded no loss values'],
      charts: ['summary', 'convergence', 'accuracy', 'latency', 'speedup'],
    },
    {
      name: 'only failed attempts',
      data: {
        ...reportFixture,
        targets: [{ ...diverged, attempts: converged.attempts.filter((a) => a.error) }],
      },
      notes: ['Nothing was measured for this target.'],
      charts: ['summary', 'convergence'],
    },
    {
      name: 'broken numbers in the data',
      data: {
        ...reportFixture,
        targets: [
          {
            ...converged,
            pruned: {
              ...converged.pruned!,
              macRatio: Number.NaN,
              speedup: { cpu: Number.POSITIVE_INFINITY },
            },
            attempts: [{ ...converged.attempts[0]!, deviation: Number.NaN }],
          },
        ],
      },
      notes: [],
      charts: ['summary', 'convergence', 'stages'],
    },
  ];

  it.each(emptyCases)('renders a readable page when data is missing: $name', ({ data, notes, charts }) => {
    const page = renderReport(data);
    // Compare small values, not the page: a failure then prints what is wrong, not 100 KB of HTML.
    expect(page.match(BROKEN)?.[0]).toBeUndefined();
    expect(page.endsWith('</html>\n')).toBe(true);
    expect(notes.filter((note) => !page.includes(note))).toEqual([]);
    const counts = chartCounts(page);
    for (const chart of charts) expect(counts[chart]).toBeGreaterThan(0);
  });
});

function canInstallChromium(): boolean {
  if (fs.existsSync(CHROMIUM)) return true;
  const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  return has('apt-get') && (process.getuid?.() === 0 || has('sudo'));
}

// Skipped only where Chromium is absent and apt-get cannot install it.
const describeChromium = canInstallChromium() ? describe : describe.skip;

describeChromium('renderReport in headless Chromium', () => {
  let dir = '';
  let htmlFile = '';

  const chromium = (args: string[]): string => {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-chromium-profile-'));
    try {
      return execFileSync(
        CHROMIUM,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--hide-scrollbars',
          `--user-data-dir=${profile}`,
          ...args,
          `file://${htmlFile}`,
        ],
        { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } finally {
      fs.rmSync(profile, { recursive: true, force: true });
    }
  };

  beforeAll(() => {
    execFileSync('bash', [path.join(ROOT, 'infra', 'setup-chromium.sh')], {
      stdio: 'inherit',
      timeout: 590_000,
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-report-'));
    htmlFile = path.join(dir, 'report.html');
    fs.writeFileSync(htmlFile, renderReport(reportFixture));
  }, 600_000);

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('--dump-dom: each chart is an <svg> with marks, and no <script> element exists', () => {
    const dom = chromium(['--dump-dom']);
    expect(dom).toContain('</html>');
    // The browser parsed the escaped rationale as text, not as an element.
    expect(dom).not.toMatch(/<script/i);
    expect(dom).toContain('&lt;script&gt;alert("pwned")&lt;/script&gt;');

    const svgs = [...dom.matchAll(/<svg class="chart" data-chart="([^"]+)"[\s\S]*?<\/svg>/g)];
    const counts: Record<string, number> = {};
    const checks: Record<string, Record<string, boolean>> = {};
    for (const [svg, chart] of svgs) {
      counts[chart!] = (counts[chart!] ?? 0) + 1;
      const n = (tag: string) => (svg.match(new RegExp(`<${tag}[\\s>/]`, 'g')) ?? []).length;
      // One rect is the chart's background: marks are the other rects, circles and paths.
      const marks = n('circle') + n('rect') - 1 + n('path');
      const check: Record<string, boolean> = {
        'tick and label texts': n('text') > 5,
        'axis or grid lines': n('line') > 0,
        marks: marks > 0,
      };
      if (['convergence', 'ratio-macs', 'accuracy'].includes(chart!)) check['>= 2 points'] = n('circle') >= 2;
      if (['stages', 'latency', 'speedup', 'summary'].includes(chart!))
        check['>= 3 bars'] = n('rect') - 1 >= 3;
      if (chart === 'loss') check['raw and smoothed curves'] = n('path') >= 2;
      checks[`${chart} #${counts[chart!]}`] = check;
    }
    for (const [name, check] of Object.entries(checks)) {
      expect({ name, ...check }).toEqual({
        name,
        ...Object.fromEntries(Object.keys(check).map((k) => [k, true])),
      });
    }
    expect(counts).toEqual(EXPECTED_CHARTS);
  });

  it('--screenshot: the page paints (a non-blank PNG with many colours)', () => {
    const png = path.join(dir, 'report.png');
    chromium([`--screenshot=${png}`, '--window-size=1400,3000']);
    const img = decodePng(fs.readFileSync(png));
    expect([img.width, img.height]).toEqual([1400, 3000]);
    const stats = pixelStats(img);
    expect(stats.distinctColors).toBeGreaterThan(200);
    expect(stats.nonBackgroundFraction).toBeGreaterThan(0.2);
    // The dark header band is painted at the top left.
    expect(img.pixels[(20 * img.width + 20) * img.channels]).toBeLessThan(40);
    if (process.env.AP_REPORT_SCREENSHOT)
      fs.copyFileSync(png, path.resolve(ROOT, process.env.AP_REPORT_SCREENSHOT));
  });
});
