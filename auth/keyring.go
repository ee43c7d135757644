package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zalando/go-keyring"
)

// DefaultKeyringTimeout bounds every keyring call when KeyringOptions.Timeout
// is zero. A locked keyring can block on an unlock prompt; the timeout turns
// that into a clear error instead of a hang.
const DefaultKeyringTimeout = 5 * time.Second

// DefaultKeyringService is the keyring service name the CLI stores under.
const DefaultKeyringService = "medplum"

// maxKeyringValue is the largest value stored as a single keyring item. Windows
// refuses more than 2560 bytes, and macOS about 3000 bytes minus the service
// and account names after base64 (reference go-cli.md 3.2); 2000 bytes fits
// both with room to spare. Longer values are split into chunks of this size.
const maxKeyringValue = 2000

// chunkPrefix marks a manifest item: "medplum-chunks:v1:<gen>:<n>:<sha256>".
// Parts live under "<key>#<gen>.<i>", so the parts of two generations never
// overwrite each other and the manifest switches between them in one write.
const chunkPrefix = "medplum-chunks:v1:"

// ErrKeyringUnavailable is matched (errors.Is) by every error that means the
// OS keyring cannot be used at all: no session bus, no Secret Service, a
// timeout, an unsupported platform.
var ErrKeyringUnavailable = errors.New("the system keyring is not available")

// KeyringUnavailableError says why the keyring cannot be used, and what to do.
type KeyringUnavailableError struct {
	Reason string // e.g. "no D-Bus session bus"
	Err    error  // underlying error, if any
}

func (e *KeyringUnavailableError) Error() string {
	msg := "the system keyring is not available: " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + "; sign in with --insecure-storage to keep credentials in a file readable only by you (0600) instead"
}

func (e *KeyringUnavailableError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrKeyringUnavailable}
	}
	return []error{ErrKeyringUnavailable, e.Err}
}

// KeyringOptions configure NewKeyringStore.
type KeyringOptions struct {
	// Service is the keyring service name; default DefaultKeyringService.
	Service string
	// Timeout bounds each keyring call; default DefaultKeyringTimeout.
	Timeout time.Duration
	// Getenv reads the environment for the Linux session-bus check; default
	// os.Getenv.
	Getenv func(string) string
}

