package members

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// HistoryOptions are the inputs of `members history`.
type HistoryOptions struct {
	memberOptions
}

// historyColumns are the table columns of members history; version and
// whoReference can be asked for with --columns.
var (
	historyColumns      = []string{"when", "who", "change"}
	historyKnownColumns = []string{"when", "who", "change", "version", "whoReference"}
)

// NewCmdHistory is `medplum members history <member>`.
func NewCmdHistory(f *cmdutil.Factory, runF func(*HistoryOptions) error) *cobra.Command {
	opts := &HistoryOptions{memberOptions{common: newCommon(f)}}
	cmd := opts.bind(f, &cobra.Command{
		Use:   "history <member>",
		Short: "Show how a membership changed: when, who, what",
		Long: heredoc.Doc(`
			Show every version of a membership, oldest first, as what changed from
			the version before: when (meta.lastUpdated), who (meta.author: the user
			or client that made the change; "system" for what the server did
			itself, such as an invite), and the fields that changed, "admin:
			(none) → true". The first version is the creation, with the fields it
			was created with (beyond profile, user and project); a removed
			membership ends with "removed", whose author Medplum does not keep.

			It reads ProjectMembership/<id>/_history, which Medplum keeps after a
			membership is removed: name a removed member by membership id.
			-o json prints each version with its changes as JSON values
			({"field", "before", "after"}; a field not set has no before or after).
		`) + "\n" + membership.SelectorHelp,
		Example: `  $ medplum members history homer@example.com
  $ medplum members history 82399b9d-4910-43c8-a667-64e4d3ee3dad -o json`,
	}, func() error {
		if runF != nil {
			return runF(opts)
		}
		return historyRun(opts)
	})
	opts.Output.CompleteColumns = output.ColumnList(historyKnownColumns...)
	output.SetExamples(cmd, "when,who,change", ".[].event")
	return cmd
}

// memberVersion is one version of a membership and what changed in it:
// the JSON of members history.
type memberVersion struct {
	Version string            `json:"version"`
	When    string            `json:"when"`
	Who     *client.Reference `json:"who,omitempty"`
	Event   string            `json:"event"` // created, changed, removed
	Changes []fieldChange     `json:"changes"`
}

