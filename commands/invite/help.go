package invite

import (
	"fmt"

	"github.com/spf13/cobra"
)

// CSVHelp documents the CSV columns; testdata/invite/README.md carries the
// same text (a test keeps them equal).
const CSVHelp = `The first line of the file names the columns, in any order. Names are
matched without regard to case, spaces, hyphens, underscores and dots, so
"First Name", "first_name" and "FIRSTNAME" are all firstName, and the names
HR exports use are known too ("Email Address" and "E-mail" are email,
"Given Name" firstName, "Surname" and "Family Name" lastName). Say what any
other column is with --map 'Work Email=email', or leave it out with
--map 'Job Title=ignore' (--ignore-unknown-columns leaves out every column
it does not know). A UTF-8 byte-order mark, CRLF line ends, quoted fields
(with commas or line breaks inside) and blank lines are fine. Every row
must have as many fields as the header. A cell that begins with ' before
=, +, -, @, a tab or a carriage return is read without its first ' (that
is how medplum's CSVs write text a spreadsheet would run as a formula).

  resourceType (or role)  Patient, Practitioner or RelatedPerson, any case.
                          Blank: --role (default Practitioner).
  firstName, lastName     The new profile's name. Required.
  email                   The user's e-mail, lowercased before sending.
                          Required unless externalId is set.
  externalId              An id from your system; makes a project-scoped user.
  admin                   Boolean: project administrator. Blank: not sent.
  accessPolicy            An access policy of the project: its name, its id
                          or AccessPolicy/<id>. Each one the file names is
                          looked up once before anything is sent; a row
                          naming one the project does not have is invalid.
                          Blank: the project's default policy.
  param:<name>            A parameter of the row's access policy, e.g.
                          param:provider_organization. A reference such as
                          Organization/abc is sent as a valueReference,
                          anything else as a valueString. Needs accessPolicy.
  scope                   project or server. Blank: the server decides
                          (Patient: project, others: server). Users with an
                          externalId are always project-scoped.
  patient                 Patient/<id> or a bare id: whom a RelatedPerson is
                          related to. Required for RelatedPerson, refused for
                          the other roles.
  mfaRequired             Boolean: a new user must enrol in MFA.
  sendEmail               Boolean: send the invitation e-mail. Blank:
                          --send-email (default false). Always sent as an
                          explicit boolean, because the server e-mails unless
                          it gets false.
  active                  Boolean: false makes the membership inactive (the
                          user cannot sign in to the project). Blank: not
                          sent.

Booleans are true/false, yes/no, y/n or 1/0, in any case.

Every row is checked before anything is sent: missing names, bad e-mails,
unknown roles, bad references and booleans, access policies the project
does not have, and e-mails or external ids that appear twice in the file
(also when the first row has problems of its own) are reported as
FILE:LINE: COLUMN: REASON, and nothing is sent unless --skip-invalid.
Rows skipped with --skip-invalid are not failures: the run exits 0, as
its --dry-run does, and its journal is removed (the same file would skip
them again, and a corrected file is a new file with a journal of its own).

With --upsert, a row changes only what it names on a user who is already
a member: a blank cell keeps what the member has (admin, access policy,
active, external id); names and e-mail are never changed. The membership
is read first; a row that changes nothing sends nothing and ends "exists",
one that does ends "updated" with the change as before -> after. --dry-run
shows the same, per row, before anything is sent.

Results (--report FILE, or -o csv|json|ndjson on stdout) have one row per
line of the file, in the order the rows finish: line, email, external_id,
status (created, exists, updated, failed, skipped), membership_id, error
(why a row failed, or a note), change (what --upsert changed) and
earlier_run (true when an earlier run of the same command finished the
row: it is read from the journal, not sent again, and the summary counts
it apart).

When the answer to an invite is lost (a dropped connection, a gateway
error, no answer within --timeout), the row is looked up before anything
is sent again. Whether the
user was a member before is decided by the server's own records, not by
comparing clocks: before sending, the run reads the project's newest
memberships and notes them in the journal. A membership the lookup finds
that is older than the newest of those, or is one of them, was there
before: the row is "exists". A newer one was made by the row's invite:
"created" (or by someone else at the same moment; the run cannot see who).
When this cannot be told (those memberships could not be read, or the
journal comes from an older medplum), the row is "exists" (with --upsert,
"updated") with a note in the error column, never "created".

While the server answers nothing (connections refused, dropped or timed
out; 502, 503 or 504 from a gateway), rows wait for it instead of failing.
When that lasts as long as --timeout (default 60s), the run stops, exit 1,
with "server unreachable since <time>": finished rows are in the journal,
rows on their way are looked up by the next run, and rows not sent yet
stay unsent. Run the same command again to continue.
`

// NewHelpTopicCSV is `medplum help invite-csv`.
func NewHelpTopicCSV() *cobra.Command {
	c := &cobra.Command{
		Use:   "invite-csv",
		Short: "The CSV file of medplum invite --csv",
		Long:  CSVHelp,
	}
	c.SetHelpFunc(func(c *cobra.Command, _ []string) { fmt.Fprint(c.OutOrStdout(), c.Long) })
	return c
}
