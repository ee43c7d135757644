package bulkengine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/medplumcli/medplum/commands/cmdutil"
)

// Format names a kind of journal: the magic of its header line, the
// versions this medplum writes and reads, and the words its errors use.
type Format struct {
	Magic      string // "medplum-invite-journal"
	Version    int    // the version written
	MinVersion int    // the oldest version read (default 1)
	Kind       string // "invite" in "... is not a medplum invite journal"
	Flag       string // the flag that chooses another journal ("--state")
}

// Key ties a journal to one run: the same input, against the same project
// on the same server. A journal with another key is refused.
type Key struct {
	Input   string `json:"input"`   // digest of the input ("sha256:...")
	Server  string `json:"server"`  // base URL
	Project string `json:"project"` // project id
}

// header is the first line of every journal.
type header struct {
	Journal string `json:"journal"`
	Version int    `json:"version"`
	*Key
	At int64 `json:"at,omitempty"` // unix milliseconds
}

// MismatchError means the journal belongs to another input, server or project.
type MismatchError struct {
	Path       string
	What       string
	Have, Want string
	Flag       string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("journal %s belongs to another run: it records %s %s, this run has %s; delete it, or choose another journal with %s",
		e.Path, e.What, e.Have, e.Want, e.Flag)
}

// Replay receives each record of an existing journal, after its header, in
// order: the bytes of line n of the file (valid JSON, newline included), and
// the header's version. An error stops the opening; DamagedError says so in
// the journal's words.
type Replay func(n int, line []byte, version int) error

// DamagedError is a record a Replay cannot make sense of.
type DamagedError struct {
	Path   string
	N      int    // line of the file
	Reason string // "" or what is wrong ("unknown state \"x\"")
}

func (e *DamagedError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("journal %s is damaged at line %d; delete it to start over", e.Path, e.N)
	}
	return fmt.Sprintf("journal %s is damaged at line %d: %s", e.Path, e.N, e.Reason)
}

// Journal is an append-only, fsync'd log of what a bulk run did, written
// with group commit: a writer appends its record to a shared buffer; the
// first writer to wait while no commit is under way commits whatever has
// accumulated (one write, one fsync) and wakes every writer whose record
// that made durable, while the records queued during its fsync wait for
// the next commit. Two buffers swap roles.
//
// The file grows in preallocated chunks of zeros, written and synced once,
// so that a commit overwrites blocks that exist and syncs only their data
// (fdatasync), not the file's size and extents. Close cuts the zeros off;
// after a crash they are a torn tail that the next open cuts off.
//
// Write returns once its record is on disk. Queue queues a record and
// returns a Ticket at once; Wait(ticket) returns once the record, and every
// record queued before it, is on disk.
type Journal struct {
	path   string
	f      *os.File
	unlock func()

	mu         sync.Mutex
	synced     sync.Cond // L is &mu; broadcast when a commit ends
	buf, spare []byte    // records queued for the next commit; the other buffer
	queued     Ticket    // records queued since the journal was opened
	flushd     Ticket    // records on disk
	committing bool      // a writer is writing and syncing (without mu)
	size       int64     // bytes of records in the file, all on disk
	allocated  int64     // bytes of the file, zeros after size
	syncs      int       // commits so far
	err        error     // the first failed commit; every later write fails with it
	closed     bool
}

// Ticket identifies a queued record: Wait(t) returns once it is on disk.
type Ticket uint64

// preallocate is how much the file grows at most at a time: about 10,000
// records.
const preallocate = 1 << 20

// Open opens (or creates) the journal at path for key, and hands every
// record an earlier run wrote to replay. A journal written for another key
// is refused with a *MismatchError; a journal in use by another process is
// refused too.
func Open(path string, format Format, key Key, replay Replay) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	unlock, err := lockFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s is in use by another medplum process", path)
	}
	fail := func(err error) (*Journal, error) {
		unlock()
		f.Close()
		return nil, err
	}
	good, err := Load(f, path, format, key, replay)
	if err != nil {
		return fail(err)
	}
	// Drop a torn last line (a crash in the middle of a write) so that the
	// next record starts on a line of its own.
	if err := f.Truncate(good); err != nil {
		return fail(fmt.Errorf("journal %s: %w", path, err))
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return fail(fmt.Errorf("journal %s: %w", path, err))
	}
	j := &Journal{path: path, f: f, unlock: unlock, size: good, allocated: good}
	j.synced.L = &j.mu
	if good == 0 {
		k := key
		if err := j.Write(header{Journal: format.Magic, Version: format.Version, Key: &k, At: time.Now().UnixMilli()}); err != nil {
			j.Close()
			return nil, err
		}
		syncDir(filepath.Dir(path))
	}
	return j, nil
}

