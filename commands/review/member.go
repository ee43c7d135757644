package review

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/medplumcli/medplum/commands/cmdutil"
)

// A cell is what the review knows of one column of one member: a value,
// that there is none (a person without an e-mail, a client without a
// secret), that it is unknown and why, or that the column does not apply
// to this kind of member. Nothing is left blank without saying which.
type cell struct {
	state cellState
	val   any // string, bool, int or time.Time
	why   string
}

type cellState int

const (
	notApplicable cellState = iota
	known
	none
	unknown
)

func value(v any) cell             { return cell{state: known, val: v} }
func noValue() cell                { return cell{state: none} }
func unknownBecause(w string) cell { return cell{state: unknown, why: w} }

// text renders the cell for tables, CSV and the HTML report.
func (c cell) text() string {
	switch c.state {
	case known:
		switch v := c.val.(type) {
		case string:
			return v
		case bool:
			return strconv.FormatBool(v)
		case int:
			return strconv.Itoa(v)
		case time.Time:
			return v.UTC().Format(time.RFC3339)
		}
		return fmt.Sprint(c.val)
	case none:
		return "none"
	case unknown:
		return "unknown: " + c.why
	}
	return "n/a"
}

// Access is one access policy of a member, with its parameters.
type Access struct {
	Policy     string  `json:"policy"`
	Name       string  `json:"name,omitempty"`
	Missing    string  `json:"missing,omitempty"` // why the project has no such policy
	Parameters []Param `json:"parameters,omitempty"`
}

// Param is one parameter of an access policy entry.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (a Access) String() string {
	s := a.Name
	if s == "" {
		s = a.Policy
	}
	if a.Missing != "" {
		s = a.Policy + " (" + a.Missing + ")"
	}
	if len(a.Parameters) > 0 {
		ps := make([]string, len(a.Parameters))
		for i, p := range a.Parameters {
			ps[i] = p.Name + "=" + p.Value
		}
		s += " (" + strings.Join(ps, ", ") + ")"
	}
	return s
}

// Member is one row of the review: one membership of the project.
type Member struct {
	ID      string
	Kind    string // person, client, bot
	Name    string
	Profile string
	User    string
	Admin   bool
	Active  bool
	Access  []Access

	Email         cell // person: the User's e-mail (string)
	MFA           cell // person: User.mfaEnrolled (bool)
	InvitePending cell // person: an invite not used yet (bool)
	// userGone: the User the membership names does not exist (known
	// only to a super admin, who reads every User); unknown when the
	// caller cannot tell.
	userGone cell
	// userChanged: when the User changed after a pending invite (the only
	// sign of a password set by an admin); zero otherwise.
	userChanged   time.Time
	InvitedAt     cell // person, pending: when (time)
	LastUpdated   cell // the membership's last change (time)
	UpdatedBy     cell // and who made it (meta.author, string)
	SecretSetAt   cell // client: when its current secret was set (time)
	SecretAgeDays cell // client: its age in whole days (int)
}

// Columns are the column names of the member table, as -o json names the
// fields.
var Columns = []string{"id", "kind", "name", "email", "profile", "user", "admin", "active", "access",
	"mfaEnrolled", "invitePending", "invitedAt", "lastUpdated", "lastUpdatedBy", "secretSetAt", "secretAgeDays"}

// CompactColumns are a terminal's table: what fits 100 columns.
var CompactColumns = []string{"name", "kind", "admin", "active", "mfaEnrolled", "invitePending", "access"}

// cell returns the member's cell of a column.
func (m *Member) cell(col string) cell {
	switch col {
	case "id":
		return value(m.ID)
	case "kind":
		return value(m.Kind)
	case "name":
		return value(m.Name)
	case "email":
		return m.Email
	case "profile":
		return value(m.Profile)
	case "user":
		return value(m.User)
	case "admin":
		return value(m.Admin)
	case "active":
		return value(m.Active)
	case "access":
		if len(m.Access) == 0 {
			return noValue()
		}
		return value(accessText(m.Access))
	case "mfaEnrolled":
		return m.MFA
	case "invitePending":
		return m.InvitePending
	case "invitedAt":
		return m.InvitedAt
	case "lastUpdated":
		return m.LastUpdated
	case "lastUpdatedBy":
		return m.UpdatedBy
	case "secretSetAt":
		return m.SecretSetAt
	case "secretAgeDays":
		return m.SecretAgeDays
	}
	return cell{}
}

// Field implements output.Record.
func (m *Member) Field(col string) string { return m.cell(col).text() }

// instant is how Medplum writes meta.lastUpdated: milliseconds, UTC.
const instant = "2006-01-02T15:04:05.000Z"

// MarshalJSON writes the member with its fields in column order: a value
// as itself, none as null, an unknown as null with its reason under
// "unknown", and a column that does not apply to the member's kind left
// out.
func (m *Member) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	unknowns := map[string]string{}
	var order []string
	first := true
	for _, col := range Columns {
		var v any
		switch col {
		case "access":
			acc := m.Access
			if acc == nil {
				acc = []Access{}
			}
			v = acc
		default:
			c := m.cell(col)
			switch c.state {
			case notApplicable:
				continue
			case known:
				v = c.val
				if t, ok := v.(time.Time); ok {
					v = t.UTC().Format(instant) // as Medplum writes instants
				}
			case unknown:
				unknowns[col] = c.why
				order = append(order, col)
			}
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		if err := writeKV(&b, col, v); err != nil {
			return nil, err
		}
	}
	if len(order) > 0 {
		b.WriteString(`,"unknown":{`)
		for i, col := range order {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeKV(&b, col, unknowns[col]); err != nil {
				return nil, err
			}
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeKV(b *bytes.Buffer, k string, v any) error {
	kb, _ := json.Marshal(k)
	b.Write(kb)
	b.WriteByte(':')
	vb, err := marshal(v)
	if err != nil {
		return err
	}
	b.Write(vb)
	return nil
}

// marshal is json.Marshal without HTML escaping.
func marshal(v any) ([]byte, error) { return cmdutil.MarshalJSON(v, "") }
