{{/* Names, labels and the pieces every sluice pod shares. */}}

{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name; other names add a suffix to it, so it stays short. */}}
{{- define "sluice.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sluice.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sluice.labels" -}}
helm.sh/chart: {{ include "sluice.chart" . }}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: name the ServiceAccount to use when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sluice.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The chart's own Secret (values-created secrets), the ConfigMap, the worker names. */}}
{{- define "sluice.secretName" -}}
{{- include "sluice.fullname" . }}
{{- end }}

{{- define "sluice.configMapName" -}}
{{- printf "%s-config" (include "sluice.fullname" .) }}
{{- end }}

{{- define "sluice.postgresqlName" -}}
{{- printf "%s-postgresql" (include "sluice.fullname" .) }}
{{- end }}

{{- define "sluice.workersServiceName" -}}
{{- printf "%s-workers" (include "sluice.fullname" .) }}
{{- end }}

{{/* The URL workers reach sluice serve at. */}}
{{- define "sluice.serveEndpoint" -}}
{{- printf "http://%s.%s.svc:%d" (include "sluice.fullname" .) .Release.Namespace (int .Values.serve.service.port) }}
{{- end }}

{{/* Seconds Kubernetes waits after SIGTERM before it kills sluice serve. */}}
{{- define "sluice.serveTerminationGrace" -}}
{{- $grace := .Values.serve.shutdownGraceSeconds | float64 }}
{{- $tgp := .Values.serve.terminationGracePeriodSeconds | int64 }}
{{- if eq $tgp 0 }}
{{- add (ceil $grace | int64) 5 }}
{{- else }}
{{- $tgp }}
{{- end }}
{{- end }}

{{/*
Checks of combinations the schema cannot express. Included by the serve Deployment, which
every release renders, so a bad combination fails the whole install.
*/}}
{{- define "sluice.validate" -}}
{{- $store := .Values.store }}
{{- if eq $store.type "embedded" }}
{{- if gt (int .Values.serve.replicas) 1 }}
{{- fail (printf "serve.replicas is %d, but the embedded store (store.type=embedded) is one SQLite file on one volume and allows one replica only: set serve.replicas=1, or use store.type=postgres to run several" (int .Values.serve.replicas)) }}
{{- end }}
{{- if .Values.postgresql.enabled }}
{{- fail "postgresql.enabled=true, but store.type is embedded: set store.type=postgres to keep executions in the bundled PostgreSQL" }}
{{- end }}
{{- else }}
{{- $sources := 0 }}
{{- if $store.postgres.existingSecret }}{{ $sources = add1 $sources }}{{ end }}
{{- if $store.postgres.url }}{{ $sources = add1 $sources }}{{ end }}
{{- if .Values.postgresql.enabled }}{{ $sources = add1 $sources }}{{ end }}
{{- if eq $sources 0 }}
{{- fail "store.type=postgres needs a database: name a Secret holding its URL in store.postgres.existingSecret (or give store.postgres.url), or set postgresql.enabled=true for the bundled single-node PostgreSQL" }}
{{- end }}
{{- if gt $sources 1 }}
{{- fail "store.type=postgres takes one database: set only one of store.postgres.existingSecret, store.postgres.url and postgresql.enabled" }}
{{- end }}
{{- end }}
{{- $tgp := .Values.serve.terminationGracePeriodSeconds | int64 }}
{{- if and (ne $tgp 0) (le ($tgp | float64) (.Values.serve.shutdownGraceSeconds | float64)) }}
{{- fail (printf "serve.terminationGracePeriodSeconds (%d) must exceed serve.shutdownGraceSeconds (%v), or Kubernetes kills sluice before its shutdown ends" $tgp .Values.serve.shutdownGraceSeconds) }}
{{- end }}
{{- if and .Values.auth.keys .Values.auth.existingSecret }}
{{- fail "auth: set auth.keys or auth.existingSecret, not both" }}
{{- end }}
{{- if and .Values.tokenSecret.value .Values.tokenSecret.existingSecret }}
{{- fail "tokenSecret: set tokenSecret.value or tokenSecret.existingSecret, not both" }}
{{- end }}
{{- if and .Values.webhookToken.value .Values.webhookToken.existingSecret }}
{{- fail "webhookToken: set webhookToken.value or webhookToken.existingSecret, not both" }}
{{- end }}
{{- $seen := dict }}
{{- range .Values.workers }}
{{- if hasKey $seen .name }}
{{- fail (printf "workers: two groups are named %q; each needs its own name" .name) }}
{{- end }}
{{- $_ := set $seen .name true }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.hosts) }}
{{- fail "ingress.enabled=true needs at least one entry in ingress.hosts" }}
{{- end }}
{{- end }}

