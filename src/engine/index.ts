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
export { fanOut, type RunEvent, type EventSink, type HostRecap, type Status, type ChangeRecord } from './events.js';
export { maskSecrets, fileDiff, MASK } from './diff.js';
export { waitUntil, WaitTimeoutError } from './wait.js';
export * from './tasks/index.js';
