package client

import "testing"

func newTestClient(t *testing.T, opts Options) *Client {
	t.Helper()
	if opts.BaseURL == "" {
		opts.BaseURL = "https://api.example.com/"
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestResolveURL(t *testing.T) {
	c := newTestClient(t, Options{BaseURL: "https://api.example.com"})
	cases := []struct{ in, want string }{
		// Relative to the FHIR base.
		{"Patient", "https://api.example.com/fhir/R4/Patient"},
		{"/Patient", "https://api.example.com/fhir/R4/Patient"},
		{"Patient/123", "https://api.example.com/fhir/R4/Patient/123"},
		{"ProjectMembership?profile-type:not=ClientApplication,Bot", "https://api.example.com/fhir/R4/ProjectMembership?profile-type:not=ClientApplication,Bot"},
		{"Patient?name=John Smith", "https://api.example.com/fhir/R4/Patient?name=John%20Smith"},
		{"Patient?name=Zoë", "https://api.example.com/fhir/R4/Patient?name=Zo%C3%AB"},
		{"Patient?name=a%20b", "https://api.example.com/fhir/R4/Patient?name=a%20b"},
		{"administrators", "https://api.example.com/fhir/R4/administrators"},
		{"fhir/R4Patient", "https://api.example.com/fhir/R4/fhir/R4Patient"},
		{"$export", "https://api.example.com/fhir/R4/$export"},
		{"healthcheck", "https://api.example.com/fhir/R4/healthcheck"},
		// Relative to the base URL.
		{"admin/projects/p1", "https://api.example.com/admin/projects/p1"},
		{"/admin/projects/p1/members/m1", "https://api.example.com/admin/projects/p1/members/m1"},
		{"//admin/projects/p1", "https://api.example.com/admin/projects/p1"},
		{"auth/me", "https://api.example.com/auth/me"},
		{"/auth/me", "https://api.example.com/auth/me"},
		{"oauth2/token", "https://api.example.com/oauth2/token"},
		{"fhir/R4/Patient", "https://api.example.com/fhir/R4/Patient"},
		{"/fhir/R4/Patient?_count=2", "https://api.example.com/fhir/R4/Patient?_count=2"},
		{"fhir/R4", "https://api.example.com/fhir/R4"},
		{"fhir/R4?_type=Patient", "https://api.example.com/fhir/R4?_type=Patient"},
		// Absolute URLs pass through, same host or not.
		{"https://api.example.com/fhir/R4/Patient?_count=20&_offset=20", "https://api.example.com/fhir/R4/Patient?_count=20&_offset=20"},
		{"HTTPS://api.example.com/fhir/R4/Patient", "https://api.example.com/fhir/R4/Patient"},
		{"http://other.example.org/fhir/R4/Patient", "http://other.example.org/fhir/R4/Patient"},
		// Absolute URL in a query value is still relative.
		{"Patient?url=http://x.example/y", "https://api.example.com/fhir/R4/Patient?url=http://x.example/y"},
	}
	for _, tc := range cases {
		got, err := c.ResolveURL(tc.in)
		if err != nil {
			t.Errorf("ResolveURL(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ResolveURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestResolveURLBaseWithPathAndCustomFHIRPath(t *testing.T) {
	c := newTestClient(t, Options{BaseURL: "http://127.0.0.1:8103/api/projects/p1/", FHIRPath: "/fhir/R5/"})
	cases := []struct{ in, want string }{
		{"Patient", "http://127.0.0.1:8103/api/projects/p1/fhir/R5/Patient"},
		{"fhir/R5/Patient", "http://127.0.0.1:8103/api/projects/p1/fhir/R5/Patient"},
		{"/admin/projects/p1", "http://127.0.0.1:8103/api/projects/p1/admin/projects/p1"},
		{"fhir/R4/Patient", "http://127.0.0.1:8103/api/projects/p1/fhir/R5/fhir/R4/Patient"},
	}
	for _, tc := range cases {
		got, err := c.ResolveURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ResolveURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if got, want := c.FHIRBaseURL(), "http://127.0.0.1:8103/api/projects/p1/fhir/R5/"; got != want {
		t.Errorf("FHIRBaseURL = %q, want %q", got, want)
	}
}

func TestResolveURLErrors(t *testing.T) {
	c := newTestClient(t, Options{})
	for _, in := range []string{"", "   ", "ftp://x.example/a", "file:///etc/passwd", "https:///nohost"} {
		if got, err := c.ResolveURL(in); err == nil {
			t.Errorf("ResolveURL(%q) = %q, want an error", in, got)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{BaseURL: ""},
		{BaseURL: "api.example.com"},
		{BaseURL: "ftp://api.example.com"},
		{BaseURL: "https://api.example.com/?x=1"},
		{BaseURL: "https://api.example.com", FHIRPath: "https://other/fhir"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", o)
		}
	}
}

func TestTokenURL(t *testing.T) {
	cases := []struct{ base, tok, want string }{
		{"https://api.example.com", "", "https://api.example.com/oauth2/token"},
		{"https://api.example.com/api/", "/oauth2/token", "https://api.example.com/api/oauth2/token"},
		{"https://api.example.com", "https://idp.example.org/token", "https://idp.example.org/token"},
	}
	for _, tc := range cases {
		c := newTestClient(t, Options{BaseURL: tc.base, TokenURL: tc.tok})
		if got := c.TokenURL(); got != tc.want {
			t.Errorf("TokenURL(%q, %q) = %q, want %q", tc.base, tc.tok, got, tc.want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	c := newTestClient(t, Options{BaseURL: "https://API.example.com/base/"})
	cases := map[string]bool{
		"https://api.example.com/fhir/R4/Patient":     true,
		"https://api.example.com:443/fhir/R4/Patient": true,
		"https://api.example.com/elsewhere":           true,
		"http://api.example.com/fhir/R4/Patient":      false,
		"https://api.example.com:8443/fhir/R4":        false,
		"https://evil.example.com/fhir/R4/Patient":    false,
		"https://api.example.com.evil.example/x":      false,
	}
	for u, want := range cases {
		if got := c.SameOrigin(u); got != want {
			t.Errorf("SameOrigin(%q) = %v, want %v", u, got, want)
		}
	}
}

// A URL that cannot be used is named in the error without its password,
// and url.Parse's cause without the URL a second time.
func TestURLErrorsHidePasswords(t *testing.T) {
	c := newTestClient(t, Options{})
	_, e1 := New(Options{BaseURL: "https://u:hunter2@exa mple.com/"})
	_, e2 := New(Options{BaseURL: "https://x/", TokenURL: "https://u:hunter2@ex ample.com/t"})
	_, e3 := c.ResolveURL("ftp://u:hunter2@example.com/")
	_, e4 := c.ResolveURL("https://u:hunter2@x/%zz")
	for i, tc := range []struct {
		err  error
		want string
	}{
		{e1, `base URL "https://u:[REDACTED]@exa mple.com/": invalid character " " in host name`},
		{e2, `token URL "https://u:[REDACTED]@ex ample.com/t": invalid character " " in host name`},
		{e3, `URL "ftp://u:[REDACTED]@example.com/": only http and https URLs are supported`},
		{e4, `URL "https://u:[REDACTED]@x/%zz": invalid URL escape "%zz"`},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("%d: %v\nwant %s", i, tc.err, tc.want)
		}
	}
}
