package bulkengine

import (
	"fmt"
	"os"
	"path/filepath"
)

// ReportFile is a report written to a temporary file next to its path and
// renamed into place, 0600, by Commit, so that an interrupted run never
// leaves half a report over a complete one.
type ReportFile struct {
	*os.File
	path string
}

// CreateReport starts the report that Commit will put at path. flag names
// the option in errors ("--report").
func CreateReport(path, flag string) (*ReportFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return &ReportFile{File: f, path: path}, nil
}

// Path is where Commit puts the report.
func (r *ReportFile) Path() string { return r.path }

// Commit closes the report and renames it into place; werr is an error the
// caller met writing it, after which the report is abandoned instead.
func (r *ReportFile) Commit(werr error) error {
	err := werr
	if err == nil {
		err = r.Chmod(0o600)
	}
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(r.Name(), r.path)
	}
	if err != nil {
		os.Remove(r.Name())
		return fmt.Errorf("writing the report %s: %w", r.path, err)
	}
	return nil
}
