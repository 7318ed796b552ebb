// Package kubefake is a fake Kubernetes API server holding just what leader election and a position kept in a
// ConfigMap need: coordination.k8s.io/v1 Leases and v1 ConfigMaps, read, created, updated and deleted by name,
// with the API server's optimistic concurrency. Every write bumps the object's resourceVersion; an update that
// carries an older one is refused with 409 Conflict, a create of an existing name with 409 AlreadyExists, a read
// of a missing one with 404, and a ConfigMap over 1 MiB with 422, all as metav1.Status bodies that client-go
// turns into its typed errors.
//
// It records every call with the bearer token that sent it, so a test running several clients (one kubeconfig
// each) can tell which one called when.
package kubefake

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxConfigMapBytes is the API server's limit on a ConfigMap's data and binaryData values together.
const MaxConfigMapBytes = 1 << 20

// maxBody bounds an uploaded object; the real API server's limit is about 3 MiB.
const maxBody = 3 << 20

// The server decodes and encodes with apimachinery's own codecs, so it speaks what client-go sends:
// protobuf by default, JSON when asked.
var (
	scheme = runtime.NewScheme()
	codecs = serializer.NewCodecFactory(scheme)
)

func init() {
	if err := errors.Join(corev1.AddToScheme(scheme), coordinationv1.AddToScheme(scheme)); err != nil {
		panic(err)
	}
}

// resource is one kind of object the server holds, by the URL prefix client-go uses for it.
type resource struct {
	prefix string // e.g. /apis/coordination.k8s.io/v1/namespaces/
	plural string // e.g. leases
	gv     schema.GroupVersion
	new    func() runtime.Object
}

var resources = []resource{
	{prefix: "/apis/coordination.k8s.io/v1/namespaces/", plural: "leases", gv: coordinationv1.SchemeGroupVersion, new: func() runtime.Object { return &coordinationv1.Lease{} }},
	{prefix: "/api/v1/namespaces/", plural: "configmaps", gv: corev1.SchemeGroupVersion, new: func() runtime.Object { return &corev1.ConfigMap{} }},
}

func (r resource) groupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.gv.Group, Resource: r.plural}
}

// Call is one request the server received.
type Call struct {
	At        time.Time
	Token     string // the bearer token, "" without one
	Method    string
	Resource  string // leases or configmaps; "" for a path the server does not serve
	Namespace string
	Name      string
	Status    int
}

type key struct{ resource, namespace, name string }

// Server is an http.Handler; safe for concurrent use.
type Server struct {
	mu          sync.Mutex
	version     int64
	objects     map[key]runtime.Object
	calls       []Call
	unavailable bool
}

// New returns a server that holds nothing.
func New() *Server {
	return &Server{objects: map[key]runtime.Object{}}
}

// SetUnavailable makes every request fail with 503 until it is called with false: an API server that cannot
// be reached, seen from a client.
func (s *Server) SetUnavailable(down bool) {
	s.mu.Lock()
	s.unavailable = down
	s.mu.Unlock()
}

// Calls returns every call received so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Lease returns a copy of a stored Lease, or nil.
func (s *Server) Lease(namespace, name string) *coordinationv1.Lease {
	l, _ := s.object("leases", namespace, name).(*coordinationv1.Lease)
	return l
}

// ConfigMap returns a copy of a stored ConfigMap, or nil.
func (s *Server) ConfigMap(namespace, name string) *corev1.ConfigMap {
	cm, _ := s.object("configmaps", namespace, name).(*corev1.ConfigMap)
	return cm
}

func (s *Server) object(resource, namespace, name string) runtime.Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	if obj := s.objects[key{resource, namespace, name}]; obj != nil {
		return obj.DeepCopyObject()
	}
	return nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call := Call{At: time.Now(), Method: r.Method}
	if scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		call.Token = token
	}
	res, ns, name, routed := route(r.URL.Path)
	if routed {
		call.Resource, call.Namespace, call.Name = res.plural, ns, name
	}
	obj, code := s.serve(r, routed, res, ns, name, &call)
	call.Status = code
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	write(w, r, res, code, obj)
}

// serve answers one request with the object to send and its status code.
func (s *Server) serve(r *http.Request, routed bool, res resource, ns, name string, call *Call) (runtime.Object, int) {
	if !routed {
		return status(apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
	}
	gr := res.groupResource()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unavailable {
		return status(apierrors.NewServiceUnavailable("the API server is unavailable"))
	}
	k := key{res.plural, ns, name}
	switch {
	case r.Method == http.MethodGet && name != "":
		obj := s.objects[k]
		if obj == nil {
			return status(apierrors.NewNotFound(gr, name))
		}
		return obj.DeepCopyObject(), http.StatusOK
	case r.Method == http.MethodPost && name == "":
		obj, m, err := read(r, res)
		if err != nil {
			return status(err)
		}
		name = m.GetName()
		call.Name = name
		if name == "" {
			return status(apierrors.NewInvalid(schema.GroupKind{Group: res.gv.Group, Kind: kind(obj)}, "", field.ErrorList{field.Required(field.NewPath("metadata", "name"), "")}))
		}
		if err := s.validate(res, ns, obj, m); err != nil {
			return status(err)
		}
		k.name = name
		if s.objects[k] != nil {
			return status(apierrors.NewAlreadyExists(gr, name))
		}
		m.SetUID(types.UID("uid-" + strconv.FormatInt(s.version+1, 10)))
		m.SetCreationTimestamp(metav1.Now())
		s.store(k, obj, m)
		return obj.DeepCopyObject(), http.StatusCreated
	case r.Method == http.MethodPut && name != "":
		obj, m, err := read(r, res)
		if err != nil {
			return status(err)
		}
		if m.GetName() != name {
			return status(apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), name)))
		}
		old := s.objects[k]
		if old == nil {
			return status(apierrors.NewNotFound(gr, name))
		}
		oldMeta, _ := meta.Accessor(old)
		// An update without a resourceVersion is unconditional, as the API server allows for these kinds.
		if rv := m.GetResourceVersion(); rv != "" && rv != oldMeta.GetResourceVersion() {
			return status(apierrors.NewConflict(gr, name, errors.New("the object has been modified; please apply your changes to the latest version and try again")))
		}
		if err := s.validate(res, ns, obj, m); err != nil {
			return status(err)
		}
		m.SetUID(oldMeta.GetUID())
		m.SetCreationTimestamp(oldMeta.GetCreationTimestamp())
		s.store(k, obj, m)
		return obj.DeepCopyObject(), http.StatusOK
	case r.Method == http.MethodDelete && name != "":
		if s.objects[k] == nil {
			return status(apierrors.NewNotFound(gr, name))
		}
		delete(s.objects, k)
		return &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusOK}, http.StatusOK
	}
	return status(apierrors.NewMethodNotSupported(gr, r.Method))
}

