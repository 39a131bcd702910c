/** How kprov reaches and names each host: Ansible's connection variables. */
import { declareVariables } from './variables.js';
import { bool, hostOrIp, ip, optional, port, text, userName } from './value-types.js';

export const HOST_VARIABLES = declareVariables({
  ansible_host: { schema: hostOrIp, default: '{{ inventory_hostname }}', identity: true },
  ip: { schema: optional(ip), identity: true },
  access_ip: { schema: optional(ip), identity: true },
  ansible_user: { schema: userName, default: 'root', identity: true },
  ansible_port: { schema: port, default: 22, identity: true },
  ansible_ssh_private_key_file: { schema: optional(text('a file path')), identity: true },
  ansible_become: { schema: optional(bool), identity: true },
  ansible_become_user: { schema: userName, default: 'root', identity: true },
});
