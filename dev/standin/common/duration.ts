/** Go's time.ParseDuration and apimachinery's HumanDuration, as the v1.13 binaries use them. */

const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds, or Go's error text (go1.11 wording, which built v1.13). */
export function parseGoDuration(text: string): number | string {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return `time: invalid duration ${text}`;
  let total = 0;
  while (rest.length > 0) {
    const num = /^(\d*\.?\d*)/.exec(rest)![1]!;
    if (num === '' || num === '.') return `time: invalid duration ${text}`;
    rest = rest.slice(num.length);
    const unit = /^([^\d.]*)/.exec(rest)![1]!;
    if (unit === '') return `time: missing unit in duration ${text}`;
    const factor = unitMs[unit];
    if (factor === undefined) return `time: unknown unit ${unit} in duration ${text}`;
    total += Number(num) * factor;
    rest = rest.slice(unit.length);
  }
  return sign * total;
}

/** A Go duration string for milliseconds (`15s`, `1m0s`), as Go's Duration.String() prints it. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const totalSeconds = ms / 1000;
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = +(totalSeconds % 60).toFixed(3);
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration: the AGE column. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) return `${Math.floor(hours / 24 / 365)}y${Math.floor(hours / 24) % 365}d`;
  return `${Math.floor(hours / 24 / 365)}y`;
}
