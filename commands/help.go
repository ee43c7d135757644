package commands

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/medplumcli/medplum/commands/cmdutil"
	"github.com/medplumcli/medplum/commands/config"
)

// helpTopics are `medplum help <topic>` pages: commands that do nothing but
// carry text, which cobra lists under "Additional help topics".
func helpTopics() []*cobra.Command {
	topics := []*cobra.Command{
		{
			Use:   "exit-codes",
			Short: "Exit codes and what they mean",
			Long: heredoc.Doc(`
				medplum exits with one of these codes:

				  0    success
				  1    the request failed (server error, network, unexpected answer)
				  2    invalid usage or input; nothing was sent
				  3    a bulk run finished with some rows failed (invite --csv, bot deploy, bulk import)
				  4    not signed in, or the server rejected the credentials (401)
				  5    permission denied (403)
				  6    apply --dry-run, bot deploy --dry-run: changes are pending; members review --fail-on: findings
				  7    members review --fail-on: no finding, but a rule at or above the gate could not be checked for some member (--allow-unchecked accepts it)
				  130  interrupted (Ctrl-C): medplum ends by the signal itself, so a shell shows 130 and stops its loop (SIGTERM: 143)

				Errors are printed once on stderr as "medplum: <message>", sometimes
				followed by a hint such as "run: medplum login". Data goes to stdout.

				On Ctrl-C a REST command (get, post, put, patch, delete) ends at once
				without a word, as curl does; every other command first prints
				"medplum: interrupted" and, where there is one, how to resume.
			`),
		},
		{
			Use:   "environment",
			Short: "Environment variables that medplum reads",
			Long:  environmentHelp(),
		},
		{
			Use:   "formatting",
			Short: "Output formats: -o json|yaml|ndjson|table|csv, --jq, --template",
			Long:  formattingHelp,
		},
	}
	for _, t := range topics {
		t.SetHelpFunc(func(c *cobra.Command, _ []string) { fmt.Fprint(c.OutOrStdout(), c.Long) })
	}
	return topics
}

