package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// FileStore is a Store kept in a plain JSON file with mode 0600 inside a
// directory with mode 0700. Secrets in it are readable by anyone who can read
// the user's files; use it only when the user asked for --insecure-storage.
//
// Writes replace the file atomically (temporary file + rename) under an
// exclusive lock (path + ".lock"), so concurrent processes never lose each
// other's updates or read a half-written file.
type FileStore struct {
	path string
}

// NewFileStore returns a FileStore at path. Nothing is created until the first
// Set.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

// Path is the file the secrets live in (for the "stored in plain text" notice).
func (s *FileStore) Path() string { return s.path }

// fileLockTimeout bounds how long a FileStore call waits for another process.
const fileLockTimeout = 10 * time.Second

// Get implements Store.
func (s *FileStore) Get(key string) (string, error) {
	m, err := s.read()
	if err != nil {
		return "", err
	}
	v, ok := m[key]
	if !ok {
		return "", ErrNotFound
	}
	return v, nil
}

// Set implements Store.
func (s *FileStore) Set(key, value string) error {
	return s.update(func(m map[string]string) { m[key] = value })
}

// Delete implements Store.
func (s *FileStore) Delete(key string) error {
	if _, err := os.Stat(s.path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return s.update(func(m map[string]string) { delete(m, key) })
}

func (s *FileStore) read() (map[string]string, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read credentials file: %w", err)
	}
	m := map[string]string{}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("credentials file %s is not valid JSON: %w", s.path, err)
		}
	}
	return m, nil
}

func (s *FileStore) update(change func(map[string]string)) error {
	ctx, cancel := context.WithTimeout(context.Background(), fileLockTimeout)
	defer cancel()
	unlock, err := lockFile(ctx, s.path+".lock")
	if err != nil {
		return err
	}
	defer unlock()
	m, err := s.read()
	if err != nil {
		return err
	}
	change(m)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path, append(data, '\n'))
}

// writeFileAtomic writes data to path with mode 0600 in a 0700 directory: a
// temporary file in the same directory, synced, then renamed over path.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := ensurePrivateDir(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