// Load reads a journal's lines, checks its header against format and key,
// hands the records to replay and returns the length of the well-formed
// prefix of the file. Open uses it; it is exported for tests that replay
// the bytes a crash could leave.
func Load(f io.Reader, path string, format Format, key Key, replay Replay) (int64, error) {
	notJournal := fmt.Errorf("%s is not a medplum %s journal; choose another file with %s", path, format.Kind, format.Flag)
	br := bufio.NewReaderSize(f, 64<<10)
	var good int64
	version := 0
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // a last line without its newline was torn by a crash
		}
		if err != nil {
			return 0, fmt.Errorf("read journal %s: %w", path, err)
		}
		if bytes.IndexByte(line, 0) >= 0 {
			// The preallocated zeros after the last commit, with whatever
			// part of an unsynced commit reached the disk: never relied on.
			break
		}
		if n == 1 {
			var h header
			if err := json.Unmarshal(line, &h); err != nil || h.Journal != format.Magic || h.Key == nil {
				return 0, notJournal
			}
			if h.Version < max(format.MinVersion, 1) || h.Version > format.Version {
				return 0, fmt.Errorf("journal %s has version %d; this medplum writes version %d", path, h.Version, format.Version)
			}
			if err := compareKey(path, format.Flag, *h.Key, key); err != nil {
				return 0, err
			}
			version = h.Version
			good += int64(len(line))
			continue
		}
		if !json.Valid(line) {
			return 0, &DamagedError{Path: path, N: n}
		}
		good += int64(len(line))
		if err := replay(n, line, version); err != nil {
			return 0, err
		}
	}
	return good, nil
}

func compareKey(path, flag string, have, want Key) error {
	switch {
	case have.Input != want.Input:
		return &MismatchError{Path: path, What: "an input file with digest", Have: have.Input, Want: want.Input, Flag: flag}
	case have.Server != want.Server:
		return &MismatchError{Path: path, What: "the server", Have: have.Server, Want: want.Server, Flag: flag}
	case have.Project != want.Project:
		return &MismatchError{Path: path, What: "the project", Have: have.Project, Want: want.Project, Flag: flag}
	}
	return nil
}

// Path is where the journal lives.
func (j *Journal) Path() string { return j.path }

// Write appends rec (encoded as one JSON line) and returns once it is on
// disk.
func (j *Journal) Write(rec any) error {
	t, err := j.Queue(rec)
	if err != nil {
		return err
	}
	return j.Wait(t)
}

// Queue appends rec to the next commit and returns without waiting for it:
// it goes to disk with the next commit, once Wait(ticket) returns nil.
func (j *Journal) Queue(rec any) (Ticket, error) {
	data, err := cmdutil.MarshalJSON(rec, "")
	if err != nil {
		return 0, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return 0, j.err
	}
	if j.closed {
		return 0, fmt.Errorf("journal %s is closed", j.path)
	}
	j.buf = append(append(j.buf, data...), '\n')
	j.queued++
	return j.queued, nil
}

// Wait returns once the record of t, and every record queued before it, is
// on disk, or with the error that kept it from getting there. It commits
// them itself when no commit is under way.
func (j *Journal) Wait(t Ticket) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.flushd < t && j.err == nil {
		if j.committing {
			j.synced.Wait()
			continue
		}
		j.commitLocked()
	}
	if j.flushd >= t {
		return nil
	}
	return j.err
}

// Durable is how many bytes of records are on disk (for tests).
func (j *Journal) Durable() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.size
}

// Commits is how many commits (write and fsync) were made (for tests).
func (j *Journal) Commits() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.syncs
}

// commitLocked writes and syncs every record queued so far (j.mu held, and
// released meanwhile), then wakes the waiters.
func (j *Journal) commitLocked() {
	j.committing = true
	out := j.buf
	j.buf = j.spare[:0]
	upto, at := j.queued, j.size
	grow := at+int64(len(out)) > j.allocated
	j.mu.Unlock()

	var err error
	if grow {
		err = j.grow(at + int64(len(out)))
	}
	if err == nil {
		_, err = j.f.WriteAt(out, at)
	}
	if err == nil {
		err = datasync(j.f)
	}

	j.mu.Lock()
	j.committing = false
	j.spare = out
	if err != nil {
		j.err = fmt.Errorf("write journal %s: %w", j.path, err)
	} else {
		j.flushd = upto
		j.size += int64(len(out))
		j.syncs++
	}
	j.synced.Broadcast()
}

// grow extends the file with zeros past need, and syncs it whole: its new
// size and blocks are on disk before any record is written into them. The
// chunks double from 64 KiB (a run of a few rows writes little) to 1 MiB.
func (j *Journal) grow(need int64) error {
	chunk := min(max(j.allocated, 64<<10), preallocate)
	n := (need - j.allocated + chunk - 1) / chunk * chunk
	if _, err := j.f.WriteAt(make([]byte, n), j.allocated); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return err
	}
	j.allocated += n // only the committer touches it
	return nil
}

// Close commits what is queued, cuts the preallocated zeros off and
// releases the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	for j.committing {
		j.synced.Wait()
	}
	if j.err == nil && len(j.buf) > 0 {
		j.commitLocked()
	}
	err := j.err
	size, allocated := j.size, j.allocated
	j.mu.Unlock()
	if err == nil && allocated > size {
		if err = j.f.Truncate(size); err == nil {
			err = j.f.Sync()
		}
		if err != nil {
			err = fmt.Errorf("write journal %s: %w", j.path, err)
		}
	}
	j.unlock()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a new file's directory entry durable. Best effort: not every
// platform can fsync a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
