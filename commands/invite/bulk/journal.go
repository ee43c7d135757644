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
	Mark        *Mark  `json:"mark,omitempty"` // a mark line: what the next rows are judged against
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

// Journal is an append-only, fsync'd log of what a bulk run did. Every
// record is on disk before Start or Finish returns; concurrent callers share
// one write and one fsync (group commit).
type Journal struct {
	path   string
	f      *os.File
	unlock func()
	reqs   chan journalWrite
	done   chan struct{}

	sendMu sync.RWMutex // held to send on reqs; Close takes it to close reqs
	closed bool

	mu  sync.Mutex // guards err
	err error
}

type journalWrite struct {
	data []byte
	done chan error
}

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
	j := &Journal{path: path, f: f, unlock: unlock, reqs: make(chan journalWrite), done: make(chan struct{})}
	go j.loop()
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
func loadJournal(f *os.File, path string, key JournalKey) (*Resume, int64, error) {
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
			res.Done[rec.Line] = Entry{Status: st, Membership: rec.Membership, Error: rec.Error}
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
func (j *Journal) Finish(line int, e Entry, uncertain bool) error {
	return j.write(record{Line: line, State: string(e.Status), At: time.Now().UnixMilli(),
		Membership: e.Membership, Error: e.Error, Uncertain: uncertain && e.Status == Failed})
}

func (j *Journal) write(rec record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	j.mu.Lock()
	err = j.err
	j.mu.Unlock()
	if err != nil {
		return err
	}
	w := journalWrite{data: data, done: make(chan error, 1)}
	j.sendMu.RLock()
	if j.closed {
		j.sendMu.RUnlock()
		return fmt.Errorf("journal %s is closed", j.path)
	}
	j.reqs <- w
	j.sendMu.RUnlock()
	return <-w.done
}

// loop writes batches: whatever is waiting goes out in one write and one
// fsync, and every writer in the batch gets the result.
func (j *Journal) loop() {
	defer close(j.done)
	var buf bytes.Buffer
	for w := range j.reqs {
		batch := []journalWrite{w}
	drain:
		for {
			select {
			case more, ok := <-j.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, more)
			default:
				break drain
			}
		}
		buf.Reset()
		for _, b := range batch {
			buf.Write(b.data)
		}
		j.mu.Lock()
		err := j.err
		j.mu.Unlock()
		if err == nil {
			if _, err = j.f.Write(buf.Bytes()); err == nil {
				err = j.f.Sync()
			}
			if err != nil {
				err = fmt.Errorf("write journal %s: %w", j.path, err)
				j.mu.Lock()
				j.err = err
				j.mu.Unlock()
			}
		}
		for _, b := range batch {
			b.done <- err
		}
	}
}

// Close waits for pending writes and releases the file.
func (j *Journal) Close() error {
	j.sendMu.Lock()
	if j.closed {
		j.sendMu.Unlock()
		return nil
	}
	j.closed = true
	close(j.reqs)
	j.sendMu.Unlock()
	<-j.done
	j.unlock()
	err := j.f.Close()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
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
