package review

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Severity orders findings: high > medium > low.
type Severity int

// The severities.
const (
	Low Severity = iota + 1
	Medium
	High
)

func (s Severity) String() string {
	switch s {
	case High:
		return "high"
	case Medium:
		return "medium"
	case Low:
		return "low"
	}
	return "none"
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, ok := ParseSeverity(string(b))
	if !ok {
		return fmt.Errorf("unknown severity %q", b)
	}
	*s = v
	return nil
}

// ParseSeverity reads high, medium or low.
func ParseSeverity(s string) (Severity, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "high":
		return High, true
	case "medium":
		return Medium, true
	case "low":
		return Low, true
	}
	return 0, false
}

// A Rule is one check of the review. Its ID is stable: ignore files,
// baselines and CI gates name it, so an ID is never reused for another
// check or renamed.
type Rule struct {
	ID       string
	Severity Severity
	// Project rules are about the project, not one member.
	Project bool
	// What the rule checks, why it matters and how to fix a finding.
	What, Why, Fix string
	// Visibility says what the rule needs to read and who can read it.
	Visibility string
}

// The rule ids.
const (
	RuleAdminMFA         = "admin-without-mfa"
	RuleProjectMFA       = "project-mfa-not-required"
	RuleStaleInvite      = "stale-invite"
	RuleInactiveAdmin    = "inactive-admin"
	RuleClientAdmin      = "client-admin"
	RuleClientNoPolicy   = "client-without-access-policy"
	RuleClientSecretAge  = "client-secret-old"
	RuleMemberNoPolicy   = "member-without-access-policy"
	RuleMissingPolicy    = "missing-access-policy"
	RuleMissingProfile   = "missing-profile"
	RuleMissingUser      = "missing-user"
	RuleDuplicatePerson  = "duplicate-person"
	defaultStaleInvite   = 14
	defaultSecretMaxDays = 90
)

