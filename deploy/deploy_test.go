// Package deploy checks the deployment examples: the Helm values for the official OpenTelemetry Collector
// chart and the sidecar manifest parse, are wired as documented, and carry collector configurations that the
// built distribution accepts.
//
// With OTELCOL_STACKONE_BIN pointing at the built binary (`make test-e2e` sets it) every embedded
// configuration is run through `otelcol-stackone validate`; without it only the YAML and the wiring are
// checked and the validation is logged as skipped.
package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/stackone-otel/otelcol-stackone/internal/yamltest"
)

const binEnv = "OTELCOL_STACKONE_BIN"

// chartDefaultConfig is the `config:` block of the opentelemetry-collector chart's own values.yaml. Helm
// merges the user's `config:` into it (maps merged, lists replaced, null removes a key), so the collector
// runs the merge, not our block alone: a default component our values forget to remove (e.g. the jaeger
// receiver, which this distribution does not contain) would stop the collector from starting.
const chartDefaultConfig = `
exporters:
  debug: {}
extensions:
  health_check:
    endpoint: ${env:MY_POD_IP}:13133
processors:
  batch: {}
  memory_limiter:
    check_interval: 5s
    limit_percentage: 80
    spike_limit_percentage: 25
receivers:
  jaeger:
    protocols:
      grpc:
        endpoint: ${env:MY_POD_IP}:14250
      thrift_http:
        endpoint: ${env:MY_POD_IP}:14268
      thrift_compact:
        endpoint: ${env:MY_POD_IP}:6831
  otlp:
    protocols:
      grpc:
        endpoint: ${env:MY_POD_IP}:4317
      http:
        endpoint: ${env:MY_POD_IP}:4318
  prometheus:
    config:
      scrape_configs:
        - job_name: opentelemetry-collector
          scrape_interval: 10s
          static_configs:
            - targets:
                - ${env:MY_POD_IP}:8888
  zipkin:
    endpoint: ${env:MY_POD_IP}:9411
service:
  telemetry:
    metrics:
      address: ${env:MY_POD_IP}:8888
  extensions:
    - health_check
  pipelines:
    logs:
      exporters: [debug]
      processors: [memory_limiter, batch]
      receivers: [otlp]
    metrics:
      exporters: [debug]
      processors: [memory_limiter, batch]
      receivers: [otlp, prometheus]
    traces:
      exporters: [debug]
      processors: [memory_limiter, batch]
      receivers: [otlp, jaeger, zipkin]
`

func TestHelmValues(t *testing.T) {
	var values map[string]any
	readYAML(t, filepath.Join("helm", "values.yaml"), &values)

	want := map[string]any{
		"mode":                       "statefulset",
		"replicaCount":               1,
		"command.name":               "otelcol-stackone",
		"podSecurityContext.fsGroup": 65532,
	}
	for path, v := range want {
		if got := dig(values, path); got != v {
			t.Errorf("%s = %v, want %v", path, got, v)
		}
	}
	if dig(values, "image.tag") == nil {
		t.Error("image.tag is not set: the chart would use its own appVersion, which is not a tag of our image")
	}
	if dig(values, "resources.limits.memory") == nil || dig(values, "resources.limits.cpu") == nil {
		t.Error("resources.limits must set cpu and memory (memory also drives the chart's GOMEMLIMIT)")
	}
	if v, _ := dig(values, "autoscaling.enabled").(bool); v {
		t.Error("autoscaling must stay off: every replica would export every StackOne log")
	}

	// The API key comes from a Secret.
	key := findByName(t, asList(dig(values, "extraEnvs")), "STACKONE_API_KEY")
	if key == nil || dig(key, "valueFrom.secretKeyRef.name") == nil || dig(key, "valueFrom.secretKeyRef.key") == nil {
		t.Errorf("extraEnvs must set STACKONE_API_KEY from a secretKeyRef, got %v", key)
	}
	if key != nil && key["value"] != nil {
		t.Error("STACKONE_API_KEY must not be a literal value")
	}

	// The claim template is mounted where file_storage writes.
	claims := asList(dig(values, "statefulset.volumeClaimTemplates"))
	if len(claims) == 0 {
		t.Fatal("statefulset.volumeClaimTemplates is empty: the position would be lost with the pod")
	}
	claim, _ := dig(claims[0], "metadata.name").(string)
	mount := findByName(t, asList(dig(values, "extraVolumeMounts")), claim)
	if mount == nil {
		t.Fatalf("no extraVolumeMounts entry mounts the claim %q", claim)
	}

	cfg, ok := dig(values, "config").(map[string]any)
	if !ok {
		t.Fatal("values have no config: block")
	}
	var defaults map[string]any
	if err := yaml.Unmarshal([]byte(chartDefaultConfig), &defaults); err != nil {
		t.Fatal(err)
	}
	merged := stripNulls(helmMerge(defaults, cfg)).(map[string]any)

	if got := dig(merged, "service.pipelines.logs.receivers"); !slices.Equal(asStrings(got), []string{"stackone"}) {
		t.Errorf("logs pipeline receivers = %v, want [stackone]", got)
	}
	if slices.Contains(asStrings(dig(merged, "service.pipelines.logs.processors")), "batch") {
		t.Error("the batch processor must not be in the logs pipeline: it acknowledges records before export")
	}
	for _, p := range []string{"service.pipelines.metrics", "service.pipelines.traces", "receivers.jaeger", "receivers.zipkin", "receivers.prometheus"} {
		if dig(merged, p) != nil {
			t.Errorf("%s survives the merge with the chart defaults: set it to null", p)
		}
	}
	dir, _ := dig(merged, "extensions.file_storage.directory").(string)
	mountPath, _ := mount["mountPath"].(string)
	if dir != "${env:STACKONE_STORAGE_DIR:-"+mountPath+"}" && dir != mountPath {
		t.Errorf("file_storage.directory %q is not the claim's mountPath %q", dir, mountPath)
	}
	if env := findByName(t, asList(dig(values, "extraEnvs")), "STACKONE_STORAGE_DIR"); env != nil && env["value"] != mountPath {
		t.Errorf("STACKONE_STORAGE_DIR = %v, want the claim's mountPath %q", env["value"], mountPath)
	}

	validate(t, "helm-relay.yaml", marshal(t, merged))
}

