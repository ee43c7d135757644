package members

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/membership"
)

// The invite chores of an access review: the set-password link of a
// pending invite (invites sent with sendEmail: false), and a password
// reset e-mail.

// InviteLinkOptions are the inputs of `members invite-link`.
type InviteLinkOptions struct {
	common
	Member string
	AppURL func() (string, error)
}

// NewCmdInviteLink is `medplum members invite-link <member>`.
func NewCmdInviteLink(f *cmdutil.Factory, runF func(*InviteLinkOptions) error) *cobra.Command {
	opts := &InviteLinkOptions{common: newCommon(f), AppURL: appURL(f)}
	cmd := &cobra.Command{
		Use:   "invite-link <member>",
		Short: "Print the set-password link of a member's pending invite",
		Long: heredoc.Doc(`
			Print the link with which an invited member sets their password:
			<app URL>/setpassword/<id>/<secret>, the link of the invite e-mail,
			for invites sent with sendEmail: false. The app URL is --app-url,
			else MEDPLUM_APP_URL or the profile's app_url, else, for the hosted
			server api.medplum.com only, the hosted app (https://app.medplum.com/).
			A self-hosted server's links open its own app (the server's
			appBaseUrl), which the server does not tell its clients: without
			an app URL, invite-link refuses (exit 2) rather than hand the
			secret to the hosted app.

			The link is a secret: anyone with it can set the password. It is
			printed on stdout only, never in --verbose traces; send it to the
			member privately. It works once, and not after the member set a
			password with it. Medplum does not show a password set another way
			(an invite with a password, admin/projects/setpassword): the invite
			stays unused, and the link would set a new password. stderr says
			so, and when the account changed after the invite, as such a
			password makes it.

			The invite is the member's UserSecurityRequest, which a project
			admin can read only for project-scoped users (invited with scope
			project, and every Patient): a server-scoped member's invite needs
			a super admin (exit 5).
		`) + "\n" + membership.SelectorHelp,
		Example: `  $ medplum members invite-link dana@example.com --app-url https://app.example.com/`,
	}
	opts.bindMember(f, cmd, &opts.Member, func() error {
		if runF != nil {
			return runF(opts)
		}
		return inviteLinkRun(opts)
	})
	cmd.Flags().String("app-url", "", "the Medplum app the link opens (default: the profile's app_url, else https://app.medplum.com/ for api.medplum.com)")
	return cmd
}

// bindMember completes cmd as a command on one <member> that prints
// no membership: the argument (completed from the server) into member,
// --project, then run.
func (o *common) bindMember(f *cmdutil.Factory, cmd *cobra.Command, member *string, run func() error) {
	cmd.Args = memberArg
	cmd.ValidArgsFunction = completion.Members(f)
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if err := o.prepare(c); err != nil {
			return err
		}
		*member = args[0]
		return run()
	}
	o.addProjectFlag(cmd)
}

// appURL resolves --app-url > MEDPLUM_APP_URL > the profile > the hosted app.
func appURL(f *cmdutil.Factory) func() (string, error) {
	return func() (string, error) {
		r, err := f.Resolved()
		if err != nil {
			return "", err
		}
		v := r.Get("app_url")
		if r.Lookup("app_url").Source == "default" {
			if base := r.Get("base_url"); !hostedAPI(base) {
				// The server's app is its appBaseUrl, which neither the
				// server's answers nor its invite requests name; the hosted
				// app would only receive the secret.
				return "", &cmdutil.ExitError{Code: cmdutil.ExitUsage,
					Err: fmt.Errorf("no app URL for %s: the link would open the hosted app %s, which works with api.medplum.com only, and hand it the invite's secret", client.RedactURL(base), v),
					Tip: "Pass the server's app (its appBaseUrl) with --app-url URL, MEDPLUM_APP_URL, or store it: medplum profile set " + r.Profile + " --app-url URL"}
			}
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", cmdutil.InputErrorf("app URL %q (%s): want an absolute http(s) URL such as https://app.medplum.com/", v, r.Lookup("app_url").Origin())
		}
		if !strings.HasSuffix(v, "/") {
			v += "/"
		}
		return v, nil
	}
}

// hostedAPI reports whether base is Medplum's hosted server, whose app is
// the default app URL.
func hostedAPI(base string) bool {
	u, err := url.Parse(base)
	return err == nil && strings.EqualFold(u.Hostname(), "api.medplum.com")
}

