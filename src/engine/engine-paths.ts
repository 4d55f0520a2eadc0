import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root (where package.json and engine/ live), found from this file's location. */
export function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'engine', 'pyproject.toml'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find the agentic-pruner root (engine/pyproject.toml) above ${__dirname}`);
}

/** Where the engine runs: its python and working directory. */
export interface EngineLocation {
  python: string;
  cwd: string;
}

/**
 * The engine's python: `AP_ENGINE_PYTHON` when set (read by entry points and passed here), else the
 * project-local venv `engine/.venv/bin/python` that `infra/setup-engine.sh` installs.
 */
export function defaultEngineLocation(pythonOverride?: string): EngineLocation {
  const root = repoRoot();
  const python = pythonOverride ?? path.join(root, 'engine', '.venv', 'bin', 'python');
  if (!fs.existsSync(python)) {
    throw new Error(
      `engine python not found at ${python}: run \`bash infra/setup-engine.sh\` (or set AP_ENGINE_PYTHON)`,
    );
  }
  return { python, cwd: path.join(root, 'engine') };
}
