/**
 * The contract between the engine/roles and a connected host. Implemented over ssh2 in src/ssh/;
 * everything above this layer sees only this interface.
 */

export interface ExecOptions {
  /** Bytes fed to the command's stdin. */
  stdin?: string | Buffer;
  /** Bounded: the command is killed and the call fails after this long. */
  timeoutMs?: number;
  /** Extra environment, passed inline (`env K=V … cmd`) since sshd drops most SetEnv. */
  env?: Readonly<Record<string, string>>;
  /** Run as the login user even when the host becomes root (e.g. to edit that user's ~/.ssh). */
  asLoginUser?: boolean;
}

export interface ExecResult {
  /** Exit status; a command killed by a signal reports 128 + the signal number. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface FileSpec {
  /** Permission bits, e.g. 0o644. */
  mode: number;
  owner?: string;
  group?: string;
}

export interface RemoteHost {
  /** Inventory name of the host (used in every message). */
  readonly name: string;
  /**
   * Runs argv (quoted for the remote shell, never pasted) as the login user, or through
   * non-interactive sudo when the inventory asks to become root. Resolves on any exit status.
   */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Like exec, but a non-zero exit status rejects with HostCommandError. */
  run(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** sha256 (hex) of a remote file, or undefined when it does not exist. */
  sha256(path: string): Promise<string | undefined>;
  /** A remote file's content, or undefined when it does not exist. */
  readFile(path: string): Promise<Buffer | undefined>;
  /**
   * Atomically replaces a remote file (temp file in the same directory, fsync, rename) with mode
   * and owner set; creates parent directories. Returns false, writing nothing, when the content,
   * mode and owner already match. `differs`: the caller saw other content there, so small content
   * goes with the write in one command (else it is compared first and sent only when it differs).
   */
  writeFile(path: string, content: string | Buffer, spec: FileSpec, options?: { differs?: boolean }): Promise<boolean>;
  /** Streams a local file to the host with the same atomic, skip-if-equal semantics. */
  uploadFile(localPath: string, remotePath: string, spec: FileSpec & { sha256?: string }): Promise<boolean>;
  /** Bytes this host's connection has sent as file content (for benchmarks and idempotence tests). */
  readonly bytesUploaded: number;
  close(): Promise<void>;
}
