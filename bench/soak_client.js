'use strict';
// The load of bench/soak.py: from Node through `coder-runtime serve --stdio` and the Node client,
// WORKSPACES x CONCURRENCY loops, each running execs one after another until SECONDS have passed.
// Every exec prints a known text (`seq 1 LINES`) and has its own deadline (timeoutMs); what each
// one ended as is classed, and the service's processes, descriptors and memory are read from /proc
// at the start (after one exec per workspace) and at the end (after one more that succeeds, once
// the load has stopped, and again until it has let go of what the faults left, for up to 20 s).
// Prints one JSON object.
//
//   node soak_client.js --executable PATH --coder CLI --workspaces N --concurrency M --seconds S
//     --timeout-ms T --lines L --control FILE --load-control JSON
//
// FILE is the fault relay's control file: the warm-up and the final round run with it as it was,
// the load with --load-control written into it.

const fs = require('node:fs');
const path = require('node:path');
const { CoderRuntime } = require(path.join(__dirname, '..', 'clients', 'node'));
const { harness, nowUs } = require('./harness');

const { die, options } = harness('soak_client', ['executable', 'coder', 'workspaces', 'concurrency', 'seconds',
  'timeout-ms', 'lines', 'control', 'load-control']);
for (const needed of ['executable', 'coder', 'control', 'load-control']) {
  if (!options[needed]) die(`--${needed} is needed`);
}
const workspaces = Number(options.workspaces || 2);
const concurrency = Number(options.concurrency || 4);
const seconds = Number(options.seconds || 20);
const timeoutMs = Number(options['timeout-ms'] || 5000);
const lines = Number(options.lines || 20000);
const expected = Array.from({ length: lines }, (_, i) => `${i + 1}\n`).join('');

// What the service holds: its descriptors, its children (the proxies of its connections) and its
// resident memory.
function resources(pid) {
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  let children = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children += 1;
    } catch (error) {
      // a process that ended while we looked
    }
  }
  const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { fds, children, rss_kb: rss ? Number(rss[1]) : null };
}

const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// The relay reads the control file whenever it changes: it must never see half of one.
function writeControl(text) {
  fs.writeFileSync(`${options.control}.new`, text);
  fs.renameSync(`${options.control}.new`, options.control);
}

// One exec: its class and, for an error, what it said.
async function once(runtime, workspace) {
  const started = nowUs();
  const outcome = { workspace };
  try {
    const running = runtime.exec({ workspace, coder: options.coder, command: `seq 1 ${lines}`, timeoutMs, stdin: false });
    const chunks = [];
    running.stdout.on('data', (chunk) => chunks.push(chunk));
    running.stderr.resume();
    const result = await running.result;
    const output = Buffer.concat(chunks).toString();
    if (result.end === 'exited' && result.exitCode === 0) {
      outcome.class = output === expected ? 'ok' : 'wrong output';
      if (output !== expected) outcome.detail = `${output.length} of ${expected.length} bytes, differing`;
    } else {
      outcome.class = `ended ${result.end}`;
      outcome.detail = JSON.stringify(result);
    }
  } catch (error) {
    outcome.class = `error ${error.layer || '?'}/${error.code || '?'}`;
    outcome.detail = error.message;
    outcome.evidence = (error.evidence || []).map((item) => item.label);
  }
  outcome.ms = (nowUs() - started) / 1000;
  return outcome;
}

async function main() {
  const runtime = CoderRuntime.start({ executable: options.executable });
  const names = Array.from({ length: workspaces }, (_, i) => `ws${i + 1}`);
  const report = { outcomes: [] };
  try {
    report.warm_up = await Promise.all(names.map((name) => once(runtime, name)));
    report.start = resources(runtime.pid);
    const control = fs.readFileSync(options.control, 'utf8');
    writeControl(options['load-control']);
    const end = Date.now() + seconds * 1000;
    // After a failure a loop waits 100 ms, as a host would before it tries again: the service
    // answers at once while a workspace's dial is in backoff.
    const loop = async (name) => {
      while (Date.now() < end) {
        const outcome = await once(runtime, name);
        report.outcomes.push(outcome);
        if (outcome.class !== 'ok') await pause(100);
      }
    };
    await Promise.all(names.flatMap((name) => Array.from({ length: concurrency }, () => loop(name))));
    writeControl(control);
    // Each workspace is tried until an exec succeeds, for up to 30 s: a fault late in the load may
    // still be in its keepalives' or its backoff's time.
    const recovered = async (name) => {
      const started = Date.now();
      for (let attempts = 1; ; attempts += 1) {
        const outcome = await once(runtime, name);
        if (outcome.class === 'ok' || Date.now() - started > 30000) {
          return { ...outcome, attempts, recovered_ms: Date.now() - started };
        }
        await pause(100);
      }
    };
    report.final = await Promise.all(names.map(recovered));
    // A connection that stalled is dropped once its keepalives go unanswered: the service is given
    // until then to let go of it.
    const settleBy = Date.now() + 20000;
    const settled = () => {
      report.end = resources(runtime.pid);
      return report.end.fds <= report.start.fds && report.end.children <= report.start.children;
    };
    while (!settled() && Date.now() < settleBy) await pause(200);
    report.settle_ms = Date.now() - (settleBy - 20000);
  } finally {
    // How the service ended: killed after the grace means its shutdown hung.
    report.service_exit = await runtime.close();
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error) => die(error.stack || error.message));
