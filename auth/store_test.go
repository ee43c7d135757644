package auth

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// testStoreContract checks the behaviour every Store must have.
func testStoreContract(t *testing.T, s Store) {
	t.Helper()
	if _, err := s.Get("p:missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
	if err := s.Delete("p:missing"); err != nil {
		t.Fatalf("Delete(missing) = %v, want nil", err)
	}
	values := []string{"", "short-secret", strings.Repeat("x", maxKeyringValue), strings.Repeat("ab", 3000) + "é", chunkPrefix + "looks-like-a-manifest"}
	for _, v := range values {
		if err := s.Set("p:k", v); err != nil {
			t.Fatalf("Set(%d bytes) = %v", len(v), err)
		}
		got, err := s.Get("p:k")
		if err != nil || got != v {
			t.Fatalf("Get after Set(%d bytes) = %d bytes, %v", len(v), len(got), err)
		}
	}
	if err := s.Set("p:other", "o"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("p:k"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if _, err := s.Get("p:k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
	if got, err := s.Get("p:other"); err != nil || got != "o" {
		t.Fatalf("other key after Delete = %q, %v", got, err)
	}
}

func TestMemoryStoreContract(t *testing.T) { testStoreContract(t, NewMemoryStore()) }

func TestFileStoreContract(t *testing.T) {
	testStoreContract(t, NewFileStore(filepath.Join(t.TempDir(), "secrets", "credentials.json")))
}

func TestFileStorePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits do not apply on Windows")
	}
	dir := filepath.Join(t.TempDir(), "secrets")
	if err := os.MkdirAll(dir, 0o755); err != nil { // too wide: must be tightened
		t.Fatal(err)
	}
	path := filepath.Join(dir, "credentials.json")
	s := NewFileStore(path)
	if err := s.Set("default:refresh_token", "rt-secret"); err != nil {
		t.Fatal(err)
	}
	assertMode(t, dir, 0o700)
	assertMode(t, path, 0o600)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
		assertMode(t, filepath.Join(dir, e.Name()), 0o600)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %o, want %o", path, got, want)
	}
}

func TestFileStoreConcurrentWritersKeepEveryKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials.json")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A separate FileStore per goroutine, as separate processes would have.
			if err := NewFileStore(path).Set(string(rune('a'+i)), "v"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s := NewFileStore(path)
	for i := range 20 {
		if _, err := s.Get(string(rune('a' + i))); err != nil {
			t.Errorf("key %c lost: %v", 'a'+i, err)
		}
	}
}

func TestFileStoreRejectsCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewFileStore(path).Get("k")
	if err == nil || !strings.Contains(err.Error(), "is not valid JSON") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Get on a corrupt file = %v", err)
	}
}
