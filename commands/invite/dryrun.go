package invite

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/invite/bulk"
	"github.com/medplumcli/medplum/commands/output"
)

// dryRunLine is one request --dry-run would send.
type dryRunLine struct {
	Line int                   `json:"line"`
	Body *client.InviteRequest `json:"body"`
}

// dryRun prints the body of every invite the file would send, as NDJSON
// (or one JSON array with -o json), and sends nothing. It needs no
// credentials: the project is --project's, or the signed-in one.
func dryRun(o *Options, parse bulk.Options, check *bulk.CheckResult) error {
	f, err := os.Open(o.CSV)
	if err != nil {
		return err
	}
	defer f.Close()
	rd, err := bulk.NewReader(f, parse)
	if err != nil {
		return err
	}
	array := o.outputSet && o.Output.Format == output.JSON
	w := o.IO.Out
	n := 0
	for {
		row, probs, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if len(probs) > 0 {
			continue
		}
		body := row.Request
		body.Upsert = false // sent only for users who turn out to be members
		b, err := json.Marshal(dryRunLine{Line: row.Line, Body: &body})
		if err != nil {
			return err
		}
		switch {
		case !array:
			fmt.Fprintf(w, "%s\n", b)
		case n == 0:
			fmt.Fprintf(w, "[\n  %s", b)
		default:
			fmt.Fprintf(w, ",\n  %s", b)
		}
		n++
	}
	if array {
		if n == 0 {
			fmt.Fprintln(w, "[]")
		} else {
			fmt.Fprintln(w, "\n]")
		}
	}
	project := o.Project
	if project == "" {
		project = "<signed-in project>"
	}
	fmt.Fprintf(o.IO.ErrOut, "dry run: %s would be sent to admin/projects/%s/invite%s; nothing was sent\n",
		cmdutil.Count(n, "invite"), project, skippedNote(check))
	return nil
}

func skippedNote(c *bulk.CheckResult) string {
	if c.Invalid == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s skipped)", cmdutil.Count(c.Invalid, "invalid row"))
}
