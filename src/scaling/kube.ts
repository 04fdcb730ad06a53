/**
 * What the scaler needs from Kubernetes, behind one small interface (ScaleTarget), and its
 * implementation with @kubernetes/client-node 1.x: the `deployments/scale` subresource of the worker
 * Deployments, the pods behind them (to see Pending and unschedulable ones), Events on the
 * Deployments, and a coordination.k8s.io/v1 Lease for leader election. Everything is in one
 * namespace, matching the chart's Role (charts/vldm/templates/scaler-rbac.yaml): nothing here reads
 * Secrets or deletes pods.
 */
import * as k8s from '@kubernetes/client-node';
import { UserError } from '../common/errors';
import type { PoolObservation } from './decide';

export interface ScaleInfo {
  /** spec.replicas (absent in a Scale when 0). */
  replicas: number;
  /** Label selector of the Deployment's pods (status.selector). */
  selector?: string;
}

export interface PodInfo {
  name: string;
  /** The Ready condition is True. */
  ready: boolean;
  /** PodScheduled is False: no node can take it (for a spot pool, usually no spot capacity). */
  unschedulable: boolean;
  /** Being deleted (it no longer counts as one of the replicas). */
  terminating: boolean;
  createdAt: Date;
}

/** A Lease as leader election sees it. `version` is the resourceVersion, for compare-and-swap. */
export interface LeaseRecord {
  holder?: string;
  acquireTime?: Date;
  renewTime?: Date;
  leaseDurationSeconds: number;
  transitions: number;
  version?: string;
}

export interface ScaleTarget {
  getScale(deployment: string): Promise<ScaleInfo>;
  setScale(deployment: string, replicas: number): Promise<void>;
  listPods(selector: string): Promise<PodInfo[]>;
  recordEvent(
    deployment: string,
    event: { reason: string; message: string; type?: 'Normal' | 'Warning' },
  ): Promise<void>;
  /** The Lease, or undefined when there is none. */
  getLease(name: string): Promise<LeaseRecord | undefined>;
  /** Creates it; false when someone else created it first. */
  createLease(name: string, lease: LeaseRecord): Promise<boolean>;
  /** Replaces it if it is still at `lease.version`; false when someone else changed it first. */
  updateLease(name: string, lease: LeaseRecord): Promise<boolean>;
}

/** A pool's state from its Deployment's scale and its pods. */
export function poolObservation(scale: ScaleInfo, pods: PodInfo[], now: Date): PoolObservation {
  const live = pods.filter((p) => !p.terminating);
  const unschedulable = live.filter((p) => !p.ready && p.unschedulable);
  const oldest = unschedulable.reduce((a, p) => Math.min(a, p.createdAt.getTime()), now.getTime());
  return {
    replicas: scale.replicas,
    ready: live.filter((p) => p.ready).length,
    pending: live.filter((p) => !p.ready).length,
    unschedulable: unschedulable.length,
    oldestUnschedulableSeconds: Math.max(0, (now.getTime() - oldest) / 1000),
  };
}

/** The HTTP status of a client-node error, or undefined for other errors. */
export function apiStatus(err: unknown): number | undefined {
  return err instanceof k8s.ApiException ? (err as k8s.ApiException<unknown>).code : undefined;
}

/** Event messages are capped by the API server; keep them readable rather than rejected. */
const EVENT_MESSAGE_MAX = 1000;
const COMPONENT = 'vldm-scaler';

export interface KubeScaleTargetOptions {
  /** A kubeconfig file; unset: in-cluster (the pod's ServiceAccount) or ~/.kube/config. */
  kubeconfig?: string;
  /** Namespace of the worker Deployments, their pods, the Events and the Lease. */
  namespace: string;
  /** This replica's name, in Events. */
  identity: string;
}

/** ScaleTarget over a real API server, with object-style client-node 1.x calls. */
export class KubeScaleTarget implements ScaleTarget {
  readonly apps: k8s.AppsV1Api;
  readonly core: k8s.CoreV1Api;
  readonly coordination: k8s.CoordinationV1Api;
  readonly namespace: string;
  readonly identity: string;

  constructor(opts: KubeScaleTargetOptions, kc?: k8s.KubeConfig) {
    const config = kc ?? new k8s.KubeConfig();
    if (!kc) {
      try {
        if (opts.kubeconfig) config.loadFromFile(opts.kubeconfig);
        else config.loadFromDefault();
      } catch (err) {
        throw new UserError(
          `cannot load the kubeconfig ${opts.kubeconfig ?? '(default)'}: ${(err as Error).message}`,
        );
      }
    }
    this.apps = config.makeApiClient(k8s.AppsV1Api);
    this.core = config.makeApiClient(k8s.CoreV1Api);
    this.coordination = config.makeApiClient(k8s.CoordinationV1Api);
    this.namespace = opts.namespace;
    this.identity = opts.identity;
  }

