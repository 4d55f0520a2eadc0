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

/** Thrown when a config, request or reply fails its zod schema; `issues` keeps every problem. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
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
