// Package completion holds the dynamic shell completions that commands
// share: values from a fixed list or a comma-separated list of them, profile
// names from the settings file, resource types for the REST commands' URL,
// and project members from the server (only when signed in, and never for
// longer than Timeout). Commands register them with cobra:
//
//	cmd.ValidArgsFunction = completion.URL
//	_ = cmd.RegisterFlagCompletionFunc("type", completion.List(completion.ProfileTypes...))
//
// Every function filters by what was typed so far (cobra does not), never
// prints, and turns errors into no suggestions (cobra.CompDebugln logs them
// when BASH_COMP_DEBUG_FILE is set).
package completion

import (
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
)

const noFile = cobra.ShellCompDirectiveNoFileComp

// ResourceTypes are FHIRTypes and MedplumTypes, sorted (made on first use,
// not at start-up).
var ResourceTypes = sync.OnceValue(func() []string {
	all := append(slices.Clone(FHIRTypes), MedplumTypes...)
	slices.Sort(all)
	return all
})

// Values completes one value from a fixed list.
func Values(values ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return withPrefix(values, toComplete), noFile
	}
}

// List completes a comma-separated list of values, each at most once:
// "Patient,Pr" completes to "Patient,Practitioner". No space is added, so
// another comma can follow.
func List(values ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		done, last := "", toComplete
		if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
			done, last = toComplete[:i+1], toComplete[i+1:]
		}
		chosen := strings.Split(done, ",")
		var out []cobra.Completion
		for _, v := range withPrefix(values, last) {
			if !slices.Contains(chosen, v) {
				out = append(out, done+v)
			}
		}
		return out, noFile | cobra.ShellCompDirectiveNoSpace
	}
}

// FirstArg completes the first positional argument with fn and nothing
// after it.
func FirstArg(fn cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, noFile
		}
		return fn(cmd, args, toComplete)
	}
}

// URL completes the <url> argument of get, post, put, patch and delete with
// resource types; no space follows (an id or a query comes next), except
// after post, whose body comes next. The body argument gets no completion.
func URL(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 || strings.ContainsAny(toComplete, "/?") {
		return nil, noFile
	}
	dir := noFile
	if cmd.Name() != "post" {
		dir |= cobra.ShellCompDirectiveNoSpace
	}
	return withPrefix(ResourceTypes(), toComplete), dir
}

// TypeList completes a comma-separated list of resource types (bulk export
// --types), each once, as List does.
func TypeList(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return List(ResourceTypes()...)(cmd, args, toComplete)
}

// Profiles completes profile names from the settings file (described by
// their base URL) and "default".
func Profiles(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		file, err := f.Config()
		if err != nil {
			cobra.CompDebugln("profiles: "+err.Error(), false)
			return nil, noFile
		}
		names := file.Names()
		if !slices.Contains(names, config.DefaultProfile) {
			names = append([]string{config.DefaultProfile}, names...)
		}
		var out []cobra.Completion
		for _, n := range withPrefix(names, toComplete) {
			if p, ok := file.Profile(n); ok && p.BaseURL != "" {
				n = cobra.CompletionWithDesc(n, p.BaseURL)
			}
			out = append(out, n)
		}
		return out, noFile
	}
}

func withPrefix(values []string, prefix string) []string {
	var out []string
	for _, v := range values {
		if strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}

// NoFilesByDefault makes every command in the tree that has no completion
// for its arguments complete nothing rather than file names (cobra's
// default): no medplum command takes a file as an argument, only through
// flags such as -f and --csv, which keep completing files.
func NoFilesByDefault(root *cobra.Command) {
	if root.ValidArgsFunction == nil && len(root.ValidArgs) == 0 {
		root.ValidArgsFunction = cobra.NoFileCompletions
	}
	for _, c := range root.Commands() {
		NoFilesByDefault(c)
	}
}
