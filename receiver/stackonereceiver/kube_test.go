package stackonereceiver

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

const testNamespace = "logs"

// fakeKube is client-go's fake clientset with the API server's optimistic concurrency added. The fake alone
// stores whatever it is given and never checks a resourceVersion, so fencing could not fail against it: here
// every write is stamped with a new resourceVersion, and an update carrying another one than stored is
// refused with 409 Conflict, as the API server does.
type fakeKube struct {
	*fake.Clientset
	mu      sync.Mutex // makes check-and-write one step, as in etcd
	version int64
	updates atomic.Int64 // updates accepted
	// fail, when set, answers a request instead of the fake (an unreachable API server, a lost answer).
	fail atomic.Pointer[func(k8stesting.Action) (bool, runtime.Object, error)]
}

func newFakeKube() *fakeKube {
	k := &fakeKube{Clientset: fake.NewClientset()}
	tracker := k.Tracker()
	k.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.CreateAction).GetObject().DeepCopyObject()
		m, err := meta.Accessor(obj)
		if err != nil {
			return true, nil, err
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		k.version++
		m.SetResourceVersion(strconv.FormatInt(k.version, 10))
		if err := tracker.Create(a.GetResource(), obj, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, obj.DeepCopyObject(), nil
	})
	k.PrependReactor("update", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.UpdateAction).GetObject().DeepCopyObject()
		m, err := meta.Accessor(obj)
		if err != nil {
			return true, nil, err
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		current, err := tracker.Get(a.GetResource(), a.GetNamespace(), m.GetName())
		if err != nil {
			return true, nil, err
		}
		cm, _ := meta.Accessor(current)
		if rv := m.GetResourceVersion(); rv != "" && rv != cm.GetResourceVersion() {
			return true, nil, apierrors.NewConflict(a.GetResource().GroupResource(), m.GetName(), errors.New("the object has been modified; please apply your changes to the latest version and try again"))
		}
		k.version++
		m.SetResourceVersion(strconv.FormatInt(k.version, 10))
		if err := tracker.Update(a.GetResource(), obj, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		k.updates.Add(1)
		return true, obj.DeepCopyObject(), nil
	})
	// Prepended last, so it runs first.
	k.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if f := k.fail.Load(); f != nil {
			return (*f)(a)
		}
		return false, nil, nil
	})
	return k
}

func (k *fakeKube) api() kubeAPI {
	return kubeAPI{leases: k.CoordinationV1(), configMaps: k.CoreV1(), namespace: testNamespace}
}

// failWith hands every request to f first (f returns false to let the fake answer); nil restores the fake.
func (k *fakeKube) failWith(f func(k8stesting.Action) (bool, runtime.Object, error)) {
	if f == nil {
		k.fail.Store(nil)
		return
	}
	k.fail.Store(&f)
}
