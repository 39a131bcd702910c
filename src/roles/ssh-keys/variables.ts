/** The ssh-keys role's variables. */
import { declareVariables } from '../../inventory/variables.js';
import { oneOf } from '../../inventory/value-types.js';

export const SSH_KEYS_VARIABLES = declareVariables({
  ssh_key_type: { schema: oneOf(['ed25519', 'rsa'] as const), default: 'ed25519' },
});
