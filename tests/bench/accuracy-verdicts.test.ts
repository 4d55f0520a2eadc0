import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { verdictsOf } from '../../bench/accuracy-verdicts';

// `bench/accuracy --verdicts-of`: the table and pooled lines it prints for a stored --json result with known
// answers.
describe('bench/accuracy --verdicts-of', () => {
  let dir: string;
  let lines: string[];
  let spy: jest.SpyInstance;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-verdicts-'));
    lines = [];
    spy = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(...args.map(String).join(' ').split('\n'));
    });
  });
  afterEach(() => {
    spy.mockRestore();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const candidate = (attempt: number, scoreTop1: number, valTop1s: number[]) => ({
    model: 'democnn',
    target: 0.5,
    mode: 'recovery',
    attempt,
    kept: attempt === 1,
    scoreTop1,
    runs: valTop1s.map((valTop1, seed) => ({ seed, valTop1 })),
  });

  test('prints each case with its rho, p, regret, resolution and noise ceiling, then each mode pooled', () => {
    const file = path.join(dir, 'result.json');
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
    expect(lines).toContain(
      '| democnn | 0.5 | recovery | 3 | 1.00 | 0.167 | 71.0 % | 89.0 % | 18.0 | 9.0 | 1.2 | 11.0 | 1.00 |',
    );
    const pooled = lines.filter((l) => l.startsWith('pooled, recovery:'));
    expect(pooled).toHaveLength(2);
    expect(pooled[0]).toMatch(
      /^pooled, recovery: mean within-case rho 1\.00 over 1 cases, one-sided permutation p /,
    );
    expect(pooled[1]).toMatch(/over 1 cases resolved \(resolution > 1\), one-sided permutation p /);
    // Monte Carlo estimate of the exact 1/6 over 20,000 draws (sd 0.0026)
    const p = Number(/p (\d\.\d+)$/.exec(pooled[0]!)![1]);
    expect(Math.abs(p - 1 / 6)).toBeLessThan(0.015);
  });

  test('a file that is not a bench/accuracy result is named', () => {
    const file = path.join(dir, 'other.json');
    fs.writeFileSync(file, JSON.stringify({ rows: [] }));
    expect(() => verdictsOf([file])).toThrow(
      `${file}: expected the JSON of bench/accuracy --json, with scoredCandidates`,
    );
  });
});
