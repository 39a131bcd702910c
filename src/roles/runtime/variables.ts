/** The runtime role's variables (containerd and runc). */
import { z } from 'zod';
import { declareVariables } from '../../inventory/variables.js';
import { release } from '../../inventory/value-types.js';

export const RUNTIME_VARIABLES = declareVariables({
  container_manager: {
    schema: z.literal('containerd', { error: 'containerd (the container runtime kprov installs)' }),
    default: 'containerd',
    scope: 'k8s_cluster',
  },
  containerd_version: { schema: release('a containerd release such as 1.2.6', /^v?\d+\.\d+\.\d+$/, false), default: '1.2.6', scope: 'k8s_cluster' },
  runc_version: { schema: release('a runc release such as v1.0.0-rc6', /^v?\d+\.\d+\.\d+(?:-rc\d+(?:\.\d+)?)?$/, true), default: 'v1.0.0-rc6', scope: 'k8s_cluster' },
});
