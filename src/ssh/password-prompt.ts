/**
 * The interactive bootstrap-password prompt for the CLI: reads one line from a terminal in raw
 * mode so nothing typed is echoed. The streams are injected (the CLI passes its own), so the
 * library never touches the process's terminal by itself.
 */

/** The parts of a TTY input stream the prompt uses (process.stdin fits). */
export interface PromptInput {
  readonly isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  removeListener(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

export interface PromptOutput {
  write(text: string): unknown;
}

const ENTER = new Set(['\r', '\n']);
const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const CTRL_U = '\u0015';
const BACKSPACE = new Set(['\u007f', '\b']);

/**
 * A password() callback for createConnector, or undefined when input is not a terminal (then
 * kprov must not wait for a person). Ctrl-C, Ctrl-D on an empty line or an empty answer give
 * undefined: no password.
 */
export function createPasswordPrompt(
  input: PromptInput,
  output: PromptOutput,
  question = 'SSH password for the first login (not echoed): ',
): (() => Promise<string | undefined>) | undefined {
  if (!input.isTTY || typeof input.setRawMode !== 'function') return undefined;
  return () =>
    new Promise((resolve) => {
      let typed = '';
      const finish = (answer: string | undefined) => {
        input.removeListener('data', onData);
        input.setRawMode?.(false);
        input.pause();
        output.write('\n');
        resolve(answer === '' ? undefined : answer);
      };
      const onData = (chunk: Buffer | string) => {
        for (const ch of chunk.toString('utf8')) {
          if (ENTER.has(ch)) return finish(typed);
          if (ch === CTRL_C || (ch === CTRL_D && typed === '')) return finish(undefined);
          if (BACKSPACE.has(ch)) typed = [...typed].slice(0, -1).join('');
          else if (ch === CTRL_U) typed = '';
          else if (ch >= ' ') typed += ch;
        }
      };
      output.write(question);
      input.setRawMode?.(true);
      input.on('data', onData);
      input.resume();
    });
}
