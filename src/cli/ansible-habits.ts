/**
 * Ansible's command-line options that kprov does not take, each with what to use instead, so a
 * Kubespray user's `ansible-playbook … --ask-become-pass` gets an answer rather than "unknown
 * option". The options kprov shares with Ansible (-i, -l, -t, --skip-tags, -e, -b, -u, --forks,
 * --check, --diff, -v …) are real options of `kprov apply`.
 */
const INSTEAD: Readonly<Record<string, string>> = {
  '--ask-become-pass': 'kprov runs sudo without a password: give the SSH user passwordless sudo (ansible_become: true)',
  '-K': 'kprov runs sudo without a password: give the SSH user passwordless sudo (ansible_become: true)',
  '--become-method': 'kprov becomes root with sudo only',
  '--ask-vault-pass': 'kprov cannot read ansible-vault files: keep secrets out of the inventory (kprov keeps its own in credentials/)',
  '--vault-password-file': 'kprov cannot read ansible-vault files: keep secrets out of the inventory (kprov keeps its own in credentials/)',
  '--vault-id': 'kprov cannot read ansible-vault files: keep secrets out of the inventory (kprov keeps its own in credentials/)',
  '--inventory-file': 'use -i DIR (an inventory directory, or its inventory.ini or hosts.yaml)',
  '--connection': 'kprov connects over SSH only',
  '-c': 'kprov connects over SSH only',
  '--timeout': 'kprov bounds SSH connects itself (10 s, one reconnect)',
  '-T': 'kprov bounds SSH connects itself (10 s, one reconnect)',
  '--syntax-check': 'use: kprov inventory check (and kprov plan to see what would change)',
  '--start-at-task': 'use --tags to run part of a playbook (kprov apply cluster --list-tags lists them)',
  '--step': 'use kprov plan first: it shows every change, per host, before anything runs',
  '--list-tasks': 'use kprov plan: it lists every task that would change something, per host',
  '--ssh-common-args': 'set ansible_port, ansible_user or a bastion group in the inventory; kprov has no raw SSH arguments',
  '--ssh-extra-args': 'set ansible_port, ansible_user or a bastion group in the inventory; kprov has no raw SSH arguments',
  '--flush-cache': 'kprov reads facts from the hosts on every run; there is no fact cache',
  '--force-handlers': 'kprov records owed restarts on the hosts, so an interrupted run finishes them on the next',
  '--module-path': 'kprov has no Ansible modules',
  '-M': 'kprov has no Ansible modules',
};

/** What to use instead of an Ansible option named in commander's "unknown option" error. */
export function ansibleOptionHint(errorText: string): string | undefined {
  const option = /unknown option '([^'=]+)/.exec(errorText)?.[1];
  return option === undefined ? undefined : INSTEAD[option];
}
