// deploy/kubernetes: valid against the Kubernetes schemas, and consistent with the relay it runs
// (the config the pods mount is one the relay accepts; probes, ports, paths and the stop timing
// agree with that config).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config/index.js';
import { KUBE_DIR, findObject, readKustomization, readManifests, selects, validateObject, type KubeObject } from './support/kubernetes.js';

const objects = readManifests();
const sts = findObject(objects, 'StatefulSet', 'workspace-relay');
const pod = sts.spec.template.spec;
const relay = pod.containers.find((c: any) => c.name === 'relay');
const config: Config = loadConfig(path.join(KUBE_DIR, 'config/config.yaml'));

/** Where in the relay container `file` is mounted from: the volume (by name) and its mount. */
function mountOf(container: any, file: string): { volume: any; mountPath: string } | undefined {
  const m = (container.volumeMounts as any[])
    .filter((v) => file === v.mountPath || file.startsWith(`${v.mountPath}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  if (!m) return undefined;
  const volume = [...pod.volumes, ...sts.spec.volumeClaimTemplates.map((t: any) => ({ name: t.metadata.name, claim: t }))]
    .find((v: any) => v.name === m.name);
  return { volume, mountPath: m.mountPath };
}

function containerPort(name: string): number {
  const port = (relay.ports as any[]).find((p) => p.name === name);
  if (!port) throw new Error(`the relay container has no port named ${name}`);
  return port.containerPort;
}

describe('deploy/kubernetes', () => {
  it('every object is valid against its Kubernetes schema', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(expect.arrayContaining([
      'Namespace/workspace-relay', 'StatefulSet/workspace-relay', 'Service/workspace-relay', 'Service/workspace-relay-pods',
      'PodDisruptionBudget/workspace-relay', 'NetworkPolicy/workspace-relay', 'ServiceMonitor/workspace-relay',
      'ConfigMap/relay-config', 'ConfigMap/relay-practices',
    ]));
    for (const o of objects) validateObject(o);
  });

  it('the schemas catch a mistake (a string where a port number belongs)', () => {
    const broken: KubeObject = structuredClone(sts);
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'smtp';
    expect(() => validateObject(broken)).toThrow(/statefulset\.yaml: StatefulSet workspace-relay: .*containerPort must be integer/);
  });

  it('the config the pods mount is one the relay accepts, with the practices of conf.d', () => {
    expect(config.workspaces.map((w) => w.name)).toContain('clinic-a');
    expect(config.queue.dir).toBe('/var/spool/workspace-relay');
  });

  it('the spool is the pod\'s own volume, at queue.dir', () => {
    const spool = mountOf(relay, config.queue.dir);
    expect(spool?.mountPath).toBe(config.queue.dir);
    expect(spool?.volume.claim?.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenScaled: 'Retain', whenDeleted: 'Retain' });
  });

  it('SIGTERM has time to finish: the grace period is above preStop + queue.shutdownTimeout + the relay\'s 2 s', () => {
    const preStop = Number(relay.lifecycle.preStop.exec.command[1]);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + config.queue.shutdownTimeout / 1000 + 2);
  });

  it('the probes ask /healthz and /readyz on the operations listener the config opens', () => {
    const http = config.http?.listen[0];
    expect(http?.host).toBe('0.0.0.0');
    const portName = relay.livenessProbe.httpGet.port;
    expect(containerPort(portName)).toBe(http?.port);
    expect(relay.livenessProbe.httpGet.path).toBe('/healthz');
    expect(relay.startupProbe.httpGet).toEqual({ path: '/healthz', port: portName });
    expect(relay.readinessProbe.httpGet).toEqual({ path: '/readyz', port: portName });
  });

  it('the SMTP Service reaches the listener the config opens, keeping the client\'s address', () => {
    expect(containerPort('smtp')).toBe(config.listen[0]!.port);
    const svc = findObject(objects, 'Service', 'workspace-relay');
    expect(svc.spec.externalTrafficPolicy).toBe('Local');
    expect(selects(svc.spec.selector, pod.metadata?.labels ?? sts.spec.template.metadata.labels)).toBe(true);
    for (const p of svc.spec.ports) expect(p.targetPort).toBe('smtp');
  });

  it('secrets are files: every key and certificate the config names comes from a Secret, mode 0600, none in env', () => {
    const files = [
      ...config.workspaces.flatMap((w) => (w.gmailApi ? [w.gmailApi.serviceAccountKeyFile] : [])),
      ...config.listen.flatMap((l) => [l.tls.certFile, l.tls.keyFile].filter((f): f is string => !!f)),
    ];
    expect(files.length).toBeGreaterThan(0);
    const init = pod.initContainers.find((c: any) => c.name === 'secret-files');
    const script: string = init.command.join(' ');
    expect(script).toContain('install -m 0600');
    for (const file of files) {
      // In the relay container: the memory-backed directory the init container fills...
      const inRelay = mountOf(relay, file);
      expect(inRelay?.volume.emptyDir?.medium, file).toBe('Memory');
      // ...from a Secret volume mounted at /secrets/<dir> in the init container.
      const relative = path.relative(inRelay!.mountPath, file);
      const source = mountOf(init, `/secrets/${relative}`);
      expect(source?.volume.secret?.secretName, file).toBeTruthy();
    }
    for (const c of [...pod.initContainers, ...pod.containers]) {
      expect(JSON.stringify(c.env ?? [])).not.toContain('secretKeyRef');
    }
  });

  it('meets the restricted Pod Security Standard the namespace enforces', () => {
    const ns = findObject(objects, 'Namespace', 'workspace-relay');
    expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of [...pod.initContainers, ...pod.containers]) {
      expect(c.securityContext, c.name).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    }
  });

  it('the disruption budget, the pods Service and the ServiceMonitor select the relay\'s pods and port', () => {
    const labels = sts.spec.template.metadata.labels;
    expect(selects(findObject(objects, 'PodDisruptionBudget', 'workspace-relay').spec.selector.matchLabels, labels)).toBe(true);
    const pods = findObject(objects, 'Service', 'workspace-relay-pods');
    expect(sts.spec.serviceName).toBe(pods.metadata.name);
    expect(selects(pods.spec.selector, labels)).toBe(true);
    const monitor = findObject(objects, 'ServiceMonitor', 'workspace-relay');
    expect(selects(monitor.spec.selector.matchLabels, pods.metadata.labels)).toBe(true);
    expect(pods.spec.ports.map((p: any) => p.name)).toContain(monitor.spec.endpoints[0].port);
    expect(pods.spec.ports[0].targetPort).toBe('http');
  });

  it('the ConfigMaps are mounted where the relay looks, and the image is the kustomization\'s', () => {
    const k = readKustomization();
    const env = Object.fromEntries((relay.env as any[]).map((e) => [e.name, e.value]));
    expect(mountOf(relay, env.WORKSPACE_RELAY_CONFIG)?.volume.configMap?.name).toBe('relay-config');
    expect(mountOf(relay, '/etc/workspace-relay/conf.d/clinic-a.yaml')?.volume.configMap?.name).toBe('relay-practices');
    for (const c of [...pod.initContainers, ...pod.containers]) expect(c.image).toBe(k.images[0]!.name);
  });
});
