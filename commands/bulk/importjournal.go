package bulk

import (
	"encoding/json"
	"fmt"

	"github.com/medplumcli/medplum/commands/internal/bulkengine"
)

// The import journal (bulkengine's): a "started" record for a chunk is on
// disk before its Bundle leaves; "done" after the answer, with the new id
// of every resource the chunk created or found, the entries that failed,
// and the entries whose references to resources of later chunks are still
// to be fixed; "fixed" once those were updated.

var importFormat = bulkengine.Format{Magic: "medplum-import-journal", Version: 1, Kind: "import", Flag: "--state"}

type importRecord struct {
	Chunk   int         `json:"chunk"`
	State   string      `json:"state"`             // started, done, fixed
	IDs     [][2]string `json:"ids,omitempty"`     // done: [old "Type/id", new "Type/id"]
	Counts  *counts     `json:"counts,omitempty"`  // done
	Fix     []int       `json:"fix,omitempty"`     // done: entries (index in the chunk) to fix up
	Relink  []int       `json:"relink,omitempty"`  // done: entries found by their id (--restore) whose references to re-point
	Failed  int         `json:"failed,omitempty"`  // fixed: updates that failed
	Doubled []int       `json:"doubled,omitempty"` // done: unkeyed entries resent after a lost answer
}

// kept is the part of a done record kept in memory for the rest of the
// run: its ids are in resumeState.IDs (the importer's map of old to new
// ids) already, and a copy per chunk would hold every pair twice.
func (rec importRecord) kept() importRecord {
	rec.IDs = nil
	return rec
}

// counts are the outcomes of a chunk's entries.
type counts struct {
	Created int `json:"created"`
	Matched int `json:"matched"` // already there (the conditional create found it)
	Failed  int `json:"failed"`
}

func (c *counts) add(o counts) {
	c.Created += o.Created
	c.Matched += o.Matched
	c.Failed += o.Failed
}

// resumeState is what an earlier run's journal says.
type resumeState struct {
	Done    map[int]importRecord // chunk -> its done record (without its ids: see kept)
	Started map[int]bool         // chunks sent whose answer was not recorded
	Fixed   map[int]bool
	IDs     map[string]string // old -> new
}

func replayImport(path string) (*resumeState, bulkengine.Replay) {
	rs := &resumeState{Done: map[int]importRecord{}, Started: map[int]bool{}, Fixed: map[int]bool{}, IDs: map[string]string{}}
	return rs, func(n int, b []byte, _ int) error {
		var rec importRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return &bulkengine.DamagedError{Path: path, N: n}
		}
		switch rec.State {
		case "started":
			rs.Started[rec.Chunk] = true
		case "done":
			if rec.Counts == nil {
				return &bulkengine.DamagedError{Path: path, N: n, Reason: "a done chunk without counts"}
			}
			delete(rs.Started, rec.Chunk)
			for _, p := range rec.IDs {
				rs.IDs[p[0]] = p[1]
			}
			rs.Done[rec.Chunk] = rec.kept()
		case "fixed":
			rs.Fixed[rec.Chunk] = true
		default:
			return &bulkengine.DamagedError{Path: path, N: n, Reason: fmt.Sprintf("unknown state %q", rec.State)}
		}
		return nil
	}
}