// TestHelmValuesWebhook turns on the commented-out webhook as the values tell a user to: the block
// uncommented, the Service port enabled. The port must be the one the endpoint listens on, the secret must
// come from a Secret, and the merged configuration must start.
func TestHelmValuesWebhook(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("helm", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal([]byte(yamltest.UncommentBlock(t, string(raw), "webhook:")), &values); err != nil {
		t.Fatalf("values.yaml with the webhook uncommented: %v", err)
	}
	hook, ok := dig(values, "config.receivers.stackone.webhook").(map[string]any)
	if !ok || hook["enabled"] != true {
		t.Fatalf("the uncommented block does not enable config.receivers.stackone.webhook: %v", hook)
	}
	endpoint, _ := hook["endpoint"].(string)
	if !strings.HasPrefix(endpoint, "${env:MY_POD_IP}:") {
		t.Errorf("webhook.endpoint %q: listen on the pod IP, as the chart's own receivers do", endpoint)
	}
	port := endpoint[strings.LastIndexByte(endpoint, ':')+1:]
	if got := fmt.Sprint(dig(values, "ports.webhook.containerPort")); got != port {
		t.Errorf("ports.webhook.containerPort = %s, want the webhook's port %s", got, port)
	}
	if dig(values, "ports.webhook.servicePort") == nil {
		t.Error("ports.webhook has no servicePort: the ingress needs a Service port to route to")
	}
	if dig(values, "ports.webhook.enabled") != false {
		t.Error("ports.webhook must stay disabled while the webhook block is commented out")
	}
	secret := findByName(t, asList(dig(values, "extraEnvs")), "STACKONE_WEBHOOK_SECRET")
	if secret == nil || dig(secret, "valueFrom.secretKeyRef.name") == nil || dig(secret, "valueFrom.secretKeyRef.optional") != true {
		t.Errorf("extraEnvs must set STACKONE_WEBHOOK_SECRET from an optional secretKeyRef (the pod starts without it while the webhook is off), got %v", secret)
	}
	if !slices.Contains(asStrings(hook["secrets"]), "${env:STACKONE_WEBHOOK_SECRET}") {
		t.Errorf("webhook.secrets %v must read ${env:STACKONE_WEBHOOK_SECRET}", hook["secrets"])
	}
	var defaults map[string]any
	if err := yaml.Unmarshal([]byte(chartDefaultConfig), &defaults); err != nil {
		t.Fatal(err)
	}
	merged := stripNulls(helmMerge(defaults, dig(values, "config").(map[string]any))).(map[string]any)
	validate(t, "helm-relay-webhook.yaml", marshal(t, merged))
}

// TestHelmValuesHA checks the two-replica values: a deployment whose replicas find the Lease and the
// position ConfigMap by name, in their own namespace, with just the RBAC that needs, and a config that keeps
// no position or queue in a pod.
func TestHelmValuesHA(t *testing.T) {
	var values map[string]any
	readYAML(t, filepath.Join("helm", "values-ha.yaml"), &values)
	for path, want := range map[string]any{
		"mode":                                 "deployment",
		"replicaCount":                         2,
		"command.name":                         "otelcol-stackone",
		"podDisruptionBudget.enabled":          true,
		"podDisruptionBudget.minAvailable":     1,
		"rollout.rollingUpdate.maxUnavailable": 0,
		"serviceAccount.create":                true,
	} {
		if got := dig(values, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if v, _ := dig(values, "autoscaling.enabled").(bool); v {
		t.Error("autoscaling must stay off: one lease, and more standbys add nothing")
	}
	envs := asList(dig(values, "extraEnvs"))
	for name, field := range map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"} {
		if env := findByName(t, envs, name); env == nil || dig(env, "valueFrom.fieldRef.fieldPath") != field {
			t.Errorf("extraEnvs must set %s from the downward API (%s), got %v", name, field, env)
		}
	}
	if key := findByName(t, envs, "STACKONE_API_KEY"); key == nil || dig(key, "valueFrom.secretKeyRef.name") == nil {
		t.Errorf("extraEnvs must set STACKONE_API_KEY from a secretKeyRef, got %v", key)
	}

	cfg, _ := dig(values, "config").(map[string]any)
	var defaults map[string]any
	if err := yaml.Unmarshal([]byte(chartDefaultConfig), &defaults); err != nil {
		t.Fatal(err)
	}
	merged := stripNulls(helmMerge(defaults, cfg)).(map[string]any)
	le, _ := dig(merged, "receivers.stackone.leader_election").(map[string]any)
	if le == nil {
		t.Fatal("receivers.stackone.leader_election is not set")
	}
	if dig(merged, "receivers.stackone.storage") != nil || dig(merged, "extensions.file_storage") != nil {
		t.Error("no storage extension in HA: a volume belongs to one pod, the position to every replica (the ConfigMap)")
	}
	if q := dig(merged, "exporters.otlp_http.sending_queue.storage"); q != nil {
		t.Errorf("the exporter's queue is on %v: it would be lost with the pod while the next leader resumes past it", q)
	}
	if le["lease_namespace"] != "${env:POD_NAMESPACE}" || le["auth_type"] != "serviceAccount" {
		t.Errorf("leader_election %v: want auth_type serviceAccount in the pod's namespace", le)
	}

	// The Role grants exactly what the election and the position need, on these names, and is bound to the
	// pods' service account.
	var role, binding map[string]any
	for _, m := range asList(dig(values, "extraManifests")) {
		switch m["kind"] {
		case "Role":
			role = m
		case "RoleBinding":
			binding = m
		}
	}
	if role == nil || binding == nil {
		t.Fatal("extraManifests need a Role and a RoleBinding")
	}
	granted := map[string]bool{}
	for _, r := range asList(role["rules"]) {
		names := asStrings(r["resourceNames"])
		for _, res := range asStrings(r["resources"]) {
			for _, verb := range asStrings(r["verbs"]) {
				if len(names) == 0 {
					granted[res+" "+verb+" *"] = true
				}
				for _, n := range names {
					granted[res+" "+verb+" "+n] = true
				}
			}
		}
	}
	for _, want := range []string{
		"leases create *", "leases get " + le["lease_name"].(string), "leases update " + le["lease_name"].(string),
		"configmaps create *", "configmaps get " + le["position_configmap"].(string), "configmaps update " + le["position_configmap"].(string),
	} {
		if !granted[want] {
			t.Errorf("the Role does not grant %q (grants %v)", want, keys(granted))
		}
	}
	if dig(binding, "roleRef.name") != dig(role, "metadata.name") {
		t.Errorf("the RoleBinding binds %v, not the Role %v", dig(binding, "roleRef.name"), dig(role, "metadata.name"))
	}
	subjects := asList(binding["subjects"])
	if len(subjects) != 1 || subjects[0]["name"] != dig(values, "serviceAccount.name") {
		t.Errorf("the RoleBinding's subject %v is not the pods' service account %v", subjects, dig(values, "serviceAccount.name"))
	}

	validate(t, "helm-ha-relay.yaml", marshal(t, merged))
}

// TestImageReference: the Helm values and the sidecar manifest run the image `make image` builds and pushes, the
// repository and tag the Makefile names (mk/dist.mk); the tag is the distribution's version (builder-config.yaml,
// what --version prints) and the Dockerfile's default version label; `make image` builds on the Dockerfile's
// default runtime base.
func TestImageReference(t *testing.T) {
	mk := readFile(t, filepath.Join("..", "mk", "dist.mk"))
	repo, tag := makeVar(t, mk, "IMAGE"), makeVar(t, mk, "IMAGE_TAG")

	var builder map[string]any
	readYAML(t, filepath.Join("..", "builder-config.yaml"), &builder)
	if v := fmt.Sprint(dig(builder, "dist.version")); v != tag {
		t.Errorf("IMAGE_TAG %s is not the distribution's version %s (builder-config.yaml dist.version)", tag, v)
	}
	dockerfile := readFile(t, filepath.Join("..", "Dockerfile"))
	if v := dockerArg(t, dockerfile, "VERSION"); v != tag {
		t.Errorf("the Dockerfile's ARG VERSION=%s is not IMAGE_TAG %s", v, tag)
	}
	if base, def := makeVar(t, readFile(t, filepath.Join("..", "mk", "image.mk")), "IMAGE_BASE"), dockerArg(t, dockerfile, "RUNTIME_BASE"); base != def {
		t.Errorf("mk/image.mk's IMAGE_BASE %s is not the Dockerfile's ARG RUNTIME_BASE=%s", base, def)
	}

	for _, file := range []string{"values.yaml", "values-ha.yaml"} {
		var values map[string]any
		readYAML(t, filepath.Join("helm", file), &values)
		if got := dig(values, "image.repository"); got != repo {
			t.Errorf("helm/%s image.repository = %v, want the Makefile's IMAGE %s", file, got, repo)
		}
		if got := dig(values, "image.tag"); got != tag {
			t.Errorf("helm/%s image.tag = %v, want the Makefile's IMAGE_TAG %q (a string: the chart would use its own appVersion without it)", file, got, tag)
		}
	}

	dec := yaml.NewDecoder(strings.NewReader(readFile(t, filepath.Join("kubernetes", "sidecar.yaml"))))
	found := false
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("sidecar.yaml: %v", err)
		}
		if doc["kind"] != "Deployment" {
			continue
		}
		if c := findByName(t, asList(dig(doc, "spec.template.spec.containers")), "otelcol-stackone"); c != nil {
			found = true
			if c["image"] != repo+":"+tag {
				t.Errorf("the sidecar runs %v, want the Makefile's %s:%s", c["image"], repo, tag)
			}
		}
	}
	if !found {
		t.Error("sidecar.yaml has no otelcol-stackone container")
	}
}

