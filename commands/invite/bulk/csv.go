// Package bulk is the engine behind `medplum invite --csv`: it reads an
// invite CSV as a stream, validates every row before anything is sent, keeps
// a crash-safe journal of what was sent, and runs the invites concurrently
// against the server. It never touches the terminal: progress goes through
// the Progress interface, results through a callback.
package bulk

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// Column keys: a header name is matched without regard to case, spaces,
// hyphens, underscores and dots ("First Name", "E-mail", "first_name").
const (
	colRole         = "resourcetype" // "role" is an alias
	colFirstName    = "firstname"
	colLastName     = "lastname"
	colEmail        = "email"
	colExternalID   = "externalid"
	colAdmin        = "admin"
	colAccessPolicy = "accesspolicy"
	colScope        = "scope"
	colPatient      = "patient"
	colMfaRequired  = "mfarequired"
	colSendEmail    = "sendemail"
	colActive       = "active"
	paramPrefix     = "param:"
)

// knownColumns maps a normalised header name to its column: the names of
// the invite's fields, and the usual names of HR exports for the people
// columns. Built on first use (a map made at package init is made on every
// command).
var knownColumns = sync.OnceValue(func() map[string]string {
	return map[string]string{
		"resourcetype": colRole,
		"role":         colRole,
		"firstname":    colFirstName,
		"givenname":    colFirstName,
		"lastname":     colLastName,
		"familyname":   colLastName,
		"surname":      colLastName,
		"email":        colEmail,
		"emailaddress": colEmail,
		"externalid":   colExternalID,
		"admin":        colAdmin,
		"accesspolicy": colAccessPolicy,
		"scope":        colScope,
		"patient":      colPatient,
		"mfarequired":  colMfaRequired,
		"sendemail":    colSendEmail,
		"active":       colActive,
	}
})

// KnownColumns lists the columns a file may have, for messages and help.
const KnownColumns = "resourceType (or role), firstName, lastName, email, externalId, admin, accessPolicy, " +
	"param:<name>, scope, patient, mfaRequired, sendEmail, active"

// Ignore is the Options.Map target that drops a column.
const Ignore = "ignore"

