package membership

import (
	"bufio"
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
	// ListColumns are what `members list` and `members get` show when
	// piped, in CSV and with -o wide.
	ListColumns = []string{"id", "name", "profileType", "user", "admin", "accessPolicy", "active"}
	// CompactColumns are what they show in a table on a terminal: the
	// essential columns, which fit 80 columns.
	CompactColumns = []string{"name", "email", "type", "admin", "active"}
)

// Columns are the columns of a membership table: Default everywhere, and
// Compact (if set) in a table on a terminal (output.Rows).
type Columns struct{ Default, Compact []string }

// The membership tables of the commands.
var (
	ListTable   = Columns{Default: ListColumns, Compact: CompactColumns}
	InviteTable = Columns{Default: InviteColumns}
)

// Print writes memberships in o's format: -o json prints the server's JSON
// (one object when single, else an array; -o yaml, --jq and --template
// work on that document), ndjson one compact membership per line, table,
// wide and csv one row per membership with cols.
func Print(ios *iostreams.IOStreams, o *output.Options, docs []client.Doc, single bool, cols Columns) error {
	if single && len(docs) == 1 && o.Document() {
		return o.WriteDoc(ios, docs[0].Raw)
	}
	p, err := NewPrinter(ios, o, cols)
	if err != nil {
		return err
	}
	for _, d := range docs {
		if err := p.Add(d); err != nil {
			return err
		}
	}
	return p.Close()
}

// Printer prints a list of memberships one at a time, so that a list of
// any length takes the same memory: the JSON array, ndjson, CSV and TSV
// as they come. What needs the whole list keeps only what it needs: a
// table on a terminal the cells of its rows (for the column widths), -o
// yaml, --jq and --template the memberships' bytes (they work on the
// whole array).
type Printer struct {
	ios   *iostreams.IOStreams
	o     *output.Options
	array *output.JSONArrayWriter
	whole []json.RawMessage // -o yaml, --jq, --template
	lines *bufio.Writer     // ndjson
	line  []byte
	rows  *output.RowWriter
}

// NewPrinter starts a list in o's format; Close ends it.
func NewPrinter(ios *iostreams.IOStreams, o *output.Options, cols Columns) (*Printer, error) {
	p := &Printer{ios: ios, o: o}
	switch {
	case o.Document() && o.Filtered():
		p.whole = []json.RawMessage{}
	case o.Document():
		p.array = output.NewJSONArrayWriter(ios.Out)
	case o.Format == output.NDJSON:
		p.lines = bufio.NewWriterSize(ios.Out, 64<<10)
	default:
		rw, err := o.NewRowWriter(ios, output.Rows{Default: cols.Default, Compact: cols.Compact})
		if err != nil {
			return nil, err
		}
		p.rows = rw
	}
	return p, nil
}

// Add prints (or keeps) one membership.
func (p *Printer) Add(d client.Doc) error {
	switch {
	case p.whole != nil:
		p.whole = append(p.whole, d.Raw)
		return nil
	case p.array != nil:
		return p.array.Write(d.Raw)
	case p.lines != nil:
		p.line = append(output.AppendCompact(p.line[:0], d.Raw), '\n')
		_, err := p.lines.Write(p.line)
		return err
	}
	return p.rows.Write(record{res: d.Resource, base: output.ResourceRecord(d.Resource)})
}

// Abort writes what was printed so far of a list that failed half-way,
// without ending it (a JSON array stays open, a terminal's table is not
// drawn), so that the output holds every member read.
func (p *Printer) Abort() error {
	switch {
	case p.whole != nil:
		return nil
	case p.array != nil:
		return p.array.Flush()
	case p.lines != nil:
		return p.lines.Flush()
	}
	return p.rows.Abort()
}

// Close ends the list and flushes it.
func (p *Printer) Close() error {
	switch {
	case p.whole != nil:
		return p.o.WriteDocs(p.ios, p.whole)
	case p.array != nil:
		return p.array.Close()
	case p.lines != nil:
		return p.lines.Flush()
	}
	return p.rows.Close()
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
	case "profileType", "type":
		return ProfileType(r.res)
	case "email":
		return Email(r.res)
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

// Email is the member's e-mail: their user's display when it is one (a
// person's; a bot's or client's user shows its name), else "".
func Email(m client.Resource) string {
	if d := m.Display("user"); ValidEmail(d) {
		return d
	}
	return ""
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
