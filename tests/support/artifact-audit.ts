import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { createHash } from 'node:crypto';
import { ArtifactRefSchema, type ArtifactRef } from '../../src/core/artifact-ref';
import type { ArtifactStore } from '../../src/storage';

// An audit of what a campaign left: every artifact reference its workflow histories carry (inputs and
// results of workflows, child workflows and activities, and the files each model manifest lists) must
// exist in the store with its size and sha256; every object the store holds under the campaign's prefix
// must be one of them (none orphaned); no upload under it may be left incomplete (an S3 multipart upload
// holding parts, a local temp file: what a put killed mid-way leaves, invisible to list); and no activity
// attempt may be recorded twice.

type HistoryEvent = NonNullable<
  Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']
>[number];

/** The payloads of the events that carry finished values: workflow and activity inputs and results. */
function valuePayloads(e: HistoryEvent): unknown[] {
  const lists = [
    e.workflowExecutionStartedEventAttributes?.input,
    e.workflowExecutionCompletedEventAttributes?.result,
    e.activityTaskScheduledEventAttributes?.input,
    e.activityTaskCompletedEventAttributes?.result,
    e.childWorkflowExecutionCompletedEventAttributes?.result,
  ];
  const out: unknown[] = [];
  for (const l of lists)
    for (const p of l?.payloads ?? []) {
      try {
        out.push(defaultPayloadConverter.fromPayload(p));
      } catch {
        // not JSON (a binary payload): carries no reference
      }
    }
  return out;
}

/** Every value of `v` (recursively) that is an artifact reference. */
export function refsIn(v: unknown, out: ArtifactRef[] = []): ArtifactRef[] {
  if (Array.isArray(v)) for (const x of v) refsIn(x, out);
  else if (v && typeof v === 'object') {
    const ref = ArtifactRefSchema.safeParse(v);
    if (ref.success) out.push(ref.data);
    else for (const x of Object.values(v)) refsIn(x, out);
  }
  return out;
}

export interface WorkflowAudit {
  /** The workflows walked: the campaign and every child (search) workflow it started. */
  workflowIds: string[];
  refs: ArtifactRef[];
  /** `activityType#activityId` of each completed activity, once per completion. */
  completions: string[];
}

/** Walk a workflow's history and its children's, collecting references and activity completions. */
export async function auditHistories(client: Client, workflowId: string): Promise<WorkflowAudit> {
  const audit: WorkflowAudit = { workflowIds: [], refs: [], completions: [] };
  const walk = async (id: string) => {
    audit.workflowIds.push(id);
    const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const scheduled = new Map<string, string>();
    for (const e of events) {
      for (const v of valuePayloads(e)) refsIn(v, audit.refs);
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(e.eventId), `${s.activityType?.name}#${s.activityId}`);
      const c = e.activityTaskCompletedEventAttributes;
      if (c) audit.completions.push(`${id}/${scheduled.get(String(c.scheduledEventId))}`);
    }
    for (const e of events) {
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
      if (child) await walk(child);
    }
  };
  await walk(workflowId);
  return audit;
}

export interface StoreAudit {
  /** References checked (deduplicated by key and sha256), manifests' files included. */
  checked: number;
  /** `key: what is wrong` for each reference that does not verify. */
  bad: string[];
  /** Keys under the prefix that no reference names. */
  orphans: string[];
  /** `key (started <ISO time>)` of each upload under the prefix that began and never completed. */
  incomplete: string[];
}

/**
 * Download every reference (and every file a `manifest.json` lists), compare size and sha256; list the
 * store under `prefix` and name what no reference covers, and every incomplete upload there.
 */
export async function auditStore(
  store: ArtifactStore,
  refs: readonly ArtifactRef[],
  prefix: string,
): Promise<StoreAudit> {
  const seen = new Map<string, ArtifactRef>();
  const queue = [...refs];
  const bad: string[] = [];
  while (queue.length > 0) {
    const ref = queue.shift()!;
    const id = `${ref.key}@${ref.sha256}`;
    if (seen.has(id)) continue;
    seen.set(id, ref);
    let bytes: Uint8Array;
    try {
      bytes = await store.getBytes(ref);
    } catch (err) {
      bad.push(`${ref.key}: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (bytes.byteLength !== ref.sizeBytes)
      bad.push(`${ref.key}: ${bytes.byteLength} bytes, ref says ${ref.sizeBytes}`);
    if (sha !== ref.sha256) bad.push(`${ref.key}: sha256 ${sha}, ref says ${ref.sha256}`);
    if (ref.key.endsWith('/manifest.json')) {
      const manifest = JSON.parse(Buffer.from(bytes).toString('utf8')) as { files?: unknown };
      queue.push(...refsIn(manifest.files));
    }
  }
  const named = new Set([...seen.values()].map((r) => r.key));
  const orphans = (await store.list(prefix)).map((o) => o.key).filter((k) => !named.has(k));
  const incomplete = (await store.listIncompleteUploads(prefix)).map(
    (u) => `${u.key} (started ${new Date(u.startedMs).toISOString()})`,
  );
  return { checked: seen.size, bad, orphans, incomplete };
}

/** Entries of `xs` that occur more than once. */
export function repeated(xs: readonly string[]): string[] {
  const count = new Map<string, number>();
  for (const x of xs) count.set(x, (count.get(x) ?? 0) + 1);
  return [...count].filter(([, n]) => n > 1).map(([x]) => x);
}
