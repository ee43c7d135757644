package bulk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// readAll parses a whole file and returns the valid rows' requests as JSON
// (keyed by line) and every problem as a string.
func readAll(t *testing.T, data string, opts Options) (map[int]string, []string) {
	t.Helper()
	rd, err := NewReader(strings.NewReader(data), opts)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	rows := map[int]string{}
	var probs []string
	for {
		row, ps, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		for _, p := range ps {
			probs = append(probs, p.String())
		}
		if len(ps) == 0 {
			b, err := json.Marshal(row.Request)
			if err != nil {
				t.Fatal(err)
			}
			rows[row.Line] = string(b)
		}
	}
	return rows, probs
}

func TestReaderRows(t *testing.T) {
	data := "\uFEFFRole,FIRSTNAME,lastName,Email,admin,accessPolicy,param:provider_organization,param:team,sendEmail,mfaRequired,scope,externalId,patient\r\n" +
		"Practitioner,Alice,Smith,AliceSmith@Example.com,true,AccessPolicy/123,Organization/abc,\"cardio, west\",,yes,server,,\r\n" +
		"\r\n" +
		"patient,\"Simpson, Homer\",\"Simpson\",homer@example.com,false,,,,true,,,,\r\n" +
		",Bob,\"Multi\nLine\",,,p1,,,,,,ext-9,\r\n" +
		"RelatedPerson,Marge,Simpson,marge@example.com,,,,,0,,project,,Patient/p-1\r\n" +
		" , , ,,,,,,,,,,\r\n"
	rows, probs := readAll(t, data, Options{})
	if len(probs) != 0 {
		t.Fatalf("problems: %q", probs)
	}
	want := map[int]string{
		2: `{"resourceType":"Practitioner","firstName":"Alice","lastName":"Smith","email":"alicesmith@example.com","scope":"server","sendEmail":false,"membership":{"admin":true,"access":[{"policy":{"reference":"AccessPolicy/123"},"parameter":[{"name":"provider_organization","valueReference":{"reference":"Organization/abc"}},{"name":"team","valueString":"cardio, west"}]}]},"mfaRequired":true}`,
		4: `{"resourceType":"Patient","firstName":"Simpson, Homer","lastName":"Simpson","email":"homer@example.com","sendEmail":true,"membership":{"admin":false}}`,
		5: `{"resourceType":"Practitioner","firstName":"Bob","lastName":"Multi\nLine","externalId":"ext-9","sendEmail":false,"membership":{"accessPolicy":{"reference":"AccessPolicy/p1"}}}`,
		7: `{"resourceType":"RelatedPerson","firstName":"Marge","lastName":"Simpson","email":"marge@example.com","patient":{"reference":"Patient/p-1"},"scope":"project","sendEmail":false}`,
	}
	for line, w := range want {
		if rows[line] != w {
			t.Errorf("line %d:\n got %s\nwant %s", line, rows[line], w)
		}
	}
	if len(rows) != len(want) {
		t.Errorf("got rows on lines %v, want %d rows", keys(rows), len(want))
	}
}

func keys(m map[int]string) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestReaderDefaults(t *testing.T) {
	rows, probs := readAll(t, "firstName,lastName,email\nA,B,a@b.co\n", Options{DefaultRole: "patient", SendEmail: true})
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	if want := `{"resourceType":"Patient","firstName":"A","lastName":"B","email":"a@b.co","sendEmail":true}`; rows[2] != want {
		t.Fatalf("got %s want %s", rows[2], want)
	}
}

