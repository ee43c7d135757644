package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/client/medplumtest"
)

// clock is a settable time for a Manager.
type clock struct{ t atomic.Int64 }

func newClock() *clock                   { c := &clock{}; c.t.Store(time.Now().UnixNano()); return c }
func (c *clock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *clock) advance(d time.Duration) { c.t.Add(int64(d)) }

type fixture struct {
	srv   *medplumtest.Server
	store *auth.MemoryStore
	dir   string
	clk   *clock
}

func newFixture(t testing.TB, opts ...medplumtest.Option) *fixture {
	return &fixture{srv: medplumtest.NewServer(t, opts...), store: auth.NewMemoryStore(), dir: t.TempDir(), clk: newClock()}
}

// manager is one "process": its own Manager over the shared directories and
// keyring.
func (f *fixture) manager() *auth.Manager {
	return &auth.Manager{ConfigDir: filepath.Join(f.dir, "config"), CacheDir: filepath.Join(f.dir, "cache"), Keyring: f.store, Now: f.clk.now}
}

// client returns an authenticated client for a profile, as a command builds it.
func (f *fixture) client(t *testing.T, m *auth.Manager, profile string) (*client.Client, *auth.StoredAuth) {
	t.Helper()
	tc := tokenClient(t, f.srv)
	a, err := m.Authenticator(profile, f.srv.URL, tc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Options{BaseURL: f.srv.URL, Auth: a})
	if err != nil {
		t.Fatal(err)
	}
	return c, a
}

