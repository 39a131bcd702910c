/** Orders names as people read them: node2 before node10. */
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

export function compareNatural(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

export function sortNatural(names: Iterable<string>): string[] {
  return [...names].sort(compareNatural);
}
