'use strict';
// The Node client against the real `coder-runtime serve --stdio`, the stand-in Coder CLI and the
// Go x/crypto/ssh server (paths from ctest's environment: CODER_RUNTIME_EXECUTABLE,
// CODER_RUNTIME_CODER_STANDIN, CODER_RUNTIME_GO_SSHD). Every test has a deadline.

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { CoderRuntime, CoderRuntimeError } = require('..');

const executable = process.env.CODER_RUNTIME_EXECUTABLE;
const coder = process.env.CODER_RUNTIME_CODER_STANDIN;
const goSshd = process.env.CODER_RUNTIME_GO_SSHD;

// A stand-in deployment with these workspaces, and a service started for it.
function startService(workspaces, scenario = {}) {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'node-client-'));
  fs.writeFileSync(path.join(state, 'scenario.json'), JSON.stringify({ go_sshd: goSshd, workspaces, ...scenario }));
  const coderEnv = { CODER_STANDIN_STATE: state, CODER_STANDIN_GO_SSHD: goSshd };
  const runtime = CoderRuntime.start({ executable, env: { ...process.env, ...coderEnv } });
  const run = (params) => runtime.exec({ coder, coderEnv, ...params });
  const stop = async () => {
    await runtime.close();
    fs.rmSync(state, { recursive: true, force: true });
  };
  return { runtime, run, stop, state, coderEnv };
}

const running = (name) => ({ name, timeline: [{ status: 'running' }] });

async function collect(readable) {
  const chunks = [];
  for await (const chunk of readable) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

test('exec: stdin in, stdout and stderr out, and the exit code', { timeout: 30000 }, async () => {
  const { runtime, run, stop } = startService([running('ws')]);
  try {
    const hello = await runtime.initialize({ client: 'node-test/1' });
    assert.strictEqual(hello.protocol, 1);
    const command = run({ workspace: 'ws', command: 'cat; echo err >&2; exit 3', stdin: true });
    command.stdin.end('from node\n');
    const [out, err, result] = await Promise.all([collect(command.stdout), collect(command.stderr), command.result]);
    assert.strictEqual(out, 'from node\n');
    assert.strictEqual(err, 'err\n');
    assert.strictEqual(result.end, 'exited');
    assert.strictEqual(result.exitCode, 3);
    const listed = await runtime.connections();
    assert.strictEqual(listed.connections.length, 1);
    assert.strictEqual(listed.connections[0].destination, 'ws.mux--coder');
    assert.match(listed.connections[0].server, /^SSH-2\.0-/);
    assert.strictEqual(listed.connections[0].algorithms.kex, 'curve25519-sha256');
    assert.match(listed.connections[0].algorithms.cipher, /chacha20-poly1305@openssh\.com|aes.*-gcm@openssh\.com/);
  } finally {
    await stop();
  }
});

test('flow control: a command nobody reads stalls alone; the others on its connection finish', { timeout: 60000 }, async () => {
  const { run, stop } = startService([running('ws')]);
  try {
    // 8 MiB, far past the window and every buffer: it can finish only once it is read.
    const flood = run({ workspace: 'ws', command: 'head -c 8388608 /dev/zero' });
    flood.stdout.pause();
    let floodEnded = false;
    flood.result.then(() => { floodEnded = true; });
    for (let i = 0; i < 3; ++i) {
      const quick = run({ workspace: 'ws', command: `echo quick ${i}` });
      const [out, result] = await Promise.all([collect(quick.stdout), quick.result]);
      assert.strictEqual(out, `quick ${i}\n`);
      assert.strictEqual(result.exitCode, 0);
    }
    assert.strictEqual(floodEnded, false);
    let bytes = 0;
    for await (const chunk of flood.stdout) bytes += chunk.length;
    assert.strictEqual(bytes, 8388608);
    assert.strictEqual((await flood.result).exitCode, 0);
  } finally {
    await stop();
  }
});

test('100 execs over one service share one connection, each with its own output', { timeout: 60000 }, async () => {
  const { runtime, run, stop } = startService([running('ws')]);
  try {
    for (let round = 0; round < 4; ++round) {
      const batch = Array.from({ length: 25 }, (_, k) => {
        const n = round * 25 + k;
        const command = run({ workspace: 'ws', command: `echo exec ${n}` });
        return Promise.all([collect(command.stdout), command.result]).then(([out, result]) => ({ n, out, result }));
      });
      for (const { n, out, result } of await Promise.all(batch)) {
        assert.strictEqual(out, `exec ${n}\n`);
        assert.strictEqual(result.exitCode, 0);
      }
    }
    assert.strictEqual((await runtime.connections()).connections.length, 1);
  } finally {
    await stop();
  }
});

test('64 MiB through stdout arrive whole; unread, they stop at the credit granted', { timeout: 60000 }, async () => {
  const { runtime, run, stop } = startService([running('ws')]);
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'node-stream-'));
  try {
    // The workspace is this machine: the command reads a file the test wrote, and the bytes that
    // come back are compared with it by hash.
    const crypto = require('node:crypto');
    const source = path.join(folder, 'source.bin');
    const content = crypto.randomBytes(64 * 1024 * 1024);
    fs.writeFileSync(source, content);
    const command = run({ workspace: 'ws', command: `cat '${source}'` });
    // Nothing read yet: the service sends the first window's worth and no more. A round trip to
    // the service after that orders any frame it sent before its answer.
    while (command.stdout.readableLength < 262144) await new Promise(setImmediate);
    await runtime.connections();
    assert.strictEqual(command.stdout.readableLength, 262144);
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    for await (const chunk of command.stdout) {
      bytes += chunk.length;
      hash.update(chunk);
    }
    assert.strictEqual((await command.result).exitCode, 0);
    assert.strictEqual(bytes, content.length);
    assert.strictEqual(hash.digest('hex'), crypto.createHash('sha256').update(content).digest('hex'));
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
    await stop();
  }
});

