'use strict';
// The service peer of bench/service_boundary.py: the same work as bench/ssh2_client.js and
// bench/coder_runtime_client.cpp, done from Node through `coder-runtime serve --stdio` and the Node
// client (clients/node), printing one JSON line of the same shape.
//
//   node serve_client.js --executable PATH --coder CLI [--workspace NAME] (warm COUNT | concurrent N ROUNDS | stream BYTES)
//
// The service dials the workspace through the given Coder CLI (the stand-in, whose `ssh --stdio`
// runs the benchmark's agent); that first dial and a first command are outside the timing, so what
// is timed is the shared connection's use, as a host app's tenth command sees it.

const path = require('node:path');
const { CoderRuntime } = require(path.join(__dirname, '..', 'clients', 'node'));

function die(message) {
  process.stderr.write(`serve_client: ${message}\n`);
  process.exit(1);
}

const options = {};
let i = 2;
for (; i + 1 < process.argv.length && process.argv[i].startsWith('--'); i += 2) {
  const name = process.argv[i].slice(2);
  if (!['executable', 'coder', 'workspace'].includes(name)) die(`unknown option ${process.argv[i]}`);
  options[name] = process.argv[i + 1];
}
const [mode, ...rest] = process.argv.slice(i);
const counts = rest.map((word) => {
  const n = Number(word);
  if (!Number.isInteger(n) || n <= 0) die(`not a positive count: ${word}`);
  return n;
});
if (!options.executable || !options.coder) die('--executable and --coder are needed');

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const cpuUs = () => {
  const used = process.cpuUsage();
  return used.user + used.system;
};

// Runs command on the shared connection; resolves to the stdout byte count once it has exited 0.
async function run(runtime, command) {
  const running = runtime.exec({ workspace: options.workspace || 'ws', coder: options.coder, command, stdin: false });
  let bytes = 0;
  running.stdout.on('data', (chunk) => { bytes += chunk.length; });
  running.stderr.resume();
  const result = await running.result;
  if (result.exitCode !== 0) throw new Error(`\`${command}\` ended ${JSON.stringify(result)}`);
  return bytes;
}

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

async function main() {
  const runtime = CoderRuntime.start({ executable: options.executable });
  let result;
  try {
    await run(runtime, 'true');
    if (mode === 'warm') {
      result = await timed(counts[0], () => run(runtime, 'true'));
    } else if (mode === 'concurrent') {
      const [n, rounds] = counts;
      result = await timed(rounds, () => Promise.all(Array.from({ length: n }, () => run(runtime, 'true'))));
    } else if (mode === 'stream') {
      const cpu = cpuUs();
      const started = nowUs();
      const bytes = await run(runtime, `head -c ${counts[0]} /dev/zero`);
      result = { bytes, wall_us: nowUs() - started, cpu_us: cpuUs() - cpu };
    } else {
      die(`unknown mode ${mode}`);
    }
  } finally {
    await runtime.close();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => die(error.message));
