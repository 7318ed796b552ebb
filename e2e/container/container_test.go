// Package container builds the repository's Dockerfile, runtime stage and all, and runs the image the way
// docs/deployment.md, the Helm values and the sidecar manifest run it: the shipped config, a volume for the
// state, the non-root user, ports reached from outside the container, a stop by SIGTERM.
//
// There is no Docker daemon to rely on: buildah builds the image and podman (with runc) runs it, as root, with
// their storage in a temporary directory. Registries may be unreachable, so the runtime stage is built on
// deploy/image/local-base (scratch, the host's CA certificates, distroless' users) instead of distroless, with the
// binary `make build` made (BINARY_STAGE=prebuilt): the Dockerfile's own runtime stage, not a copy of it.
//
// It needs the binary (OTELCOL_STACKONE_BIN, set by `make test-container` and `make test`) and buildah, podman and
// runc (`make container-tools` installs Debian's); without them it skips and says why.
package container

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stackone-otel/otelcol-stackone/e2e/internal/e2etest"
	"github.com/stackone-otel/otelcol-stackone/internal/stackonefake"
	"github.com/stackone-otel/otelcol-stackone/internal/yamltest"
)

const (
	// image and localBase live only in the test's own storage.
	image     = "localhost/otelcol-stackone:container-test"
	localBase = "localhost/otelcol-stackone-local-base:container-test"

	// nonroot is the user of distroless' :nonroot images, which the Dockerfile's USER, the Helm values' and
	// the sidecar's securityContext name.
	nonroot = 65532
	// stateDir is the image's VOLUME and STACKONE_STORAGE_DIR.
	stateDir = "/var/lib/otelcol-stackone"

	// stopGrace is the shortest grace period a documented way of running the image gives between SIGTERM and
	// SIGKILL: `docker stop`'s default (Kubernetes gives 30 s, the sidecar manifest sets 30 s). The collector
	// must have finished and saved its position by then, so the test stops containers with exactly this.
	stopGrace = 10

	// demoKey is the api_key config.demo.yaml sends.
	demoKey = "demo-key"
	// backfill request logs lie in config.demo.yaml's initial_lookback (1h), the newest a minute old: a
	// collector that lost its position would meet some of them in its live read before anything newer.
	backfill = 300
	// fresh request logs are added for the second container: the end of what it should export.
	fresh         = 20
	webhookSecret = "whsec_container_test_3c41"

	pollEvery    = 50 * time.Millisecond
	readyTimeout = 60 * time.Second // a started container answers on its ports or exports its first record
	dataTimeout  = 90 * time.Second // every record expected from a container is exported
	exitTimeout  = 30 * time.Second // the podman client returns once `podman stop` has
)

// requestIDLine is how the debug exporter (verbosity: detailed, config.demo.yaml) prints a record's request id.
var requestIDLine = regexp.MustCompile(`-> stackone\.request_id: Str\(([^)]*)\)`)

