'use strict';
// The service peer of bench/service_boundary.py: the same work as bench/ssh2_client.js and
// bench/coder_runtime_client.cpp, done from Node through `coder-runtime serve --stdio` and the Node
// client (clients/node), printing one JSON line of the same shape.
//
//   node serve_client.js --executable PATH --coder CLI [--workspace NAME] [--via exec|sftp] [--path P]
//     (warm COUNT | concurrent N ROUNDS | stream BYTES | stat COUNT | read COUNT | write COUNT)
//
// stat, read and write time files.stat and files.read of P, and files.write of 4 KiB to P.written
// (via exec or SFTP), after one untimed request of the same kind, so that what is timed is a warm
// request's own round trips.
//
// The service dials the workspace through the given Coder CLI (the stand-in, whose `ssh --stdio`
// runs the benchmark's agent); that first dial and a first command are outside the timing, so what
// is timed is the shared connection's use, as a host app's tenth command sees it.

const path = require('node:path');
const { CoderRuntime } = require(path.join(__dirname, '..', 'clients', 'node'));
const { harness, nowUs, cpuUs, timed } = require('./harness');

const { die, options, mode, counts } = harness('serve_client', ['executable', 'coder', 'workspace', 'via', 'path']);
if (!options.executable || !options.coder) die('--executable and --coder are needed');

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

// Reads the file whole through files.read; resolves to its byte count.
async function readFile(runtime, file) {
  const reading = runtime.readFile(file);
  let bytes = 0;
  reading.stdout.on('data', (chunk) => { bytes += chunk.length; });
  await reading.result;
  return bytes;
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
    } else if (mode === 'stat' || mode === 'read' || mode === 'write') {
      if (!options.path) die(`${mode} needs --path`);
      const file = { workspace: options.workspace || 'ws', coder: options.coder, path: options.path, via: options.via };
      const written = { ...file, path: `${options.path}.written`, data: Buffer.alloc(4096, 'x') };
      const once = { stat: () => runtime.stat(file), read: () => readFile(runtime, file),
        write: () => runtime.writeFile(written) }[mode];
      await once();
      result = await timed(counts[0], once);
    } else {
      die(`unknown mode ${mode}`);
    }
  } finally {
    await runtime.close();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => die(error.message));