test('cancel mid-command ends that command as cancelled; the next one runs on the same connection', { timeout: 30000 }, async () => {
  const { runtime, run, stop } = startService([running('ws')]);
  try {
    const command = run({ workspace: 'ws', command: 'echo started; exec sleep 30' });
    const reader = command.stdout[Symbol.asyncIterator]();
    assert.strictEqual((await reader.next()).value.toString(), 'started\n');
    const cancelledAt = Date.now();
    command.cancel();
    const result = await command.result;
    assert.strictEqual(result.end, 'cancelled');
    assert.ok(Date.now() - cancelledAt < 10000, `cancel took ${Date.now() - cancelledAt} ms`);
    const next = run({ workspace: 'ws', command: 'echo after' });
    assert.strictEqual(await collect(next.stdout), 'after\n');
    assert.strictEqual((await runtime.connections()).connections.length, 1);
  } finally {
    await stop();
  }
});

test('a Coder-side failure rejects with the layer, the code and the CLI\'s words', { timeout: 30000 }, async () => {
  const { run, stop } = startService([{ name: 'gone', timeline: [{ status: 'deleted' }] }]);
  try {
    const command = run({ workspace: 'gone', command: 'true' });
    await assert.rejects(command.result, (error) => {
      assert.ok(error instanceof CoderRuntimeError);
      assert.strictEqual(error.rpcCode, -32000);
      assert.strictEqual(error.layer, 'coder');
      assert.match(error.message, /workspace gone cannot be used: it is deleted/);
      return true;
    });
  } finally {
    await stop();
  }
});

test('the service killed mid-command: the command rejects with how it ended, and its streams end', { timeout: 30000 }, async () => {
  const { runtime, run, stop } = startService([running('ws')]);
  let remote = 0;
  try {
    const command = run({ workspace: 'ws', command: 'echo $$; exec sleep 60' });
    const reader = command.stdout[Symbol.asyncIterator]();
    const first = await reader.next();
    remote = Number(first.value.toString());
    assert.ok(remote > 0);
    process.kill(runtime.pid, 'SIGKILL');
    await assert.rejects(command.result, /coder-runtime serve was killed by SIGKILL/);
    assert.strictEqual((await reader.next()).done, true);
  } finally {
    // The test server leaves a command running when its connection drops: not ours to keep.
    if (remote > 0) try { process.kill(remote, 'SIGKILL'); } catch {}
    await stop();
  }
});

