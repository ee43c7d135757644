package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// fakeKeyring behaves like go-keyring's providers: ErrNotFound for a missing
// item, ErrSetDataTooBig above limit bytes (the Windows rule), and it can
// block or fail on demand.
type fakeKeyring struct {
	mu    sync.Mutex
	items map[string]string
	limit int
	block chan struct{} // when non-nil, every call waits on it
	err   error         // when non-nil, every call fails with it
	calls int
}

func newFakeKeyring() *fakeKeyring {
	return &fakeKeyring{items: map[string]string{}, limit: 2560}
}

func (f *fakeKeyring) enter() error {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	f.calls++
	return f.err
}

func (f *fakeKeyring) Set(service, user, password string) error {
	err := f.enter()
	defer f.mu.Unlock()
	if err != nil {
		return err
	}
	if len(password) > f.limit {
		return keyring.ErrSetDataTooBig
	}
	f.items[service+"\x00"+user] = password
	return nil
}

func (f *fakeKeyring) Get(service, user string) (string, error) {
	err := f.enter()
	defer f.mu.Unlock()
	if err != nil {
		return "", err
	}
	v, ok := f.items[service+"\x00"+user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (f *fakeKeyring) Delete(service, user string) error {
	err := f.enter()
	defer f.mu.Unlock()
	if err != nil {
		return err
	}
	k := service + "\x00" + user
	if _, ok := f.items[k]; !ok {
		return keyring.ErrNotFound
	}
	delete(f.items, k)
	return nil
}

func (f *fakeKeyring) users() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.items {
		out = append(out, strings.SplitN(k, "\x00", 2)[1])
	}
	return out
}

// busEnv pretends a session bus exists, so the Linux guard lets calls through.
func busEnv(k string) string {
	if k == "DBUS_SESSION_BUS_ADDRESS" {
		return "unix:path=/nonexistent/test-bus"
	}
	return ""
}

func newTestKeyring(f *fakeKeyring) *KeyringStore {
	return newKeyringStore(KeyringOptions{Timeout: 200 * time.Millisecond, Getenv: busEnv}, f)
}

func TestKeyringStoreContract(t *testing.T) {
	testStoreContract(t, newTestKeyring(newFakeKeyring()))
}

func TestKeyringStoreChunksLargeValues(t *testing.T) {
	f := newFakeKeyring()
	s := newTestKeyring(f)
	big := strings.Repeat("0123456789", 700) // 7000 bytes: 4 chunks
	if err := s.Set("default:access_token", big); err != nil {
		t.Fatal(err)
	}
	users := f.users()
	if len(users) != 5 {
		t.Fatalf("items after a 7000-byte Set: %v, want a manifest and 4 parts", users)
	}
	for _, u := range users {
		v, _ := f.Get(DefaultKeyringService, u)
		if len(v) > maxKeyringValue && u != "default:access_token" {
			t.Errorf("part %s holds %d bytes", u, len(v))
		}
	}
	manifest, _ := f.Get(DefaultKeyringService, "default:access_token")
	if !strings.HasPrefix(manifest, chunkPrefix) {
		t.Fatalf("manifest = %q", manifest)
	}

	// Overwriting with a smaller chunked value removes the old parts.
	if err := s.Set("default:access_token", big[:2500]); err != nil {
		t.Fatal(err)
	}
	if n := len(f.users()); n != 3 {
		t.Fatalf("items after a 2500-byte overwrite: %v, want a manifest and 2 parts", f.users())
	}
	// Overwriting with a small value leaves a single item.
	if err := s.Set("default:access_token", "small"); err != nil {
		t.Fatal(err)
	}
	if u := f.users(); len(u) != 1 || u[0] != "default:access_token" {
		t.Fatalf("items after a small overwrite: %v", u)
	}
	// Delete of a chunked value removes its parts.
	if err := s.Set("default:access_token", big); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("default:access_token"); err != nil {
		t.Fatal(err)
	}
	if u := f.users(); len(u) != 0 {
		t.Fatalf("items left after Delete: %v", u)
	}
}

func TestKeyringStoreChunkedSetFailureKeepsOldValue(t *testing.T) {
	f := newFakeKeyring()
	s := newTestKeyring(f)
	if err := s.Set("k", "old"); err != nil {
		t.Fatal(err)
	}
	f.limit = 100 // the platform now refuses every part
	err := s.Set("k", strings.Repeat("n", 5000))
	if err == nil || !strings.Contains(err.Error(), "refused a value of this size") {
		t.Fatalf("Set = %v", err)
	}
	f.limit = 2560
	if got, err := s.Get("k"); err != nil || got != "old" {
		t.Fatalf("after a failed Set, Get = %q, %v; want the old value", got, err)
	}
	if u := f.users(); len(u) != 1 {
		t.Fatalf("failed Set left parts behind: %v", u)
	}
}

func TestKeyringStoreDetectsDamagedChunks(t *testing.T) {
	f := newFakeKeyring()
	s := newTestKeyring(f)
	if err := s.Set("k", strings.Repeat("z", 4500)); err != nil {
		t.Fatal(err)
	}
	for _, u := range f.users() {
		if strings.HasSuffix(u, ".1") {
			f.items[DefaultKeyringService+"\x00"+u] = "tampered"
		}
	}
	if _, err := s.Get("k"); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("Get of a damaged value = %v", err)
	}
}

