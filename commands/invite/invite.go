// Package invite is `medplum invite`: one user from arguments, flags or a
// JSON payload (single.go), or many from a CSV file (--csv, csvrun.go; the
// engine is package invite/bulk). Both validate an invite with
// membership.CheckInvite.
package invite

import (
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/completion"
	"github.com/medplumcli/medplum/commands/iostreams"
	"github.com/medplumcli/medplum/commands/membership"
	"github.com/medplumcli/medplum/commands/output"
)

// Options are the flags and dependencies of `medplum invite`. The fields
// under "shared" mean the same for one user and for a file (for a file they
// are the defaults of rows that leave the column blank).
type Options struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)

	Args []string // positional: <firstName> <lastName> <email> (single invite)

	// shared
	Role      string
	SendEmail bool
	Upsert    bool
	Project   string // checked: an id, or "" for the signed-in project
	DryRun    bool
	Output    output.Options

	// single invite (single.go)
	First         string
	Last          string
	Email         string
	ExternalID    string
	Admin         bool
	AccessPolicy  string
	Access        []string
	Scope         string
	Patient       string
	PasswordStdin bool
	MfaRequired   bool
	ForceNew      bool
	File          string // -f: a JSON invite payload ("-" for stdin)

	// bulk (--csv)
	CSV                  string
	Report               string
	State                string
	Concurrency          int
	SkipInvalid          bool
	IgnoreUnknownColumns bool
	Map                  []string // --map 'COLUMN=firstName', 'COLUMN=ignore'
	Quiet                bool

	policies    *membership.Policies // the policies the invite named, once looked up
	outputSet   bool                 // -o was given
	bulkOnly    []string             // bulk-only flags that were given
	changedFlag func(string) bool
}

