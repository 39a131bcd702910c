/**
 * Download variables: where artifacts come from and how they are checked. Every artifact's URL
 * and checksum can be overridden as Kubespray allows (`<name>_download_url`, `<name>_checksum`).
 */
import { z } from 'zod';
import { declareVariables, type VariableSpec } from '../inventory/variables.js';
import { bool, checksum, httpUrl, optional, unsetIfNoChecksum } from '../inventory/value-types.js';
import { ARTIFACT_VAR_NAMES, type ArtifactVarName } from './ids.js';

// A URL template written for a kube_version without its v (Kubespray master's) gives `/vv1.13.5/`.
const downloadUrl = optional(
  httpUrl.refine((url) => !/\/vv\d/.test(url), 'a URL without a doubled v (found /vv…: kube_version already starts with v here, so write {{ kube_version }} rather than v{{ kube_version }})'),
);
// Kubespray writes `0` for "no checksum known".
const checksumPin = z.preprocess(unsetIfNoChecksum, checksum.optional());

type Overrides = { [K in ArtifactVarName as `${K}_download_url`]: VariableSpec<typeof downloadUrl> } & {
  [K in ArtifactVarName as `${K}_checksum`]: VariableSpec<typeof checksumPin>;
};

const overrides = Object.fromEntries(
  ARTIFACT_VAR_NAMES.flatMap((a) => [
    [`${a}_download_url`, { schema: downloadUrl, scope: 'cluster' }],
    [`${a}_checksum`, { schema: checksumPin, scope: 'cluster' }],
  ]),
) as Overrides;

export const ARTIFACT_VARIABLES = declareVariables({
  download_localhost: { schema: bool, default: true, scope: 'cluster' },
  files_repo: { schema: optional(httpUrl), scope: 'cluster' },
  ...overrides,
});
