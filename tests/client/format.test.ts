import type { Attempt } from '../../src/core/attempt';
import { attemptRole } from '../../src/core/search-state';
import { baseStrategy } from '../../src/core/strategy';
import {
  attemptsTable,
  exportCsv,
  finalistsLine,
  fineTuneLine,
  logHeading,
  percent,
  scoreText,
  searchPlanLine,
} from '../../src/client/format';
import { CampaignConfigSchema } from '../../src/core/campaign-config';

// A scored search at 10 M MACs, band -5%..+1%: #1 a scaling step (+20 %), #2 a candidate scored zero-shot,
// #3 a candidate scored after a 50-step recovery fine-tune (kept), #4 a candidate whose scoring failed,
// #5 a failed trial.
const at = (index: number, d: number, extra: Partial<Attempt> = {}): Attempt => ({
  index,
  agent: 'solver',
  strategy: baseStrategy(0.3 + index / 100, { rationale: `step ${index}` }),
  macs: 10e6 * (1 + d),
  params: 1e5,
  deviation: d,
  inBand: d >= -0.05 && d <= 0.01,
  wallMs: 100,
  ...extra,
});
const zeroShot = {
  mode: 'zero-shot' as const,
  top1: 0.61328125,
  loss: 1.12,
  count: 256,
  steps: 0,
  wallMs: 400,
};
const recovery = {
  mode: 'recovery' as const,
  top1: 0.7421875,
  loss: 0.83,
  count: 256,
  steps: 50,
  wallMs: 9000,
};
const ATTEMPTS: Attempt[] = [
  at(1, 0.2),
  at(2, -0.01, { score: zeroShot }),
  at(3, -0.02, { score: recovery }),
  at(4, 0.005, { scoreError: 'EngineError: CUDA out of memory' }),
  {
    ...at(5, 0),
    macs: 0,
    params: 0,
    deviation: -1,
    inBand: false,
    wallMs: 0,
    error: 'EngineError: bad ratio',
  },
];

/** The fields of a strategy log's heading other than its attempts and kept one. */
const HEADING = {
  targetLabel: 't',
  model: 'democnn',
  targetMacs: 13_681_280,
  band: { lo: -0.05, hi: 0.01 },
  status: 'COMPLETED',
};

describe('the heading of a strategy log', () => {
  const log = {
    ...HEADING,
    attempts: [1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => at(i, 0.2 / i)),
    chosenIndex: 7,
  };
  test('the kept attempt, and the figure that kept it when the search ranked by loss', () => {
    expect(logHeading({ ...log, result: { status: 'converged' } })).toBe(
      't: democnn -> 13.7 M MACs, band -5%..+1% (converged, 9 attempts, kept #7)',
    );
    expect(logHeading({ ...log, result: { status: 'converged', rankBy: 'loss' } })).toBe(
      't: democnn -> 13.7 M MACs, band -5%..+1% (converged, 9 attempts, kept #7 (the lowest score loss))',
    );
    expect(logHeading({ ...log, status: 'RUNNING', chosenIndex: null })).toBe(
      't: democnn -> 13.7 M MACs, band -5%..+1% (RUNNING, 9 attempts)',
    );
  });

  test("the scoring's fine-tune steps, when scores fine-tuned", () => {
    // ATTEMPTS: #2 scored zero-shot (0 steps), #3 after a 50-step recovery, #4 scoring failed.
    expect(logHeading({ ...log, attempts: ATTEMPTS, chosenIndex: 3, result: { status: 'converged' } })).toBe(
      't: democnn -> 13.7 M MACs, band -5%..+1% (converged, 5 attempts, 2 scored with 50 fine-tune steps, kept #3)',
    );
    // Scored with no training: the count, and that it was zero-shot.
    const zeroShot = [1, 2, 3].map((i) =>
      at(i, -0.02, { score: { ...recovery, mode: 'zero-shot', steps: 0 } }),
    );
    expect(logHeading({ ...log, attempts: zeroShot, chosenIndex: 2, result: { status: 'converged' } })).toBe(
      't: democnn -> 13.7 M MACs, band -5%..+1% (converged, 3 attempts, 3 scored zero-shot, kept #2)',
    );
    // Six candidates after a 400-step recovery each.
    const six = [1, 2, 3, 4, 5, 6].map((i) => at(i, -0.02, { score: { ...recovery, steps: 400 } }));
    expect(logHeading({ ...log, attempts: six, chosenIndex: 2, result: { status: 'converged' } })).toBe(
      't: democnn -> 13.7 M MACs, band -5%..+1% (converged, 6 attempts, 6 scored with 2,400 fine-tune steps, kept #2)',
    );
  });
});