// fieldChange is one field of a membership that a version changed; a
// field that was (or became) absent has no Before (After).
type fieldChange struct {
	Field  string          `json:"field"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

func historyRun(o *HistoryOptions) error {
	sel, err := membership.ParseSelector(o.Member)
	if err != nil {
		return cmdutil.FlagErrorf("%v", err)
	}
	if err := o.Output.CheckColumns(historyKnownColumns); err != nil {
		return err
	}
	c, project, err := o.connect()
	if err != nil {
		return err
	}
	ctx := o.context()
	// A membership id is read directly: the history of a removed
	// membership is still there, though the admin route answers 410.
	var entries []client.BundleEntry
	if sel.Kind == membership.ByMembership {
		entries, err = readHistory(ctx, c, sel.Value)
		if e := client.AsError(err); e != nil && e.IsNotFound() {
			err = nil // not an id the project has: a name, or nobody
		} else if err != nil {
			return err
		}
	}
	if entries == nil {
		d, err := membership.Resolve(ctx, c, project, sel)
		if err != nil {
			return err
		}
		if entries, err = readHistory(ctx, c, d.Resource.ID()); err != nil {
			return err
		}
	}
	versions, err := diffHistory(entries)
	if err != nil {
		return err
	}
	if done, err := output.WriteItems(o.IO, &o.Output, versions); done {
		return err
	}
	rows := output.Rows{Default: historyColumns, Known: historyKnownColumns}
	for _, v := range versions {
		rows.Records = append(rows.Records, versionRecord(v))
	}
	return o.Output.WriteRows(o.IO, rows)
}

// historyPage is the most versions one request reads (the server's most).
const historyPage = 1000

// readHistory reads every version of a membership, newest first, as the
// server lists them (pages of _count, by _offset, until its total).
func readHistory(ctx context.Context, c *client.Client, id string) ([]client.BundleEntry, error) {
	entries := []client.BundleEntry{}
	for {
		u := fmt.Sprintf("ProjectMembership/%s/_history?_count=%d&_offset=%d", id, historyPage, len(entries))
		resp, err := c.Do(ctx, &client.Request{Method: http.MethodGet, URL: u})
		if err != nil {
			return nil, err
		}
		var b client.Bundle
		if err := json.Unmarshal(resp.Body, &b); err != nil || b.ResourceType != "Bundle" || b.Type != "history" {
			return nil, fmt.Errorf("GET %s: the answer is not a history Bundle", u)
		}
		entries = append(entries, b.Entry...)
		if len(b.Entry) == 0 || b.Total == nil || len(entries) >= *b.Total {
			return entries, nil
		}
	}
}

// identity are the fields that say whose membership it is rather than
// what it grants: a creation does not list them (a later change does).
var identity = []string{"project", "user", "profile"}

// diffHistory turns a history (newest first) into versions oldest first,
// each with what changed from the one before.
func diffHistory(entries []client.BundleEntry) ([]memberVersion, error) {
	out := []memberVersion{}
	var prev map[string]json.RawMessage
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		v := memberVersion{Changes: []fieldChange{}}
		if e.Request != nil {
			_, v.Version, _ = strings.Cut(e.Request.URL, "/_history/")
		}
		if len(e.Resource) == 0 {
			v.Event, v.When = "removed", deletedAt(e)
			out = append(out, v)
			prev = nil
			continue
		}
		var cur map[string]json.RawMessage
		if err := json.Unmarshal(e.Resource, &cur); err != nil {
			return nil, fmt.Errorf("version %s: %v", v.Version, err)
		}
		var meta struct {
			LastUpdated string            `json:"lastUpdated"`
			Author      *client.Reference `json:"author"`
		}
		_ = json.Unmarshal(cur["meta"], &meta)
		v.When, v.Who = meta.LastUpdated, meta.Author
		v.Event = "changed"
		if prev == nil {
			v.Event = "created"
		}
		fields := make([]string, 0, len(cur)+len(prev))
		for k := range cur {
			fields = append(fields, k)
		}
		for k := range prev {
			if _, ok := cur[k]; !ok {
				fields = append(fields, k)
			}
		}
		slices.Sort(fields)
		for _, k := range fields {
			if k == "resourceType" || k == "id" || k == "meta" || prev == nil && slices.Contains(identity, k) {
				continue
			}
			before, after := prev[k], cur[k]
			if !sameJSON(before, after) {
				v.Changes = append(v.Changes, fieldChange{Field: k, Before: before, After: after})
			}
		}
		out = append(out, v)
		prev = cur
	}
	return out, nil
}

// sameJSON compares two JSON values whatever their spacing and key order.
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// deletedAt is when a deletion happened, from the server's "Deleted on
// <JavaScript date>", as an instant like lastUpdated ("" if unreadable).
func deletedAt(e client.BundleEntry) string {
	if e.Response == nil {
		return ""
	}
	var oo client.OperationOutcome
	if json.Unmarshal(e.Response.Outcome, &oo) != nil || len(oo.Issue) == 0 || oo.Issue[0].Details == nil {
		return ""
	}
	s, ok := strings.CutPrefix(oo.Issue[0].Details.Text, "Deleted on ")
	if !ok {
		return ""
	}
	s, _, _ = strings.Cut(s, " (") // the zone's name
	t, err := time.Parse("Mon Jan 02 2006 15:04:05 GMT-0700", s)
	if err != nil {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// versionRecord is a version as a table row.
type versionRecord memberVersion

// Field implements output.Record.
func (v versionRecord) Field(col string) string {
	switch col {
	case "when":
		return v.When
	case "who":
		if v.Who == nil {
			return ""
		}
		if v.Who.Display != "" {
			return v.Who.Display
		}
		return v.Who.Reference
	case "whoReference":
		if v.Who == nil {
			return ""
		}
		return v.Who.Reference
	case "version":
		return v.Version
	case "change":
		return describeVersion(memberVersion(v))
	}
	return ""
}

// describeVersion says what a version did, in one line: "created",
// "created with admin: true", "admin: (none) → true; active: true →
// false", "removed".
func describeVersion(v memberVersion) string {
	parts := make([]string, len(v.Changes))
	for i, c := range v.Changes {
		if v.Event == "created" {
			parts[i] = c.Field + ": " + cellValue(c.Field, c.After)
			continue
		}
		parts[i] = c.Field + ": " + cellValue(c.Field, c.Before) + " → " + cellValue(c.Field, c.After)
	}
	switch {
	case v.Event == "created" && len(parts) > 0:
		return "created with " + strings.Join(parts, ", ")
	case v.Event != "changed":
		return v.Event
	case len(parts) == 0:
		return "(no change)"
	}
	return strings.Join(parts, "; ")
}

// cellValue shows a field's value: (none) when absent, a string as it is,
// a reference as its reference, access entries in the --access syntax,
// anything else as compact JSON.
func cellValue(field string, raw json.RawMessage) string {
	if len(raw) == 0 {
		return "(none)"
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if ref, ok := x["reference"].(string); ok {
			return ref
		}
	case []any:
		if field == "access" {
			if s := membership.AccessSummary(client.Resource{"access": x}); s != "" {
				return s
			}
		}
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}