func TestImage(t *testing.T) {
	bin := e2etest.CollectorBinary(t, "test-container", "./e2e/container/")
	e := newEngine(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	e.buildLocalBase(root)
	e.buildImage(root, bin)
	cfg := e.inspectImage()
	t.Logf("image built in %s: %.1f MB uncompressed (%s)", time.Since(started).Round(100*time.Millisecond), float64(cfg.Size)/1e6, cfg.Architecture)

	t.Run("metadata", func(t *testing.T) { checkMetadata(t, cfg) })
	t.Run("version", func(t *testing.T) {
		began := time.Now()
		out := e.output("podman", "run", "--rm", image, "--version")
		t.Logf("podman run --version: %q in %s", strings.TrimSpace(out), time.Since(began).Round(time.Millisecond))
		want := "otelcol-stackone version " + cfg.Config.Labels["org.opencontainers.image.version"]
		if strings.TrimSpace(out) != want {
			t.Errorf("--version printed %q, want %q (the image's version label)", strings.TrimSpace(out), want)
		}
	})
	// The file the image's CMD names, read by the user the image runs as.
	t.Run("shipped config validates", func(t *testing.T) {
		args := append([]string{"run", "--rm", "-e", "STACKONE_API_KEY=dummy-key",
			"-e", "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318", image, "validate"}, cfg.Config.Cmd...)
		e.output("podman", args...)
	})
	t.Run("shipped config with the webhook", func(t *testing.T) { testShippedConfig(t, e, root) })
	t.Run("demo, stop and resume", func(t *testing.T) { testDemo(t, e, root) })
}

// testShippedConfig runs config.example.yaml with its webhook block enabled, mounted where the image's CMD reads
// its config (as the sidecar's ConfigMap is), in the container's own network namespace with the ports published
// as `docker run -p` publishes them, and without a volume: the image's VOLUME gives an anonymous one. The StackOne
// API and the OTLP backend are unreachable: health_check and the webhook answer regardless, and the webhook's
// event goes to the exporter's persistent queue, on that volume.
func testShippedConfig(t *testing.T, e *engine, root string) {
	raw, err := os.ReadFile(filepath.Join(root, "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(yamltest.UncommentBlock(t, string(raw), "webhook:")), 0o644); err != nil {
		t.Fatal(err)
	}
	healthPort, hookPort := freePort(t), freePort(t)
	c := e.start(t, "shipped",
		"-p", fmt.Sprintf("127.0.0.1:%d:13133", healthPort),
		"-p", fmt.Sprintf("127.0.0.1:%d:8090", hookPort),
		"-v", cfgPath+":/etc/otelcol-stackone/config.yaml:ro",
		"-e", "STACKONE_API_KEY=dummy-key",
		"-e", "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318",
		"-e", "STACKONE_WEBHOOK_SECRET="+webhookSecret,
		image)

	health := fmt.Sprintf("http://127.0.0.1:%d/", healthPort)
	c.waitFor(readyTimeout, health+" (health_check) to answer 200", func() bool { return get(health) == http.StatusOK })
	t.Logf("health_check answered %s after podman run", time.Since(c.started).Round(time.Millisecond))
	c.checkUser()

	hook := fmt.Sprintf("http://127.0.0.1:%d/stackone/webhooks", hookPort)
	c.waitFor(readyTimeout, hook+"/health to answer 200", func() bool { return get(hook+"/health") == http.StatusOK })
	event := stackonefake.WebhookEvent("account.created", 1, time.Now().Add(-time.Minute))
	if code := post(t, hook, event, stackonefake.SignWebhook(webhookSecret, event)); code != http.StatusOK {
		t.Errorf("a signed webhook event got %d, want 200 (accepted into the persistent queue on the volume)", code)
	}
	if code := post(t, hook, event, stackonefake.SignWebhook("whsec_not_ours", event)); code != http.StatusUnauthorized {
		t.Errorf("an event signed with another secret got %d, want 401: the secret must come from STACKONE_WEBHOOK_SECRET", code)
	}
	c.stop()
}

// testDemo runs config.demo.yaml against the in-process fake StackOne API. The container shares the host's
// network namespace: the receiver sends its key over plain HTTP only to a loopback address, so the fake must be on
// the container's loopback. Its state is a named volume, as the `docker run -v` of docs/deployment.md has it. The
// first container exports the backfill and is stopped by SIGTERM; a second one on the same volume must export
// what was added since, and nothing of the backfill again.
func testDemo(t *testing.T, e *engine, root string) {
	fake := stackonefake.New(stackonefake.Options{APIKey: demoKey})
	from := time.Now().Add(-50 * time.Minute)
	old := ids(fake.GenerateRequestLogs(backfill, from, 49*time.Minute/backfill, 7))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)

	volume := "otelcol-stackone-demo-state"
	run := func(name string) *container {
		return e.start(t, name, "--network", "host",
			"-v", volume+":"+stateDir,
			"-v", filepath.Join(root, "config.demo.yaml")+":/etc/otelcol-stackone/demo.yaml:ro",
			"-e", "STACKONE_DEMO_ENDPOINT="+srv.URL,
			"-e", "STACKONE_DEMO_WEBHOOK_ENDPOINT="+freeAddr(t),
			"-e", "STACKONE_DEMO_METRICS_PORT="+strconv.Itoa(freePort(t)),
			"-e", "STACKONE_DEMO_STORAGE_DIR="+stateDir,
			image, "--config=/etc/otelcol-stackone/demo.yaml")
	}

	first := run("demo-1")
	first.waitFor(readyTimeout, "the first record", func() bool { return first.records().total > 0 })
	t.Logf("start-up to first record: %s (podman run to the first record in the container's output)", time.Since(first.started).Round(time.Millisecond))
	first.checkUser()
	first.waitFor(dataTimeout, fmt.Sprintf("all %d backfilled request logs", backfill), func() bool { return first.records().has(old) == len(old) })
	t.Logf("the backfill of %d request logs exported %s after podman run", backfill, time.Since(first.started).Round(time.Millisecond))
	first.stop()
	if d := first.records().duplicates(); d > 0 {
		t.Errorf("the first container exported %d records twice", d)
	}
	checkVolume(t, e, volume)

	// Stamped after the first container stopped, so they are past anything it read: the second container's live
	// read meets them on its first poll, without waiting for a sweep.
	added := ids(fake.GenerateRequestLogs(fresh, time.Now(), 10*time.Millisecond, 8))
	second := run("demo-2")
	second.waitFor(dataTimeout, fmt.Sprintf("the %d request logs added since the first container stopped", fresh), func() bool { return second.records().has(added) == len(added) })
	// Stopped before counting: whatever it would still repeat within its pages in flight is in the output then.
	second.stop()
	rec := second.records()
	if n := rec.has(old); n > 0 {
		t.Errorf("the second container exported %d of the %d records the first had exported: it did not resume from the position on the volume", n, len(old))
	}
	if d := rec.duplicates(); d > 0 {
		t.Errorf("the second container exported %d records twice", d)
	}
}

// checkMetadata: what the runtime stage declares, which the sidecar manifest, the Helm values and users' `docker
// run` rely on.
func checkMetadata(t *testing.T, img imageInfo) {
	c := img.Config
	if c.User != fmt.Sprintf("%d:%d", nonroot, nonroot) {
		t.Errorf("USER %q, want %d:%d (the sidecar's runAsUser and the Helm values' fsGroup)", c.User, nonroot, nonroot)
	}
	for _, p := range []string{"13133/tcp", "8888/tcp", "8090/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("port %s is not exposed (exposed: %v)", p, c.ExposedPorts)
		}
	}
	if _, ok := c.Volumes[stateDir]; !ok {
		t.Errorf("%s is not a VOLUME (volumes: %v)", stateDir, c.Volumes)
	}
	if !slices.Contains(c.Env, "STACKONE_STORAGE_DIR="+stateDir) {
		t.Errorf("STACKONE_STORAGE_DIR is not %s: %v", stateDir, c.Env)
	}
	if !slices.Equal(c.Entrypoint, []string{"/otelcol-stackone"}) || !slices.Equal(c.Cmd, []string{"--config=/etc/otelcol-stackone/config.yaml"}) {
		t.Errorf("entrypoint %v, cmd %v: the Helm chart runs /otelcol-stackone (command.name), the sidecar passes --config=/etc/otelcol-stackone/config.yaml", c.Entrypoint, c.Cmd)
	}
	for _, l := range []string{"org.opencontainers.image.source", "org.opencontainers.image.version", "org.opencontainers.image.licenses"} {
		if c.Labels[l] == "" {
			t.Errorf("label %s is not set (labels: %v)", l, c.Labels)
		}
	}
}