describe('the strategy log table with scores', () => {
  const text = attemptsTable(ATTEMPTS, 3);
  const rows = text.split('\n');

  test('a role and a score column; each row shows its role and the score its attempt holds', () => {
    const head = rows[0]!.split(/\s{2,}/);
    expect(head.slice(0, 4)).toEqual(['#', 'kept', 'role', 'agent']);
    const score = head.indexOf('score');
    expect(score).toBeGreaterThan(0);
    // Rows 2.. (after the header and its rule line).
    expect(rows[2]).toMatch(/^1\s+scaling\s+solver/);
    expect(rows[3]).toMatch(/^2\s+candidate\s+solver/);
    expect(rows[4]).toMatch(/^3\s+kept\s+candidate\s+solver/);
    expect(rows[6]).toMatch(/^5\s+failed\s+solver/);
    // The same top-1 the attempt's score holds, formatted as the CLI formats percentages.
    expect(rows[3]).toContain(`${percent(zeroShot.top1)} zero-shot`);
    expect(percent(zeroShot.top1)).toBe('61.3%');
    expect(rows[4]).toContain('74.2% recovery 50 steps');
    expect(rows[5]).toContain('scoring failed: EngineError: CUDA out of memory');
  });

  test('scoreText: scored, failed, unscored', () => {
    expect(scoreText(ATTEMPTS[1]!)).toBe('61.3% zero-shot');
    expect(scoreText(ATTEMPTS[2]!)).toBe('74.2% recovery 50 steps');
    expect(scoreText(ATTEMPTS[3]!)).toBe('failed');
    expect(scoreText(ATTEMPTS[0]!)).toBe('-');
  });
});

describe('campaign export --format csv with scores', () => {
  const csv = exportCsv(
    ATTEMPTS.map((a) => ({
      ...a,
      target: 'half',
      targetMacs: 10e6,
      role: a.error ? 'failed' : a.inBand ? 'candidate' : 'scaling',
      kept: a.index === 3,
    })),
  ).split('\n');
  const header = csv[0]!.split(',');
  const field = (row: number, name: string) => csv[row]!.split(',')[header.indexOf(name)];

  test('the score columns hold the recorded numbers; empty where absent', () => {
    expect(header).toEqual(
      expect.arrayContaining(['role', 'scoreMode', 'scoreTop1', 'scoreLoss', 'scoreSteps', 'scoreError']),
    );
    expect(csv).toHaveLength(ATTEMPTS.length + 1);
    expect([field(2, 'role'), field(2, 'scoreMode'), field(2, 'scoreTop1'), field(2, 'scoreSteps')]).toEqual([
      'candidate',
      'zero-shot',
      '0.61328125',
      '0',
    ]);
    expect([
      field(3, 'scoreMode'),
      field(3, 'scoreTop1'),
      field(3, 'scoreLoss'),
      field(3, 'scoreSteps'),
      field(3, 'kept'),
    ]).toEqual(['recovery', '0.7421875', '0.83', '50', 'true']);
    expect([field(4, 'scoreTop1'), field(4, 'scoreError')]).toEqual(['', 'EngineError: CUDA out of memory']);
    expect([field(1, 'role'), field(1, 'scoreMode'), field(5, 'role')]).toEqual(['scaling', '', 'failed']);
  });
});

