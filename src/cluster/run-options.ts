/** Settings of the `kprov apply` invocation that cluster roles read (not inventory variables). */
declare module '../roles/types.js' {
  interface SharedValues {
    run?: RunOptions;
  }
}

export interface RunOptions {
  /** Install artifacts whose checksum cannot be verified, warning on every host. */
  insecureSkipChecksum: boolean;
  /** The environment the artifact cache location is read from ($XDG_CACHE_HOME, $HOME). */
  env: Readonly<Record<string, string | undefined>>;
}

export const DEFAULT_RUN_OPTIONS: RunOptions = { insecureSkipChecksum: false, env: process.env };
