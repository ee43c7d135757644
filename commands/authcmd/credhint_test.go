package authcmd_test

import (
	"os"
	"path/filepath"
	"testing"
)

// An auth error (exit 4) whose credentials came from the environment (or a
// flag) names the variables to check: "run: medplum login" would not
// change them, and in CI there is no one to run it. A stored sign-in keeps
// "run: medplum login". Newcomer12-s4 item 16.
func TestAuthErrorHintNamesWhereTheCredentialsCameFrom(t *testing.T) {
	srv := newServer(t)
	id := srv.Seed.Client.ID

	// MEDPLUM_CLIENT_SECRET empty (a CI secret that was not there).
	e := env(t, srv).Set("MEDPLUM_CLIENT_ID", id).Set("MEDPLUM_CLIENT_SECRET", "")
	e.Run("get", "Patient").Expect(t, 4, "", "medplum: not signed in: client id "+id+" has no client secret (set MEDPLUM_CLIENT_SECRET or --client-secret)\n"+
		"check MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET: the credentials come from there, not from medplum login\n")
	// A secret without its id.
	e = env(t, srv).Set("MEDPLUM_CLIENT_SECRET", srv.Seed.Client.Secret)
	r := e.Run("whoami")
	r.Expect(t, 4, "", "medplum: not signed in: a client secret is set without a client id (set MEDPLUM_CLIENT_ID or --client-id)\n"+
		"check MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET: the credentials come from there, not from medplum login\n")
	r.NotContains(t, srv.Seed.Client.Secret)

	// A token the server refuses (401), from the environment or a flag.
	e = env(t, srv).Set("MEDPLUM_CLIENT_ACCESS_TOKEN", "not-a-valid-token")
	e.Run("get", "Patient").Expect(t, 4, "", "medplum: Unauthorized\n"+
		"check MEDPLUM_CLIENT_ACCESS_TOKEN: the token comes from there, not from medplum login\n")
	env(t, srv).Run("get", "Patient", "--access-token", "not-a-valid-token").Expect(t, 4, "",
		"medplum: warning: --access-token is visible to other users in the process list; prefer MEDPLUM_CLIENT_ACCESS_TOKEN\n"+
			"medplum: Unauthorized\n"+
			"check --access-token: the token comes from there, not from medplum login\n")

	// From ./.env: the file is named.
	e = env(t, srv)
	dotenv := filepath.Join(e.Home, ".env")
	if err := os.WriteFile(dotenv, []byte("MEDPLUM_CLIENT_ID="+id+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.Run("get", "Patient").Expect(t, 4, "", "medplum: not signed in: client id "+id+" has no client secret (set MEDPLUM_CLIENT_SECRET or --client-secret)\n"+
		"check MEDPLUM_CLIENT_ID in "+dotenv+" and MEDPLUM_CLIENT_SECRET: the credentials come from there, not from medplum login\n")

	// A stored sign-in: medplum login is the way, also when a lone
	// MEDPLUM_CLIENT_ID is set beside it (the stored sign-in is used then).
	e = env(t, srv)
	tok := srv.IssueToken(srv.Seed.Admin.MembershipID)
	if r := e.RunStdin(tok+"\n", "login", "--with-token", "--insecure-storage"); r.Code != 0 {
		t.Fatalf("login: %+v", r)
	}
	srv.RevokeLogins(srv.Seed.Admin.MembershipID)
	const stored = "medplum: Unauthorized; refreshing the credentials failed: profile \"default\": the server no longer accepts the access token given with --with-token (it cannot be renewed; sign in again)\nrun: medplum login\n"
	e.Run("whoami").Expect(t, 4, "", stored)
	e.Set("MEDPLUM_CLIENT_ID", id).Run("whoami").Expect(t, 4, "", stored)
	// Nothing at all.
	env(t, srv).Run("whoami").Expect(t, 4, "", "medplum: profile \"default\": not signed in\nrun: medplum login\n")
}
