package completion

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
)

// namedPage is how many resources one name completion reads at most.
const namedPage = 1000

// Named completes a resource named by its name or id (an access policy, a
// client application, a bot: resourceType "AccessPolicy",
// "ClientApplication", "Bot") with the names of the project's resources of
// that type (described by their id) and, once something is typed that
// starts an id, with ids (described by their name). Like Members it asks
// the server only when the profile is signed in, with the command's -p and
// --project, and only within Timeout; otherwise it suggests nothing.
//
//	_ = cmd.RegisterFlagCompletionFunc("access-policy", completion.Named(f, "AccessPolicy"))
//	cmd.ValidArgsFunction = completion.FirstArg(completion.Named(f, "Bot"))
func Named(f *cmdutil.Factory, resourceType string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		named := askNamed(f, cmd, resourceType)
		var names, ids []cobra.Completion
		low := strings.ToLower(toComplete)
		for _, r := range named {
			if r.name != "" && strings.HasPrefix(strings.ToLower(r.name), low) {
				names = append(names, cobra.CompletionWithDesc(r.name, r.id))
			}
			if toComplete != "" && strings.HasPrefix(r.id, toComplete) {
				ids = append(ids, cobra.CompletionWithDesc(r.id, r.name))
			}
		}
		return append(names, ids...), noFile
	}
}

// Projects completes a --project value (an id or Project/<id>, not a
// name) with the ids of the projects it may name, described by their
// names. Every --project accepts the signed-in project only, unless the
// credentials are a super admin's (membership.ProjectOf refuses another,
// and the server acts on the caller's own project anyway): a project admin
// or a person gets the current project, from auth/me (a person's other
// projects are project switch's); a super admin every project a Project
// search finds but Medplum's base "FHIR R4" project, which every 5.0.10
// repository holds and a Project search returns (captures 545, 545c): it
// has no members or clients, only the server's definitions. It asks the
// server as Named does.
//
//	_ = cmd.RegisterFlagCompletionFunc("project", completion.Projects(f))
func Projects(f *cmdutil.Factory) cobra.CompletionFunc { return projects(f, true) }

// SignedInProject completes a project id that must be the signed-in
// project whoever asks (bot create's <project-id>: Medplum creates a bot in
// the credentials' project, a super admin's too) with that project, from
// auth/me, as Projects does for a project admin.
func SignedInProject(f *cmdutil.Factory) cobra.CompletionFunc { return projects(f, false) }

func projects(f *cmdutil.Factory, superAdminsAny bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		projects, err := Within(func(ctx context.Context) ([]namedResource, error) {
			f.Flags = cmd.Flags() // completion runs no PersistentPreRun
			c, err := f.Client()
			if err != nil {
				return nil, err
			}
			who, err := cmdutil.WhoAmI(ctx, c)
			if err != nil {
				return nil, err
			}
			if !who.SuperAdmin || !superAdminsAny {
				return []namedResource{{id: who.ProjectID, name: who.ProjectName}}, nil
			}
			all, err := listNamed(ctx, f, cmd, "Project")
			return slices.DeleteFunc(all, func(r namedResource) bool { return r.id == r4ProjectID }), err
		})
		if err != nil {
			cobra.CompDebugln("Project: "+err.Error(), false)
			return nil, noFile
		}
		prefix := ""
		if strings.HasPrefix(toComplete, "Project/") {
			prefix = "Project/"
		}
		var out []cobra.Completion
		for _, r := range projects {
			if strings.HasPrefix(prefix+r.id, toComplete) {
				out = append(out, cobra.CompletionWithDesc(prefix+r.id, r.name))
			}
		}
		return out, noFile
	}
}

// r4ProjectID is the id of Medplum's base "FHIR R4" project, the same on
// every server: constants.ts's r4ProjectId, a version 5 UUID of "R4" in
// the nil namespace (uuid.uuid5(uuid.UUID(int=0), "R4")); captures 04 and
// 545-545c show it.
const r4ProjectID = "161452d9-43b7-5c29-aa7b-c85680fa45c6"

// Access completes the POLICY of an --access 'POLICY?name=Type/<id>' value
// with the project's access policies (as Named(f, "AccessPolicy")), with
// no space after it: its parameters follow. Once the "?" is typed there is
// nothing to offer.
func Access(f *cmdutil.Factory) cobra.CompletionFunc {
	policies := Named(f, "AccessPolicy")
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if strings.Contains(toComplete, "?") {
			return nil, noFile
		}
		out, dir := policies(cmd, args, toComplete)
		return out, dir | cobra.ShellCompDirectiveNoSpace
	}
}

type namedResource struct{ id, name string }

// askNamed reads the resources of a type within Timeout (listNamed); a
// failure is no resources, logged for BASH_COMP_DEBUG_FILE.
func askNamed(f *cmdutil.Factory, cmd *cobra.Command, resourceType string) []namedResource {
	named, err := Within(func(ctx context.Context) ([]namedResource, error) {
		return listNamed(ctx, f, cmd, resourceType)
	})
	if err != nil {
		cobra.CompDebugln(resourceType+": "+err.Error(), false)
	}
	return named
}

// Within runs ask within Timeout: a slow server or keyring gives no
// suggestions rather than a hung shell (ask's context ends then too).
func Within[T any](ask func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := ask(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("no answer within %v", Timeout)
	}
}

// listNamed reads one page of the project's resources of a type, sorted
// by name here (a search parameter less for the server to have).
func listNamed(ctx context.Context, f *cmdutil.Factory, cmd *cobra.Command, resourceType string) ([]namedResource, error) {
	// Completion runs no PersistentPreRun: give the factory the parsed flags.
	f.Flags = cmd.Flags()
	c, err := f.Client()
	if err != nil {
		return nil, err
	}
	q := url.Values{"_count": {fmt.Sprint(namedPage)}}
	search := resourceType + "?" + q.Encode()
	if fl := cmd.Flags().Lookup("project"); fl != nil && fl.Value.String() != "" {
		search += "&" + client.ProjectSearch(strings.TrimPrefix(fl.Value.String(), "Project/"))
	}
	var out []namedResource
	for r, err := range c.Search(ctx, search) {
		if err != nil {
			return nil, err
		}
		out = append(out, namedResource{id: r.ID(), name: r.String("name")})
		if len(out) == namedPage {
			break
		}
	}
	slices.SortStableFunc(out, func(a, b namedResource) int { return strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)) })
	return out, nil
}
