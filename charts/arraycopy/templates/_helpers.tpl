{{/* Names and labels shared by every template (the `helm create` conventions). */}}

{{- define "arraycopy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "arraycopy.fullname" -}}
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

{{- define "arraycopy.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "arraycopy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "arraycopy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "arraycopy.labels" -}}
helm.sh/chart: {{ include "arraycopy.chart" . }}
{{ include "arraycopy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: arraycopy
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "arraycopy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "arraycopy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "arraycopy.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "arraycopy.claimName" -}}
{{- default (printf "%s-data" (include "arraycopy.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{/* The Secret the wsapi CopyClass names: an existing one, or the one this chart creates. */}}
{{- define "arraycopy.wsapiSecretName" -}}
{{- $w := .Values.copyClasses.wsapi }}
{{- default (printf "%s-%s-credentials" (include "arraycopy.fullname" .) $w.name | trunc 63 | trimSuffix "-") $w.credentials.existingSecret }}
{{- end }}
