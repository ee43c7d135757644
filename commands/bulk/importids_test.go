package bulk

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/commands/internal/bulkengine"
)

func testIDMap(t *testing.T) *idMap {
	t.Helper()
	m, err := newIDMap(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// The id map gives back exactly the new ids it was given: UUIDs (kept as
// 16 bytes) and anything else (kept in a file of their own), per old
// "Type/id"; it knows the input's ids and where each was first.
func TestIDMap(t *testing.T) {
	m := testIDMap(t)
	refs := []string{"Patient/a", "Patient/b", "Observation/a", "Patient/c", "Patient/d", "Patient/e"}
	for i, r := range refs {
		if _, dup := m.add(r, linePos{File: 0, N: int32(i + 1)}); dup {
			t.Fatalf("%s: a duplicate", r)
		}
	}
	if at, dup := m.add("Observation/a", linePos{File: 1, N: 9}); !dup || at != (linePos{File: 0, N: 3}) {
		t.Errorf("Observation/a again: %v %v", at, dup)
	}
	if m.has("Patient/z") || !m.has("Observation/a") || m.known("Patient/a") || m.newRef("Patient/a") != "" {
		t.Error("an unknown id, or a new id before any was set")
	}
	news := map[string]string{
		"Patient/a":     "Patient/0b8e7c2a-5d4f-4e1b-9a3c-1f2e3d4c5b6a",
		"Patient/b":     "Patient/not-a-uuid",
		"Observation/a": "Observation/0B8E7C2A-5D4F-4E1B-9A3C-1F2E3D4C5B6A", // not lowercase: kept as it is
		"Patient/c":     "Patient/00000000-0000-0000-0000-000000000000",
		"Patient/d":     "Practitioner/0b8e7c2a-5d4f-4e1b-9a3c-1f2e3d4c5b6a", // another type
	}
	for old, nw := range news {
		m.setNew(old, nw)
	}
	m.setNew("Patient/z", "Patient/0b8e7c2a-5d4f-4e1b-9a3c-1f2e3d4c5b6b") // not in the input: ignored
	m.setNew("Patient/y", "Patient/y-new")                                // not in the input, not a UUID: ignored
	for _, r := range refs {
		if got := m.newRef(r); got != news[r] || m.known(r) != (news[r] != "") {
			t.Errorf("%s: %q (known %v), want %q", r, got, m.known(r), news[r])
		}
	}
	if m.has("Patient/z") || m.newRef("Patient/z") != "" || m.has("Patient/y") {
		t.Error("Patient/z or Patient/y was added")
	}
	m.setNew("Patient/b", "Patient/1b8e7c2a-5d4f-4e1b-9a3c-1f2e3d4c5b6a") // a string, then a UUID
	if got := m.newRef("Patient/b"); got != "Patient/1b8e7c2a-5d4f-4e1b-9a3c-1f2e3d4c5b6a" {
		t.Errorf("Patient/b: %q", got)
	}
	m.setNew("Patient/a", "Patient/other") // a UUID, then a string
	if got := m.newRef("Patient/a"); got != "Patient/other" {
		t.Errorf("Patient/a: %q", got)
	}
	if at, dup := m.add("Patient/a", linePos{File: 3, N: 3}); !dup || at != (linePos{File: 0, N: 1}) {
		t.Errorf("Patient/a again, after its new id: %v %v", at, dup)
	}
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
}

// Enough ids to make the table grow twice (16,384 slots, 65,536, then
// 262,144, each time into a new file), each found again with its place and
// its new id, after the moves and through the cache; none of them twice.
func TestIDMapGrows(t *testing.T) {
	m, err := newIDMapOf(t.TempDir(), 1<<14)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const n = 100_000
	uuid := func(i int) string { return fmt.Sprintf("Patient/%08x-0000-4000-8000-%012x", i+1, i) }
	for i := range n {
		if _, dup := m.add(fmt.Sprintf("Patient/p%d", i), linePos{File: int32(i % 3), N: int32(i)}); dup {
			t.Fatalf("p%d: a duplicate", i)
		}
		if i%2 == 0 {
			m.setNew(fmt.Sprintf("Patient/p%d", i), uuid(i))
		}
	}
	if got := m.t.Len(); got != n {
		t.Fatalf("%d keys, want %d", got, n)
	}
	if m.t.n != 1<<18 {
		t.Errorf("%d slots, want %d", m.t.n, 1<<18)
	}
	for i := range n {
		ref := fmt.Sprintf("Patient/p%d", i)
		at, dup := m.add(ref, linePos{File: 9, N: 9})
		if !dup || at != (linePos{File: int32(i % 3), N: int32(i)}) {
			t.Fatalf("%s again: %v %v", ref, at, dup)
		}
		want := ""
		if i%2 == 0 {
			want = uuid(i)
		}
		if got := m.newRef(ref); got != want {
			t.Fatalf("%s: %q, want %q", ref, got, want)
		}
		if m.has(fmt.Sprintf("Patient/q%d", i)) {
			t.Fatalf("Patient/q%d is not in the input", i)
		}
	}
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
}

// Keys whose hashes share their home slot (the low bits) and their cache
// line are told apart by the whole 128 bits: each keeps its own value, and
// one that probes past them is absent.
func TestDiskTableCollisions(t *testing.T) {
	tb, err := newDiskTable(t.TempDir(), 8, 1<<14)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	key := func(hi uint64) tableKey {
		var k tableKey
		binary.LittleEndian.PutUint64(k[:8], 5)  // one home slot: 5
		binary.LittleEndian.PutUint64(k[8:], hi) // cache line: hi's low 16 bits
		return k
	}
	val := func(i int) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(i)) }
	const n = 20 // more than a probe window's 8 slots
	for i := range n {
		if _, dup, err := tb.Add(key(uint64(i+1)<<16), val(i)); err != nil || dup {
			t.Fatalf("key %d: %v %v", i, dup, err)
		}
	}
	for i := range n {
		have, dup, err := tb.Add(key(uint64(i+1)<<16), val(99))
		if err != nil || !dup || binary.LittleEndian.Uint64(have) != uint64(i) {
			t.Fatalf("key %d again: %v %v %v", i, have, dup, err)
		}
	}
	// Each in turn, then read back with the cache line holding another.
	for i := range n {
		if ok, err := tb.Set(key(uint64(i+1)<<16), 0, val(100+i)); !ok || err != nil {
			t.Fatalf("set %d: %v %v", i, ok, err)
		}
	}
	for i := n - 1; i >= 0; i-- {
		v, ok, err := tb.Get(key(uint64(i+1) << 16))
		if err != nil || !ok || binary.LittleEndian.Uint64(v) != uint64(100+i) {
			t.Fatalf("get %d: %v %v %v", i, v, ok, err)
		}
	}
	if _, ok, err := tb.Get(key(uint64(n+1) << 16)); ok || err != nil {
		t.Fatalf("a key after the run: %v %v", ok, err)
	}
	if ok, err := tb.Set(key(uint64(n+1)<<16), 0, val(1)); ok || err != nil {
		t.Fatalf("setting a key not there: %v %v", ok, err)
	}
	// The last slots wrap around to the first.
	var last tableKey
	binary.LittleEndian.PutUint64(last[:8], 1<<14-1)
	for i := range 3 {
		k := last
		k[8] = byte(i + 1)
		if _, dup, err := tb.Add(k, val(i)); dup || err != nil {
			t.Fatal(dup, err)
		}
	}
	for i := range 3 {
		k := last
		k[8] = byte(i + 1)
		tb.at = make([]uint64, cacheLines) // from the file, not the cache
		if v, ok, err := tb.Get(k); !ok || err != nil || binary.LittleEndian.Uint64(v) != uint64(i) {
			t.Fatalf("wrapped key %d: %v %v %v", i, v, ok, err)
		}
	}
	if _, _, err := tb.Add(tableKey{}, val(0)); err == nil {
		t.Error("a key of zeros was taken")
	}
}

