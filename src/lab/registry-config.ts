/**
 * The lab registry's configuration file (distribution 2.x), written by kprov: plain HTTP on the
 * bridge address (inside the lab namespace only), no authentication, images stored under the
 * lab's state directory and removed with it.
 */
import { stringify } from 'yaml';

export interface RegistrySettings {
  /** host:port, the bridge address inside the lab namespace. */
  listen: string;
  storageDir: string;
  /** Signs upload state between requests; random per lab. */
  secret: string;
}

export function registryConfig(settings: RegistrySettings): string {
  const config = {
    version: 0.1,
    log: { level: 'info', formatter: 'text', fields: { service: 'kprov-lab-registry' } },
    storage: {
      filesystem: { rootdirectory: settings.storageDir },
      // A lab lives minutes to hours: nothing to purge, and no background walk of the storage.
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: settings.listen, secret: settings.secret, headers: { 'X-Content-Type-Options': ['nosniff'] } },
  };
  return `# Written by kprov lab up: the lab's image registry (no TLS, no authentication; lab namespace only).\n${stringify(config)}`;
}

/**
 * distribution reads REGISTRY_* variables over its config file (REGISTRY_HTTP_ADDR would move
 * its listener): it runs with this environment and nothing inherited.
 */
export const REGISTRY_ENV: Readonly<Record<string, string>> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
