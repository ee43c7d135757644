package rest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/clitest"
)

// On any Medplum (make test-real runs it against a real one): a get with
// the client's id and secret in the environment is answered in one request
// (the sandbox's log shows it; on Medplum it goes as HTTP Basic); -o yaml,
// --jq and --template agree with -o json; and a client whose secret was
// rotated out still signs in with it, through the token endpoint, after
// Medplum refuses it as Basic credentials (capture 230).
func TestClientCredentialsAndFiltersOnTarget(t *testing.T) {
	tg := clitest.NewTarget(t)
	e := tg.SignedIn(t)
	if srv := tg.Sandbox; srv != nil {
		srv.ResetRequests()
	}
	e.Run("get", "Project/"+tg.ProjectID, "--jq", ".id").Expect(t, 0, tg.ProjectID+"\n", "")
	if srv := tg.Sandbox; srv != nil {
		if got, want := requestLog(srv), "GET /fhir/R4/Project/"+tg.ProjectID+" Basic\n"; got != want {
			t.Errorf("requests:\n%swant:\n%s", got, want)
		}
	}
	clitest.ExpectDocumentFlags(t, e, tg.Sandbox, "get", "Project/"+tg.ProjectID)

	ctx := context.Background()
	api := tg.API(t)
	app, err := api.CreateClientApplication(ctx, tg.ProjectID, map[string]any{"name": tg.Unique("floor-rotated")})
	if err != nil {
		t.Fatal(err)
	}
	id, old := app.Resource.ID(), app.Resource.String("secret")
	tg.Cleanup(t, func(ctx context.Context, c *client.Client) error {
		for r, err := range c.Search(ctx, "ProjectMembership?user=ClientApplication/"+id) {
			if err != nil {
				return err
			}
			if err := c.DeleteMembership(ctx, tg.ProjectID, r.ID()); err != nil {
				return err
			}
		}
		return c.DeleteResource(ctx, "ClientApplication", id)
	})
	if _, err := api.RotateClientSecret(ctx, id, old); err != nil {
		t.Fatal(err)
	}
	rotated := clitest.New(t).Set("MEDPLUM_BASE_URL", tg.URL).Set("MEDPLUM_CLIENT_ID", id).Set("MEDPLUM_CLIENT_SECRET", old)
	r := rotated.Run("get", "auth/me", "--jq", ".project.id")
	r.Expect(t, 0, tg.ProjectID+"\n", "")
	r.NotContains(t, old)
	if srv := tg.Sandbox; srv != nil {
		log := requestLog(srv)
		if !strings.HasSuffix(log, "GET /auth/me Basic\nPOST /oauth2/token \nGET /auth/me Bearer\n") {
			t.Errorf("a retiring secret: want Basic refused, then the token:\n%s", log)
		}
	}
}