// TestReaderPolicy: Options.Policy turns every accessPolicy cell into a
// reference, or into a problem of its row; a lookup that fails stops the
// reading.
func TestReaderPolicy(t *testing.T) {
	named := map[string]string{"Front desk": "AccessPolicy/p-1", "AccessPolicy/p-2": "AccessPolicy/p-2"}
	asked := map[string]int{}
	opts := Options{Policy: func(v string) (string, string, error) {
		asked[v]++
		if ref, ok := named[v]; ok {
			return ref, "", nil
		}
		return "", fmt.Sprintf("no access policy named %q in the project", v), nil
	}}
	rows, probs := readAll(t, "firstName,lastName,email,accessPolicy,param:team\n"+
		"A,B,a@b.co,Front desk,west\n"+
		"C,D,c@d.co,AccessPolicy/p-2,\n"+
		"E,F,e@f.co,Back office,\n", opts)
	if want := []string{`line 4: accessPolicy: no access policy named "Back office" in the project`}; strings.Join(probs, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems %q, want %q", probs, want)
	}
	want := map[int]string{
		2: `{"resourceType":"Practitioner","firstName":"A","lastName":"B","email":"a@b.co","sendEmail":false,"membership":{"access":[{"policy":{"reference":"AccessPolicy/p-1"},"parameter":[{"name":"team","valueString":"west"}]}]}}`,
		3: `{"resourceType":"Practitioner","firstName":"C","lastName":"D","email":"c@d.co","sendEmail":false,"membership":{"accessPolicy":{"reference":"AccessPolicy/p-2"}}}`,
	}
	for line, w := range want {
		if rows[line] != w {
			t.Errorf("line %d:\n got %s\nwant %s", line, rows[line], w)
		}
	}
	failing := Options{Policy: func(v string) (string, string, error) { return "", "", errors.New("connection refused") }}
	rd, err := NewReader(strings.NewReader("firstName,lastName,email,accessPolicy\nA,B,a@b.co,x\nC,D,c@d.co,y\n"), failing)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := rd.Next(); err == nil || err.Error() != `line 2: looking up the access policy "x": connection refused` {
			t.Fatalf("Next: %v", err)
		}
	}
}

func TestReaderProblems(t *testing.T) {
	data := strings.Join([]string{
		"role,firstName,lastName,email,admin,accessPolicy,patient,scope,externalId,param:org",
		"Practitioner,,Smith,alice@example.com,,,,,,",              // 2 missing first name
		"Practitioner,Bob,Jones,bob@,,,,,,",                        // 3 bad e-mail
		"Doctor,Carol,King,carol@example.com,,,,,,",                // 4 unknown role
		"Practitioner,Dan,Brown,dan@example.com,maybe,,,,,",        // 5 bad boolean
		"Practitioner,Eve,Adams,alice@EXAMPLE.com,,,,,,",           // 6 duplicate of 2, listed though 2 is invalid too
		"Practitioner,Fay,Lee,fay@example.com,,Organization/1,,,,", // 7 bad policy
		"RelatedPerson,Gus,Ray,gus@example.com,,,,,,",              // 8 RelatedPerson without patient
		"Patient,Hal,Ng,hal@example.com,,,Practitioner/1,,,",       // 9 bad patient ref, not RelatedPerson
		"Practitioner,Ida,Fox,ida@example.com,,,,galaxy,,",         // 10 bad scope
		"Practitioner,Jo,Li,,,,,,,",                                // 11 no e-mail nor externalId
		"Practitioner,Kim,Wu,kim@example.com,,,,,,Organization/2",  // 12 param without policy
		"Practitioner,Lou,Ma,eve2@example.com,,,,,",                // 13 wrong column count
		"Practitioner,Max,Po,EVE2@example.com,,,,,,",               // 14 fine (13 was invalid)
		"Practitioner,Ned,Qi,eve2@example.com,,,,,,",               // 15 duplicate of 14
		"Practitioner,Oz,Ra,,,,,server,ext-1,",                     // 16 externalId with server scope
		"Practitioner,Pia,Su,\"pia@example.com\",,,,,ext-2,",       // 17 fine
		"Practitioner,Quin,Ta,quin@example.com,,,,,ext-2,",         // 18 duplicate externalId
		"Practitioner,Ray,\"Unclosed,ray@example.com,,,,,,\nnext,", // 19 bare quote runs to EOF
	}, "\n")
	rows, probs := readAll(t, data, Options{})
	want := []string{
		`line 2: firstName: is required`,
		`line 3: email: not a valid e-mail address: "bob@"`,
		`line 4: role: unknown role "Doctor" (want Patient, Practitioner or RelatedPerson)`,
		`line 5: admin: not a boolean: "maybe" (want true or false)`,
		`line 6: email: duplicate: alice@example.com is already on line 2`,
		`line 7: accessPolicy: not an access policy: "Organization/1" (want AccessPolicy/<id> or an id)`,
		`line 8: patient: is required for a RelatedPerson (the Patient/<id> they are related to)`,
		`line 9: patient: not a Patient reference: "Practitioner/1" (want Patient/<id>)`,
		`line 9: patient: only applies to a RelatedPerson; this invite is for a Patient`,
		`line 10: scope: unknown scope "galaxy" (want project or server)`,
		`line 11: email: is required (or an externalId)`,
		`line 12: param:org: an access parameter needs an accessPolicy in the same row`,
		`line 13: has 9 fields, the header has 10`,
		`line 15: email: duplicate: eve2@example.com is already on line 14`,
		`line 16: scope: users with an externalId are always project-scoped; leave scope empty or say project`,
		`line 18: externalId: duplicate: ext-2 is already on line 17`,
		`line 19: extraneous or missing " in quoted-field`,
	}
	if strings.Join(probs, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n got:\n%s\nwant:\n%s", strings.Join(probs, "\n"), strings.Join(want, "\n"))
	}
	var lines []int
	for l := range rows {
		lines = append(lines, l)
	}
	if len(rows) != 2 || rows[14] == "" || rows[17] == "" {
		t.Errorf("valid rows on lines %v, want 14, 17", lines)
	}
}

