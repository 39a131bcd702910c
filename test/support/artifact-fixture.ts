/** For artifact tests: one fake release served by a loopback server, a fresh cache directory, and their teardown. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { HttpOptions } from '../../src/artifacts/http.js';
import { resolveArtifacts, type ResolvedArtifact } from '../../src/artifacts/resolve.js';
import { settingsFromVars } from '../../src/artifacts/settings.js';
import { buildFakeRelease, LAB_VERSIONS, type FakeRelease } from '../../dev/fixture-release.js';
import { startFixtureServer, type FixtureServer } from '../../dev/fixture-server.js';

/** Fast, still bounded: 3 tries, millisecond backoff, short timeouts. */
export const TEST_HTTP: Partial<HttpOptions> = { attempts: 3, backoffMs: 5, maxBackoffMs: 20, headersTimeoutMs: 5000, idleTimeoutMs: 2000 };

export interface Fixture {
  release: FakeRelease;
  server: FixtureServer;
  dir: string;
  cacheDir: string;
  /** Artifacts resolved against the server as files_repo, with extra group_vars. */
  artifacts(vars?: Record<string, unknown>, insecure?: boolean): ResolvedArtifact[];
  artifact(id: string, vars?: Record<string, unknown>, insecure?: boolean): ResolvedArtifact;
  close(): Promise<void>;
}

let sharedRelease: Promise<FakeRelease> | undefined;

export async function openFixture(): Promise<Fixture> {
  sharedRelease ??= buildFakeRelease();
  const release = await sharedRelease;
  const server = await startFixtureServer(new Map(release.files));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kprov-artifacts-'));
  const artifacts = (vars: Record<string, unknown> = {}, insecure = false) =>
    resolveArtifacts(settingsFromVars({ ...LAB_VERSIONS, files_repo: server.url, ...vars }, { insecureSkipChecksum: insecure }));
  return {
    release,
    server,
    dir,
    cacheDir: path.join(dir, 'cache'),
    artifacts,
    artifact(id, vars, insecure) {
      const a = artifacts(vars, insecure).find((x) => x.id === id);
      if (!a) throw new Error(`no artifact ${id}`);
      return a;
    },
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