// store saves obj under a new resourceVersion; s.mu must be held.
func (s *Server) store(k key, obj runtime.Object, m metav1.Object) {
	s.version++
	m.SetNamespace(k.namespace)
	m.SetResourceVersion(strconv.FormatInt(s.version, 10))
	s.objects[k] = obj
}

// validate refuses what the API server's validation would.
func (s *Server) validate(res resource, ns string, obj runtime.Object, m metav1.Object) error {
	if n := m.GetNamespace(); n != "" && n != ns {
		return apierrors.NewBadRequest(fmt.Sprintf("the namespace of the object (%s) does not match the namespace on the URL (%s)", n, ns))
	}
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return nil
	}
	size := 0
	for _, v := range cm.Data {
		size += len(v)
	}
	for _, v := range cm.BinaryData {
		size += len(v)
	}
	if size > MaxConfigMapBytes {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, cm.Name, field.ErrorList{field.TooLong(field.NewPath(""), "", MaxConfigMapBytes)})
	}
	return nil
}

func kind(obj runtime.Object) string {
	switch obj.(type) {
	case *corev1.ConfigMap:
		return "ConfigMap"
	case *coordinationv1.Lease:
		return "Lease"
	}
	return ""
}

func status(err error) (runtime.Object, int) {
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		se = apierrors.NewBadRequest(err.Error())
	}
	st := se.Status()
	return &st, int(st.Code)
}

// route splits /<prefix><namespace>/<plural>[/<name>].
func route(path string) (res resource, ns, name string, ok bool) {
	for _, res := range resources {
		rest, found := strings.CutPrefix(path, res.prefix)
		if !found {
			continue
		}
		parts := strings.Split(rest, "/")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] != res.plural {
			return resource{}, "", "", false
		}
		if len(parts) == 3 {
			if parts[2] == "" {
				return resource{}, "", "", false
			}
			name = parts[2]
		}
		return res, parts[0], name, true
	}
	return resource{}, "", "", false
}

// read decodes the request body (protobuf or JSON, by its Content-Type) into the route's kind.
func read(r *http.Request, res resource) (runtime.Object, metav1.Object, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	if len(b) > maxBody {
		return nil, nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("request body over %d bytes", maxBody))
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), mediaType)
	if !ok {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("unsupported Content-Type %q", r.Header.Get("Content-Type")))
	}
	into := res.new()
	obj, _, err := codecs.DecoderToVersion(info.Serializer, res.gv).Decode(b, nil, into)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("decoding the body: %v", err))
	}
	if kind(obj) != kind(into) {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("a %T was sent to %s", obj, res.plural))
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	return obj, m, nil
}

// write encodes obj in the first media type the client accepts that the server speaks (JSON otherwise).
func write(w http.ResponseWriter, r *http.Request, res resource, code int, obj runtime.Object) {
	info, _ := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	for _, accept := range strings.Split(r.Header.Get("Accept"), ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(accept))
		if err != nil {
			continue
		}
		if i, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), mediaType); ok {
			info = i
			break
		}
	}
	gv := res.gv
	if _, ok := obj.(*metav1.Status); ok {
		gv = schema.GroupVersion{Version: "v1"}
	}
	var buf strings.Builder
	if err := codecs.EncoderForVersion(info.Serializer, gv).Encode(obj, &buf); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", info.MediaType)
	w.WriteHeader(code)
	_, _ = io.WriteString(w, buf.String())
}

// WriteKubeconfig writes a kubeconfig for a client of srv (an httptest TLS server serving a Server) that
// trusts its certificate, authenticates with token and whose context's namespace is namespace: what
// auth_type kubeConfig reads through KUBECONFIG. client-go sends credentials over TLS only.
func WriteKubeconfig(path string, srv *httptest.Server, token, namespace string) error {
	if srv.Certificate() == nil {
		return errors.New("kubefake: start the server with httptest.NewTLSServer: client-go sends no token over plain http")
	}
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	cfg := map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"current-context": "fake",
		"clusters": []any{map[string]any{"name": "fake", "cluster": map[string]any{
			"server": srv.URL, "certificate-authority-data": base64.StdEncoding.EncodeToString(ca),
		}}},
		"users": []any{map[string]any{"name": "fake", "user": map[string]any{"token": token}}},
		"contexts": []any{map[string]any{"name": "fake", "context": map[string]any{
			"cluster": "fake", "user": "fake", "namespace": namespace,
		}}},
	}
	// JSON is YAML: clientcmd reads either.
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}