// person is a member who is a person, with their User as the caller can
// read it.
type person struct {
	doc     client.Doc
	user    string          // User/<id>
	res     client.Resource // nil: not readable (server-scoped, to a project admin)
	project string
}

// resolvePerson finds the member and reads their User. A member who is not
// a person (no User) is an error that says so.
func (o *common) resolvePerson(arg string) (*client.Client, *person, error) {
	sel, err := membership.ParseSelector(arg)
	if err != nil {
		return nil, nil, cmdutil.FlagErrorf("%v", err)
	}
	c, project, err := o.connect()
	if err != nil {
		return nil, nil, err
	}
	// Only read: the FHIR read, which a super admin may use on another
	// project (its admin route is 403 to them).
	d, err := membership.ResolveWith(o.context(), c, project, sel, membership.ReadFHIR)
	if err != nil {
		return nil, nil, o.target.NotFoundHint(err)
	}
	p := &person{doc: d, user: d.Ref("user"), project: project}
	if !strings.HasPrefix(p.user, "User/") {
		return nil, nil, cmdutil.InputErrorf("%s is a %s, not a person: it has no password or invite (medplum members list --humans lists the people)", membership.Describe(d.Resource), membership.ProfileType(d.Resource))
	}
	if active, ok := d.Bool("active"); ok && !active {
		// 5.0.10 checks active when a password sign-in chooses the
		// membership (captures 187, 189): the password is set, the project
		// stays closed to them.
		activate := "medplum members activate " + d.ID()
		if o.Project != "" {
			activate += " --project " + project
		}
		fmt.Fprintf(o.IO.ErrOut, "Note: %s is deactivated in this project: they cannot sign in to it until reactivated (%s).\n",
			membership.Describe(d.Resource), activate)
	}
	u, err := c.ReadResource(o.context(), client.ResourceURL("User", strings.TrimPrefix(p.user, "User/")))
	switch e := client.AsError(err); {
	case err == nil:
		p.res = u
	case e != nil && e.IsNotFound():
		// A server-scoped user: only a super admin reads it (capture 143).
	case e != nil && e.IsGone():
		return nil, nil, fmt.Errorf("the user of %s (%s) was deleted", membership.Describe(d.Resource), p.user)
	default:
		return nil, nil, err
	}
	return c, p, nil
}

