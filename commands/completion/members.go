package completion

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
)

// Timeout bounds a completion that asks the server, sign-in included: a
// slow server or keyring gives no suggestions rather than a hung shell.
var Timeout = 2 * time.Second

// memberPage is how many memberships one completion reads at most.
const memberPage = 1000

// Members completes a <member> argument with the membership ids of the
// project (described by name, profile type and e-mail), and with e-mails
// once something is typed that is not the start of an id. It asks the
// server only when the profile is signed in, with the command's flags
// (-p, --project), and only within Timeout; otherwise it suggests nothing.
func Members(f *cmdutil.Factory) cobra.CompletionFunc { return memberCompletion(f, false) }

// EachMember is Members for a command that takes several <member>
// arguments: it completes each of them, leaving out those already given.
func EachMember(f *cmdutil.Factory) cobra.CompletionFunc { return memberCompletion(f, true) }

func memberCompletion(f *cmdutil.Factory, many bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 && !many {
			return nil, noFile
		}
		members, err := Within(func(ctx context.Context) ([]member, error) { return listMembers(ctx, f, cmd) })
		if err != nil {
			cobra.CompDebugln("members: "+err.Error(), false)
			return nil, noFile
		}
		var ids, emails []cobra.Completion
		for _, m := range members {
			if slices.Contains(args, m.id) || m.email != "" && slices.Contains(args, m.email) {
				continue
			}
			if strings.HasPrefix(m.id, toComplete) {
				ids = append(ids, cobra.CompletionWithDesc(m.id, m.describe()))
			}
			if toComplete != "" && m.email != "" && strings.HasPrefix(strings.ToLower(m.email), strings.ToLower(toComplete)) {
				emails = append(emails, cobra.CompletionWithDesc(m.email, m.id))
			}
		}
		return append(ids, emails...), noFile
	}
}

type member struct {
	id, name, profileType, email string
}

func (m member) describe() string {
	parts := []string{}
	for _, s := range []string{m.name, m.profileType, m.email} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// listMembers reads one page of the project's memberships, newest first.
// The factory's client is only built when the profile has credentials
// (auth.ErrNotSignedIn otherwise), so nothing is sent without them.
func listMembers(ctx context.Context, f *cmdutil.Factory, cmd *cobra.Command) ([]member, error) {
	// Completion runs no PersistentPreRun: give the factory the parsed flags.
	f.Flags = cmd.Flags()
	c, err := f.Client()
	if err != nil {
		return nil, err
	}
	q := url.Values{"_count": {fmt.Sprint(memberPage)}, "_sort": {"-_lastUpdated"}}
	if fl := cmd.Flags().Lookup("project"); fl != nil && fl.Value.String() != "" {
		q.Set("project", "Project/"+strings.TrimPrefix(fl.Value.String(), "Project/"))
	}
	var out []member
	for r, err := range c.Search(ctx, "ProjectMembership?"+q.Encode()) {
		if err != nil {
			return nil, err
		}
		m := member{id: r.ID()}
		if p, ok := r["profile"].(map[string]any); ok {
			m.name, _ = p["display"].(string)
			ref, _ := p["reference"].(string)
			m.profileType, _, _ = strings.Cut(ref, "/")
		}
		if u, ok := r["user"].(map[string]any); ok {
			if d, _ := u["display"].(string); strings.Contains(d, "@") {
				m.email = d
			}
		}
		out = append(out, m)
		if len(out) == memberPage {
			break
		}
	}
	return out, nil
}
