import * as fs from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import { CampaignConfigSchema, type CampaignConfig } from '../core/campaign-config';
import { ClientError } from './errors';

/** Thrown when a campaign file cannot be read or fails validation; each line names a field (and its line). Exit 2. */
export class ConfigFileError extends ClientError {
  override readonly name = 'ConfigFileError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

function nodeAt(root: Node | null, path: PropertyKey[]): Node | null {
  let node: Node | null = root;
  for (const key of path) {
    if (node && isMap(node)) node = (node.get(key, true) as Node | undefined) ?? null;
    else if (node && isSeq(node)) node = (node.get(Number(key), true) as Node | undefined) ?? null;
    else return node;
  }
  return node;
}

/** The key node of `key` in a map node: an unknown key's own line, not its value's. */
function keyNodeAt(map: Node | null, key: string): Node | null {
  if (!map || !isMap(map)) return map;
  const pair = map.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
  return (pair?.key as Node | undefined) ?? map;
}

/** Aliases a campaign file may expand: far more than any real one uses, far fewer than a YAML bomb. */
const MAX_ALIAS_COUNT = 100;

/**
 * Read a campaign file (YAML or JSON — JSON is YAML), validate it with the strict zod schema, and
 * report problems as `path.to.field (line N): message`.
 */
export function loadCampaignFile(file: string): CampaignConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(file, [`cannot read the file: ${(err as Error).message}`]);
  }
  const lineCounter = new LineCounter();
  // logLevel 'error': yaml's warnings (a map used as a key) would print as a Node warning beside our one line;
  // such a key is reported below as an unknown key instead.
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, logLevel: 'error' });
  if (doc.errors.length > 0) {
    throw new ConfigFileError(
      file,
      doc.errors.map((e) => e.message.split('\n')[0] ?? e.message),
    );
  }
  let data: unknown;
  try {
    // yaml caps alias expansion (a "billion laughs" file) and throws when a file exceeds it.
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    throw new ConfigFileError(file, [`cannot read the YAML: ${(err as Error).message}`]);
  }
  const result = CampaignConfigSchema.safeParse(data);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 8).map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const path = issue.path.map(String).join('.') || '(root)';
    const node = keys.length
      ? keyNodeAt(nodeAt(doc.contents, issue.path), keys[0] as string)
      : nodeAt(doc.contents, issue.path);
    const where = node?.range ? ` (line ${lineCounter.linePos(node.range[0]).line})` : '';
    const what = keys.length
      ? `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`
      : issue.message;
    return `${path}${where}: ${what}`;
  });
  if (result.error.issues.length > 8) problems.push(`and ${result.error.issues.length - 8} more`);
  throw new ConfigFileError(file, problems);
}
