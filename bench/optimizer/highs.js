// Solves an LP file (CPLEX LP format) with HiGHS, the npm "highs" package
// (a WebAssembly build of HiGHS), and prints one JSON line: status,
// objective, and the milliseconds spent reading the file and solving.
// Usage: NODE_PATH=DIR/node_modules node highs.js FILE.lp [option=value ...]
// (HiGHS options; bench/optimizer/run.sh installs the package in DIR).
"use strict";
const fs = require("fs");
const path = require("path");

async function main() {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: node highs.js FILE.lp [option=value ...]");
    process.exit(2);
  }
  const options = {};
  for (const kv of process.argv.slice(3)) {
    const [k, v] = kv.split("=");
    options[k] = isNaN(Number(v)) ? (v === "true" ? true : v === "false" ? false : v) : Number(v);
  }
  const t0 = process.hrtime.bigint();
  // run.sh installs the package outside the repository and points NODE_PATH at it.
  const main = require.resolve("highs");
  const highs = await require(main)({
    locateFile: (f) => path.join(path.dirname(main), f),
  });
  const text = fs.readFileSync(file, "utf8");
  const t1 = process.hrtime.bigint();
  const sol = highs.solve(text, options);
  const t2 = process.hrtime.bigint();
  console.log(JSON.stringify({
    status: sol.Status,
    objective: sol.ObjectiveValue,
    read_ms: Number(t1 - t0) / 1e6,
    solve_ms: Number(t2 - t1) / 1e6,
  }));
  if (sol.Status !== "Optimal") process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
