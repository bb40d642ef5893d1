'use strict';
// A client for the coder-runtime service protocol (docs/protocol.md) over `coder-runtime serve
// --stdio`: a child process this client starts and owns. Standard library only.
//
// Flow control follows the protocol's credit: stdout and stderr are Readable streams whose credit
// is granted back as the host reads them, so a host that stops reading one command stalls that
// command's SSH channel and nothing else; stdin is a Writable that sends no more than the server
// granted.

const { spawn } = require('node:child_process');
const { EventEmitter } = require('node:events');
const { Readable, Writable } = require('node:stream');

const FrameKind = { message: 0, data: 1, end: 2 };
const StreamId = { stdin: 0, stdout: 1, stderr: 2 };
const STREAM_NAMES = ['stdin', 'stdout', 'stderr'];
const MAX_FRAME = 1 << 20;
const MAX_DATA_PAYLOAD = 1 << 16;
const INITIAL_CREDIT = 262144;
const STDERR_KEPT = 4096;

// The library's error as the server sent it: `layer`, `code`, `evidence` (the peer's own words)
// and `context`, with the JSON-RPC code; or the service process's own end.
class CoderRuntimeError extends Error {
  constructor(message, { rpcCode, layer, code, evidence, context } = {}) {
    super(message);
    this.name = 'CoderRuntimeError';
    this.rpcCode = rpcCode;
    this.layer = layer;
    this.code = code;
    this.evidence = evidence || [];
    this.context = context || [];
  }
}

function encodeMessage(object) {
  const body = Buffer.from(JSON.stringify(object), 'utf8');
  const frame = Buffer.allocUnsafe(5 + body.length);
  frame.writeUInt32BE(body.length + 1, 0);
  frame[4] = FrameKind.message;
  body.copy(frame, 5);
  return frame;
}

function encodeStream(kind, handle, stream, payload) {
  const size = payload ? payload.length : 0;
  const frame = Buffer.allocUnsafe(10 + size);
  frame.writeUInt32BE(6 + size, 0);
  frame[4] = kind;
  frame.writeUInt32BE(handle, 5);
  frame[9] = stream;
  if (payload) payload.copy(frame, 10);
  return frame;
}

// One running command: its streams, its notifications ('progress', 'warning') and its result.
class Command extends EventEmitter {
  constructor(runtime, handle, withStdin) {
    super();
    this.handle = handle;
    this._runtime = runtime;
    this._withheld = { [StreamId.stdout]: 0, [StreamId.stderr]: 0 };
    this.stdout = this._output(StreamId.stdout);
    this.stderr = this._output(StreamId.stderr);
    this._ended = new Set();
    this._stdinCredit = INITIAL_CREDIT;
    this._creditWaiters = [];
    this.stdin = withStdin ? this._input() : null;
  }

  signal(name) { this._runtime._notify('exec.signal', { handle: this.handle, signal: name }); }
  resize(columns, rows) { this._runtime._notify('exec.resize', { handle: this.handle, columns, rows }); }
  cancel() { this._runtime._notify('exec.cancel', { handle: this.handle }); }

  _output(stream) {
    // Bytes the host has not taken yet are not granted back: the server then stops reading the
    // channel once the window is spent.
    return new Readable({
      read: () => {
        const bytes = this._withheld[stream];
        if (bytes > 0) {
          this._withheld[stream] = 0;
          this._runtime._notify('credit', { handle: this.handle, stream: STREAM_NAMES[stream], bytes });
        }
      },
    });
  }

  _input() {
    return new Writable({
      write: (chunk, _encoding, done) => this._send(chunk).then(() => done()),
      final: (done) => {
        this._runtime._write(encodeStream(FrameKind.end, this.handle, StreamId.stdin));
        done();
      },
    });
  }

