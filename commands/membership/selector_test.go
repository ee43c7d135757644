package membership

import (
	"strings"
	"testing"
	"unicode"
)

func TestParseSelector(t *testing.T) {
	good := map[string]Selector{
		"82399b9d-4910-43c8-a667-64e4d3ee3dad":         {ByMembership, "82399b9d-4910-43c8-a667-64e4d3ee3dad"},
		"ProjectMembership/82399b9d":                   {ByMembership, "82399b9d"},
		" Homer@Example.COM ":                          {ByEmail, "homer@example.com"},
		"Patient/c8190960-a62a-4dfd-9730-4516b073be59": {ByProfile, "Patient/c8190960-a62a-4dfd-9730-4516b073be59"},
		"Practitioner/1":                               {ByProfile, "Practitioner/1"},
		"RelatedPerson/1":                              {ByProfile, "RelatedPerson/1"},
		"Bot/1":                                        {ByProfile, "Bot/1"},
		"ClientApplication/5ed3e08d-5406-4ce1-ad47-4dc5cd2003c3": {ByProfile, "ClientApplication/5ed3e08d-5406-4ce1-ad47-4dc5cd2003c3"},
		"User/7f9eb9f9": {ByUser, "User/7f9eb9f9"},
		// Names: with spaces (collapsed), or one word that is no id.
		" Homer  Simpson ": {ByName, "Homer Simpson"},
		"Dr.\tJosé Ñúñez":  {ByName, "Dr. José Ñúñez"},
		"José":             {ByName, "José"},
		"O'Brien":          {ByName, "O'Brien"},
		"Homer":            {ByMembership, "Homer"}, // an id first; Resolve looks it up as a name when no membership has it
		"Jean-Luc":         {ByMembership, "Jean-Luc"},
		"Acme Lab/Ops":     {ByName, "Acme Lab/Ops"},
	}
	for in, want := range good {
		got, err := ParseSelector(in)
		if err != nil || got != want {
			t.Errorf("%q: got %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                               `empty member: want a membership id, an e-mail, a name, or Patient/<id> and the like`,
		"homer@":                         `member "homer@": not a valid e-mail address`,
		"Organization/1":                 `member "Organization/1": a reference must be to ProjectMembership, User or a profile (Patient, Practitioner, RelatedPerson, Bot, ClientApplication)`,
		"patient/1":                      `member "patient/1": a reference must be to ProjectMembership, User or a profile (Patient, Practitioner, RelatedPerson, Bot, ClientApplication)`,
		"Patient/1/_history/2":           `member "Patient/1/_history/2": "1/_history/2" is not a FHIR id`,
		"Patient/":                       `member "Patient/": "" is not a FHIR id`,
		"abc?x=1":                        `member "abc?x=1": not a membership id, an e-mail, a name or a reference like Patient/<id>`,
		"Homer\x00Simpson":               `member "Homer\x00Simpson": contains control characters`,
		"a b" + strings.Repeat("c", 200): `member "a b` + strings.Repeat("c", 200) + `": a name longer than 200 bytes`,
		strings.Repeat("a", 201):         `member "` + strings.Repeat("a", 201) + `": not a membership id, an e-mail, a name or a reference like Patient/<id>`,
		"ProjectMembership/a#b":          `member "ProjectMembership/a#b": "a#b" is not a FHIR id`,
	}
	for in, want := range bad {
		if _, err := ParseSelector(in); err == nil || err.Error() != want {
			t.Errorf("%q: got %v\nwant %s", in, err, want)
		}
	}
}

// FuzzSelector: any input either fails with a message or gives a selector
// whose canonical form reads back the same, whose value is safe where it
// goes (an id or Type/<id> in a URL path; a lowercase e-mail, encoded, in a
// query), and whose kind matches its shape.
func FuzzSelector(f *testing.F) {
	for _, s := range []string{"82399b9d-4910-43c8-a667-64e4d3ee3dad", "ProjectMembership/x", "homer@example.com",
		"Patient/123", "User/1", "Organization/1", "", " ", "a/b/c", "a@b@c.co", "josé@exämple.de", "Patient/../x",
		"Homer Simpson", " a\u00a0b ", "O'Brien", "José"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sel, err := ParseSelector(in)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		again, err := ParseSelector(sel.String())
		if err != nil || again != sel {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", in, sel, sel.String(), again, err)
		}
		// E-mails and names go into a query (encoded) and may hold ? # &
		// legally; ids and references go into paths and must not. Only a
		// name has spaces, single ones between words.
		if strings.ContainsFunc(sel.Value, unicode.IsControl) ||
			(sel.Kind != ByName && strings.ContainsFunc(sel.Value, unicode.IsSpace)) ||
			(sel.Kind != ByEmail && sel.Kind != ByName && strings.ContainsAny(sel.Value, "?#&%")) {
			t.Fatalf("%q: unsafe value %q", in, sel.Value)
		}
		switch sel.Kind {
		case ByMembership:
			if !ValidID(sel.Value) {
				t.Fatalf("%q: membership id %q", in, sel.Value)
			}
		case ByEmail:
			if !ValidEmail(sel.Value) || sel.Value != strings.ToLower(sel.Value) {
				t.Fatalf("%q: e-mail %q", in, sel.Value)
			}
		case ByProfile, ByUser:
			typ, id, ok := strings.Cut(sel.Value, "/")
			if !ok || !ValidID(id) || (sel.Kind == ByUser) != (typ == "User") {
				t.Fatalf("%q: reference %q", in, sel.Value)
			}
			if _, ok := CanonicalProfileType(typ); sel.Kind == ByProfile && (!ok || typ == "ProjectMembership") {
				t.Fatalf("%q: profile type %q", in, typ)
			}
		case ByName:
			if sel.Value != strings.Join(strings.Fields(sel.Value), " ") || len(sel.Value) > maxName {
				t.Fatalf("%q: name %q", in, sel.Value)
			}
		default:
			t.Fatalf("%q: kind %d", in, sel.Kind)
		}
	})
}