describe('a two-stage scoring in the log and the export', () => {
  // #2 and #3 the finalists: #2 scored again after 40 steps (kept), #3's second score failed.
  const second = { ...recovery, top1: 0.78125, loss: 0.61, steps: 40 };
  const first = { ...recovery, steps: 10 };
  const two: Attempt[] = [
    at(1, 0.2),
    at(2, -0.01, { score: first, rescore: second }),
    at(3, -0.02, { score: { ...first, top1: 0.75 }, rescoreError: 'EngineError: boom' }),
    at(4, -0.03, { score: { ...first, top1: 0.5 } }),
  ];

  test('the score column shows the second score after an arrow, or that it failed', () => {
    expect(scoreText(two[1]!)).toBe('74.2% recovery 10 steps -> 78.1% 40 steps');
    expect(scoreText(two[2]!)).toBe('75.0% recovery 10 steps -> failed');
    expect(scoreText(two[3]!)).toBe('50.0% recovery 10 steps');
    const rows = attemptsTable(two, 2).split('\n');
    expect(rows[3]).toMatch(/^2\s+kept\s+candidate\s/);
    expect(rows[3]).toContain('74.2% recovery 10 steps -> 78.1% 40 steps');
    expect(rows[4]).toContain('second score failed: EngineError: boom');
  });

  test('the heading counts the finalists and their steps, and says the second score kept the attempt', () => {
    const log = { ...HEADING, attempts: two, chosenIndex: 2 };
    // 3 x 10 first steps and one 40-step second score (the failed one counts nothing).
    expect(logHeading({ ...log, result: { status: 'converged' } })).toBe(
      't: democnn -> 13.7 M MACs, band -5%..+1% (converged, 4 attempts, 3 scored and 1 finalist again with 70 fine-tune steps, kept #2 (the best second score))',
    );
    expect(logHeading({ ...log, result: { status: 'converged', rankBy: 'loss' } })).toContain(
      'kept #2 (the lowest second-score loss))',
    );
  });

  test("watch's finalists line: each finalist's second top-1, failed, or pending; nothing before finalists", () => {
    const pending = [...two, at(5, -0.01, { score: first })];
    expect(finalistsLine({ attempts: pending, finalists: { indices: [2, 3, 5], steps: 40 } })).toBe(
      'finalists, scored again with 40 recovery steps each: #2 78.1%, #3 failed, #5 pending',
    );
    expect(finalistsLine({ attempts: two })).toBeUndefined();
  });

  test('the rescore columns hold the second score; empty where absent', () => {
    const csv = exportCsv(
      two.map((a) => ({ ...a, target: 'half', targetMacs: 10e6, role: attemptRole(a), kept: a.index === 2 })),
    ).split('\n');
    const header = csv[0]!.split(',');
    const field = (row: number, name: string) => csv[row]!.split(',')[header.indexOf(name)];
    expect(
      ['rescoreTop1', 'rescoreLoss', 'rescoreCount', 'rescoreSteps', 'rescoreError'].map((c) => field(2, c)),
    ).toEqual(['0.78125', '0.61', '256', '40', '']);
    expect([field(3, 'rescoreTop1'), field(3, 'rescoreError')]).toEqual(['', 'EngineError: boom']);
    expect([field(4, 'rescoreTop1'), field(4, 'scoreTop1')]).toEqual(['', '0.5']);
  });
});

describe('campaign export --format csv: the role column from attemptRole', () => {
  // Rows as CampaignClient.exportRows builds them: the role is the real attemptRole of each attempt.
  const rows = ATTEMPTS.map((a) => ({
    target: 'half',
    targetMacs: 10e6,
    ...a,
    role: attemptRole(a),
    kept: a.index === 3,
  }));
  const csv = exportCsv(rows).split('\n');
  const header = csv[0]!.split(',');
  const roles = csv.slice(1).map((line) => line.split(',')[header.indexOf('role')]);

  test('each attempt exports its role: scaling out of band, candidate in band, failed without a measurement', () => {
    expect(rows.map((r) => r.role)).toEqual(['scaling', 'candidate', 'candidate', 'candidate', 'failed']);
    expect(roles).toEqual(['scaling', 'candidate', 'candidate', 'candidate', 'failed']);
    // The rows of the test above (role written inline) hold the very same roles.
    expect(ATTEMPTS.map((a) => (a.error ? 'failed' : a.inBand ? 'candidate' : 'scaling'))).toEqual(roles);
  });
});

const REF = { uri: 's3://b/k', key: 'k', sha256: '0'.repeat(64), sizeBytes: 1 };