func (f *fixture) userLogin(t *testing.T, profile string) *auth.UserLogin {
	t.Helper()
	l, err := auth.PasswordLogin(context.Background(), tokenClient(t, f.srv),
		auth.PasswordOptions{Email: f.srv.Seed.AdminEmail, Password: f.srv.Seed.AdminPassword, ProjectID: f.srv.Seed.ProjectID}, &scripted{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.manager().SaveUserLogin(profile, auth.SaveOptions{BaseURL: f.srv.URL, AuthType: auth.AuthTypePassword}, l); err != nil {
		t.Fatal(err)
	}
	return l
}

func (f *fixture) tokenRequests(grant string) int {
	n := 0
	for _, r := range f.srv.Requests() {
		if r.Path == "/oauth2/token" && strings.Contains(string(r.Body), "grant_type="+grant) {
			n++
		}
	}
	return n
}

func storedRefreshToken(t *testing.T, f *fixture, profile string) string {
	t.Helper()
	v, err := f.store.Get(profile + ":refresh_token:" + f.srv.Seed.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// noSecretUnder fails if any file under dir contains one of the secrets.
func noSecretUnder(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := os.ReadFile(path)
		for _, s := range secrets {
			if s != "" && strings.Contains(string(data), s) {
				t.Errorf("%s holds a secret in plain text", path)
			}
		}
		return nil
	})
}

func TestStoredLoginUsesCacheThenRefreshesAndRotates(t *testing.T) {
	f := newFixture(t)
	l := f.userLogin(t, "default")
	rt1 := l.Token.RefreshToken
	if storedRefreshToken(t, f, "default") != rt1 {
		t.Fatal("the refresh token was not stored")
	}
	noSecretUnder(t, filepath.Join(f.dir, "config"), rt1, l.Token.AccessToken, f.srv.Seed.AdminPassword)
	noSecretUnder(t, filepath.Join(f.dir, "cache"), rt1, f.srv.Seed.AdminPassword)
	if runtime.GOOS != "windows" {
		for _, p := range []string{"cache/tokens/default.json", "config/sessions/default.json"} {
			if fi, err := os.Stat(filepath.Join(f.dir, p)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v %v", p, fi.Mode().Perm(), err)
			}
		}
	}

	// A new process reuses the cached access token: no token request.
	c, a := f.client(t, f.manager(), "default")
	before := f.tokenRequests("refresh_token")
	me, err := c.Me(context.Background())
	if err != nil || me.User.String("email") != f.srv.Seed.AdminEmail {
		t.Fatalf("Me = %v, %v", me, err)
	}
	if f.tokenRequests("refresh_token") != before {
		t.Fatal("a fresh cached token was renewed")
	}
	if a.Session().ActiveLogin().Project.Display != "Sandbox Project" {
		t.Fatalf("session = %+v", a.Session())
	}

	// Close to expiry, the next process renews first and stores the rotated
	// refresh token.
	f.clk.advance(58 * time.Minute)
	c, _ = f.client(t, f.manager(), "default")
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.tokenRequests("refresh_token"); n != before+1 {
		t.Fatalf("%d refreshes, want 1", n-before)
	}
	rt2 := storedRefreshToken(t, f, "default")
	if rt2 == rt1 || f.srv.RefreshTokenCurrent(rt1) || !f.srv.RefreshTokenCurrent(rt2) {
		t.Fatal("the rotated refresh token was not stored")
	}
}

func TestRefreshOnceAfter401(t *testing.T) {
	srvClock := newClock()
	f := newFixture(t, medplumtest.WithClock(srvClock.now))
	f.userLogin(t, "default")
	// The server's clock runs ahead: it rejects the access token we still
	// believe fresh, but the refresh token (two weeks) still works.
	srvClock.advance(2 * time.Hour)
	c, _ := f.client(t, f.manager(), "default")
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatalf("Me after a 401: %v", err)
	}
	if n := f.tokenRequests("refresh_token"); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	if !f.srv.RefreshTokenCurrent(storedRefreshToken(t, f, "default")) {
		t.Fatal("stored refresh token is not the current one")
	}
}

func TestRevokedRefreshTokenKeepsTheSession(t *testing.T) {
	f := newFixture(t)
	f.userLogin(t, "default")
	f.srv.RevokeLogins(f.srv.Seed.Admin.MembershipID)
	c, _ := f.client(t, f.manager(), "default")
	_, err := c.Me(context.Background())
	if !errors.Is(err, auth.ErrNotSignedIn) || client.StatusOf(err) != 401 {
		t.Fatalf("Me with a revoked login = %v", err)
	}
	if !strings.Contains(err.Error(), `profile "default": the sign-in has expired or was revoked (the server refused the refresh token): Token revoked`) {
		t.Fatalf("message = %v", err)
	}
	// Nothing was deleted.
	s, err := f.manager().Session("default")
	if err != nil || s == nil || s.ActiveLogin() == nil {
		t.Fatalf("session after a failed refresh = %+v, %v", s, err)
	}
	storedRefreshToken(t, f, "default")
}

// Several processes find the token expired at once: exactly one refreshes
// (Medplum rotates the refresh token, so a second use of the old one would
// fail), the others wait for the lock and use its token. All succeed, and the
// stored refresh token is the one the server now accepts.
func TestConcurrentRefreshAcrossProcesses(t *testing.T) {
	f := newFixture(t)
	f.userLogin(t, "default")
	f.clk.advance(59 * time.Minute)
	const procs = 8
	var wg sync.WaitGroup
	errs := make([]error, procs)
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := f.client(t, f.manager(), "default")
			_, errs[i] = c.Me(context.Background())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("process %d: %v", i, err)
		}
	}
	if n := f.tokenRequests("refresh_token"); n != 1 {
		t.Errorf("%d refresh requests, want 1", n)
	}
	if !f.srv.RefreshTokenCurrent(storedRefreshToken(t, f, "default")) {
		t.Error("the stored refresh token is not the newest")
	}
}

// Two processes whose tokens the server rejects at the same moment (a 401
// each): both refresh in turn, and the store ends with the newest token.
func TestConcurrent401Refresh(t *testing.T) {
	srvClock := newClock()
	f := newFixture(t, medplumtest.WithClock(srvClock.now))
	f.userLogin(t, "default")
	srvClock.advance(2 * time.Hour)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := f.client(t, f.manager(), "default")
			_, errs[i] = c.Me(context.Background())
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("errors: %v / %v", errs[0], errs[1])
	}
	if !f.srv.RefreshTokenCurrent(storedRefreshToken(t, f, "default")) {
		t.Error("the stored refresh token is not the newest")
	}
}

