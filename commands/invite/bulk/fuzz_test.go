package bulk

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// FuzzReader feeds arbitrary files to the reader. Whatever the input, it
// must not panic, must move forward, and every row it calls valid must be
// a request the server would accept the shape of.
func FuzzReader(f *testing.F) {
	if sample, err := os.ReadFile("../../../testdata/invite/users.csv"); err == nil {
		f.Add(sample)
	}
	f.Add([]byte("\uFEFFrole,firstName,lastName,email\r\nPatient,\"A, B\",C,a@b.co\r\n"))
	f.Add([]byte("firstName,lastName,externalId,accessPolicy,param:org\nA,B,x1,p,Organization/1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data), Options{})
		if err != nil {
			var he *HeaderError
			if !errors.As(err, &he) || len(he.Problems) == 0 {
				t.Fatalf("NewReader error is not a HeaderError with problems: %v", err)
			}
			return
		}
		last := 0
		for {
			row, probs, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if row.Line <= last {
				t.Fatalf("line %d after line %d", row.Line, last)
			}
			last = row.Line
			for _, p := range probs {
				if p.Line != row.Line || p.Reason == "" {
					t.Fatalf("bad problem %+v for line %d", p, row.Line)
				}
			}
			if len(probs) == 0 {
				checkValidRequest(t, row)
			}
		}
	})
}

func checkValidRequest(t *testing.T, row Row) {
	t.Helper()
	r := row.Request
	if _, ok := membership.CanonicalRole(r.ResourceType); !ok || r.ResourceType == "" {
		t.Fatalf("line %d: role %q", row.Line, r.ResourceType)
	}
	if r.FirstName == "" || r.LastName == "" || r.FirstName != strings.TrimSpace(r.FirstName) {
		t.Fatalf("line %d: names %q %q", row.Line, r.FirstName, r.LastName)
	}
	if r.Email == "" && r.ExternalID == "" {
		t.Fatalf("line %d: no e-mail nor external id", row.Line)
	}
	if r.Email != "" && (!membership.ValidEmail(r.Email) || r.Email != strings.ToLower(r.Email)) {
		t.Fatalf("line %d: e-mail %q", row.Line, r.Email)
	}
	if r.SendEmail == nil {
		t.Fatalf("line %d: sendEmail not set", row.Line)
	}
	if (r.ResourceType == "RelatedPerson") != (r.Patient != nil) {
		t.Fatalf("line %d: %s with patient %v", row.Line, r.ResourceType, r.Patient)
	}
	if r.Patient != nil && !strings.HasPrefix(r.Patient.Reference, "Patient/") {
		t.Fatalf("line %d: patient %q", row.Line, r.Patient.Reference)
	}
	b, err := json.Marshal(r)
	if err != nil || !json.Valid(b) {
		t.Fatalf("line %d: marshal: %v", row.Line, err)
	}
}

// FuzzRow writes one row with encoding/csv and reads it back: any value
// that survives validation must come out exactly as written (trimmed).
func FuzzRow(f *testing.F) {
	f.Add("Practitioner", "Alice", "Smith", "alice@example.com", "", "true", "AccessPolicy/1", "Organization/abc")
	f.Add("patient", " Homer ", "Simpson, Jr.", "", "mrn-1", "no", "", "")
	f.Add("RelatedPerson", "Marge", "Simpson", "MARGE@example.com", "", "", "p-1", "west \"wing\"")
	f.Fuzz(func(t *testing.T, role, first, last, email, ext, admin, policy, param string) {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		_ = w.Write([]string{"role", "firstName", "lastName", "email", "externalId", "admin", "accessPolicy", "param:org", "patient"})
		patient := ""
		if strings.EqualFold(strings.TrimSpace(role), "RelatedPerson") {
			patient = "Patient/p1"
		}
		_ = w.Write([]string{role, first, last, email, ext, admin, policy, param, patient})
		w.Flush()
		rd, err := NewReader(&buf, Options{})
		if err != nil {
			t.Fatalf("header: %v", err)
		}
		row, probs, err := rd.Next()
		if errors.Is(err, io.EOF) {
			// Only an all-blank row is skipped.
			if !blank([]string{role, first, last, email, ext, admin, policy, param, patient}) {
				t.Fatalf("non-blank row skipped")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(probs) > 0 {
			return
		}
		checkValidRequest(t, row)
		r := row.Request
		// encoding/csv drops a carriage return before a newline, even
		// inside quotes, and the reader takes one ' off a cell that has
		// one before a formula character (as medplum's CSVs write such a
		// cell: output.CSVValue): those are the changes a round trip may
		// make.
		norm := func(s string) string {
			return strings.TrimSpace(output.CSVValue(strings.ReplaceAll(s, "\r\n", "\n")))
		}
		if r.FirstName != norm(first) || r.LastName != norm(last) ||
			r.Email != strings.ToLower(norm(email)) || r.ExternalID != norm(ext) {
			t.Fatalf("round trip changed values: %+v", r)
		}
		if p := norm(param); p != "" {
			got := r.Membership.Access[0].Parameter[0]
			if got.ValueString != p && (got.ValueReference == nil || got.ValueReference.Reference != p) {
				t.Fatalf("parameter %q came back as %+v", p, got)
			}
		}
	})
}