// makeVar is the value of a `NAME ?= value` or `NAME := value` line.
func makeVar(t *testing.T, text, name string) string {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 3 && fields[0] == name && (fields[1] == "?=" || fields[1] == ":=" || fields[1] == "=") {
			return fields[2]
		}
	}
	t.Fatalf("no %s ?= <value> line", name)
	return ""
}

// dockerArg is the default of `ARG NAME=value` in a Dockerfile.
func dockerArg(t *testing.T, text, name string) string {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "ARG "+name+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	t.Fatalf("the Dockerfile has no ARG %s=<default>", name)
	return ""
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSidecarManifest(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("kubernetes", "sidecar.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]map[string]any{}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("sidecar.yaml: %v", err)
		}
		if doc == nil {
			continue
		}
		kind, _ := doc["kind"].(string)
		docs[kind] = doc
	}
	cm, deploy := docs["ConfigMap"], docs["Deployment"]
	if cm == nil || deploy == nil {
		t.Fatalf("sidecar.yaml needs a ConfigMap and a Deployment, has %v", keys(docs))
	}

	spec, _ := dig(deploy, "spec.template.spec").(map[string]any)
	containers := asList(spec["containers"])
	if len(containers) < 2 {
		t.Fatalf("the pod needs the app container and the collector sidecar, has %d container(s)", len(containers))
	}
	collector := findByName(t, containers, "otelcol-stackone")
	if collector == nil {
		t.Fatal("no container named otelcol-stackone")
	}
	key := findByName(t, asList(collector["env"]), "STACKONE_API_KEY")
	if key == nil || dig(key, "valueFrom.secretKeyRef.name") == nil {
		t.Errorf("the sidecar must read STACKONE_API_KEY from a Secret, got %v", key)
	}

	// The config volume comes from this ConfigMap and holds the file the sidecar is started with.
	volumes := asList(spec["volumes"])
	cmName, _ := dig(cm, "metadata.name").(string)
	var cfgVolume, storageVolume string
	for _, v := range volumes {
		name, _ := v["name"].(string)
		if dig(v, "configMap.name") == cmName {
			cfgVolume = name
		}
		if _, ok := v["emptyDir"]; ok {
			storageVolume = name
		}
	}
	if cfgVolume == "" || storageVolume == "" {
		t.Fatalf("volumes need the ConfigMap %q and an emptyDir for storage: %v", cmName, volumes)
	}
	mounts := asList(collector["volumeMounts"])
	cfgMount, storageMount := findByName(t, mounts, cfgVolume), findByName(t, mounts, storageVolume)
	if cfgMount == nil || storageMount == nil {
		t.Fatalf("the sidecar must mount %q and %q: %v", cfgVolume, storageVolume, mounts)
	}
	data, _ := cm["data"].(map[string]any)
	var cfgKey, cfgText string
	for k, v := range data {
		cfgKey, cfgText = k, v.(string)
	}
	if len(data) != 1 {
		t.Fatalf("the ConfigMap should hold one collector config, has keys %v", keys(data))
	}
	wantArg := "--config=" + cfgMount["mountPath"].(string) + "/" + cfgKey
	if !slices.Contains(asStrings(collector["args"]), wantArg) {
		t.Errorf("sidecar args %v do not include %s", collector["args"], wantArg)
	}

	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(cfgText), &cfg); err != nil {
		t.Fatalf("ConfigMap %s: %v", cfgKey, err)
	}
	if dir := dig(cfg, "extensions.file_storage.directory"); dir != storageMount["mountPath"] {
		t.Errorf("file_storage.directory %v is not the emptyDir's mountPath %v", dir, storageMount["mountPath"])
	}
	validate(t, "sidecar-"+cfgKey, []byte(cfgText))
}

