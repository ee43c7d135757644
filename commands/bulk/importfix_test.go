package bulk_test

import (
	"fmt"
	"testing"

	"github.com/medplumcli/medplum/client"
	"github.com/medplumcli/medplum/commands/clitest"
)

// On the sandbox and, in make test-real, on a real Medplum: a resource an
// import finds is left as the server has it, even when its references
// name resources of the input by their old ids (issue 14, newcomer item
// 1). An Observation pointing at an Encounter not in its file is
// imported, then changed on the server; a second input holding the
// Encounter and the same Observation creates the Encounter, finds the
// Observation, and neither rewrites it with the file's copy nor re-points
// it: it counts it instead.
func TestImportLeavesFoundResourcesAlone(t *testing.T) {
	_, e, c := clitest.OwnProject(t, "bulk-import-found")
	ctx := t.Context()
	obs := `{"resourceType":"Observation","id":"ov1","status":"final","code":{"text":"ov"},"valueQuantity":{"value":1},"encounter":{"reference":"Encounter/enc1"}}`
	writeFile(t, e, "ovA.ndjson", obs+"\n")
	writeFile(t, e, "ovB.ndjson", `{"resourceType":"Encounter","id":"enc1","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}}`+"\n"+obs+"\n")
	e.Run("bulk", "import", "ovA.ndjson").Expect(t, 0, "ovA.ndjson:1-1: 1 created, 0 already there, 0 failed\n", "imported 1 resource: 1 created, 0 already there, 0 failed\n")
	list, err := c.SearchAll(ctx, "Observation?identifier=urn:medplum-cli:source-id|ov1")
	if err != nil || len(list) != 1 {
		t.Fatalf("the imported Observation: %v (%d found)", err, len(list))
	}
	edited := list[0]
	edited["valueQuantity"] = map[string]any{"value": 999}
	edited["note"] = []any{map[string]any{"text": "changed on the server"}}
	d, err := c.UpdateResource(ctx, edited)
	if err != nil {
		t.Fatal(err)
	}
	version := client.VersionID(d)

	e.Run("bulk", "import", "ovB.ndjson").Expect(t, 0, "ovB.ndjson:1-2: 1 created, 1 already there, 0 failed\n",
		"imported 2 resources: 1 created, 1 already there, 0 failed; 1 already there points at old ids of the input (left as the server has it)\n")
	got, err := c.ReadResource(ctx, "Observation/"+edited.ID())
	if err != nil {
		t.Fatal(err)
	}
	if v := client.VersionID(got); v != version {
		t.Errorf("the Observation found was changed: version %s, was %s: %v", v, version, got)
	}
	if q, _ := got["valueQuantity"].(map[string]any); fmt.Sprint(q["value"]) != "999" || refOf(got, "encounter") != "Encounter/enc1" {
		t.Errorf("the Observation found is %v", got)
	}
	if encs, err := c.SearchAll(ctx, "Encounter"); err != nil || len(encs) != 1 {
		t.Errorf("%d Encounters (%v), want 1", len(encs), err)
	}
}
