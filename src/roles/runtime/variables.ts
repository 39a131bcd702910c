/** The runtime role's variables (containerd and runc, and the images containerd pulls). */
import { z } from 'zod';
import { declareVariables } from '../../inventory/variables.js';
import { bool, httpUrl, imageRepo, imageTag, release, structureFromText, text } from '../../inventory/value-types.js';

const REGISTRY_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?$/;
const REGISTRIES_EXPECTED = 'a mapping of registry names to mirror URLs, such as {"docker.io": ["https://registry-1.docker.io"]}';

/** Kubespray's form: registry → one endpoint or a list of them (its template flattens both). */
const registries = z.preprocess(
  structureFromText,
  z.record(
    z.string().regex(REGISTRY_NAME, 'a registry name such as docker.io or registry.local:5000'),
    z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(httpUrl, { error: 'a mirror URL or a list of them' }).min(1, 'at least one mirror URL')),
    { error: REGISTRIES_EXPECTED },
  ),
);

export const RUNTIME_VARIABLES = declareVariables({
  container_manager: {
    schema: z.literal('containerd', { error: 'containerd (the container runtime kprov installs)' }),
    default: 'containerd',
    scope: 'k8s_cluster',
  },
  containerd_version: { schema: release('a containerd release such as 1.2.6', /^v?\d+\.\d+\.\d+$/, false), default: '1.2.6', scope: 'k8s_cluster' },
  runc_version: { schema: release('a runc release such as v1.0.0-rc6', /^v?\d+\.\d+\.\d+(?:-rc\d+(?:\.\d+)?)?$/, true), default: 'v1.0.0-rc6', scope: 'k8s_cluster' },

  // Where containerd pulls images from: per registry, the endpoints its CRI plugin tries in order
  // (plain http allowed). Kubespray's default: Docker Hub's own endpoint for docker.io.
  containerd_registries: { schema: registries, default: { 'docker.io': ['https://registry-1.docker.io'] } },
  // Image repositories, Kubespray's names and kubeadm v1.13's defaults; the pod sandbox image is
  // `{pod_infra_image_repo}:{pod_infra_image_tag}` (k8s.gcr.io/pause:3.1).
  kube_image_repo: { schema: imageRepo('k8s.gcr.io'), default: 'k8s.gcr.io' },
  gcr_image_repo: { schema: imageRepo('gcr.io'), default: 'gcr.io' },
  pod_infra_image_repo: { schema: imageRepo('k8s.gcr.io/pause'), default: '{{ kube_image_repo }}/pause' },
  pod_infra_image_tag: { schema: imageTag, default: '3.1' },
  // CRI never sets an oom_score_adj below containerd's own: for machines where nothing may lower
  // it (no CAP_SYS_RESOURCE, e.g. kprov's lab); on real hosts containerd runs at -999.
  containerd_restrict_oom_score_adj: { schema: bool, default: false },
});