// TestRootConfigs validates the repository's own configurations with the built binary, config.example.yaml
// also with its commented-out webhook enabled.
func TestRootConfigs(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		uncomment  string
	}{
		{"config.example.yaml", "config.example.yaml", ""},
		{"config.example.yaml with the webhook", "config.example.yaml", "webhook:"},
		{"config.example.yaml with action steps", "config.example.yaml", "action_steps:"},
		{"config.demo.yaml", "config.demo.yaml", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg map[string]any
			b, err := os.ReadFile(filepath.Join("..", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if tc.uncomment != "" {
				b = []byte(yamltest.UncommentBlock(t, string(b), tc.uncomment))
			}
			if err := yaml.Unmarshal(b, &cfg); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if tc.uncomment == "webhook:" && dig(cfg, "receivers.stackone.webhook.enabled") != true {
				t.Fatalf("the uncommented block does not enable receivers.stackone.webhook")
			}
			if tc.uncomment == "action_steps:" && dig(cfg, "receivers.stackone.action_steps.enabled") != true {
				t.Fatalf("the uncommented block does not enable receivers.stackone.action_steps")
			}
			validate(t, tc.file, b)
		})
	}
}

// validate runs `otelcol-stackone validate` on a configuration, with dummy values for the variables it reads.
func validate(t *testing.T, name string, cfg []byte) {
	t.Helper()
	bin := os.Getenv(binEnv)
	if bin == "" {
		t.Logf("%s: YAML checked; `otelcol-stackone validate` skipped (set %s to the built binary, or run `make test-e2e`)", name, binEnv)
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "validate", "--config", path)
	cmd.Env = append(os.Environ(),
		"STACKONE_API_KEY=dummy-key",
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318",
		"MY_POD_IP=127.0.0.1",
		"STACKONE_WEBHOOK_SECRET=dummy-webhook-secret",
		"STACKONE_STORAGE_DIR="+filepath.Join(dir, "storage"),
	)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("otelcol-stackone validate %s: %v\n%s\nconfig:\n%s", name, err, out, cfg)
	}
}

