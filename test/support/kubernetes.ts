/**
 * deploy/kubernetes as kubectl would see it: the kustomization's resources (every YAML document),
 * the ConfigMaps its configMapGenerator makes, and each object validated against the Kubernetes
 * schemas (kubernetes-models; the Prometheus Operator's for ServiceMonitor).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { Namespace, Service, ConfigMap } from 'kubernetes-models/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

export const KUBE_DIR = path.resolve(import.meta.dirname, '../../deploy/kubernetes');

/** A manifest object: what the test reads of it (the schemas check the rest). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  /** The file it came from, for messages. */
  file: string;
}

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

/** Throws (naming the file and the schema's complaint) when `obj` is not a valid object of its kind. */
export function validateObject(obj: KubeObject): void {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) throw new Error(`${obj.file}: no schema known for ${obj.apiVersion} ${obj.kind} (add it to test/support/kubernetes.ts)`);
  const { file: _file, ...data } = obj;
  try {
    new Model(data).validate();
  } catch (err) {
    throw new Error(`${obj.file}: ${obj.kind} ${obj.metadata?.name}: ${(err as Error).message}`, { cause: err });
  }
}

export interface Kustomization {
  namespace: string;
  resources: string[];
  images: { name: string; newName: string; newTag: string }[];
  configMapGenerator: { name: string; files: string[] }[];
}

export function readKustomization(dir = KUBE_DIR): Kustomization {
  return YAML.parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
}

/** Every object the kustomization would apply: its resources' documents, then the generated ConfigMaps. */
export function readManifests(dir = KUBE_DIR): KubeObject[] {
  const k = readKustomization(dir);
  const out: KubeObject[] = [];
  for (const file of k.resources) {
    for (const doc of YAML.parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'))) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const obj = doc.toJS() as Omit<KubeObject, 'file'> | null;
      if (obj) out.push({ ...obj, file });
    }
  }
  for (const gen of k.configMapGenerator) {
    const data: Record<string, string> = {};
    for (const f of gen.files) data[path.basename(f)] = readFileSync(path.join(dir, f), 'utf8');
    out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: gen.name }, data, file: 'kustomization.yaml' });
  }
  return out;
}

export function findObject(objects: KubeObject[], kind: string, name: string): KubeObject {
  const obj = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!obj) throw new Error(`deploy/kubernetes has no ${kind} named ${name}`);
  return obj;
}

/** True when every label of `selector` is on `labels` (a Service's or PDB's matchLabels). */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return !!selector && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
