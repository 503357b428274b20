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

{{- define "kmr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- .Values.serviceAccount.name | default (include "kmr.fullname" .) }}
{{- else }}
{{- .Values.serviceAccount.name | default "default" }}
{{- end }}
{{- end }}

{{- /* Settings the runner would refuse at start, refused at render time
instead, with the value to change. */}}
{{- define "kmr.validate" -}}
{{- if ge (add (int .Values.shutdownTimeoutSeconds) (int .Values.agent.killGraceSeconds)) (int .Values.terminationGracePeriodSeconds) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed shutdownTimeoutSeconds (%d) + agent.killGraceSeconds (%d): the kubelet would SIGKILL the runner before it has drained its agents" (int .Values.terminationGracePeriodSeconds) (int .Values.shutdownTimeoutSeconds) (int .Values.agent.killGraceSeconds)) }}
{{- end }}
{{- if and .Values.ui.enabled (not (or .Values.ui.bearerTokenSecret.name .Values.ui.basicAuthSecret.name)) }}
{{- fail "ui.enabled serves the incidents page beyond loopback: set ui.bearerTokenSecret.name or ui.basicAuthSecret.name (the runner refuses to start without one)" }}
{{- end }}
{{- if and .Values.intake.enabled (not (or .Values.intake.bearerTokenSecret.name .Values.intake.basicAuth.username)) }}
{{- fail "intake.enabled: set intake.bearerTokenSecret.name, or intake.basicAuth.username with intake.basicAuth.passwordSecret.name (the intake refuses to run without a credential)" }}
{{- end }}
{{- if and .Values.intake.basicAuth.username (not .Values.intake.basicAuth.passwordSecret.name) }}
{{- fail "intake.basicAuth.username needs intake.basicAuth.passwordSecret.name" }}
{{- end }}
{{- if and (or .Values.ui.ingress.enabled .Values.ui.httpRoute.enabled) (not .Values.ui.enabled) }}
{{- fail "ui.ingress and ui.httpRoute expose the incidents page: set ui.enabled (with its credential) too" }}
{{- end }}
{{- if and .Values.sharding.enabled (or .Values.ui.ingress.enabled .Values.ui.httpRoute.enabled) }}
{{- fail "ui.ingress and ui.httpRoute need one runner: in sharded mode every shard serves only its own incidents (reach each through the headless Service)" }}
{{- end }}
{{- if and .Values.serviceMonitor.runnerClusterLabel .Values.serviceMonitor.honorLabels }}
{{- fail "serviceMonitor.runnerClusterLabel works through the clash honorLabels would resolve the other way: leave serviceMonitor.honorLabels false" }}
{{- end }}
{{- if and .Values.notifications.enabled (not (or .Values.notifications.secretName .Values.notifications.configMapName)) }}
{{- fail "notifications.enabled: set notifications.secretName or notifications.configMapName" }}
{{- end }}
{{- if and (eq .Values.agent.runtime "job") (not .Values.agent.job.podTemplate.image) }}
{{- fail "agent.runtime job: set agent.job.podTemplate.image (the image agents run in)" }}
{{- end }}
{{- if and .Values.notifications.secretName .Values.notifications.configMapName }}
{{- fail "notifications: set one of secretName and configMapName, not both" }}
{{- end }}
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
      serviceAccountName: {{ include "kmr.serviceAccountName" . }}
      # The runner calls no Kubernetes API; the token is there only for
      # agents granted read access by rbac.create.
      # With agent.runtime job the runner itself creates agent Jobs with it.
      automountServiceAccountToken: {{ or .Values.rbac.create (eq .Values.agent.runtime "job") }}
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
        {{- toYaml .Values.podSecurityContext | nindent 8 }}
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
            {{- if and .Values.sharding.enabled (eq .Values.agent.runtime "job") }}
            # Each shard has its own results channel: its agents report to
            # it by the shard's name on the headless Service.
            - name: AGENT_JOB_RESULTS_URL
              value: {{ printf "http://$(POD_NAME).%s-shards.%s.svc:%d" (include "kmr.fullname" .) .Release.Namespace (int .Values.agent.job.resultsPort) | quote }}
            {{- end }}
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
            {{- if .Values.ui.enabled }}
            - name: ui
              containerPort: {{ int .Values.ui.port }}
            {{- end }}
            {{- if .Values.intake.enabled }}
            - name: intake
              containerPort: {{ int .Values.intake.port }}
            {{- end }}
            {{- if eq .Values.agent.runtime "job" }}
            - name: agent-results
              containerPort: {{ int .Values.agent.job.resultsPort }}
            {{- end }}
          {{- with .Values.livenessProbe }}
          livenessProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .Values.readinessProbe }}
          readinessProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
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
            {{- if .Values.ui.enabled }}
            - name: ui-auth
              mountPath: /var/run/secrets/kubernetes-mcp-runner-ui
              readOnly: true
            {{- end }}
            {{- if .Values.intake.enabled }}
            - name: intake-auth
              mountPath: /var/run/secrets/kubernetes-mcp-runner-intake
              readOnly: true
            {{- end }}
            {{- if .Values.notifications.enabled }}
            - name: notifications
              mountPath: /etc/kubernetes-mcp-runner-notify
              readOnly: true
            {{- end }}
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
        {{- if .Values.ui.enabled }}
        # Not optional: a missing Secret keeps the pod from starting with
        # a clear event instead of a runner that exits 2.
        - name: ui-auth
          projected:
            defaultMode: 0440
            sources:
              {{- with .Values.ui.bearerTokenSecret.name }}
              - secret:
                  name: {{ . }}
                  items:
                    - key: {{ $.Values.ui.bearerTokenSecret.key }}
                      path: bearer-token
              {{- end }}
              {{- with .Values.ui.basicAuthSecret.name }}
              - secret:
                  name: {{ . }}
                  items:
                    - key: {{ $.Values.ui.basicAuthSecret.key }}
                      path: basic-auth
              {{- end }}
        {{- end }}
        {{- if .Values.intake.enabled }}
        - name: intake-auth
          projected:
            defaultMode: 0440
            sources:
              {{- with .Values.intake.bearerTokenSecret.name }}
              - secret:
                  name: {{ . }}
                  items:
                    - key: {{ $.Values.intake.bearerTokenSecret.key }}
                      path: bearer-token
              {{- end }}
              {{- with .Values.intake.basicAuth.passwordSecret.name }}
              - secret:
                  name: {{ . }}
                  items:
                    - key: {{ $.Values.intake.basicAuth.passwordSecret.key }}
                      path: basic-auth-password
              {{- end }}
        {{- end }}
        {{- if .Values.notifications.enabled }}
        - name: notifications
          {{- if .Values.notifications.secretName }}
          secret:
            secretName: {{ .Values.notifications.secretName }}
            defaultMode: 0440
          {{- else }}
          configMap:
            name: {{ .Values.notifications.configMapName }}
          {{- end }}
            items:
              - key: {{ .Values.notifications.key }}
                path: notify.yaml
        {{- end }}
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
      {{- $spread := ternary .Values.sharding.topologySpreadConstraints .Values.topologySpreadConstraints .Values.sharding.enabled }}
      {{- with $spread }}
      topologySpreadConstraints:
        {{- range . }}
        - {{- toYaml (merge (dict) . (dict "labelSelector" (dict "matchLabels" (include "kmr.selectorLabels" $ | fromYaml)))) | nindent 10 }}
        {{- end }}
      {{- end }}
{{- end }}

{{- /* The Job runtime (agent.runtime job): the namespace of agent Jobs, the
label that marks their pods as this release's agents (not the runner's
selector labels, so the runner's Services and NetworkPolicy never select an
agent), and the pod template file the runner reads. */}}
{{- define "kmr.jobRuntime" -}}
{{- eq .Values.agent.runtime "job" }}
{{- end }}

{{- define "kmr.agentNamespace" -}}
{{- .Values.agent.job.namespace | default .Release.Namespace }}
{{- end }}

{{- define "kmr.agentPodLabels" -}}
kubernetes-mcp-runner.io/agent-of: {{ include "kmr.fullname" . }}
app.kubernetes.io/component: agent
{{- end }}

{{- define "kmr.agentResultsURL" -}}
{{- printf "http://%s-agent-results.%s.svc:%d" (include "kmr.fullname" .) .Release.Namespace (int .Values.agent.job.resultsPort) }}
{{- end }}

{{- define "kmr.agentPodTemplate" -}}
{{- $p := .Values.agent.job.podTemplate -}}
metadata:
  labels:
    {{- include "kmr.agentPodLabels" . | nindent 4 }}
    {{- with $p.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $p.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with $p.serviceAccountName }}
  serviceAccountName: {{ . }}
  {{- end }}
  automountServiceAccountToken: {{ $p.automountServiceAccountToken }}
  enableServiceLinks: false
  {{- with $p.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with $p.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $p.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $p.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $p.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $p.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: agent
      image: {{ $p.image | quote }}
      imagePullPolicy: {{ $p.imagePullPolicy }}
      {{- with $p.env }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $p.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $p.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{- define "kmr.apiServerEgress" -}}
{{- with .Values.agent.job.networkPolicy.apiServer -}}
- to:
    {{- range .cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    {{- range .ports }}
    - protocol: TCP
      port: {{ int . }}
    {{- end }}
{{- end }}
{{- end }}
