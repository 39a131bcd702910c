/** The engine's public surface: what the CLI, roles and tests import. */
export { executePlan, DEFAULT_CONCURRENCY, systemClock, type Clock, type Connector, type ExecuteOptions, type RunResult } from './executor.js';
export { planRun, type PlanOptions, type PlannedPlay, type RunPlan } from './run-plan.js';
export { loadPlaybook, parsePlaybook, resolvePlaybookPath, type Play, type Playbook, type PlayRole } from './playbook.js';
export { selectHosts, parsePattern, type PatternTarget } from './patterns.js';
export { parseTagList, shouldRun, tagFilter, type TagFilter } from './tags.js';
export { RoleRegistry } from './role-registry.js';
export type * from './contract.js';
export { createTemplateRenderer, renderTemplate } from './template.js';
export { describeFailure, formatFailure, HostStepError, type FailureInfo } from './errors.js';
export { fanOut, type RunEvent, type EventSink, type HostRecap, type HostLeftBehind, type Status, type ChangeRecord } from './events.js';
export { HOST_LOCK_DIR, type HostLockOptions } from './host-lock.js';
export { describeHolder, parseRunHolder, type RunHolder } from './run-holder.js';
export { newRunId } from './run-id.js';
export { DEFAULT_GRACE_MS } from './run-stop.js';
export { maskSecrets, fileDiff, MASK } from './diff.js';
export { waitUntil, WaitTimeoutError } from './wait.js';
export * from './tasks/index.js';
