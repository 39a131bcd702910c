/**
 * Waits until TCP services answer:
 *   node probe.js --timeout-ms N [--banner SSH-] [--stdin] ADDR:PORT…
 * Run inside the lab namespace (the only place lab addresses exist). With --stdin, more targets
 * arrive one per line while the probe runs (a host is added the moment its container starts, so
 * boot-to-ready times are measured from then). Prints one JSON line per target when it answers or
 * its time runs out; exits when every target has a result (and stdin is closed), 0 if all answered.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';

const targetSchema = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/, 'expected IPv4:PORT');
const argsSchema = z.object({
  timeoutMs: z.coerce.number().int().positive().max(600_000),
  banner: z.string().optional(),
  stdin: z.boolean(),
  targets: z.array(targetSchema),
});

const POLL_INTERVAL_MS = 100;
const ATTEMPT_TIMEOUT_MS = 2_000;

/** One connection attempt: undefined when connected (and, if asked, the banner arrived), else why not. */
function attempt(host: string, port: number, banner: string | undefined, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let received = '';
    let settled = false;
    const done = (error: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(error);
    };
    const timer = setTimeout(() => done('timed out'), timeoutMs);
    socket.on('connect', () => {
      if (banner === undefined) done(undefined);
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (banner === undefined) return;
      if (received.startsWith(banner)) done(undefined);
      else if (received.length >= banner.length) done(`unexpected banner ${JSON.stringify(received.slice(0, 40))}`);
    });
    socket.on('error', (err) => done(err.message));
    socket.on('close', () => done('closed'));
  });
}

async function probe(target: string, banner: string | undefined, timeoutMs: number): Promise<boolean> {
  const added = Date.now();
  const deadline = added + timeoutMs;
  const separator = target.lastIndexOf(':');
  const host = target.slice(0, separator);
  const port = Number(target.slice(separator + 1));
  let attempts = 0;
  let error: string | undefined = 'not tried';
  while (Date.now() < deadline) {
    attempts++;
    error = await attempt(host, port, banner, Math.min(ATTEMPT_TIMEOUT_MS, Math.max(50, deadline - Date.now())));
    if (error === undefined) break;
    await sleep(POLL_INTERVAL_MS);
  }
  const at = Date.now();
  const ok = error === undefined;
  process.stdout.write(`${JSON.stringify({ target, ok, at, ms: at - added, attempts, ...(ok ? {} : { error }) })}\n`);
  return ok;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { 'timeout-ms': { type: 'string' }, banner: { type: 'string' }, stdin: { type: 'boolean' } },
    allowPositionals: true,
  });
  const parsed = argsSchema.safeParse({
    timeoutMs: values['timeout-ms'],
    banner: values.banner,
    stdin: values.stdin ?? false,
    targets: positionals,
  });
  if (!parsed.success) {
    process.stderr.write(`probe: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n`);
    process.exit(2);
  }
  const { timeoutMs, banner, stdin, targets } = parsed.data;
  const probes = targets.map((t) => probe(t, banner, timeoutMs));
  if (stdin) {
    for await (const line of createInterface({ input: process.stdin })) {
      const target = targetSchema.safeParse(line.trim());
      if (target.success) probes.push(probe(target.data, banner, timeoutMs));
      else if (line.trim() !== '') process.stderr.write(`probe: ignoring ${JSON.stringify(line)}\n`);
    }
  }
  const results = await Promise.all(probes);
  process.exit(results.every(Boolean) ? 0 : 1);
}

void main();
