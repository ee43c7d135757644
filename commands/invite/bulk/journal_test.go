package bulk

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var testKey = JournalKey{Input: "sha256:aa", Server: "http://localhost:1/", Project: "p1"}

func TestJournalResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.csv.journal")
	j, res, err := OpenJournal(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Done)+len(res.InFlight)+res.Failed != 0 {
		t.Fatalf("new journal not empty: %+v", res)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	start := func(line int) { must(j.Start(line, false)) }
	m1 := &Mark{LastUpdated: "2026-01-02T03:04:05.006Z", IDs: []string{"a", "b"}, Complete: true}
	m2 := &Mark{LastUpdated: "2026-01-02T03:04:09.000Z", IDs: []string{"c"}}
	start(9) // before any mark: a journal of an older medplum
	must(j.Mark(m1))
	start(2)
	must(j.Finish(2, Entry{Status: Created, Membership: "m2"}, false))
	start(3) // in flight when the process died
	start(4)
	must(j.Finish(4, Entry{Status: Failed, Error: "Access policy x does not exist"}, false))
	start(5)
	must(j.Mark(m2))       // a row's rows keep the mark of their first request
	must(j.Start(5, true)) // the --upsert resend
	must(j.Finish(5, Entry{Status: Failed, Error: "connection reset"}, true))
	start(6)
	must(j.Finish(6, Entry{Status: Updated, Membership: "m6", Change: "admin true -> false"}, false))
	start(7)
	must(j.Finish(7, Entry{Status: Failed, Error: "boom"}, false))
	start(7) // retried in a later run and finished
	must(j.Finish(7, Entry{Status: Created, Membership: "m7", Error: "Could not send email"}, false))
	start(8)
	must(j.Close())

	j, res, err = OpenJournal(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	want := map[int]Entry{2: {Created, "m2", "", ""}, 6: {Updated, "m6", "", "admin true -> false"}, 7: {Created, "m7", "Could not send email", ""}}
	if len(res.Done) != len(want) {
		t.Errorf("done = %+v", res.Done)
	}
	for l, e := range want {
		if res.Done[l] != e {
			t.Errorf("line %d: %+v, want %+v", l, res.Done[l], e)
		}
	}
	if len(res.InFlight) != 4 || res.InFlight[3].Upsert || !res.InFlight[5].Upsert {
		t.Errorf("in flight = %v, want line 3 (first request), 5 (upsert resend), 8 and 9", res.InFlight)
	}
	for line, want := range map[int]*Mark{3: m1, 5: m1, 8: m2, 9: nil} {
		got := res.InFlight[line].Mark
		if (got == nil) != (want == nil) || (got != nil && (got.LastUpdated != want.LastUpdated ||
			strings.Join(got.IDs, ",") != strings.Join(want.IDs, ",") || got.Complete != want.Complete)) {
			t.Errorf("line %d: mark %+v, want %+v", line, got, want)
		}
	}
	if res.Failed != 1 {
		t.Errorf("failed = %d, want 1 (line 4)", res.Failed)
	}
}

// A journal written by the medplum before marks (version 1) is resumed; one
// of a newer medplum is refused.
func TestJournalVersions(t *testing.T) {
	dir := t.TempDir()
	header := func(v int) string {
		return `{"journal":"medplum-invite-journal","version":` + strconv.Itoa(v) +
			`,"input":"sha256:aa","server":"http://localhost:1/","project":"p1","at":1}` + "\n"
	}
	v1 := filepath.Join(dir, "v1")
	os.WriteFile(v1, []byte(header(1)+`{"line":2,"state":"started","at":2}`+"\n"+`{"line":3,"state":"exists","membership":"m3","at":3}`+"\n"), 0o600)
	j, res, err := OpenJournal(v1, testKey)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if f, ok := res.InFlight[2]; !ok || f.Mark != nil || res.Done[3].Membership != "m3" {
		t.Errorf("version 1: %+v", res)
	}
	v3 := filepath.Join(dir, "v3")
	os.WriteFile(v3, []byte(header(3)), 0o600)
	if _, _, err := OpenJournal(v3, testKey); err == nil || err.Error() != "journal "+v3+" has version 3; this medplum writes version 2" {
		t.Errorf("version 3: %v", err)
	}
}

func TestJournalMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, _, err := OpenJournal(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	other := testKey
	other.Input = "sha256:bb"
	_, _, err = OpenJournal(path, other)
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v", err)
	}
	if want := "journal " + path + " belongs to another run: it records an input file with digest sha256:aa, this run has sha256:bb; delete it, or choose another journal with --state"; err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	other = testKey
	other.Project = "p2"
	if _, _, err = OpenJournal(path, other); !errors.As(err, &me) || me.What != "the project" {
		t.Errorf("project mismatch: %v", err)
	}
}

func TestJournalTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, _, err := OpenJournal(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	j.Start(2, false)
	j.Finish(2, Entry{Status: Created, Membership: "m2"}, false)
	j.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"line":3,"state":"crea`) // the crash hit mid-write
	f.Close()

	j, res, err := OpenJournal(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Done) != 1 || len(res.InFlight) != 0 {
		t.Fatalf("after torn tail: %+v", res)
	}
	j.Start(3, false)
	j.Close()
	j, res, err = OpenJournal(path, testKey)
	if err != nil {
		t.Fatalf("reopen after writing past a torn tail: %v", err)
	}
	j.Close()
	if len(res.InFlight) != 1 {
		t.Fatalf("in flight = %v", res.InFlight)
	}
}

func TestJournalRefusals(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	j, _, err := OpenJournal(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenJournal(path, testKey); err == nil || !strings.Contains(err.Error(), "in use by another medplum process") {
		t.Errorf("second open: %v", err)
	}
	j.Close()

	notJournal := filepath.Join(dir, "users.csv")
	os.WriteFile(notJournal, []byte("firstName,lastName,email\n"), 0o600)
	if _, _, err := OpenJournal(notJournal, testKey); err == nil || err.Error() != notJournal+" is not a medplum invite journal; choose another file with --state" {
		t.Errorf("not a journal: %v", err)
	}
	data, _ := os.ReadFile(notJournal)
	if string(data) != "firstName,lastName,email\n" {
		t.Errorf("refusing a file changed it: %q", data)
	}

	damaged := filepath.Join(dir, "d")
	j, _, _ = OpenJournal(damaged, testKey)
	j.Close()
	f, _ := os.OpenFile(damaged, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("garbage\n{\"line\":2,\"state\":\"started\"}\n")
	f.Close()
	if _, _, err := OpenJournal(damaged, testKey); err == nil || err.Error() != "journal "+damaged+" is damaged at line 2; delete it to start over" {
		t.Errorf("damaged: %v", err)
	}
}

func TestJournalConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, _, err := OpenJournal(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			line := i + 2
			if err := j.Start(line, false); err != nil {
				t.Error(err)
			}
			if err := j.Finish(line, Entry{Status: Created, Membership: "m"}, false); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Start(1000, false); err == nil {
		t.Error("write after Close succeeded")
	}
	j, res, err := OpenJournal(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if len(res.Done) != 200 || len(res.InFlight) != 0 {
		t.Fatalf("done=%d inflight=%d", len(res.Done), len(res.InFlight))
	}
}
