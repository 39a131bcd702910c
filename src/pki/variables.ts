/** The cluster PKI's variables. */
import { declareVariables } from '../inventory/variables.js';
import { hostOrIp, list, oneOf } from '../inventory/value-types.js';

export const PKI_VARIABLES = declareVariables({
  supplementary_addresses_in_ssl_keys: { schema: list(hostOrIp, 'a list of IP addresses or DNS names'), default: [], scope: 'k8s_cluster' },
  pki_key_algorithm: { schema: oneOf(['ecdsa-p256', 'rsa-2048'] as const), default: 'ecdsa-p256', scope: 'cluster' },
});
