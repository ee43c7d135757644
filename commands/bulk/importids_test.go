package bulk

import "testing"

// The id map gives back exactly the new ids it was given: UUIDs (kept as
// 16 bytes) and anything else (kept as strings), per old "Type/id"; it
// knows the input's ids and where each was first.
func TestIDMap(t *testing.T) {
	m := newIDMap()
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
	for _, r := range refs {
		if got := m.newRef(r); got != news[r] || m.known(r) != (news[r] != "") {
			t.Errorf("%s: %q (known %v), want %q", r, got, m.known(r), news[r])
		}
	}
	if m.has("Patient/z") || m.newRef("Patient/z") != "" {
		t.Error("Patient/z was added")
	}
	m.setNew("Patient/b", "Patient/1b8e7c2a-5d4f-4e1b-9a3c-1f2e3d4c5b6a") // a string, then a UUID
	if got := m.newRef("Patient/b"); got != "Patient/1b8e7c2a-5d4f-4e1b-9a3c-1f2e3d4c5b6a" {
		t.Errorf("Patient/b: %q", got)
	}
}