test.each([
  [
    'a fine-tune of a target, with loss, ETA and a stored checkpoint',
    'ta',
    { step: 120, totalSteps: 400, loss: 0.4321, etaSec: 61.4, checkpoints: [{ step: 100 }] },
    'fine-tune ta ███······· 120/400, loss 0.432, ETA 61 s; last checkpoint step 100',
  ],
  [
    'just started: no total yet, no loss, no ETA, no checkpoint',
    undefined,
    { step: 0, totalSteps: null, loss: null, etaSec: null, checkpoints: [] },
    'fine-tune ·········· 0/?; last checkpoint step -',
  ],
  [
    'done: the bar is full',
    't50',
    { step: 400, totalSteps: 400, loss: 0.1, etaSec: 0, checkpoints: [{ step: 390 }, { step: 400 }] },
    'fine-tune t50 ██████████ 400/400, loss 0.100, ETA 0 s; last checkpoint step 400',
  ],
])('watch line: %s', (_case, label, ft, line) =>
  expect(
    fineTuneLine(label, { ...ft, checkpoints: ft.checkpoints.map((c) => ({ ...c, ref: REF })) }, 10),
  ).toBe(line),
);

describe("the candidates' shapes in the log table and the export", () => {
  // A scored search's candidates: the base family's landing, isomorphic off, per-layer uniform L1, a stage
  // allocation. Without the shape column the first two read alike (l2, round 8).
  const shaped: Attempt[] = [
    at(1, -0.01, { score: zeroShot }),
    at(2, -0.02, { strategy: baseStrategy(0.24, { isomorphic: false }), score: zeroShot }),
    at(3, -0.03, {
      strategy: baseStrategy(0.32, { importance: 'l1', globalPruning: false, isomorphic: false, roundTo: 1 }),
      score: zeroShot,
    }),
    at(4, -0.01, {
      strategy: baseStrategy(0.27, { stageRatios: { stage1: 0, stage3: 0.54, stage2: 0.31, stem: 0.05 } }),
      score: zeroShot,
    }),
  ];

  test('the log has a shape column after round: -, non-isomorphic, local; non-isomorphic, stage ratios', () => {
    const rows = attemptsTable(shaped, 1).split('\n');
    const head = rows[0]!.split(/\s{2,}/);
    expect(head.slice(head.indexOf('round'), head.indexOf('round') + 3)).toEqual(['round', 'shape', 'MACs']);
    // The shape cell sits between the round and the MACs cells of each row.
    const shapeOf = (row: string) => /\s(?:8|1)\s{2,}(.+?)\s{2,}\d+\.\d+ M\s/.exec(row)?.[1];
    expect(rows.slice(2).map(shapeOf)).toEqual([
      '-',
      'non-isomorphic',
      'local; non-isomorphic',
      // 4 stage ratios are 51 characters: the cell ends in … at 32 (the export has them whole)
      'stage1=0.000; stage3=0.540; sta…',
    ]);
  });

  test('the export has the whole shape', () => {
    const csv = exportCsv(
      shaped.map((a) => ({ ...a, target: 't', targetMacs: 10e6, role: 'candidate' as const, kept: false })),
    ).split('\n');
    const col = csv[0]!.split(',').indexOf('shape');
    expect(col).toBe(csv[0]!.split(',').indexOf('roundTo') + 1);
    expect(csv.slice(1).map((l) => l.split(',')[col])).toEqual([
      '-',
      'non-isomorphic',
      'local; non-isomorphic',
      'stage1=0.000; stage3=0.540; stage2=0.310; stem=0.050',
    ]);
  });

  test('the export names every layer ratio and ignored layer, where the log names three and a count', () => {
    const many = at(5, -0.01, {
      strategy: baseStrategy(0.3, {
        layerRatios: { a: 0.1, b: 0.2, c: 0.3, d: 0.4, e: 0.5 },
        ignoredLayers: ['fc', 'conv1', 'x', 'y'],
      }),
      score: zeroShot,
    });
    const csv = exportCsv([{ ...many, target: 't', targetMacs: 10e6, role: 'candidate', kept: false }]).split(
      '\n',
    );
    // Quoted after roundTo, since the ignored layers are joined by commas.
    expect(csv[1]).toContain(',8,"a=0.100; b=0.200; c=0.300; d=0.400; e=0.500; ignore fc,conv1,x,y",');
    expect(attemptsTable([many], 1)).toContain(' a=0.100; b=0.200; c=0.300; +2 l… ');
  });
});