{{/* Whether the chart's own Secret has anything to hold. */}}
{{- define "sluice.hasChartSecret" -}}
{{- if or (and (eq .Values.store.type "postgres") .Values.store.postgres.url) .Values.auth.keys .Values.tokenSecret.value .Values.webhookToken.value }}true{{ end }}
{{- end }}

{{/* The Secret and key of one setting: (list $ "name-of-existing" "key-of-existing" "key-in-chart-secret"). */}}
{{- define "sluice.secretRef" -}}
{{- $root := index . 0 }}
{{- $existing := index . 1 }}
{{- $existingKey := index . 2 }}
{{- $chartKey := index . 3 }}
secretKeyRef:
  name: {{ default (include "sluice.secretName" $root) $existing }}
  key: {{ ternary $existingKey $chartKey (ne $existing "") }}
{{- end }}

{{/* Environment both serve and the workers get: logs, traces, the pod's name. */}}
{{- define "sluice.commonEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: SLUICE_LOG
  value: {{ .Values.logs.level | quote }}
- name: SLUICE_LOG_FORMAT
  value: {{ .Values.logs.format | quote }}
{{- with .Values.tracing.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- if .Values.tracing.otlpEndpoint }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE)%s" (ternary (printf ",%s" .Values.tracing.resourceAttributes) "" (ne .Values.tracing.resourceAttributes "")) | quote }}
{{- end }}
{{- with .Values.config.aws.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{/* The config file's volume: the chart's ConfigMap, or the Secret configSecret names. */}}
{{- define "sluice.configVolume" -}}
- name: config
{{- if .Values.configSecret.name }}
  secret:
    secretName: {{ .Values.configSecret.name }}
    items:
      - key: {{ .Values.configSecret.key }}
        path: sluice.toml
{{- else }}
  configMap:
    name: {{ include "sluice.configMapName" . }}
{{- end }}
{{- end }}

{{/* Changes to the config or the chart's Secret roll the pods. */}}
{{- define "sluice.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}

{{/*
One worker group's settings: workerDefaults, overridden key by key by the group's entry
((list defaults entry), as YAML). `autoscaling` merges one level deeper, so an entry can turn it
on and keep the default bounds; every other map (resources, podDisruptionBudget, ...) is
replaced whole. Written out rather than with mergeOverwrite, which ignores false and 0.
*/}}
{{- define "sluice.workerSettings" -}}
{{- $defaults := index . 0 }}
{{- $entry := index . 1 }}
{{- $out := dict }}
{{- range $k, $v := $defaults }}
{{- if hasKey $entry $k }}
{{- $ev := index $entry $k }}
{{- if and (eq $k "autoscaling") (kindIs "map" $v) (kindIs "map" $ev) }}
{{- $m := deepCopy $v }}
{{- range $k2, $v2 := $ev }}
{{- $_ := set $m $k2 $v2 }}
{{- end }}
{{- $_ := set $out $k $m }}
{{- else }}
{{- $_ := set $out $k $ev }}
{{- end }}
{{- else }}
{{- $_ := set $out $k $v }}
{{- end }}
{{- end }}
{{- range $k, $v := $entry }}
{{- if not (hasKey $out $k) }}
{{- $_ := set $out $k $v }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{- define "sluice.workerName" -}}
{{- printf "%s-worker-%s" (include "sluice.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* A PodDisruptionBudget's limit: minAvailable when set, else maxUnavailable. */}}
{{- define "sluice.pdbLimit" -}}
{{- if and (hasKey . "minAvailable") (not (kindIs "invalid" .minAvailable)) -}}
minAvailable: {{ .minAvailable }}
{{- else -}}
maxUnavailable: {{ ternary .maxUnavailable 1 (and (hasKey . "maxUnavailable") (not (kindIs "invalid" .maxUnavailable))) }}
{{- end -}}
{{- end }}

{{/* Egress every sluice pod keeps when networkPolicy.egress limits the rest: DNS and the release. */}}
{{- define "sluice.baseEgress" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
- to:
    - podSelector:
        matchLabels:
          {{- include "sluice.selectorLabels" . | nindent 10 }}
{{- end }}
