{{/* Names: <release>-actionstream, shortened so "-shard-NN" and "-dashboards" still fit 63 chars. */}}
{{- define "actionstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "actionstream.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "actionstream.shardName" -}}
{{- printf "%s-shard-%d" (include "actionstream.fullname" .root) (int .shard) -}}
{{- end -}}

{{- define "actionstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "actionstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "actionstream.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "actionstream.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: actionstream
{{- end -}}

{{- define "actionstream.image" -}}
{{- $tag := .Values.image.tag | default (printf "%s-%s" .Chart.AppVersion (ternary "gpu" "cpu" .Values.gpu.enabled)) -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}

{{- define "actionstream.proxyImage" -}}
{{- $repo := .Values.proxy.image.repository | default .Values.image.repository -}}
{{- $tag := .Values.proxy.image.tag | default .Values.image.tag | default (printf "%s-cpu" .Chart.AppVersion) -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}

{{/*
The cameras, checked and split into shards: JSON {"shards": [[camera, ...], ...]}.
ceil(len(cameras) / camerasPerShard) shards, cameras in order.
*/}}
{{- define "actionstream.shards" -}}
{{- $cameras := .Values.cameras | default list -}}
{{- if not $cameras -}}
{{- fail "values: cameras is empty; list at least one camera (id plus source or sourceSecret), see values.yaml" -}}
{{- end -}}
{{- $per := int .Values.camerasPerShard -}}
{{- if lt $per 1 -}}
{{- fail (printf "values: camerasPerShard must be 1 or more, got %v" .Values.camerasPerShard) -}}
{{- end -}}
{{- $seen := dict -}}
{{- range $i, $cam := $cameras -}}
{{- if not $cam.id -}}
{{- fail (printf "values: cameras[%d] has no id" $i) -}}
{{- end -}}
{{- if hasKey $seen (toString $cam.id) -}}
{{- fail (printf "values: camera id %q is listed twice; ids must be unique" $cam.id) -}}
{{- end -}}
{{- $_ := set $seen (toString $cam.id) true -}}
{{- if and (hasKey $cam "source") (hasKey $cam "sourceSecret") -}}
{{- fail (printf "values: camera %q has both source and sourceSecret; give one" $cam.id) -}}
{{- end -}}
{{- if not (or (hasKey $cam "source") (hasKey $cam "sourceSecret")) -}}
{{- fail (printf "values: camera %q needs a source, or a sourceSecret {name, key} holding its URL" $cam.id) -}}
{{- end -}}
{{- if and (hasKey $cam "source") (regexMatch "^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:[^/@]*@" (toString $cam.source)) -}}
{{- fail (printf "values: camera %q has a password in its source URL; put the URL in a Secret and use sourceSecret: {name, key} instead (sources are written into a ConfigMap)" $cam.id) -}}
{{- end -}}
{{- if and (hasKey $cam "sourceSecret") (not (and $cam.sourceSecret.name $cam.sourceSecret.key)) -}}
{{- fail (printf "values: camera %q: sourceSecret needs name and key" $cam.id) -}}
{{- end -}}
{{- end -}}
{{- $n := len $cameras -}}
{{- $count := div (add $n $per -1) $per -}}
{{- $shards := list -}}
{{- range $i := until (int $count) -}}
{{- $end := min $n (mul (add1 $i) $per) -}}
{{- $shards = append $shards (slice $cameras (mul $i $per) $end) -}}
{{- end -}}
{{- toJson (dict "shards" $shards) -}}
{{- end -}}

{{/* The environment variable that replaces cameras[index].source of a shard's config. */}}
{{- define "actionstream.sourceEnv" -}}
{{- printf "ACTIONSTREAM_CAMERAS__%d__SOURCE" (int .) -}}
{{- end -}}

{{/*
A shard's config.yaml. Cameras with a sourceSecret get a placeholder source here; the pod's
environment (ACTIONSTREAM_CAMERAS__<index>__SOURCE, from the Secret) replaces it at start.
Arguments: dict "root" $ "cameras" [camera, ...].
*/}}
{{- define "actionstream.shardConfig" -}}
{{- $root := .root -}}
{{- $cameras := list -}}
{{- range $cam := .cameras -}}
{{- $c := merge (omit (deepCopy $cam) "sourceSecret") (deepCopy ($root.Values.cameraDefaults | default dict)) -}}
{{- if hasKey $cam "sourceSecret" -}}
{{- $_ := set $c "source" (printf "from-secret:%s/%s" $cam.sourceSecret.name $cam.sourceSecret.key) -}}
{{- end -}}
{{- $cameras = append $cameras $c -}}
{{- end -}}
{{- $config := deepCopy ($root.Values.config | default dict) -}}
{{- $pose := get $config "pose" | default dict -}}
{{- if not (hasKey $pose "device") -}}
{{- $_ := set $pose "device" (ternary "cuda" "cpu" $root.Values.gpu.enabled) -}}
{{- end -}}
{{- $_ := set $config "pose" $pose -}}
{{- $zmq := get $config "zmq" | default dict -}}
{{- $_ := set $zmq "bind" (printf "tcp://0.0.0.0:%d" (int $root.Values.ports.zmq)) -}}
{{- $_ := set $config "zmq" $zmq -}}
{{- $_ := set $config "http" (dict "host" "0.0.0.0" "port" (int $root.Values.ports.http)) -}}
{{- $_ := set $config "cameras" $cameras -}}
{{- toYaml $config -}}
{{- end -}}

{{/* The Secret with http-token and server.key_secret: the user's, or the one the chart makes. */}}
{{- define "actionstream.authSecret" -}}
{{- .Values.auth.existingSecret | default (printf "%s-auth" (include "actionstream.fullname" .)) -}}
{{- end -}}

{{/* The subscribers' CURVE public keys, comma-separated, each checked. */}}
{{- define "actionstream.clientKeys" -}}
{{- range $key := .Values.auth.clientKeys -}}
{{- if not (regexMatch "^[0-9a-zA-Z.:+=^!/*?&<>()\\[\\]{}@%$#-]{40}$" $key) -}}
{{- fail (printf "values: auth.clientKeys: %q is not a Z85 CURVE public key (40 characters: `actionstream keys DIR --client NAME` writes DIR/NAME.key)" $key) -}}
{{- end -}}
{{- end -}}
{{- join "," .Values.auth.clientKeys -}}
{{- end -}}