test("the log's note cell is cut with … at 80 characters, whitespace folded; a short one is whole", () => {
  const long = `${'why '.repeat(30)}end`;
  const row = (rationale: string) =>
    attemptsTable([at(1, -0.01, { strategy: baseStrategy(0.3, { rationale }) })], 1).split('\n')[2]!;
  const note = row(`  ${long.replace(/ /g, '\n ')}`).slice(-80);
  expect(note).toBe(`${'why '.repeat(19)}why…`);
  expect(note).toHaveLength(80);
  expect(row('scale to the band')).toMatch(/\sscale to the band$/);
});

describe('the search plan campaign start prints', () => {
  const parsed = (search: Record<string, unknown>, dataset = true) =>
    CampaignConfigSchema.parse({
      model: { name: 'democnn' },
      targets: [{ fraction: 0.5 }],
      ...(dataset ? { dataset: { root: '/data/shapes' } } : {}),
      ...((search.recovery && 'share' in (search.recovery as object)) || search.finetune
        ? { finetune: { epochs: 1 } }
        : {}),
      search: Object.fromEntries(Object.entries(search).filter(([k]) => k !== 'finetune')),
    });

  test.each<[string, Record<string, unknown>, boolean, string]>([
    [
      'the defaults with a dataset',
      {},
      true,
      'search: solver, up to 10 iterations: up to 6 in-band candidates, a stage allocation from a sensitivity table at 0.5 among the shapes; each scored zero-shot on a train/ slice, the best 3 again after 40 recovery steps each',
    ],
    [
      'the defaults with a dataset and a fine-tune: the finalists within 10% of its steps',
      { finetune: true },
      true,
      "search: solver, up to 10 iterations: up to 6 in-band candidates, a stage allocation from a sensitivity table at 0.5 among the shapes; each scored zero-shot on a train/ slice, the best 3 again after 40 recovery steps each within 10% of the final fine-tune's steps",
    ],
    [
      'the older knob',
      { extendedSearch: 3 },
      true,
      'search: solver, up to 10 iterations: the first in-band attempt and 3 more of fixed shapes; each scored zero-shot on a train/ slice',
    ],
    [
      'no extended attempts',
      { extendedSearch: 0 },
      true,
      'search: solver, up to 10 iterations: the first in-band attempt; each scored zero-shot on a train/ slice',
    ],
    [
      'no dataset',
      { agent: 'grid', maxIterations: 30 },
      false,
      'search: grid, up to 30 iterations: the first in-band attempt and 3 more of fixed shapes, not scored (no dataset)',
    ],
    [
      'a recovery share, ranked by loss',
      { candidates: 4, scoring: 'recovery', recovery: { share: 0.05 }, sensitivity: false, rankBy: 'loss' },
      true,
      "search: solver, up to 10 iterations: up to 4 in-band candidates; each scored on a train/ slice after a recovery of 5% of the final fine-tune's steps over the candidates, kept by the lowest held-out loss",
    ],
    [
      'recovery steps by default, two stages',
      {
        scoring: 'recovery',
        recovery: { steps: 10, rescore: { top: 2, steps: 40 } },
        sensitivity: { ratios: [0.3, 0.6] },
      },
      true,
      'search: solver, up to 10 iterations: up to 6 in-band candidates, a stage allocation from a sensitivity table at 0.3, 0.6 among the shapes; each scored on a train/ slice after a recovery of 10 steps, the best 2 again after 40 recovery steps each',
    ],
    [
      'epochs, one candidate',
      { candidates: 1, scoring: 'recovery', recovery: { epochs: 0.25 } },
      true,
      'search: solver, up to 10 iterations: up to 1 in-band candidate; each scored on a train/ slice after a recovery of 0.25 epoch of train/',
    ],
  ])('%s', (_label, search, dataset, line) => {
    expect(searchPlanLine(parsed(search, dataset))).toBe(line);
  });
});
