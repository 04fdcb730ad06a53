/**
 * Fake nodes for the full test control plane (kube-control-plane.ts `full`): Node objects that kwok
 * manages (they carry its annotation), so they turn Ready, keep heartbeating, and the pods the
 * scheduler binds to them are marked Running and Ready. No kubelet and no container runtime exist:
 * a "Running" pod here runs nothing. Each node class is labelled and tainted as GPU clusters are and
 * as the chart's pools expect: GPU nodes carry the `nvidia.com/gpu` extended resource and the
 * `nvidia.com/gpu:NoSchedule` taint (which the GPU pools tolerate), and a capacity-type label
 * (`karpenter.sh/capacity-type` spot or on-demand) that a pool's nodeSelector picks.
 */
import * as k8s from '@kubernetes/client-node';
import { KWOK_NODE_ANNOTATION } from './kube-control-plane';

/** The label that tells spot from on-demand nodes (Karpenter's; GKE and EKS have their own). */
export const CAPACITY_TYPE_LABEL = 'karpenter.sh/capacity-type';
/** The label naming a node's class in these tests: cpu, gpu-spot or gpu-on-demand. */
export const NODE_CLASS_LABEL = 'vldm.dev/node-class';
export const GPU_RESOURCE = 'nvidia.com/gpu';

export type NodeClass = 'cpu' | 'gpu-spot' | 'gpu-on-demand';

export interface FakeNodeSpec {
  name: string;
  kind: NodeClass;
  /** GPUs of a GPU node. @default 1 */
  gpus?: number;
  /** CPU cores. @default 16 */
  cpu?: number;
  /** Memory in GiB. @default 64 */
  memoryGi?: number;
}

/** The Node object of a fake node: labels, taints and capacity of its class. */
export function fakeNode(spec: FakeNodeSpec): k8s.V1Node {
  const gpu = spec.kind !== 'cpu';
  const capacity: Record<string, string> = {
    cpu: String(spec.cpu ?? 16),
    memory: `${spec.memoryGi ?? 64}Gi`,
    pods: '110',
    ...(gpu ? { [GPU_RESOURCE]: String(spec.gpus ?? 1) } : {}),
  };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: spec.name,
      annotations: { [KWOK_NODE_ANNOTATION.key]: KWOK_NODE_ANNOTATION.value },
      labels: {
        'kubernetes.io/hostname': spec.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
        [NODE_CLASS_LABEL]: spec.kind,
        [CAPACITY_TYPE_LABEL]: spec.kind === 'gpu-spot' ? 'spot' : 'on-demand',
        ...(gpu ? { 'nvidia.com/gpu.present': 'true' } : {}),
      },
    },
    spec: gpu ? { taints: [{ key: GPU_RESOURCE, value: 'present', effect: 'NoSchedule' }] } : {},
    // Read by kwok's node-initialize stage, which keeps the capacity it finds.
    status: { capacity, allocatable: capacity },
  };
}

/** Creates the nodes and waits until kwok has made every one Ready. */
export async function createFakeNodes(core: k8s.CoreV1Api, specs: FakeNodeSpec[]): Promise<void> {
  for (const spec of specs) await core.createNode({ body: fakeNode(spec) });
  const until = Date.now() + 60_000;
  for (;;) {
    const nodes = await core.listNode();
    const ready = new Set(
      nodes.items
        .filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
        .map((n) => n.metadata?.name),
    );
    if (specs.every((s) => ready.has(s.name))) return;
    if (Date.now() > until)
      throw new Error(
        `kwok did not make nodes Ready: ${specs.filter((s) => !ready.has(s.name)).map((s) => s.name)}`,
      );
    await new Promise((r) => setTimeout(r, 300));
  }
}
