/**
 * Log lines in klog's format (`I1122 02:14:44.877089   12345 server.go:0] message`) on stderr, as
 * the real components write them, so journald shows what an operator expects to search for.
 */
type Severity = 'I' | 'W' | 'E' | 'F';

function header(severity: Severity, source: string): string {
  const now = new Date();
  const two = (n: number) => String(n).padStart(2, '0');
  const micros = String(now.getUTCMilliseconds() * 1000).padStart(6, '0');
  const stamp = `${two(now.getUTCMonth() + 1)}${two(now.getUTCDate())} ${two(now.getUTCHours())}:${two(now.getUTCMinutes())}:${two(now.getUTCSeconds())}.${micros}`;
  return `${severity}${stamp} ${String(process.pid).padStart(7)} ${source}:0] `;
}

export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  /** The fatal line klog.Fatal writes before exiting. */
  fatalLine(message: string): string;
}

/** A logger whose lines name `source` (e.g. `server.go`) where klog names the Go file. */
export function klog(source: string, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const emit = (s: Severity, m: string) => write(`${header(s, source)}${m}\n`);
  return {
    info: (m) => emit('I', m),
    warning: (m) => emit('W', m),
    error: (m) => emit('E', m),
    fatalLine: (m) => `${header('F', source)}${m}\n`,
  };
}
