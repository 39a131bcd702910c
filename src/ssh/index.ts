/** The SSH layer's public surface: what the engine, roles and CLI import. */
export { createConnector, knownHostsPath, noNetworkGuard, BASTION_GROUP, type NetworkGuard } from './connector.js';
export type { Connector, ConnectorInventory, ConnectorOptions } from './connector.js';
export type { SshEvent, SshEventSink, LoginMethod } from './events.js';
export { HostCommandError } from './errors.js';
export { SshRemoteHost } from './remote-host.js';
export { ClusterKey, clusterKeyPath, credentialsDir, ensureClusterKey, loadClusterKey } from './cluster-key.js';
export { bootstrapPasswordPath, PASSWORD_ENV } from './credentials.js';
export { createPasswordPrompt } from './password-prompt.js';
export { authorizeClusterKey, distributeClusterKey, distributeClusterKeys } from './key-distribution.js';
export type { KeyDistributionResult } from './key-distribution.js';
export { gatherFacts, factsCommand, parseFacts } from './facts.js';
export { commandLine, shellQuote } from './quote.js';
export type { ExecOptions, ExecResult, FileSpec, RemoteHost } from './types.js';