func TestClientCredentialsLoginCachedAcrossProcesses(t *testing.T) {
	f := newFixture(t)
	cc := f.srv.Seed.Client
	tr, err := auth.ClientCredentialsLogin(context.Background(), tokenClient(t, f.srv), cc.ID, cc.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.manager().SaveClientLogin("ci", auth.SaveOptions{BaseURL: f.srv.URL, AuthType: auth.AuthTypeClientCredentials, ClientID: cc.ID}, cc.Secret, tr); err != nil {
		t.Fatal(err)
	}
	noSecretUnder(t, f.dir, cc.Secret)
	for range 3 {
		c, _ := f.client(t, f.manager(), "ci")
		if _, err := c.Me(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokenRequests("client_credentials"); n != 1 {
		t.Fatalf("%d token requests for 3 processes, want 1 (the cached token)", n)
	}
	f.clk.advance(56 * time.Minute)
	c, _ := f.client(t, f.manager(), "ci")
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.tokenRequests("client_credentials"); n != 2 {
		t.Fatalf("%d token requests, want a new one shortly before expiry", n)
	}
	// A wrong stored secret is a sign-in error, not a crash.
	f.store.Set("ci:client_secret", "wrong")
	f.clk.advance(2 * time.Hour)
	c, _ = f.client(t, f.manager(), "ci")
	_, err = c.Me(context.Background())
	if !errors.Is(err, auth.ErrNotSignedIn) || !strings.Contains(err.Error(), "the server refused the stored client credentials: Invalid secret") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestJWTAssertionLogin(t *testing.T) {
	f := newFixture(t)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	f.srv.SetClientKeys(f.srv.Seed.Client.ID, &key.PublicKey)
	keyPath := filepath.Join(f.dir, "key.pem")
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	data, _ := os.ReadFile(keyPath)
	ak, err := auth.ParseAssertionKey(data, "")
	if err != nil {
		t.Fatal(err)
	}
	tc := tokenClient(t, f.srv)
	tr, err := auth.JWTAssertionLogin(context.Background(), tc, ak, f.srv.Seed.Client.ID, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m := f.manager()
	if _, err := m.SaveClientLogin("jwt", auth.SaveOptions{BaseURL: f.srv.URL, AuthType: auth.AuthTypeJWTAssertion,
		ClientID: f.srv.Seed.Client.ID, PrivateKeyPath: keyPath}, "", tr); err != nil {
		t.Fatal(err)
	}
	f.clk.advance(2 * time.Hour)
	c, _ := f.client(t, f.manager(), "jwt")
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatalf("renewal with a fresh assertion: %v", err)
	}
	// An unknown client id is refused with the server's reason.
	_, err = auth.JWTAssertionLogin(context.Background(), tc, ak, "no-such-client", "", time.Now())
	if !errors.Is(err, auth.ErrCredentialsRejected) || err.Error() != "the server refused the client assertion: Client not found (invalid_request)" {
		t.Fatalf("unknown client: %v", err)
	}
}

func TestTokenLoginCannotRefresh(t *testing.T) {
	f := newFixture(t)
	tok := f.srv.IssueToken(f.srv.Seed.Admin.MembershipID)
	m := f.manager()
	if _, err := m.SaveTokenLogin("tok", auth.SaveOptions{BaseURL: f.srv.URL}, tok, nil); err != nil {
		t.Fatal(err)
	}
	noSecretUnder(t, f.dir, tok)
	c, a := f.client(t, f.manager(), "tok")
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.AccessToken(context.Background()); got != tok {
		t.Fatal("AccessToken is not the stored token")
	}
	f.srv.RevokeLogins(f.srv.Seed.Admin.MembershipID)
	_, err := c.Me(context.Background())
	if !errors.Is(err, auth.ErrNotSignedIn) || !strings.Contains(err.Error(), "no longer accepts the access token given with --with-token") {
		t.Fatalf("revoked static token: %v", err)
	}
}

func TestSwitchForgetAndInsecureStorage(t *testing.T) {
	f := newFixture(t)
	m := f.manager()
	// Two project logins in one profile, secrets in the 0600 file.
	for _, pid := range []string{f.srv.Seed.ProjectID, f.srv.Seed.SuperAdminProjectID} {
		l, err := auth.PasswordLogin(context.Background(), tokenClient(t, f.srv),
			auth.PasswordOptions{Email: f.srv.Seed.AdminEmail, Password: f.srv.Seed.AdminPassword, ProjectID: pid}, &scripted{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.SaveUserLogin("p", auth.SaveOptions{BaseURL: f.srv.URL, AuthType: auth.AuthTypePassword, Insecure: true}, l); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := m.Session("p")
	if len(s.Logins) != 2 || s.Active != f.srv.Seed.SuperAdminProjectID || s.Storage != auth.StorageFile {
		t.Fatalf("session = %+v", s)
	}
	if len(f.store.Keys()) != 0 {
		t.Fatalf("the keyring was used despite --insecure-storage: %v", f.store.Keys())
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(m.InsecureStorePath())
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("insecure store: %v %v", fi, err)
		}
		di, _ := os.Stat(filepath.Dir(m.InsecureStorePath()))
		if di.Mode().Perm() != 0o700 {
			t.Fatalf("insecure store dir mode %v", di.Mode().Perm())
		}
	}
	if _, err := m.Switch("p", f.srv.Seed.ProjectID); err != nil {
		t.Fatal(err)
	}
	c, _ := f.client(t, f.manager(), "p")
	me, err := c.Me(context.Background())
	if err != nil || me.Project.ID() != f.srv.Seed.ProjectID {
		t.Fatalf("after switch: %v %v", me, err)
	}
	if _, err := m.Switch("p", "other"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("switch to an unknown project: %v", err)
	}
	if err := m.Forget("p"); err != nil {
		t.Fatal(err)
	}
	if s, _ := m.Session("p"); s != nil {
		t.Fatal("session left after Forget")
	}
	data, _ := os.ReadFile(m.InsecureStorePath())
	if strings.Contains(string(data), "refresh_token") {
		t.Fatalf("secrets left after Forget: %s", data)
	}
	if _, err := m.Authenticator("p", f.srv.URL, tokenClient(t, f.srv)); !errors.Is(err, auth.ErrNotSignedIn) {
		t.Fatalf("authenticator after Forget: %v", err)
	}
}

func TestSessionForAnotherServerDoesNotCount(t *testing.T) {
	f := newFixture(t)
	f.userLogin(t, "default")
	_, err := f.manager().Authenticator("default", "https://elsewhere.example.com", tokenClient(t, f.srv))
	if !errors.Is(err, auth.ErrNotSignedIn) || !strings.Contains(err.Error(), "but the profile now points at https://elsewhere.example.com/") {
		t.Fatalf("err = %v", err)
	}
}

// The stored secrets go only to the token URL the sign-in was made at or,
// for a sign-in that did not record one, to a token URL on its own server.
func TestSessionSendsSecretsToItsTokenURLOnly(t *testing.T) {
	f := newFixture(t)
	f.userLogin(t, "default") // no TokenURL recorded
	foreign, err := client.New(client.Options{BaseURL: f.srv.URL, TokenURL: "https://elsewhere.example.com/oauth2/token"})
	if err != nil {
		t.Fatal(err)
	}
	m := f.manager()
	f.srv.ResetRequests()
	_, err = m.Authenticator("default", f.srv.URL, foreign)
	if !errors.Is(err, auth.ErrNotSignedIn) || err.Error() != `profile "default": signed in to `+f.srv.URL+
		", but the profile now sends credentials to the token URL https://elsewhere.example.com/oauth2/token on another server" {
		t.Fatalf("foreign token URL: %v", err)
	}
	n, err := m.Revoke(context.Background(), "default", foreign, func(a client.Authenticator) (*client.Client, error) {
		return client.New(client.Options{BaseURL: f.srv.URL, Auth: a})
	})
	if n != 0 || !errors.Is(err, auth.ErrNotSignedIn) {
		t.Fatalf("Revoke with a foreign token URL: %d %v", n, err)
	}
	if reqs := f.srv.Requests(); len(reqs) > 0 {
		t.Fatalf("%d requests sent, first %s %s", len(reqs), reqs[0].Method, reqs[0].Path)
	}
	// Another token URL on the same server is the same server's.
	same, err := client.New(client.Options{BaseURL: f.srv.URL, TokenURL: "oauth2/token?x=1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Authenticator("default", f.srv.URL, same); err != nil {
		t.Fatalf("token URL on the same server: %v", err)
	}

	// A sign-in made at a token URL on another server renews there (or on
	// its own server), and nowhere else.
	l := f.userLogin(t, "ext")
	if _, err := m.SaveUserLogin("ext", auth.SaveOptions{BaseURL: f.srv.URL, TokenURL: foreign.TokenURL(), AuthType: auth.AuthTypePassword}, l); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Authenticator("ext", f.srv.URL, foreign); err != nil {
		t.Fatalf("the recorded token URL: %v", err)
	}
	if _, err := m.Authenticator("ext", f.srv.URL, tokenClient(t, f.srv)); err != nil {
		t.Fatalf("a token URL on the sign-in's own server: %v", err)
	}
	third, err := client.New(client.Options{BaseURL: f.srv.URL, TokenURL: "https://third.example.com/oauth2/token"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Authenticator("ext", f.srv.URL, third)
	if !errors.Is(err, auth.ErrNotSignedIn) || err.Error() != `profile "ext": signed in at the token URL https://elsewhere.example.com/oauth2/token, but the profile now sends credentials to https://third.example.com/oauth2/token` {
		t.Fatalf("another token URL than the recorded one: %v", err)
	}

	// An official CLI profile's absolute tokenUrl is the one it signed in at.
	lp := &auth.LegacyProfile{Options: auth.LegacyOptions{ClientID: "cid", ClientSecret: "cs", TokenURL: foreign.TokenURL()}}
	if _, err := m.ImportLegacy("imported", f.srv.URL, lp, false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Authenticator("imported", f.srv.URL, foreign); err != nil {
		t.Fatalf("the imported profile's token URL: %v", err)
	}
	if _, err := m.Authenticator("imported", f.srv.URL, third); !errors.Is(err, auth.ErrNotSignedIn) {
		t.Fatalf("another token URL than the imported one: %v", err)
	}
}

func TestManagerNewAuthenticatorPrecedence(t *testing.T) {
	f := newFixture(t)
	tc := tokenClient(t, f.srv)
	m := f.manager()
	a, err := m.NewAuthenticator(auth.Settings{Profile: "default", BaseURL: f.srv.URL}, tc)
	if !errors.Is(err, auth.ErrNotSignedIn) || a != nil {
		t.Fatalf("nothing configured: %v %v", a, err)
	}
	f.userLogin(t, "default")
	if a, _ := m.NewAuthenticator(auth.Settings{Profile: "default", BaseURL: f.srv.URL}, tc); a == nil {
		t.Fatal("stored login not used")
	} else if _, ok := a.(*auth.StoredAuth); !ok {
		t.Fatalf("got %T", a)
	}
	// Environment credentials win over the stored login.
	a, _ = m.NewAuthenticator(auth.Settings{Profile: "default", BaseURL: f.srv.URL, AccessToken: "x"}, tc)
	if _, ok := a.(*auth.BearerToken); !ok {
		t.Fatalf("access token: got %T", a)
	}
	a, _ = m.NewAuthenticator(auth.Settings{Profile: "default", BaseURL: f.srv.URL, ClientID: "id", ClientSecret: "s"}, tc)
	if _, ok := a.(*auth.ClientCredentials); !ok {
		t.Fatalf("client credentials: got %T", a)
	}
}

// A new sign-in replaces the profile's old one: the old one's secrets go,
// wherever they were, so that a plain-text refresh token from an earlier
// --insecure-storage sign-in does not outlive a keyring sign-in (nor its
// logout).
func TestNewSignInRemovesTheReplacedSecrets(t *testing.T) {
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	login := func() *auth.UserLogin {
		l, err := auth.PasswordLogin(ctx, tokenClient(t, f.srv),
			auth.PasswordOptions{Email: f.srv.Seed.AdminEmail, Password: f.srv.Seed.AdminPassword, ProjectID: f.srv.Seed.ProjectID}, &scripted{})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	keys := func() string {
		data, _ := os.ReadFile(m.InsecureStorePath())
		file := map[string]string{}
		if len(data) > 0 {
			if err := json.Unmarshal(data, &file); err != nil {
				t.Fatal(err)
			}
		}
		var out []string
		for k := range file {
			out = append(out, "file "+k)
		}
		for _, k := range f.store.Keys() {
			out = append(out, "keyring "+k)
		}
		sort.Strings(out)
		return strings.Join(out, ", ")
	}
	rtKey := "default:refresh_token:" + f.srv.Seed.ProjectID

	old := login()
	if _, err := m.SaveUserLogin("default", auth.SaveOptions{BaseURL: f.srv.URL, AuthType: auth.AuthTypePassword, Insecure: true}, old); err != nil {
		t.Fatal(err)
	}
	if got := keys(); got != "file "+rtKey {
		t.Fatalf("after the --insecure-storage sign-in: %s", got)
	}
	if _, err := m.SaveUserLogin("default", auth.SaveOptions{BaseURL: f.srv.URL, AuthType: auth.AuthTypePassword}, login()); err != nil {
		t.Fatal(err)
	}
	if got := keys(); got != "keyring "+rtKey {
		t.Fatalf("after the keyring sign-in: %s", got)
	}
	noSecretUnder(t, f.dir, old.Token.RefreshToken)

	// A client's sign-in in the same profile: the person's refresh token goes.
	cc := f.srv.Seed.Client
	tr, err := auth.ClientCredentialsLogin(ctx, tokenClient(t, f.srv), cc.ID, cc.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.SaveClientLogin("default", auth.SaveOptions{BaseURL: f.srv.URL, AuthType: auth.AuthTypeClientCredentials, ClientID: cc.ID}, cc.Secret, tr); err != nil {
		t.Fatal(err)
	}
	if got := keys(); got != "keyring default:client_secret" {
		t.Fatalf("after the client sign-in: %s", got)
	}
	// jwt-assertion stores no secret: the client secret goes.
	if _, err := m.SaveClientLogin("default", auth.SaveOptions{BaseURL: f.srv.URL, AuthType: auth.AuthTypeJWTAssertion, ClientID: cc.ID, PrivateKeyPath: "key.pem"}, "", tr); err != nil {
		t.Fatal(err)
	}
	if got := keys(); got != "" {
		t.Fatalf("after the jwt-assertion sign-in: %s", got)
	}
	// --with-token into the file, then a keyring sign-in again.
	if _, err := m.SaveTokenLogin("default", auth.SaveOptions{BaseURL: f.srv.URL, Insecure: true}, "tok-123", nil); err != nil {
		t.Fatal(err)
	}
	if got := keys(); got != "file default:access_token" {
		t.Fatalf("after --with-token: %s", got)
	}
	if _, err := m.SaveUserLogin("default", auth.SaveOptions{BaseURL: f.srv.URL, AuthType: auth.AuthTypePassword}, login()); err != nil {
		t.Fatal(err)
	}
	if got := keys(); got != "keyring "+rtKey {
		t.Fatalf("after signing in again: %s", got)
	}
	// Another profile's secrets are not touched.
	if _, err := m.SaveUserLogin("other", auth.SaveOptions{BaseURL: f.srv.URL, AuthType: auth.AuthTypePassword, Insecure: true}, login()); err != nil {
		t.Fatal(err)
	}
	if got := keys(); got != "file other:refresh_token:"+f.srv.Seed.ProjectID+", keyring "+rtKey {
		t.Fatalf("after another profile's sign-in: %s", got)
	}
}