  async _send(chunk) {
    let offset = 0;
    while (offset < chunk.length) {
      while (this._stdinCredit <= 0) {
        await new Promise((resolve) => this._creditWaiters.push({ resolve }));
      }
      const size = Math.min(chunk.length - offset, this._stdinCredit, MAX_DATA_PAYLOAD);
      this._runtime._write(encodeStream(FrameKind.data, this.handle, StreamId.stdin, chunk.subarray(offset, offset + size)));
      this._stdinCredit -= size;
      offset += size;
    }
  }

  _onData(stream, payload) {
    const readable = stream === StreamId.stdout ? this.stdout : this.stderr;
    if (!readable) return;
    if (readable.push(payload)) {
      this._runtime._notify('credit', { handle: this.handle, stream: STREAM_NAMES[stream], bytes: payload.length });
    } else {
      this._withheld[stream] += payload.length;
    }
  }

  _onEnd(stream) {
    const readable = stream === StreamId.stdout ? this.stdout : this.stderr;
    if (readable && !this._ended.has(stream)) {
      this._ended.add(stream);
      readable.push(null);
    }
  }

  _onStdinCredit(bytes) {
    this._stdinCredit += bytes;
    for (const waiter of this._creditWaiters.splice(0)) waiter.resolve();
  }

  // The service has gone: the output ends where it stopped and stdin takes no more; `result`
  // carries the reason, so no stream emits an 'error' a host might not listen for.
  _abandon() {
    this._stdinCredit = Infinity;
    for (const waiter of this._creditWaiters.splice(0)) waiter.resolve();
    this._onEnd(StreamId.stdout);
    this._onEnd(StreamId.stderr);
  }
}

