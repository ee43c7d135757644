package auth

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPKCE(t *testing.T) {
	// RFC 7636 appendix B.
	if got := S256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Fatalf("S256Challenge = %s", got)
	}
	a, b := NewPKCE(), NewPKCE()
	if a.Verifier == b.Verifier || len(a.Verifier) != 43 || a.Method != "S256" || a.Challenge != S256Challenge(a.Verifier) {
		t.Fatalf("NewPKCE = %+v / %+v", a, b)
	}
	if s1, s2 := NewState(), NewState(); s1 == s2 || len(s1) < 22 {
		t.Fatalf("NewState = %q, %q", s1, s2)
	}
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCallbackReturnsCode(t *testing.T) {
	cb, err := ListenCallback(0)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	if !strings.HasPrefix(cb.RedirectURI(), "http://localhost:") {
		t.Fatalf("RedirectURI = %s", cb.RedirectURI())
	}
	base := strings.Replace(cb.RedirectURI(), "localhost", "127.0.0.1", 1)
	if code, _ := httpGet(t, base+"/favicon.ico"); code != 404 {
		t.Fatalf("favicon: %d", code)
	}
	if code, _ := httpGet(t, base+"/"); code != 404 {
		t.Fatalf("bare /: %d", code)
	}
	code, body := httpGet(t, base+"/?code=abc&state=s1")
	if code != 200 || !strings.Contains(body, "You may close this window") {
		t.Fatalf("callback answered %d %q", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := cb.Wait(ctx, "s1")
	if err != nil || got != "abc" {
		t.Fatalf("Wait = %q, %v", got, err)
	}
}

func TestCallbackWrongState(t *testing.T) {
	cb, err := ListenCallback(0)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	base := strings.Replace(cb.RedirectURI(), "localhost", "127.0.0.1", 1)
	httpGet(t, base+"/?code=abc&state=forged")
	_, err = cb.Wait(context.Background(), "expected")
	if !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("Wait = %v, want ErrStateMismatch", err)
	}
}

func TestCallbackOAuthError(t *testing.T) {
	cb, err := ListenCallback(0)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	base := strings.Replace(cb.RedirectURI(), "localhost", "127.0.0.1", 1)
	code, body := httpGet(t, base+"/?error=access_denied&error_description=User+denied&state=s")
	if code != 400 || !strings.Contains(body, "access_denied: User denied") {
		t.Fatalf("callback answered %d %q", code, body)
	}
	_, err = cb.Wait(context.Background(), "s")
	if err == nil || err.Error() != "the server refused the sign-in: access_denied: User denied" {
		t.Fatalf("Wait = %v", err)
	}
}

func TestCallbackTimeout(t *testing.T) {
	cb, err := ListenCallback(0)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := cb.Wait(ctx, "s"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v", err)
	}
}

func TestCallbackPortBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = ListenCallback(port)
	if !errors.Is(err, ErrCallbackPortBusy) || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("ListenCallback on a busy port = %v", err)
	}
}

func TestParsePasted(t *testing.T) {
	for _, tc := range []struct {
		in, code, err string
	}{
		{"http://localhost:9615/?code=c1&state=S", "c1", ""},
		{"  localhost:9615/?state=S&code=c2\n", "c2", ""},
		{"code=c3&state=S", "c3", ""},
		{"c4", "c4", ""},
		{"http://localhost:9615/?code=c1&state=other", "", ErrStateMismatch.Error()},
		{"http://localhost:9615/?code=c1", "", ErrStateMismatch.Error()},
		{"http://localhost:9615/?error=access_denied&state=S", "", "the server refused the sign-in: access_denied"},
		{"http://localhost:9615/?state=S", "", "the redirect carries no code"},
		{"", "", "nothing was pasted"},
	} {
		got, err := ParsePasted(tc.in, "S")
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParsePasted(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.code {
			t.Errorf("ParsePasted(%q) = %q, %v; want %q", tc.in, got, err, tc.code)
		}
	}
}

func TestAuthorizationURLDefaults(t *testing.T) {
	u, err := authorizationURL(BrowserOptions{AuthorizeURL: "https://api.example.com/oauth2/authorize?x=1", ClientID: CLIClientID, Scope: DefaultScope, LoginHint: "a@b.c"},
		"http://localhost:9615", "STATE", PKCE{Challenge: "CH", Method: "S256"})
	if err != nil {
		t.Fatal(err)
	}
	want := "https://api.example.com/oauth2/authorize?client_id=medplum-cli&code_challenge=CH&code_challenge_method=S256&login_hint=a%40b.c&prompt=login&redirect_uri=http%3A%2F%2Flocalhost%3A9615&response_type=code&scope=openid+offline_access&state=STATE&x=1"
	if u != want {
		t.Fatalf("authorizationURL =\n%s\nwant\n%s", u, want)
	}
	if _, err := authorizationURL(BrowserOptions{AuthorizeURL: "oauth2/authorize"}, "", "", PKCE{}); err == nil {
		t.Fatal("a relative authorize URL was accepted")
	}
}
