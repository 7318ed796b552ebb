package stackonereceiver

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	k8stesting "k8s.io/client-go/testing"
)

const testConfigMap = "stackone-position"

func claim(t *testing.T, k *fakeKube, identity string, onFenced func(error)) *configMapStore {
	t.Helper()
	s, err := claimConfigMap(context.Background(), k.CoreV1().ConfigMaps(testNamespace), testConfigMap, identity, onFenced)
	require.NoError(t, err)
	return s
}

func (k *fakeKube) configMap(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	cm, err := k.CoreV1().ConfigMaps(testNamespace).Get(context.Background(), testConfigMap, metav1.GetOptions{})
	require.NoError(t, err)
	return cm
}

// TestConfigMapFencing: once a second replica has claimed the position, every write of the first one fails
// and changes nothing, and the first one is told once, so it stops polling.
func TestConfigMapFencing(t *testing.T) {
	ctx := context.Background()
	k := newFakeKube()
	var fenced []error
	a := claim(t, k, "replica-a", func(err error) { fenced = append(fenced, err) })
	require.Equal(t, "1", a.epoch)
	require.NoError(t, a.Set(ctx, "position.request_logs", []byte("from a")))

	b := claim(t, k, "replica-b", func(error) { t.Error("b was fenced") })
	require.Equal(t, "2", b.epoch)
	got, err := b.Get(ctx, "position.request_logs")
	require.NoError(t, err)
	require.Equal(t, "from a", string(got), "the new leader resumes from the last position the old one saved")

	updates := k.updates.Load()
	err = a.Set(ctx, "position.request_logs", []byte("stale write from a"))
	require.ErrorIs(t, err, errFenced)
	assert.ErrorContains(t, err, `held by "replica-b" (epoch 2)`)
	require.Len(t, fenced, 1)
	require.ErrorIs(t, a.Batch(ctx, storage.SetOperation("x", []byte("y"))), errFenced, "fenced for good")
	require.Len(t, fenced, 1, "told once")
	require.Equal(t, updates, k.updates.Load(), "no fenced write reached the object")

	require.NoError(t, b.Set(ctx, "position.request_logs", []byte("from b")))
	cm := k.configMap(t)
	assert.Equal(t, "from b", string(cm.BinaryData["position.request_logs"]))
	assert.Equal(t, "replica-b", cm.Annotations[holderAnnotation])
	assert.Equal(t, "2", cm.Annotations[epochAnnotation])
}

// beforeUpdate runs a hook before the first update it passes on, outside the fake's lock.
type beforeUpdate struct {
	corev1client.ConfigMapInterface
	once sync.Once
	hook func()
	// lose applies the update but answers it with a timeout, as when the answer is lost on the way back.
	lose bool
}

func (b *beforeUpdate) Update(ctx context.Context, cm *corev1.ConfigMap, opts metav1.UpdateOptions) (*corev1.ConfigMap, error) {
	first := false
	b.once.Do(func() { first = true })
	if !first {
		return b.ConfigMapInterface.Update(ctx, cm, opts)
	}
	if b.hook != nil {
		b.hook()
	}
	out, err := b.ConfigMapInterface.Update(ctx, cm, opts)
	if b.lose && err == nil {
		return nil, apierrors.NewTimeoutError("the answer was lost", 1)
	}
	return out, err
}

// TestConfigMapClaimRace: a save of the old leader between the new leader's read and its claim makes the
// claim conflict; the new leader reads again, so it resumes from that save, not from the one before.
func TestConfigMapClaimRace(t *testing.T) {
	ctx := context.Background()
	k := newFakeKube()
	a := claim(t, k, "replica-a", nil)
	require.NoError(t, a.Set(ctx, "p", []byte("1")))
	api := &beforeUpdate{ConfigMapInterface: k.CoreV1().ConfigMaps(testNamespace), hook: func() {
		require.NoError(t, a.Set(ctx, "p", []byte("2")))
	}}
	b, err := claimConfigMap(ctx, api, testConfigMap, "replica-b", nil)
	require.NoError(t, err)
	got, err := b.Get(ctx, "p")
	require.NoError(t, err)
	require.Equal(t, "2", string(got))
	require.ErrorIs(t, a.Set(ctx, "p", []byte("3")), errFenced)
}

// TestConfigMapBatch: a batch is one conditional update, reads see the batch's own writes, and a batch that
// changes nothing (or only reads) sends nothing.
func TestConfigMapBatch(t *testing.T) {
	ctx := context.Background()
	k := newFakeKube()
	s := claim(t, k, "replica-a", nil)
	before := k.updates.Load()
	read := storage.GetOperation("b")
	require.NoError(t, s.Batch(ctx,
		storage.SetOperation("a", []byte("1")),
		storage.SetOperation("b", []byte("2")),
		read,
		storage.SetOperation("c", []byte("3")),
		storage.DeleteOperation("c"),
	))
	require.Equal(t, "2", string(read.Value))
	require.Equal(t, before+1, k.updates.Load(), "one update for the whole batch")
	require.Equal(t, map[string][]byte{"a": []byte("1"), "b": []byte("2")}, k.configMap(t).BinaryData)

	require.NoError(t, s.Batch(ctx, storage.SetOperation("a", []byte("1")), storage.GetOperation("b")))
	v, err := s.Get(ctx, "missing")
	require.NoError(t, err)
	require.Nil(t, v, "a missing key reads as nil, nil, like every storage client")
	require.NoError(t, s.Delete(ctx, "missing"))
	require.Equal(t, before+1, k.updates.Load(), "unchanged data is not written again")
	require.NoError(t, s.Close(ctx))
}