func TestKeyringStoreTimeout(t *testing.T) {
	f := newFakeKeyring()
	f.block = make(chan struct{})
	defer close(f.block)
	s := newTestKeyring(f)
	start := time.Now()
	err := s.Set("k", "v")
	var ue *KeyringUnavailableError
	if !errors.As(err, &ue) || !errors.Is(err, ErrKeyringUnavailable) {
		t.Fatalf("Set on a hung keyring = %v, want *KeyringUnavailableError", err)
	}
	for _, want := range []string{"no answer within 200ms", "MEDPLUM_KEYRING_TIMEOUT", "--insecure-storage"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("Set waited %s, the timeout is 200ms", waited)
	}
}

func TestKeyringStoreMapsBackendErrors(t *testing.T) {
	f := newFakeKeyring()
	f.err = errors.New(`failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'`)
	s := newTestKeyring(f)
	_, err := s.Get("k")
	if !errors.Is(err, ErrKeyringUnavailable) || !strings.Contains(err.Error(), "failed to unlock") || !strings.Contains(err.Error(), "--insecure-storage") {
		t.Fatalf("Get = %v", err)
	}
	if err := s.Available(); !errors.Is(err, ErrKeyringUnavailable) {
		t.Fatalf("Available = %v", err)
	}
	f.err = keyring.ErrUnsupportedPlatform
	if err := s.Set("k", "v"); !errors.Is(err, ErrKeyringUnavailable) || !errors.Is(err, keyring.ErrUnsupportedPlatform) {
		t.Fatalf("Set on an unsupported platform = %v", err)
	}
	f.err = nil
	if err := s.Available(); err != nil {
		t.Fatalf("Available on a working keyring = %v", err)
	}
}

func TestKeyringStoreServiceName(t *testing.T) {
	f := newFakeKeyring()
	s := newKeyringStore(KeyringOptions{Service: "medplum-test", Getenv: busEnv}, f)
	if err := s.Set("k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.items["medplum-test\x00k"]; !ok {
		t.Fatalf("items = %v", f.items)
	}
}

func TestParseKeyringTimeout(t *testing.T) {
	for in, want := range map[string]time.Duration{"": DefaultKeyringTimeout, "10": 10 * time.Second, "1.5": 1500 * time.Millisecond, "30s": 30 * time.Second, "2m": 2 * time.Minute} {
		got, err := ParseKeyringTimeout(in)
		if err != nil || got != want {
			t.Errorf("ParseKeyringTimeout(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-3", "soon", "0s"} {
		if _, err := ParseKeyringTimeout(in); err == nil {
			t.Errorf("ParseKeyringTimeout(%q) accepted", in)
		}
	}
}

func TestSessionBusGuard(t *testing.T) {
	empty := t.TempDir()
	orig := runUserDir
	runUserDir = func() string { return empty }
	t.Cleanup(func() { runUserDir = orig })
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "") // restored after the XDG case exports it

	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	reason := sessionBusMissing(getenv)
	if reason == "" && !isDBusPlatform() {
		return // macOS and Windows need no bus
	}
	if !strings.Contains(reason, "no D-Bus session bus") {
		t.Fatalf("no bus: reason = %q", reason)
	}
	// A store built without a bus never calls the backend.
	f := newFakeKeyring()
	s := newKeyringStore(KeyringOptions{Getenv: getenv}, f)
	if err := s.Set("k", "v"); !errors.Is(err, ErrKeyringUnavailable) || !strings.Contains(err.Error(), "--insecure-storage") {
		t.Fatalf("Set without a bus = %v", err)
	}
	if f.calls != 0 {
		t.Fatalf("the backend was called %d times without a session bus", f.calls)
	}

	env["DBUS_SESSION_BUS_ADDRESS"] = "autolaunch:"
	if sessionBusMissing(getenv) == "" {
		t.Fatal("autolaunch: counted as a session bus")
	}
	env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/run/user/1000/bus"
	if r := sessionBusMissing(getenv); r != "" {
		t.Fatalf("with DBUS_SESSION_BUS_ADDRESS: %q", r)
	}
	delete(env, "DBUS_SESSION_BUS_ADDRESS")

	xdg := t.TempDir()
	env["XDG_RUNTIME_DIR"] = xdg
	if sessionBusMissing(getenv) == "" {
		t.Fatal("XDG_RUNTIME_DIR without a bus socket counted as a session bus")
	}
	if err := os.WriteFile(filepath.Join(xdg, "bus"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := sessionBusMissing(getenv); r != "" {
		t.Fatalf("with $XDG_RUNTIME_DIR/bus: %q", r)
	}
	if got, want := os.Getenv("DBUS_SESSION_BUS_ADDRESS"), "unix:path="+filepath.Join(xdg, "bus"); got != want {
		t.Fatalf("DBUS_SESSION_BUS_ADDRESS = %q, want %q (so godbus does not fall back to dbus-launch)", got, want)
	}
}