// helmMerge overlays user values on chart defaults as Helm does: maps merge key by key, anything else
// (lists included) replaces, and a null removes the key.
func helmMerge(defaults, user map[string]any) map[string]any {
	out := make(map[string]any, len(defaults))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range user {
		switch uv := v.(type) {
		case nil:
			delete(out, k)
		case map[string]any:
			if dv, ok := out[k].(map[string]any); ok {
				out[k] = helmMerge(dv, uv)
			} else {
				out[k] = uv
			}
		default:
			out[k] = v
		}
	}
	return out
}

func stripNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if e != nil {
				out[k] = stripNulls(e)
			}
		}
		return out
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			out = append(out, stripNulls(e))
		}
		return out
	}
	return v
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dig follows a dotted path through nested maps; nil when any step is missing.
func dig(v any, path string) any {
	for len(path) > 0 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		key := path
		if i := bytes.IndexByte([]byte(path), '.'); i >= 0 {
			key, path = path[:i], path[i+1:]
		} else {
			path = ""
		}
		v = m[key]
	}
	return v
}

func asList(v any) []map[string]any {
	items, _ := v.([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func asStrings(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func findByName(t *testing.T, items []map[string]any, name string) map[string]any {
	t.Helper()
	for _, it := range items {
		if it["name"] == name {
			return it
		}
	}
	return nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestMetricsConfigs validates config.metrics.yaml (the per-account metric off and on) and the Loki and Datadog
// examples with the built binary.
func TestMetricsConfigs(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		env        map[string]string
	}{
		{"config.metrics.yaml", "config.metrics.yaml", nil},
		{"config.metrics.yaml by account", "config.metrics.yaml", map[string]string{"STACKONE_METRICS_BY_ACCOUNT": "true"}},
		{"examples/loki.yaml", "examples/loki.yaml", nil},
		{"examples/datadog.yaml", "examples/datadog.yaml", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var cfg map[string]any
			readYAML(t, filepath.Join("..", tc.path), &cfg)
			b, err := os.ReadFile(filepath.Join("..", tc.path))
			if err != nil {
				t.Fatal(err)
			}
			if got := dig(cfg, "receivers.stackone.api_key"); got != "${env:STACKONE_API_KEY}" {
				t.Errorf("api_key = %v, want ${env:STACKONE_API_KEY} like config.example.yaml", got)
			}
			if got := dig(cfg, "receivers.stackone.storage"); got != "file_storage" {
				t.Errorf("receivers.stackone.storage = %v, want file_storage", got)
			}
			if got := dig(cfg, "extensions.file_storage.directory"); got != "${env:STACKONE_STORAGE_DIR:-/var/lib/otelcol-stackone}" {
				t.Errorf("file_storage.directory = %v, want config.example.yaml's", got)
			}
			if slices.Contains(asStrings(dig(cfg, "service.pipelines.logs.processors")), "batch") {
				t.Error("the batch processor must not be in the logs pipeline: it acknowledges records before export")
			}
			validate(t, filepath.Base(tc.path), b)
		})
	}
}

// TestMetricsConfigShape pins what the guide's queries, the dashboard and the alert rules rely on in
// config.metrics.yaml.
func TestMetricsConfigShape(t *testing.T) {
	var cfg map[string]any
	readYAML(t, filepath.Join("..", "config.metrics.yaml"), &cfg)
	metrics := map[string]map[string]any{}
	for _, m := range asList(dig(cfg, "connectors.signal_to_metrics.logs")) {
		name, _ := m["name"].(string)
		metrics[name] = m
	}
	if want := []string{"stackone.account_requests", "stackone.action_runs", "stackone.action_tier2_score", "stackone.request_duration", "stackone.requests"}; !slices.Equal(keys(metrics), want) {
		t.Fatalf("signal_to_metrics logs metrics = %v, want %v", keys(metrics), want)
	}
	for name, m := range metrics {
		// The prometheus exporter appends a unit suffix (ms -> _milliseconds): the guide's names have none.
		if u, ok := m["unit"]; ok {
			t.Errorf("%s has unit %v: stackone_request_duration_bucket would get a unit suffix", name, u)
		}
		for _, a := range asList(m["attributes"]) {
			if a["key"] == "stackone.account_id" && name != "stackone.account_requests" {
				t.Errorf("%s is labelled by account_id: one series per account belongs in the opt-in metric only", name)
			}
		}
	}
	var buckets []float64
	for _, b := range dig(metrics["stackone.request_duration"], "histogram.buckets").([]any) {
		switch v := b.(type) {
		case int:
			buckets = append(buckets, float64(v))
		case float64:
			buckets = append(buckets, v)
		}
	}
	if !slices.IsSorted(buckets) || !slices.Contains(buckets, 2000) {
		t.Errorf("stackone.request_duration buckets %v: want ascending, with the guide's 2000 ms threshold as an edge", buckets)
	}
	cond := asStrings(metrics["stackone.account_requests"]["conditions"])
	if len(cond) != 1 || !strings.Contains(cond[0], "${env:STACKONE_METRICS_BY_ACCOUNT:-false}") {
		t.Errorf("stackone.account_requests conditions %v: want it off unless STACKONE_METRICS_BY_ACCOUNT=true", cond)
	}
	if got := asStrings(dig(cfg, "service.pipelines.logs.exporters")); !slices.Contains(got, "signal_to_metrics") || !slices.Contains(got, "otlp_http") {
		t.Errorf("logs pipeline exporters %v: want otlp_http and signal_to_metrics", got)
	}
	if got := asStrings(dig(cfg, "service.pipelines.metrics.exporters")); !slices.Equal(got, []string{"prometheus"}) {
		t.Errorf("metrics pipeline exporters %v, want [prometheus]", got)
	}

	// deploy/prometheus/prometheus.yaml scrapes the two ports config.metrics.yaml serves.
	var prom map[string]any
	readYAML(t, filepath.Join("prometheus", "prometheus.yaml"), &prom)
	var targets []string
	for _, job := range asList(prom["scrape_configs"]) {
		for _, sc := range asList(job["static_configs"]) {
			targets = append(targets, asStrings(sc["targets"])...)
		}
	}
	exporter, _ := dig(cfg, "exporters.prometheus.endpoint").(string)
	readers := asList(dig(cfg, "service.telemetry.metrics.readers"))
	if len(readers) != 1 {
		t.Fatalf("telemetry readers: %v", readers)
	}
	telemetry := fmt.Sprint(dig(readers[0], "pull.exporter.prometheus.port"))
	for _, port := range []string{exporter[strings.LastIndexByte(exporter, ':')+1:], telemetry} {
		if !slices.ContainsFunc(targets, func(s string) bool { return strings.HasSuffix(s, ":"+port) }) {
			t.Errorf("prometheus.yaml targets %v do not scrape port %s of config.metrics.yaml", targets, port)
		}
	}
}

// highRiskPanel counts the action runs Defender rated high or critical.
const highRiskPanel = "High and critical risk runs, last hour"

// TestGrafanaDashboard: importable (a Prometheus datasource variable, no hard-coded datasource uid, a current
// schema version) and holds the panels for the guide's request metrics, the agents' actions and the receiver's
// own health.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("grafana", "stackone-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("stackone-dashboard.json: %v", err)
	}
	if v, _ := dash["schemaVersion"].(float64); v < 39 {
		t.Errorf("schemaVersion %v: want a current one (39 or later)", dash["schemaVersion"])
	}
	vars := asList(dig(dash, "templating.list"))
	if len(vars) == 0 || vars[0]["type"] != "datasource" || vars[0]["query"] != "prometheus" || vars[0]["name"] != "datasource" {
		t.Errorf("the first template variable must be the Prometheus datasource variable `datasource`: %v", vars)
	}
	// Every datasource reference goes through the variable (Grafana's own annotation source aside).
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if ds, ok := x["datasource"].(map[string]any); ok && ds["uid"] != "${datasource}" && ds["uid"] != "-- Grafana --" {
				t.Errorf("%s: datasource %v is hard-coded: use {\"uid\": \"${datasource}\"}", path, ds)
			}
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("dashboard", dash)

	ids := map[float64]bool{}
	var titles []string
	for _, p := range asList(dash["panels"]) {
		id, _ := p["id"].(float64)
		if ids[id] {
			t.Errorf("panel id %v is used twice", id)
		}
		ids[id] = true
		if p["type"] == "row" {
			continue
		}
		title, _ := p["title"].(string)
		titles = append(titles, title)
		targets := asList(p["targets"])
		if len(targets) == 0 {
			t.Errorf("panel %q has no query", title)
		}
		for _, tg := range targets {
			if e, _ := tg["expr"].(string); strings.TrimSpace(e) == "" {
				t.Errorf("panel %q has an empty query", title)
			}
		}
		if d, _ := p["description"].(string); d == "" {
			t.Errorf("panel %q has no description", title)
		}
		// Defender has four levels: a panel about risky runs that looks at "high" alone misses the critical ones.
		for _, tg := range targets {
			if e, _ := tg["expr"].(string); strings.Contains(e, `risk_level="high"`) {
				t.Errorf("panel %q selects risk_level=\"high\" only: use risk_level=~\"high|critical\"", title)
			}
		}
		if title == highRiskPanel {
			expr, _ := targets[0]["expr"].(string)
			if !strings.Contains(expr, `stackone_action_runs_total{risk_level=~"high|critical"}`) || !strings.Contains(expr, "offset 1h") {
				t.Errorf("panel %q: %q must count the high and critical runs of the last hour, new series included", title, expr)
			}
			if steps := asList(dig(p, "fieldConfig.defaults.thresholds.steps")); len(steps) < 2 || steps[1]["value"] != 1.0 || steps[1]["color"] != "red" {
				t.Errorf("panel %q: one run must turn it red: thresholds %v", title, steps)
			}
		}
	}
	for _, want := range []string{"Error rate by provider", "Latency P50 / P95", "Request volume by service and provider",
		"Top failing accounts", "Action runs by risk level", "Lag by stream", "API errors by class", "Retries",
		"Records emitted", "Duplicates dropped", highRiskPanel} {
		if !slices.Contains(titles, want) {
			t.Errorf("no panel %q (panels: %v)", want, titles)
		}
	}
}

// TestAlertRules: every rule tells the on-call what to do, carries a severity, and is covered by
// stackone-alerts.test.yaml both firing and quiet; the guide's thresholds are the guide's.
func TestAlertRules(t *testing.T) {
	var rules, tests map[string]any
	readYAML(t, filepath.Join("prometheus", "stackone-alerts.yaml"), &rules)
	readYAML(t, filepath.Join("prometheus", "stackone-alerts.test.yaml"), &tests)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range asList(tests["tests"]) {
		for _, at := range asList(tc["alert_rule_test"]) {
			name, _ := at["alertname"].(string)
			if exp, _ := at["exp_alerts"].([]any); len(exp) > 0 {
				fires[name] = true
			} else {
				quiet[name] = true
			}
		}
	}
	exprs := map[string]string{}
	for _, g := range asList(rules["groups"]) {
		for _, r := range asList(g["rules"]) {
			name, _ := r["alert"].(string)
			exprs[name], _ = r["expr"].(string)
			if dig(r, "annotations.summary") == nil || dig(r, "annotations.description") == nil {
				t.Errorf("%s needs a summary and a description telling the on-call what to do", name)
			}
			if dig(r, "labels.severity") == nil {
				t.Errorf("%s has no severity label", name)
			}
			if !fires[name] || !quiet[name] {
				t.Errorf("%s: stackone-alerts.test.yaml must test it firing (%v) and quiet (%v)", name, fires[name], quiet[name])
			}
		}
	}
	if len(exprs) != 9 {
		t.Errorf("%d rules, want 9: %v", len(exprs), keys(exprs))
	}
	// Every high or critical run alerts, and a critical one pages.
	if e := exprs["StackOneActionRiskHigh"]; !strings.Contains(e, `stackone_action_runs_total{risk_level=~"high|critical"}`) || !strings.Contains(e, "unless") {
		t.Errorf("StackOneActionRiskHigh: expr %q must select high and critical runs and fire on a new series' first run", e)
	}
	for _, g := range asList(rules["groups"]) {
		for _, r := range asList(g["rules"]) {
			if r["alert"] == "StackOneActionRiskHigh" && !strings.Contains(fmt.Sprint(dig(r, "labels.severity")), `eq $labels.risk_level "critical" }}critical`) {
				t.Errorf("StackOneActionRiskHigh: severity %v must be critical for critical runs", dig(r, "labels.severity"))
			}
		}
	}
	for name, want := range map[string]string{
		"StackOneErrorRateHigh":         "> 0.05",
		"StackOneLatencyP95High":        "> 2000",
		"StackOneProviderErrorRateHigh": "> 0.10",
	} {
		if !strings.Contains(exprs[name], want) {
			t.Errorf("%s: expr %q lacks the guide's threshold %q", name, exprs[name], want)
		}
	}
}
