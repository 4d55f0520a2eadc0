/**
 * Jest environment for tests that run onnxruntime-node. The native binding returns typed arrays made in
 * Node's main realm, and onnxruntime-common checks them with `instanceof` against the test realm's
 * constructors, which jest's vm sandbox replaces; sharing the main realm's typed-array constructors
 * makes that check pass. Everything else is the stock node environment.
 */
import type { EnvironmentContext, JestEnvironmentConfig } from '@jest/environment';
import { TestEnvironment } from 'jest-environment-node';

const SHARED = [
  'ArrayBuffer',
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Int16Array',
  'Int32Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Uint16Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

export default class OrtEnvironment extends TestEnvironment {
  constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
    super(config, context);
    const sandbox = this.global as unknown as Record<string, unknown>;
    const main = globalThis as unknown as Record<string, unknown>;
    for (const name of SHARED) sandbox[name] = main[name];
  }
}
