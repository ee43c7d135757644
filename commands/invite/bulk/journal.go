package bulk

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
)

// Status is the final state of one row.
type Status string

const (
	Created Status = "created" // the invite made a new membership
	Exists  Status = "exists"  // the user was already a member; nothing changed
	Updated Status = "updated" // the user was already a member and --upsert updated it
	Failed  Status = "failed"  // the server refused the invite, or it could not be sent
	Skipped Status = "skipped" // the row is invalid and --skip-invalid was given
)

// Done reports whether the row needs nothing more.
func (s Status) Done() bool { return s == Created || s == Exists || s == Updated }

const (
	journalMagic   = "medplum-invite-journal"
	journalVersion = 2 // 2 added marks; version 1 journals are read too
	stateStarted   = "started"
)

// JournalKey ties a journal to one run: the same input, against the same
// project on the same server. A journal with another key is refused.
type JournalKey struct {
	Input   string `json:"input"`   // digest of the CSV, CheckResult.DigestString
	Server  string `json:"server"`  // base URL
	Project string `json:"project"` // project id
}

// Entry is a finished row as the journal remembers it.
type Entry struct {
	Status     Status
	Membership string
	Error      string
	Change     string // what an --upsert changed ("admin true -> false; ...")
}

// Resume is what an earlier run left in the journal.
type Resume struct {
	// Done holds rows that need nothing more (created, exists, updated).
	Done map[int]Entry
	// InFlight holds rows whose request may have reached the server but
	// whose outcome was not recorded. They must be looked up before being
	// sent again.
	InFlight map[int]InFlight
	// Failed counts rows that failed for sure; they are tried again.
	Failed int
}

// InFlight is a row whose outcome an earlier run did not record.
type InFlight struct {
	// Mark is the last mark recorded before its first request (nil in a
	// journal of an older medplum): a membership found by the lookup is
	// judged against it.
	Mark *Mark
	// Upsert says the last request was the --upsert resend for a user
	// who was already a member (it is safe to send again).
	Upsert bool
}

// record is one line of the journal file.
type record struct {
	Journal     string `json:"journal,omitempty"` // journalMagic, header line only
	Version     int    `json:"version,omitempty"`
	*JournalKey        // header line only
	Line        int    `json:"line,omitempty"`
	State       string `json:"state,omitempty"`  // "started" or a Status
	At          int64  `json:"at,omitempty"`     // unix milliseconds
	Upsert      bool   `json:"upsert,omitempty"` // a started record of the --upsert resend
	Membership  string `json:"membership,omitempty"`
	Error       string `json:"error,omitempty"`
	Change      string `json:"change,omitempty"` // Entry.Change (older journals have none)
	Mark        *Mark  `json:"mark,omitempty"`   // a mark line: what the next rows are judged against
	// Uncertain marks a failure after which the server may still have
	// made the membership (a dropped connection, a gateway timeout).
	Uncertain bool `json:"uncertain,omitempty"`
}

// MismatchError means the journal belongs to another input, server or project.
type MismatchError struct {
	Path       string
	What       string
	Have, Want string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("journal %s belongs to another run: it records %s %s, this run has %s; delete it, or choose another journal with --state",
		e.Path, e.What, e.Have, e.Want)
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
// Start, Mark and Finish return once their record is on disk. FinishLater
// queues a record and returns a Ticket at once; Wait(ticket) returns once
// the record, and every record queued before it, is on disk.
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

// OpenJournal opens (or creates) the journal at path for key and returns
// what an earlier run recorded in it. A journal written for another key is
// refused with a *MismatchError; a journal in use by another process is
// refused too.
func OpenJournal(path string, key JournalKey) (*Journal, *Resume, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open journal: %w", err)
	}
	unlock, err := lockFile(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("journal %s is in use by another medplum process", path)
	}
	fail := func(err error) (*Journal, *Resume, error) {
		unlock()
		f.Close()
		return nil, nil, err
	}
	res, good, err := loadJournal(f, path, key)
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
		if err := j.write(record{Journal: journalMagic, Version: journalVersion, JournalKey: &k, At: time.Now().UnixMilli()}); err != nil {
			j.Close()
			return nil, nil, err
		}
		syncDir(filepath.Dir(path))
	}
	return j, res, nil
}

