import type { z } from 'zod';

/**
 * Turns zod issues into one readable line per issue: `path.to.field: message`, the first few,
 * then "and N more" — never a raw ZodError dump in front of a user.
 */
export function formatZodIssues(issues: readonly z.core.$ZodIssue[], max = 5): string {
  const lines = issues.slice(0, max).map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
    const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
    return `${path}: ${issue.message}${keys}`;
  });
  if (issues.length > max) lines.push(`and ${issues.length - max} more`);
  return lines.join('\n');
}

/** Process exit codes of the CLI: 0 ok, 1 a run failed, 2 usage or config error. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;
/** One of the {@link ExitCode}s. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The shared base of each layer's root error (ConfigError here, ClientError, ArtifactError, EngineError,
 * OnnxError). It carries what the CLI does when the error reaches it: `exitCode`, and `messageOnly` — the
 * message alone explains it (a user or environment problem), so it is printed without a stack trace.
 * Never thrown itself.
 */
export abstract class PrunerError extends Error {
  /** The CLI's exit code for this error. @default ExitCode.failed */
  get exitCode(): ExitCodeValue {
    return ExitCode.failed;
  }
  /** Whether the message says it all (printed without a stack). @default false */
  get messageOnly(): boolean {
    return false;
  }
}

/**
 * Root of src/core's errors. Thrown when a config, request or reply fails its zod schema; `issues`
 * keeps every problem. A usage error for the CLI (exit 2, no stack).
 */
export class ConfigError extends PrunerError {
  override readonly name = 'ConfigError';
  override get exitCode(): ExitCodeValue {
    return ExitCode.usage;
  }
  override get messageOnly(): boolean {
    return true;
  }
  constructor(
    readonly source: string,
    readonly issues: readonly z.core.$ZodIssue[],
  ) {
    super(`${source} is invalid:\n${formatZodIssues(issues)}`);
  }
}

/** Validate `value` with `schema`, throwing a {@link ConfigError} that names `source` and each bad field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, source: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ConfigError(source, result.error.issues);
  return result.data;
}
