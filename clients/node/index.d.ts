// Types for coder-runtime-client (index.js).
import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';

export interface Evidence { label: string; text: string; }

export declare class CoderRuntimeError extends Error {
  /** The JSON-RPC error code (-32000 when the operation failed); undefined when the service ended. */
  rpcCode?: number;
  /** proxy, network, banner, transport, kex, auth, channel, sftp, coder, cli, config, runtime */
  layer?: string;
  /** end_of_stream, timed_out, cancelled, io_error, spawn_failed, connect_failed, not_found, permission_denied, ... */
  code?: string;
  /** The peer's own words: a proxy's exit status and stderr, what arrived instead of a banner... */
  evidence: Evidence[];
  /** What was being done, innermost first. */
  context: string[];
}

export interface ExecParams {
  workspace: string;
  command?: string;
  argv?: string[];
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  pty?: { term: string; columns: number; rows: number };
  /** true to write the command's stdin through `Command.stdin` (end it to send EOF). */
  stdin?: boolean;
  remoteShell?: 'posix' | 'cmd' | 'powershell';
  /** The Coder CLI's path (default: `coder` on the service's PATH). */
  coder?: string;
  suffix?: string;
  /** The CODER_* variables the CLI runs with (default: this process's). */
  coderEnv?: Record<string, string>;
}

export interface ExecResult {
  end: 'exited' | 'signalled' | 'closed_without_status' | 'timed_out' | 'cancelled';
  exitCode?: number;
  signal?: string;
  durationMs: number;
}

export declare class Command extends EventEmitter {
  readonly handle: number;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly stdin: Writable | null;
  /** Settles once the command has ended and its output is in; rejects with CoderRuntimeError. */
  readonly result: Promise<ExecResult>;
  signal(name: string): void;
  resize(columns: number, rows: number): void;
  cancel(): void;
  on(event: 'progress' | 'warning', listener: (text: string) => void): this;
}

export interface FileParams {
  workspace: string;
  path: string;
  coder?: string;
  suffix?: string;
  coderEnv?: Record<string, string>;
  /** 'exec': cat and mv on the POSIX shell (one round trip on a warm connection); 'sftp': the
   * "sftp" subsystem. By default exec, and sftp where remoteShell is 'cmd' or 'powershell'. */
  via?: 'exec' | 'sftp';
  remoteShell?: 'posix' | 'cmd' | 'powershell';
  /** A read or write's bound (none by default); a stat, ensureDir or resolvePath's, dial included
   * (30 s by default). */
  timeoutMs?: number;
}

export interface FileInfo { size: number; mode: number; modified: number; is_directory: boolean; }

export interface WorkspaceParams { workspace: string; coder?: string; suffix?: string; coderEnv?: Record<string, string>; }

export interface DiagnosisStep {
  step: string;
  passed: boolean;
  detail: string;
  /** The kind of fault a failed step's evidence shows ("stall", "data_altered", ...; see
   * docs/protocol.md); "none" for a step that passed. */
  class: string;
  /** What to do, for a failed step. */
  remedy: string;
  /** The peer's own words and what was seen: label -> text. */
  evidence: Record<string, string>;
  ms: number;
}

export interface Diagnosis { passed: boolean; steps: DiagnosisStep[]; }

export interface WorkspaceState {
  owner: string;
  name: string;
  status: string;
  transition: string;
  outdated: boolean;
  agents: { name: string; status: string; lifecycle_state: string }[];
}

export interface Connection {
  destination: string;
  age_ms: number;
  channels: number;
  round_trip_ms?: number;
  /** The server's version line, e.g. "SSH-2.0-Go". */
  server: string;
  /** What was agreed; mac is empty for an AEAD cipher. */
  algorithms: { kex: string; host_key: string; cipher: string; mac: string };
}

export interface ForwardParams {
  workspace: string;
  /** The port on the workspace's side. */
  remotePort: number;
  /** Default: 127.0.0.1, the workspace's own loopback. */
  remoteHost?: string;
  /** Default 0: a free port. */
  localPort?: number;
  /** Default: loopback; '*' for every address. */
  localAddress?: string;
  coder?: string;
  suffix?: string;
  coderEnv?: Record<string, string>;
}

export interface Forward {
  id: number;
  /** Where it listens, e.g. "127.0.0.1:41234". */
  listen: string;
  port: number;
}

export interface ListedForward {
  id: number;
  destination: string;
  listen: string;
  target: string;
  /** The connections it carries now. */
  connections: number;
}

export interface StartOptions {
  /** Default: "coder-runtime" on PATH. */
  executable?: string;
  /** Extra arguments after `serve --stdio`, e.g. ["-v"]. */
  args?: string[];
  /** The service's environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export declare class CoderRuntime extends EventEmitter {
  static start(options?: StartOptions): CoderRuntime;
  readonly pid: number | undefined;
  initialize(params?: { client?: string }): Promise<{ protocol: number; server: string; pid: number }>;
  exec(params: ExecParams): Command;
  /** The file's content on `stdout`; `result` settles once all of it has been sent. */
  readFile(params: FileParams): Command;
  /** Replaces the file atomically once all of `data` (or `size` bytes of `source`) has arrived. */
  writeFile(params: FileParams & ({ data: Buffer | string } | { source: NodeJS.ReadableStream; size: number })): Promise<void>;
  stat(params: FileParams): Promise<FileInfo>;
  ensureDir(params: FileParams): Promise<void>;
  /** "~" and "~/x" from the remote home, a relative path from the login directory. */
  resolvePath(params: FileParams): Promise<string>;
  status(params: WorkspaceParams): Promise<WorkspaceState>;
  /** Starts the workspace if need be and waits for its agent; each step goes to onProgress. */
  ensureReady(params: WorkspaceParams, onProgress?: (text: string) => void): Promise<WorkspaceState>;
  /** The diagnosis `coder-runtime doctor` prints, each step to onStep as it ends, then `true` on
   * the service's shared connection. A failed step is in the result, not an error. */
  doctor(params: WorkspaceParams & { timeoutMs?: number; stallBudgetMs?: number },
         onStep?: (step: DiagnosisStep) => void): Promise<Diagnosis>;
  connections(): Promise<{ connections: Connection[]; forwards: ListedForward[] }>;
  stopConnections(destination?: string): Promise<{ stopped: number }>;
  /** A local port whose connections go to the workspace's remotePort over the shared connection,
   * until closeForward or the service's end; resolves once it listens. */
  openForward(params: ForwardParams): Promise<Forward>;
  closeForward(id: number): Promise<void>;
  /** A forward whose listener failed has ended by itself. */
  on(event: 'forwardEnded', listener: (id: number, error: CoderRuntimeError) => void): this;
  /** Ends the service (every command and connection) and resolves once it has exited; one that
   * has not exited after graceMs (default 5000) is killed. */
  close(options?: { graceMs?: number }): Promise<{ code: number | null; signal: string | null }>;
}
