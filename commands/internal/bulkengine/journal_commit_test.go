package bulkengine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The records of these tests: a unit "started", then "created" (with a
// membership id), the last record of a line winning, as the invite journal
// does.
var testFormat = Format{Magic: "medplum-test-journal", Version: 1, Kind: "test", Flag: "--state"}

var testKey = Key{Input: "sha256:aa", Server: "http://localhost:1/", Project: "p1"}

type testRecord struct {
	Line       int    `json:"line"`
	State      string `json:"state"`
	At         int64  `json:"at,omitempty"`
	Membership string `json:"membership,omitempty"`
}

type Entry struct{ Membership string }

type InFlight struct{}

type Resume struct {
	Done     map[int]Entry
	InFlight map[int]InFlight
	Failed   int
}

func resumeOf(path string) (*Resume, Replay) {
	res := &Resume{Done: map[int]Entry{}, InFlight: map[int]InFlight{}}
	return res, func(n int, line []byte, _ int) error {
		var rec testRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return &DamagedError{Path: path, N: n}
		}
		switch rec.State {
		case "started":
			res.InFlight[rec.Line] = InFlight{}
		case "created":
			delete(res.InFlight, rec.Line)
			res.Done[rec.Line] = Entry{Membership: rec.Membership}
		default:
			return &DamagedError{Path: path, N: n, Reason: "unknown state " + rec.State}
		}
		return nil
	}
}

// testJournal is a journal of testRecords, as the invite journal is one of
// its rows.
type testJournal struct{ *Journal }

func openTest(path string) (*testJournal, *Resume, error) {
	res, replay := resumeOf(path)
	j, err := Open(path, testFormat, testKey, replay)
	if err != nil {
		return nil, nil, err
	}
	return &testJournal{j}, res, nil
}

func loadTest(r io.Reader, path string) (*Resume, int64, error) {
	res, replay := resumeOf(path)
	good, err := Load(r, path, testFormat, testKey, replay)
	return res, good, err
}

func (j *testJournal) Start(line int) error {
	return j.Write(testRecord{Line: line, State: "started", At: time.Now().UnixMilli()})
}

func (j *testJournal) FinishLater(line int, membership string) (Ticket, error) {
	return j.Queue(testRecord{Line: line, State: "created", At: time.Now().UnixMilli(), Membership: membership})
}

