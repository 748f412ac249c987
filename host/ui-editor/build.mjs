// Builds host/src/ui/assets/editor.js: one minified bundle of the editor
// island. The floh.* completion table is generated here from the script API's
// TypeScript declarations (host/src/script_api/floh.d.ts) with the TypeScript
// compiler itself, so completions show exactly the declared members with
// their signatures and doc comments. `--check` builds in memory and fails
// when the committed bundle differs (CI: `just check-ui-editor`).

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";
import ts from "typescript";

const here = dirname(fileURLToPath(import.meta.url));
const declarationsPath = join(here, "../src/script_api/floh.d.ts");
const outputPath = join(here, "../src/ui/assets/editor.js");

/** `{root, members: {"floh": [...], "floh.http": [...]}}` in CodeMirror's
 * completion format, sorted so the output is stable. */
function completionTable() {
  const program = ts.createProgram([declarationsPath], { lib: ["lib.es2020.d.ts"], types: [], strict: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(declarationsPath);
  const documentation = (symbol) => ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
  let flohSymbol;
  ts.forEachChild(source, (node) => {
    if (ts.isVariableStatement(node)) {
      for (const declaration of node.declarationList.declarations) {
        if (declaration.name.getText(source) === "floh") flohSymbol = checker.getSymbolAtLocation(declaration.name);
      }
    }
  });
  if (!flohSymbol) throw new Error("floh.d.ts declares no `floh`");
  const members = {};
  const walk = (path, type) => {
    const options = [];
    for (const property of checker.getPropertiesOfType(type).sort((a, b) => a.name.localeCompare(b.name))) {
      const declaration = property.valueDeclaration || property.declarations[0];
      const propertyType = checker.getTypeOfSymbolAtLocation(property, declaration);
      const signatures = propertyType.getCallSignatures();
      const named = checker.getPropertiesOfType(propertyType).length > 0 && signatures.length === 0;
      const option = {
        label: property.name,
        type: signatures.length > 0 ? "method" : named ? "namespace" : "property",
        detail: signatures.length > 0 ? checker.signatureToString(signatures[0]) : ": " + checker.typeToString(propertyType),
        info: documentation(property),
      };
      if (signatures.length > 0) option.apply = property.name;
      options.push(option);
      if (named) walk(`${path}.${property.name}`, propertyType);
    }
    members[path] = options;
  };
  const flohType = checker.getTypeOfSymbolAtLocation(flohSymbol, flohSymbol.valueDeclaration);
  walk("floh", flohType);
  const root = { label: "floh", type: "variable", detail: ": Floh", info: documentation(flohSymbol) };
  return { root, members };
}

const table = completionTable();
const banner =
  "/* Floh script editor. Built by `just ui-editor` from host/ui-editor (CodeMirror 6, MIT, (c) Marijn Haverbeke and others; style-mod, crelt, w3c-keyname, @lezer/*: MIT). */";

const result = await esbuild.build({
  entryPoints: [join(here, "src/editor.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["chrome110", "firefox115", "safari16"],
  charset: "utf8",
  legalComments: "none",
  banner: { js: banner },
  write: false,
  logLevel: "warning",
  plugins: [
    {
      name: "floh-completions",
      setup(build) {
        build.onResolve({ filter: /^floh-completions$/ }, () => ({ path: "floh-completions", namespace: "floh" }));
        build.onLoad({ filter: /.*/, namespace: "floh" }, () => ({ contents: JSON.stringify(table), loader: "json" }));
      },
    },
  ],
});
const bundle = result.outputFiles[0].text;

if (process.argv.includes("--check")) {
  const committed = readFileSync(outputPath, "utf8");
  if (committed !== bundle) {
    console.error(`${outputPath} differs from a fresh build of host/ui-editor: run \`just ui-editor\` and commit the result`);
    process.exit(1);
  }
  console.log(`editor bundle up to date (${bundle.length} bytes)`);
} else {
  writeFileSync(outputPath, bundle);
  console.log(`wrote ${outputPath} (${bundle.length} bytes)`);
}
