package members_test

import (
	"testing"

	"github.com/medplumcli/medplum/client/medplumtest"
	"github.com/medplumcli/medplum/commands/clitest"
)

// -o yaml, --jq and --template on members list and get, against -o json.
func TestListAndGetDocumentFlags(t *testing.T) {
	srv := medplumtest.NewServer(t)
	e := clitest.SignedIn(t, srv)
	sd := srv.Seed
	clitest.ExpectDocumentFlags(t, e, srv, "members", "list")
	clitest.ExpectDocumentFlags(t, e, srv, "members", "list", "--type", "RelatedPerson") // []
	clitest.ExpectDocumentFlags(t, e, srv, "members", "get", sd.Homer.Email)

	admin, homer := mem(t, srv, sd.Admin.MembershipID), mem(t, srv, sd.Homer.MembershipID)
	e.Run("members", "list", "--humans", "--jq", ".[] | .profile.display").Expect(t, 0, "Medplum Admin\nHomer Simpson\n", "")
	e.Run("members", "list", "--humans", "--jq", "map(.id)").Expect(t, 0, `["`+admin.ID()+`","`+homer.ID()+`"]`+"\n", "")
	// The list is the array -o json prints, whatever -o table would show.
	e.Run("members", "list", "--humans", "--template",
		`{{range .}}{{tablerow .profile.display (.admin | printf "%v") (timeago .meta.lastUpdated)}}{{end}}`).Expect(t, 0,
		"Medplum Admin\ttrue\tjust now\nHomer Simpson\t<nil>\tjust now\n", "")
	e.Run("members", "list", "--jq", ".[] | select(.admin) | .id", "--humans").Expect(t, 0, admin.ID()+"\n", "")
	// A runtime error in the expression is exit 1 and names it.
	e.Run("members", "list", "--humans", "--jq", ".[0].profile.display.x").ExpectCode(t, 1,
		"medplum: --jq \".[0].profile.display.x\": expected an object but got: string (\"Medplum Admin\")\n")
}
