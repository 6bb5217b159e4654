{{/*
Names, labels and the switches shared by the templates.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "greenlight.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The base name of every resource: fullnameOverride, or <release>-<chart>, shortened. */}}
{{- define "greenlight.fullname" -}}
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

{{- define "greenlight.operatorName" -}}
{{- printf "%s-operator" (include "greenlight.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The API service's Release name, also the name of its active Service. */}}
{{- define "greenlight.apiName" -}}
{{- printf "%s-api" (include "greenlight.fullname" .) | trunc 52 | trimSuffix "-" }}
{{- end }}

{{- define "greenlight.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "greenlight.labels" -}}
helm.sh/chart: {{ include "greenlight.chart" . }}
app.kubernetes.io/name: {{ include "greenlight.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: greenlight
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of the operator pods (immutable in a Deployment: never add to them). */}}
{{- define "greenlight.operatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "greenlight.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels of the API pods (the operator adds its greenlight.dev/* labels). */}}
{{- define "greenlight.apiSelectorLabels" -}}
app.kubernetes.io/name: {{ include "greenlight.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: api
{{- end }}

{{- define "greenlight.operatorServiceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "greenlight.operatorName" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "greenlight.apiServiceAccountName" -}}
{{- if .Values.apiService.serviceAccount.create }}
{{- default (include "greenlight.apiName" .) .Values.apiService.serviceAccount.name }}
{{- else }}
{{- required "apiService.serviceAccount.name is required when apiService.serviceAccount.create is false" .Values.apiService.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
repository[:tag][@digest] of one component: (dict "image" .Values.x.image "name" "x" "short" "x" "root" .)
The repository has no default: this project publishes no image under a public name, so an
install names the registry its images were pushed to (the pipeline's $CI_REGISTRY_IMAGE/x).
*/}}
{{- define "greenlight.image" -}}
{{- $repository := required (printf "%s.image.repository is required: the registry the %s image was pushed to, e.g. --set %s.image.repository=registry.example.com/greenlight/%s (the pipeline pushes $CI_REGISTRY_IMAGE/%s)" .name .short .name .short .short) .image.repository -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end }}

{{/* "true" when the operator runs with peering. */}}
{{- define "greenlight.peeringActive" -}}
{{- if .Values.operator.peering.enabled -}}
true
{{- end -}}
{{- end }}

{{/* Refuses combinations the schema cannot express. Included once, by NOTES.txt. */}}
{{- define "greenlight.validate" -}}
{{- if and (gt (int .Values.operator.replicas) 1) (not .Values.operator.peering.enabled) }}
{{- fail "operator.replicas > 1 needs operator.peering.enabled: two standalone operators would act on the same Releases at once" }}
{{- end }}
{{- if and .Values.operator.peering.installCRDs (not .Values.operator.peering.enabled) }}
{{- fail "operator.peering.installCRDs needs operator.peering.enabled: Kopf's peering CRDs are cluster-wide and only a peered operator uses them" }}
{{- end }}
{{- if and .Values.apiService.enabled .Values.operator.watchNamespaces (not (has .Release.Namespace .Values.operator.watchNamespaces)) }}
{{- fail (printf "operator.watchNamespaces must include the release namespace %q while apiService.enabled: the API service is a Release the operator has to serve" .Release.Namespace) }}
{{- end }}
{{- end }}
