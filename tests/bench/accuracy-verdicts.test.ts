import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NewValLine } from '../../bench/new-val';
import { capturedOutput } from './captured-output';
import {
  judge,
  parseRankBy,
  parseScreen,
  rankedScore,
  screenedCases,
  verdictsOf,
} from '../../bench/accuracy-verdicts';

/** The committed raw results of the recovery sweeps (RESULTS.md names each file). */
const RESULTS_DIR = path.join(__dirname, '../../bench/results/recovery-sweep');

// `bench/accuracy --verdicts-of`: the table and pooled lines it prints for a stored --json result with known
// answers.
describe('bench/accuracy --verdicts-of', () => {
  const out = capturedOutput('ap-verdicts-');

  const candidate = (attempt: number, scoreTop1: number, valTop1s: number[], scoreLoss = 1) => ({
    model: 'democnn',
    target: 0.5,
    mode: 'recovery',
    attempt,
    kept: attempt === 1,
    scoreTop1,
    scoreLoss,
    runs: valTop1s.map((valTop1, seed) => ({ seed, valTop1 })),
  });

  test('prints each case with its rho, p, regret, resolution and noise ceiling, then each mode pooled', () => {
    const file = path.join(out.dir, 'result.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        scoredCandidates: [
          candidate(1, 0.1, [0.7, 0.72]), // kept: mean 0.71
          candidate(2, 0.2, [0.8, 0.8]),
          candidate(3, 0.3, [0.9, 0.88]), // the best: mean 0.89
        ],
      }),
    );
    verdictsOf([file]);
    // rho 1 (score order = accuracy order), exact p 1/6; regret 89.0 - 71.0 = 18.0 points; spread sd 9.0
    // points; pooled seed sd sqrt((0.0002 + 0 + 0.0002) / 3) = 1.15 points; resolution 0.09 / (0.011547 /
    // sqrt 2) = 11.0; ceiling sqrt(1 - 1/121.5) = 0.996
    expect(out.lines).toContain(
      '| democnn | 0.5 | recovery | 3 | 1.00 | 0.167 | 71.0 % | 89.0 % | 18.0 | 9.0 | 1.2 | 11.0 | 1.00 | 1.00 |',
    );
    expect(out.lines.some((l) => l.includes('| rho (score top-1 vs seed-mean val) |'))).toBe(true);
    const pooled = out.lines.filter((l) => l.startsWith('pooled, recovery (score top-1):'));
    expect(pooled).toHaveLength(2);
    expect(pooled[0]).toMatch(
      /^pooled, recovery \(score top-1\): mean within-case rho 1\.00 over 1 cases, one-sided permutation p /,
    );
    expect(pooled[1]).toMatch(/over 1 cases resolved \(resolution > 1\), one-sided permutation p /);
    for (const line of pooled)
      expect(line).toMatch(/; regret of the kept candidate mean 18\.00, max 18\.00 points over 1 cases$/);
    // Monte Carlo estimate of the exact 1/6 over 20,000 draws (sd 0.0026)
    const p = Number(/permutation p (\d\.\d+);/.exec(pooled[0]!)![1]);
    expect(Math.abs(p - 1 / 6)).toBeLessThan(0.015);
  });

  test('the committed democnn @ 0.15 case on the new images: a noise ceiling of 0.99 beside seeds that agree at 0.54', () => {
    // bench/results/recovery-sweep (RESULTS.md, "Four cuts on 10,000 new val images"). LAMP's shape ends 5.5
    // points below five candidates within 1.1 points of each other: the spread is large (2.3 sd), so the
    // ceiling is 0.99, yet the two seeds order the six alike only at 1 - 6 * 16 / 210 = 0.54.
    verdictsOf([path.join(RESULTS_DIR, 'xeon-c100-0.15-ft2442-seeds01.json')], 'top1', [
      path.join(RESULTS_DIR, 'xeon-c100-new-val.jsonl'),
    ]);
    expect(out.lines).toContain(
      '| democnn | 0.15 | recovery 10 steps | 6 | -0.09 | 0.599 | 80.8 % | 81.3 % | 0.5 | 2.3 | 0.4 | 7.4 | 0.99 | 0.54 |',
    );
  });

  // The committed results of bench/results/recovery-sweep, comma-separated, by the cases RESULTS.md names.
  /** democnn's five cases on the 16- and 24-epoch dense models (0.4 and 0.3 share a file). */
  const DEMOCNN_FIVE =
    'xeon-c100-0.5-ft2442-seeds01.json,xeon-c100-0.4-0.3-ft2442-seeds01.json,xeon-c100-0.15-ft2442-seeds012.json,xeon-c100-d24-0.15-ft2442-seeds01.json';
  /** The five and "A sixth case" (0.3 with the 24-epoch dense model). */
  const DEMOCNN_SIX = `${DEMOCNN_FIVE},xeon-c100-d24-0.3-ft2442-seeds01.json`;
  /** The six as campaigns with two-stage scoring: 10 steps first, and zero-shot first. */
  const DEMOCNN_RESCORE_10 =
    'xeon-c100-rescore-10-40x3-0.5-0.4-0.3.json,xeon-c100-rescore-10-40x3-0.15-seeds012.json,xeon-c100-d24-rescore-10-40x3-0.15-0.3.json';
  const DEMOCNN_RESCORE_ZS =
    'xeon-c100-rescore-zs-40x3-0.5-0.4-0.3.json,xeon-c100-rescore-zs-40x3-0.15-seeds012.json,xeon-c100-d24-rescore-zs-40x3-0.15-0.3.json';
  const DEMOCNN_NEW_VAL = 'xeon-c100-new-val.jsonl,xeon-c100-d24-new-val.jsonl';
  /** resnet18 with the 16-epoch dense model at 0.5 and 0.3: the one-stage run and its two campaigns each. */
  const R18_05 =
    'amd-c100-r18-0.5-ft2442-seeds01.json,amd-c100-r18-rescore-zs-40x3-0.5-seeds01.json,amd-c100-r18-rescore-10-40x3-0.5-seeds01.json';
  const R18_03 =
    'amd-c100-r18-0.3-ft2442-seeds01.json,amd-c100-r18-rescore-zs-40x3-0.3-seeds01.json,amd-c100-r18-rescore-10-40x3-0.3-seeds01.json';
  const R18_NEW_VAL = 'amd-c100-r18-new-val.jsonl';
  /** resnet18 at 0.3 with the 24-epoch dense model, and its new val images. */
  const R18D24_03 = 'amd-c100-r18d24-0.3-ft2442-seeds01.json';
  const R18D24_NEW_VAL = 'amd-c100-r18d24-new-val.jsonl';
  /** democnn's new val images for the dense model trained with the defaults' campaigns on the AMD host. */
  const DEMOCNN_AMD_NEW_VAL = 'amd-c100-democnn-new-val.jsonl';
  /** The defaults' campaigns against the older defaults on that democnn, at 0.5 (two seeds) and 0.3 (one). */
  const DEMOCNN_DEFAULTS =
    'amd-c100-democnn-defaults-0.5-seeds01.json,amd-c100-democnn-defaults-0.3-seed0.json';
  /** mobilenet_v2's new val images: every fine-tune of its runs, 27 since the defaults' campaigns. */
  const MNV2_NEW_VAL = 'amd-c100-mnv2-new-val.jsonl';
  /** Every campaign of the defaults' configuration before democnn's (six candidates, a table at 0.5, zero-shot first, the best 3 again at 40). */
  const DEFAULTS_TEN = [
    DEMOCNN_RESCORE_ZS,
    'amd-c100-r18-rescore-zs-40x3-0.5-seeds01.json',
    'amd-c100-r18-rescore-zs-40x3-0.3-seeds01.json',
    'amd-c100-mnv2-shared-groups-zs-40x3-0.5-seeds01.json',
    'amd-c100-mnv2-held-zs-40x3-0.3-seed0.json',
  ].join(',');
  const DEFAULTS_TEN_NEW_VAL = [DEMOCNN_NEW_VAL, R18_NEW_VAL, MNV2_NEW_VAL].join(',');
  /** The three resnet18 cases' candidates scored again after 160 and 320 steps (`--reuse` of the runs above). */
  /** resnet18 at 0.15 with the 24-epoch dense model, at every length (zero-shot, 10, 40, 160, 320 steps), 3 seeds. */
  const R18D24_015 = 'amd-c100-r18d24-0.15-ft2442-seeds012.json';
  /** The mild democnn cut and resnet18 at 0.15 (24-epoch dense model), each fine-tuned for 10,000 steps over two seeds. */
  const FT10000_TWO = 'xeon-c100-0.5-ft10000-seeds01.json,amd-c100-r18d24-0.15-ft10000-seeds01.json';
  const R18_LONG =
    'amd-c100-r18-0.5-r160-320-seeds01.json,amd-c100-r18-0.3-r160-320-seeds01.json,amd-c100-r18d24-0.3-r160-320-seeds01.json';

  /** `--verdicts-of` committed results of bench/results/recovery-sweep (names, comma-separated), on the new val images. */
  const verdictsOfCommitted = (
    names: string,
    screen?: ReturnType<typeof parseScreen>,
    newVal = DEMOCNN_NEW_VAL,
  ) => {
    const files = (list: string) => list.split(',').map((n) => path.join(RESULTS_DIR, n));
    verdictsOf(files(names), 'top1', files(newVal), screen);
  };
  /** `--verdicts-of` committed mobilenet_v2 results against its new val images, all 29 fine-tunes of them read. */
  const verdictsOfMnv2 = (names: string) => {
    verdictsOfCommitted(names, undefined, MNV2_NEW_VAL);
    expect(out.lines[0]).toMatch(/ \(29 fine-tunes\)$/);
  };
  /** Each fine-tune's top-1 on the new images of a committed new-val file, by its folder. */
  const newImagesTop1 = (file: string) =>
    new Map(
      fs
        .readFileSync(path.join(RESULTS_DIR, file), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as NewValLine)
        .filter((l) => l.split === 'new')
        .map((l) => [l.folder, l.top1]),
    );
  /** The pooled line of `mode` (all cases, not only the resolved ones), as `--verdicts-of` printed it. */
  const pooledLine = (mode: string) =>
    out.lines.find(
      (l) => l.startsWith(`pooled, ${mode} (score top-1): mean within-case rho `) && !l.includes('resolved'),
    );
  /**
   * `mode`'s pooled line over all its `cases`: the mean within-case rho, then the kept candidates' regret mean and
   * max in points (figures as printed; `p`, when given, the permutation p-value too).
   */
  const expectPooled = (
    mode: string,
    cases: number,
    rho: string,
    regretMean: string,
    regretMax: string,
    p?: string,
  ) => {
    const fig = (v: string) => v.replace(/\./g, '\\.');
    const middle = p === undefined ? '.*' : `one-sided permutation p ${fig(p)}`;
    expect(pooledLine(mode)).toMatch(
      new RegExp(
        `rho ${fig(rho)} over ${cases} cases, ${middle}; regret of the kept candidate mean ${fig(regretMean)}, ` +
          `max ${fig(regretMax)} points over ${cases} cases$`,
      ),
    );
  };
  /** Each of `lines` was printed, whole. */
  const expectPrinted = (...lines: string[]) => {
    for (const line of lines) expect(out.lines).toContain(line);
  };
  /** `--verdicts-of` the five committed democnn cases on this host, against the new val images. */
  const verdictsOfFiveCases = (screen?: ReturnType<typeof parseScreen>) => {
    verdictsOfCommitted(DEMOCNN_FIVE, screen);
  };

  test('the five committed democnn cases pooled: what the pick of each recovery length cost, beside its rho', () => {
    // bench/results/recovery-sweep (RESULTS.md, "The strongest cut with three seeds"): 0.5, 0.4 and 0.3 with
    // the 16-epoch dense model (2 seeds), 0.15 with it (3 seeds), 0.15 with the 24-epoch one (2 seeds), on the
    // 10,000 new val images. The regrets per case, in points: 10 steps 0.1 / 0.0 / 0.0 / 0.5 / 1.1, 40 steps
    // 0.1 / 0.0 / 0.2 / 0.2 / 0.0, 160 steps 0.1 / 0.0 / 0.0 / 1.3 / 0.0: 40 steps ranks no better than 10 (rho 0.55
    // both) and worse than 160 (0.63), yet its pick costs least: mean 0.09, at most 0.21 points.
    verdictsOfFiveCases();
    expect(out.lines).toContain(
      '| democnn | 0.15 | recovery 40 steps | 6 | 0.09 | 0.460 | 81.0 % | 81.3 % | 0.2 | 2.2 | 0.3 | 11.4 | 1.00 | 0.73 |',
    );
    const pooled = out.lines.filter((l) => l.startsWith('pooled, ') && !l.includes('resolved'));
    expect(
      pooled.map((l) =>
        /^pooled, (.*) \(score top-1\): mean within-case rho (\S+) over 5 cases, .*; regret of the kept candidate mean (\S+), max (\S+) points over 5 cases$/
          .exec(l)!
          .slice(1),
      ),
    ).toEqual([
      ['recovery 10 steps', '0.55', '0.33', '1.11'],
      ['recovery 40 steps', '0.55', '0.09', '0.21'],
      ['recovery 160 steps', '0.63', '0.27', '1.27'],
    ]);
  });

  test('--screen 10:40:3 on the five committed cases: the 40-step picks at 75 % of their scoring steps', () => {
    // The same call as above: the best 3 of each case by its 10-step score, then the best of those by its
    // 40-step score, keep what 40 steps for all keeps in every case (regrets 0.06 / 0.00 / 0.19 / 0.21 / 0.00
    // points); 5 cases x (6 x 10 + 3 x 40) = 900 steps against 5 x 6 x 40 = 1,200.
    verdictsOfFiveCases(parseScreen('10:40:3'));
    expect(out.lines.at(-1)).toBe(
      'screened, recovery 10 -> 40 steps (the best 3 by 10 steps scored again at 40): regret of the pick ' +
        '0.06 / 0.00 / 0.19 / 0.21 / 0.00, mean 0.09, max 0.21 points over 5 cases; ' +
        '900 scoring steps, against 1200 for 40 steps each (75 %)',
    );
  });

  test("the six cases run again as campaigns with two-stage scoring (--rescore 3:40): the offline screen's picks", () => {
    // bench/results/recovery-sweep (RESULTS.md, "Two-stage scoring in the campaign"): the same six cases, each
    // campaign scoring its 6 candidates at 10 steps and its best 3 again at 40, every fine-tune reused. The
    // kept models are the 40-step picks of the one-stage runs in all six (the regrets the screen read offline
    // on the five, 0.06 / 0.00 / 0.19 / 0.21 / 0.00, and 0.34 on the sixth); the rho is the 10-step first score's.
    verdictsOfCommitted(DEMOCNN_RESCORE_10);
    expectPrinted(
      '| democnn | 0.15 | recovery 10 steps, top 3 again at 40 | 6 | 0.49 | 0.178 | 85.0 % | 85.0 % | 0.0 | 9.4 | 1.0 | 13.6 | 1.00 | 1.00 |',
      'pooled, recovery 10 steps, top 3 again at 40 (score top-1): mean within-case rho 0.46 over 6 cases, one-sided permutation p 0.0060; regret of the kept candidate mean 0.13, max 0.34 points over 6 cases',
    );
  });

  test('the six cases as campaigns with a zero-shot first stage (--modes zero-shot --rescore 3:40): the same picks for 120 steps', () => {
    // bench/results/recovery-sweep (RESULTS.md, "A zero-shot first stage in the campaign"): each campaign scores
    // its 6 candidates zero-shot and its best 3 by that again at 40 steps. It keeps the model the 10-step first
    // stage keeps in all six cases (kept means as in the test above), and its rho is the zero-shot score's.
    verdictsOfCommitted(DEMOCNN_RESCORE_ZS);
    expectPrinted(
      '| democnn | 0.15 | zero-shot, top 3 again at 40 | 6 | 0.66 | 0.087 | 85.0 % | 85.0 % | 0.0 | 9.4 | 1.0 | 13.6 | 1.00 | 1.00 |',
      'pooled, zero-shot, top 3 again at 40 (score top-1): mean within-case rho 0.53 over 6 cases, one-sided permutation p 0.0012; regret of the kept candidate mean 0.13, max 0.34 points over 6 cases',
    );
  });

  test('resnet18 on the 100-class set: nothing to rank, and the zero-shot first stage keeps another model than 10 steps first', () => {
    // bench/results/recovery-sweep (RESULTS.md, "resnet18 on the 100-class set"): one case, two seeds, on the new
    // images. LAMP's shape (the 40-step pick) is fourth by zero-shot top-1, so the zero-shot first stage does not
    // rescore it and keeps global L2 isomorphic, 0.31 points below; 10 steps first keeps LAMP. The seeds order the
    // six at -0.06: the candidates do not differ beyond seed noise.
    verdictsOfCommitted(R18_05, undefined, R18_NEW_VAL);
    expectPrinted(
      'final top-1: on the new images of ' + path.join(RESULTS_DIR, R18_NEW_VAL) + ' (24 fine-tunes)', // 12 of this case, 12 of the 0.3 case below
      '| resnet18 | 0.5 | recovery 40 steps | 6 | 0.40 | 0.219 | 86.2 % | 86.2 % | 0.0 | 0.1 | 0.2 | 0.8 | 0.00 | -0.06 |',
      '| resnet18 | 0.5 | zero-shot, top 3 again at 40 | 6 | -0.38 | 0.783 | 85.9 % | 86.2 % | 0.3 | 0.1 | 0.2 | 0.8 | 0.00 | -0.06 |',
      'pooled, zero-shot, top 3 again at 40 (score top-1): mean within-case rho -0.38 over 1 cases, one-sided permutation p 0.7846; regret of the kept candidate mean 0.31, max 0.31 points over 1 cases',
      'pooled, recovery 10 steps, top 3 again at 40 (score top-1): mean within-case rho 0.58 over 1 cases, one-sided permutation p 0.1195; regret of the kept candidate mean 0.00, max 0.00 points over 1 cases',
    );
  });

  test('resnet18 at 0.3 on the 100-class set: a real order that every score ranks backwards', () => {
    // bench/results/recovery-sweep (RESULTS.md, "resnet18 at 0.3 on the 100-class set"): the six end within 0.52
    // points on the new images, but the two seeds order them alike (0.83). LAMP's shape is best (85.65) and scored
    // lowest at every length; every recovery stage keeps per-layer L1 (85.19, regret 0.47), zero-shot alone the
    // stage allocation (85.44, regret 0.21).
    verdictsOfCommitted(R18_03, undefined, R18_NEW_VAL);
    expectPrinted(
      '| resnet18 | 0.3 | zero-shot | 6 | -0.37 | 0.790 | 85.4 % | 85.7 % | 0.2 | 0.2 | 0.1 | 3.3 | 0.95 | 0.83 |',
      '| resnet18 | 0.3 | recovery 40 steps | 6 | -0.43 | 0.822 | 85.2 % | 85.7 % | 0.5 | 0.2 | 0.1 | 3.3 | 0.95 | 0.83 |',
      '| resnet18 | 0.3 | zero-shot, top 3 again at 40 | 6 | -0.37 | 0.790 | 85.2 % | 85.7 % | 0.5 | 0.2 | 0.1 | 3.3 | 0.95 | 0.83 |',
      'pooled, zero-shot (score top-1): mean within-case rho -0.37 over 1 cases, one-sided permutation p 0.7898; regret of the kept candidate mean 0.21, max 0.21 points over 1 cases',
      'pooled, recovery 10 steps, top 3 again at 40 (score top-1): mean within-case rho -0.43 over 1 cases, one-sided permutation p 0.8228; regret of the kept candidate mean 0.47, max 0.47 points over 1 cases',
    );
  });

  test('resnet18 at 0.3 with a 24-epoch dense model: the same order, ranked backwards more strongly', () => {
    // bench/results/recovery-sweep (RESULTS.md, "resnet18 at 0.3 with a 24-epoch dense model"): LAMP's shape is
    // best (87.63) and scored lowest at every length; every score and the 10 -> 40 screen keep per-layer L1
    // (86.91, regret 0.73).
    verdictsOfCommitted(R18D24_03, parseScreen('10:40:3'), R18D24_NEW_VAL);
    expectPrinted(
      '| resnet18 | 0.3 | zero-shot | 6 | -0.89 | 0.992 | 86.9 % | 87.6 % | 0.7 | 0.3 | 0.3 | 1.4 | 0.68 | 0.77 |',
      '| resnet18 | 0.3 | recovery 40 steps | 6 | -0.71 | 0.949 | 86.9 % | 87.6 % | 0.7 | 0.3 | 0.3 | 1.4 | 0.68 | 0.77 |',
      'screened, recovery 10 -> 40 steps (the best 3 by 10 steps scored again at 40): regret of the pick 0.73, ' +
        'mean 0.73, max 0.73 points over 1 cases; 180 scoring steps, against 240 for 40 steps each (75 %)',
    );
  });

  test('mobilenet_v2 at 0.5 on the 100-class set: LAMP ends best, recovery and the zero-shot first stage keep it, zero-shot alone does not', () => {
    // bench/results/recovery-sweep (RESULTS.md, "mobilenet_v2 at 0.5"): a third model, two seeds, on the new images.
    // LAMP's narrow shape ends best (75.6 %); 10 and 40 recovery steps keep it, the zero-shot score keeps global L2
    // 0.79 points below while ranking the six at 0.66. The seeds order the six alike (0.71).
    // The two-stage campaign (zero-shot, then the top 3 again at 40 steps, 4.9 %) keeps LAMP and ranks at 0.66.
    verdictsOfMnv2('amd-c100-mnv2-0.5-ft2442-seeds01.json,amd-c100-mnv2-rescore-zs-40x3-0.5-seeds01.json');
    expectPrinted(
      '| mobilenet_v2 | 0.5 | zero-shot | 6 | 0.66 | 0.087 | 74.8 % | 75.6 % | 0.8 | 0.5 | 0.3 | 2.9 | 0.94 | 0.71 |',
      '| mobilenet_v2 | 0.5 | recovery 10 steps | 6 | 0.14 | 0.401 | 75.6 % | 75.6 % | 0.0 | 0.5 | 0.3 | 2.9 | 0.94 | 0.71 |',
      '| mobilenet_v2 | 0.5 | recovery 40 steps | 6 | -0.14 | 0.643 | 75.6 % | 75.6 % | 0.0 | 0.5 | 0.3 | 2.9 | 0.94 | 0.71 |',
    );
    expectPooled('zero-shot', 1, '0.66', '0.79', '0.79');
    expectPooled('recovery 40 steps', 1, '-0.14', '0.00', '0.00');
    expectPrinted(
      '| mobilenet_v2 | 0.5 | zero-shot, top 3 again at 40 | 6 | 0.66 | 0.087 | 75.6 % | 75.6 % | 0.0 | 0.5 | 0.3 | 2.9 | 0.94 | 0.71 |',
    );
    expectPooled('zero-shot, top 3 again at 40', 1, '0.66', '0.00', '0.00');
  });

  test('mobilenet_v2 at 0.5 with the sensitivity table counting shared residual streams once: the stage allocation lands and ends best', () => {
    // bench/results/recovery-sweep (RESULTS.md, "The stage allocation on mobilenet_v2"): the same case after the
    // engine's sensitivity rows stopped counting a residual stream in every block it runs through. The allocation
    // lands in band on its first trial (-1.46 %) and ends at 78.4 % on the new images, 2.8 points above LAMP; the
    // two-stage campaign keeps it (zero-shot 29.1 %, 40 steps 54.5 %, both first) and ranks the six at 0.77.
    verdictsOfMnv2('amd-c100-mnv2-shared-groups-zs-40x3-0.5-seeds01.json');
    expectPrinted(
      '| mobilenet_v2 | 0.5 | zero-shot, top 3 again at 40 | 6 | 0.77 | 0.051 | 78.4 % | 78.4 % | 0.0 | 1.6 | 0.4 | 5.8 | 0.99 | 0.94 |',
    );
    expectPooled('zero-shot, top 3 again at 40', 1, '0.77', '0.00', '0.00');
  });

  test('mobilenet_v2 at 0.3, its stage allocation landed by the held screen: it ends best, the scores keep LAMP 1.37 below', () => {
    // bench/results/recovery-sweep (RESULTS.md, "The stage allocation on mobilenet_v2"): one seed, on the new images.
    // The allocation (134 K parameters) ends at 75.7 %, LAMP at 74.3 %; zero-shot and 40 steps put LAMP first.
    verdictsOfMnv2('amd-c100-mnv2-held-zs-40x3-0.3-seed0.json');
    expectPrinted(
      '| mobilenet_v2 | 0.3 | zero-shot, top 3 again at 40 | 6 | 0.60 | 0.121 | 74.3 % | 75.7 % | 1.4 | 2.4 | 0.0 | - | - | - |',
    );
    expectPooled('zero-shot, top 3 again at 40', 1, '0.60', '1.37', '1.37');
  });

  test("the search's defaults with a dataset against the older defaults, as campaigns on mobilenet_v2: 2.3 and 3.6 points more", () => {
    // bench/results/recovery-sweep (RESULTS.md, "The search's defaults with a dataset"): `--modes
    // default,older-default`, the search block a user leaves to the tool, at 0.5 and 0.3, the picks on two seeds.
    // The defaults keep the stage allocation (78.4 %) and LAMP (74.3 %); the older defaults, four shapes scored
    // zero-shot alone, keep global L2 at roundTo 4 (76.1 %) and global L2 (70.6 %). (The 0.3 run on seed 0 alone,
    // amd-c100-mnv2-defaults-0.3-seed0.json, printed the same rows: the rows judge every candidate on seed 0.)
    verdictsOfMnv2('amd-c100-mnv2-defaults-0.5-seeds01.json,amd-c100-mnv2-defaults-0.3-seeds01.json');
    expectPrinted(
      '| mobilenet_v2 | 0.5 | zero-shot, top 3 again at 40 | 6 | 0.77 | 0.051 | 78.4 % | 78.4 % | 0.0 | 1.6 | 0.4 | 5.8 | 0.99 | 0.94 |',
      '| mobilenet_v2 | 0.5 | zero-shot | 4 | 0.80 | 0.167 | 76.1 % | 76.1 % | 0.0 | 0.7 | 0.1 | 7.4 | 0.99 | 0.40 |',
      '| mobilenet_v2 | 0.3 | zero-shot, top 3 again at 40 | 6 | 0.60 | 0.121 | 74.3 % | 75.7 % | 1.4 | 2.4 | 0.0 | - | - | - |',
      '| mobilenet_v2 | 0.3 | zero-shot | 4 | 0.40 | 0.375 | 70.6 % | 71.4 % | 0.8 | 0.8 | 0.0 | - | - | - |',
    );
    // The picks at 0.3 on seeds 0 and 1, on the new images, as README and RESULTS quote them: 74.25 (74.32 /
    // 74.18) against 70.66 (70.63 / 70.68); seed 0 of each is the fine-tune of the same shape from the run before.
    const newTop1 = newImagesTop1(MNV2_NEW_VAL);
    const mean = (...folders: string[]) =>
      (
        (folders.map((f) => newTop1.get(`bench-acc-${f}`)!).reduce((a, b) => a + b) * 100) /
        folders.length
      ).toFixed(2);
    expect(
      mean(
        'mxcsqibn-mobilenet_v2-0.3-zero-shot-top-3-again-at-40-a6-s0',
        'mxd9yyex-mobilenet_v2-0.3-default-a6-s1',
      ),
    ).toBe('74.25');
    expect(
      mean(
        'mxcsqibn-mobilenet_v2-0.3-zero-shot-top-3-again-at-40-a1-s0',
        'mxd9yyex-mobilenet_v2-0.3-older-default-a1-s1',
      ),
    ).toBe('70.66');
  });

  test('the defaults against the older defaults, as campaigns on democnn: level at both cuts', () => {
    // bench/results/recovery-sweep (RESULTS.md, "The search's defaults with a dataset"): a dense democnn trained on
    // this host, `--modes default,older-default` at 0.5 (the picks on two seeds) and 0.3 (one seed), every
    // candidate fine-tuned on seed 0, all on the 10,000 new images (20 fine-tunes). The defaults keep global L2
    // without isomorphic grouping (90.5 %) and global L2 at roundTo 2 (89.8 %); the older defaults keep global L2
    // at roundTo 2 (90.7 % on seed 0) and at roundTo 4 (89.7 %).
    verdictsOfCommitted(DEMOCNN_DEFAULTS, undefined, DEMOCNN_AMD_NEW_VAL);
    expect(out.lines[0]).toMatch(/ \(20 fine-tunes\)$/);
    expectPrinted(
      '| democnn | 0.5 | zero-shot, top 3 again at 40 | 6 | -0.26 | 0.718 | 90.5 % | 90.7 % | 0.2 | 0.3 | 0.0 | - | - | - |',
      '| democnn | 0.5 | zero-shot | 4 | 1.00 | 0.042 | 90.7 % | 90.7 % | 0.0 | 0.2 | 0.0 | - | - | - |',
      '| democnn | 0.3 | zero-shot, top 3 again at 40 | 6 | 0.31 | 0.282 | 89.8 % | 89.8 % | 0.0 | 1.3 | 0.0 | - | - | - |',
      '| democnn | 0.3 | zero-shot | 4 | 0.40 | 0.375 | 89.7 % | 89.8 % | 0.1 | 0.4 | 0.0 | - | - | - |',
    );
    // The rows judge every candidate on seed 0; the picks at 0.5 ran seed 1 too. Their two-seed means on the new
    // images, as README and RESULTS quote them: 90.53 (90.54 / 90.51) against 90.57 (90.70 / 90.44; the older
    // defaults' seed 0 is the defaults' fine-tune of the same shape, reused).
    const newTop1 = newImagesTop1(DEMOCNN_AMD_NEW_VAL);
    const pick = (...folders: string[]) =>
      (folders.map((f) => newTop1.get(`bench-acc-mxd304ze-democnn-0.5-${f}`)!).reduce((a, b) => a + b) *
        100) /
      folders.length;
    expect(pick('default-a10-s0', 'default-a10-s1').toFixed(2)).toBe('90.53');
    expect(pick('default-a8-s0', 'older-default-a8-s1').toFixed(2)).toBe('90.57');
  });

  test("the defaults' configuration on twelve cases of three models (the ten below and democnn's two): 0.26 below the best", () => {
    // Every campaign of the defaults' configuration, each against the new images of its own dense model.
    verdictsOfCommitted(
      `${DEFAULTS_TEN},${DEMOCNN_DEFAULTS}`,
      undefined,
      `${DEFAULTS_TEN_NEW_VAL},${DEMOCNN_AMD_NEW_VAL}`,
    );
    expectPooled('zero-shot, top 3 again at 40', 12, '0.32', '0.26', '1.37', '0.0051');
  });

  test("the defaults' configuration on ten cases of three models: kept a mean 0.29 points below the best of six", () => {
    // bench/results/recovery-sweep (RESULTS.md, "The search's defaults with a dataset"): every campaign run with
    // six candidates, a sensitivity table at 0.5 and the zero-shot first stage with the best 3 again at 40 steps.
    verdictsOfCommitted(DEFAULTS_TEN, undefined, DEFAULTS_TEN_NEW_VAL);
    expectPooled('zero-shot, top 3 again at 40', 10, '0.38', '0.29', '1.37', '0.0030');
  });

  test('eight cases on two models, every one-stage and campaign file in one call: the 40-step picks cost least', () => {
    // bench/results/recovery-sweep (RESULTS.md, "resnet18 at 0.3", the last point): the six democnn cases and the
    // two resnet18 cases pooled per mode, each result against the new images of its own dense model (115
    // fine-tunes in three files). 40 steps for all and 10 -> 40 keep the same picks (regret mean 0.16, max 0.47:
    // resnet18 at 0.3); the zero-shot first stage loses 0.31 more on resnet18 at 0.5.
    verdictsOfCommitted(
      [DEMOCNN_SIX, DEMOCNN_RESCORE_10, DEMOCNN_RESCORE_ZS, R18_05, R18_03].join(','),
      undefined,
      `${DEMOCNN_NEW_VAL},${R18_NEW_VAL}`,
    );
    expect(out.lines[0]).toMatch(/ \(115 fine-tunes\)$/);
    expectPooled('recovery 10 steps', 8, '0.36', '0.34', '1.11');
    expectPooled('recovery 40 steps', 8, '0.34', '0.16', '0.47');
    expectPooled('recovery 10 steps, top 3 again at 40', 8, '0.36', '0.16', '0.47');
    expectPooled('zero-shot, top 3 again at 40', 8, '0.31', '0.20', '0.47');
  });

  test("resnet18's four cases at 160 and 320 steps: the order turns after 40, and 320 keeps picks within 0.23", () => {
    // bench/results/recovery-sweep (RESULTS.md, "resnet18 after longer recoveries"): the three earlier cases'
    // candidates scored again (their fine-tunes reused; the two lengths of each case in two files of one dense
    // model) and 0.15 with the 24-epoch dense model at every length. On the two 0.3 cases LAMP's shape ends best
    // and scores lowest up to 40 steps; at 0.15 the widest shape scores best up to 40 and ends 1.22 points below
    // global L1's. After 320 steps the picks are 0.00 / 0.23 / 0.00 / 0.15 points from the best (0.5, 0.3, 0.3 with
    // the 24-epoch model, 0.15).
    verdictsOfCommitted(
      [R18_05, R18_03, R18D24_03, R18_LONG, R18D24_015].join(','),
      parseScreen('40:320:3'),
      [R18_NEW_VAL, R18D24_NEW_VAL].join(','),
    );
    expectPrinted(
      '| resnet18 | 0.3 | recovery 160 steps | 6 | 0.31 | 0.282 | 87.4 % | 87.6 % | 0.2 | 0.3 | 0.3 | 1.4 | 0.68 | 0.77 |',
      '| resnet18 | 0.3 | recovery 320 steps | 6 | 0.49 | 0.178 | 87.6 % | 87.6 % | 0.0 | 0.3 | 0.3 | 1.4 | 0.68 | 0.77 |',
      '| resnet18 | 0.3 | recovery 320 steps | 6 | 0.06 | 0.469 | 85.4 % | 85.7 % | 0.2 | 0.2 | 0.1 | 3.3 | 0.95 | 0.83 |',
      '| resnet18 | 0.15 | recovery 40 steps | 6 | 0.43 | 0.210 | 83.1 % | 84.3 % | 1.2 | 0.8 | 0.3 | 5.0 | 0.98 | 0.92 |',
      '| resnet18 | 0.15 | recovery 320 steps | 6 | 0.81 | 0.036 | 84.2 % | 84.3 % | 0.1 | 0.8 | 0.3 | 5.0 | 0.98 | 0.92 |',
      // the 0.3 cases' two lengths come from two files of the same dense model; 0.15's from one
      'screened, recovery 40 -> 320 steps (the best 3 by 40 steps scored again at 320): regret of the pick ' +
        '0.00 / 0.21 / 0.19 / 0.15, mean 0.14, max 0.21 points over 4 cases; 4800 scoring steps, against 7680 for 320 steps each (63 %)',
    );
    expectPooled('zero-shot', 4, '-0.32', '0.63', '1.22');
    expectPooled('recovery 40 steps', 4, '-0.08', '0.60', '1.22');
    expectPooled('recovery 160 steps', 4, '0.47', '0.20', '0.47');
    expectPooled('recovery 320 steps', 4, '0.44', '0.09', '0.23');
  });

  test('ten cases on two models at 10, 40 and 160 steps: 160 ranks best and keeps the closest picks', () => {
    // bench/results/recovery-sweep (RESULTS.md, "resnet18 after longer recoveries"): the six democnn cases and the
    // four resnet18 cases, one-stage files only.
    verdictsOfCommitted(
      [DEMOCNN_SIX, R18_05, R18_03, R18D24_03, R18_LONG, R18D24_015]
        .join(',')
        .split(',')
        .filter((f) => !f.includes('rescore'))
        .join(','),
      undefined,
      `${DEMOCNN_NEW_VAL},${R18_NEW_VAL},${R18D24_NEW_VAL}`,
    );
    expectPooled('recovery 10 steps', 10, '0.24', '0.47', '1.22');
    expectPooled('recovery 40 steps', 10, '0.24', '0.32', '1.22');
    expectPooled('recovery 160 steps', 10, '0.51', '0.25', '1.27', '0.0003');
  });

  test('two cases against 10,000-step fine-tunes: 160 steps at 9.6 % keep the best models, without ranking the rest', () => {
    // bench/results/recovery-sweep (RESULTS.md, "resnet18 at 0.15 against a 10,000-step final fine-tune"): resnet18
    // at 0.15 with the 24-epoch dense model, its candidates fine-tuned for 10,000 steps over two seeds, beside
    // democnn's mild cut at 10,000 steps. Taylor's and LAMP's shapes score lowest at every length and end third and
    // fourth; the widest shape scores best up to 40 steps and ends last, 0.96 points below per-layer L1.
    verdictsOfCommitted(FT10000_TWO, parseScreen('40:160:3'), `xeon-c100-new-val.jsonl,${R18D24_NEW_VAL}`);
    expectPrinted(
      '| democnn | 0.5 | recovery 160 steps | 6 | 0.37 | 0.249 | 90.9 % | 91.0 % | 0.2 | 0.1 | 0.2 | 0.9 | 0.00 | 0.58 |',
      '| resnet18 | 0.15 | zero-shot | 6 | -0.43 | 0.822 | 86.0 % | 87.0 % | 1.0 | 0.4 | 0.1 | 3.9 | 0.97 | 0.89 |',
      '| resnet18 | 0.15 | recovery 40 steps | 6 | -0.49 | 0.851 | 86.0 % | 87.0 % | 1.0 | 0.4 | 0.1 | 3.9 | 0.97 | 0.89 |',
      '| resnet18 | 0.15 | recovery 160 steps | 6 | 0.09 | 0.460 | 87.0 % | 87.0 % | 0.0 | 0.4 | 0.1 | 3.9 | 0.97 | 0.89 |',
      '| resnet18 | 0.15 | recovery 320 steps | 6 | 0.20 | 0.350 | 87.0 % | 87.0 % | 0.0 | 0.4 | 0.1 | 3.9 | 0.97 | 0.89 |',
      'screened, recovery 40 -> 160 steps (the best 3 by 40 steps scored again at 160): regret of the pick ' +
        '0.16 / 0.00, mean 0.08, max 0.16 points over 2 cases; 1440 scoring steps, against 1920 for 160 steps each (75 %)',
    );
    expectPooled('recovery 10 steps', 2, '-0.11', '0.56', '0.96');
    expectPooled('recovery 40 steps', 2, '-0.14', '0.56', '0.96');
    expectPooled('recovery 160 steps', 2, '0.23', '0.08', '0.16');
  });

  test('resnet18 at 0.3 against a 10,000-step fine-tune, one seed: the 160-step score keeps a model 0.56 below', () => {
    // RESULTS.md, "Each candidate's shape alone": LAMP's narrow shape ends best (88.80 on the new images) and the
    // campaign keeps the stage allocation (88.24); one seed, so no seed spread, resolution or ceiling.
    verdictsOfCommitted('amd-c100-r18d24-0.3-ft10000-seed0.json', undefined, R18D24_NEW_VAL);
    expectPrinted(
      '| resnet18 | 0.3 | recovery 160 steps | 6 | 0.09 | 0.460 | 88.2 % | 88.8 % | 0.6 | 0.2 | 0.0 | - | - | - |',
    );
    expectPooled('recovery 160 steps', 1, '0.09', '0.56', '0.56');
  });

  test('--screen: a known case, the same candidates required at both lengths, and what it refuses', () => {
    const strategy = (r: number) => ({
      pruningRatio: r,
      importance: 'l2' as const,
      globalPruning: true,
      isomorphic: true,
      roundTo: 8,
    });
    const at = (steps: number, attempt: number, scoreTop1: number, valTop1s: number[]) => ({
      ...candidate(attempt, scoreTop1, valTop1s),
      kept: false,
      scoreSteps: steps,
      macs: 1000 + attempt,
      strategy: strategy(attempt / 10),
    });
    // means 0.71 / 0.80 / 0.89: 10 steps rank them backwards, 40 steps rightly
    const rows = [
      at(10, 1, 0.3, [0.7, 0.72]),
      at(10, 2, 0.2, [0.8, 0.8]),
      at(10, 3, 0.1, [0.9, 0.88]),
      at(40, 1, 0.1, [0.7, 0.72]),
      at(40, 2, 0.2, [0.8, 0.8]),
      at(40, 3, 0.3, [0.9, 0.88]),
    ];
    const one = (keep: number) => screenedCases(rows, { short: 10, long: 40, keep });
    // keep 1: #1 (regret 0.18); keep 2: #1 and #2 go on, #2 kept (0.09); keep 3: #3 (0)
    expect(one(1).map((c) => Number(c.regret.toFixed(6)))).toEqual([0.18]);
    expect(one(2).map((c) => Number(c.regret.toFixed(6)))).toEqual([0.09]);
    expect(one(3)).toEqual([
      { model: 'democnn', target: 0.5, candidates: 3, regret: 0, steps: 3 * 10 + 3 * 40, longSteps: 120 },
    ]);
    expect(one(2)[0]).toMatchObject({ steps: 3 * 10 + 2 * 40, longSteps: 120 });
    // by the loss instead: equal top-1 would tie, the loss decides (lower better)
    const byLoss = rows.map((r) => ({ ...r, scoreLoss: 1 - r.scoreTop1 }));
    expect(screenedCases(byLoss, { short: 10, long: 40, keep: 2 }, 'loss')[0]!.regret).toBeCloseTo(0.09, 9);
    // a two-stage campaign's rows (--rescore) in the same file are its own, never taken for the one-stage
    // 10-step scores: the screen reads the same as without them
    const twoStage = rows
      .filter((r) => r.scoreSteps === 10)
      .map((r) => ({ ...r, scoreTop1: 1 - r.scoreTop1, rescore: { top: 2, steps: 40 } }));
    expect(screenedCases([...rows, ...twoStage], { short: 10, long: 40, keep: 2 })).toEqual(one(2));
    // the two lengths of one dense model's case join across files; another dense model's rows are another case
    const dense = (d: string) => (r: (typeof rows)[number]) => ({ ...r, dense: d });
    expect(screenedCases(rows.map(dense('a')), { short: 10, long: 40, keep: 2 })).toEqual(one(2));
    expect(
      screenedCases([...rows.slice(0, 3).map(dense('a')), ...rows.slice(3).map(dense('b'))], {
        short: 10,
        long: 40,
        keep: 2,
      }),
    ).toEqual([]);
    // the same case and length given twice (two files of one run): named, not counted twice
    expect(() => screenedCases([...rows, ...rows.slice(0, 3)], { short: 10, long: 40, keep: 2 })).toThrow(
      '--screen: democnn @ 0.5: scored at 10 steps more than once (two result files of the same case and length?): give each once',
    );
    // other candidates at 40 steps than at 10: named, not joined
    const moved = rows.map((r) => (r.scoreSteps === 40 && r.attempt === 3 ? { ...r, macs: 999 } : r));
    expect(() => screenedCases(moved, { short: 10, long: 40, keep: 2 })).toThrow(
      '--screen: democnn @ 0.5: the candidates scored at 10 steps (#1, #2, #3) are not those scored at 40 (#1, #2, #3) with the same strategy and MACs',
    );
    const other = rows.map((r) =>
      r.scoreSteps === 40 && r.attempt === 3 ? { ...r, strategy: strategy(0.9) } : r,
    );
    expect(() => screenedCases(other, { short: 10, long: 40, keep: 2 })).toThrow(/not those scored at 40/);
    // a file with one of the two lengths only: nothing to screen, and the call says so
    const file = path.join(out.dir, 'r10-only.json');
    fs.writeFileSync(file, JSON.stringify({ scoredCandidates: rows.slice(0, 3) }));
    expect(() => verdictsOf([file], 'top1', [], { short: 10, long: 40, keep: 2 })).toThrow(
      '--screen: no case has recovery scores at both 10 and 40 steps (in one result file, or in two of the same dense model)',
    );
    // its pooled line came first: no candidate marked kept, so no regret to pool
    expect(out.lines.filter((l) => l.startsWith('pooled, recovery 10 steps'))[0]).toMatch(
      /mean within-case rho -1\.00 over 1 cases, one-sided permutation p \S+; regret of the kept candidate - \(no case marks one kept\)$/,
    );
  });

  test('--screen is checked: SHORT:LONG:KEEP, LONG above SHORT, KEEP at least 1', () => {
    expect(parseScreen('10:40:3')).toEqual({ short: 10, long: 40, keep: 3 });
    for (const bad of ['10:40', '40:10:3', '10:10:3', '0:40:3', '10:40:0', 'a:b:c', '10:40:3.5'])
      expect(() => parseScreen(bad)).toThrow(
        `--screen: expected SHORT:LONG:KEEP, recovery steps SHORT >= 1 and LONG > SHORT and KEEP >= 1 candidates, e.g. 10:40:3; got ${JSON.stringify(bad)}`,
      );
  });

  test('results of several recovery lengths are judged and pooled per length; zero-shot keeps its name', () => {
    const at = (steps: number, rows: ReturnType<typeof candidate>[]) => {
      const file = path.join(out.dir, `r${steps}.json`);
      fs.writeFileSync(
        file,
        JSON.stringify({ scoredCandidates: rows.map((r) => ({ ...r, scoreSteps: steps })) }),
      );
      return file;
    };
    // 10 steps rank the three candidates backwards (rho -1), 160 steps rightly (rho 1): the same models, whose
    // seed means are 71, 80 and 89 %.
    const short = at(10, [
      candidate(1, 0.3, [0.7, 0.72]),
      candidate(2, 0.2, [0.8, 0.8]),
      candidate(3, 0.1, [0.9, 0.88]),
    ]);
    const long = at(160, [
      candidate(1, 0.1, [0.7, 0.72]),
      candidate(2, 0.2, [0.8, 0.8]),
      candidate(3, 0.3, [0.9, 0.88]),
    ]);
    const zero = at(0, [
      { ...candidate(1, 0.1, [0.7, 0.72]), mode: 'zero-shot' },
      { ...candidate(2, 0.3, [0.8, 0.8]), mode: 'zero-shot' },
    ]);
    verdictsOf([short, long, zero]);
    expect(out.lines).toContain(
      '| democnn | 0.5 | recovery 10 steps | 3 | -1.00 | 1.000 | 71.0 % | 89.0 % | 18.0 | 9.0 | 1.2 | 11.0 | 1.00 | 1.00 |',
    );
    expect(out.lines).toContain(
      '| democnn | 0.5 | recovery 160 steps | 3 | 1.00 | 0.167 | 71.0 % | 89.0 % | 18.0 | 9.0 | 1.2 | 11.0 | 1.00 | 1.00 |',
    );
    expect(out.lines.some((l) => l.startsWith('| democnn | 0.5 | zero-shot | 2 |'))).toBe(true);
    const pooled = out.lines.filter((l) => l.startsWith('pooled, ') && !l.includes('resolved'));
    expect(
      pooled.map((l) => /^pooled, (.*) \(score top-1\): mean within-case rho (\S+) /.exec(l)!.slice(1)),
    ).toEqual([
      ['recovery 10 steps', '-1.00'],
      ['recovery 160 steps', '1.00'],
      ['zero-shot', '1.00'],
    ]);
  });

  // Four candidates whose top-1 order and loss order disagree: by top-1 the campaign kept #2 (0.80), by loss
  // it would keep #3 (0.60), the best after fine-tuning.
  const disagreeing = () => [
    { ...candidate(1, 0.7, [0.7, 0.7], 0.9), kept: false },
    { ...candidate(2, 0.8, [0.76, 0.78], 0.8), kept: true },
    { ...candidate(3, 0.75, [0.9, 0.9], 0.6), kept: false },
    { ...candidate(4, 0.72, [0.8, 0.82], 0.7), kept: false },
  ];

  test('judged by loss: the score is the loss negated, and the kept candidate the lowest loss', () => {
    // Means 0.70, 0.77, 0.90, 0.81. By top-1 (ranks 1 4 3 2 against 1 2 4 3): d^2 = 0 + 4 + 1 + 1 = 6, rho
    // 1 - 36 / 60 = 0.4, regret 90 - 77 = 13 points. By -loss (ranks 1 2 4 3): rho 1, regret 0.
    const byTop1 = judge(disagreeing()).verdicts[0]!;
    expect(byTop1.rho).toBeCloseTo(0.4, 10);
    expect(byTop1.keptMean).toBeCloseTo(0.77, 10);
    expect(byTop1.regret).toBeCloseTo(0.13, 10);
    expect(disagreeing().map((r) => rankedScore(r, 'loss'))).toEqual([-0.9, -0.8, -0.6, -0.7]);
    expect(disagreeing().map((r) => rankedScore(r, 'top1'))).toEqual([0.7, 0.8, 0.75, 0.72]);
    const byLoss = judge(disagreeing(), 'loss').verdicts[0]!;
    expect(byLoss.rho).toBeCloseTo(1, 10);
    expect(byLoss.keptMean).toBeCloseTo(0.9, 10);
    expect(byLoss.regret).toBeCloseTo(0, 10);
  });

  test("a campaign ranked by loss keeps its own kept when judged by loss, and top-1's when judged by top-1", () => {
    // The campaign ran with rankBy loss and kept #3; judged by top-1 the kept is the highest top-1, #2.
    const ranLoss = disagreeing().map((r) => ({ ...r, rankBy: 'loss' as const, kept: r.attempt === 3 }));
    expect(judge(ranLoss, 'loss').verdicts[0]!.keptMean).toBeCloseTo(0.9, 10);
    expect(judge(ranLoss, 'top1').verdicts[0]!.keptMean).toBeCloseTo(0.77, 10);
  });

  test('--verdicts-of --rank-by loss prints the loss verdict; a bad --rank-by is named', () => {
    const file = path.join(out.dir, 'result.json');
    fs.writeFileSync(file, JSON.stringify({ scoredCandidates: disagreeing() }));
    verdictsOf([file], 'loss');
    expect(out.lines.some((l) => l.includes('| rho (score loss, negated vs seed-mean val) |'))).toBe(true);
    expect(out.lines.find((l) => l.startsWith('| democnn |'))).toMatch(
      /^\| democnn \| 0\.5 \| recovery \| 4 \| 1\.00 \| 0\.042 \| 90\.0 % \| 90\.0 % \| 0\.0 \|/,
    );
    expect(out.lines.filter((l) => l.startsWith('pooled, recovery (score loss, negated):'))).toHaveLength(2);
    expect(() => parseRankBy('top5')).toThrow('--rank-by: expected top1 or loss, got "top5"');
  });

  test('a file that is not a bench/accuracy result is named', () => {
    const file = path.join(out.dir, 'other.json');
    fs.writeFileSync(file, JSON.stringify({ rows: [] }));
    expect(() => verdictsOf([file])).toThrow(
      `${file}: expected the JSON of bench/accuracy --json, with scoredCandidates`,
    );
  });
});
