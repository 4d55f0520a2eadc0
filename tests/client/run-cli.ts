import { main } from '../../src/client/cli';

/** What one in-process CLI run printed and exited with. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Run the CLI in-process and capture what it prints (console and the raw streams). */
export async function cli(...args: string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const log = jest
    .spyOn(console, 'log')
    .mockImplementation((...a: unknown[]) => void (out += `${a.join(' ')}\n`));
  const error = jest
    .spyOn(console, 'error')
    .mockImplementation((...a: unknown[]) => void (err += `${a.join(' ')}\n`));
  const write = jest
    .spyOn(process.stderr, 'write')
    .mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  const stdout = jest
    .spyOn(process.stdout, 'write')
    .mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  process.exitCode = undefined;
  try {
    const code = await main(['node', 'agentic-pruner', ...args]);
    return { code, out, err };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
    stdout.mockRestore();
    process.exitCode = undefined;
  }
}

/** Run `fn` with some environment variables set (`undefined` unsets one), restoring them after. */
export async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, value] of Object.entries(v)) {
      if (value === undefined) delete process.env[k];
      else process.env[k] = value;
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

/** Lines of a run's stderr that look like a JS stack frame (`    at fn (file:1:2)`). */
export function stackLines(text: string): string[] {
  return text.split('\n').filter((l) => /^\s+at /.test(l));
}
