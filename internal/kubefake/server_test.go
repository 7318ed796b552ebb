package kubefake

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// clients talks to a fresh fake through a kubeconfig, as the receiver's auth_type kubeConfig does.
func clients(t *testing.T, token string) (*Server, corev1client.ConfigMapInterface, coordinationv1client.LeaseInterface) {
	t.Helper()
	fake := New()
	srv := httptest.NewTLSServer(fake)
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, WriteKubeconfig(path, srv, token, "ns1"))
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: path}, &clientcmd.ConfigOverrides{})
	rc, err := loader.ClientConfig()
	require.NoError(t, err)
	ns, _, err := loader.Namespace()
	require.NoError(t, err)
	require.Equal(t, "ns1", ns)
	core, err := corev1client.NewForConfig(rc)
	require.NoError(t, err)
	coord, err := coordinationv1client.NewForConfig(rc)
	require.NoError(t, err)
	return fake, core.ConfigMaps(ns), coord.Leases(ns)
}

func TestConfigMapOptimisticConcurrency(t *testing.T) {
	fake, cms, _ := clients(t, "replica-a")
	ctx := context.Background()

	_, err := cms.Get(ctx, "pos", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "get of a missing object: %v", err)

	created, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pos"}, BinaryData: map[string][]byte{"k": {1, 2}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, created.ResourceVersion)
	require.NotEmpty(t, created.UID)
	require.Equal(t, "ns1", created.Namespace)

	_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pos"}}, metav1.CreateOptions{})
	require.True(t, apierrors.IsAlreadyExists(err), "second create: %v", err)

	// An update on the version read succeeds and bumps it; one on the old version conflicts.
	first := created.DeepCopy()
	first.BinaryData["k"] = []byte{3}
	updated, err := cms.Update(ctx, first, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.NotEqual(t, created.ResourceVersion, updated.ResourceVersion)
	require.Equal(t, created.UID, updated.UID)

	stale := created.DeepCopy()
	stale.BinaryData["k"] = []byte{4}
	_, err = cms.Update(ctx, stale, metav1.UpdateOptions{})
	require.True(t, apierrors.IsConflict(err), "update on a stale resourceVersion: %v", err)

	got, err := cms.Get(ctx, "pos", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, []byte{3}, got.BinaryData["k"], "the conflicting write changed nothing")
	require.Equal(t, updated.ResourceVersion, got.ResourceVersion)

	// Without a resourceVersion the update is unconditional.
	blind := got.DeepCopy()
	blind.ResourceVersion = ""
	blind.BinaryData["k"] = []byte{5}
	_, err = cms.Update(ctx, blind, metav1.UpdateOptions{})
	require.NoError(t, err)

	_, err = cms.Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "missing", ResourceVersion: "1"}}, metav1.UpdateOptions{})
	require.True(t, apierrors.IsNotFound(err), "update of a missing object: %v", err)

	require.NoError(t, cms.Delete(ctx, "pos", metav1.DeleteOptions{}))
	require.True(t, apierrors.IsNotFound(cms.Delete(ctx, "pos", metav1.DeleteOptions{})))
	require.Nil(t, fake.ConfigMap("ns1", "pos"))
}

func TestConfigMapSizeLimit(t *testing.T) {
	fake, cms, _ := clients(t, "a")
	ctx := context.Background()
	_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "big"},
		BinaryData: map[string][]byte{"a": make([]byte, MaxConfigMapBytes/2), "b": make([]byte, MaxConfigMapBytes/2+1)}}, metav1.CreateOptions{})
	require.True(t, apierrors.IsInvalid(err), "a ConfigMap over 1 MiB: %v", err)
	require.Nil(t, fake.ConfigMap("ns1", "big"))

	_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "big"},
		BinaryData: map[string][]byte{"a": make([]byte, MaxConfigMapBytes)}}, metav1.CreateOptions{})
	require.NoError(t, err, "exactly 1 MiB fits")
}

func TestLeases(t *testing.T) {
	fake, _, leases := clients(t, "replica-b")
	ctx := context.Background()
	holder := "b"
	lease, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "lock"}, Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}, metav1.CreateOptions{})
	require.NoError(t, err)
	got, err := leases.Get(ctx, "lock", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "b", *got.Spec.HolderIdentity)

	other := "c"
	lease.Spec.HolderIdentity = &other
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	require.NoError(t, err)
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	require.True(t, apierrors.IsConflict(err), "the same resourceVersion twice: %v", err)

	require.Equal(t, "c", *fake.Lease("ns1", "lock").Spec.HolderIdentity)

	calls := fake.Calls()
	require.Len(t, calls, 4)
	for _, c := range calls {
		require.Equal(t, "replica-b", c.Token)
		require.Equal(t, "leases", c.Resource)
		require.Equal(t, "lock", c.Name)
	}
	require.Equal(t, []int{http.StatusCreated, http.StatusOK, http.StatusOK, http.StatusConflict},
		[]int{calls[0].Status, calls[1].Status, calls[2].Status, calls[3].Status})
	require.Equal(t, http.MethodPut, calls[3].Method)
}

func TestUnavailable(t *testing.T) {
	fake, cms, _ := clients(t, "a")
	fake.SetUnavailable(true)
	_, err := cms.Get(context.Background(), "pos", metav1.GetOptions{})
	require.True(t, apierrors.IsServiceUnavailable(err), "%v", err)
	fake.SetUnavailable(false)
	_, err = cms.Get(context.Background(), "pos", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "%v", err)
}

func TestRoutes(t *testing.T) {
	fake := New()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/api/v1/namespaces/ns/secrets/x", http.StatusNotFound},
		{http.MethodGet, "/api/v1/namespaces/ns/configmaps/x/extra", http.StatusNotFound},
		{http.MethodGet, "/apis/apps/v1/namespaces/ns/deployments/x", http.StatusNotFound},
		{http.MethodPatch, "/api/v1/namespaces/ns/configmaps/x", http.StatusMethodNotAllowed},
		{http.MethodGet, "/api/v1/namespaces/ns/configmaps", http.StatusMethodNotAllowed},
		{http.MethodPost, "/api/v1/namespaces/ns/configmaps", http.StatusBadRequest}, // no body
	} {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(""))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, tc.want, resp.StatusCode, "%s %s", tc.method, tc.path)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	}
	require.Len(t, fake.Calls(), 6)
}

// TestJSONClient: a client configured for JSON instead of client-go's default protobuf is served alike.
func TestJSONClient(t *testing.T) {
	fake := New()
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, WriteKubeconfig(path, srv, "json-client", "ns2"))
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	require.NoError(t, err)
	rc.ContentType, rc.AcceptContentTypes = "application/json", "application/json"
	core, err := corev1client.NewForConfig(rc)
	require.NoError(t, err)
	_, err = core.ConfigMaps("ns2").Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "j"}, Data: map[string]string{"a": "b"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Equal(t, "b", fake.ConfigMap("ns2", "j").Data["a"])
	require.Equal(t, "json-client", fake.Calls()[0].Token)
}

func TestWriteKubeconfigNeedsTLS(t *testing.T) {
	srv := httptest.NewServer(New())
	defer srv.Close()
	require.ErrorContains(t, WriteKubeconfig(filepath.Join(t.TempDir(), "k"), srv, "t", "ns"), "NewTLSServer")
}
