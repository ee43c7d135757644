package rest_test

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// requestLog is each request the sandbox saw: method, path and query, and
// the scheme of its credentials.
func requestLog(srv *medplumtest.Server) string {
	var b strings.Builder
	for _, r := range srv.Requests() {
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		q := ""
		if r.RawQuery != "" {
			q = "?" + r.RawQuery
		}
		b.WriteString(r.Method + " " + r.Path + q + " " + scheme + "\n")
	}
	return b.String()
}

// The README's CI recipe (MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET in
// the environment): a single get is a single request, with the client's
// credentials as HTTP Basic; a long command (get --all) still uses one
// token for every request after its first.
func TestOneRoundTripWithEnvironmentCredentials(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithMembers(41))
	e := clitest.SignedIn(t, srv)
	srv.ResetRequests()
	e.Run("get", "ProjectMembership?profile-type=Patient", "--jq", ".entry | length").Expect(t, 0, "1\n", "")
	if got, want := requestLog(srv), "GET /fhir/R4/ProjectMembership?profile-type=Patient Basic\n"; got != want {
		t.Errorf("requests:\n%swant:\n%s", got, want)
	}

	srv.ResetRequests()
	e.Run("get", "ProjectMembership?_count=20&_sort=_lastUpdated", "--all", "--jq", ".entry | length").Expect(t, 0, "45\n", "")
	log := strings.Split(strings.TrimSuffix(requestLog(srv), "\n"), "\n")
	if len(log) != 4 || !strings.HasSuffix(log[0], " Basic") || log[1] != "POST /oauth2/token " ||
		!strings.HasSuffix(log[2], " Bearer") || !strings.HasSuffix(log[3], " Bearer") {
		t.Errorf("get --all over 3 pages: want Basic, one token request, Bearer, Bearer:\n%s", strings.Join(log, "\n"))
	}

	// A server that refuses Basic credentials: the same request again with
	// a token, and the answer as before.
	srv.SetBasicAuth(false)
	srv.ResetRequests()
	e.Run("get", "ProjectMembership?profile-type=Patient", "--jq", ".entry | length").Expect(t, 0, "1\n", "")
	if got, want := requestLog(srv), "GET /fhir/R4/ProjectMembership?profile-type=Patient Basic\n"+
		"POST /oauth2/token \n"+
		"GET /fhir/R4/ProjectMembership?profile-type=Patient Bearer\n"; got != want {
		t.Errorf("requests:\n%swant:\n%s", got, want)
	}
}

// README: a profile whose auth type is client-credentials, or that sets a
// scope, asks for the token first, also with the credentials in the
// environment (the profile chosen by -p or MEDPLUM_PROFILE). The two are
// profile settings, not flags of get.
func TestProfileAuthTypeAsksForTheTokenFirst(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	cfg := filepath.Join(e.ConfigDir, "config.yaml")
	e.Run("profile", "set", "ci", "--auth-type", "client-credentials").Expect(t, 0, "", "Created profile ci in "+cfg+"\n")
	e.Run("profile", "set", "scoped", "--scope", "openid").Expect(t, 0, "", "Created profile scoped in "+cfg+"\n")
	tokenFirst := "POST /oauth2/token \nGET /fhir/R4/Project/" + srv.Seed.ProjectID + " Bearer\n"
	for _, run := range [][]string{
		{"-p", "ci", "get", "Project/" + srv.Seed.ProjectID},
		{"-p", "scoped", "get", "Project/" + srv.Seed.ProjectID},
	} {
		srv.ResetRequests()
		e.Run(append(run, "--jq", ".id")...).Expect(t, 0, srv.Seed.ProjectID+"\n", "")
		if got := requestLog(srv); got != tokenFirst {
			t.Errorf("%s:\n%swant:\n%s", strings.Join(run, " "), got, tokenFirst)
		}
	}
	srv.ResetRequests()
	e.Set("MEDPLUM_PROFILE", "ci").Run("get", "Project/"+srv.Seed.ProjectID, "--jq", ".id").Expect(t, 0, srv.Seed.ProjectID+"\n", "")
	if got := requestLog(srv); got != tokenFirst {
		t.Errorf("MEDPLUM_PROFILE=ci:\n%swant:\n%s", got, tokenFirst)
	}
	e.Run("get", "Project/"+srv.Seed.ProjectID, "--auth-type", "client-credentials").
		Expect(t, 2, "", "medplum: unknown flag: --auth-type\nRun 'medplum get --help' for usage.\n")
}

