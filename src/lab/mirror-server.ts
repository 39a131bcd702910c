/**
 * The artifact mirror as its own process: `node mirror-server.js --root DIR --listen ADDR:PORT`.
 * `kprov lab up` starts it inside the lab namespace; its stdout is the mirror's request log.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createMirrorServer } from './mirror.js';

const argsSchema = z.object({
  root: z.string().min(1),
  listen: z.string().regex(/^(\d{1,3}(\.\d{1,3}){3}):(\d{1,5})$/, 'expected IPv4:PORT'),
});

function main(): void {
  const { values } = parseArgs({ options: { root: { type: 'string' }, listen: { type: 'string' } } });
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) {
    process.stderr.write(`mirror-server: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}\n`);
    process.exit(2);
  }
  const { root, listen } = parsed.data;
  const separator = listen.lastIndexOf(':');
  const host = listen.slice(0, separator);
  const port = Number(listen.slice(separator + 1));
  const server = createMirrorServer(root, (r) => process.stdout.write(`${r.method} ${r.path} ${r.status} ${r.bytes}\n`));
  server.on('error', (err) => {
    process.stderr.write(`mirror-server: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(port, host, () => process.stdout.write(`serving ${root} on http://${listen}/\n`));
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
