/** The check playbook's variables: the image its pods run and how long it may take. */
import { declareVariables } from '../../inventory/variables.js';
import { int, text } from '../../inventory/value-types.js';

// An image reference with a tag or digest: registry/path:tag or registry/path@sha256:...
const IMAGE_REF = /^[a-z0-9]+(?:[.-][a-z0-9]+)*(?::\d{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$/;

export const CHECK_VARIABLES = declareVariables({
  // Needs sh, httpd, wget and timeout (busybox has them all).
  check_image: {
    schema: text('an image reference such as docker.io/library/busybox:1.31').regex(IMAGE_REF, 'an image reference with a registry and a tag, such as docker.io/library/busybox:1.31'),
    default: 'docker.io/library/busybox:1.31',
    scope: 'k8s_cluster',
  },
  // Bound on the whole check: pulls, start-up, probes and clean-up.
  check_timeout: { schema: int('a number of seconds (10-3600)', 10, 3600), default: 180, scope: 'k8s_cluster' },
});