class CoderRuntime extends EventEmitter {
  // Starts `coder-runtime serve --stdio`. options: executable (default "coder-runtime"), args
  // (extra arguments, e.g. ["-v"]), env (the service's environment; default this process's).
  static start(options = {}) {
    const child = spawn(options.executable || 'coder-runtime', ['serve', '--stdio', ...(options.args || [])], {
      env: options.env || process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    return new CoderRuntime(child);
  }

  constructor(child) {
    super();
    this._child = child;
    this._pending = new Map();
    this._commands = new Map();
    this._progress = new Map();
    this._steps = new Map();
    this._nextId = 1;
    this._nextHandle = 1;
    this._input = Buffer.alloc(0);
    this._stderr = '';
    this._failure = null;
    this._exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    child.stdout.on('data', (chunk) => this._receive(chunk));
    child.stderr.on('data', (chunk) => {
      this._stderr = (this._stderr + chunk.toString('utf8')).slice(-STDERR_KEPT);
    });
    child.stdin.on('error', () => {});  // its end is reported by 'close' below, with the evidence
    child.on('error', (error) => this._end(new CoderRuntimeError(`could not start coder-runtime: ${error.message}`,
      { layer: 'runtime', code: 'spawn_failed' })));
    child.on('close', (code, signal) => {
      const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
      const evidence = this._stderr ? [{ label: 'stderr', text: this._stderr }] : [];
      this._end(new CoderRuntimeError(`coder-runtime serve ${how}`, { layer: 'runtime', code: 'end_of_stream', evidence }));
    });
  }

  get pid() { return this._child.pid; }

  initialize(params = {}) { return this._call('initialize', params); }
  connections() { return this._call('connections.list', {}); }
  stopConnections(destination) { return this._call('connections.stop', destination ? { destination } : {}); }

  // A local port whose connections go to remotePort on the workspace's loopback (remoteHost
  // otherwise), as `ssh -L` does: on the service's shared connection, until closeForward(id) or
  // this service's end. params: workspace, remotePort, remoteHost, localPort (default 0: a free
  // one), localAddress (default loopback), coder, suffix, coderEnv. Resolves with { id, listen,
  // port } once the port listens; a forward that ends by itself emits 'forwardEnded' (id, error).
  openForward(params) {
    const request = { ...this._target(params), target: { port: params.remotePort } };
    if (params.remoteHost !== undefined) request.target.host = params.remoteHost;
    request.listen = { port: params.localPort || 0 };
    if (params.localAddress !== undefined) request.listen.address = params.localAddress;
    return this._call('forward.open', request);
  }
  closeForward(id) { return this._call('forward.close', { id }).then(() => {}); }

  // params: workspace, command | argv, cwd, env, timeoutMs, pty {term, columns, rows}, stdin
  // (true to write cmd.stdin), coder, suffix, coderEnv (default: this process's CODER_* variables).
  // Returns a Command whose `result` promise settles once it has ended and its output is in.
  exec(params) {
    const request = { ...this._target(params), stdin: Boolean(params.stdin) };
    for (const [from, to] of [['command', 'command'], ['argv', 'argv'], ['cwd', 'cwd'], ['env', 'env'],
      ['timeoutMs', 'timeout_ms'], ['pty', 'pty'], ['remoteShell', 'remote_shell']]) {
      if (params[from] !== undefined) request[to] = params[from];
    }
    return this._start('exec', request, request.stdin, (result) => ({
      end: result.end, exitCode: result.exit_code, signal: result.signal, durationMs: result.duration_ms,
    }));
  }

  // params: workspace, path (and coder, suffix, coderEnv). Returns a Command whose stdout is the
  // file's content and whose `result` settles once it has all been sent.
  readFile(params) {
    return this._start('files.read', this._file(params), false, () => ({}));
  }

  // params: workspace, path, and data (a Buffer or string), or source (a Readable) with its size.
  // The file is replaced atomically, and only once all `size` bytes have arrived.
  async writeFile(params) {
    const data = params.data === undefined ? null : Buffer.from(params.data);
    const size = data ? data.length : params.size;
    const command = this._start('files.write', { ...this._file(params), size }, true, () => ({}));
    if (data) {
      command.stdin.end(data);
    } else {
      params.source.pipe(command.stdin);
    }
    await command.result;
  }

  stat(params) { return this._call('files.stat', this._file(params)); }
  ensureDir(params) { return this._call('files.ensure_dir', this._file(params)).then(() => {}); }
  resolvePath(params) {
    return this._call('files.resolve_path', this._file(params)).then((result) => result.path);
  }

  // A files.* request's params: the workspace, the path, how to reach the files (via: 'exec' or
  // 'sftp'; a remoteShell other than 'posix' means SFTP) and its bound.
  _file(params) {
    const request = { ...this._target(params), path: params.path };
    if (params.via !== undefined) request.via = params.via;
    if (params.remoteShell !== undefined) request.remote_shell = params.remoteShell;
    if (params.timeoutMs !== undefined) request.timeout_ms = params.timeoutMs;
    return request;
  }

  // The workspace's state from `coder list`: owner, name, status, transition, outdated, agents.
  status(params) { return this._call('workspace.status', this._target(params)); }

  // Starts the workspace if it is stopped and waits for its agent; each step (a state seen,
  // `coder start`'s lines) goes to onProgress. Resolves with the ready state.
  async ensureReady(params, onProgress) {
    const handle = this._nextHandle++;
    if (onProgress) this._progress.set(handle, onProgress);
    try {
      return await this._call('workspace.ensure_ready', { ...this._target(params), handle });
    } finally {
      this._progress.delete(handle);
    }
  }

  // The diagnosis `coder-runtime doctor` prints, step by step (each to onStep as it ends), then
  // `true` on the service's shared connection. Resolves with { passed, steps }; a step that fails
  // is in it, not an error.
  async doctor(params, onStep) {
    const handle = this._nextHandle++;
    if (onStep) this._steps.set(handle, onStep);
    const request = { ...this._target(params), handle };
    if (params.timeoutMs !== undefined) request.timeout_ms = params.timeoutMs;
    if (params.stallBudgetMs !== undefined) request.stall_budget_ms = params.stallBudgetMs;
    try {
      return await this._call('doctor', request);
    } finally {
      this._steps.delete(handle);
    }
  }

  _target(params) {
    const target = { workspace: params.workspace };
    if (params.coder !== undefined) target.coder = params.coder;
    if (params.suffix !== undefined) target.suffix = params.suffix;
    target.coder_env = params.coderEnv || Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('CODER_')));
    return target;
  }