func TestReaderHeaderProblems(t *testing.T) {
	cases := []struct {
		name, data string
		opts       Options
		want       string
	}{
		{"empty", "", Options{}, "invalid CSV header: line 1: the file is empty; the first line must name the columns"},
		{"unknown", "firstName,lastName,email,nickname\n", Options{},
			"invalid CSV header: line 1: nickname: unknown column"},
		{"unknown names needed", "Given,Family,Work Email,Job Title\n", Options{},
			"invalid CSV header: line 1: Given: unknown column; line 1: Family: unknown column; line 1: Work Email: unknown column; line 1: Job Title: unknown column; " +
				"line 1: missing column firstName; line 1: missing column lastName; line 1: missing column email (or externalId)"},
		{"map", "first,last,mail\n", Options{Map: map[string]string{"First": "firstname", "LAST": "Last Name", "Nope": "email", "mail": "e-mail address", "x": "salary"}},
			"invalid CSV header: line 1: x: cannot be mapped to \"salary\": not a column (known: " +
				KnownColumns + "; or ignore); line 1: Nope: is mapped, but the file has no such column"},
		{"map moves a known name", "email,Work Email,firstName,lastName\n", Options{Map: map[string]string{"workemail": "email"}},
			"invalid CSV header: line 1: Work Email: given twice (also as email)"},
		{"missing", "role,email\n", Options{},
			"invalid CSV header: line 1: missing column firstName; line 1: missing column lastName"},
		{"no identity", "firstName,lastName\n", Options{},
			"invalid CSV header: line 1: missing column email (or externalId)"},
		{"both role columns", "role,resourceType,firstName,lastName,email\n", Options{},
			"invalid CSV header: line 1: resourceType: given twice (also as role)"},
		{"bad param", "firstName,lastName,email,param:\n", Options{},
			"invalid CSV header: line 1: param:: an access parameter column needs a name like param:provider_organization"},
		{"unnamed", "firstName,lastName,email,\n", Options{},
			"invalid CSV header: line 1: column 4: has no name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(c.data), c.opts)
			var he *HeaderError
			if !errors.As(err, &he) {
				t.Fatalf("err = %v, want a HeaderError", err)
			}
			if err.Error() != c.want {
				t.Errorf("got  %s\nwant %s", err, c.want)
			}
		})
	}
}

