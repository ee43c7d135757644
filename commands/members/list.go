package members

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// ListOptions are the inputs of `members list`.
type ListOptions struct {
	common
	Types        []string
	ExcludeTypes []string
	Humans       bool
	Admin        bool
	AdminSet     bool // --admin was given (--admin=false lists non-admins)
	Active       bool
	Inactive     bool
	All          bool
	Limit        int
	Output       output.Options
}

// Paging of members list.
const (
	defaultLimit = 100  // members shown without --limit or --all
	maxPage      = 1000 // the server's largest _count
)

// programs are the profile types that are not people.
var programs = []string{"ClientApplication", "Bot"}

// NewCmdList is `medplum members list`.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{common: newCommon(f)}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the members of the project",
		Long: heredoc.Docf(`
			List the members of the project (a FHIR search on ProjectMembership,
			sorted by last update): membership id, name, profile type, user,
			admin, access policy, active.

			Without --limit or --all the first %d are shown (a note on stderr
			says when there are more). --all reads every page, %d at a time,
			with cursor paging (_sort=_lastUpdated), so it is not capped at
			10,000 like offset paging.

			Any --columns name that is not a column above is a dotted path into
			the membership (externalId, meta.lastUpdated, identifier.0.value).
		`, defaultLimit, maxPage),
		Example: `  $ medplum members list --humans
  $ medplum members list --type Patient
  $ medplum members list --exclude-type ClientApplication,Bot --admin
  $ medplum members list --inactive -o csv --columns id,user
  $ medplum members list --all -o ndjson > members.ndjson`,
		Args: cmdutil.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := opts.prepare(c); err != nil {
				return err
			}
			opts.AdminSet = c.Flags().Changed("admin")
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if err := opts.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return listRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.Types, "type", nil, "only these profile types, comma-separated: Patient, Practitioner, RelatedPerson, Bot, ClientApplication")
	fl.StringSliceVar(&opts.ExcludeTypes, "exclude-type", nil, "leave out these profile types, comma-separated")
	_ = cmd.RegisterFlagCompletionFunc("type", completion.List(completion.ProfileTypes...))
	_ = cmd.RegisterFlagCompletionFunc("exclude-type", completion.List(completion.ProfileTypes...))
	fl.BoolVar(&opts.Humans, "humans", false, "people only: leave out ClientApplication and Bot")
	fl.BoolVar(&opts.Admin, "admin", false, "only project admins (--admin=false: only members who are not)")
	fl.BoolVar(&opts.Active, "active", false, "only active members")
	fl.BoolVar(&opts.Inactive, "inactive", false, "only deactivated members")
	fl.BoolVar(&opts.All, "all", false, "every member, reading all pages")
	fl.IntVar(&opts.Limit, "limit", 0, fmt.Sprintf("at most N members (default %d unless --all)", defaultLimit))
	opts.addProjectFlag(cmd)
	addOutputFlags(cmd, &opts.Output)
	output.SetExamples(cmd, "", ".[].id") // the JSON is an array of memberships
	return cmd
}

// check validates the flags and canonicalises the profile types.
func (o *ListOptions) check() error {
	if o.Active && o.Inactive {
		return cmdutil.FlagErrorf("--active and --inactive cannot be used together")
	}
	if o.Limit < 0 {
		return cmdutil.FlagErrorf("--limit must be a positive number")
	}
	var err error
	if o.Types, err = profileTypes("--type", o.Types); err != nil {
		return err
	}
	if o.ExcludeTypes, err = profileTypes("--exclude-type", o.ExcludeTypes); err != nil {
		return err
	}
	if o.Humans {
		for _, p := range programs {
			if slices.Contains(o.Types, p) {
				return cmdutil.FlagErrorf("--humans leaves out %s, which --type asks for", p)
			}
			if !slices.Contains(o.ExcludeTypes, p) {
				o.ExcludeTypes = append(o.ExcludeTypes, p)
			}
		}
	}
	for _, t := range o.Types {
		if slices.Contains(o.ExcludeTypes, t) {
			return cmdutil.FlagErrorf("%s is both in --type and --exclude-type", t)
		}
	}
	return nil
}

func profileTypes(flag string, in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		t, ok := membership.CanonicalProfileType(s)
		if !ok {
			return nil, cmdutil.FlagErrorf("%s: unknown profile type %q (want %s)", flag, s, strings.Join(membership.ProfileTypes, ", "))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// query is the ProjectMembership search of the options.
func (o *ListOptions) query(project string, count int) url.Values {
	q := url.Values{"project": {"Project/" + project}, "_sort": {"_lastUpdated"}, "_count": {strconv.Itoa(count)}}
	if len(o.Types) > 0 {
		q.Set("profile-type", strings.Join(o.Types, ","))
	}
	if len(o.ExcludeTypes) > 0 {
		q.Set("profile-type:not", strings.Join(o.ExcludeTypes, ","))
	}
	// Medplum 5.0.10 has no admin or active search parameter on
	// ProjectMembership ("Unknown search parameter: admin"): --admin,
	// --active and --inactive are filters of keep.
	return q
}

// keep applies the filters the server cannot: --admin (admin: true),
// --admin=false (admin absent or false), --active (active absent or true)
// and --inactive (active: false).
func (o *ListOptions) keep(m client.Resource) bool {
	if o.AdminSet && membership.IsAdmin(m) != o.Admin {
		return false
	}
	if (o.Active || o.Inactive) && membership.IsActive(m) != o.Active {
		return false
	}
	return true
}

func listRun(o *ListOptions) error {
	c, project, err := o.connect()
	if err != nil {
		return err
	}
	limit := o.Limit
	if limit == 0 && !o.All {
		limit = defaultLimit
	}
	count := maxPage
	if limit > 0 {
		// One more than asked for, to know whether there are more.
		count = min(limit+1, maxPage)
	}
	// Each member is printed as it comes (membership.Printer), so that
	// --all over any number of members takes the same memory. The search
	// stops after the members needed (one more than the limit, to know
	// whether there are more); the pages are read lazily, so the filters
	// of keep only read further when they leave members out.
	p, err := membership.NewPrinter(o.IO, &o.Output, membership.ListTable)
	if err != nil {
		return err
	}
	n, more := 0, false
	for d, err := range membership.Search(o.context(), c, "ProjectMembership", o.query(project, count), 0) {
		if err != nil {
			_ = p.Abort() // the members read so far
			return err
		}
		if !o.keep(d.Resource) {
			continue
		}
		if limit > 0 && n == limit {
			more = true
			break
		}
		if err := p.Add(d); err != nil {
			return err
		}
		n++
	}
	if err := p.Close(); err != nil {
		return err
	}
	if more && o.Limit == 0 {
		fmt.Fprintf(o.IO.ErrOut, "showing the first %d members; use --limit N or --all for more\n", limit)
	}
	return nil
}
