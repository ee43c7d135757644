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

// IDs completes a value that must be an id (--project takes a project id
// or Project/<id>, not a name): the ids of the resources of that type the
// profile can read that start with what is typed (after an optional
// "Type/"), described by their names. It asks the server as Named does.
//
//	_ = cmd.RegisterFlagCompletionFunc("project", completion.IDs(f, "Project"))
func IDs(f *cmdutil.Factory, resourceType string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		named := askNamed(f, cmd, resourceType)
		prefix := ""
		if strings.HasPrefix(toComplete, resourceType+"/") {
			prefix = resourceType + "/"
		}
		var out []cobra.Completion
		for _, r := range named {
			if strings.HasPrefix(prefix+r.id, toComplete) {
				out = append(out, cobra.CompletionWithDesc(prefix+r.id, r.name))
			}
		}
		return out, noFile
	}
}

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
	named, err := fromServer(cmd, func(ctx context.Context) ([]namedResource, error) {
		return listNamed(ctx, f, cmd, resourceType)
	})
	if err != nil {
		cobra.CompDebugln(resourceType+": "+err.Error(), false)
	}
	return named
}

// fromServer runs ask within Timeout: a slow server or keyring gives no
// suggestions rather than a hung shell.
func fromServer[T any](cmd *cobra.Command, ask func(context.Context) (T, error)) (T, error) {
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
