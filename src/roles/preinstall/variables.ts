/** The preinstall role's variables (preflight thresholds). */
import { declareVariables } from '../../inventory/variables.js';
import { int } from '../../inventory/value-types.js';

export const PREINSTALL_VARIABLES = declareVariables({
  preflight_min_memory_mb_control_plane: { schema: int('a number of MiB', 0, 1 << 24), default: 1500 },
  preflight_min_memory_mb_node: { schema: int('a number of MiB', 0, 1 << 24), default: 1024 },
});
