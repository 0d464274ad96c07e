{{/* The release's full name, also the prefix of every object's name. */}}
{{- define "crm.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "crm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: crm
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one service: (dict "root" $ "name" "sla-monitor") */}}
{{- define "crm.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* The settings of one service: the defaults overridden by its entry under services. */}}
{{- define "crm.service" -}}
{{- $svc := mergeOverwrite (deepCopy .root.Values.defaults) (deepCopy (index .root.Values.services .name)) -}}
{{- toYaml $svc -}}
{{- end -}}

{{/* SLA_MONITOR_ for sla-monitor: the prefix of the service's environment variables. */}}
{{- define "crm.envPrefix" -}}
{{- printf "%s_" (.name | replace "-" "_" | upper) -}}
{{- end -}}

{{- define "crm.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.repository .name (.root.Values.image.tag | default .root.Chart.AppVersion) -}}
{{- end -}}

{{- define "crm.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "crm.fullname" .)) -}}
{{- end -}}

{{- define "crm.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "crm.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* The non-secret settings of one service as NAME: value (its ConfigMap, and the
     migration Job's env, which runs before the release's ConfigMaps exist). */}}
{{- define "crm.config" -}}
{{- $root := .root -}}
{{- $prefix := include "crm.envPrefix" . -}}
{{- $svc := include "crm.service" . | fromYaml -}}
{{- $env := dict "KAFKA_BOOTSTRAP_SERVERS" $root.Values.kafka.bootstrapServers "CRM_TOPIC_NAMESPACE" $root.Values.kafka.topicNamespace -}}
{{- $_ := set $env (printf "%sKAFKA_CREATE_TOPICS" $prefix) ($root.Values.kafka.createTopics | toString) -}}
{{- $_ := set $env (printf "%sKAFKA_TOPIC_PARTITIONS" $prefix) ($root.Values.kafka.topicPartitions | toString) -}}
{{- $_ := set $env (printf "%sRUN_MIGRATIONS_ON_STARTUP" $prefix) (not $root.Values.migrations.enabled | toString) -}}
{{- /* Each replica enforces its share of the rate limits (docs/operations.md): as many shares
     as replicas, the autoscaler's minimum when it runs (above it the total grows). */ -}}
{{- $instances := ternary $svc.autoscaling.minReplicas $svc.replicas (and $svc.autoscaling $svc.autoscaling.enabled | default false) -}}
{{- $_ := set $env (printf "%sRATE_LIMIT_INSTANCES" $prefix) ($instances | toString) -}}
{{- range $key, $value := mergeOverwrite (deepCopy $root.Values.config) ($svc.config | default dict) -}}
{{- $_ := set $env (printf "%s%s" $prefix $key) ($value | toString) -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}

{{/* The secret settings of one service: its database URL and the administrator key (and
     obligation-tracker's keys that encrypt webhook signing secrets). */}}
{{- define "crm.secretEnv" -}}
- name: {{ include "crm.envPrefix" . }}DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "crm.secretName" .root }}
      key: {{ .name }}-database-url
- name: CRM_ADMIN_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "crm.secretName" .root }}
      key: admin-api-key
      optional: true
{{- if eq .name "obligation-tracker" }}
- name: OBLIGATION_TRACKER_WEBHOOK_SECRET_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "crm.secretName" .root }}
      key: webhook-secret-keys
{{- end }}
{{- end -}}
