package stackonereceiver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"

	"go.opentelemetry.io/collector/extension/xextension/storage"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

const (
	// The annotations that say which replica owns the position, and since which claim.
	holderAnnotation = "stackone-otel.io/holder"
	epochAnnotation  = "stackone-otel.io/epoch"
	// maxPositionBytes keeps the ConfigMap under the API server's 1 MiB limit on its values (keys counted
	// too, with room to spare for the metadata).
	maxPositionBytes = 1<<20 - 16<<10
	// claimAttempts bounds the read-and-claim loop when another writer keeps changing the object.
	claimAttempts = 5
)

// errFenced means another replica has claimed the position: this one was deposed and must stop writing.
var errFenced = errors.New("the position was claimed by another replica")

// errPositionTooLarge means the position no longer fits one ConfigMap.
var errPositionTooLarge = errors.New("the position is too large for a ConfigMap")

// configMapStore is a storage.Client on one ConfigMap that every replica can read and only the replica that
// claimed it last can write. Each write is a conditional update on the resourceVersion this replica wrote
// or read last; a claim by another replica changes it, so any later write from this one conflicts and
// fails. It keeps the object it wrote last: being the only writer, it never needs to read it again.
type configMapStore struct {
	api      corev1client.ConfigMapInterface
	name     string
	identity string
	// onFenced is called once, when a write finds the position claimed by another replica.
	onFenced func(error)

	mu     sync.Mutex
	cm     *corev1.ConfigMap
	epoch  string
	fenced error
}

var _ storage.Client = (*configMapStore)(nil)

// claimConfigMap reads the position's ConfigMap (creating it if needed) and writes this replica's identity
// and a new epoch into it, on the version it read. From then on a write by the previous owner conflicts.
func claimConfigMap(ctx context.Context, api corev1client.ConfigMapInterface, name, identity string, onFenced func(error)) (*configMapStore, error) {
	for range claimAttempts {
		cm, err := api.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Labels:      map[string]string{"app.kubernetes.io/managed-by": "otelcol-stackone"},
				Annotations: map[string]string{holderAnnotation: identity, epochAnnotation: "1"},
			}}
			created, err := api.Create(ctx, cm, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue // another replica created it first: read it
			}
			if err != nil {
				return nil, fmt.Errorf("creating the position ConfigMap %q: %w", name, err)
			}
			return &configMapStore{api: api, name: name, identity: identity, onFenced: onFenced, cm: created, epoch: "1"}, nil
		case err != nil:
			return nil, fmt.Errorf("reading the position ConfigMap %q: %w", name, err)
		}
		prev, _ := strconv.ParseUint(cm.Annotations[epochAnnotation], 10, 64)
		epoch := strconv.FormatUint(prev+1, 10)
		if cm.Annotations == nil {
			cm.Annotations = map[string]string{}
		}
		cm.Annotations[holderAnnotation], cm.Annotations[epochAnnotation] = identity, epoch
		claimed, err := api.Update(ctx, cm, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue // written since it was read (the previous owner's last save): read it again
		}
		if err != nil {
			return nil, fmt.Errorf("claiming the position ConfigMap %q: %w", name, err)
		}
		return &configMapStore{api: api, name: name, identity: identity, onFenced: onFenced, cm: claimed, epoch: epoch}, nil
	}
	return nil, fmt.Errorf("claiming the position ConfigMap %q: it changed on each of %d attempts; is another collector writing it?", name, claimAttempts)
}

func (s *configMapStore) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	err := s.Batch(ctx, op)
	return op.Value, err
}

func (s *configMapStore) Set(ctx context.Context, key string, value []byte) error {
	return s.Batch(ctx, storage.SetOperation(key, value))
}

func (s *configMapStore) Delete(ctx context.Context, key string) error {
	return s.Batch(ctx, storage.DeleteOperation(key))
}

// Batch applies every operation in order and writes the result as one conditional update: all of it or none.
// Reads see the batch's own earlier writes. A batch that changes nothing sends nothing.
func (s *configMapStore) Batch(ctx context.Context, ops ...*storage.Operation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fenced != nil {
		return s.fenced
	}
	data := maps.Clone(s.cm.BinaryData)
	if data == nil {
		data = map[string][]byte{}
	}
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			op.Value = bytes.Clone(data[op.Key])
		case storage.Set:
			data[op.Key] = bytes.Clone(op.Value)
		case storage.Delete:
			delete(data, op.Key)
		}
	}
	if maps.EqualFunc(data, s.cm.BinaryData, bytes.Equal) {
		return nil
	}
	size := 0
	for k, v := range data {
		size += len(k) + len(v)
	}
	if size > maxPositionBytes {
		return fmt.Errorf("%w: ConfigMap %q would hold %d bytes, more than the %d a ConfigMap can: the late-arrival window holds about %d ids; shorten late_arrival_window, or split the streams over receivers with their own lease_name",
			errPositionTooLarge, s.name, size, maxPositionBytes, size/8)
	}
	next := s.cm.DeepCopy()
	next.BinaryData = data
	updated, err := s.api.Update(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		updated, err = s.retryOwnWrite(ctx, next)
	}
	if err != nil {
		return err
	}
	s.cm = updated
	return nil
}

// retryOwnWrite runs after a conflict. A write whose answer was lost (a timeout after the API server
// applied it) leaves this replica with an old resourceVersion although nobody else wrote: if the object
// still carries this replica's claim, the write is sent again on the current version. Otherwise another
// replica has claimed the position and this one is fenced for good.
func (s *configMapStore) retryOwnWrite(ctx context.Context, next *corev1.ConfigMap) (*corev1.ConfigMap, error) {
	current, err := s.api.Get(ctx, s.name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("the position ConfigMap %q changed; reading it back: %w", s.name, err)
	}
	holder, epoch := current.Annotations[holderAnnotation], current.Annotations[epochAnnotation]
	if holder == s.identity && epoch == s.epoch {
		next.ResourceVersion = current.ResourceVersion
		updated, err := s.api.Update(ctx, next, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return updated, err
		}
	}
	s.fenced = fmt.Errorf("%w: ConfigMap %q is held by %q (epoch %s), this replica is %q (epoch %s); it stops polling and stands by",
		errFenced, s.name, holder, epoch, s.identity, s.epoch)
	if s.onFenced != nil {
		s.onFenced(s.fenced)
	}
	return nil, s.fenced
}

// Close releases nothing: the ConfigMap outlives the replica, and the next leader claims it.
func (s *configMapStore) Close(context.Context) error { return nil }
