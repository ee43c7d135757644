package commands

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/auth"
	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
)

// reportError prints err once on w as "medplum: <message>", then a hint if
// one helps, and returns the exit code (see `medplum help exit-codes`).
// resolved (may be nil) gives the settings the command ran with, for the
// hint of an auth error: see credentialsFrom.
func reportError(w io.Writer, cmd *cobra.Command, err error, resolved func() (*config.Resolved, error)) int {
	code := exitCode(err)
	if cmdutil.IsSilent(err) {
		return code
	}
	fmt.Fprintf(w, "medplum: %s\n", strings.TrimRight(message(err), "\n"))
	if h := hint(cmd, err, resolved); h != "" {
		fmt.Fprintln(w, h)
	}
	return code
}

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var coder cmdutil.ExitCoder
	switch {
	case errors.As(err, &coder):
		return coder.ExitCode()
	case isUnknownCommand(err):
		return cmdutil.ExitUsage
	case errors.Is(err, auth.ErrNotSignedIn), errors.Is(err, auth.ErrCredentialsRejected), errors.Is(err, client.ErrSignInGone):
		return cmdutil.ExitAuth
	}
	switch client.StatusOf(err) {
	case 401:
		return cmdutil.ExitAuth
	case 403:
		return cmdutil.ExitForbidden
	}
	return cmdutil.ExitFailure
}

// message is the text after "medplum: ". A transport failure names the
// method and the (redacted) URL instead of Go's `Get "URL": ...` form.
func message(err error) string {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) && client.AsError(err) == nil && ue.Err != nil {
		plain := fmt.Sprintf("%s %s: %v", strings.ToUpper(ue.Op), client.RedactURL(ue.URL), ue.Err)
		msg = strings.Replace(msg, ue.Error(), plain, 1)
	}
	if e := client.AsError(err); e != nil && e.Status == http.StatusTooManyRequests {
		msg = strings.Replace(msg, e.Error(), cmdutil.RateLimited(e), 1)
	} else if e != nil && e.Attempts > 1 {
		// Retried and still failing: not a one-off.
		msg = strings.Replace(msg, e.Error(), fmt.Sprintf("%s (%d attempts)", e.Error(), e.Attempts), 1)
	}
	return msg
}

func hint(cmd *cobra.Command, err error, resolved func() (*config.Resolved, error)) string {
	var h cmdutil.Hinter
	if errors.As(err, &h) && h.Hint() != "" {
		return h.Hint()
	}
	var fe *cmdutil.FlagError
	if errors.As(err, &fe) || isUnknownCommand(err) {
		path := "medplum"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		return fmt.Sprintf("Run '%s --help' for usage.", path)
	}
	signIn := errors.Is(err, auth.ErrNotSignedIn) || client.StatusOf(err) == 401
	if signIn || errors.Is(err, client.ErrSignInGone) || errors.Is(err, auth.ErrCredentialsRejected) {
		if from := credentialsFrom(resolved, err); from != "" {
			return from
		}
	}
	if signIn {
		return "run: medplum login"
	}
	if errors.Is(err, client.ErrSignInGone) {
		return "sign in again with credentials that exist: medplum login"
	}
	if errors.Is(err, auth.ErrCredentialsRejected) {
		return "check the client id and secret (medplum profile describe)"
	}
	if e := client.AsError(err); e != nil && e.IsPartialSuccess() {
		return fmt.Sprintf("the server answered %d, so the request may have taken effect despite the error", e.Status)
	}
	if h := timeoutHint(err); h != "" {
		return h
	}
	var ne net.Error
	var oe *net.OpError
	var pe *fs.PathError // a local file: its syscall.Errno is a net.Error too
	if client.AsError(err) == nil && (errors.As(err, &oe) || errors.As(err, &ne) && !errors.As(err, &pe)) {
		return "check that the server is up and the base URL is right (medplum profile describe)"
	}
	return ""
}

// credentialsFrom is the hint of an auth error whose credentials came from
// the environment or the command line, not from a stored sign-in: it names
// the variables (or flags) to check, as "run: medplum login" would not
// change them (a CI job's MEDPLUM_CLIENT_SECRET left empty, an expired
// MEDPLUM_CLIENT_ACCESS_TOKEN). "" when a stored sign-in was used, or
// when the settings cannot be read. The credentials used are told as
// auth.Manager chooses them: the access token, else the client id and
// secret when both are set, else the stored sign-in (whose errors are
// auth.SignInError), else the error that one of the pair is missing.
func credentialsFrom(resolved func() (*config.Resolved, error), err error) string {
	if resolved == nil {
		return ""
	}
	var sie *auth.SignInError
	if errors.As(err, &sie) {
		return ""
	}
	r, rerr := resolved()
	if rerr != nil || r == nil {
		return ""
	}
	given := func(v config.Value) bool { return v.Value != "" && (v.Source == "env" || v.Source == "flag") }
	if tok := r.Lookup("access_token"); tok.Value != "" {
		if !given(tok) {
			return ""
		}
		return "check " + tok.EnvOrigin() + ": the token comes from there, not from medplum login"
	}
	id, secret := r.Lookup("client_id"), r.Lookup("client_secret")
	if !given(id) && !given(secret) {
		return ""
	}
	if (id.Value == "" || secret.Value == "") && !errors.Is(err, auth.ErrNotSignedIn) {
		return "" // only one of the two: a stored sign-in was used
	}
	name := func(v config.Value) string {
		switch {
		case given(v):
			return v.EnvOrigin()
		case v.Value == "":
			return v.Key.Env // where it is missing from
		}
		return fmt.Sprintf("the %s of profile %q", strings.ReplaceAll(v.Key.Name, "_", " "), r.Profile)
	}
	return "check " + name(id) + " and " + name(secret) + ": the credentials come from there, not from medplum login"
}

// timeoutHint is the hint for a request the server did not answer in
// time: a request that changes something may have taken effect anyway.
func timeoutHint(err error) string {
	if !client.IsTimeout(err) {
		return ""
	}
	h := "the server is slow or unreachable; --timeout (or MEDPLUM_TIMEOUT) sets a longer wait"
	var ue *url.Error
	if errors.As(err, &ue) {
		switch strings.ToUpper(ue.Op) {
		case "POST", "PATCH":
			h = "the server may have done it anyway: check before sending it again; " + h
		}
	}
	return h
}

// isUnknownCommand recognises cobra's error for `medplum nosuchcommand`.
func isUnknownCommand(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
}
