import * as path from 'node:path';
import { testServiceEnv } from './services';

const ROOT = path.join(__dirname, '..', '..');

describe("testServiceEnv: the tests' services apart from a user's", () => {
  test('by default: under the user state dir, on their own ports, binaries in the user tools dir', () => {
    expect(testServiceEnv({})).toEqual({
      AP_TOOLS_DIR: path.join(ROOT, '.state'),
      AP_STATE_DIR: path.join(ROOT, '.state', 'tests'),
      AP_TEMPORAL_PORT: '7253',
      AP_S3_PORT: '7083',
      AP_TEST_STATE_DIR: path.join(ROOT, '.state', 'tests'),
      AP_TEST_TEMPORAL_PORT: '7253',
      AP_TEST_S3_PORT: '7083',
    });
    // A user's own state dir and ports (their server on 7233, empty values unset) are not the tests'.
    const user = { AP_STATE_DIR: '/srv/ap', AP_TEMPORAL_PORT: '7233', AP_S3_PORT: '7070', AP_TOOLS_DIR: '' };
    expect(testServiceEnv(user)).toMatchObject({
      AP_TOOLS_DIR: '/srv/ap',
      AP_STATE_DIR: '/srv/ap/tests',
      AP_TEMPORAL_PORT: '7253',
      AP_S3_PORT: '7083',
    });
  });

  test('applied twice (the global setup, then a test file that ensures the services again): the same services', () => {
    const once = { ...testServiceEnv({}) };
    expect(testServiceEnv(once)).toEqual(once);
    const moved = testServiceEnv({ AP_TEST_STATE_DIR: '/tmp/t', AP_TEST_TEMPORAL_PORT: '7300' });
    expect(moved).toMatchObject({ AP_STATE_DIR: '/tmp/t', AP_TEMPORAL_PORT: '7300', AP_S3_PORT: '7083' });
    expect(testServiceEnv(moved)).toEqual(moved);
  });
});
