/** The CoreDNS add-on's objects, rendered from templates/dns/ with the inventory's values. */
import type { TemplateRenderer } from '../../engine/contract.js';
import type { HostVars } from '../../inventory/schema.js';
import { renderAddonObject, type AddonObject } from './addon-manifests.js';

/** In the order kubectl applies them: what the Deployment's pods need exists before them. */
export const COREDNS_TEMPLATES = [
  'dns/coredns-sa.yml.j2',
  'dns/coredns-clusterrole.yml.j2',
  'dns/coredns-clusterrolebinding.yml.j2',
  'dns/coredns-config.yml.j2',
  'dns/coredns-deployment.yml.j2',
  'dns/coredns-svc.yml.j2',
] as const;

type CorednsVars = Pick<
  HostVars,
  | 'dns_domain'
  | 'skydns_server'
  | 'upstream_dns_servers'
  | 'coredns_image_repo'
  | 'coredns_image_tag'
  | 'k8s_image_pull_policy'
  | 'dns_min_replicas'
  | 'dns_memory_limit'
  | 'dns_cpu_requests'
  | 'dns_memory_requests'
>;

export function corednsObjects(render: TemplateRenderer, vars: CorednsVars): AddonObject[] {
  const values: Record<string, unknown> = {
    dns_domain: vars.dns_domain,
    skydns_server: vars.skydns_server,
    upstream_dns_servers: vars.upstream_dns_servers,
    coredns_image_repo: vars.coredns_image_repo,
    coredns_image_tag: vars.coredns_image_tag,
    k8s_image_pull_policy: vars.k8s_image_pull_policy,
    dns_min_replicas: vars.dns_min_replicas,
    dns_memory_limit: vars.dns_memory_limit,
    dns_cpu_requests: vars.dns_cpu_requests,
    dns_memory_requests: vars.dns_memory_requests,
  };
  return COREDNS_TEMPLATES.map((t) => renderAddonObject(render, t, values));
}
