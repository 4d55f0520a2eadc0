// The search workflow id: built by the campaign workflow, parsed by `campaign reset` (one builder, one parser).
import { parseSearchWorkflowId, searchWorkflowId } from '../../src/workflows/definitions';

test('builds <campaignId>--<targetLabel>', () => {
  expect(searchWorkflowId('resnet50-20261128', 't1-1770.0M')).toBe('resnet50-20261128--t1-1770.0M');
});

test.each([
  // [workflow id, campaign id known, parsed]
  ['resnet50-20261128--t1', undefined, { campaignId: 'resnet50-20261128', targetLabel: 't1' }],
  ['resnet50-20261128', undefined, undefined],
  ['c--a--b', undefined, { campaignId: 'c', targetLabel: 'a--b' }],
  ['c--a--b', 'c--a', { campaignId: 'c--a', targetLabel: 'b' }],
  ['c--a--b', 'c', { campaignId: 'c', targetLabel: 'a--b' }],
  ['other--t1', 'c', undefined],
  ['c--', 'c', undefined],
])('parse %j (campaign %j)', (id, campaignId, parsed) => {
  expect(parseSearchWorkflowId(id, campaignId)).toEqual(parsed);
});

test('parse inverts build', () => {
  const id = searchWorkflowId('my--campaign', 'fast--target');
  expect(parseSearchWorkflowId(id, 'my--campaign')).toEqual({
    campaignId: 'my--campaign',
    targetLabel: 'fast--target',
  });
});
