// Runs one scenario: `node tests/browser/run.mjs scenarios/NAME.mjs`.
// See harness.mjs for how to write one. Exit code 0 only when the scenario
// finished and the harness recorded no failure.
import { pathToFileURL } from "node:url";
import { resolve, basename } from "node:path";
import { Harness } from "./harness.mjs";

const file = resolve(process.argv[2]);
const name = basename(file, ".mjs");
const t = await new Harness(name).start();
let crashed = null;
try {
  const scenario = await import(pathToFileURL(file).href);
  await scenario.default(t);
} catch (error) {
  crashed = error;
  t.fail(`${name} threw: ${error.stack || error}`);
  try {
    await t.page.screenshot({ path: `${t.shots}/${name}-failure.png`, fullPage: true });
  } catch {
    // The browser may be gone.
  }
}
await t.finish();
if (t.failures.length > 0) {
  console.error(`${name}: ${t.failures.length} failure(s)`);
  process.exit(1);
}
console.log(`${name}: passed`);
process.exit(crashed ? 1 : 0);