// checkVolume: the state the collector saved is on the named volume, written by the non-root user.
func checkVolume(t *testing.T, e *engine, volume string) {
	t.Helper()
	dir := strings.TrimSpace(e.output("podman", "volume", "inspect", "--format", "{{.Mountpoint}}", volume))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, en := range entries {
		info, err := en.Info()
		if err != nil {
			t.Fatal(err)
		}
		st := info.Sys().(*syscall.Stat_t)
		files = append(files, fmt.Sprintf("%s (uid %d, %d bytes)", en.Name(), st.Uid, info.Size()))
		if info.Mode().IsRegular() && st.Uid != nonroot {
			t.Errorf("%s on the volume belongs to uid %d, want %d", en.Name(), st.Uid, nonroot)
		}
	}
	if len(entries) == 0 {
		t.Fatalf("the volume %s is empty after the first container: the position was not saved there", volume)
	}
	t.Logf("volume %s: %s", volume, strings.Join(files, ", "))
}

// engine is buildah and podman on storage of their own in a temporary directory.
type engine struct {
	t   *testing.T
	dir string
	env []string
}

func newEngine(t *testing.T) *engine {
	t.Helper()
	for _, tool := range []string{"buildah", "podman", "runc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: this test builds the image with buildah and runs it with podman and runc; install them (Debian: apt-get install buildah podman runc, or `make container-tools` as root)", tool)
		}
	}
	if os.Geteuid() != 0 {
		// Rootless podman needs subordinate id ranges, and the files it leaves belong to them: the test could
		// not remove its own storage.
		t.Skip("this test runs buildah and podman as root, with their storage in a temporary directory: run it as root")
	}
	dir := t.TempDir()
	e := &engine{t: t, dir: dir}
	// vfs: overlay needs a kernel overlayfs usable on the backing filesystem, which nested or sandboxed machines
	// often lack; vfs copies every layer instead, which costs little for an image of a few layers.
	storage := fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", filepath.Join(dir, "root"), filepath.Join(dir, "run"))
	// runc rather than crun, which refuses hybrid cgroup hierarchies; no default ulimits, because raising
	// them fails where the container runs without the privilege to, and the collector needs none raised.
	// tmp_dir keeps podman's run-time state (locks, events) with the storage rather than in /run/libpod.
	containers := fmt.Sprintf("[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = \"runc\"\ntmp_dir = %q\n", filepath.Join(dir, "tmp"))
	for name, content := range map[string]string{"storage.conf": storage, "containers.conf": containers} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.env = []string{"CONTAINERS_STORAGE_CONF=" + filepath.Join(dir, "storage.conf"), "CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf")}
	// Before the temporary directory goes: containers hold mounts in it.
	t.Cleanup(func() {
		for _, args := range [][]string{{"podman", "rm", "--all", "--force", "--time", "0"}, {"podman", "volume", "rm", "--all", "--force"}, {"buildah", "rm", "--all"}} {
			if out, err := e.cmd(args[0], args[1:]...).CombinedOutput(); err != nil {
				t.Logf("cleanup: %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	})
	t.Logf("%s, %s, runc, vfs storage in %s", firstLine(e.output("buildah", "--version")), firstLine(e.output("podman", "--version")), dir)
	return e
}

func (e *engine) cmd(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Env = append(os.Environ(), e.env...)
	return c
}

// output runs a command to its end and returns its standard output; any failure fails the test.
func (e *engine) output(name string, args ...string) string {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	c := e.cmd(name, args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		e.t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String()
}

// buildLocalBase builds deploy/image/local-base with this machine's CA certificates, as `make image-local-base` does.
func (e *engine) buildLocalBase(root string) {
	t := e.t
	t.Helper()
	ctx := t.TempDir()
	src := filepath.Join(root, "deploy", "image", "local-base")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		copyFile(t, filepath.Join(src, en.Name()), filepath.Join(ctx, en.Name()))
	}
	bundle := ""
	// Where Go's crypto/x509 looks first on Debian and on Fedora.
	for _, p := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"} {
		if _, err := os.Stat(p); err == nil {
			bundle = p
			break
		}
	}
	if bundle == "" {
		t.Fatal("no CA bundle on this machine (/etc/ssl/certs/ca-certificates.crt): the local base needs one")
	}
	copyFile(t, bundle, filepath.Join(ctx, "ca-certificates.crt"))
	e.output("buildah", "bud", "--quiet", "--pull=never", "-t", localBase, ctx)
}

// buildImage builds the repository's Dockerfile, the repository as its context, with the binary under test in
// place of the build stage. The binary goes under _build/image/, the part of _build that .dockerignore lets
// through; no VERSION is passed, so the label is the Dockerfile's default, as in a plain `docker build .`.
func (e *engine) buildImage(root, bin string) {
	t := e.t
	t.Helper()
	stage := filepath.Join(root, "_build", "image")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(stage, "container-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	staged := filepath.Join(dir, "otelcol-stackone")
	if err := os.Link(bin, staged); err != nil {
		copyFile(t, bin, staged)
	}
	rel, err := filepath.Rel(root, staged)
	if err != nil {
		t.Fatal(err)
	}
	e.output("buildah", "bud", "--quiet", "--pull=never",
		"--build-arg", "RUNTIME_BASE="+localBase,
		"--build-arg", "BINARY_STAGE=prebuilt",
		"--build-arg", "BINARY="+rel,
		"-t", image, "-f", filepath.Join(root, "Dockerfile"), root)
}

type imageInfo struct {
	Size         int64
	Architecture string
	Config       struct {
		User         string
		ExposedPorts map[string]struct{}
		Env          []string
		Entrypoint   []string
		Cmd          []string
		Volumes      map[string]struct{}
		Labels       map[string]string
	}
}

func (e *engine) inspectImage() imageInfo {
	e.t.Helper()
	var infos []imageInfo
	if err := json.Unmarshal([]byte(e.output("podman", "image", "inspect", image)), &infos); err != nil || len(infos) != 1 {
		e.t.Fatalf("podman image inspect %s: %v (%d images)", image, err, len(infos))
	}
	return infos[0]
}

// container is one `podman run`, attached: the client exits when the container does, with its exit code.
type container struct {
	t       *testing.T
	e       *engine
	name    string
	log     string
	started time.Time
	done    chan struct{}
	err     error
	out     *output
}

func (e *engine) start(t *testing.T, name string, args ...string) *container {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	c := &container{t: t, e: e, name: name, log: logPath, done: make(chan struct{}), out: &output{path: logPath, count: map[string]int{}}}
	cmd := e.cmd("podman", append([]string{"run", "--name", name}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = cmd.Wait()
		_ = f.Close()
		close(c.done)
	}()
	t.Cleanup(func() {
		if !c.exited() {
			_ = e.cmd("podman", "rm", "--force", "--time", "0", name).Run()
			<-c.done
		}
		if t.Failed() {
			c.dumpLog()
		}
		_ = e.cmd("podman", "rm", "--force", name).Run()
	})
	return c
}

func (c *container) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// waitFor polls cond until it holds, failing at the deadline or as soon as the container has exited.
func (c *container) waitFor(timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if c.exited() {
			c.t.Fatalf("container %s exited (%v) while waiting for %s", c.name, c.err, what)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("container %s: timed out after %s waiting for %s", c.name, timeout, what)
		}
		time.Sleep(pollEvery)
	}
}

// stop is `docker stop` with its default grace: SIGTERM, and SIGKILL stopGrace seconds later. A collector that
// exits on its own by then exits 0; one killed exits 137.
func (c *container) stop() {
	c.t.Helper()
	if c.exited() {
		c.t.Fatalf("container %s exited (%v) before it was stopped", c.name, c.err)
	}
	began := time.Now()
	c.e.output("podman", "stop", "--time", strconv.Itoa(stopGrace), c.name)
	select {
	case <-c.done:
	case <-time.After(exitTimeout):
		c.t.Fatalf("podman run for %s did not return after podman stop", c.name)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(c.err, &exit) && exit.ExitCode() == 137:
		c.t.Fatalf("container %s did not exit within %d s of SIGTERM and was killed", c.name, stopGrace)
	case c.err != nil:
		c.t.Fatalf("container %s did not exit cleanly on SIGTERM: %v", c.name, c.err)
	}
	c.t.Logf("container %s exited 0, %s after SIGTERM", c.name, time.Since(began).Round(time.Millisecond))
}

// checkUser: the collector runs as the non-root user, whatever the image's metadata says.
func (c *container) checkUser() {
	c.t.Helper()
	pid := strings.TrimSpace(c.e.output("podman", "inspect", "--format", "{{.State.Pid}}", c.name))
	status, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		c.t.Fatal(err)
	}
	want := fmt.Sprintf("%d\t%d\t%d\t%d", nonroot, nonroot, nonroot, nonroot)
	for _, line := range strings.Split(string(status), "\n") {
		for _, field := range []string{"Uid:", "Gid:"} {
			if v, ok := strings.CutPrefix(line, field); ok && strings.TrimSpace(v) != want {
				c.t.Errorf("container %s: the collector (pid %s) runs with %s %s, want %d throughout", c.name, pid, field, strings.TrimSpace(v), nonroot)
			}
		}
	}
}

func (c *container) records() *output {
	c.t.Helper()
	c.out.read(c.t)
	return c.out
}

func (c *container) dumpLog() {
	b, err := os.ReadFile(c.log)
	if err != nil {
		return
	}
	if len(b) > 16<<10 {
		b = append([]byte("...\n"), b[len(b)-16<<10:]...)
	}
	c.t.Logf("container %s output:\n%s", c.name, b)
}

// output counts the request ids the debug exporter printed, reading what was appended since the last read.
type output struct {
	path    string
	offset  int64
	partial []byte
	total   int
	count   map[string]int
}

func (o *output) read(t *testing.T) {
	t.Helper()
	f, err := os.Open(o.path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(o.offset, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	o.offset += int64(len(b))
	o.partial = append(o.partial, b...)
	end := bytes.LastIndexByte(o.partial, '\n')
	if end < 0 {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(o.partial[:end+1]))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if m := requestIDLine.FindSubmatch(sc.Bytes()); m != nil {
			o.total++
			o.count[string(m[1])]++
		}
	}
	o.partial = append([]byte(nil), o.partial[end+1:]...)
}

// has is how many of ids were exported.
func (o *output) has(ids []string) int {
	n := 0
	for _, id := range ids {
		if o.count[id] > 0 {
			n++
		}
	}
	return n
}

func (o *output) duplicates() int { return o.total - len(o.count) }

func ids(entries []map[string]any) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e["request_id"].(string))
	}
	return out
}

func get(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func post(t *testing.T, u string, body []byte, signature string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(stackonefake.SignatureHeader, signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// freePort is a port the kernel just handed out and took back: free unless something grabs it meanwhile.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

func freeAddr(t *testing.T) string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, info.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