// loadJournal reads the records and returns the state and the length of the
// well-formed prefix of the file.
func loadJournal(f io.Reader, path string, key JournalKey) (*Resume, int64, error) {
	res := &Resume{Done: map[int]Entry{}, InFlight: map[int]InFlight{}}
	failed := map[int]bool{}
	var mark *Mark // the last mark line so far
	br := bufio.NewReaderSize(f, 64<<10)
	var good int64
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // a last line without its newline was torn by a crash
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read journal %s: %w", path, err)
		}
		if bytes.IndexByte(line, 0) >= 0 {
			// The preallocated zeros after the last commit, with whatever
			// part of an unsynced commit reached the disk: never relied on.
			break
		}
		var rec record
		if err := json.Unmarshal(line, &rec); err != nil {
			if n == 1 {
				return nil, 0, fmt.Errorf("%s is not a medplum invite journal; choose another file with --state", path)
			}
			return nil, 0, fmt.Errorf("journal %s is damaged at line %d; delete it to start over", path, n)
		}
		good += int64(len(line))
		if n == 1 {
			if rec.Journal != journalMagic || rec.JournalKey == nil {
				return nil, 0, fmt.Errorf("%s is not a medplum invite journal; choose another file with --state", path)
			}
			if rec.Version < 1 || rec.Version > journalVersion {
				return nil, 0, fmt.Errorf("journal %s has version %d; this medplum writes version %d", path, rec.Version, journalVersion)
			}
			if err := compareKey(path, *rec.JournalKey, key); err != nil {
				return nil, 0, err
			}
			continue
		}
		switch st := Status(rec.State); {
		case rec.Mark != nil:
			mark = rec.Mark
		case rec.State == stateStarted:
			f, open := res.InFlight[rec.Line]
			if !open {
				f.Mark = mark
			}
			f.Upsert = rec.Upsert
			res.InFlight[rec.Line] = f
			delete(failed, rec.Line)
		case st.Done():
			res.Done[rec.Line] = Entry{Status: st, Membership: rec.Membership, Error: rec.Error, Change: rec.Change}
			delete(res.InFlight, rec.Line)
			delete(failed, rec.Line)
		case st == Failed && !rec.Uncertain:
			delete(res.InFlight, rec.Line)
			failed[rec.Line] = true
		case st == Failed:
			// Uncertain: keep the row in flight so that it is looked up.
		default:
			return nil, 0, fmt.Errorf("journal %s is damaged at line %d: unknown state %q", path, n, rec.State)
		}
	}
	res.Failed = len(failed)
	return res, good, nil
}

func compareKey(path string, have, want JournalKey) error {
	switch {
	case have.Input != want.Input:
		return &MismatchError{Path: path, What: "an input file with digest", Have: have.Input, Want: want.Input}
	case have.Server != want.Server:
		return &MismatchError{Path: path, What: "the server", Have: have.Server, Want: want.Server}
	case have.Project != want.Project:
		return &MismatchError{Path: path, What: "the project", Have: have.Project, Want: want.Project}
	}
	return nil
}

// Path is where the journal lives.
func (j *Journal) Path() string { return j.path }

// Start records that a request for a row is about to be sent. upsert marks
// the --upsert resend. The record is on disk when Start returns.
func (j *Journal) Start(line int, upsert bool) error {
	return j.write(record{Line: line, State: stateStarted, At: time.Now().UnixMilli(), Upsert: upsert})
}

// Mark records a mark read from the server; the rows started after it are
// judged against it. The record is on disk when Mark returns.
func (j *Journal) Mark(m *Mark) error {
	return j.write(record{Mark: m, At: time.Now().UnixMilli()})
}

// Finish records a row's final state. uncertain marks a failure after which
// the membership may exist anyway: a later run looks it up before sending.
// The record is on disk when Finish returns.
func (j *Journal) Finish(line int, e Entry, uncertain bool) error {
	t, err := j.FinishLater(line, e, uncertain)
	if err != nil {
		return err
	}
	return j.Wait(t)
}

// FinishLater queues the record Finish writes and returns without waiting
// for it: it goes to disk with the next commit, and the row's result may be
// reported once Wait(ticket) returns nil.
func (j *Journal) FinishLater(line int, e Entry, uncertain bool) (Ticket, error) {
	return j.queue(record{Line: line, State: string(e.Status), At: time.Now().UnixMilli(),
		Membership: e.Membership, Error: e.Error, Change: e.Change, Uncertain: uncertain && e.Status == Failed})
}

func (j *Journal) write(rec record) error {
	t, err := j.queue(rec)
	if err != nil {
		return err
	}
	return j.Wait(t)
}

// queue appends rec to the next commit.
func (j *Journal) queue(rec record) (Ticket, error) {
	data, err := json.Marshal(rec)
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