  _start(method, request, withStdin, shape) {
    const handle = this._nextHandle++;
    const command = new Command(this, handle, withStdin);
    this._commands.set(handle, command);
    if (this._failure) command._abandon();
    command.result = this._call(method, { ...request, handle }).then(shape).finally(() => this._commands.delete(handle));
    return command;
  }

  // Ends the service: its stdin closes, it ends every command and connection, and exits; one
  // that has not exited after graceMs is killed.
  async close({ graceMs = 5000 } = {}) {
    this._child.stdin.end();
    const timer = setTimeout(() => this._child.kill('SIGKILL'), graceMs);
    try {
      return await this._exited;
    } finally {
      clearTimeout(timer);
    }
  }

  _call(method, params) {
    if (this._failure) return Promise.reject(this._failure);
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject, method });
      this._write(encodeMessage({ jsonrpc: '2.0', id, method, params }));
    });
  }

  _notify(method, params) {
    if (!this._failure) this._write(encodeMessage({ jsonrpc: '2.0', method, params }));
  }

  _write(frame) {
    if (!this._failure) this._child.stdin.write(frame);
  }

  _receive(chunk) {
    this._input = this._input.length ? Buffer.concat([this._input, chunk]) : chunk;
    while (this._input.length >= 4) {
      const length = this._input.readUInt32BE(0);
      if (length < 1 || length > MAX_FRAME) {
        this._protocolError(`the service sent a frame length of ${length}, outside 1..${MAX_FRAME}`);
        return;
      }
      if (this._input.length < 4 + length) return;
      const kind = this._input[4];
      const body = this._input.subarray(5, 4 + length);
      this._input = this._input.subarray(4 + length);
      if (kind === FrameKind.message) {
        let message;
        try {
          message = JSON.parse(body.toString('utf8'));
        } catch (error) {
          this._protocolError(`the service sent a message that is not JSON: ${error.message}`);
          return;
        }
        this._onMessage(message);
      } else {
        const command = this._commands.get(body.readUInt32BE(0));
        if (!command) continue;
        if (kind === FrameKind.data) command._onData(body[4], Buffer.from(body.subarray(5)));
        if (kind === FrameKind.end) command._onEnd(body[4]);
      }
    }
  }

  _onMessage(message) {
    if (message.id !== undefined && message.method === undefined) {
      const pending = this._pending.get(message.id);
      if (!pending) return;
      this._pending.delete(message.id);
      if (message.error) {
        const data = message.error.data || {};
        pending.reject(new CoderRuntimeError(message.error.message, { rpcCode: message.error.code, ...data }));
      } else {
        pending.resolve(message.result);
      }
      return;
    }
    const params = message.params || {};
    const command = this._commands.get(params.handle);
    if (message.method === 'credit' && command && params.stream === 'stdin') command._onStdinCredit(params.bytes);
    if ((message.method === 'progress' || message.method === 'warning') && command) command.emit(message.method, params.text);
    if (message.method === 'progress' && this._progress.has(params.handle)) this._progress.get(params.handle)(params.text);
    if (message.method === 'doctor.step' && this._steps.has(params.handle)) this._steps.get(params.handle)(params.step);
    if (message.method === 'protocol_error') this.emit('protocol_error', params.message);
    if (message.method === 'forward.ended') {
      this.emit('forwardEnded', params.id, new CoderRuntimeError(params.message, { rpcCode: -32000, ...(params.error || {}) }));
    }
  }

  _protocolError(message) {
    this._end(new CoderRuntimeError(message, { layer: 'runtime', code: 'protocol_error' }));
    this._child.kill();
  }

  _end(error) {
    if (this._failure) return;
    this._failure = error;
    for (const pending of this._pending.values()) pending.reject(error);
    this._pending.clear();
    for (const command of this._commands.values()) command._abandon();
  }
}

module.exports = { CoderRuntime, Command, CoderRuntimeError };