// countingListener counts the connections the server accepts.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// The token client and the API client share one transport: a command that
// needs a token (Basic refused, or get --all after its first page) makes
// one connection, not one per client.
func TestTokenAndRequestsShareAConnection(t *testing.T) {
	srv := medplumtest.New(medplumtest.WithMembers(41))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	srv.Start(cl)
	t.Cleanup(srv.Close)
	e := clitest.SignedIn(t, srv)

	e.Run("get", "ProjectMembership?_count=20&_sort=_lastUpdated", "--all", "--jq", ".entry | length").Expect(t, 0, "45\n", "")
	if n := cl.n.Swap(0); n != 1 {
		t.Errorf("get --all (Basic, a token, two pages with it): %d connections, want 1", n)
	}
	srv.SetBasicAuth(false)
	srv.ResetRequests()
	e.Run("get", "ProjectMembership?profile-type=Patient", "--jq", ".entry | length").Expect(t, 0, "1\n", "")
	if len(srv.Requests()) != 3 {
		t.Fatalf("Basic refused: want 3 requests (Basic, token, Bearer):\n%s", requestLog(srv))
	}
	if n := cl.n.Swap(0); n != 1 {
		t.Errorf("Basic refused, then a token: %d connections, want 1", n)
	}
}

// A transient failure (503, 429, a dropped connection) says nothing about
// the credentials: the retry sends the request again with the same ones.
// The first request of a command with client credentials from the
// environment goes with Basic, and so does its retry, without a token
// request the server would fail the same way. The token request itself,
// when one is needed (here: the profile asks for a token first), is
// retried like any other: repeating a client-credentials grant is harmless.
func TestRetriesKeepTheCredentials(t *testing.T) {
	srv := medplumtest.NewServer(t, medplumtest.WithMembers(1))
	e := clitest.SignedIn(t, srv)
	search := "GET /fhir/R4/ProjectMembership?profile-type=Patient"

	srv.ResetRequests()
	srv.FailNext(2, http.StatusServiceUnavailable, "GET", "/fhir/R4/ProjectMembership")
	e.Run("get", "ProjectMembership?profile-type=Patient", "--jq", ".entry | length").Expect(t, 0, "1\n", "")
	if got, want := requestLog(srv), search+" Basic\n"+search+" Basic\n"+search+" Basic\n"; got != want {
		t.Errorf("503, 503, then 200: requests\n%swant:\n%s", got, want)
	}

	// Still failing at the last attempt: the message says it was retried.
	srv.FailNext(4, http.StatusServiceUnavailable, "GET", "/fhir/R4/ProjectMembership")
	e.Run("get", "ProjectMembership?profile-type=Patient").Expect(t, 1, "", "medplum: the server answered 503 text/html: 503 Service Unavailable (4 attempts)\n")

	e.Run("profile", "set", "ci", "--auth-type", "client-credentials").
		ExpectCode(t, 0, "Created profile ci in "+filepath.Join(e.ConfigDir, "config.yaml")+"\n")
	srv.ResetRequests()
	srv.FailNext(1, http.StatusServiceUnavailable, "POST", "/oauth2/token")
	e.Run("-p", "ci", "get", "ProjectMembership?profile-type=Patient", "--jq", ".entry | length").Expect(t, 0, "1\n", "")
	if got, want := requestLog(srv), "POST /oauth2/token \nPOST /oauth2/token \n"+search+" Bearer\n"; got != want {
		t.Errorf("the token request answered 503 once: requests\n%swant:\n%s", got, want)
	}
}
