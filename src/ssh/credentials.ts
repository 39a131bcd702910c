/**
 * Bootstrap credentials for hosts that do not accept the cluster key yet. Passwords are read, kept
 * in memory for the run and never logged or written anywhere.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { credentialsDir } from './cluster-key.js';

export interface BootstrapPassword {
  password: string;
  /** Where it came from, for messages (never the password itself). */
  source: string;
}

export const PASSWORD_ENV = 'KPROV_SSH_PASSWORD';

export function bootstrapPasswordPath(inventoryDir: string): string {
  return path.join(credentialsDir(inventoryDir), 'bootstrap-password');
}

export interface PasswordSources {
  inventoryDir: string;
  env: NodeJS.ProcessEnv;
  /** Interactive prompt without echo; only given when stdin is a terminal. */
  prompt: (() => Promise<string | undefined>) | undefined;
}

export interface PasswordLookup {
  /** `<inventory>/credentials/bootstrap-password`, else $KPROV_SSH_PASSWORD. */
  stored(): Promise<BootstrapPassword | undefined>;
  /** The interactive prompt, asked at most once per run however many hosts need it. */
  prompted(): Promise<BootstrapPassword | undefined>;
}

export function passwordLookup(sources: PasswordSources): PasswordLookup {
  let stored: Promise<BootstrapPassword | undefined> | undefined;
  let prompted: Promise<BootstrapPassword | undefined> | undefined;
  const file = bootstrapPasswordPath(sources.inventoryDir);
  return {
    stored: () =>
      (stored ??= (async () => {
        const text = await readFile(file, 'utf8').catch(() => undefined);
        // One trailing newline belongs to the file, not to the password.
        const fromFile = text?.replace(/\r?\n$/, '');
        if (fromFile) return { password: fromFile, source: path.relative(sources.inventoryDir, file) };
        const fromEnv = sources.env[PASSWORD_ENV];
        if (fromEnv) return { password: fromEnv, source: `$${PASSWORD_ENV}` };
        return undefined;
      })()),
    prompted: () => {
      const prompt = sources.prompt;
      if (!prompt) return Promise.resolve(undefined);
      return (prompted ??= prompt().then((p) => (p ? { password: p, source: 'the password prompt' } : undefined)));
    },
  };
}