// NormalizeColumn is how header names (and Options.Map's names) are
// compared: lowercase, without spaces, hyphens, underscores and dots.
func NormalizeColumn(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		switch r {
		case ' ', '\t', '-', '_', '.':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ColumnKey is the column a name stands for ("First Name" is firstName,
// "param:org" an access parameter), or "" when it is none of them.
func ColumnKey(name string) string {
	name = strings.TrimSpace(name)
	if strings.HasPrefix(strings.ToLower(name), paramPrefix) {
		if p := strings.TrimSpace(name[len(paramPrefix):]); membership.ValidParameterName(p) {
			return paramPrefix + p
		}
		return ""
	}
	return knownColumns()[NormalizeColumn(name)]
}

// Options say how rows become invite requests.
type Options struct {
	// DefaultRole is used when the file has no role column or a row leaves
	// it blank. Empty means Practitioner, as for a single invite.
	DefaultRole string
	// SendEmail is the default for rows without a sendEmail value. The
	// request always carries an explicit boolean: the server e-mails unless
	// it gets false.
	SendEmail bool
	// IgnoreUnknownColumns drops columns the reader does not know instead of
	// refusing the file.
	IgnoreUnknownColumns bool
	// Map says what some of the file's columns are, by their header name
	// (compared as NormalizeColumn does): a column ("Work Email" ->
	// "email", "Org" -> "param:org"), or Ignore. It comes before the
	// reader's own matching, so it can also move a known name elsewhere.
	Map map[string]string
	// Policy, if set, turns every accessPolicy cell into a reference: ref,
	// or problem (the row cannot be sent: the project has no such policy),
	// or err (the lookup failed: reading stops). Without it a cell must be
	// an id or AccessPolicy/<id>. invite looks the project's policies up
	// (each distinct value once); apply resolves the names of its file's.
	Policy func(value string) (ref, problem string, err error)
}

// Problem is one reason a file or row cannot be sent.
type Problem struct {
	Line   int    // physical line in the file (1-based) where the record starts
	Column string // column name as spelled in the header, or "" for the whole row
	Reason string
}

func (p Problem) String() string {
	if p.Column == "" {
		return fmt.Sprintf("line %d: %s", p.Line, p.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", p.Line, p.Column, p.Reason)
}

// HeaderError means the header line itself is unusable; no row was read.
// Unknown and Missing name the columns behind its problems, for the
// caller's advice (a flag of its own, a file to edit).
type HeaderError struct {
	Problems []Problem
	Unknown  []string // the file's columns the reader does not know, as spelled
	Missing  []string // the required columns the file does not have
}

func (e *HeaderError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.String()
	}
	return "invalid CSV header: " + strings.Join(msgs, "; ")
}

// Row is one valid data row, ready to send.
type Row struct {
	Line    int // physical line where the record starts
	Request client.InviteRequest
}

// Identity is what names the row in reports: the e-mail, or the external id
// for rows without one.
func (r *Row) Identity() string {
	if r.Request.Email != "" {
		return r.Request.Email
	}
	return r.Request.ExternalID
}

// column is one header field and what it maps to.
type column struct {
	name  string // as spelled in the header, trimmed
	key   string // one of the col* constants, paramPrefix+name, or "" (ignored)
	param string // access parameter name for param: columns
}

// Reader streams rows out of an invite CSV. It holds one record at a time
// plus a set of 16-byte hashes of the e-mails and external ids seen so far
// (to report duplicates), so memory stays flat in the file's length except
// for that set.
type Reader struct {
	cr      *csv.Reader
	opts    Options
	cols    []column
	index   map[string]int // key -> column index
	params  []int          // indexes of param: columns, in header order
	seen    map[[16]byte]int32
	lastRow int
	err     error // a failed policy lookup: reading stops
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// NewReader reads and checks the header. A header that cannot be used comes
// back as a *HeaderError listing every problem.
func NewReader(r io.Reader, opts Options) (*Reader, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(len(bom)); err == nil && bytes.Equal(b, bom) {
		_, _ = br.Discard(len(bom))
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = 0 // the header sets the count; ErrFieldCount after
	if opts.DefaultRole == "" {
		opts.DefaultRole = "Practitioner"
	}
	rd := &Reader{cr: cr, opts: opts, index: map[string]int{}, seen: map[[16]byte]int32{}}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &HeaderError{Problems: []Problem{{Line: 1, Reason: "the file is empty; the first line must name the columns"}}}
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, &HeaderError{Problems: []Problem{{Line: pe.StartLine, Reason: pe.Err.Error()}}}
		}
		return nil, err
	}
	line, _ := cr.FieldPos(0)
	if he := rd.parseHeader(header, line); he != nil {
		return nil, he
	}
	return rd, nil
}

func (rd *Reader) parseHeader(header []string, line int) *HeaderError {
	he := &HeaderError{}
	bad := func(col, format string, a ...any) {
		he.Problems = append(he.Problems, Problem{Line: line, Column: col, Reason: fmt.Sprintf(format, a...)})
	}
	// The map, by normalised name; each entry must name a column of the
	// file and say what it is.
	mapped := map[string]string{}
	mapUsed := map[string]bool{}
	for _, from := range slices.Sorted(maps.Keys(rd.opts.Map)) {
		to := rd.opts.Map[from]
		key := ColumnKey(to)
		if strings.EqualFold(strings.TrimSpace(to), Ignore) {
			key = Ignore
		}
		if key == "" {
			bad(from, "cannot be mapped to %q: not a column (known: %s; or %s)", to, KnownColumns, Ignore)
			continue
		}
		mapped[NormalizeColumn(from)] = key
	}
	rd.cols = make([]column, len(header))
	spelled := map[string]string{} // key -> name as first spelled
	for i, raw := range header {
		name := strings.TrimSpace(raw)
		c := column{name: name}
		norm := NormalizeColumn(name)
		key, isMapped := mapped[norm]
		if isMapped {
			mapUsed[norm] = true
		} else {
			key = ColumnKey(name)
		}
		switch {
		case !utf8.ValidString(name):
			bad(fmt.Sprintf("column %d", i+1), "the header is not valid UTF-8 (save the file as UTF-8)")
			continue
		case key == Ignore:
			continue
		case key == "" && strings.HasPrefix(strings.ToLower(name), paramPrefix):
			bad(name, "an access parameter column needs a name like param:provider_organization")
			continue
		case key == "":
			if rd.opts.IgnoreUnknownColumns {
				continue
			}
			if name == "" {
				name = fmt.Sprintf("column %d", i+1)
				bad(name, "has no name")
			} else {
				bad(name, "unknown column")
			}
			he.Unknown = append(he.Unknown, name)
			continue
		}
		c.key = key
		if p, ok := strings.CutPrefix(key, paramPrefix); ok {
			c.param = p
		}
		if first, dup := spelled[c.key]; dup {
			bad(name, "given twice (also as %s)", first)
			continue
		}
		spelled[c.key] = name
		rd.cols[i] = c
		rd.index[c.key] = i
		if c.param != "" {
			rd.params = append(rd.params, i)
		}
	}
	for _, from := range slices.Sorted(maps.Keys(rd.opts.Map)) {
		if n := NormalizeColumn(from); mapped[n] != "" && !mapUsed[n] {
			bad(from, "is mapped, but the file has no such column")
		}
	}
	for _, req := range []string{colFirstName, colLastName} {
		if _, ok := rd.index[req]; !ok {
			bad("", "missing column %s", displayName(req))
			he.Missing = append(he.Missing, displayName(req))
		}
	}
	_, hasEmail := rd.index[colEmail]
	_, hasExt := rd.index[colExternalID]
	if !hasEmail && !hasExt {
		bad("", "missing column email (or externalId)")
		he.Missing = append(he.Missing, "email")
	}
	if len(he.Problems) == 0 {
		return nil
	}
	return he
}

func displayName(key string) string {
	switch key {
	case colRole:
		return "resourceType"
	case colFirstName:
		return "firstName"
	case colLastName:
		return "lastName"
	case colExternalID:
		return "externalId"
	case colAccessPolicy:
		return "accessPolicy"
	case colMfaRequired:
		return "mfaRequired"
	case colSendEmail:
		return "sendEmail"
	}
	return key
}

// Next returns the next non-blank record. A record that cannot be sent comes
// back with its problems (and a zero Request); err is io.EOF at the end of
// the file, or a read error.
func (rd *Reader) Next() (Row, []Problem, error) {
	if rd.err != nil {
		return Row{}, nil, rd.err
	}
	for {
		rec, err := rd.cr.Read()
		if errors.Is(err, io.EOF) {
			return Row{}, nil, io.EOF
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return Row{}, nil, err
		}
		line := 0
		if pe != nil {
			line = pe.StartLine
		} else {
			line, _ = rd.cr.FieldPos(0)
		}
		rd.lastRow = line
		if pe != nil {
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				return Row{Line: line}, []Problem{{Line: line, Reason: fmt.Sprintf("has %d fields, the header has %d", len(rec), len(rd.cols))}}, nil
			}
			return Row{Line: line}, []Problem{{Line: line, Reason: pe.Err.Error()}}, nil
		}
		if blank(rec) {
			continue
		}
		for i, f := range rec { // as medplum's CSVs write a formula-like cell
			rec[i] = output.CSVValue(f)
		}
		row, probs := rd.parseRow(rec, line)
		if rd.err != nil {
			return Row{}, nil, rd.err
		}
		return row, probs, nil
	}
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// field returns the trimmed value of a column, "" when the file has none.
func (rd *Reader) field(rec []string, key string) string {
	i, ok := rd.index[key]
	if !ok {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

func (rd *Reader) name(key string) string {
	if i, ok := rd.index[key]; ok {
		return rd.cols[i].name
	}
	return displayName(key)
}

func (rd *Reader) parseRow(rec []string, line int) (Row, []Problem) {
	var probs []Problem
	bad := func(key, format string, a ...any) {
		probs = append(probs, Problem{Line: line, Column: rd.name(key), Reason: fmt.Sprintf(format, a...)})
	}
	for i, f := range rec {
		if rd.cols[i].key != "" && !utf8.ValidString(f) {
			probs = append(probs, Problem{Line: line, Column: rd.cols[i].name, Reason: "is not valid UTF-8 (save the file as UTF-8)"})
		}
	}
	if len(probs) > 0 {
		return Row{Line: line}, probs
	}

	// The row becomes a request; what cannot be normalised (an unknown
	// role, a bad e-mail or reference) is kept as written for
	// membership.CheckInvite, the one validation of an invite, to report.
	req := client.InviteRequest{}
	role := rd.field(rec, colRole)
	if role == "" {
		role = rd.opts.DefaultRole
	}
	req.ResourceType = role
	if r, ok := membership.CanonicalRole(role); ok {
		req.ResourceType = r
	}
	req.FirstName = rd.field(rec, colFirstName)
	req.LastName = rd.field(rec, colLastName)
	req.Email = rd.field(rec, colEmail)
	if membership.ValidEmail(req.Email) {
		req.Email = strings.ToLower(req.Email)
	}
	req.ExternalID = rd.field(rec, colExternalID)
	req.Scope = rd.field(rec, colScope)
	if lower := strings.ToLower(req.Scope); lower == "project" || lower == "server" {
		req.Scope = lower
	}
	if p := rd.field(rec, colPatient); p != "" {
		req.Patient = client.Ref(p)
		if ref, ok := membership.TypedRef(p, "Patient"); ok {
			req.Patient = client.Ref(ref)
		}
	}

	if admin := rd.boolean(rec, colAdmin, bad); admin != nil {
		req.Membership = &client.InviteMembership{Admin: admin}
	}
	if active := rd.boolean(rec, colActive, bad); active != nil {
		if req.Membership == nil {
			req.Membership = &client.InviteMembership{}
		}
		req.Membership.Active = active
	}
	if mfa := rd.boolean(rec, colMfaRequired, bad); mfa != nil {
		req.MfaRequired = *mfa
	}
	send := rd.opts.SendEmail
	if v := rd.boolean(rec, colSendEmail, bad); v != nil {
		send = *v
	}
	req.SendEmail = &send

	var policy *client.Reference
	if p := rd.field(rec, colAccessPolicy); p != "" {
		policy = client.Ref(p)
		if rd.opts.Policy != nil {
			ref, problem, err := rd.opts.Policy(p)
			switch {
			case err != nil:
				rd.err = fmt.Errorf("line %d: looking up the access policy %q: %w", line, p, err)
				return Row{Line: line}, nil
			case problem != "":
				bad(colAccessPolicy, "%s", problem)
				ref = "AccessPolicy/unknown" // checked no further
			}
			policy = client.Ref(ref)
		} else if ref, ok := membership.TypedRef(p, "AccessPolicy"); ok {
			policy = client.Ref(ref)
		}
	}
	var params []client.AccessParameter
	for _, i := range rd.params {
		v := strings.TrimSpace(rec[i])
		if v == "" {
			continue
		}
		ap := client.AccessParameter{Name: rd.cols[i].param}
		if membership.LooksLikeReference(v) {
			ap.ValueReference = client.Ref(v)
		} else {
			ap.ValueString = v
		}
		params = append(params, ap)
		if policy == nil {
			probs = append(probs, Problem{Line: line, Column: rd.cols[i].name, Reason: "an access parameter needs an accessPolicy in the same row"})
		}
	}
	if policy != nil {
		if req.Membership == nil {
			req.Membership = &client.InviteMembership{}
		}
		if len(params) > 0 {
			req.Membership.Access = []client.MembershipAccess{{Policy: policy, Parameter: params}}
		} else {
			req.Membership.AccessPolicy = policy
		}
	}
	for _, p := range membership.CheckInvite(&req) {
		probs = append(probs, Problem{Line: line, Column: rd.name(columnOf(p.Field)), Reason: p.Reason})
	}

	// Every row's e-mail and external id count, valid or not, so that a
	// duplicate is listed with the other problems.
	probs = append(probs, rd.checkDuplicate(req, line)...)
	if len(probs) > 0 {
		return Row{Line: line}, probs
	}
	return Row{Line: line, Request: req}, nil
}

// columnOf is the column key of an invite field CheckInvite names.
func columnOf(field string) string {
	switch {
	case field == "resourceType":
		return colRole
	case strings.HasPrefix(field, "membership.access"):
		return colAccessPolicy
	}
	if k := knownColumns()[strings.ToLower(field)]; k != "" {
		return k
	}
	return field
}

// checkDuplicate remembers the row's e-mail and external id and reports one
// already seen on an earlier row, valid or not (the first line is kept).
func (rd *Reader) checkDuplicate(req client.InviteRequest, line int) []Problem {
	var probs []Problem
	check := func(kind, col, v string) {
		if v == "" {
			return
		}
		k := hashKey(kind, v)
		if first, ok := rd.seen[k]; ok {
			probs = append(probs, Problem{Line: line, Column: rd.name(col), Reason: fmt.Sprintf("duplicate: %s is already on line %d", v, first)})
			return
		}
		rd.seen[k] = int32(line)
	}
	if membership.ValidEmail(req.Email) { // a bad one is reported as such
		check("email", colEmail, strings.ToLower(req.Email))
	}
	check("externalId", colExternalID, req.ExternalID)
	return probs
}

// boolean reads a boolean column: nil when blank (or not a boolean, which
// is recorded as a problem).
func (rd *Reader) boolean(rec []string, key string, bad func(string, string, ...any)) *bool {
	v := rd.field(rec, key)
	if v == "" {
		return nil
	}
	b, ok := membership.ParseBool(v)
	if !ok {
		bad(key, "not a boolean: %q (want true or false)", v)
		return nil
	}
	return &b
}
