#!/usr/bin/env node
// The Node ssh2 peer of the benchmark suite (bench/run): the library the original app used, doing
// the same work as bench/libssh_client.c and bench/coder_runtime_client.cpp, printing one JSON line.
//
//   node ssh2_client.js (--host H --port P | --proxy COMMAND) [--user U] [--key FILE] [--cipher NAME] MODE ...
//
// Modes as in bench/libssh_client.c: cold COUNT, warm COUNT, concurrent N ROUNDS, stream BYTES,
// idle N. A ProxyCommand runs as `sh -c "exec COMMAND"` and its stdio is ssh2's `sock`, as the
// app reached `coder ssh --stdio`. Authentication is "none" first, then the key when one is
// given. The host key is not checked: the servers are the benchmark's own.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const { Duplex } = require('stream');
const { Client } = require(path.join(__dirname, 'node', 'node_modules', 'ssh2'));
const { harness, nowUs, cpuUs, timed } = require('./harness');

const { die, options: target, mode, counts } = harness('ssh2_client', ['host', 'port', 'proxy', 'user', 'key', 'cipher']);

// RSS as the other harnesses read it: VmRSS in /proc/self/status.
const rssKb = () => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);

function connect() {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const config = { username: target.user || process.env.USER || 'root', readyTimeout: 60000 };
    if (target.key) config.privateKey = fs.readFileSync(target.key);
    if (target.cipher) config.algorithms = { cipher: [target.cipher] };
    if (target.proxy) {
      const child = spawn('/bin/sh', ['-c', `exec ${target.proxy}`], { stdio: ['pipe', 'pipe', 'inherit'] });
      config.sock = Duplex.from({ readable: child.stdout, writable: child.stdin });
      client.once('close', () => child.kill());
    } else {
      config.host = target.host || '127.0.0.1';
      config.port = Number(target.port || 22);
    }
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    client.connect(config);
  });
}

function disconnect(client) {
  return new Promise((resolve) => {
    client.once('close', resolve);
    client.end();
  });
}

// Runs command, reads stdout (counted) and stderr to the end; resolves to the byte count once the
// exit status (0, or an error) has arrived and the channel closed.
function run(client, command) {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      let bytes = 0;
      let status = null;
      channel.on('data', (chunk) => { bytes += chunk.length; });
      channel.stderr.resume();
      channel.on('exit', (code) => { status = code; });
      channel.on('close', () => {
        if (status !== 0) reject(new Error(`\`${command}\` exited with ${status}`));
        else resolve(bytes);
      });
    });
  });
}

async function main() {
  let result;
  if (mode === 'cold') {
    result = await timed(counts[0], async () => {
      const client = await connect();
      await run(client, 'true');
      await disconnect(client);
    });
  } else if (mode === 'warm' || mode === 'concurrent') {
    const client = await connect();
    await run(client, 'true');
    if (mode === 'warm') {
      result = await timed(counts[0], () => run(client, 'true'));
    } else {
      const [n, rounds] = counts;
      result = await timed(rounds, () => Promise.all(Array.from({ length: n }, () => run(client, 'true'))));
    }
    await disconnect(client);
  } else if (mode === 'stream') {
    const client = await connect();
    const cpu = cpuUs();
    const started = nowUs();
    const bytes = await run(client, `head -c ${counts[0]} /dev/zero`);
    result = { bytes, wall_us: nowUs() - started, cpu_us: cpuUs() - cpu };
    await disconnect(client);
  } else if (mode === 'idle') {
    const held = [await connect()];
    const before = rssKb();
    for (let k = 0; k < counts[0]; ++k) held.push(await connect());
    result = { rss_kb_before: before, rss_kb_after: rssKb(), connections: counts[0] };
    await Promise.all(held.map(disconnect));
  } else {
    die(`unknown mode ${mode}`);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => die(error.message));
