// A running campaign that no worker serves says so in `campaign status`.
import { missingWorkers, POLLER_STALE_MS } from '../../src/client/worker-presence';

const now = 1_800_000_000_000;

test.each([
  // [case, last polls of control (workflows), of gpu (activities), warnings]
  ['both served', [now - 1000], [now - 5000], []],
  ['no gpu worker ever', [now - 1000], [], ['gpu']],
  ['a gpu worker that stopped polling long ago', [now], [now - POLLER_STALE_MS - 1], ['gpu']],
  ['nothing at all', [], [], ['control', 'gpu']],
  ['one of two control workers still polls', [now - 10 * POLLER_STALE_MS, now - 100], [now], []],
])('%s', (_case, control, gpu, queues) => {
  const lines = missingWorkers(
    [
      { queue: 'control', kind: 'workflows', lastPollMs: control },
      { queue: 'gpu', kind: 'activities', lastPollMs: gpu },
    ],
    now,
  );
  expect(lines).toEqual(
    queues.map(
      (q) =>
        `no worker is polling task queue "${q}" (${q === 'control' ? 'workflows' : 'activities'}): start one with \`agentic-pruner worker --queues ${q}\``,
    ),
  );
});
