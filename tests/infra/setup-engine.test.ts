import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../support/test-env';

const ROOT = path.join(__dirname, '..', '..');
const GIB = 1024 ** 3;

// The engine install's disk check, on a copy of the project's own script and pyproject (no venv there):
// the real script, the real disk; only the threshold is set past what any disk has.
describe('infra/setup-engine.sh before any download', () => {
  test('too little free space: one line naming the folder, what it needs and what it found; nothing created', () => {
    const root = tempDir('ap-setup-engine-');
    fs.mkdirSync(path.join(root, 'infra'));
    fs.mkdirSync(path.join(root, 'engine'));
    fs.copyFileSync(path.join(ROOT, 'infra', 'setup-engine.sh'), path.join(root, 'infra', 'setup-engine.sh'));
    fs.copyFileSync(path.join(ROOT, 'engine', 'pyproject.toml'), path.join(root, 'engine', 'pyproject.toml'));
    const stat = fs.statfsSync(path.join(root, 'engine'));
    const run = spawnSync('bash', [path.join(root, 'infra', 'setup-engine.sh')], {
      env: { ...process.env, AP_ENGINE_INSTALL_GB: '100000' },
      encoding: 'utf8',
    });
    const after = fs.statfsSync(path.join(root, 'engine'));
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    const m = lines[0]!.match(
      /^\[setup-engine\] error: the engine venv needs about 100000 GiB free on the disk of (.+) \(torch with its CUDA libraries\); (\d+) GiB there\. Free some space, or set AP_ENGINE_INSTALL_GB to try with less$/,
    );
    expect(m).not.toBeNull();
    expect(m![1]).toBe(path.join(root, 'engine'));
    // What df reports as available, whole GiB (the disk may move between the two readings).
    const gib = (s: fs.StatsFs) => Math.floor((s.bavail * s.bsize) / GIB);
    expect([gib(stat), gib(after)]).toContain(Number(m![2]));
    expect(fs.existsSync(path.join(root, 'engine', '.venv'))).toBe(false);
    fs.rmSync(root, { recursive: true, force: true });
  });
});
