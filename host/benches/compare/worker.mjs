// The workerd peer: the same handler as shaping.js (its top level runs
// once per isolate; `report` runs per request). compare.py writes
// shaping-module.mjs from shaping.js beside this file.
import { report } from './shaping-module.mjs';

export default {
  async fetch() {
    return new Response(JSON.stringify(report()), {
      headers: { 'content-type': 'application/json' },
    });
  },
};