// Rules is the rule set, in the order reports list them.
var Rules = []Rule{
	{
		ID: RuleAdminMFA, Severity: High,
		What: "An active project admin (a person) whose user has not enrolled in multi-factor authentication.",
		Why: "An admin can read and change everything in the project and manage its members; a stolen " +
			"password alone is then enough to take it over. HIPAA §164.312(d) asks for person authentication " +
			"that resists that.",
		Fix: "Have the admin enrol in MFA (Medplum app: Security, or POST auth/mfa/enroll), or remove the admin " +
			"rights (medplum members demote <member>).",
		Visibility: "Reads User.mfaEnrolled: a project admin can read it for project-scoped users only; " +
			"a server-scoped admin's is reported as not checked unless a super admin runs the review.",
	},
	{
		ID: RuleProjectMFA, Severity: Medium, Project: true,
		What: "The project does not require MFA for everyone: its setting mfaRequired is not true.",
		Why: "Without it each user chooses whether to enrol, and people with access to patient data can " +
			"sign in with a password alone.",
		Fix: "medplum project settings set mfaRequired true. Medplum servers enforce this setting from mid-2026 " +
			"(PR #9678); older servers, such as 5.0.10, only enforce User.mfaRequired: invite people with " +
			"--mfa-required there.",
		Visibility: "Reads the Project's setting list, which project admins and super admins can read.",
	},
	{
		ID: RuleStaleInvite, Severity: Medium,
		What: "An invitation pending for longer than --stale-invite (default 14 days): the user has not set " +
			"a password through its link. Medplum 5.0.10 does not show a password set another way (an invite " +
			"with a password, admin/projects/setpassword): such an invite stays unused, and the finding says " +
			"when the account changed after the invite, as an admin's setpassword makes it.",
		Why: "A pending invite is a working set-password link for an account that nobody uses yet; " +
			"forgotten invites are how people who never joined (or left) keep a way in.",
		Fix: "Remove the member if they should not have access (medplum members remove <member>), or " +
			"send them the link again (medplum members invite-link <member>).",
		Visibility: "Reads the user's UserSecurityRequests: a project admin can read them for " +
			"project-scoped users only; a server-scoped member's are reported as not checked unless a super " +
			"admin runs the review.",
	},
	{
		ID: RuleInactiveAdmin, Severity: Medium,
		What: "A deactivated membership that still has admin rights.",
		Why: "Reactivating it (by mistake, or by anyone who can edit memberships) gives the admin rights back " +
			"at once; an access review should see deactivated accounts without privileges.",
		Fix:        "medplum members demote <member> (or remove it: medplum members remove <member>).",
		Visibility: "Reads the membership only: always checked.",
	},
	{
		ID: RuleClientAdmin, Severity: High,
		What: "An active client application with project admin rights.",
		Why: "A client secret is a password that lives in configuration, CI variables and scripts; with " +
			"admin rights it can read and change everything, members included, and no MFA protects it.",
		Fix: "Give the client an access policy with only what it needs and remove its admin rights " +
			"(medplum members set-access <client> --access-policy <policy>, then medplum members demote <client>). " +
			"If it must stay an admin (a provisioning client), accept the risk in an ignore file with the reason.",
		Visibility: "Reads the membership only: always checked.",
	},
	{
		ID: RuleClientNoPolicy, Severity: Medium,
		What:       "An active client application that is not an admin and has no access policy.",
		Why:        "A membership without an access policy can read and write every resource of the project.",
		Fix:        "medplum members set-access <client> --access-policy <policy>.",
		Visibility: "Reads the membership only: always checked.",
	},
	{
		ID: RuleClientSecretAge, Severity: Medium,
		What: "A client application whose current secret is older than --secret-max-age (default 90 days).",
		Why: "Secrets leak through logs, laptops and former staff; rotating them limits how long a leaked " +
			"one works.",
		Fix: "medplum clients rotate-secret <client> --show-secret, update the systems that use it, then " +
			"medplum clients rotate-secret <client> --finish to retire the old secret.",
		Visibility: "Reads the client's version history (ClientApplication/<id>/_history: every version keeps " +
			"its secret, so when the current one was set is known without printing it); project admins and " +
			"super admins can read it.",
	},
	{
		ID: RuleMemberNoPolicy, Severity: Medium,
		What: "A person or bot who is not an admin and has no access policy, in a project that uses access " +
			"policies (it has at least one AccessPolicy, or a default patient policy).",
		Why: "Where the project restricts access with policies, a member without one can read and write " +
			"every resource: usually an invite that forgot the policy.",
		Fix:        "medplum members set-access <member> --access-policy <policy>.",
		Visibility: "Reads the memberships and the project's access policies: always checked.",
	},
	{
		ID: RuleMissingPolicy, Severity: High,
		What: "A membership that names an access policy the project does not have (deleted, or another " +
			"project's).",
		Why: "A policy that no longer exists makes Medplum refuse the member's sign-in (\"Invalid access " +
			"policy configuration\"); another project's policy gives them access that this project's admins " +
			"neither see nor control.",
		Fix:        "medplum members set-access <member> --access-policy <an existing policy>.",
		Visibility: "Reads the project's access policies, and each missing one by id: always checked.",
	},
	{
		ID: RuleMissingProfile, Severity: Medium,
		What: "A membership whose profile (Practitioner, Patient, RelatedPerson, Bot or ClientApplication) no " +
			"longer exists in the project.",
		Why: "The member cannot be identified from the project's records, so who has this access cannot be " +
			"reviewed.",
		Fix:        "Remove the membership (medplum members remove <member>), or invite the person again.",
		Visibility: "Searches the profiles of the project by id: always checked.",
	},
	{
		ID: RuleMissingUser, Severity: Medium,
		What: "A person's membership whose User no longer exists (deleted), or that names no User.",
		Why: "Nobody can sign in with it, yet it keeps its rights and profile in the project: a leftover " +
			"that makes the project's list of who has access wrong.",
		Fix: "Remove the membership (medplum members remove <member>), or invite the person again.",
		Visibility: "A super admin reads every User: checked. To a project admin, a server-scoped User and a " +
			"deleted one are both a 404 (Medplum 5.0.10): not checked for the users it cannot read.",
	},
	{
		ID: RuleDuplicatePerson, Severity: Low,
		What: "The same person in several memberships: the same user, or users with the same e-mail " +
			"(a server-scoped and a project-scoped one).",
		Why: "Each membership carries its own rights; a review of one misses the others, and removing one " +
			"leaves the person's access in place.",
		Fix: "Keep one membership per person: remove the others (medplum members remove <member>).",
		Visibility: "Compares users and e-mails; an e-mail a project admin cannot read (server-scoped user) " +
			"is the one the membership recorded.",
	},
}

// ruleByID finds a rule.
func ruleByID(id string) (Rule, bool) {
	for _, r := range Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// RuleIDs lists the rule ids, for messages.
func RuleIDs() string {
	ids := make([]string, len(Rules))
	for i, r := range Rules {
		ids[i] = r.ID
	}
	return strings.Join(ids, ", ")
}

// RulesHelp is the text of `medplum help review-rules`.
func RulesHelp() string {
	var b strings.Builder
	b.WriteString("The rules of medplum members review. Each finding names its rule by id; the\n" +
		"ids are stable (ignore files, baselines and CI gates use them).\n\n" +
		"A rule whose data the caller cannot read does not pass silently: the\n" +
		"review lists it as not checked, with the members and the reason.\n")
	for _, r := range Rules {
		scope := "member"
		if r.Project {
			scope = "project"
		}
		fmt.Fprintf(&b, "\n%s (%s, per %s)\n", r.ID, r.Severity, scope)
		for _, part := range []struct{ label, text string }{
			{"What", r.What}, {"Why", r.Why}, {"Fix", r.Fix}, {"Reads", r.Visibility},
		} {
			b.WriteString(wrap(part.label+": "+part.text, "  ", 78))
		}
	}
	return b.String()
}

// wrap fills text into lines of at most width columns, each indented.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	if len(line) > len(indent) {
		b.WriteString(line + "\n")
	}
	return b.String()
}

// NewHelpTopic is `medplum help review-rules`.
func NewHelpTopic() *cobra.Command {
	c := &cobra.Command{
		Use:   "review-rules",
		Short: "The rules of medplum members review: what each checks, why, how to fix it",
		Long:  RulesHelp(),
	}
	c.SetHelpFunc(func(c *cobra.Command, _ []string) { fmt.Fprint(c.OutOrStdout(), c.Long) })
	return c
}
