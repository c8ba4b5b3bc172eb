// Validate many glTF/glb files in one node process with the Khronos glTF validator.
// Usage: node validate_gltf.cjs <node_modules dir>  (file paths on stdin, one per line)
// Writes one JSON report per input line to stdout:
//   {"path", "errors", "warnings", "infos", "messages": [{"code","severity","message","pointer"}]}
// Severity: 0 error, 1 warning, 2 info, 3 hint (the validator's own numbering).
"use strict";
const fs = require("fs");
const path = require("path");

const modulesDir = process.argv[2];
const validator = require(path.join(modulesDir, "gltf-validator"));

function loadExternal(base) {
  return (uri) => fs.promises.readFile(path.resolve(path.dirname(base), decodeURIComponent(uri)));
}

async function validateOne(file) {
  try {
    const bytes = new Uint8Array(await fs.promises.readFile(file));
    const report = await validator.validateBytes(bytes, {
      uri: file, maxIssues: 200, writeTimestamp: false,
      externalResourceFunction: loadExternal(file),
    });
    const issues = report.issues;
    return {
      path: file, errors: issues.numErrors, warnings: issues.numWarnings,
      infos: issues.numInfos,
      messages: issues.messages.map((m) => ({
        code: m.code, severity: m.severity, message: m.message, pointer: m.pointer || null })),
    };
  } catch (err) {
    return { path: file, errors: 1, warnings: 0, infos: 0,
             messages: [{ code: "UNREADABLE", severity: 0, message: String(err), pointer: null }] };
  }
}

async function main() {
  const input = fs.readFileSync(0, "utf8").split("\n").filter((l) => l.length > 0);
  for (const file of input) {
    process.stdout.write(JSON.stringify(await validateOne(file)) + "\n");
  }
}

main().catch((err) => { console.error(String(err)); process.exit(2); });