// Group commit under many concurrent writers, and a crash at every byte
// of the file that results. Each writer does what a row does: write its
// "started" record, "send" (noted with how much of the file was durable at
// that moment), then queue its finished record and wait for it before
// "reporting" the row, or leave the row in flight. A crash can leave any
// prefix of the file that is at least as long as what was durable when it
// struck (a torn batch, a torn record), followed by the preallocated zeros
// (with or without parts of an unsynced commit). For every such prefix the
// journal must open, and every row whose request could have been sent
// before the crash (its "sent" came before the crash, so the durable
// length then was at most the prefix) must come back started or finished;
// every row reported finished before the crash must come back finished.
func TestJournalGroupCommitCrashAtEveryByte(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.csv.journal")
	j, _, err := openTest(path)
	if err != nil {
		t.Fatal(err)
	}
	const rows, writers = 64, 16
	type event struct {
		line    int
		durable int64 // bytes of the file on disk when it happened
	}
	var (
		mu            sync.Mutex
		sent, reports []event
		next          = 2
	)
	durable := j.Durable
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for {
				mu.Lock()
				line := next
				next++
				mu.Unlock()
				if line >= rows+2 {
					return
				}
				if err := j.Start(line); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				sent = append(sent, event{line, durable()})
				mu.Unlock()
				if line%6 == 0 {
					continue // in flight when the process dies
				}
				tk, err := j.FinishLater(line, fmt.Sprintf("m%d", line))
				if err == nil {
					err = j.Wait(tk) // what the runner's report waits for
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				reports = append(reports, event{line, durable()})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	records := bytes.Count(data, []byte("\n"))
	if len(sent) != rows || j.Commits() >= records {
		t.Fatalf("%d rows sent, %d records in %d commits; want %d rows, and commits shared", len(sent), records, j.syncs, rows)
	}
	t.Logf("%d records in %d commits", records, j.Commits())
	header := bytes.IndexByte(data, '\n') + 1

	states := replay(t, data[header:])
	crash := filepath.Join(dir, "crash.journal")
	zeros := make([]byte, 100)
	for k := header; k <= len(data); k++ {
		res, good, err := loadTest(bytes.NewReader(data[:k]), crash)
		if err != nil {
			t.Fatalf("crash at byte %d: %v", k, err)
		}
		if want := bytes.LastIndexByte(data[:k], '\n') + 1; good != int64(want) {
			t.Fatalf("crash at byte %d: %d bytes kept, want %d (whole lines)", k, good, want)
		}
		// The same with the preallocated zeros after it, and with the next
		// record written past them (an unsynced commit of which only a
		// later block reached the disk).
		next := min(k+len(zeros)+60, len(data))
		for _, tail := range [][]byte{zeros, append(slices.Clip(zeros), data[min(k+len(zeros), len(data)):next]...)} {
			zres, zgood, err := loadTest(bytes.NewReader(append(slices.Clip(data[:k]), tail...)), crash)
			if err != nil || zgood != good || !sameResume(zres, res) {
				t.Fatalf("crash at byte %d, then zeros: %v, %d bytes kept (want %d), %+v", k, err, zgood, good, zres)
			}
		}
		if k%61 == 0 || k == len(data) { // the file itself, now and then
			if err := os.WriteFile(crash, data[:k], 0o600); err != nil {
				t.Fatal(err)
			}
			cj, fres, err := openTest(crash)
			if err != nil {
				t.Fatalf("crash at byte %d: %v", k, err)
			}
			cj.Close()
			if !sameResume(fres, res) {
				t.Fatalf("crash at byte %d: the file opens as %+v, the bytes read as %+v", k, fres, res)
			}
		}
		for _, e := range sent {
			_, inFlight := res.InFlight[e.line]
			_, done := res.Done[e.line]
			if e.durable <= int64(k) && !inFlight && !done {
				t.Fatalf("crash at byte %d: line %d was sent with %d bytes on disk, and is neither started nor done", k, e.line, e.durable)
			}
		}
		for _, e := range reports {
			if got := res.Done[e.line]; e.durable <= int64(k) && got.Membership != fmt.Sprintf("m%d", e.line) {
				t.Fatalf("crash at byte %d: line %d was reported with %d bytes on disk, and comes back %+v", k, e.line, e.durable, got)
			}
		}
		// What came back is what the whole lines of the prefix say.
		if want := states[bytes.Count(data[header:k], []byte("\n"))]; !sameResume(res, want) {
			t.Fatalf("crash at byte %d: got %+v, want %+v", k, res, want)
		}
	}
}

// replay returns the state after each whole line of records (states[n]
// after n lines), read the simplest way: the last record of a row wins.
func replay(t *testing.T, records []byte) []*Resume {
	cur := &Resume{Done: map[int]Entry{}, InFlight: map[int]InFlight{}}
	states := []*Resume{cur}
	for l := range bytes.Lines(records) {
		if l[len(l)-1] != '\n' {
			break // torn
		}
		var rec testRecord
		if err := json.Unmarshal(l, &rec); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		cur = &Resume{Done: maps.Clone(cur.Done), InFlight: maps.Clone(cur.InFlight)}
		switch {
		case rec.State == "started":
			cur.InFlight[rec.Line] = InFlight{}
		case rec.State == "created":
			delete(cur.InFlight, rec.Line)
			cur.Done[rec.Line] = Entry{Membership: rec.Membership}
		default:
			t.Fatalf("unexpected record %s", l)
		}
		states = append(states, cur)
	}
	return states
}

func sameResume(a, b *Resume) bool {
	return maps.Equal(a.Done, b.Done) && maps.Equal(a.InFlight, b.InFlight) && a.Failed == b.Failed
}

// BenchmarkJournalRows: one op is one row's two records (Start, then
// Finish), each waited for, from 16 goroutines at once: what group commit
// and the encoding cost per row.
//
//	go test -run '^$' -bench JournalRows -benchmem ./commands/internal/bulkengine/
func BenchmarkJournalRows(b *testing.B) {
	for _, dir := range []string{"", "/dev/shm"} {
		name := "disk"
		if dir != "" {
			name = "tmpfs"
			if _, err := os.Stat(dir); err != nil {
				continue
			}
		} else {
			dir = b.TempDir()
		}
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(dir, fmt.Sprintf("bench-%d.journal", os.Getpid()))
			defer os.Remove(path)
			j, _, err := openTest(path)
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			var line atomic.Int64
			b.SetParallelism(8) // 16 writers on 2 CPUs
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := int(line.Add(1))
					if err := j.Start(n); err != nil {
						b.Fatal(err)
					}
					tk, err := j.FinishLater(n, "3f2a9c1e-7d41-4c2b-9a8e-0c5d6f7e8a9b")
					if err == nil {
						err = j.Wait(tk)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