// The table's files are in the directory it is given, and gone when it is
// closed (on Linux and macOS they have no name from the start: a killed
// run leaves nothing behind).
func TestDiskTableFiles(t *testing.T) {
	dir := t.TempDir()
	m, err := newIDMap(dir)
	if err != nil {
		t.Fatal(err)
	}
	m.add("Patient/a", linePos{N: 1})
	m.setNew("Patient/a", "Patient/not-a-uuid") // the second file
	if got := m.newRef("Patient/a"); got != "Patient/not-a-uuid" {
		t.Fatalf("%q", got)
	}
	names := func() []string {
		des, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, de := range des {
			n = append(n, de.Name())
		}
		return n
	}
	if got := names(); runtime.GOOS != "windows" && len(got) != 0 {
		t.Errorf("while open: %v", got)
	} else if runtime.GOOS == "windows" && (len(got) != 2 || !strings.HasSuffix(got[0], ".index")) {
		t.Errorf("while open: %v", got)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 0 {
		t.Errorf("after Close: %v", got)
	}
	if _, err := newIDMap(dir + "/missing"); err == nil || !strings.Contains(err.Error(), "the import's index") {
		t.Errorf("a missing directory: %v", err)
	}
}

// A re-run builds its id map again (the check adds the input's ids) and
// reads the new ids an earlier run learnt from the journal into it; of the
// rest of the journal it keeps a bit a chunk done, the counts, and only
// the entries to fix that were not fixed.
func TestReplayIntoIDMap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.journal")
	key := bulkengine.Key{Input: "sha256:x", Server: "http://s/", Project: "p"}
	j, err := bulkengine.Open(path, importFormat, key, func(int, []byte, int) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []importRecord{
		{Chunk: 1, State: "started"},
		{Chunk: 1, State: "done", Counts: &counts{Created: 2}, IDs: [][2]string{{"Patient/a", "Patient/0b8e7c2a-5d4f-4e1b-9a3c-1f2e3d4c5b6a"}, {"Patient/b", "Patient/b2"}}, Fix: []int{1}},
		{Chunk: 2, State: "started"},
		{Chunk: 2, State: "done", Counts: &counts{Matched: 1, Failed: 1}, IDs: [][2]string{{"Patient/c", "Patient/1b8e7c2a-5d4f-4e1b-9a3c-1f2e3d4c5b6a"}}, Fix: []int{0}},
		{Chunk: 2, State: "fixed"},
		{Chunk: 3, State: "started"},
		{Chunk: 130, State: "done", Counts: &counts{Created: 1}, IDs: [][2]string{{"Patient/gone", "Patient/x"}}},
	} {
		if err := j.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	m := testIDMap(t)
	for i, r := range []string{"Patient/a", "Patient/b", "Patient/c", "Patient/d"} {
		m.add(r, linePos{N: int32(i + 1)})
	}
	rs, replay := replayImport(path, m)
	j, err = bulkengine.Open(path, importFormat, key, replay)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	for ref, want := range map[string]string{"Patient/a": "Patient/0b8e7c2a-5d4f-4e1b-9a3c-1f2e3d4c5b6a", "Patient/b": "Patient/b2", "Patient/c": "Patient/1b8e7c2a-5d4f-4e1b-9a3c-1f2e3d4c5b6a", "Patient/d": ""} {
		if got := m.newRef(ref); got != want {
			t.Errorf("%s: %q, want %q", ref, got, want)
		}
	}
	if m.has("Patient/gone") {
		t.Error("an id the input no longer has was added")
	}
	var done []int
	for n := range 200 {
		if rs.Done.has(n) {
			done = append(done, n)
		}
	}
	if fmt.Sprint(done) != "[1 2 130]" || rs.Before != (counts{Created: 3, Matched: 1, Failed: 1}) ||
		fmt.Sprint(rs.Fix) != "map[1:{[1] []}]" || fmt.Sprint(rs.Started) != "map[3:true]" {
		t.Errorf("done %v, before %+v, fix %v, started %v", done, rs.Before, rs.Fix, rs.Started)
	}
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
}
