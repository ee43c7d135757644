package members

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/membership"
)

// NewCmdSetAccess is `medplum members set-access <member>`.
func NewCmdSetAccess(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	var policy string
	var access []string
	var clear bool
	cmd := &cobra.Command{
		Use:   "set-access <member>... (--access-policy POLICY | --access ENTRY... | --clear)",
		Short: "Set a member's access policy",
		Long: "Set a member's access: --access-policy sets ProjectMembership.accessPolicy,\n" +
			"each --access adds an entry to ProjectMembership.access (a policy with\n" +
			"parameters). Together they replace what the member had: a field not\n" +
			"given is removed. --clear removes both, which gives the member\n" +
			"unrestricted access to the project. A policy is named by its name,\n" +
			"its id or AccessPolicy/<id>, and must be one of the project's: it is\n" +
			"looked up before anything is written.\n\n" +
			"--access takes " + membership.AccessSyntax + "\n\n" + membership.SelectorHelp,
		Example: `  $ medplum members set-access alice@example.com --access-policy AccessPolicy/123
  $ medplum members set-access carol@example.com --access-policy 'Clinic staff'
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
	cmd.Flags().StringVar(&policy, "access-policy", "", "the access policy: its name, its id or AccessPolicy/<id>")
	cmd.Flags().StringArrayVar(&access, "access", nil, "an access entry with parameters, repeatable: 'POLICY?name=Type/<id>'")
	cmd.Flags().BoolVar(&clear, "clear", false, "remove the access policy and every access entry")
	_ = cmd.RegisterFlagCompletionFunc("access-policy", completion.Named(f, "AccessPolicy"))
	_ = cmd.RegisterFlagCompletionFunc("access", completion.Access(f))
	return cmd
}

// accessChange checks the flags (exit 2, nothing sent) and builds the
// change. The policies are looked up in the project before the membership
// is written (Medplum would store one that does not exist: capture 213).
func accessChange(policy string, specs []string, clear, policySet bool) (Change, error) {
	switch {
	case clear && (policySet || len(specs) > 0):
		return Change{}, cmdutil.FlagErrorf("--clear cannot be used with --access-policy or --access")
	case !clear && !policySet && len(specs) == 0:
		return Change{}, cmdutil.FlagErrorf("give --access-policy, --access or --clear")
	}
	var probs []string
	policy = strings.TrimSpace(policy)
	if policySet {
		if _, _, err := membership.SplitAccess(policy); err != nil || strings.Contains(policy, "?") {
			probs = append(probs, "--access-policy: not an access policy: "+quote(policy)+" (want a name, an id or AccessPolicy/<id>)")
		}
	}
	type entry struct {
		spec, policy string
		params       []client.AccessParameter
	}
	var entries []entry
	for _, s := range specs {
		pol, params, err := membership.SplitAccess(s)
		if err != nil {
			probs = append(probs, "--access "+s+": "+err.Error())
			continue
		}
		entries = append(entries, entry{s, pol, params})
	}
	if len(probs) > 0 {
		return Change{}, cmdutil.InputErrorf("nothing was sent:\n  %s", strings.Join(probs, "\n  "))
	}
	if clear {
		return wantAccess(client.Resource{}), nil
	}
	return Change{Prepare: func(ctx context.Context, c *client.Client, project string) (Change, error) {
		pols := membership.NewPolicies(c, project)
		resolve := func(field, value string) string {
			ref, problem, err := pols.Resolve(ctx, value)
			if err == nil && problem != "" {
				probs = append(probs, field+": "+problem)
			} else if err != nil {
				probs = append(probs, fmt.Sprintf("%s: looking the policy up: %v", field, err))
			}
			return ref
		}
		want := client.Resource{}
		if policySet {
			want["accessPolicy"] = map[string]any{"reference": resolve("--access-policy", policy)}
		}
		var list []client.MembershipAccess
		for _, e := range entries {
			list = append(list, client.MembershipAccess{Policy: client.Ref(resolve("--access "+e.spec, e.policy)), Parameter: e.params})
		}
		if len(probs) > 0 {
			return Change{}, cmdutil.InputErrorf("nothing was sent:\n  %s", strings.Join(probs, "\n  "))
		}
		if len(list) > 0 {
			var v any
			b, _ := json.Marshal(list)
			_ = json.Unmarshal(b, &v)
			want["access"] = v
		}
		return wantAccess(want), nil
	}}, nil
}

// wantAccess is the change to the access in want (accessPolicy, access).
func wantAccess(want client.Resource) Change {
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
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