// newCmdHelp replaces cobra's help command, which exits 0 with the root's
// usage on an unknown topic and does not complete the help topics. A typo
// is a usage error (exit 2) that lists the topics.
func newCmdHelp() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command | topic]",
		Short: "Help about any command or topic",
		Long:  "Help about any command (medplum help members list) or topic (medplum help environment).",
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			parent, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, sub := range parent.Commands() {
				if (sub.IsAvailableCommand() || sub.IsAdditionalHelpTopicCommand()) && strings.HasPrefix(sub.Name(), toComplete) {
					out = append(out, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || cmd == nil || (len(rest) > 0 && cmd.HasSubCommands()) {
				var topics []string
				for _, t := range c.Root().Commands() {
					if t.IsAdditionalHelpTopicCommand() && !t.Hidden {
						topics = append(topics, t.Name())
					}
				}
				return &cmdutil.ExitError{Code: cmdutil.ExitUsage,
					Err: fmt.Errorf("unknown help topic %q", strings.Join(args, " ")),
					Tip: "help topics: " + strings.Join(topics, ", ") + "; or a command: medplum help <command>"}
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		},
	}
}

func environmentHelp() string {
	var b strings.Builder
	b.WriteString(heredoc.Doc(`
		Connection settings come from, in order of precedence: a flag, an
		environment variable, the selected profile, the default. These are the
		variables of the official Medplum CLI:

	`))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, k := range config.Keys {
		if k.Env == "" || k.Name == "app_url" { // app_url: ours, listed below
			continue
		}
		desc, _, _ := strings.Cut(k.Usage, " (")
		desc, _, _ = strings.Cut(desc, ", absolute")
		switch {
		case k.Name == "access_token":
			desc = "use this bearer token instead of signing in (like --access-token)"
		case k.Flag != "":
			desc += fmt.Sprintf(" (like --%s)", k.Flag)
		}
		if k.Default != "" {
			desc += fmt.Sprintf("; default %s", k.Default)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", k.Env, desc)
	}
	tw.Flush()
	b.WriteString(heredoc.Doc(`

		As with the official CLI, a .env file in the current directory can set
		these variables and MEDPLUM_PROFILE, in dotenv syntax: KEY=value, an
		"export " prefix, 'single', "double" or ` + "`backtick`" + ` quotes (a quoted
		value may span lines), # comments. A variable set in the environment
		wins, even when empty; other variables in the file are ignored; medplum
		never writes it. "medplum profile describe" shows such a value's source
		as .env, and "medplum whoami" names the file. When the file sets a
		variable that a command uses to connect (one the environment does not
		set and no flag overrides), the command says so on stderr, once:
		  medplum: using MEDPLUM_CLIENT_ID, MEDPLUM_CLIENT_SECRET from /app/.env (...)
		It says it when stderr is a terminal, or with --verbose; a script whose
		stderr is not a terminal gets no line per command (export the
		variables, or set MEDPLUM_NO_DOTENV=1, to leave the file out).

		Other variables:

		  MEDPLUM_PROFILE          profile to use (like -p/--profile); else the one
		                           chosen by "medplum profile use", else "default"
		  MEDPLUM_CONFIG_DIR       directory of config.yaml; default
		                           $XDG_CONFIG_HOME/medplum, else ~/.config/medplum
		                           (Linux, macOS), %AppData%\medplum (Windows)
		  MEDPLUM_FORCE_TTY        treat stdout as a terminal (tables instead of TSV);
		                           a number ("120") or percentage ("50%") sets the width
		  MEDPLUM_PROMPT_DISABLED  never ask questions; fail and name the flag instead
		  MEDPLUM_NO_DOTENV=1      do not read ./.env
		  MEDPLUM_APP_URL          the Medplum app of the server, where links such
		                           as set-password links point (like --app-url);
		                           default https://app.medplum.com/, the hosted
		                           app, for api.medplum.com only: invite-link
		                           refuses to guess it for another server (a
		                           self-hosted app is its appBaseUrl: set it)
		  MEDPLUM_REVIEW_TIME      the time of a members review (RFC 3339), for a
		                           report that must come out the same twice;
		                           default now; one more than an hour from now
		                           is used with a warning
		  MEDPLUM_CACHE_DIR        where "medplum login" caches the short-lived access
		                           token (0600); default the user cache directory:
		                           $XDG_CACHE_HOME/medplum, else ~/.cache/medplum
		                           (Linux), ~/Library/Caches/medplum (macOS),
		                           %LocalAppData%\medplum (Windows)
		  MEDPLUM_TIMEOUT          how long to wait for the server (like --timeout):
		                           for each answer, and in invite --csv for the
		                           server to come back; e.g. 90s; 0 waits forever;
		                           default 60s
		  MEDPLUM_KEYRING_TIMEOUT  how long to wait for the system keyring, e.g. 60s;
		                           default 5s, or 30s on a terminal (an unlock prompt)
		  MEDPLUM_BROWSER, BROWSER command that opens the sign-in page (the URL is
		                           added as its last argument)
		  NO_COLOR, CLICOLOR=0     turn color off; CLICOLOR_FORCE=1 forces it on

		Also honoured:

		  HTTPS_PROXY, HTTP_PROXY, NO_PROXY
		                           send requests through a proxy (NO_PROXY: hosts
		                           reached directly)
		  SSL_CERT_FILE, SSL_CERT_DIR
		                           trust these CA certificates instead of the
		                           system's (Linux and BSD), e.g. for a self-hosted
		                           server with a private CA
		  DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR
		                           Linux: the session bus of the system keyring;
		                           without either, the keyring is not tried
		  GOMAXPROCS               how many CPUs medplum may use at once; default
		                           one for the REST commands, which send one
		                           request at a time (it starts faster), and every
		                           CPU for the others

		Secrets (MEDPLUM_CLIENT_SECRET, MEDPLUM_CLIENT_ACCESS_TOKEN) are never
		written to the settings file and never printed.
	`))
	return b.String()
}

// formattingHelp is `medplum help formatting`.
const formattingHelp = `The commands that print data take -o (--output):

  json     the server's JSON as it sent it, indented (a list is an array)
  yaml     the same document as YAML, keys in the same order
  ndjson   one compact resource per line
  table    a table on a terminal, tab-separated when piped
  csv      comma-separated, with a header row

--columns and --no-header shape table and csv. A table's header says the
columns in capitals (accessPolicy is ACCESS POLICY); a CSV's names them as
--columns does (accessPolicy), for the programs that read it. A csv text
cell that begins with =, +, -, @, a tab or a carriage return gets a leading
' so that a spreadsheet shows it instead of running it as a formula (CSV
injection); numbers (-3.5) are written as they are. The same in every CSV
medplum writes: invite's and bulk import's --report, apply export
--members-csv. Text that already begins with ' before one of them gets one
more, and invite --csv and apply read such a cell without its first ', so
a CSV medplum wrote reads back as it was.

--jq EXPR filters the JSON document (what -o json prints) with a jq
expression (gojq: https://github.com/itchyny/gojq). Strings are printed as
they are, other values as JSON: indented on a terminal, compact when piped.
Object keys come out sorted.

  $ medplum get 'ProjectMembership?profile-type=Practitioner' --jq '.entry[].resource.profile.display'
  $ medplum members list --jq '.[] | select(.admin) | .id'

--template TEMPLATE formats the JSON document with a Go template
(https://pkg.go.dev/text/template). Fields are read with .name; besides
Go's own functions (range, if, index, printf, len, ...) there are gh's:

  tablerow FIELD...     a row of a table; the columns are aligned on a
                        terminal and tab-separated when piped
  tablerender           print the rows so far (else they come at the end)
  join SEP LIST         the items of LIST joined with SEP
  pluck FIELD LIST      FIELD of each object in LIST
  timeago TIME          how long ago an instant was ("5 minutes ago")
  timefmt LAYOUT TIME   an instant in a Go layout ("2006-01-02 15:04")
  truncate N TEXT       at most N characters, "…" where it was cut
  json VALUE            VALUE as compact JSON

  $ medplum members list --template '{{range .}}{{tablerow .id .profile.display (timeago .meta.lastUpdated)}}{{end}}'

--jq and --template work on the JSON output: they cannot be combined with
each other or with another -o. An empty one (--jq '' or --template '') is
no filter: the output is what it is without it.

An expression that does not parse, a --jq one that calls a function,
variable or format jq does not have (lenght, $y, @foo), or a --template one
that calls a function with the wrong number of arguments ({{truncate .x}},
{{.x | json .y}}) or with a literal of the wrong kind ({{truncate "5" .x}}),
is a usage error (exit 2) that says where, and nothing is sent: the column
for --jq (the line and the column when it has several lines), the line for
--template (and the column of a call). A call is checked even in a branch
({{if}}, {{range}}) the data would not reach. One that fails on the data
(join given a string) is exit 1.

In --jq, $ENV and env are empty objects: the environment holds credentials
(MEDPLUM_CLIENT_SECRET, MEDPLUM_CLIENT_ACCESS_TOKEN) that a filter must not
be able to print.
`
