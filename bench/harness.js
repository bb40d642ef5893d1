'use strict';
// What the Node harnesses (ssh2_client.js, serve_client.js) share: their command line
// (`--name value` options, then MODE and positive counts), the clocks, and the timing loop whose
// JSON the benchmark scripts read.

function harness(name, allowedOptions) {
  const die = (message) => {
    process.stderr.write(`${name}: ${message}\n`);
    process.exit(1);
  };
  const options = {};
  let i = 2;
  for (; i + 1 < process.argv.length && process.argv[i].startsWith('--'); i += 2) {
    const option = process.argv[i].slice(2);
    if (!allowedOptions.includes(option)) die(`unknown option ${process.argv[i]}`);
    options[option] = process.argv[i + 1];
  }
  const [mode, ...rest] = process.argv.slice(i);
  const counts = rest.map((word) => {
    const n = Number(word);
    if (!Number.isInteger(n) || n <= 0) die(`not a positive count: ${word}`);
    return n;
  });
  return { die, options, mode, counts };
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const cpuUs = () => {
  const used = process.cpuUsage();
  return used.user + used.system;
};

// Runs body `count` times in turn: each one's wall time, and the process's CPU over them all.
async function timed(count, body) {
  const wall = [];
  const cpu = cpuUs();
  for (let k = 0; k < count; ++k) {
    const started = nowUs();
    await body();
    wall.push(nowUs() - started);
  }
  return { wall_us: wall, cpu_us: cpuUs() - cpu };
}

module.exports = { harness, nowUs, cpuUs, timed };
