// How a campaign that did not complete is named in the CLI's last line: the status once, then why.
import { CampaignFailedError, closedAs } from '../../src/client/errors';

test.each([
  [
    'FAILED',
    'targets.0.macs: 50000000000 is not below the dense model',
    'failed: targets.0.macs: 50000000000 is not below the dense model',
  ],
  ['TERMINATED', 'terminated: test over', 'terminated: test over'],
  ['TERMINATED', 'terminated', 'terminated'],
  ['CANCELED', 'cancelled', 'cancelled'],
  ['TIMED_OUT', 'timed out', 'timed out'],
  ['TIMED_OUT', 'the run took too long', 'timed out: the run took too long'],
  // A reason that only starts with the word is not the status said again.
  ['FAILED', 'failedover worker lost', 'failed: failedover worker lost'],
])('%s with reason %j: %j', (status, reason, said) => {
  expect(closedAs(status, reason)).toBe(said);
  expect(new CampaignFailedError('c1', status, reason).message).toBe(`campaign c1 ${said}`);
});
