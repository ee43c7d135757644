package bulkengine

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/medplumcli/medplum/commands/cmdutil"
)

// ReportFile is a report written to a temporary file next to its path and
// renamed into place, 0600, by Commit, so that an interrupted run never
// leaves half a report over a complete one.
type ReportFile struct {
	*os.File
	path string
}

// CreateReport starts the report that Commit will put at path. flag names
// the option in errors ("--report"). A directory that is not there is an
// input error (exit 2) naming it, as --state's is: callers create the
// report before they read or send anything.
func CreateReport(path, flag string) (*ReportFile, error) {
	if err := CheckDir(path, flag); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return &ReportFile{File: f, path: path}, nil
}

// CheckDir is CreateReport's check of path's directory, for a caller that
// creates a file there later (a report, a journal) but must refuse one it
// could not write before it reads or sends anything: flag names it.
func CheckDir(path, flag string) error {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return cmdutil.InputErrorf("%s %s: no directory %s", flag, path, dir)
	}
	return nil
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
