package invite

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/invite/bulk"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// dryRunLine is one row of --dry-run: the request it would send, and with
// --upsert, for a member, their membership and what would change.
type dryRunLine struct {
	Line       int             `json:"line"`
	Membership string          `json:"membership,omitempty"`
	Change     string          `json:"change,omitempty"`
	Error      string          `json:"error,omitempty"` // why the row would fail
	Body       json.RawMessage `json:"body,omitempty"`  // none when nothing would be sent
}

// dryRun prints what every valid row would send, as NDJSON (or one JSON
// array with -o json), and sends nothing. It reads what the run would read
// first: the access policies the file names (checked already, by Check)
// and, with --upsert, the memberships of the file's people, to show before
// -> after. Without either it needs no credentials: the project is
// --project's, or the signed-in one.
func dryRun(o *Options, sv *server, parse bulk.Options, check *bulk.CheckResult) error {
	var members map[string][]client.Resource
	if o.Upsert && check.Valid > 0 {
		if err := sv.connect(); err != nil {
			return err
		}
		var err error
		if members, err = projectMembers(sv, parse); err != nil {
			return err
		}
	}
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
	n, invites, updates, unchanged, failing := 0, 0, 0, 0, 0
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
		line := dryRunLine{Line: row.Line}
		req := row.Request
		req.Upsert = false
		b, err := cmdutil.MarshalJSON(&req, "")
		if err != nil {
			return err
		}
		line.Body = b
		if o.Upsert {
			switch m, other := memberOf(members, &row.Request); {
			case m != nil:
				body, changes, err := membership.UpsertBody(b, m, sv.label)
				if err != nil {
					return err
				}
				line.Membership, line.Change, line.Body = m.ID(), strings.Join(changes, "; "), body
				if len(changes) == 0 {
					line.Body = nil
					unchanged++
				} else {
					updates++
				}
			case other != "":
				line.Error = fmt.Sprintf("already a member of the project, with a profile that is not a %s; --upsert only updates a membership with the same profile", req.ResourceType)
				line.Body = nil
				failing++
			default:
				invites++
			}
		} else {
			invites++
		}
		out, err := cmdutil.MarshalJSON(line, "")
		if err != nil {
			return err
		}
		switch {
		case !array:
			fmt.Fprintf(w, "%s\n", out)
		case n == 0:
			fmt.Fprintf(w, "[\n  %s", out)
		default:
			fmt.Fprintf(w, ",\n  %s", out)
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
	if sv.project != "" {
		project = sv.project
	}
	if project == "" {
		project = "<signed-in project>"
	}
	var notes []string
	if o.Upsert {
		notes = append(notes, fmt.Sprintf("%s to members", cmdutil.Count(updates, "update")),
			fmt.Sprintf("%s unchanged", cmdutil.Count(unchanged, "member")))
	}
	if failing > 0 {
		notes = append(notes, fmt.Sprintf("%s would fail", cmdutil.Count(failing, "row")))
	}
	if check.Invalid > 0 {
		notes = append(notes, fmt.Sprintf("%s skipped", cmdutil.Count(check.Invalid, "invalid row")))
	}
	extra := ""
	if len(notes) > 0 {
		extra = " (" + strings.Join(notes, ", ") + ")"
	}
	fmt.Fprintf(o.IO.ErrOut, "dry run: %s would be sent to admin/projects/%s/invite%s; nothing was sent\n",
		cmdutil.Count(invites+updates, "invite"), project, extra)
	return nil
}

// projectMembers reads the project's memberships (every page) and keeps
// those of the file's people, by membership.MemberKeys: what --upsert
// would find and merge into. One search instead of a lookup per row.
func projectMembers(sv *server, parse bulk.Options) (map[string][]client.Resource, error) {
	wanted := map[string]bool{}
	f, err := os.Open(sv.o.CSV)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd, err := bulk.NewReader(f, parse)
	if err != nil {
		return nil, err
	}
	for {
		row, probs, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(probs) == 0 {
			wanted[membership.InviteKey(&row.Request)] = true
		}
	}
	out := map[string][]client.Resource{}
	q := url.Values{"project": {"Project/" + sv.project}, "_count": {"1000"}, "_sort": {"_lastUpdated"}}
	for d, err := range membership.Search(sv.ctx, sv.c, "ProjectMembership", q, 0) {
		if err != nil {
			return nil, fmt.Errorf("reading the project's members: %w", err)
		}
		for _, k := range membership.MemberKeys(d.Resource) {
			if wanted[k] {
				out[k] = append(out[k], d.Resource)
			}
		}
	}
	return out, nil
}

// memberOf is the membership --upsert would update for req: one of the
// invite's profile type; other is set when the person is a member with
// another profile only.
func memberOf(members map[string][]client.Resource, req *client.InviteRequest) (m client.Resource, other string) {
	for _, c := range members[membership.InviteKey(req)] {
		if membership.ProfileType(c) == req.ResourceType {
			return c, ""
		}
		other = c.ID()
	}
	return nil, other
}
