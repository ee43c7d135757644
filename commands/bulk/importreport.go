package bulk

import (
	"strconv"

	"github.com/medplumcli/medplum/commands/internal/bulkengine"
	"github.com/medplumcli/medplum/commands/output"
)

// importReport is --report: a CSV with a row for every resource this run
// had answered, written through the bulk engine's ReportFile (a temporary
// file renamed into place at the end, 0600), as bulk invite's --report is.
type importReport struct {
	f   *bulkengine.ReportFile
	w   *output.CSVWriter // -o csv's: formula cells neutralised
	err error
}

// importReportHeader are its columns: the line, the resource as the input
// names it (Type/old id, or Type), created, restored (--restore: put back
// with its id), found or failed, the entry's
// status, its new Type/id, and the server's message for a failure. A
// resource whose references were updated after it was created has a
// second row: updated, failed (the update) or pending (it waits for a
// resource that failed).
var importReportHeader = []string{"file", "line", "resource", "result", "status", "id", "error"}

func createImportReport(path string) (*importReport, error) {
	f, err := bulkengine.CreateReport(path, "--report")
	if err != nil {
		return nil, err
	}
	r := &importReport{f: f, w: output.NewCSVWriter(f)}
	r.err = r.w.Write(importReportHeader)
	return r, nil
}

// row writes one resource's answer.
func (r *importReport) row(file string, line int, resource string, res *result) {
	if r.err != nil {
		return
	}
	outcome := "failed"
	switch {
	case res.pending:
		outcome = "pending"
	case res.update && res.done:
		outcome = "updated"
	case res.done && res.restored:
		outcome = "restored"
	case res.done && res.status == 201:
		outcome = "created"
	case res.done:
		outcome = "found"
	}
	status := ""
	if res.status != 0 {
		status = strconv.Itoa(res.status)
	}
	r.err = r.w.Write([]string{file, strconv.Itoa(line), resource, outcome, status, res.newRef, res.err})
}

// commit puts the report in place (or removes it when it could not be
// written).
func (r *importReport) commit() error {
	r.w.Flush()
	if r.err == nil {
		r.err = r.w.Error()
	}
	return r.f.Commit(r.err)
}
