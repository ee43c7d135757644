package members

import (
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/membership"
)

// NewCmdSetAccess is `medplum members set-access <member>`.
func NewCmdSetAccess(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	var policy string
	var access []string
	var clear bool
	cmd := &cobra.Command{
		Use:   "set-access <member> (--access-policy POLICY | --access ENTRY... | --clear)",
		Short: "Set a member's access policy",
		Long: "Set a member's access: --access-policy sets ProjectMembership.accessPolicy,\n" +
			"each --access adds an entry to ProjectMembership.access (a policy with\n" +
			"parameters). Together they replace what the member had: a field not\n" +
			"given is removed. --clear removes both, which gives the member\n" +
			"unrestricted access to the project.\n\n" +
			"--access takes " + membership.AccessSyntax + "\n\n" + membership.SelectorHelp,
		Example: `  $ medplum members set-access alice@example.com --access-policy AccessPolicy/123
  $ medplum members set-access bob@example.com \
      --access 'AccessPolicy/123?provider_organization=Organization/abc' \
      --access 'AccessPolicy/123?provider_organization=Organization/def'`,
	}
	wrapped := func(o *UpdateOptions) error {
		c, err := accessChange(policy, access, clear, cmd.Flags().Changed("access-policy"))
		if err != nil {
			return err
		}
		o.Change = c
		if runF != nil {
			return runF(o)
		}
		return updateRun(o)
	}
	cmd = newUpdateCmd(f, cmd, Change{}, wrapped)
	cmd.Flags().StringVar(&policy, "access-policy", "", "the access policy: an id or AccessPolicy/<id>")
	cmd.Flags().StringArrayVar(&access, "access", nil, "an access entry with parameters, repeatable: 'AccessPolicy/<id>?name=Type/<id>'")
	cmd.Flags().BoolVar(&clear, "clear", false, "remove the access policy and every access entry")
	return cmd
}

// accessChange checks the flags (exit 2, nothing sent) and builds the change.
func accessChange(policy string, specs []string, clear, policySet bool) (Change, error) {
	switch {
	case clear && (policySet || len(specs) > 0):
		return Change{}, cmdutil.FlagErrorf("--clear cannot be used with --access-policy or --access")
	case !clear && !policySet && len(specs) == 0:
		return Change{}, cmdutil.FlagErrorf("give --access-policy, --access or --clear")
	}
	var probs []string
	var ref string
	if policySet {
		r, ok := membership.TypedRef(strings.TrimSpace(policy), "AccessPolicy")
		if !ok {
			probs = append(probs, "--access-policy: not an access policy: "+quote(policy)+" (want AccessPolicy/<id> or an id)")
		}
		ref = r
	}
	var entries []client.MembershipAccess
	for _, s := range specs {
		a, err := membership.ParseAccess(s)
		if err != nil {
			probs = append(probs, "--access "+s+": "+err.Error())
			continue
		}
		entries = append(entries, a)
	}
	if len(probs) > 0 {
		return Change{}, cmdutil.InputErrorf("nothing was sent:\n  %s", strings.Join(probs, "\n  "))
	}

	// The wanted access, in the membership's JSON shape.
	var accessValue any
	if len(entries) > 0 {
		b, _ := json.Marshal(entries)
		_ = json.Unmarshal(b, &accessValue)
	}
	want := client.Resource{}
	if ref != "" {
		want["accessPolicy"] = map[string]any{"reference": ref}
	}
	if accessValue != nil {
		want["access"] = accessValue
	}
	summary := membership.AccessSummary(want)
	done := "%s now has access " + strings.ReplaceAll(summary, "%", "%%")
	same := "%s already has access " + strings.ReplaceAll(summary, "%", "%%") + "; nothing changed"
	if summary == "" {
		done = "%s has no access policy now: unrestricted access to the project"
		same = "%s has no access policy; nothing changed"
	}
	return Change{
		Apply: func(m client.Resource) bool {
			if membership.AccessSummary(m) == summary {
				return false
			}
			delete(m, "accessPolicy")
			delete(m, "access")
			for k, v := range want {
				m[k] = v
			}
			return true
		},
		Done: done,
		Same: same,
	}, nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
