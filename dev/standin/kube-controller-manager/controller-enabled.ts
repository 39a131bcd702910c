/** Which controllers --controllers turns on (v1.13's IsControllerEnabled). */
/** Known but off unless named (v1.13's ControllersDisabledByDefault). */
const disabledByDefault = new Set(['bootstrapsigner', 'tokencleaner']);

/** --controllers: `*` is every controller not off by default, `name` turns one on, `-name` off. */
export function controllerEnabled(list: readonly string[], name: string): boolean {
  if (list.includes(`-${name}`)) return false;
  if (list.includes(name)) return true;
  return list.includes('*') && !disabledByDefault.has(name);
}
