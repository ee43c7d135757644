package membership

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/output"
)

// Table columns of memberships. Any other --columns name is a dotted path
// into the resource (meta.lastUpdated, externalId, identifier.0.value).
var (
	// InviteColumns are what `invite` shows of the membership it made.
	InviteColumns = []string{"id", "profile", "profileType", "user", "admin", "accessPolicy"}
	// ListColumns are what `members list` and `members get` show.
	ListColumns = []string{"id", "name", "profileType", "user", "admin", "accessPolicy", "active"}
)

// Print writes memberships in o's format: -o json prints the server's JSON
// (one object when single, else an array; -o yaml, --jq and --template
// work on that document), ndjson one compact membership
// per line, table and csv one row per membership with cols by default.
func Print(ios *iostreams.IOStreams, o *output.Options, docs []client.Doc, single bool, cols []string) error {
	raws := make([]json.RawMessage, len(docs))
	for i, d := range docs {
		raws[i] = d.Raw
	}
	switch o.Format {
	case output.JSON, output.YAML:
		if single && len(docs) == 1 {
			return o.WriteDoc(ios, docs[0].Raw)
		}
		return o.WriteDocs(ios, raws)
	case output.NDJSON:
		return output.WriteNDJSON(ios.Out, raws)
	}
	base, err := output.ResourceRows(raws)
	if err != nil {
		return err
	}
	rows := output.Rows{Default: cols}
	for i, d := range docs {
		rows.Records = append(rows.Records, record{res: d.Resource, base: base.Records[i]})
	}
	return o.WriteRows(ios, rows)
}

// record is a membership as a table row: the computed columns, else the
// generic resource columns and paths.
type record struct {
	res  client.Resource
	base output.Record
}

// Field implements output.Record.
func (r record) Field(col string) string {
	switch col {
	case "name":
		return Name(r.res)
	case "profile":
		return r.res.Ref("profile")
	case "profileType":
		return ProfileType(r.res)
	case "user":
		return User(r.res)
	case "admin":
		return strconv.FormatBool(IsAdmin(r.res))
	case "active":
		return strconv.FormatBool(IsActive(r.res))
	case "accessPolicy":
		return AccessSummary(r.res)
	}
	return r.base.Field(col)
}

// Name is the member's display name: the profile's display, else its reference.
func Name(m client.Resource) string {
	if d := m.Display("profile"); d != "" {
		return d
	}
	return m.Ref("profile")
}

// ProfileType is the resource type of the member's profile.
func ProfileType(m client.Resource) string {
	t, _, _ := client.SplitReference(m.Ref("profile"))
	return t
}

// User is the member's user as the server displays it (the e-mail of a
// person, the name of a bot or client), else the reference.
func User(m client.Resource) string {
	if d := m.Display("user"); d != "" {
		return d
	}
	return m.Ref("user")
}

// IsAdmin reports ProjectMembership.admin (absent: false).
func IsAdmin(m client.Resource) bool { b, _ := m.Bool("admin"); return b }

// IsActive reports ProjectMembership.active (absent: true).
func IsActive(m client.Resource) bool {
	b, ok := m.Bool("active")
	return b || !ok
}

// AccessSummary is the member's access policy and access entries, each in
// the --access syntax, separated by ", ".
func AccessSummary(m client.Resource) string {
	var parts []string
	if p := m.Ref("accessPolicy"); p != "" {
		parts = append(parts, p)
	}
	for _, a := range Access(m) {
		parts = append(parts, FormatAccess(a))
	}
	return strings.Join(parts, ", ")
}

// Access returns ProjectMembership.access (nil if absent or malformed).
func Access(m client.Resource) []client.MembershipAccess {
	var pm client.ProjectMembership
	if client.Resource(map[string]any{"access": m["access"]}).Decode(&pm) != nil {
		return nil
	}
	return pm.Access
}

// Describe names a member for messages: "Homer Simpson (Patient, homer@example.com)".
func Describe(m client.Resource) string {
	name, typ, user := Name(m), ProfileType(m), User(m)
	switch {
	case user != "" && user != name && typ != "":
		return fmt.Sprintf("%s (%s, %s)", name, typ, user)
	case typ != "":
		return fmt.Sprintf("%s (%s)", name, typ)
	}
	return name
}
