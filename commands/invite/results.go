package invite

import (
	"fmt"
	"io"
	"strconv"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/internal/bulkengine"
	"github.com/medplumcli/medplum/commands/invite/bulk"
	"github.com/medplumcli/medplum/commands/output"
)

// resultWriter streams per-row results: nothing is kept in memory.
type resultWriter interface {
	Write(bulk.Result) error
	Close() error
}

// reportColumns are the columns of --report and -o csv.
// change is what --upsert changed on a member; earlier_run says that an
// earlier run finished the row (it was read from the journal, not sent).
var reportColumns = []string{"line", "email", "external_id", "status", "membership_id", "error", "change", "earlier_run"}

type csvResults struct {
	w *output.CSVWriter
}

func newCSVResults(w io.Writer, header bool) (*csvResults, error) {
	cw := output.NewCSVWriter(w)
	if header {
		if err := cw.Write(reportColumns); err != nil {
			return nil, err
		}
	}
	return &csvResults{w: cw}, nil
}

func (c *csvResults) Write(r bulk.Result) error {
	return c.w.Write([]string{strconv.Itoa(r.Line), r.Email, r.ExternalID, string(r.Status), r.Membership, r.Error, r.Change, strconv.FormatBool(r.Earlier)})
}

func (c *csvResults) Close() error {
	c.w.Flush()
	return c.w.Error()
}

// jsonResult is one row in -o json and -o ndjson.
type jsonResult struct {
	Line         int    `json:"line"`
	Email        string `json:"email,omitempty"`
	ExternalID   string `json:"externalId,omitempty"`
	Status       string `json:"status"`
	MembershipID string `json:"membershipId,omitempty"`
	Error        string `json:"error,omitempty"`
	Change       string `json:"change,omitempty"`
	EarlierRun   bool   `json:"earlierRun,omitempty"`
}

func toJSON(r bulk.Result) jsonResult {
	return jsonResult{Line: r.Line, Email: r.Email, ExternalID: r.ExternalID, Status: string(r.Status),
		MembershipID: r.Membership, Error: r.Error, Change: r.Change, EarlierRun: r.Earlier}
}

// jsonResults writes one JSON array, element by element, or NDJSON.
type jsonResults struct {
	w      io.Writer
	array  bool
	wrote  bool
	closed bool
}

func (j *jsonResults) Write(r bulk.Result) error {
	b, err := cmdutil.MarshalJSON(toJSON(r), "")
	if err != nil {
		return err
	}
	prefix := ""
	if j.array {
		prefix = ",\n  "
		if !j.wrote {
			prefix = "[\n  "
		}
	}
	j.wrote = true
	_, err = fmt.Fprintf(j.w, "%s%s", prefix, b)
	if err == nil && !j.array {
		_, err = io.WriteString(j.w, "\n")
	}
	return err
}

func (j *jsonResults) Close() error {
	if !j.array || j.closed {
		return nil
	}
	j.closed = true
	if !j.wrote {
		_, err := io.WriteString(j.w, "[]\n")
		return err
	}
	_, err := io.WriteString(j.w, "\n]\n")
	return err
}

// reportFile writes --report through the bulk engine's ReportFile: a
// temporary file next to it, renamed into place on Close, so that an
// interrupted run never leaves half a report over a complete one.
type reportFile struct {
	*csvResults
	f *bulkengine.ReportFile
}

func createReport(path string) (*reportFile, error) {
	f, err := bulkengine.CreateReport(path, "--report")
	if err != nil {
		return nil, err
	}
	c, err := newCSVResults(f, true)
	if err != nil {
		f.Commit(err)
		return nil, err
	}
	return &reportFile{csvResults: c, f: f}, nil
}

func (r *reportFile) Close() error { return r.f.Commit(r.csvResults.Close()) }

// multiResults fans results out.
type multiResults []resultWriter

func (m multiResults) Write(r bulk.Result) error {
	for _, w := range m {
		if err := w.Write(r); err != nil {
			return err
		}
	}
	return nil
}

func (m multiResults) Close() error {
	var first error
	for _, w := range m {
		if err := w.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