for (const via of ['exec', 'sftp']) {
test(`files (${via}): a write replaces the file whole, a read streams it back, and stat, ensureDir and resolvePath answer`, { timeout: 30000 }, async () => {
  const { runtime, stop, coderEnv } = startService([running('ws')]);
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'node-files-'));
  const file = (params) => ({ workspace: 'ws', coder, coderEnv, via, ...params });
  try {
    const target = path.join(folder, 'deep', 'data.bin');
    // Every byte value, NULs and invalid UTF-8 included.
    const content = require('node:crypto').randomBytes(3 * 1024 * 1024 + 7);
    await runtime.ensureDir(file({ path: path.dirname(target) }));
    await runtime.writeFile(file({ path: target, data: content }));
    assert.ok(fs.readFileSync(target).equals(content));
    const info = await runtime.stat(file({ path: target }));
    assert.strictEqual(info.size, content.length);
    assert.strictEqual(info.is_directory, false);
    const read = runtime.readFile(file({ path: target }));
    const chunks = [];
    for await (const chunk of read.stdout) chunks.push(chunk);
    await read.result;
    assert.ok(Buffer.concat(chunks).equals(content));
    // Over SFTP, ~ is where the server starts: the Coder agent starts it in the home, the Go test
    // server (pkg/sftp without expand-path) in its own directory, the service's.
    assert.strictEqual(await runtime.resolvePath(file({ path: '~' })), via === 'sftp' ? process.cwd() : os.homedir());

    // A source that ends short of its size: the file stays as it was, with no temporary beside it.
    const { Readable } = require('node:stream');
    await assert.rejects(runtime.writeFile(file({ path: target, source: Readable.from([Buffer.from('short')]), size: 100 })),
      (error) => error instanceof CoderRuntimeError &&
        /received 5 of 100 bytes/.test(error.message + JSON.stringify(error.evidence)));
    assert.ok(fs.readFileSync(target).equals(content));
    assert.deepStrictEqual(fs.readdirSync(path.dirname(target)), ['data.bin']);

    const missing = runtime.readFile(file({ path: path.join(folder, 'missing') }));
    missing.stdout.resume();
    // Each way names its own layer, which tells which way the request went.
    const layer = via === 'sftp' ? 'sftp' : 'channel';
    await assert.rejects(missing.result, (error) => error.layer === layer && /No such file/i.test(JSON.stringify(error.evidence)));
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
    await stop();
  }
});
}

test('files (sftp): a server that never answers runs into timeoutMs; files over exec still work', { timeout: 30000 }, async () => {
  // The subsystem starts and reads every request, and answers none: not even VERSION.
  const { runtime, stop, coderEnv } = startService([running('ws')], { go_sshd_args: ['-sftp-command', 'cat >/dev/null'] });
  const file = (params) => ({ workspace: 'ws', coder, coderEnv, ...params });
  try {
    const timedOut = (error) => error instanceof CoderRuntimeError && error.code === 'timed_out';
    // The workspace is dialled first, so that the bounds below measure the silent subsystem alone.
    assert.strictEqual((await runtime.stat(file({ path: '/etc', via: 'exec' }))).is_directory, true);
    await assert.rejects(runtime.stat(file({ path: '/etc', via: 'sftp', timeoutMs: 300 })), timedOut);
    const started = Date.now();
    await assert.rejects(runtime.resolvePath(file({ path: '~', via: 'sftp', timeoutMs: 300 })), timedOut);
    const read = runtime.readFile(file({ path: '/etc/hostname', via: 'sftp', timeoutMs: 300 }));
    read.stdout.resume();
    await assert.rejects(read.result, timedOut);
    assert.ok(Date.now() - started < 10000, `${Date.now() - started} ms`);
    assert.strictEqual((await runtime.stat(file({ path: '/etc', via: 'exec' }))).is_directory, true);
  } finally {
    await stop();
  }
});