  async getScale(deployment: string): Promise<ScaleInfo> {
    const s = await this.apps.readNamespacedDeploymentScale({ name: deployment, namespace: this.namespace });
    return {
      replicas: s.spec?.replicas ?? 0,
      ...(s.status?.selector ? { selector: s.status.selector } : {}),
    };
  }

  async setScale(deployment: string, replicas: number): Promise<void> {
    // A merge patch of spec.replicas only: no resourceVersion, so a concurrent edit of anything else
    // in the Deployment (a rollout) does not make it fail.
    await this.apps.patchNamespacedDeploymentScale(
      { name: deployment, namespace: this.namespace, body: { spec: { replicas } }, fieldManager: COMPONENT },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  async listPods(selector: string): Promise<PodInfo[]> {
    const list = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: selector });
    return list.items.map((p) => {
      const cond = (type: string) => p.status?.conditions?.find((c) => c.type === type);
      return {
        name: p.metadata?.name ?? '',
        ready: cond('Ready')?.status === 'True',
        unschedulable: cond('PodScheduled')?.status === 'False',
        terminating: p.metadata?.deletionTimestamp !== undefined,
        createdAt: p.metadata?.creationTimestamp ? new Date(p.metadata.creationTimestamp) : new Date(),
      };
    });
  }

  async recordEvent(
    deployment: string,
    event: { reason: string; message: string; type?: 'Normal' | 'Warning' },
  ): Promise<void> {
    const now = new Date();
    const message =
      event.message.length > EVENT_MESSAGE_MAX
        ? `${event.message.slice(0, EVENT_MESSAGE_MAX - 1)}…`
        : event.message;
    await this.core.createNamespacedEvent({
      namespace: this.namespace,
      body: {
        metadata: { generateName: `${deployment}.` },
        involvedObject: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: deployment,
          namespace: this.namespace,
        },
        reason: event.reason,
        message,
        type: event.type ?? 'Normal',
        source: { component: COMPONENT },
        reportingComponent: COMPONENT,
        reportingInstance: this.identity,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }

  async getLease(name: string): Promise<LeaseRecord | undefined> {
    try {
      const l = await this.coordination.readNamespacedLease({ name, namespace: this.namespace });
      return {
        ...(l.spec?.holderIdentity ? { holder: l.spec.holderIdentity } : {}),
        ...(l.spec?.acquireTime ? { acquireTime: new Date(l.spec.acquireTime) } : {}),
        ...(l.spec?.renewTime ? { renewTime: new Date(l.spec.renewTime) } : {}),
        leaseDurationSeconds: l.spec?.leaseDurationSeconds ?? 0,
        transitions: l.spec?.leaseTransitions ?? 0,
        ...(l.metadata?.resourceVersion ? { version: l.metadata.resourceVersion } : {}),
      };
    } catch (err) {
      if (apiStatus(err) === 404) return undefined;
      throw err;
    }
  }

  #body(name: string, lease: LeaseRecord): k8s.V1Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace: this.namespace,
        ...(lease.version ? { resourceVersion: lease.version } : {}),
      },
      spec: {
        ...(lease.holder ? { holderIdentity: lease.holder } : {}),
        ...(lease.acquireTime ? { acquireTime: new k8s.V1MicroTime(lease.acquireTime.getTime()) } : {}),
        ...(lease.renewTime ? { renewTime: new k8s.V1MicroTime(lease.renewTime.getTime()) } : {}),
        leaseDurationSeconds: lease.leaseDurationSeconds,
        leaseTransitions: lease.transitions,
      },
    };
  }

  async createLease(name: string, lease: LeaseRecord): Promise<boolean> {
    try {
      await this.coordination.createNamespacedLease({
        namespace: this.namespace,
        body: this.#body(name, lease),
      });
      return true;
    } catch (err) {
      if (apiStatus(err) === 409) return false;
      throw err;
    }
  }

  async updateLease(name: string, lease: LeaseRecord): Promise<boolean> {
    try {
      await this.coordination.replaceNamespacedLease({
        name,
        namespace: this.namespace,
        body: this.#body(name, lease),
      });
      return true;
    } catch (err) {
      if (apiStatus(err) === 409) return false;
      throw err;
    }
  }
}
