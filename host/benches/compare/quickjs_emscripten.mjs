// The in-process peer of `just bench-js`: the JSON-shaping handler
// (shaping.js) in quickjs-emscripten, i.e. QuickJS compiled to wasm by
// emscripten and run by V8. The script's top level runs once; `report()` is
// then called warm, many times, in the same context. Each call also brings
// its result to the host (`dump`: JSON inside the VM, parsed by the host),
// as floh's execution brings `data` across as JSON.
//
// Usage: node quickjs_emscripten.mjs PEERS_DIR [CALLS]
//        node quickjs_emscripten.mjs PEERS_DIR --serve
// (PEERS_DIR holds node_modules/quickjs-emscripten.) With --serve, each
// line N on stdin runs N alternated report()/ping() calls (with their
// results brought to the host) and answers one JSON line of their wall
// times in µs: the runtime bench asks for batches between its own, so both
// are measured in the same minutes of a machine whose speed drifts.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const [peers, callsArg] = process.argv.slice(2);
const serving = callsArg === '--serve';
const calls = serving ? 0 : Number(callsArg ?? 4000);
const require = createRequire(join(peers, 'node_modules', 'noop.js'));
const { getQuickJS, newQuickJSWASMModule } = require('quickjs-emscripten');

const source = readFileSync(new URL('./shaping.js', import.meta.url), 'utf8') +
  '\nfunction ping() { return { success: true }; }\n';

/** A context of one QuickJS build after the script's top level, with a
 * timed `call` of its commands. */
function context(quickjs) {
  const vm = quickjs.newContext();
  vm.unwrapResult(vm.evalCode(source, 'shaping.js')).dispose();
  const report = vm.getProp(vm.global, 'report');
  const ping = vm.getProp(vm.global, 'ping');

  /** One call of `fn`, its result brought to the host when `dump` is set. */
  const call = (fn, dump, into) => {
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    const handle = vm.unwrapResult(vm.callFunction(fn, vm.undefined));
    const value = dump ? vm.dump(handle) : undefined;
    handle.dispose();
    const elapsed = Number(process.hrtime.bigint() - started) / 1000;
    const used = process.cpuUsage(cpu);
    if (dump && value.success !== true) throw new Error('the command did not succeed');
    if (into) {
      into.wall.push(elapsed);
      into.cpu.push(used.user + used.system);
    }
  };
  const dispose = () => {
    [report, ping].forEach((handle) => handle.dispose());
    vm.dispose();
  };
  return { report, ping, call, dispose };
}

/** Answers batches of calls asked for on stdin (see the usage above). */
async function serve(quickjs) {
  const { report, ping, call, dispose } = context(quickjs);
  for await (const line of createInterface({ input: process.stdin })) {
    const rows = { report: timings(), ping: timings() };
    for (let i = 0; i < Number(line); i++) {
      call(report, true, rows.report);
      call(ping, true, rows.ping);
    }
    process.stdout.write(JSON.stringify({ report: rows.report.wall, ping: rows.ping.wall }) + '\n');
  }
  dispose();
}

/** Times `report()` and `ping()` in a warm context of one QuickJS build. */
function measure(label, quickjs) {
  const { report, ping, call, dispose } = context(quickjs);

  // Alternated like the Rust side; the first tenth warms V8's tiers.
  const rows = { dumped: timings(), bare: timings(), ping: timings() };
  for (let round = 0; round < calls + calls / 10; round++) {
    const warm = round >= calls / 10;
    call(report, true, warm && rows.dumped);
    call(report, false, warm && rows.bare);
    call(ping, true, warm && rows.ping);
  }
  dispose();

  console.log(`${label}, warm context (${calls} calls each, alternated):`);
  const dumped = line('report() + result to host:', rows.dumped);
  line('report() alone:', rows.bare);
  line('ping() + result to host:', rows.ping);
  return dumped;
}

function timings() {
  return { wall: [], cpu: [] };
}

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, t) => sum + t, 0) / sorted.length;
  return { p50: sorted[Math.floor(sorted.length / 2)], mean };
}

function line(label, { wall, cpu }) {
  const { p50, mean } = stats(wall);
  // process.cpuUsage counts whole microseconds of every thread.
  const cpuP50 = stats(cpu).p50;
  console.log(`  ${label.padEnd(28)} p50 ${p50.toFixed(1).padStart(7)} µs   mean ${mean.toFixed(1).padStart(7)} µs   cpu p50 ${cpuP50.toFixed(0).padStart(5)} µs`);
  return { p50, mean };
}

if (serving) {
  await serve(await getQuickJS());
  process.exit(0);
}
const version = require('quickjs-emscripten/package.json').version;
const peer = measure(`quickjs-emscripten ${version} (QuickJS)`, await getQuickJS());
// The same binding around quickjs-ng (floh's QuickJS), when installed:
// separates the interpreter's own speed from the compiler running it.
try {
  const ng = require('@jitl/quickjs-ng-wasmfile-release-sync');
  measure(`quickjs-emscripten ${version} (quickjs-ng)`, await newQuickJSWASMModule(ng));
} catch (error) {
  if (error.code !== 'MODULE_NOT_FOUND') throw error;
}
console.log(`quickjs_emscripten warm call: p50 ${peer.p50.toFixed(1)} µs mean ${peer.mean.toFixed(1)} µs`);
