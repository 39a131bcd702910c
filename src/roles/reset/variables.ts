/** The reset playbook's variables, Kubespray's names. */
import { declareVariables } from '../../inventory/variables.js';
import { bool } from '../../inventory/value-types.js';

export const RESET_VARIABLES = declareVariables({
  // yes: reset.yml goes on without asking (the same as --yes).
  reset_confirmation: { schema: bool, default: false },
  // Also take the cluster SSH key out of the login user's authorized_keys (--remove-ssh-key).
  reset_remove_ssh_key: { schema: bool, default: false },
});
