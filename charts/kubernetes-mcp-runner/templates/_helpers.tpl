{{- define "kmr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kmr.fullname" -}}
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

{{- define "kmr.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kmr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kmr.labels" -}}
{{ include "kmr.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- /* The runner's pod template, indented for spec.template of the
Deployment and of the sharded StatefulSet. In the StatefulSet the state
volume is each replica's own claim from volumeClaimTemplates. */}}
{{- define "kmr.podTemplate" }}
    metadata:
      annotations:
        # Roll the pod when its configuration changes.
        checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "kmr.selectorLabels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      terminationGracePeriodSeconds: {{ int .Values.terminationGracePeriodSeconds }}
      # No shareProcessNamespace: the runner reaps agents' orphans itself.
      automountServiceAccountToken: false
      # Service links would inject METRICS_PORT=tcp://... for a Service
      # named "metrics", which the runner rejects (exit 2).
      enableServiceLinks: false
      {{- with .Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        fsGroup: 65532
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: runner
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          args:
            - --config=/etc/kubernetes-mcp-runner/runner.conf
          env:
            - name: SHUTDOWN_TIMEOUT_SECONDS
              value: {{ .Values.shutdownTimeoutSeconds | int | toString | quote }}
            - name: HOME
              value: /tmp
            {{- if .Values.sharding.enabled }}
            # Each replica runs the shard of its StatefulSet ordinal
            # (POD_NAME ends in -<ordinal>); all read the same clusters.
            - name: TOTAL_SHARDS
              value: {{ .Values.sharding.replicas | int | toString | quote }}
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            {{- end }}
            - name: {{ .Values.agent.apiKeySecret.envName }}
              valueFrom:
                secretKeyRef:
                  name: {{ .Values.agent.apiKeySecret.name | default (printf "%s-agent" (include "kmr.fullname" .)) }}
                  key: {{ .Values.agent.apiKeySecret.key }}
                  optional: true
            {{- with .Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- with .Values.extraEnvFrom }}
          envFrom:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          ports:
            - name: health
              containerPort: 8080
            - name: metrics
              containerPort: 9090
          livenessProbe:
            httpGet:
              path: /healthz
              port: health
            initialDelaySeconds: 10
            periodSeconds: 10
            timeoutSeconds: 2
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: health
            initialDelaySeconds: 5
            periodSeconds: 5
            timeoutSeconds: 2
            failureThreshold: 2
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop:
                - ALL
          volumeMounts:
            - name: config
              mountPath: /etc/kubernetes-mcp-runner
              readOnly: true
            - name: cluster-credentials
              mountPath: {{ .Values.clusterCredentials.mountPath }}
              readOnly: true
            - name: state
              mountPath: /var/lib/kubernetes-mcp-runner
            - name: tmp
              mountPath: /tmp
            {{- with .Values.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: config
          configMap:
            name: {{ include "kmr.fullname" . }}
        - name: cluster-credentials
          projected:
            defaultMode: 0440
            sources:
              - secret:
                  name: {{ .Values.clusterCredentials.secretName | default (printf "%s-clusters" (include "kmr.fullname" .)) }}
                  optional: true
              {{- range .Values.clusterCredentials.extraSecretNames }}
              - secret:
                  name: {{ . }}
                  optional: true
              {{- end }}
        {{- if not (and .Values.sharding.enabled .Values.persistence.enabled) }}
        - name: state
          {{- if .Values.persistence.enabled }}
          persistentVolumeClaim:
            claimName: {{ .Values.persistence.existingClaim | default (printf "%s-state" (include "kmr.fullname" .)) }}
          {{- else }}
          emptyDir: {}
          {{- end }}
        {{- end }}
        - name: tmp
          emptyDir: {}
        {{- with .Values.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
