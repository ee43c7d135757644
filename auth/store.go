package auth

import (
	"errors"
	"sync"
)

// Store keeps secrets (refresh tokens, client secrets) by key. Keys are short
// ASCII names chosen by the caller, e.g. "default:refresh_token".
//
// Implementations: KeyringStore (the OS keyring, the default), FileStore (a
// 0600 file, only on explicit opt-in with --insecure-storage) and MemoryStore
// (tests). None of them prints anything.
type Store interface {
	// Get returns the secret stored under key, or ErrNotFound.
	Get(key string) (string, error)
	// Set stores value under key, replacing any previous value.
	Set(key, value string) error
	// Delete removes key. Deleting a key that does not exist is not an error.
	Delete(key string) error
}

// ErrNotFound is returned by Store.Get when nothing is stored under the key.
var ErrNotFound = errors.New("secret not found")

// MemoryStore is a Store held in memory, for tests and for credentials that
// must not outlive the process. The zero value is ready to use.
type MemoryStore struct {
	mu sync.Mutex
	m  map[string]string
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// Get implements Store.
func (s *MemoryStore) Get(key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return "", ErrNotFound
	}
	return v, nil
}

// Set implements Store.
func (s *MemoryStore) Set(key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[key] = value
	return nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// Keys returns the stored keys (for tests that check what was written).
func (s *MemoryStore) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	return keys
}