// OpenSSH's sftp-server (Debian's openssh-server) behind a script that counts its starts.
const sftpServer = '/usr/lib/openssh/sftp-server';
test('files (sftp): one SFTP session serves the connection\'s requests; one cut short retires it',
  { timeout: 30000, skip: fs.existsSync(sftpServer) ? false : `no ${sftpServer}` }, async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'node-sftp-session-'));
  const starts = path.join(folder, 'starts');
  const sftpCommand = `echo started >> '${starts}'; exec ${sftpServer}`;
  const { runtime, stop, coderEnv } = startService([running('ws')], { go_sshd_args: ['-sftp-command', sftpCommand] });
  const file = (params) => ({ workspace: 'ws', coder, coderEnv, via: 'sftp', ...params });
  const sessions = () => fs.readFileSync(starts, 'utf8').split('\n').filter(Boolean).length;
  try {
    const target = path.join(folder, 'a', 'data');
    await runtime.ensureDir(file({ path: path.dirname(target) }));
    await runtime.writeFile(file({ path: target, data: Buffer.from('hello') }));
    assert.strictEqual((await runtime.stat(file({ path: target }))).size, 5);
    assert.strictEqual(await runtime.resolvePath(file({ path: target })), target);
    const read = runtime.readFile(file({ path: target }));
    assert.strictEqual(await collect(read.stdout), 'hello');
    await read.result;
    assert.strictEqual(sessions(), 1);
    // A write whose bytes stop coming runs into its bound: the next request starts a new session.
    const { Readable } = require('node:stream');
    const stalled = new Readable({ read() {} });
    stalled.push('x');
    await assert.rejects(runtime.writeFile(file({ path: target, source: stalled, size: 100, timeoutMs: 500 })),
      (error) => error instanceof CoderRuntimeError && error.code === 'timed_out');
    assert.strictEqual((await runtime.stat(file({ path: target }))).size, 5);
    assert.strictEqual(sessions(), 2);
  } finally {
    await stop();
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

test('workspace: status, then ensureReady starts a stopped workspace with progress on the way', { timeout: 30000 }, async () => {
  const stopped = { name: 'ws', timeline: [{ status: 'stopped' }], after_start: [{ status: 'running' }] };
  const { runtime, stop, coderEnv } = startService([stopped]);
  const params = { workspace: 'ws', coder, coderEnv };
  try {
    assert.strictEqual((await runtime.status(params)).status, 'stopped');
    const steps = [];
    const ready = await runtime.ensureReady(params, (text) => steps.push(text));
    assert.strictEqual(ready.status, 'running');
    assert.ok(steps.some((text) => /stopped/.test(text)), JSON.stringify(steps));
    assert.ok(steps.length >= 2, JSON.stringify(steps));
    await assert.rejects(runtime.status({ ...params, workspace: 'nope' }), /workspace nope not found/);
  } finally {
    await stop();
  }
});

test('doctor: each step as it ends, then the diagnosis; a missing CLI is a failed step, not an error', { timeout: 30000 }, async () => {
  const { runtime, stop, coderEnv } = startService([running('ws')]);
  try {
    const seen = [];
    const diagnosis = await runtime.doctor({ workspace: 'ws', coder, coderEnv, timeoutMs: 15000 }, (step) => seen.push(step.step));
    assert.strictEqual(diagnosis.passed, true, JSON.stringify(diagnosis));
    assert.deepStrictEqual(seen, diagnosis.steps.map((step) => step.step));
    assert.strictEqual(diagnosis.steps.at(-1).step, 'shared');
    assert.strictEqual(diagnosis.steps.find((step) => step.step === 'SSH banner').detail, 'SSH-2.0-Go');
    const missing = await runtime.doctor({ workspace: 'ws', coder: '/nonexistent/coder', coderEnv });
    assert.strictEqual(missing.passed, false);
    assert.strictEqual(missing.steps[0].step, 'Coder CLI');
    assert.ok(missing.steps[0].remedy.length > 0);
  } finally {
    await stop();
  }
});

test('a service that answers with what is not a frame: calls reject with what was wrong', { timeout: 10000 }, async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'node-garbage-'));
  const script = path.join(folder, 'not-a-service');
  fs.writeFileSync(script, '#!/bin/sh\nprintf "HTTP/1.1 400 Bad Request\\r\\n"\nexec sleep 30\n', { mode: 0o755 });
  const runtime = CoderRuntime.start({ executable: script });
  try {
    await assert.rejects(runtime.initialize(), (error) => error.code === 'protocol_error' &&
      /frame length of 1213486160, outside 1\.\.1048576/.test(error.message));
  } finally {
    await runtime.close({ graceMs: 1000 });
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

test('a forward: connections to its port reach the workspace\'s port, until it is closed', { timeout: 30000 }, async () => {
  const net = require('node:net');
  const echo = net.createServer((socket) => socket.pipe(socket));
  await new Promise((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const { runtime, stop, coderEnv } = startService([running('ws')]);
  const through = (port, text) => new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
    const chunks = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
  try {
    const forward = await runtime.openForward({ workspace: 'ws', coder, coderEnv, remotePort: echo.address().port });
    assert.strictEqual(forward.listen, `127.0.0.1:${forward.port}`);
    const texts = Array.from({ length: 5 }, (_, i) => `through the forward ${i}\n`.repeat(1000));
    assert.deepStrictEqual(await Promise.all(texts.map((text) => through(forward.port, text))), texts);
    const listed = await runtime.connections();
    assert.deepStrictEqual(listed.forwards.map((f) => [f.id, f.destination, f.listen]),
      [[forward.id, 'ws.mux--coder', forward.listen]]);
    await runtime.closeForward(forward.id);
    await assert.rejects(through(forward.port, 'closed'), { code: 'ECONNREFUSED' });
    await assert.rejects(runtime.closeForward(forward.id), { rpcCode: -32602 });
    assert.deepStrictEqual((await runtime.connections()).forwards, []);
  } finally {
    await stop();
    echo.close();
  }
});
