/**
 * How a variable is declared, once: its schema, kprov's default, and which hosts must agree on it.
 * Each part of kprov declares the variables it reads next to the code that reads them (a role's
 * `variables.ts`, src/artifacts/variables.ts …); src/inventory/schema.ts assembles the tables the
 * loader uses from those declarations.
 */
import type { z } from 'zod';

/** Which hosts must agree on a cluster-wide variable (others may differ freely). */
export type AgreementScope = 'k8s_cluster' | 'etcd' | 'control_plane' | 'cluster';

export interface VariableSpec<S extends z.ZodType = z.ZodType> {
  schema: S;
  /**
   * kprov's default (Kubespray's where kprov follows it). A string may be an expression,
   * evaluated like inventory values. Without one the variable is optional.
   */
  default?: unknown;
  /** Cluster-wide: the hosts that must see one value (the `cluster` view takes it from the first). */
  scope?: AgreementScope;
  /** About one host (how to reach it, its addresses and identity), not the cluster. */
  identity?: true;
}

export type VariableSpecs = Readonly<Record<string, VariableSpec>>;

/** Declares variables; the identity function keeps each schema's exact type for the assembled schema. */
export function declareVariables<const T extends VariableSpecs>(specs: T): T {
  return specs;
}

export type ShapeOf<T extends VariableSpecs> = { [K in keyof T]: T[K]['schema'] };

export function shapeOf<T extends VariableSpecs>(specs: T): ShapeOf<T> {
  return Object.fromEntries(Object.entries(specs).map(([k, v]) => [k, v.schema])) as ShapeOf<T>;
}

export function defaultsOf<T extends VariableSpecs>(specs: T): Partial<Record<keyof T, unknown>> {
  return Object.fromEntries(Object.entries(specs).flatMap(([k, v]) => ('default' in v ? [[k, v.default]] : []))) as Partial<Record<keyof T, unknown>>;
}

export function scopesOf<T extends VariableSpecs>(specs: T): Partial<Record<keyof T, AgreementScope>> {
  return Object.fromEntries(Object.entries(specs).flatMap(([k, v]) => (v.scope ? [[k, v.scope]] : []))) as Partial<Record<keyof T, AgreementScope>>;
}

export function identityKeys<T extends VariableSpecs>(specs: T): (keyof T & string)[] {
  return Object.entries(specs).flatMap(([k, v]) => (v.identity ? [k] : []));
}
