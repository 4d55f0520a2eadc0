// Jest environment for tests that run onnxruntime-node. The native binding returns typed arrays made in
// Node's main realm, and onnxruntime-common checks them with `instanceof` against the test realm's
// constructors, which jest's vm sandbox replaces; sharing the main realm's typed-array constructors
// makes that check pass. Everything else is the stock node environment.
const { TestEnvironment } = require('jest-environment-node');

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
];

class OrtEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = OrtEnvironment;
