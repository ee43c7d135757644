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
	"strings"
	"unicode/utf8"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/membership"
)

// Column names, as they are matched (case-insensitively) in the header.
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
	paramPrefix     = "param:"
)

var knownColumns = map[string]string{
	"resourcetype": colRole,
	"role":         colRole,
	"firstname":    colFirstName,
	"lastname":     colLastName,
	"email":        colEmail,
	"externalid":   colExternalID,
	"admin":        colAdmin,
	"accesspolicy": colAccessPolicy,
	"scope":        colScope,
	"patient":      colPatient,
	"mfarequired":  colMfaRequired,
	"sendemail":    colSendEmail,
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
	// AccessPolicyRef, if set, is asked first about every accessPolicy
	// value: when it answers ok, its reference is used as it is; otherwise
	// the value must be an id or AccessPolicy/<id>. medplum apply uses it
	// so that a members CSV can name the access policies of the apply file.
	AccessPolicyRef func(value string) (ref string, ok bool)
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
type HeaderError struct{ Problems []Problem }

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
	if probs := rd.parseHeader(header, line); len(probs) > 0 {
		return nil, &HeaderError{Problems: probs}
	}
	return rd, nil
}

func (rd *Reader) parseHeader(header []string, line int) []Problem {
	var probs []Problem
	bad := func(col, format string, a ...any) {
		probs = append(probs, Problem{Line: line, Column: col, Reason: fmt.Sprintf(format, a...)})
	}
	rd.cols = make([]column, len(header))
	spelled := map[string]string{} // key -> name as first spelled
	for i, raw := range header {
		name := strings.TrimSpace(raw)
		c := column{name: name}
		lower := strings.ToLower(name)
		switch {
		case !utf8.ValidString(name):
			bad(fmt.Sprintf("column %d", i+1), "the header is not valid UTF-8 (save the file as UTF-8)")
			continue
		case strings.HasPrefix(lower, paramPrefix):
			c.param = strings.TrimSpace(name[len(paramPrefix):])
			if !membership.ValidParameterName(c.param) {
				bad(name, "an access parameter column needs a name like param:provider_organization")
				continue
			}
			c.key = paramPrefix + c.param
		case knownColumns[lower] != "":
			c.key = knownColumns[lower]
		case name == "":
			if !rd.opts.IgnoreUnknownColumns {
				bad(fmt.Sprintf("column %d", i+1), "has no name (use --ignore-unknown-columns to ignore it)")
			}
			continue
		default:
			if !rd.opts.IgnoreUnknownColumns {
				bad(name, "unknown column (known: %s; use --ignore-unknown-columns to ignore it)", knownColumnList)
			}
			continue
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
	for _, req := range []string{colFirstName, colLastName} {
		if _, ok := rd.index[req]; !ok {
			bad("", "missing column %s", displayName(req))
		}
	}
	_, hasEmail := rd.index[colEmail]
	_, hasExt := rd.index[colExternalID]
	if !hasEmail && !hasExt {
		bad("", "missing column email (or externalId)")
	}
	return probs
}

const knownColumnList = "resourceType or role, firstName, lastName, email, externalId, admin, accessPolicy, scope, patient, mfaRequired, sendEmail, param:<name>"

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
		row, probs := rd.parseRow(rec, line)
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
		if ref, ok := rd.policyRef(p); ok {
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

	if len(probs) == 0 {
		probs = rd.checkDuplicate(req, line)
	}
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
	if k := knownColumns[strings.ToLower(field)]; k != "" {
		return k
	}
	return field
}

// policyRef resolves an accessPolicy value: Options.AccessPolicyRef first,
// then an id or AccessPolicy/<id>.
func (rd *Reader) policyRef(v string) (string, bool) {
	if rd.opts.AccessPolicyRef != nil {
		if ref, ok := rd.opts.AccessPolicyRef(v); ok {
			return ref, true
		}
	}
	return membership.TypedRef(v, "AccessPolicy")
}

// checkDuplicate remembers the row's e-mail and external id and reports one
// already seen. Only valid rows are remembered, so a row is reported as a
// duplicate of a row that would otherwise have been sent.
func (rd *Reader) checkDuplicate(req client.InviteRequest, line int) []Problem {
	var probs []Problem
	var keys [][16]byte
	if req.Email != "" {
		k := hashKey("email", req.Email)
		if first, ok := rd.seen[k]; ok {
			probs = append(probs, Problem{Line: line, Column: rd.name(colEmail), Reason: fmt.Sprintf("duplicate: %s is already on line %d", req.Email, first)})
		}
		keys = append(keys, k)
	}
	if req.ExternalID != "" {
		k := hashKey("externalId", req.ExternalID)
		if first, ok := rd.seen[k]; ok {
			probs = append(probs, Problem{Line: line, Column: rd.name(colExternalID), Reason: fmt.Sprintf("duplicate: %s is already on line %d", req.ExternalID, first)})
		}
		keys = append(keys, k)
	}
	if len(probs) == 0 {
		for _, k := range keys {
			rd.seen[k] = int32(line)
		}
	}
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