// keyringBackend is the part of go-keyring the store uses; tests replace it.
type keyringBackend interface {
	Set(service, user, password string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

type zalandoBackend struct{}

func (zalandoBackend) Set(s, u, p string) error        { return keyring.Set(s, u, p) }
func (zalandoBackend) Get(s, u string) (string, error) { return keyring.Get(s, u) }
func (zalandoBackend) Delete(s, u string) error        { return keyring.Delete(s, u) }

// KeyringStore is a Store in the OS keyring (macOS Keychain, Windows
// Credential Manager, Secret Service on Linux) through zalando/go-keyring.
//
// Every call is bounded by a timeout. On Linux the store refuses to touch the
// keyring when there is no session bus, because godbus would otherwise start a
// dbus-daemon that outlives the process. Values above the Windows and macOS
// size limits are split into chunks behind a small manifest item.
type KeyringStore struct {
	service string
	timeout time.Duration
	backend keyringBackend
	// unavailable is set when the platform check ruled the keyring out. The
	// check (a look for the session bus) runs at the first keyring call, so
	// a command that never needs the keyring (credentials from the
	// environment) does not look.
	getenv      func(string) string
	busOnce     sync.Once
	unavailable error
}

// NewKeyringStore returns a KeyringStore. It never fails: when the keyring is
// ruled out (Linux without a session bus, found at the first call), every
// call returns a *KeyringUnavailableError.
func NewKeyringStore(opts KeyringOptions) *KeyringStore {
	return newKeyringStore(opts, zalandoBackend{})
}

func newKeyringStore(opts KeyringOptions, b keyringBackend) *KeyringStore {
	if opts.Service == "" {
		opts.Service = DefaultKeyringService
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultKeyringTimeout
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	return &KeyringStore{service: opts.Service, timeout: opts.Timeout, backend: b, getenv: opts.Getenv}
}

// ParseKeyringTimeout parses a MEDPLUM_KEYRING_TIMEOUT value: a Go duration
// ("30s", "1m") or a number of seconds ("10"). Empty means the default.
func ParseKeyringTimeout(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return DefaultKeyringTimeout, nil
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n <= 0 {
			return 0, fmt.Errorf("keyring timeout %q: must be positive", v)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("keyring timeout %q: want a duration such as 10s or a number of seconds", v)
	}
	return d, nil
}

// Available reports whether the keyring answers: it reads an item that does
// not exist and expects "not found". Use it to fail before a login starts.
func (s *KeyringStore) Available() error {
	_, err := s.getRaw("medplum-probe")
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Get implements Store.
func (s *KeyringStore) Get(key string) (string, error) {
	// A concurrent Set may delete the parts a manifest pointed to between our
	// reads; reading the (new) manifest again then succeeds.
	var err error
	for range 3 {
		var v string
		v, err = s.get(key)
		if !errors.Is(err, errStaleManifest) {
			return v, err
		}
	}
	return "", fmt.Errorf("keyring item %q is incomplete or kept changing while being read", key)
}

var errStaleManifest = errors.New("stale manifest")

func (s *KeyringStore) get(key string) (string, error) {
	v, err := s.getRaw(key)
	if err != nil || !strings.HasPrefix(v, chunkPrefix) {
		return v, err
	}
	m, err := parseManifest(v)
	if err != nil {
		return "", fmt.Errorf("keyring item %q: %w", key, err)
	}
	var b strings.Builder
	for i := range m.n {
		part, err := s.getRaw(m.part(key, i))
		if errors.Is(err, ErrNotFound) {
			return "", errStaleManifest
		}
		if err != nil {
			return "", err
		}
		b.WriteString(part)
	}
	out := b.String()
	if sum := sha256.Sum256([]byte(out)); hex.EncodeToString(sum[:]) != m.sum {
		return "", errStaleManifest
	}
	return out, nil
}

// Set implements Store. A value longer than the platform limit is written as
// parts first, then the manifest that points at them; the previous value's
// parts are removed last, so a reader sees either the old or the new value.
func (s *KeyringStore) Set(key, value string) error {
	old, err := s.getRaw(key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if len(value) <= maxKeyringValue && !strings.HasPrefix(value, chunkPrefix) {
		if err := s.setRaw(key, value); err != nil {
			return err
		}
	} else {
		m, err := newManifest(value)
		if err != nil {
			return err
		}
		for i := range m.n {
			lo := i * maxKeyringValue
			hi := min(lo+maxKeyringValue, len(value))
			if err := s.setRaw(m.part(key, i), value[lo:hi]); err != nil {
				s.deleteParts(key, m)
				return err
			}
		}
		if err := s.setRaw(key, m.String()); err != nil {
			s.deleteParts(key, m)
			return err
		}
	}
	if strings.HasPrefix(old, chunkPrefix) {
		if om, err := parseManifest(old); err == nil {
			s.deleteParts(key, om)
		}
	}
	return nil
}

// Delete implements Store.
func (s *KeyringStore) Delete(key string) error {
	old, err := s.getRaw(key)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.call(func() error { return s.backend.Delete(s.service, key) }); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if strings.HasPrefix(old, chunkPrefix) {
		if om, err := parseManifest(old); err == nil {
			s.deleteParts(key, om)
		}
	}
	return nil
}

func (s *KeyringStore) deleteParts(key string, m manifest) {
	for i := range m.n {
		_ = s.call(func() error { return s.backend.Delete(s.service, m.part(key, i)) })
	}
}

func (s *KeyringStore) getRaw(key string) (string, error) {
	var v string
	err := s.call(func() error {
		var err error
		v, err = s.backend.Get(s.service, key)
		return err
	})
	return v, err
}

func (s *KeyringStore) setRaw(key, value string) error {
	return s.call(func() error { return s.backend.Set(s.service, key, value) })
}

// call runs one keyring operation with the timeout and maps go-keyring's
// errors to ours. The operation cannot be cancelled; after a timeout its
// goroutine finishes (or not) in the background, which a short-lived CLI can
// afford.
func (s *KeyringStore) call(op func() error) error {
	s.busOnce.Do(func() {
		if reason := sessionBusMissing(s.getenv); reason != "" {
			s.unavailable = &KeyringUnavailableError{Reason: reason}
		}
	})
	if s.unavailable != nil {
		return s.unavailable
	}
	done := make(chan error, 1)
	go func() { done <- op() }()
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return mapKeyringError(err)
	case <-timer.C:
		return &KeyringUnavailableError{Reason: fmt.Sprintf("no answer within %s (a locked keyring may be waiting for its password; MEDPLUM_KEYRING_TIMEOUT sets a longer wait)", s.timeout)}
	}
}

func mapKeyringError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, keyring.ErrSetDataTooBig):
		// Chunking keeps every item under the documented limits; if the
		// platform still refuses, say so plainly.
		return fmt.Errorf("the system keyring refused a value of this size: %w", err)
	case errors.Is(err, keyring.ErrUnsupportedPlatform):
		return &KeyringUnavailableError{Reason: "this platform has no supported keyring", Err: err}
	default:
		return &KeyringUnavailableError{Reason: "the keyring call failed", Err: err}
	}
}

type manifest struct {
	gen string
	n   int
	sum string
}

func newManifest(value string) (manifest, error) {
	var g [6]byte
	if _, err := rand.Read(g[:]); err != nil {
		return manifest{}, err
	}
	sum := sha256.Sum256([]byte(value))
	return manifest{
		gen: hex.EncodeToString(g[:]),
		n:   (len(value) + maxKeyringValue - 1) / maxKeyringValue,
		sum: hex.EncodeToString(sum[:]),
	}, nil
}

func parseManifest(v string) (manifest, error) {
	f := strings.Split(strings.TrimPrefix(v, chunkPrefix), ":")
	if len(f) != 3 {
		return manifest{}, errors.New("malformed chunk manifest")
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 1 || n > 1000 {
		return manifest{}, errors.New("malformed chunk manifest")
	}
	return manifest{gen: f[0], n: n, sum: f[2]}, nil
}

func (m manifest) String() string {
	return fmt.Sprintf("%s%s:%d:%s", chunkPrefix, m.gen, m.n, m.sum)
}

func (m manifest) part(key string, i int) string {
	return fmt.Sprintf("%s#%s.%d", key, m.gen, i)
}
