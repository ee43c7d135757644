package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/commands/iostreams"
)

const bundle = `{"resourceType":"Bundle","type":"searchset","entry":[
{"fullUrl":"x","resource":{"resourceType":"Patient","id":"p1","meta":{"lastUpdated":"2026-01-01T00:00:00.000Z"},"name":[{"given":["Homer","J"],"family":"Simpson"}],"birthDate":"1956-05-12","valueDecimal":0.125000,"big":12345678901234567890}},
{"resource":{"resourceType":"Patient","id":"p2","name":[{"text":"Marge\tSimpson"}],"gender":"female"}}],
"link":[{"relation":"self","url":"http://x/fhir/R4/Patient"}]}`

func TestWriteBodyJSONKeepsBytes(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	o := &Options{Format: JSON}
	if err := o.WriteBody(ios, []byte(`{"z":1,"a":0.10,"html":"<div>&</div>","big":12345678901234567890}`)); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"z\": 1,\n  \"a\": 0.10,\n  \"html\": \"<div>&</div>\",\n  \"big\": 12345678901234567890\n}\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestWriteBodyNDJSON(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	o := &Options{Format: NDJSON}
	if err := o.WriteBody(ios, []byte(bundle)); err != nil {
		t.Fatal(err)
	}
	want := `{"resourceType":"Patient","id":"p1","meta":{"lastUpdated":"2026-01-01T00:00:00.000Z"},"name":[{"given":["Homer","J"],"family":"Simpson"}],"birthDate":"1956-05-12","valueDecimal":0.125000,"big":12345678901234567890}
{"resourceType":"Patient","id":"p2","name":[{"text":"Marge\tSimpson"}],"gender":"female"}
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestWriteBodyTSVWhenPiped(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	o := &Options{Format: Table}
	if err := o.WriteBody(ios, []byte(bundle)); err != nil {
		t.Fatal(err)
	}
	want := "TYPE\tID\tLAST UPDATED\tDISPLAY\tBIRTH DATE\tGENDER\n" +
		"Patient\tp1\t2026-01-01T00:00:00.000Z\tHomer J Simpson\t1956-05-12\t\n" +
		"Patient\tp2\t\tMarge Simpson\t\tfemale\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
}

func TestColumnsAndNoHeader(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	o := &Options{Format: CSV, Columns: []string{"id", "name.given.1", "valueDecimal", "big", "name"}, NoHeader: true}
	if err := o.WriteBody(ios, []byte(bundle)); err != nil {
		t.Fatal(err)
	}
	want := "p1,J,0.125000,12345678901234567890,\"[{\"\"family\"\":\"\"Simpson\"\",\"\"given\"\":[\"\"Homer\"\",\"\"J\"\"]}]\"\n" +
		"p2,,,,\"[{\"\"text\"\":\"\"Marge\\tSimpson\"\"}]\"\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestTableOnTTYFitsWidth(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	ios.SetTerminalWidth(70)
	o := &Options{Format: Table}
	body := `{"resourceType":"ProjectMembership","id":"0123456789abcdef","meta":{"lastUpdated":"2026-01-01T00:00:00.000Z"},"profile":{"reference":"Practitioner/1","display":"Alice Smith the Magnificent"},"admin":true}`
	if err := o.WriteBody(ios, []byte(body)); err != nil {
		t.Fatal(err)
	}
	want := "TYPE         ID                LAST UPDAT…  DISPLAY      ADMIN  ACTIVE\n" +
		"ProjectMem…  0123456789abcdef  2026-01-01…  Alice Smit…  true\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

// members is a membership table: ids, e-mail addresses and references
// that an administrator copies, and names that may be cut.
var members = Rows{Default: []string{"id", "name", "user", "admin"}, Records: []Record{
	MapRecord{"id": "cb0b9147-eec6-4a35-9c6c-3e0c8f5b0c1d", "name": "Alice Smith the Magnificent", "user": "alice.smith@example.com", "admin": "true"},
	MapRecord{"id": "7d41e2a0-1b9c-4e5f-8a6d-2c3b4a5f6e7d", "name": "Lab feed", "user": "Integration bot for the lab results feed", "admin": "false"},
}}

// On an 80-column terminal the ids and e-mail addresses stay whole (an
// administrator copies them out of tables); free text gives way.
func TestTableOnTTYKeepsIDsWhole(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	ios.SetTerminalWidth(80)
	o := &Options{Format: Table}
	if err := o.WriteRows(ios, members); err != nil {
		t.Fatal(err)
	}
	want := "ID                                    NAME        USER                     ADMIN\n" +
		"cb0b9147-eec6-4a35-9c6c-3e0c8f5b0c1d  Alice Smi…  alice.smith@example.com  true\n" +
		"7d41e2a0-1b9c-4e5f-8a6d-2c3b4a5f6e7d  Lab feed    Integration bot for th…  false\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

// A terminal narrower than the ids themselves gets one block of lines per
// record, every value whole.
func TestTableOnNarrowTTYPrintsRecords(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	ios.SetTerminalWidth(60)
	o := &Options{Format: Table, NoHeader: true}
	if err := o.WriteRows(ios, members); err != nil {
		t.Fatal(err)
	}
	want := "ID     cb0b9147-eec6-4a35-9c6c-3e0c8f5b0c1d\n" +
		"NAME   Alice Smith the Magnificent\n" +
		"USER   alice.smith@example.com\n" +
		"ADMIN  true\n" +
		"\n" +
		"ID     7d41e2a0-1b9c-4e5f-8a6d-2c3b4a5f6e7d\n" +
		"NAME   Lab feed\n" +
		"USER   Integration bot for the lab results feed\n" +
		"ADMIN  false\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}

	// One column is a list however narrow the terminal.
	out.Reset()
	o.Columns = []string{"id"}
	ios.SetTerminalWidth(20)
	if err := o.WriteRows(ios, members); err != nil {
		t.Fatal(err)
	}
	if want := "cb0b9147-eec6-4a35-9c6c-3e0c8f5b0c1d\n7d41e2a0-1b9c-4e5f-8a6d-2c3b4a5f6e7d\n"; out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestKeepWhole(t *testing.T) {
	for cell, want := range map[string]bool{
		"cb0b9147-eec6-4a35-9c6c-3e0c8f5b0c1d":                    true,
		"Practitioner/cb0b9147-eec6-4a35-9c6c-3e0c8f5b0c1d":       true,
		"Patient/p1/_history/2":                                   true,
		"AccessPolicy/a1?site=Organization%2Fo1, AccessPolicy/b2": true,
		"homer@example.com":                                       true,
		"https://api.medplum.com/":                                true,
		"urn:uuid:cb0b9147-eec6-4a35-9c6c-3e0c8f5b0c1d":           true,
		"Practitioner":                                            false,
		"Homer Simpson":                                           false,
		"2026-01-01T00:00:00.000Z":                                false,
		"AccessPolicy/a1, Homer Simpson":                          false,
		"":                                                        false,
	} {
		if got := keepWhole(cell); got != want {
			t.Errorf("keepWhole(%q) = %v", cell, got)
		}
	}
}

func TestTableOnTTYNaturalWidth(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	o := &Options{Format: Table, Columns: []string{"id", "display"}}
	if err := o.WriteBody(ios, []byte(bundle)); err != nil {
		t.Fatal(err)
	}
	want := "ID  DISPLAY\np1  Homer J Simpson\np2  Marge Simpson\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
}

func TestDisplay(t *testing.T) {
	cases := map[string]string{
		`{"resourceType":"ProjectMembership","profile":{"reference":"Patient/1","display":"Homer"}}`: "Homer",
		`{"resourceType":"ProjectMembership","profile":{"reference":"Patient/1"}}`:                   "Patient/1",
		`{"resourceType":"Project","name":"P"}`:                                                      "P",
		`{"resourceType":"User","email":"a@b.c"}`:                                                    "a@b.c",
		`{"resourceType":"OperationOutcome","issue":[{"details":{"text":"All OK"}}]}`:                "All OK",
		`{"resourceType":"Observation","code":{"coding":[{"display":"Heart rate"}]}}`:                "Heart rate",
	}
	for in, want := range cases {
		rows, err := ResourceRows([]json.RawMessage{json.RawMessage(in)})
		if err != nil {
			t.Fatal(err)
		}
		if got := rows.Records[0].Field("display"); got != want {
			t.Errorf("%s: got %q want %q", in, got, want)
		}
	}
}

func TestNonJSONBodyPrintedRaw(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	o := &Options{Format: JSON}
	if err := o.WriteBody(ios, []byte("<html>Cannot GET /x</html>\n")); err != nil {
		t.Fatal(err)
	}
	if out.String() != "<html>Cannot GET /x</html>\n" {
		t.Errorf("got %q", out)
	}
}

func TestHeader(t *testing.T) {
	for in, want := range map[string]string{"lastUpdated": "LAST UPDATED", "base_url": "BASE URL", "id": "ID", "meta.versionId": "META.VERSION ID"} {
		if got := Header(in); got != want {
			t.Errorf("%s: %q", in, got)
		}
	}
}

func TestWithoutSecrets(t *testing.T) {
	in := `{"resourceType":"ClientApplication","secret":"s1","name":"x","n":1.50,` +
		`"nested":[{"retiringSecret":"s2","keep":"\u003c"}],"project":{"secret":[{"name":"K","valueString":"s3"}],"systemSecret":[]}}`
	got, err := WithoutSecrets([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"resourceType":"ClientApplication","name":"x","n":1.50,"nested":[{"keep":"\u003c"}],"project":{}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	plain := `{"b": 1, "a": 2}`
	if got, _ := WithoutSecrets([]byte(plain)); string(got) != plain {
		t.Errorf("a document without secrets changed: %s", got)
	}
}

// JSONArrayWriter writes, one document at a time, the bytes WriteJSON
// gives the whole array.
func TestJSONArrayWriterIsWriteJSONOfTheArray(t *testing.T) {
	for _, docs := range [][]string{
		nil,
		{`{"a":1}`},
		{`{"resourceType":"ProjectMembership","id":"1","profile":{"reference":"Patient/1","display":"A <b> & c"}}`, `{ "b" : [ 1, 2.50, {"c": []} ], "d": {} }`, `[]`, `"x"`},
	} {
		var whole bytes.Buffer
		if err := WriteJSON(&whole, []byte("["+strings.Join(docs, ",")+"]")); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		a := NewJSONArrayWriter(&got)
		for _, d := range docs {
			if err := a.Write([]byte(d)); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if got.String() != whole.String() {
			t.Errorf("%v:\ngot\n%s\nwant\n%s", docs, got.String(), whole.String())
		}
	}
}

// Rows.Compact is what -o table shows on a terminal without --columns;
// -o wide, a pipe and CSV show Default.
func TestCompactColumnsOnATerminalOnly(t *testing.T) {
	rows := Rows{Default: []string{"id", "name", "note"}, Compact: []string{"name"},
		Records: []Record{MapRecord{"id": "1", "name": "Ann", "note": "n"}}}
	for _, c := range []struct {
		format Format
		tty    bool
		cols   []string
		want   string
	}{
		{Table, true, nil, "NAME\nAnn\n"},
		{Wide, true, nil, "ID  NAME  NOTE\n1   Ann   n\n"},
		{Table, false, nil, "ID\tNAME\tNOTE\n1\tAnn\tn\n"},
		{Wide, false, nil, "ID\tNAME\tNOTE\n1\tAnn\tn\n"},
		{CSV, true, nil, "id,name,note\n1,Ann,n\n"},
		{Table, true, []string{"note", "id"}, "NOTE  ID\nn     1\n"},
	} {
		ios, _, out, _ := iostreams.Test()
		ios.SetStdoutTTY(c.tty)
		o := &Options{Format: c.format, Columns: c.cols}
		if err := o.WriteRows(ios, rows); err != nil {
			t.Fatal(err)
		}
		if out.String() != c.want {
			t.Errorf("%s tty=%v %v: got %q, want %q", c.format, c.tty, c.cols, out.String(), c.want)
		}
	}
}
