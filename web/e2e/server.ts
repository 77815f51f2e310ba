// Starts the real distchat binary for end-to-end tests: a free port, a fresh data directory,
// SIGTERM to stop (SIGKILL if it does not go), and a restart on the same port and data.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function binaryPath(): string {
  return process.env.DISTCHAT_BIN ? path.resolve(process.env.DISTCHAT_BIN) : path.join(repoRoot, 'bin', 'distchat');
}

const LISTENING = /distchat listening on (http:\/\/\S+)/;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

export class DistchatServer {
  private proc: ChildProcess | null = null;
  private output = '';
  url = '';
  port = 0;

  private constructor(
    readonly dataDir: string,
    private readonly extraArgs: string[],
  ) {}

  /** Starts a server on 127.0.0.1 with a free port and a new temporary data directory. */
  static async start(extraArgs: string[] = []): Promise<DistchatServer> {
    const bin = binaryPath();
    if (!existsSync(bin)) {
      throw new Error(
        `distchat binary not found at ${bin}.\n` +
          'The end-to-end tests run against the real server: build it first with `make build` ' +
          '(or `npm run build && go build -o bin/distchat .`), or point DISTCHAT_BIN at a binary.',
      );
    }
    const server = new DistchatServer(mkdtempSync(path.join(tmpdir(), 'distchat-e2e-')), extraArgs);
    await server.launch('127.0.0.1:0');
    return server;
  }

  private launch(addr: string): Promise<void> {
    const proc = spawn(binaryPath(), ['--addr', addr, '--data', this.dataDir, ...this.extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.output = '';
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) {
          proc.kill('SIGKILL');
          reject(err);
        } else resolve();
      };
      const timer = setTimeout(() => finish(new Error(`distchat did not report its address within ${START_TIMEOUT_MS} ms. Output:\n${this.output}`)), START_TIMEOUT_MS);
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        const m = LISTENING.exec(this.output);
        if (m && !this.url) {
          this.url = m[1];
          this.port = Number(new URL(m[1]).port);
          finish();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', (chunk: Buffer) => {
        this.output += chunk.toString();
      });
      proc.on('error', (err) => finish(new Error(`could not start ${binaryPath()}: ${err.message}`)));
      proc.on('exit', (code, signal) => finish(new Error(`distchat exited early (code ${code}, signal ${signal}). Output:\n${this.output}`)));
    });
  }

  /** Output so far, for failure messages. */
  log(): string {
    return this.output;
  }

  /** SIGTERM, then SIGKILL when it has not exited in time. Resolves once the process is gone. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), STOP_TIMEOUT_MS))]);
    if (timedOut) {
      proc.kill('SIGKILL');
      await exited;
      throw new Error(`distchat did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM and was killed. Output:\n${this.output}`);
    }
  }

  /** Starts a stopped server again on the same port with the same data directory. */
  async startAgain(): Promise<void> {
    if (this.proc) throw new Error('distchat is still running');
    const before = this.url;
    this.url = '';
    await this.launch(`127.0.0.1:${this.port}`);
    if (this.url !== before) throw new Error(`distchat came back on ${this.url}, not ${before}`);
  }

  /** Stops the server and removes its data. */
  async dispose(): Promise<void> {
    try {
      await this.stop();
    } finally {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }
}