func inviteLinkRun(o *InviteLinkOptions) error {
	app, err := o.AppURL()
	if err != nil {
		return err
	}
	c, p, err := o.resolvePerson(o.Member)
	if err != nil {
		return err
	}
	who := membership.Describe(p.doc.Resource)
	if p.res == nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitForbidden,
			Err: fmt.Errorf("the invite of %s is not visible to these credentials: %s", who, membership.UserHidden),
			Tip: invisibleInviteTip(o.Member, p.project)}
	}
	reqs, err := membership.SecurityRequests(o.context(), c, []string{p.user})
	if err != nil {
		return err
	}
	inv := membership.InviteOf(reqs[p.user])
	if !inv.Pending {
		return noPendingInvite(who, reqs[p.user])
	}
	secret := inv.Request.String("secret")
	if secret == "" {
		return fmt.Errorf("the invite of %s has no secret the server shows", who)
	}
	fmt.Fprintf(o.IO.Out, "%ssetpassword/%s/%s\n", app, url.PathEscape(inv.Request.ID()), url.PathEscape(secret))
	// An unused invite is all 5.0.10 shows: a password given with the
	// invite (149) or by admin/projects/setpassword (232c) leaves it
	// unused.
	changed := ""
	if at, ok := inv.UserChanged(p.res); ok {
		changed = fmt.Sprintf(", but their account changed after it (at %s), as a password set by an admin makes it", at.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(o.IO.ErrOut, "The invite of %s is unused%s. Medplum does not show whether they have a password set another way "+
		"(an invite with a password, admin/projects/setpassword): the invite stays unused, and the link would set a new password.\n", who, changed)
	if o.IO.IsStdoutTTY() {
		fmt.Fprintf(o.IO.ErrOut, "The link sets the password of %s, once; anyone who has it can. Send it privately.\n", who)
	}
	return nil
}

// invisibleInviteTip is what to do when a project admin cannot read the
// invite: whether it was e-mailed is not visible either (sendEmail: false
// leaves no trace on the membership).
func invisibleInviteTip(member, project string) string {
	return fmt.Sprintf("A super admin can print the link (medplum members invite-link %s --project %s). "+
		"An invite e-mail, if the invite was sent with one, holds the same link; "+
		"one sent with sendEmail: false has none: medplum members reset-password %s has the server e-mail a link.",
		cmdutil.ShellQuote(member), project, cmdutil.ShellQuote(member))
}

// noPendingInvite says why a person has no invite to link to.
func noPendingInvite(who string, reqs []client.Resource) error {
	for i := len(reqs) - 1; i >= 0; i-- {
		if used, _ := reqs[i].Bool("used"); used {
			how := "the link of their invite"
			if reqs[i].String("type") == "reset" {
				how = "a password reset link"
			}
			return fmt.Errorf("%s has no pending invite: they set a password on %s (with %s); use medplum members reset-password for a new one",
				who, membership.LastUpdated(reqs[i]).UTC().Format("2006-01-02"), how)
		}
	}
	return fmt.Errorf("%s has no pending invite: the server has no invite for their user (an existing user added to the project gets none)", who)
}

// ResetPasswordOptions are the inputs of `members reset-password`.
type ResetPasswordOptions struct {
	common
	Member string
}

// NewCmdResetPassword is `medplum members reset-password <member>`.
func NewCmdResetPassword(f *cmdutil.Factory, runF func(*ResetPasswordOptions) error) *cobra.Command {
	opts := &ResetPasswordOptions{common: newCommon(f)}
	cmd := &cobra.Command{
		Use:   "reset-password <member>",
		Short: "Have the server e-mail a member a password reset link",
		Long: heredoc.Doc(`
			Ask the server to e-mail the member a link to set a new password
			(POST auth/resetpassword, as the "forgot password" page does): the
			member's e-mail, and the project for a project-scoped user.

			Medplum answers the same whether or not the address has an account,
			and whether or not it could send the e-mail (a server without an
			e-mail provider sends none): a success says the request was taken,
			not that the member got it.

			For a deactivated member, invite-link and reset-password say first
			that the member cannot sign in to the project until reactivated
			(medplum members activate <member>), then do their work: the
			password is the user's, not the membership's.
		`) + "\n" + membership.SelectorHelp,
		Example: `  $ medplum members reset-password alice@example.com`,
	}
	opts.bindMember(f, cmd, &opts.Member, func() error {
		if runF != nil {
			return runF(opts)
		}
		return resetPasswordRun(opts)
	})
	return cmd
}

func resetPasswordRun(o *ResetPasswordOptions) error {
	c, p, err := o.resolvePerson(o.Member)
	if err != nil {
		return err
	}
	who := membership.Describe(p.doc.Resource)
	body := map[string]any{}
	switch {
	case p.res != nil:
		body["email"] = p.res.String("email")
		if ref := p.res.Ref("project"); ref != "" {
			body["projectId"] = strings.TrimPrefix(ref, "Project/")
		}
	default:
		// A server-scoped user, whose User a project admin cannot read:
		// the e-mail the membership recorded, without a project.
		body["email"] = p.doc.Display("user")
	}
	email, _ := body["email"].(string)
	if !membership.ValidEmail(email) {
		return fmt.Errorf("%s has no e-mail address to send a reset link to", who)
	}
	if err := postReset(o.context(), c, body); err != nil {
		return err
	}
	to := who // names the address, unless the profile's e-mail is another
	if !strings.Contains(strings.ToLower(who), strings.ToLower(email)) {
		to = email + " (" + who + ")"
	}
	fmt.Fprintf(o.IO.ErrOut, "Asked the server to e-mail a password reset link to %s.\n"+
		"Medplum answers the same whether or not it sends the e-mail: ask the member whether it arrived.\n", to)
	return nil
}

// postReset sends auth/resetpassword; any answer but All OK is an error.
func postReset(ctx context.Context, c *client.Client, body map[string]any) error {
	b, err := client.EncodeBody(body)
	if err != nil {
		return err
	}
	_, err = c.Do(ctx, &client.Request{Method: http.MethodPost, URL: "auth/resetpassword", Body: b,
		ContentType: "application/json", NoAuth: true})
	var ce *client.Error
	if errors.As(err, &ce) {
		return fmt.Errorf("the server refused the password reset: %w", err)
	}
	return err
}