// TestConfigMapLostAnswer: an update the API server applied but whose answer was lost leaves the replica on
// an old resourceVersion. Its next write conflicts, finds its own claim still in place and goes through:
// not mistaken for being deposed.
func TestConfigMapLostAnswer(t *testing.T) {
	ctx := context.Background()
	k := newFakeKube()
	claimed := claim(t, k, "replica-a", nil)
	s := &configMapStore{api: &beforeUpdate{ConfigMapInterface: k.CoreV1().ConfigMaps(testNamespace), lose: true},
		name: testConfigMap, identity: "replica-a", cm: claimed.cm, epoch: claimed.epoch,
		onFenced: func(err error) { t.Errorf("fenced by its own write: %v", err) }}
	err := s.Set(ctx, "p", []byte("1"))
	require.Error(t, err)
	require.NotErrorIs(t, err, errFenced)
	require.Equal(t, "1", string(k.configMap(t).BinaryData["p"]), "the write was applied")

	require.NoError(t, s.Set(ctx, "p", []byte("2")))
	require.Equal(t, "2", string(k.configMap(t).BinaryData["p"]))
}

// TestConfigMapAPIErrors: a failed write is not taken for fencing (the save is retried by the next page), and
// a failed claim says what failed.
func TestConfigMapAPIErrors(t *testing.T) {
	ctx := context.Background()
	k := newFakeKube()
	s := claim(t, k, "replica-a", nil)
	k.failWith(func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	err := s.Set(ctx, "p", []byte("1"))
	require.ErrorContains(t, err, "etcd is down")
	require.NotErrorIs(t, err, errFenced)
	_, err = claimConfigMap(ctx, k.CoreV1().ConfigMaps(testNamespace), testConfigMap, "replica-b", nil)
	require.ErrorContains(t, err, `reading the position ConfigMap "stackone-position"`)

	k.failWith(func(act k8stesting.Action) (bool, runtime.Object, error) {
		if act.GetVerb() == "update" {
			return true, nil, apierrors.NewForbidden(corev1.Resource("configmaps"), testConfigMap, errors.New("RBAC"))
		}
		return false, nil, nil
	})
	_, err = claimConfigMap(ctx, k.CoreV1().ConfigMaps(testNamespace), testConfigMap, "replica-b", nil)
	require.ErrorContains(t, err, "claiming the position ConfigMap")
	require.True(t, apierrors.IsForbidden(err))

	k.failWith(nil)
	require.NoError(t, s.Set(ctx, "p", []byte("1")), "the replica still holds the position")
}

// TestConfigMapTooLarge: a position that would not fit a ConfigMap is refused before it is sent, with what to
// do about it, and leaves the stored one as it was.
func TestConfigMapTooLarge(t *testing.T) {
	ctx := context.Background()
	k := newFakeKube()
	s := claim(t, k, "replica-a", nil)
	require.NoError(t, s.Set(ctx, "p", []byte("small")))
	err := s.Set(ctx, "big", make([]byte, maxPositionBytes))
	require.ErrorIs(t, err, errPositionTooLarge)
	assert.ErrorContains(t, err, "shorten late_arrival_window")
	require.Equal(t, map[string][]byte{"p": []byte("small")}, k.configMap(t).BinaryData)
	require.NoError(t, s.Set(ctx, "p", []byte("still writable")))
}

// TestConfigMapHoldsPosition runs the receiver's own position store on the ConfigMap: a busy account's
// late-arrival window (15 pages of 1000 ids, 15,000 ids as in the busy benchmark) is saved, claimed by another
// replica and loaded back whole, and fits the ConfigMap with room to spare.
func TestConfigMapHoldsPosition(t *testing.T) {
	ctx := context.Background()
	k := newFakeKube()
	a := claim(t, k, "replica-a", nil)
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	p := newPosition(start)
	ps := &positionStore{client: a, key: "position.request_logs"}
	for page := range 15 {
		ids := make([]uint64, 1000)
		for i := range ids {
			ids[i] = idHash(string(rune(page)) + string(rune(i)) + "id")
		}
		newest := start.Add(time.Duration(page) * time.Second)
		p.addPage(ids, newest)
		p.Frontier = newest
		_, err := ps.save(ctx, p)
		require.NoError(t, err)
	}
	size := 0
	for key, v := range k.configMap(t).BinaryData {
		size += len(key) + len(v)
	}
	t.Logf("position with %d ids in the window: %d bytes in the ConfigMap (limit %d)", len(p.seen.ids), size, maxPositionBytes)
	require.Less(t, size, maxPositionBytes/4)

	b := claim(t, k, "replica-b", nil)
	loaded, err := (&positionStore{client: b, key: "position.request_logs"}).load(ctx)
	require.NoError(t, err)
	require.Equal(t, p.Frontier, loaded.Frontier)
	require.Len(t, loaded.seen.ids, len(p.seen.ids))
}