// Headers as HR systems write them match the columns without regard to
// case, spaces, hyphens, underscores and dots; Options.Map says what the
// others are, or drops them. The caller learns which columns were unknown
// and which were missing, to advise.
func TestReaderHeadersAsHRWritesThem(t *testing.T) {
	data := "\uFEFFFirst Name,LAST_NAME,E-mail,Job Title,Is Admin,Access-Policy,Active\r\nAda,Lovelace,ada@example.com,Countess,yes,p1,no\r\n"
	rows, probs := readAll(t, data, Options{Map: map[string]string{"job title": Ignore, "IS ADMIN": "admin"}})
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	if want := `{"resourceType":"Practitioner","firstName":"Ada","lastName":"Lovelace","email":"ada@example.com","sendEmail":false,` +
		`"membership":{"admin":true,"accessPolicy":{"reference":"AccessPolicy/p1"},"active":false}}`; rows[2] != want {
		t.Errorf("got  %s\nwant %s", rows[2], want)
	}
	for _, name := range []string{"Email Address", "email address", "E-Mail", "e_mail", "Given Name", "Surname", "Family-Name", "Param:Org", "param:org"} {
		if ColumnKey(name) == "" {
			t.Errorf("%q is no column", name)
		}
	}
	_, err := NewReader(strings.NewReader("Given,Surname,Work Email\n"), Options{})
	var he *HeaderError
	if !errors.As(err, &he) || strings.Join(he.Unknown, ",") != "Given,Work Email" || strings.Join(he.Missing, ",") != "firstName,email" {
		t.Errorf("%v: unknown %q, missing %q", err, he.Unknown, he.Missing)
	}
}

func TestReaderIgnoreUnknownColumns(t *testing.T) {
	rows, probs := readAll(t, "firstName,nickname,lastName,email,\nA,Al,B,a@b.co,x\n", Options{IgnoreUnknownColumns: true})
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	if want := `{"resourceType":"Practitioner","firstName":"A","lastName":"B","email":"a@b.co","sendEmail":false}`; rows[2] != want {
		t.Fatalf("got %s", rows[2])
	}
}

func TestReaderInvalidUTF8(t *testing.T) {
	_, probs := readAll(t, "firstName,lastName,email\nJos\xe9,B,a@b.co\n", Options{})
	if want := "line 2: firstName: is not valid UTF-8 (save the file as UTF-8)"; len(probs) != 1 || probs[0] != want {
		t.Fatalf("got %q", probs)
	}
}

func TestCheck(t *testing.T) {
	f, err := os.Open("../../../testdata/invite/users.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Check(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 6 || res.Valid != 6 || len(res.Problems) != 0 {
		t.Fatalf("sample: rows=%d valid=%d problems=%v", res.Rows, res.Valid, res.Problems)
	}
	data, _ := os.ReadFile("../../../testdata/invite/users.csv")
	res2, _ := Check(strings.NewReader(string(data)+"\n"), Options{})
	if res2.Digest == res.Digest {
		t.Error("digest ignores a trailing newline")
	}
}

func TestCheckBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("firstName,lastName,email\n")
	for range MaxProblems + 10 {
		b.WriteString(",,\"x\"\n")
	}
	res, err := Check(strings.NewReader(b.String()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Invalid != MaxProblems+10 || len(res.Problems) != MaxProblems || res.Dropped != 2*(MaxProblems+10)+(MaxProblems+10)-MaxProblems {
		t.Fatalf("invalid=%d kept=%d dropped=%d", res.Invalid, len(res.Problems), res.Dropped)
	}
}

// The sample's README shows the request bodies of rows 2 and 3; keep it true.
func TestSampleREADME(t *testing.T) {
	data, err := os.ReadFile("../../../testdata/invite/users.csv")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../../testdata/invite/README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows, probs := readAll(t, string(data), Options{})
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	for _, line := range []int{2, 3} {
		if !strings.Contains(string(readme), "```json\n"+rows[line]+"\n```") {
			t.Errorf("README does not show row %d as %s", line, rows[line])
		}
	}
}
