//go:build keyring

// Tests against the real OS keyring. On Linux they need an unlocked Secret
// Service: `make test-keyring` runs them under dbus-run-session with
// gnome-keyring-daemon --unlock in a fresh HOME (go-cli.md 3.3).

package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func realKeyring(t *testing.T) *KeyringStore {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	s := NewKeyringStore(KeyringOptions{Service: "medplum-test-" + hex.EncodeToString(b[:]), Timeout: 10 * time.Second})
	if err := s.Available(); err != nil {
		t.Fatalf("the keyring tests need a working keyring: %v", err)
	}
	return s
}

func TestRealKeyringContract(t *testing.T) { testStoreContract(t, realKeyring(t)) }

func TestRealKeyringLargeValueIsChunked(t *testing.T) {
	s := realKeyring(t)
	big := strings.Repeat("eyJhbGciOiJSUzI1NiJ9.", 400) // 8800 bytes, a fat JWT
	if err := s.Set("default:access_token", big); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Delete("default:access_token") })
	raw, err := s.getRaw("default:access_token")
	if err != nil || !strings.HasPrefix(raw, chunkPrefix) {
		t.Fatalf("the stored item is %d bytes (%v), want a chunk manifest", len(raw), err)
	}
	got, err := s.Get("default:access_token")
	if err != nil || got != big {
		t.Fatalf("Get = %d bytes, %v", len(got), err)
	}
	if err := s.Delete("default:access_token"); err != nil {
		t.Fatal(err)
	}
	m, _ := parseManifest(raw)
	for i := range m.n {
		if _, err := s.getRaw(m.part("default:access_token", i)); !errors.Is(err, ErrNotFound) {
			t.Errorf("part %d still present after Delete: %v", i, err)
		}
	}
}