// NewCmdInvite builds `medplum invite`.
func NewCmdInvite(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "invite [<firstName> <lastName> <email>] | --csv FILE",
		Short: "Invite users to the project: one, or thousands from a CSV file",
		Long: heredoc.Doc(`
			Invite a user to the project (POST admin/projects/<project>/invite), or
			every row of a CSV file with --csv. The server creates the User if
			needed, a profile (Patient, Practitioner or RelatedPerson) and the
			ProjectMembership that links them.

			One user comes from the arguments (as the official CLI's "project
			invite" takes them), from flags, or from a JSON invite payload (-f FILE,
			"-" for stdin) in the shape the endpoint takes, including its
			"membership" object; flags given with -f override the payload's fields,
			and fields medplum does not know are sent as they are. Every problem is
			listed before anything is sent (exit 2). Access policies are named by
			their name, their id or AccessPolicy/<id>, and must be policies of the
			project: they are looked up before anything is sent. The new membership
			is printed (-o table, json, ndjson or csv). A user who is already a
			member is refused (exit 1) unless --upsert.

			--upsert changes only what the invite names (the CSV's row, or the
			flags): the membership is read first, and a member keeps every right
			the invite does not mention (admin, access policies, external id,
			active); names and e-mail are never changed. The changes are shown as
			before -> after (with --dry-run, before anything is sent); when there
			is none, nothing is sent. The invite does not change the password of a
			user who exists: with --upsert --password-stdin, a member's password is
			set through admin/projects/setpassword, which Medplum allows only for
			the project's own (project-scoped) users; for others it is refused
			before anything is sent.

			The server e-mails the user unless the request says "sendEmail": false,
			so medplum always sends an explicit boolean: false unless --send-email.
			A payload's boolean given as the string "true" or "false" (Medplum's
			own example sends "sendEmail":"false") is sent as that boolean, with a
			note. When the membership was made but the e-mail failed (the server
			answers 200 with an error), it is printed and the exit status is 1.

			With --csv, every row is checked before anything is sent; a file with
			invalid rows is refused (exit 2) unless --skip-invalid. The invites then
			run in parallel, as many at a time as the server handles best (or
			--concurrency N), retrying serialization conflicts (409 with code
			40001), rate limits (429) and gateway errors. A user who is already a
			member counts as "exists" (with --upsert, "updated" when the row
			changes something, as above).

			A journal (--state, default <file>.journal next to the CSV) records each
			row before and after its request, so the same command run again after
			Ctrl-C, a crash or a network outage finishes the remaining rows and
			never invites a row twice; a row whose request was in flight is looked
			up on the server; the rows it finished are reported as done by an
			earlier run, and counted apart. The journal is removed when no row
			failed.

			The CSV columns are described in "medplum help invite-csv"; their
			names are matched without regard to case and spaces ("First Name",
			"Email Address"), and --map says what any other column is.

			Exit status with --csv: 0 when every row was created, exists, was
			updated, or was skipped with --skip-invalid (as its --dry-run); 3
			when some failed; 2 when the file is refused; 130 after Ctrl-C.
		`) + "\n--access takes " + membership.AccessSyntax,
		Example: `  $ medplum invite Alice Smith alice@example.com --admin
  $ medplum invite Alice Smith alice@example.com --access-policy 'Clinic staff' --upsert --dry-run
  $ medplum invite --role Patient --first Homer --last Simpson --email homer@example.com
  $ medplum invite -r RelatedPerson --first Marge --last Simpson --email marge@example.com --patient Patient/123
  $ medplum invite Bob Jones bob@example.com \
      --access 'AccessPolicy/123?provider_organization=Organization/abc' \
      --access 'AccessPolicy/123?provider_organization=Organization/def'
  $ medplum invite -f homer.json --upsert
  $ printf '%s' "$PASSWORD" | medplum invite -r Patient Lisa Simpson lisa@example.com --password-stdin
  $ medplum invite --csv users.csv --report results.csv
  $ medplum invite --csv staff-export.csv --map 'Job Title=ignore' --map 'Work Email=email'
  $ medplum invite --csv users.csv --dry-run
  $ medplum invite --csv users.csv --skip-invalid -o ndjson > results.ndjson`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 || len(args) == 3 {
				return nil
			}
			return cmdutil.FlagErrorf("%s takes a first name, a last name and an e-mail (or flags), got %s", c.CommandPath(), cmdutil.Count(len(args), "argument"))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			opts.outputSet = cmd.Flags().Changed("output")
			opts.changedFlag = cmd.Flags().Changed
			for _, name := range bulkFlags {
				if cmd.Flags().Changed(name) {
					opts.bulkOnly = append(opts.bulkOnly, name)
				}
			}
			if err := opts.Output.Check(); err != nil {
				return err
			}
			if cmd.Flags().Changed("project") {
				p, err := membership.ParseProject(opts.Project)
				if err != nil {
					return err
				}
				opts.Project = p
			}
			if opts.CSV != "" {
				if err := opts.rejectSingleFlags(); err != nil {
					return err
				}
				if err := opts.checkBulkFlags(); err != nil {
					return err
				}
			} else if len(opts.bulkOnly) > 0 {
				return cmdutil.FlagErrorf("--%s needs --csv", opts.bulkOnly[0])
			}
			if runF != nil {
				return runF(opts)
			}
			if opts.CSV != "" {
				return bulkRun(cmd, opts)
			}
			return singleRun(cmd, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Role, "role", "r", "Practitioner", "profile type: Patient, Practitioner or RelatedPerson (with --csv: for rows without one)")
	fl.BoolVar(&opts.SendEmail, "send-email", false, "send the invitation e-mail (with --csv: for rows without a sendEmail value)")
	fl.BoolVar(&opts.Upsert, "upsert", false, "update the membership of a user who is already a member: only what the invite names")
	membership.AddProjectFlag(f, cmd, &opts.Project, "")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "check and print what would be sent; send nothing")
	output.AddFlags(cmd, &opts.Output, output.Table)
	opts.Output.CompleteColumns = output.ColumnList(membership.InviteColumns...)
	output.SetExamples(cmd, "id,user,admin", ".id")

	fl.StringVar(&opts.First, "first", "", "first name")
	fl.StringVar(&opts.Last, "last", "", "last name")
	fl.StringVar(&opts.Email, "email", "", "e-mail address (the user's login)")
	fl.StringVar(&opts.ExternalID, "external-id", "", "external id (makes a project-scoped user; e-mail optional)")
	fl.BoolVar(&opts.Admin, "admin", false, "make the user a project admin (membership.admin)")
	fl.StringVar(&opts.AccessPolicy, "access-policy", "", "access policy: its name, its id or AccessPolicy/<id> (membership.accessPolicy)")
	fl.StringArrayVar(&opts.Access, "access", nil, "access policy with parameters, repeatable: 'POLICY?name=Type/<id>' (membership.access)")
	fl.StringVar(&opts.Scope, "scope", "", "user scope: project or server (default: the server's, by role)")
	fl.StringVar(&opts.Patient, "patient", "", "the Patient a RelatedPerson is related to: an id or Patient/<id>")
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the user's password from stdin (8 to 72 bytes; for a member, with --upsert)")
	fl.BoolVar(&opts.MfaRequired, "mfa-required", false, "require the new user to set up MFA")
	fl.BoolVar(&opts.ForceNew, "force-new-membership", false, "create another membership even if the user is already a member")
	fl.StringVarP(&opts.File, "file", "f", "", "JSON invite payload to send (\"-\" for stdin)")

	fl.StringVar(&opts.CSV, "csv", "", "invite every row of this CSV file")
	_ = cmd.MarkFlagFilename("csv", "csv")
	_ = cmd.RegisterFlagCompletionFunc("role", completion.Values(completion.InviteRoles...))
	_ = cmd.RegisterFlagCompletionFunc("scope", completion.Values("project", "server"))
	_ = cmd.RegisterFlagCompletionFunc("access-policy", completion.Named(f, "AccessPolicy"))
	_ = cmd.RegisterFlagCompletionFunc("access", completion.Access(f))
	fl.StringVar(&opts.Report, "report", "", "with --csv: write each row's result to this CSV file")
	fl.StringVar(&opts.State, "state", "", "with --csv: the journal file (default: <csv>.journal)")
	fl.IntVar(&opts.Concurrency, "concurrency", 0, "with --csv: invites in flight (default: adaptive, 1 to 16)")
	fl.BoolVar(&opts.SkipInvalid, "skip-invalid", false, "with --csv: send the valid rows even if some are invalid")
	fl.BoolVar(&opts.IgnoreUnknownColumns, "ignore-unknown-columns", false, "with --csv: ignore columns it does not know")
	fl.StringArrayVar(&opts.Map, "map", nil, "with --csv, repeatable: what a column of the file is, 'Work Email=email', or 'Job Title=ignore'")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "with --csv: no progress on stderr")
	return cmd
}

// bulkFlags only make sense with --csv.
var bulkFlags = []string{"report", "state", "concurrency", "skip-invalid", "ignore-unknown-columns", "map", "quiet"}

// singleFlags only make sense for one user.
var singleFlags = []string{"first", "last", "email", "external-id", "admin", "access-policy", "access",
	"scope", "patient", "password-stdin", "mfa-required", "force-new-membership", "file"}

// rejectSingleFlags refuses the flags of a single invite with --csv.
func (o *Options) rejectSingleFlags() error {
	var given []string
	for _, name := range singleFlags {
		if o.changed(name) {
			given = append(given, "--"+name)
		}
	}
	if len(given) > 0 {
		return cmdutil.FlagErrorf("%s cannot be used with --csv (put them in the file's columns)", strings.Join(given, ", "))
	}
	return nil
}

// changed reports whether a flag was given (false in tests that build
// Options by hand).
func (o *Options) changed(flag string) bool { return o.changedFlag != nil && o.changedFlag(flag) }
