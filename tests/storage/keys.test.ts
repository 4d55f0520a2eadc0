// The key rules every store applies (validateKey), the campaign key layout (artifactKey), list prefixes.
import {
  ArtifactKeyError,
  MAX_KEY_BYTES,
  artifactKey,
  candidateModelFolder,
  checkpointKey,
  denseOnnxKey,
  deploymentOnnxKey,
  finetunedModelFolder,
  parseRevisionId,
  profileKey,
  reportKey,
  revisionId,
  strategyLogKey,
  transcriptKey,
  validateKey,
  validatePrefix,
} from '../../src/storage';

test.each([
  'a',
  'campaigns/c-42/1.77G/checkpoints/step-400.pt',
  'dir with space/ü-ñ.json',
  Array.from({ length: 9 }, () => 'y'.repeat(99)).join('/'), // 899 bytes, 99-byte segments
  '..hidden/x..y/...', // dots are fine unless a whole segment is . or ..
])('valid key %j', (key) => {
  expect(validateKey(key)).toBe(key);
});

test.each([
  // [key, reason in the message]
  ['', 'non-empty'],
  ['..', '".." segments'],
  ['a/..', '".." segments'],
  ['../a', '".." segments'],
  ['.', '"." segments'],
  ['a/./b', '"." segments'],
  ['/a', 'relative'],
  ['//a', 'relative'],
  ['a//b', 'empty segments'],
  ['a/', 'empty segments'],
  ['a\\b', 'backslashes'],
  ['..\\a', 'backslashes'],
  ['a\nb', 'control characters'],
  ['a\u007fb', 'control characters'],
  ['x'.repeat(MAX_KEY_BYTES + 1), `longer than ${MAX_KEY_BYTES} bytes`],
  ['ü'.repeat(MAX_KEY_BYTES / 2 + 1), `longer than ${MAX_KEY_BYTES} bytes`], // 2 bytes each in UTF-8
  ['a/' + 'x'.repeat(256), 'segment longer than 255 bytes'],
])('invalid key %j (%s)', (key, reason) => {
  expect(() => validateKey(key)).toThrow(ArtifactKeyError);
  expect(() => validateKey(key)).toThrow(reason);
  try {
    validateKey(key);
  } catch (err) {
    expect(err).toMatchObject({ key, reason: expect.stringContaining(reason.replace(/ \d+ bytes$/, '')) });
  }
});

test('artifactKey builds campaigns/<campaignId>/<target>/<kind>/<name>', () => {
  expect(artifactKey('c-42', '1.77G', 'checkpoints', 'step-400.pt')).toBe(
    'campaigns/c-42/1.77G/checkpoints/step-400.pt',
  );
});

test.each([
  [['a/b', 't', 'k', 'n'], 'campaignId must be a single key segment'],
  [['c', '../t', 'k', 'n'], 'target must be a single key segment'],
  [['c', 't', 'k', 'n/x'], 'name must be a single key segment'],
  [['c', '', 'k', 'n'], 'empty segments'],
  [['c', 't', '..', 'n'], '".." segments'],
])('artifactKey(%j) is refused: %s', (parts, reason) => {
  const [campaignId = '', target = '', kind = '', name = ''] = parts;
  expect(() => artifactKey(campaignId, target, kind, name)).toThrow(reason);
});

test.each([
  ['', true],
  ['campaigns/', true],
  ['campaigns/c-4', true],
  ['../', false],
  ['/abs', false],
  ['a//', false],
])('list prefix %j valid: %s', (prefix, ok) => {
  if (ok) expect(validatePrefix(prefix)).toBe(prefix);
  else expect(() => validatePrefix(prefix)).toThrow(ArtifactKeyError);
});

// One builder per kind of artifact; the keys are the ones committed histories and stored campaigns already use.
test.each([
  [profileKey('c-42'), 'campaigns/c-42/_model/profile/profile.json'],
  [denseOnnxKey('c-42'), 'campaigns/c-42/_model/onnx/dense.onnx'],
  [candidateModelFolder('c-42', '1.77G', 3), 'campaigns/c-42/1.77G/candidates/attempt-3'],
  [strategyLogKey('c-42', '1.77G', 2), 'campaigns/c-42/1.77G/log/attempts-2.json'],
  [checkpointKey('c-42', '1.77G', 400), 'campaigns/c-42/1.77G/checkpoints/ckpt-000000400.pt'],
  [finetunedModelFolder('c-42', '1.77G'), 'campaigns/c-42/1.77G/finetuned'],
  [deploymentOnnxKey('c-42', '1.77G', 'pruned'), 'campaigns/c-42/1.77G/deploy/pruned.onnx'],
  [transcriptKey('c-42', '1.77G', 5), 'campaigns/c-42/1.77G/transcripts/attempt-5.json'],
  [reportKey('c-42', 'report.html'), 'campaigns/c-42/_report/report.html'],
])('named key %s', (key, expected) => {
  expect(key).toBe(expected);
});

test('named keys refuse a campaign id that would reach into another folder', () => {
  expect(() => profileKey('a/b')).toThrow('campaignId must be a single key segment');
  expect(() => reportKey('..', 'report.json')).toThrow('".." segments');
});

// A revision's id is its workflow id and the campaign segment of its keys: revision 1 keeps the campaign id.
test.each([
  ['c-42', 1, 'c-42'],
  ['c-42', 2, 'c-42~r2'],
  ['resnet50-20261128-ab12', 13, 'resnet50-20261128-ab12~r13'],
])('revision %s #%d is %s, and parses back', (campaignId, revision, id) => {
  expect(revisionId(campaignId, revision)).toBe(id);
  expect(parseRevisionId(id)).toEqual({ campaignId, revision });
});

test('a revision folds into the campaign segment: its keys never reach revision 1 objects', () => {
  expect(candidateModelFolder(revisionId('c-42', 2), 't1', 2)).toBe(
    'campaigns/c-42~r2/t1/candidates/attempt-2',
  );
  expect(strategyLogKey(revisionId('c-42', 2), 't1', 0)).toBe('campaigns/c-42~r2/t1/log/attempts-0.json');
});

test('revision ids refuse a revision below 1 and a campaign id that is already a revision', () => {
  expect(() => revisionId('c-42', 0)).toThrow('a revision is an integer >= 1');
  expect(() => revisionId('c-42~r2', 3)).toThrow('is already a revision id');
  // `~r1` names revision 1 exactly; anything else that is not `~r<n>` is no revision suffix.
  expect(parseRevisionId('c-42~r1')).toEqual({ campaignId: 'c-42', revision: 1 });
  expect(parseRevisionId('c~rx')).toEqual({ campaignId: 'c~rx', revision: 1 });
  expect(parseRevisionId('c~r02')).toEqual({ campaignId: 'c~r02', revision: 1 });
});
