package bulk

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/medplumcli/medplum/commands/internal/bulkengine"
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

const stateStarted = "started"

// journalFormat is the invite journal on the bulk engine's journal: version
// 2 added marks; version 1 journals are read too.
var journalFormat = bulkengine.Format{Magic: "medplum-invite-journal", Version: 2, MinVersion: 1, Kind: "invite", Flag: "--state"}

// JournalKey ties a journal to one run: the same input, against the same
// project on the same server. A journal with another key is refused.
type JournalKey = bulkengine.Key

// MismatchError means the journal belongs to another input, server or project.
type MismatchError = bulkengine.MismatchError

// Ticket identifies a queued record: Wait(t) returns once it is on disk.
type Ticket = bulkengine.Ticket

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

// record is one line of the journal after its header.
type record struct {
	Line       int    `json:"line,omitempty"`
	State      string `json:"state,omitempty"`  // "started" or a Status
	At         int64  `json:"at,omitempty"`     // unix milliseconds
	Upsert     bool   `json:"upsert,omitempty"` // a started record of the --upsert resend
	Membership string `json:"membership,omitempty"`
	Error      string `json:"error,omitempty"`
	Change     string `json:"change,omitempty"` // Entry.Change (older journals have none)
	Mark       *Mark  `json:"mark,omitempty"`   // a mark line: what the next rows are judged against
	// Uncertain marks a failure after which the server may still have
	// made the membership (a dropped connection, a gateway timeout).
	Uncertain bool `json:"uncertain,omitempty"`
}

// Journal is the invite journal: the bulk engine's append-only, fsync'd,
// group-committed log (bulkengine.Journal) holding a record for each row
// about to be sent (Start), each row finished (Finish, FinishLater) and
// each mark read (Mark).
type Journal struct {
	*bulkengine.Journal
}

// OpenJournal opens (or creates) the journal at path for key and returns
// what an earlier run recorded in it. A journal written for another key is
// refused with a *MismatchError; a journal in use by another process is
// refused too.
func OpenJournal(path string, key JournalKey) (*Journal, *Resume, error) {
	res, replay := resumeFrom(path)
	j, err := bulkengine.Open(path, journalFormat, key, replay)
	if err != nil {
		return nil, nil, err
	}
	res.finish()
	return &Journal{j}, &res.Resume, nil
}

// resuming builds a Resume from the records of a journal.
type resuming struct {
	Resume
	failed map[int]bool
	mark   *Mark // the last mark line so far
}

func resumeFrom(path string) (*resuming, bulkengine.Replay) {
	res := &resuming{Resume: Resume{Done: map[int]Entry{}, InFlight: map[int]InFlight{}}, failed: map[int]bool{}}
	return res, func(n int, line []byte, _ int) error {
		var rec record
		if err := json.Unmarshal(line, &rec); err != nil {
			return &bulkengine.DamagedError{Path: path, N: n}
		}
		switch st := Status(rec.State); {
		case rec.Mark != nil:
			res.mark = rec.Mark
		case rec.State == stateStarted:
			f, open := res.InFlight[rec.Line]
			if !open {
				f.Mark = res.mark
			}
			f.Upsert = rec.Upsert
			res.InFlight[rec.Line] = f
			delete(res.failed, rec.Line)
		case st.Done():
			res.Done[rec.Line] = Entry{Status: st, Membership: rec.Membership, Error: rec.Error, Change: rec.Change}
			delete(res.InFlight, rec.Line)
			delete(res.failed, rec.Line)
		case st == Failed && !rec.Uncertain:
			delete(res.InFlight, rec.Line)
			res.failed[rec.Line] = true
		case st == Failed:
			// Uncertain: keep the row in flight so that it is looked up.
		default:
			return &bulkengine.DamagedError{Path: path, N: n, Reason: fmt.Sprintf("unknown state %q", rec.State)}
		}
		return nil
	}
}

func (r *resuming) finish() { r.Failed = len(r.failed) }

// Start records that a request for a row is about to be sent. upsert marks
// the --upsert resend. The record is on disk when Start returns.
func (j *Journal) Start(line int, upsert bool) error {
	return j.Write(record{Line: line, State: stateStarted, At: time.Now().UnixMilli(), Upsert: upsert})
}

// Mark records a mark read from the server; the rows started after it are
// judged against it. The record is on disk when Mark returns.
func (j *Journal) Mark(m *Mark) error {
	return j.Write(record{Mark: m, At: time.Now().UnixMilli()})
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
	return j.Queue(record{Line: line, State: string(e.Status), At: time.Now().UnixMilli(),
		Membership: e.Membership, Error: e.Error, Change: e.Change, Uncertain: uncertain && e.Status == Failed})
}
