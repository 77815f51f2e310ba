// Starts the real distchat binary for end-to-end tests: a free port, a fresh data directory,
// SIGTERM to stop (SIGKILL if it does not go), and a restart on the same port and data.

import { test } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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

/** Free loopback ports, found by listening on port 0 and closing again. */
export async function reservePorts(n: number): Promise<number[]> {
  const { createServer } = await import('node:net');
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/** Waits until the node answers /api/ready with 200 (a cluster elects its leaders first). */
export async function waitReady(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${url}/api/ready`)).ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Three distchat nodes clustered over routes on reserved loopback ports, all ready. */
export async function startCluster(): Promise<DistchatServer[]> {
  const routes = await reservePorts(3);
  const peers = routes.map((p) => `127.0.0.1:${p}`).join(',');
  const secret = randomBytes(32).toString('base64'); // a cluster needs one (--cluster-secret)
  const nodes = await Promise.all(
    routes.map((port, i) =>
      DistchatServer.start([
        '--node-name', `node${i + 1}`, '--cluster-listen', `127.0.0.1:${port}`, '--cluster-peers', peers,
        '--cluster-secret', secret,
      ]),
    ),
  );
  await Promise.all(nodes.map((n) => waitReady(n.url)));
  return nodes;
}

/**
 * Starts one server for the tests of the calling spec file, before its first test, and stops
 * it after its last; returns a getter for it.
 */
export function serverForThisFile(extraArgs: string[] = []): () => DistchatServer {
  let server: DistchatServer | undefined;
  test.beforeAll(async () => {
    server = await DistchatServer.start(extraArgs);
  });
  test.afterAll(async () => {
    await server?.dispose();
  });
  return () => {
    if (!server) throw new Error('the server starts before the first test of the file');
    return server;
  };
}
