/** Desired-state helpers, so roles stay a list of one-liners. */
export { file, checkFile, applyFile, type FileOptions, type FileChange, type Content, type TaskMeta, type Ownership } from './file.js';
export { directory, type DirectoryOptions, type DirectoryChange } from './directory.js';
export { absent, type AbsentOptions, type AbsentChange } from './absent.js';
export { binary, type BinaryOptions, type BinaryChange } from './binary.js';
export {
  service,
  waitStarted,
  restartHandler,
  waitActive,
  unitDiagnostics,
  probeHealthy,
  type HealthProbe,
  type ServiceOptions,
  type ServiceChange,
  type WaitStartedOptions,
  type RestartOptions,
} from './service.js';
export { healthGate, waitForProbe, probePasses, type HealthGateOptions, type ProbeWait } from './health-gate.js';
export { unitState, unitName, type UnitState } from './unit-state.js';
export { command, type CommandOptions, type CommandChange } from './command.js';
export { sysctl, type SysctlOptions, type SysctlChange } from './sysctl.js';
export { kernelModule, type KernelModuleOptions, type KernelModuleChange } from './kernel-module.js';
export { statPath, type PathStat } from './remote-stat.js';
export { probe, probeRun, statOf, unitOf } from '../read-cache.js';
