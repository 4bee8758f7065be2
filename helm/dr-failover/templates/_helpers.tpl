{{/* The chart's name (nameOverride wins). */}}
{{- define "dr-failover.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the prefix of every object's name. */}}
{{- define "dr-failover.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one daemon's objects: (dict "ctx" $ "component" "exporter"). */}}
{{- define "dr-failover.componentName" -}}
{{- printf "%s-%s" (include "dr-failover.fullname" .ctx | trunc 54 | trimSuffix "-") .component }}
{{- end }}

{{- define "dr-failover.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "dr-failover.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dr-failover
{{- end }}

{{/* Labels of one daemon's objects: (dict "ctx" $ "component" "exporter"). */}}
{{- define "dr-failover.componentLabels" -}}
{{ include "dr-failover.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "dr-failover.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dr-failover.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "dr-failover.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dr-failover.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dr-failover.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Where the secrets are mounted, and where the config file is. */}}
{{- define "dr-failover.secretDir" -}}/etc/dr-failover/secrets{{- end }}
{{- define "dr-failover.configFile" -}}/etc/dr-failover/config.yml{{- end }}
{{- define "dr-failover.stateDir" -}}/var/lib/dr-actuator{{- end }}

{{/*
The secrets each daemon needs, by values key. A secret is needed when the
daemon uses it: the Linode token by both, AWS keys by the exporter when
config.dynamodb is set, the SSH files and both tokens by the actuator.
*/}}
{{- define "dr-failover.neededSecrets" -}}
{{- $needed := list }}
{{- if or .Values.actuator.enabled (and .Values.exporter.enabled (not (include "dr-failover.secretGiven" (dict "ctx" . "key" "exporterLinodeToken")))) }}
{{- $needed = append $needed "linodeToken" }}
{{- end }}
{{- if and .Values.exporter.enabled .Values.config.dynamodb }}
{{- $needed = concat $needed (list "awsAccessKeyId" "awsSecretAccessKey") }}
{{- end }}
{{- if .Values.actuator.enabled }}
{{- $needed = concat $needed (list "sshPrivateKey" "sshKnownHosts" "webhookToken" "apiToken") }}
{{- end }}
{{- toJson $needed }}
{{- end }}

{{/* Whether a secret (by values key) is given, as a value or an existing Secret. */}}
{{- define "dr-failover.secretGiven" -}}
{{- $s := index .ctx.Values.secrets .key }}
{{- if or $s.value $s.existingSecret }}true{{ end }}
{{- end }}

{{/* The Secret holding a secret (by values key). */}}
{{- define "dr-failover.secretName" -}}
{{- $s := index .ctx.Values.secrets .key }}
{{- default (include "dr-failover.fullname" .ctx) $s.existingSecret }}
{{- end }}

{{/* Fails the render, naming the values to set, when a needed secret is missing. */}}
{{- define "dr-failover.checkSecrets" -}}
{{- range $key := include "dr-failover.neededSecrets" . | fromJsonArray }}
{{- if not (include "dr-failover.secretGiven" (dict "ctx" $ "key" $key)) }}
{{- fail (printf "secrets.%s: set secrets.%s.value or secrets.%s.existingSecret (needed by the enabled daemons)" $key $key $key) }}
{{- end }}
{{- end }}
{{- range $key, $s := .Values.secrets }}
{{- if and $s.value $s.existingSecret }}
{{- fail (printf "secrets.%s: set value or existingSecret, not both" $key) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The key of each secret in the chart's own Secret, by values key: fixed
names, so that keys of existing Secrets never collide.
*/}}
{{- define "dr-failover.secretDataKey" -}}
{{- $keys := dict
      "linodeToken" "linode-token"
      "exporterLinodeToken" "exporter-linode-token"
      "awsAccessKeyId" "aws-access-key-id"
      "awsSecretAccessKey" "aws-secret-access-key"
      "awsSessionToken" "aws-session-token"
      "sshPrivateKey" "ssh-private-key"
      "sshKnownHosts" "known-hosts"
      "webhookToken" "webhook-token"
      "apiToken" "api-token" }}
{{- index $keys . | required (printf "no key for secret %s" .) }}
{{- end }}

{{/*
The file a secret (by values key) is mounted as: its data key, except the
exporters' own Linode token, which takes the place of the shared one.
*/}}
{{- define "dr-failover.secretFile" -}}
{{- if eq . "exporterLinodeToken" }}linode-token{{ else }}{{ include "dr-failover.secretDataKey" . }}{{ end }}
{{- end }}

{{/* The key of a secret (by values key) in the Secret that holds it. */}}
{{- define "dr-failover.secretKey" -}}
{{- $s := index .ctx.Values.secrets .key }}
{{- if $s.existingSecret }}{{ $s.key }}{{ else }}{{ include "dr-failover.secretDataKey" .key }}{{ end }}
{{- end }}

{{/*
A projected volume with the given secrets (list of values keys) that are
set, each as its file: (dict "ctx" $ "keys" (list ...)).
*/}}
{{- define "dr-failover.secretVolume" -}}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
    {{- range $key := .keys }}
    {{- if include "dr-failover.secretGiven" (dict "ctx" $.ctx "key" $key) }}
    {{- $ref := dict "ctx" $.ctx "key" $key }}
      - secret:
          name: {{ include "dr-failover.secretName" $ref }}
          items:
            - key: {{ include "dr-failover.secretKey" $ref }}
              path: {{ include "dr-failover.secretFile" $key }}
    {{- end }}
    {{- end }}
{{- end }}

{{/* The path a secret (by values key) is mounted at. */}}
{{- define "dr-failover.secretPath" -}}
{{- printf "%s/%s" (include "dr-failover.secretDir" .ctx) (include "dr-failover.secretFile" .key) }}
{{- end }}

{{/* The configuration file: config values plus the paths the chart owns. */}}
{{- define "dr-failover.config" -}}
{{- $config := deepCopy .Values.config }}
{{- $_ := set $config.dns "token_file" (include "dr-failover.secretPath" (dict "ctx" . "key" "linodeToken")) }}
{{- if .Values.actuator.enabled }}
{{- $actuator := default dict $config.actuator }}
{{- $_ := set $actuator "state_dir" (include "dr-failover.stateDir" .) }}
{{- $_ := set $actuator "webhook_token_file" (include "dr-failover.secretPath" (dict "ctx" . "key" "webhookToken")) }}
{{- $_ := set $actuator "api_token_file" (include "dr-failover.secretPath" (dict "ctx" . "key" "apiToken")) }}
{{- $ssh := default dict $actuator.ssh }}
{{- $_ := set $ssh "private_key_file" (include "dr-failover.secretPath" (dict "ctx" . "key" "sshPrivateKey")) }}
{{- $_ := set $ssh "known_hosts_file" (include "dr-failover.secretPath" (dict "ctx" . "key" "sshKnownHosts")) }}
{{- $_ := set $actuator "ssh" $ssh }}
{{- $_ := set $config "actuator" $actuator }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* Pod-level settings shared by both daemons. */}}
{{- define "dr-failover.podSpecCommon" -}}
serviceAccountName: {{ include "dr-failover.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
