/** What a command may touch of its process: injected so tests can run the CLI in-process. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly isTTY: boolean;
}

/**
 * A stream whose reader went away (`kprov apply --json | head`) is written to no more. The run
 * itself carries on: stopping half-way through changing hosts would be worse than lost output.
 */
function closableWriter(stream: NodeJS.WriteStream): (text: string) => void {
  let closed = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') closed = true;
    else throw err;
  });
  return (text) => {
    if (!closed) stream.write(text.endsWith('\n') ? text : `${text}\n`);
  };
}

export function processIO(): CliIO {
  return {
    out: closableWriter(process.stdout),
    err: closableWriter(process.stderr),
    env: process.env,
    cwd: process.cwd(),
    isTTY: Boolean(process.stdout.isTTY),
  };
}
