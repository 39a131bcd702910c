/**
 * Names and addresses of a lab's pieces. Every lab uses the same subnet: labs never share a
 * network namespace, so their addresses cannot clash.
 */
import { KprovError } from '../errors.js';

export const LAB_NAME_PATTERN = /^[a-z][a-z0-9-]{0,11}$/;
export const MIN_HOSTS = 1;
export const MAX_HOSTS = 50;
export const DEFAULT_LAB_NAME = 'lab';
export const DEFAULT_HOSTS = 3;

export const LAB_SUBNET_PREFIX = '10.213.0';
export const LAB_PREFIX_LENGTH = 24;
export const BRIDGE_ADDRESS = `${LAB_SUBNET_PREFIX}.1`;
export const BRIDGE_NAME = 'kprov-br0';
export const MIRROR_PORT = 8080;
/** The lab's image registry (distribution's usual port). */
export const REGISTRY_PORT = 5000;
/** Host i (from 1) gets .10+i: .11, .12, … */
const FIRST_HOST_OCTET = 11;

/** Linux refuses interface names longer than IFNAMSIZ - 1. */
export const MAX_INTERFACE_NAME = 15;

export function validateLabName(name: string): string {
  if (!LAB_NAME_PATTERN.test(name)) {
    throw new KprovError('usage', `--name "${name}" is not a valid lab name`, {
      hint: 'use 1 to 12 characters: a lowercase letter, then lowercase letters, digits or dashes',
    });
  }
  return name;
}

export function validateHostCount(value: number): number {
  if (!Number.isInteger(value) || value < MIN_HOSTS || value > MAX_HOSTS) {
    throw new KprovError('usage', `--hosts must be a whole number from ${MIN_HOSTS} to ${MAX_HOSTS}`);
  }
  return value;
}

/** The namespace holding the lab's bridge (and the artifact mirror, and every client of the hosts). */
export function labNamespace(lab: string): string {
  return `kprov-${lab}`;
}

export function hostName(index: number): string {
  return `node${index}`;
}

/**
 * Each host's own network namespace (a file name under /run/netns, so not length-limited). The
 * dot cannot occur in a lab name, so no host's namespace can be another lab's namespace.
 */
export function hostNamespace(lab: string, index: number): string {
  return `kprov-${lab}.${hostName(index)}`;
}

/** Matches the namespaces of a lab's hosts (to find any a crashed `lab up` did not record). */
export function hostNamespacePattern(lab: string): RegExp {
  // A valid lab name holds only [a-z0-9-], none special in a pattern outside brackets.
  return new RegExp(`^kprov-${validateLabName(lab)}\\.node\\d+$`);
}

/** systemd-nspawn's machine name: unique across labs. */
export function machineName(lab: string, index: number): string {
  return `${lab}-${hostName(index)}`;
}

/** The bridge-side end of a host's veth pair; it lives in the lab namespace only. */
export function vethName(index: number): string {
  return checkInterfaceName(`veth-${hostName(index)}`);
}

export function hostAddress(index: number): string {
  return `${LAB_SUBNET_PREFIX}.${FIRST_HOST_OCTET - 1 + index}`;
}

export function mirrorListen(): string {
  return `${BRIDGE_ADDRESS}:${MIRROR_PORT}`;
}

export function registryListen(): string {
  return `${BRIDGE_ADDRESS}:${REGISTRY_PORT}`;
}

export function checkInterfaceName(name: string): string {
  if (name.length > MAX_INTERFACE_NAME) {
    throw new KprovError('internal', `interface name ${name} is longer than ${MAX_INTERFACE_NAME} characters`);
  }
  return name;
}
