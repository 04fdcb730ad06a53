{{/*
Named templates of the vldm chart. Every name starts with "vldm." so a parent chart's helpers cannot
collide with them.
*/}}

{{/*
vldm.name: the chart name, or nameOverride. Truncated to 63 characters (a DNS label).
*/}}
{{- define "vldm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
vldm.fullname: the prefix of every resource name: fullnameOverride, else "<release>-<name>", or just
the release name when it already contains the chart name. At most 38 characters, so that
"<fullname>-<pool>" (pool names are at most 24) stays a DNS label.
*/}}
{{- define "vldm.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 38 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 38 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 38 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
vldm.chart: "<chart>-<version>" for the helm.sh/chart label.
*/}}
{{- define "vldm.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
vldm.selectorLabels: the labels that select a component's pods. Takes (dict "root" $ "component" "worker"
"pool" "<pool>"); "pool" is optional. These never change after install (Deployment selectors are immutable).
*/}}
{{- define "vldm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vldm.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- if .pool }}
vldm.dev/pool: {{ .pool }}
{{- end }}
{{- end -}}

{{/*
vldm.labels: the recommended app.kubernetes.io labels plus the selector labels. Same argument as
vldm.selectorLabels.
*/}}
{{- define "vldm.labels" -}}
helm.sh/chart: {{ include "vldm.chart" .root }}
{{ include "vldm.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: vldm
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{/*
vldm.imageRef: "<repository>:<tag>", or "<repository>:<tag>@<digest>" when a digest is given (it pins the
image; the tag is then only informative). Takes (dict "repository" "tag" "digest"); every container the
chart renders gets its image through here, so each can be pinned by digest.
*/}}
{{- define "vldm.imageRef" -}}
{{- if .digest -}}
{{- printf "%s:%s@%s" .repository (toString .tag) .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository (toString .tag) -}}
{{- end -}}
{{- end -}}

{{/*
vldm.image: a vldm image reference. Takes (dict "root" $ "image" .Values.images.workerGpu); the registry
prefix is images.registry and the tag defaults to the chart's appVersion.
*/}}
{{- define "vldm.image" -}}
{{- $registry := .root.Values.images.registry | trimSuffix "/" -}}
{{- $repo := ternary .image.repository (printf "%s/%s" $registry .image.repository) (empty $registry) -}}
{{- include "vldm.imageRef" (dict "repository" $repo "tag" (.image.tag | default .root.Chart.AppVersion) "digest" .image.digest) -}}
{{- end -}}

{{/*
vldm.pool: one pool's settings as YAML: poolDefaults with the pool's own keys replacing them key by key,
plus "name". Takes (dict "root" $ "name" "<pool>" "pool" <values of the pool>). Use with fromYaml.
Keys are replaced whole on purpose: sprig's merge treats false and 0 as unset, which would turn a pool's
`spot: false` or `minReplicas: 0` into the default's value.
*/}}
{{- define "vldm.pool" -}}
{{- $out := dict -}}
{{- range $k, $v := .root.Values.poolDefaults -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- range $k, $v := (.pool | default dict) -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- $_ := set $out "name" .name -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
vldm.enabledPools: the enabled pools, merged with poolDefaults, as a YAML map from pool name to
settings. Use with fromYaml.
*/}}
{{- define "vldm.enabledPools" -}}
{{- $root := . -}}
{{- $out := dict -}}
{{- range $name, $p := .Values.pools -}}
{{- $pool := include "vldm.pool" (dict "root" $root "name" $name "pool" $p) | fromYaml -}}
{{- if $pool.enabled -}}
{{- $_ := set $out $name $pool -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
vldm.poolDeploymentName: the Deployment of a pool, "<fullname>-<pool>". Takes (dict "root" $ "name" "<pool>").
*/}}
{{- define "vldm.poolDeploymentName" -}}
{{- printf "%s-%s" (include "vldm.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
vldm.poolNeedsPack: "true" when a pool serves a queue whose activities read the model pack (everything
but orchestration: media's prepare stage checks the pack too). Takes a pool (from vldm.pool).
*/}}
{{- define "vldm.poolNeedsPack" -}}
{{- $needs := false -}}
{{- range .queues -}}
{{- if ne . "orchestration" -}}{{- $needs = true -}}{{- end -}}
{{- end -}}
{{- $needs -}}
{{- end -}}

{{/*
vldm.workerServiceAccountName: the ServiceAccount of the worker pods.
*/}}
{{- define "vldm.workerServiceAccountName" -}}
{{- if .Values.workers.serviceAccount.create -}}
{{- default (printf "%s-worker" (include "vldm.fullname" .)) .Values.workers.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.workers.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
vldm.scalerName: name of the scaler's Deployment, Role and default ServiceAccount.
*/}}
{{- define "vldm.scalerName" -}}
{{- printf "%s-scaler" (include "vldm.fullname" .) -}}
{{- end -}}

{{/*
vldm.scalerServiceAccountName: the scaler's ServiceAccount (the identity its Role is bound to).
*/}}
{{- define "vldm.scalerServiceAccountName" -}}
{{- default (include "vldm.scalerName" .) .Values.scaler.serviceAccount.name -}}
{{- end -}}

{{/*
vldm.scalerLeaseName: the coordination.k8s.io Lease the scaler replicas elect a leader with.
*/}}
{{- define "vldm.scalerLeaseName" -}}
{{- default (include "vldm.scalerName" .) .Values.scaler.leaseName -}}
{{- end -}}

{{/*
vldm.store: the artifact store URL, s3://<bucket>[/<prefix>] (VLDM_STORE).
*/}}
{{- define "vldm.store" -}}
{{- $prefix := .Values.store.s3.prefix | trimAll "/" -}}
{{- if $prefix -}}
{{- printf "s3://%s/%s" .Values.store.s3.bucket $prefix -}}
{{- else -}}
{{- printf "s3://%s" .Values.store.s3.bucket -}}
{{- end -}}
{{- end -}}

{{/*
vldm.natsSecretEnv: the NATS credentials (nats.auth) from their Secret, for every process that uses NATS.
*/}}
{{- define "vldm.natsSecretEnv" -}}
{{- with .Values.nats.auth }}
{{- if .existingSecret }}
{{- range $env, $key := dict "VLDM_NATS_USER" .userKey "VLDM_NATS_PASSWORD" .passwordKey "VLDM_NATS_TOKEN" .tokenKey }}
{{- if $key }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.nats.auth.existingSecret }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
vldm.s3SecretEnv: the artifact store's access key pair (store.s3.existingSecret), for the containers that
read or write S3: the workers and the pack init container.
*/}}
{{- define "vldm.s3SecretEnv" -}}
{{- with .Values.store.s3.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.store.s3.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.store.s3.secretAccessKeyKey }}
{{- end }}
{{- end -}}

{{/*
vldm.workerSecretEnv: what a worker container reads from Secrets: NATS and S3 credentials. Each other
container gets only its own part (the scaler NATS, the pack init container S3).
*/}}
{{- define "vldm.workerSecretEnv" -}}
{{ include "vldm.natsSecretEnv" . }}
{{ include "vldm.s3SecretEnv" . }}
{{- end -}}

{{/*
vldm.secretVolumeMounts / vldm.secretVolumes: the Temporal TLS and codec key Secrets, mounted read-only
under /etc/vldm, for every container that talks to Temporal.
*/}}
{{- define "vldm.secretVolumeMounts" -}}
{{- if .Values.temporal.tls.enabled }}
- name: temporal-tls
  mountPath: /etc/vldm/temporal-tls
  readOnly: true
{{- end }}
{{- if .Values.codec.enabled }}
- name: codec-key
  mountPath: /etc/vldm/codec
  readOnly: true
{{- end }}
{{- end -}}

{{- define "vldm.secretVolumes" -}}
{{- if .Values.temporal.tls.enabled }}
- name: temporal-tls
  secret:
    secretName: {{ .Values.temporal.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- if .Values.codec.enabled }}
- name: codec-key
  secret:
    secretName: {{ .Values.codec.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.codec.key }}
        path: {{ .Values.codec.key }}
{{- end }}
{{- end -}}

{{/*
vldm.httpProbe: an HTTP probe of a vldm container against its observability port (named "metrics"):
"/healthz" (liveness: event loop responsive, workers polling) or "/readyz" (readiness: models loaded,
workers running; never depends on Temporal being reachable). Takes the path. docs/observability.md.
*/}}
{{- define "vldm.httpProbe" -}}
httpGet:
  path: {{ . }}
  port: metrics
{{- end -}}

{{/*
vldm.metricsPort: the container port of every vldm pod's /metrics, /healthz and /readyz.
*/}}
{{- define "vldm.metricsPort" -}}
ports:
  - name: metrics
    containerPort: {{ .Values.observability.port }}
    protocol: TCP
{{- end -}}

{{/*
vldm.poolPack: a pool's model pack settings: the global modelPack with the pool's own modelPack keys
replacing them key by key (a pool may take the same pack from another source, e.g. a hostPath volume
pre-staged on its GPU nodes; the path stays the same, see validate.yaml). Takes (dict "root" $ "pool"
<pool>). Use with fromYaml.
*/}}
{{- define "vldm.poolPack" -}}
{{- $out := deepCopy .root.Values.modelPack -}}
{{- range $k, $v := (.pool.modelPack | default dict) -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
vldm.scalerOwnsReplicas: "true" when the scaler sets the pools' replica counts. Their Deployments are then
rendered without spec.replicas, so neither `helm upgrade` (its three-way merge) nor a GitOps re-apply
(Argo CD, Flux; client- or server-side apply) ever writes the field back: the chart renders the same
objects whatever the cluster holds (no `lookup`). docs/deploy.md, "Replica counts and GitOps".
*/}}
{{- define "vldm.scalerOwnsReplicas" -}}
{{- .Values.scaler.enabled | toString -}}
{{- end -}}

{{/*
vldm.port: the port of an address for a NetworkPolicy: "host:port", or a URL with an explicit port, else the
scheme's default. Takes (dict "address" "<address>" "default" <port>).
*/}}
{{- define "vldm.port" -}}
{{- $m := regexFind ":[0-9]+(/.*)?$" (.address | trimPrefix "nats://" | trimPrefix "tls://" | trimPrefix "http://" | trimPrefix "https://") -}}
{{- if $m -}}
{{- regexFind "[0-9]+" $m -}}
{{- else -}}
{{- .default -}}
{{- end -}}
{{- end -}}

{{/*
Worker Versioning: the Worker Deployment name (one per installation, shared by the releases of its
builds) and this release's build id (docs/deploy.md "Rolling out a new version").
*/}}
{{- define "vldm.workerDeploymentName" -}}
{{- .Values.versioning.deploymentName | default (default .Chart.Name .Values.nameOverride) -}}
{{- end -}}
{{- define "vldm.buildId" -}}
{{- .Values.versioning.buildId | default .Values.images.workerCpu.tag | default .Chart.AppVersion | toString -}}
{{- end -}}
